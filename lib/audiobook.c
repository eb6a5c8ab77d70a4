/* audiobook.c - workers' writes to audiobooks and chapters (see
 * audiobook.h). Plain UPDATEs by primary key; the stage rule is in the
 * WHERE clause, so concurrent early and final results cannot undo each
 * other. */
#include "audiobook.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

/* A changed-nothing UPDATE: the row is gone, or (with CLIENT_FOUND_ROWS,
 * which counts matched rows) the stage rule kept the old value. */
static qerr row_exists(qdb *db, const char *table_sql, int64_t id, const char *what, qerrctx *err)
{
    qarena *a = qarena_new();
    qrows *r = NULL;
    qerr e = a ? qdb_query(db, a, &r, err, table_sql, "i", id) : qerr_set(err, Q_ERR_NOMEM, "out of memory");
    if (!e && r->nrows == 0)
        e = qerr_set(err, Q_ERR_NOT_FOUND, "%s %lld is gone", what, (long long)id);
    qarena_free(a);
    return e;
}

qerr qbook_chapter_media(qdb *db, int64_t chapter_id, double duration_seconds, const char *codec, int bitrate,
                         int sample_rate, int channels, qerrctx *err)
{
    qerr e = qdb_exec(db, err,
                      "UPDATE chapters SET duration_seconds = IF(? > 0, ?, duration_seconds),"
                      " codec = COALESCE(?, codec), bitrate = IF(? > 0, ?, bitrate),"
                      " sample_rate = IF(? > 0, ?, sample_rate), channels = IF(? > 0, ?, channels) WHERE id = ?",
                      "ddsiiiiiii", duration_seconds, duration_seconds, codec, (int64_t)bitrate, (int64_t)bitrate,
                      (int64_t)sample_rate, (int64_t)sample_rate, (int64_t)channels, (int64_t)channels, chapter_id);
    if (!e && qdb_affected(db) == 0)
        e = row_exists(db, "SELECT id FROM chapters WHERE id = ?", chapter_id, "chapter", err);
    return e;
}

qerr qbook_chapter_transcript(qdb *db, int64_t chapter_id, const char *path, int words, qerrctx *err)
{
    if (!path || !*path || path[0] == '/' || strstr(path, ".."))
        return qerr_set(err, Q_ERR_INVALID, "a transcript path is relative to the storage root");
    qerr e = qdb_exec(db, err, "UPDATE chapters SET transcript_path = ?, transcript_words = ? WHERE id = ?", "sii",
                      path, (int64_t)words, chapter_id);
    if (!e && qdb_affected(db) == 0)
        e = row_exists(db, "SELECT id FROM chapters WHERE id = ?", chapter_id, "chapter", err);
    return e;
}

static qerr set_result(qdb *db, int tags, int64_t id, const char *json, qbook_stage stage, int *applied, qerrctx *err)
{
    if (applied)
        *applied = 0;
    cJSON *j = json ? cJSON_Parse(json) : NULL;
    int ok = j && (!tags || cJSON_IsArray(j));
    cJSON_Delete(j);
    if (!ok)
        return qerr_set(err, Q_ERR_INVALID, tags ? "tags must be a JSON array" : "a summary must be JSON");
    const char *st = stage == QBOOK_FINAL ? "final" : "early";
    qerr e = tags
        ? qdb_exec(db, err, "UPDATE audiobooks SET tags = ?, tags_stage = ?, updated_at = NOW(3) WHERE id = ?"
                   " AND (? = 'final' OR tags_stage IS NULL OR tags_stage = 'early')", "ssis", json, st, id, st)
        : qdb_exec(db, err, "UPDATE audiobooks SET summary = ?, summary_stage = ?, updated_at = NOW(3) WHERE id = ?"
                   " AND (? = 'final' OR summary_stage IS NULL OR summary_stage = 'early')", "ssis", json, st, id, st);
    if (e)
        return e;
    if (qdb_affected(db) > 0) {
        if (applied)
            *applied = 1;
        return Q_OK;
    }
    return row_exists(db, "SELECT id FROM audiobooks WHERE id = ?", id, "audiobook", err);
}

qerr qbook_summary(qdb *db, int64_t audiobook_id, const char *json, qbook_stage stage, int *applied, qerrctx *err)
{
    return set_result(db, 0, audiobook_id, json, stage, applied, err);
}

qerr qbook_tags(qdb *db, int64_t audiobook_id, const char *json, qbook_stage stage, int *applied, qerrctx *err)
{
    return set_result(db, 1, audiobook_id, json, stage, applied, err);
}

qerr qbook_dir(qdb *db, int64_t audiobook_id, char *out, size_t outsz, qerrctx *err)
{
    qarena *a = qarena_new();
    qrows *r = NULL;
    qerr e = a ? qdb_query(db, a, &r, err, "SELECT storage_dir FROM audiobooks WHERE id = ?", "i", audiobook_id)
               : qerr_set(err, Q_ERR_NOMEM, "out of memory");
    if (!e && r->nrows == 0)
        e = qerr_set(err, Q_ERR_NOT_FOUND, "audiobook %lld is gone", (long long)audiobook_id);
    if (!e)
        snprintf(out, outsz, "%s", qrows_get(r, 0, 0));
    qarena_free(a);
    return e;
}
