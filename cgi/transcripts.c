/* transcripts.c - GET /api/v1/audiobooks/{id}/transcript?format=txt|json|srt|vtt
 * [&chapter=N]: a chapter's transcript, or the whole book with each
 * chapter's times offset by the chapters before it. 409 until every chapter
 * asked for has been transcribed. */
#include "api.h"
#include "transcript.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRANSCRIPT_FILE_MAX (256u << 20)

static void transcript_free(void *p)
{
    q_transcript_free(p);
    free(p);
}

qerr h_audiobook_transcript(qreq *r)
{
    qerr e = api_need_db(r);
    if (e)
        return e;
    const char *format = api_query(r, "format");
    if (!format || !*format)
        format = "json";
    q_transcript_writer writer = q_transcript_writer_for(format);
    if (!writer)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "format must be txt, json, srt or vtt");
    const char *chs = api_query(r, "chapter");
    int64_t only = 0;
    if (chs && qparse_i64(chs, 1, 100000, &only) != 0)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "chapter must be a chapter number");
    qrows *ab = NULL, *ch = NULL;
    if ((e = qdb_query(r->db, r->arena, &ab, &r->err,
                       "SELECT id, owner_id, is_public FROM audiobooks WHERE public_id = ?", "s", r->params[0])))
        return e;
    if (ab->nrows == 0 || (r->user.role != QROLE_ADMIN && qrows_i64(ab, 0, 1, 0) != r->user.id &&
                           !qrows_i64(ab, 0, 2, 0)))
        return api_fail(r, Q_ERR_NOT_FOUND, "no audiobook %s", r->params[0]);
    if ((e = qdb_query(r->db, r->arena, &ch, &r->err,
                       "SELECT seq, transcript_path, COALESCE(duration_seconds, 0) FROM chapters"
                       " WHERE audiobook_id = ? AND (? = 0 OR seq = ?) ORDER BY seq", "iii",
                       qrows_i64(ab, 0, 0, 0), only, only)))
        return e;
    if (ch->nrows == 0)
        return api_fail(r, Q_ERR_NOT_FOUND, "no chapter %lld", (long long)only);
    q_transcript *all = calloc(1, sizeof *all);
    if (!all)
        return api_fail(r, Q_ERR_NOMEM, "out of memory");
    q_transcript_init(all);
    qarena_defer(r->arena, transcript_free, all);
    double offset = 0;
    const char *root = qconfig_get()->storage_dir;
    for (int i = 0; i < ch->nrows; i++) {
        const char *rel = qrows_get(ch, i, 1);
        if (!rel)
            return api_fail(r, Q_ERR_CONFLICT, "transcript not ready: chapter %s is not transcribed yet",
                            qrows_get(ch, i, 0));
        char *path = qarena_printf(r->arena, "%s/%s", root, rel);
        size_t len = 0;
        char *json = qread_file(path, TRANSCRIPT_FILE_MAX, &len);
        if (!json)
            return api_fail(r, Q_ERR_IO, "the transcript of chapter %s cannot be read", qrows_get(ch, i, 0));
        q_transcript one;
        q_transcript_init(&one);
        e = q_transcript_read_json(&one, json, len, &r->err);
        free(json);
        if (!e)
            e = q_transcript_append(all, &one, offset, &r->err);
        q_transcript_free(&one);
        if (e)
            return e;
        offset += qrows_double(ch, i, 2, 0);
    }
    char *out = NULL;
    size_t outlen = 0;
    FILE *mf = open_memstream(&out, &outlen);
    if (!mf)
        return api_fail(r, Q_ERR_NOMEM, "out of memory");
    e = writer(all, mf, &r->err);
    fclose(mf);
    if (!e) {
        e = api_reply_raw(r, 200, q_transcript_mime(format), out, outlen, NULL);
    }
    free(out);
    return e;
}

/* GET /api/v1/audiobooks/{id}/chapters/{n}/audio: the chapter's audio as
 * uploaded, sent by nginx (X-Accel-Redirect to the internal storage
 * location), so Range requests and seeking cost quire-api nothing. */
qerr h_audiobook_chapter_audio(qreq *r)
{
    qerr e = api_need_db(r);
    if (e)
        return e;
    int64_t seq;
    if (r->nparams < 2 || qparse_i64(r->params[1], 1, 100000, &seq) != 0)
        return api_fail(r, Q_ERR_NOT_FOUND, "no such chapter");
    qrows *c = NULL;
    if ((e = qdb_query(r->db, r->arena, &c, &r->err,
                       "SELECT c.storage_path, a.owner_id, a.is_public FROM audiobooks a JOIN chapters c"
                       " ON c.audiobook_id = a.id WHERE a.public_id = ? AND c.seq = ?", "si", r->params[0], seq)))
        return e;
    if (c->nrows == 0 || (r->user.role != QROLE_ADMIN && qrows_i64(c, 0, 1, 0) != r->user.id &&
                          !qrows_i64(c, 0, 2, 0)))
        return api_fail(r, Q_ERR_NOT_FOUND, "no chapter %lld of audiobook %s", (long long)seq, r->params[0]);
    const char *rel = qrows_get(c, 0, 0);
    if (!qrel_path_ok(rel))
        return api_fail(r, Q_ERR_INTERNAL, "stored path of chapter %lld is not valid", (long long)seq);
    const char *hdr = qarena_printf(r->arena, "X-Accel-Redirect: /_storage/%s\r\n", rel);
    return api_reply_raw(r, 200, NULL, "", 0, hdr);
}
