/* audiobook.h - what the workers write back about an audiobook (the rows
 * quire-api's /api/v1/audiobooks shows): a chapter's media facts and
 * transcript, the book's summary and tags. One place for these writes, so
 * the rules (an early summary never replaces a final one) hold everywhere.
 * Ids are the numeric ones of the job payloads (audiobook_id, chapter_id). */
#ifndef QUIRE_AUDIOBOOK_H
#define QUIRE_AUDIOBOOK_H

#include <stdint.h>

#include "db.h"

/* Stages of a summarize or tag job's result. */
typedef enum { QBOOK_EARLY = 0, QBOOK_FINAL = 1 } qbook_stage;

/* The decoded facts of a chapter's audio. Fields <= 0 (codec NULL) are
 * left as they are. Q_ERR_NOT_FOUND when the chapter is gone (the book was
 * deleted: the job should end quietly). */
qerr qbook_chapter_media(qdb *db, int64_t chapter_id, double duration_seconds, const char *codec, int bitrate,
                         int sample_rate, int channels, qerrctx *err);

/* Where a chapter's transcript was stored (relative to QUIRE_STORAGE, under
 * the book's directory, e.g. "audiobooks/<uuid>/transcripts/001.json") and
 * how many words it holds. Q_ERR_NOT_FOUND when the chapter is gone. */
qerr qbook_chapter_transcript(qdb *db, int64_t chapter_id, const char *path, int words, qerrctx *err);

/* The book's summary (JSON text) or tags (a JSON array text). An early
 * result is kept only while no final one exists; a final one replaces
 * anything. *applied (may be NULL) says whether it was stored.
 * Q_ERR_NOT_FOUND when the book is gone; Q_ERR_INVALID for bad JSON. */
qerr qbook_summary(qdb *db, int64_t audiobook_id, const char *json, qbook_stage stage, int *applied, qerrctx *err);
qerr qbook_tags(qdb *db, int64_t audiobook_id, const char *json, qbook_stage stage, int *applied, qerrctx *err);

/* The storage directory of a book ("audiobooks/<uuid>") into out. */
qerr qbook_dir(qdb *db, int64_t audiobook_id, char *out, size_t outsz, qerrctx *err);

#endif
