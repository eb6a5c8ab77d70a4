/* transcript.h - a transcript in memory (segments with start/end times and
 * the words in them with theirs) and its forms on disk and on the wire:
 * plain text, JSON, SRT, WebVTT. The worker writes it, the API reads the
 * JSON of each chapter back and serves the book with chapter offsets. */
#ifndef QUIRE_TRANSCRIPT_H
#define QUIRE_TRANSCRIPT_H

#include <stddef.h>
#include <stdio.h>

#include "err.h"

typedef struct q_word {
    char  *word;          /* owned by the transcript */
    double start, end;    /* seconds from the start of the audio */
} q_word;

typedef struct q_segment {
    double  start, end;
    char   *text;         /* owned; the words joined by spaces */
    q_word *words;
    size_t  nwords, capwords;
    int     text_from_words;  /* added with NULL text: text follows the words */
} q_segment;

typedef struct q_transcript {
    q_segment *segs;
    size_t     nsegs, capsegs;
} q_transcript;

/* Caps that keep a transcript read from JSON bounded. */
#define Q_TRANSCRIPT_MAX_SEGS  2000000
#define Q_TRANSCRIPT_MAX_WORDS 20000000
#define Q_TRANSCRIPT_MAX_TEXT  65536    /* bytes per segment text / word */

void q_transcript_init(q_transcript *t);
/* Frees everything t owns and leaves it empty; accepts NULL. */
void q_transcript_free(q_transcript *t);

/* Append a segment; text may be NULL (then it is built from the words added
 * next, at q_transcript_add_word time). Copies text. */
qerr q_transcript_add_segment(q_transcript *t, double start, double end,
                              const char *text, qerrctx *err);
/* Append a word to the last segment (which must exist); copies word and
 * extends the segment's text when the segment was added without text. */
qerr q_transcript_add_word(q_transcript *t, const char *word, double start,
                           double end, qerrctx *err);

/* Append every segment of src to dst with times shifted by offset seconds
 * (chapter start in the book). src is unchanged. */
qerr q_transcript_append(q_transcript *dst, const q_transcript *src, double offset,
                         qerrctx *err);

size_t q_transcript_word_count(const q_transcript *t);

/* Writers. Each returns Q_ERR_IO when the stream reports an error.
 * txt: one line per segment. json: {"segments":[{"start","end","text",
 * "words":[{"word","start","end"}]}]} with times in seconds, 3 decimals.
 * srt / vtt: cues of at most Q_CUE_MAX_CHARS characters and Q_CUE_MAX_S
 * seconds, cut at word boundaries (whole segments when they have no words). */
#define Q_CUE_MAX_CHARS 84
#define Q_CUE_MAX_S     6.0
qerr q_transcript_write_txt(const q_transcript *t, FILE *f, qerrctx *err);
qerr q_transcript_write_json(const q_transcript *t, FILE *f, qerrctx *err);
qerr q_transcript_write_srt(const q_transcript *t, FILE *f, qerrctx *err);
qerr q_transcript_write_vtt(const q_transcript *t, FILE *f, qerrctx *err);

/* "txt", "json", "srt", "vtt" -> the writer; NULL when unknown. */
typedef qerr (*q_transcript_writer)(const q_transcript *t, FILE *f, qerrctx *err);
q_transcript_writer q_transcript_writer_for(const char *format);
/* MIME type for a format name above. */
const char *q_transcript_mime(const char *format);

/* Write all four forms as <prefix>.txt, .json, .srt and .vtt, each through
 * "<file>.part" and a rename, so a reader never sees half a file. */
qerr q_transcript_save(const q_transcript *t, const char *prefix, qerrctx *err);

/* Parse the JSON form (len bytes, not necessarily NUL-terminated) into t,
 * which must be initialised (segments are appended). Q_ERR_UNPROCESSABLE on
 * malformed input. */
qerr q_transcript_read_json(q_transcript *t, const char *json, size_t len, qerrctx *err);

#endif
