/* uploads.c - upload sessions and their files: POST /api/v1/uploads,
 * POST /api/v1/uploads/{id}/files (multipart or raw body, taken from the
 * file nginx wrote), GET .../progress, GET and DELETE /api/v1/uploads/{id}.
 * Shapes follow the seed documents. Files are stored at
 * uploads/<upload uuid>/<file uuid>.<ext>; the upload row owns them. */
#include "api.h"
#include "decode.h"
#include "multipart.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

static const char ACCEPTED[] = "mp3, m4a/m4b/mp4, flac, ogg, wav";

/* "YYYY-MM-DD HH:MM:SS.mmm" for now, UTC, into out[24]. */
static void now_datetime(char out[64])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, 64, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
}

qerr upload_lookup(qreq *r, const char *public_id, int64_t *id, int64_t *owner, int64_t *total_files)
{
    qerr e = api_need_db(r);
    if (e)
        return e;
    if (strlen(public_id) != 36)
        return api_fail(r, Q_ERR_NOT_FOUND, "no upload %.40s", public_id);
    qrows *rows;
    e = qdb_query(r->db, r->arena, &rows, &r->err,
                  "SELECT id, owner_id, total_files FROM uploads WHERE public_id = ? AND (owner_id = ? OR ? = 1)",
                  "sii", public_id, r->user.id, (int64_t)api_is_admin(r));
    if (e)
        return e;
    if (rows->nrows == 0)
        return api_fail(r, Q_ERR_NOT_FOUND, "no upload %s", public_id);
    *id = qrows_i64(rows, 0, 0, 0);
    if (owner)
        *owner = qrows_i64(rows, 0, 1, 0);
    if (total_files)
        *total_files = qrows_i64(rows, 0, 2, 0);
    return Q_OK;
}

qerr upload_create_decode(qreq *r, const cJSON *in, upload_create_in *out)
{
    qerr e;
    const char *type = NULL;
    int64_t total_files = 0, total_size = 0;
    if ((e = qjson_str(in, "upload_type", 1, 16, &type, &r->err)) ||
        (e = qjson_int(in, "total_files", 1, 1, 1000, &total_files, &r->err)) ||
        (e = qjson_int(in, "total_size_bytes", 0, 0, INT64_MAX / 2, &total_size, &r->err)))
        return e;
    if (strcmp(type, "single") && strcmp(type, "multi"))
        return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'upload_type' must be \"single\" or \"multi\"");
    if (!strcmp(type, "single") && total_files != 1)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "a single upload has total_files 1");
    int64_t max = qconfig_get()->max_upload_bytes;
    if (total_size > max * total_files)
        return api_fail(r, Q_ERR_TOO_LARGE, "total_size_bytes %lld is over %lld files of at most %lld bytes",
                        (long long)total_size, (long long)total_files, (long long)max);
    *out = (upload_create_in){type, total_files, total_size};
    return Q_OK;
}

qerr h_upload_create(qreq *r)
{
    cJSON *body;
    upload_create_in in;
    qerr e = api_json_body(r, &body);
    if (e || (e = upload_create_decode(r, body, &in)))
        return e;
    const char *type = in.type;
    int64_t total_files = in.total_files, total_size = in.total_size;
    char pub[37];
    store_uuid(pub);
    e = qdb_exec(r->db, &r->err,
                 "INSERT INTO uploads (public_id, owner_id, upload_type, total_files, total_size_bytes)"
                 " VALUES (?, ?, ?, ?, ?)", "sisii", pub, r->user.id, type, total_files, total_size);
    if (e)
        return e;
    cJSON *o = api_obj(r);
    cJSON_AddStringToObject(o, "upload_id", pub);
    cJSON_AddStringToObject(o, "status", "pending");
    cJSON_AddStringToObject(o, "message", "Upload session created successfully");
    cJSON_AddStringToObject(o, "files_url", qarena_printf(r->arena, "/api/v1/uploads/%s/files", pub));
    cJSON_AddStringToObject(o, "tus_url", qarena_printf(r->arena, "/api/v1/uploads/%s/tus", pub));
    char *loc = qarena_printf(r->arena, "Location: /api/v1/uploads/%s\r\n", pub);
    return api_reply_json(r, 201, o, loc);
}

qerr upload_add_file(qreq *r, int64_t upload_id, const char *upload_pub, const char *file_pub,
                     const char *name, const char *storage_rel, int64_t size, const char *sha,
                     const char *format, cJSON *out)
{
    char now[64];
    now_datetime(now);
    qerr e = qdb_begin(r->db, &r->err);
    if (e)
        return e;
    qrows *rows;
    /* the upload row's lock orders concurrent files of one session */
    e = qdb_query(r->db, r->arena, &rows, &r->err,
                  "SELECT u.total_files, (SELECT COUNT(*) FROM upload_files f WHERE f.upload_id = u.id),"
                  " (SELECT COALESCE(MAX(seq), 0) FROM upload_files f WHERE f.upload_id = u.id)"
                  " FROM uploads u WHERE u.id = ? FOR UPDATE", "i", upload_id);
    if (!e && rows->nrows == 0)
        e = api_fail(r, Q_ERR_NOT_FOUND, "the upload %s was deleted", upload_pub);
    int64_t total = 0, have = 0, seq = 0;
    if (!e) {
        total = qrows_i64(rows, 0, 0, 0);
        have = qrows_i64(rows, 0, 1, 0);
        seq = qrows_i64(rows, 0, 2, 0) + 1;
        if (have >= total)
            e = api_fail(r, Q_ERR_CONFLICT, "the upload already has all of its %lld files", (long long)total);
    }
    if (!e)
        e = qdb_exec(r->db, &r->err,
                     "INSERT INTO upload_files (public_id, upload_id, seq, file_name, storage_path, size_bytes,"
                     " sha256, format, uploaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     "siississs", file_pub, upload_id, seq, name, storage_rel, size, sha, format, now);
    if (!e)
        e = qdb_exec(r->db, &r->err, "UPDATE uploads SET status = ?, updated_at = NOW(3) WHERE id = ?", "si",
                     have + 1 >= total ? "completed" : "uploading", upload_id);
    if (!e)
        e = qdb_commit(r->db, &r->err);
    if (e) {
        qdb_rollback(r->db);
        return e;
    }
    if (out) {
        cJSON_AddStringToObject(out, "file_id", file_pub);
        cJSON_AddStringToObject(out, "upload_id", upload_pub);
        cJSON_AddStringToObject(out, "file_name", name);
        cJSON_AddNumberToObject(out, "file_size_bytes", (double)size);
        cJSON_AddStringToObject(out, "sha256", sha);
        cJSON_AddStringToObject(out, "format", format);
        cJSON_AddNumberToObject(out, "sequence", (double)seq);
        qjson_add_time(out, "uploaded_at", now);
    }
    return Q_OK;
}

static void forget_body(void *path)
{
    if (path)
        api_bodytap_forget(path);
}

qerr h_upload_file(qreq *r)
{
    int64_t upload_id, total_files;
    const char *upload_pub = r->params[0];
    qerr e = upload_lookup(r, upload_pub, &upload_id, NULL, &total_files);
    if (e)
        return e;
    const char *body = api_param(r, "REQUEST_BODY_FILE");
    const char *ct = api_param(r, "CONTENT_TYPE");
    /* whatever this request answers, the upload tap lets go of its body */
    if (body && *body)
        qarena_defer(r->arena, forget_body, qarena_strdup(r->arena, body));
    struct stat st;
    if (!body || !*body || stat(body, &st) != 0 || st.st_size == 0)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "the request has no file: send multipart/form-data with a 'file'"
                        " field, or the raw bytes as application/octet-stream");
    int64_t max = qconfig_get()->max_upload_bytes;
    int64_t start = 0, len = st.st_size;
    char rawname[1024] = "", sha[65] = "", boundary[MP_BOUNDARY_MAX] = "";
    int multipart = ct && !strncasecmp(ct, "multipart/form-data", 19);
    if (multipart) {
        if (mp_boundary(ct, boundary, sizeof boundary) != 0)
            return api_fail(r, Q_ERR_INVALID, "multipart/form-data without a usable boundary");
        if ((e = mp_find_file(r, body, st.st_size, boundary, &start, rawname, sizeof rawname)))
            return e;
        int64_t guess = mp_guess_end(body, st.st_size, start, boundary);
        if (guess < 0)
            return api_fail(r, Q_ERR_INVALID, "the multipart body has no closing boundary");
        len = guess - start;
    } else if (!ct || !*ct || !strncasecmp(ct, "application/octet-stream", 24) || !strncasecmp(ct, "audio/", 6)) {
        const char *xn = api_header(r, "X-File-Name");
        snprintf(rawname, sizeof rawname, "%s", xn ? xn : "");
    } else {
        return api_fail(r, Q_ERR_UNSUPPORTED, "Content-Type %.64s is not accepted here: send multipart/form-data"
                        " or application/octet-stream (or audio/*)", ct);
    }
    if (len == 0)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "the file is empty");
    unsigned char magic[64];
    ssize_t mn = store_pread(body, start, magic, len < 64 ? (size_t)len : sizeof magic);
    if (mn < 0)
        return api_fail(r, Q_ERR_IO, "cannot read the request body");
    int is_audio;
    const char *format = store_sniff(magic, (size_t)mn, &is_audio);
    if (!is_audio)
        return api_fail(r, Q_ERR_UNSUPPORTED, "the file is not audio: detected %s (accepted: %s)", format, ACCEPTED);
    char file_pub[37];
    store_uuid(file_pub);
    const char *rel = qarena_printf(r->arena, "uploads/%s/%s%s", upload_pub, file_pub, store_ext(format));
    char needle[MP_BOUNDARY_MAX + 8];
    size_t nlen = multipart ? (size_t)snprintf(needle, sizeof needle, "\r\n--%s", boundary) : 0;
    int64_t tapped_end = -1;
    char staged[4096];
    if (api_bodytap_claim(body, start, multipart ? needle : NULL, nlen, &tapped_end, sha, staged, sizeof staged) ==
        0) {
        /* hashed while it arrived (a part also written aside): only the
         * link, rename or copy is left */
        len = tapped_end - start;
        if (len == 0 || len > max) {
            if (staged[0])
                unlink(staged);
            return len == 0 ? api_fail(r, Q_ERR_UNPROCESSABLE, "the file is empty")
                            : api_fail(r, Q_ERR_TOO_LARGE, "the file of %lld bytes is over the limit of %lld bytes",
                                       (long long)len, (long long)max);
        }
        int64_t t0 = qmono_us();
        if ((e = staged[0] ? store_adopt(r, staged, rel) : store_place(r, body, start, len, rel, sha)))
            return e;
        QLOG_D("upload of %lld bytes hashed while it arrived, then %s in %.1f ms", (long long)len,
               staged[0] ? "renamed from staging" : multipart ? "copied" : "linked", (qmono_us() - t0) / 1000.0);
    } else if (multipart) {
        /* copy the guessed range on a thread while this one finds the true
         * end and hashes: the two passes overlap */
        store_copy cp;
        int64_t end = -1;
        int64_t t0 = qmono_us();
        if ((e = store_copy_start(r, &cp, body, start, len, rel)))
            return e;
        qerr se = mp_scan(r, body, start, start + len + MP_BOUNDARY_MAX + 8, boundary, &end, sha);
        if (!se && end < 0)
            se = api_fail(r, Q_ERR_INVALID, "the multipart body has no closing boundary");
        int64_t t1 = qmono_us();
        e = store_copy_finish(r, &cp, se ? 0 : end - start);
        QLOG_D("multipart %lld bytes: scan+hash %.1f ms, then copy wait %.1f ms", (long long)len,
               (t1 - t0) / 1000.0, (qmono_us() - t1) / 1000.0);
        if (se || e) {
            store_remove(r, rel);
            return se ? se : e;
        }
        len = end - start;
        if (len == 0 || len > max) {
            store_remove(r, rel);
            return len == 0 ? api_fail(r, Q_ERR_UNPROCESSABLE, "the file is empty")
                            : api_fail(r, Q_ERR_TOO_LARGE, "the file of %lld bytes is over the limit of %lld bytes",
                                       (long long)len, (long long)max);
        }
    } else {
        if (len > max)
            return api_fail(r, Q_ERR_TOO_LARGE, "the file of %lld bytes is over the limit of %lld bytes",
                            (long long)len, (long long)max);
        if ((e = store_place(r, body, start, len, rel, sha)))
            return e;
    }
    /* a file that differs from what the client says it sent is never recorded */
    if ((e = api_expected_sha256(r, sha))) {
        store_remove(r, rel);
        return e;
    }
    char name[STORE_NAME_MAX + 1];
    store_sanitize_name(rawname, name, sizeof name);
    if (!strcmp(name, "file"))
        snprintf(name, sizeof name, "file%s", store_ext(format));
    cJSON *o = api_obj(r);
    e = upload_add_file(r, upload_id, upload_pub, file_pub, name, rel, len, sha, format, o);
    if (e) {
        store_remove(r, rel);
        return e;
    }
    return api_reply_json(r, 201, o, NULL);
}

/* Files and bytes so far, for GET and progress. */
static qerr upload_row(qreq *r, int64_t id, qrows **out)
{
    return qdb_query(r->db, r->arena, out, &r->err,
                     "SELECT u.public_id, u.upload_type, u.status, u.total_files, u.total_size_bytes, u.created_at,"
                     " (SELECT COUNT(*) FROM upload_files f WHERE f.upload_id = u.id),"
                     " (SELECT COALESCE(SUM(size_bytes), 0) FROM upload_files f WHERE f.upload_id = u.id),"
                     " (SELECT COALESCE(SUM(offset_bytes), 0) FROM tus_slots t WHERE t.upload_id = u.id),"
                     " u.owner_id, u.updated_at FROM uploads u WHERE u.id = ?", "i", id);
}

static void add_progress(cJSON *o, const qrows *u)
{
    int64_t total_files = qrows_i64(u, 0, 3, 0), total_size = qrows_i64(u, 0, 4, 0);
    int64_t files = qrows_i64(u, 0, 6, 0), bytes = qrows_i64(u, 0, 7, 0) + qrows_i64(u, 0, 8, 0);
    cJSON_AddStringToObject(o, "status", qrows_get(u, 0, 2));
    cJSON_AddNumberToObject(o, "files_uploaded", (double)files);
    cJSON_AddNumberToObject(o, "total_files", (double)total_files);
    cJSON_AddNumberToObject(o, "bytes_uploaded", (double)bytes);
    cJSON_AddNumberToObject(o, "total_size_bytes", (double)total_size);
    double pct;
    if (files >= total_files && total_files > 0)
        pct = 100;
    else if (total_size > 0)
        pct = 100.0 * (double)bytes / (double)total_size;
    else
        pct = total_files > 0 ? 100.0 * (double)files / (double)total_files : 0;
    if (pct > 100)
        pct = 100;
    if (files < total_files && pct > 99.9)
        pct = 99.9;
    cJSON_AddNumberToObject(o, "percent", (double)(int64_t)(pct * 10 + 0.5) / 10);
}

qerr h_upload_progress(qreq *r)
{
    int64_t id;
    qerr e = upload_lookup(r, r->params[0], &id, NULL, NULL);
    qrows *u;
    if (e || (e = upload_row(r, id, &u)))
        return e;
    cJSON *o = api_obj(r);
    cJSON_AddStringToObject(o, "upload_id", r->params[0]);
    add_progress(o, u);
    return api_reply_json(r, 200, o, NULL);
}

qerr h_upload_get(qreq *r)
{
    int64_t id;
    qerr e = upload_lookup(r, r->params[0], &id, NULL, NULL);
    qrows *u, *f, *t;
    if (e || (e = upload_row(r, id, &u)))
        return e;
    if ((e = qdb_query(r->db, r->arena, &f, &r->err,
                       "SELECT public_id, file_name, size_bytes, sha256, format, uploaded_at, seq FROM upload_files"
                       " WHERE upload_id = ? ORDER BY seq", "i", id)) ||
        (e = qdb_query(r->db, r->arena, &t, &r->err,
                       "SELECT public_id, file_name, offset_bytes, length_bytes, created_at FROM tus_slots"
                       " WHERE upload_id = ? ORDER BY id", "i", id)))
        return e;
    cJSON *o = api_obj(r);
    cJSON_AddStringToObject(o, "upload_id", r->params[0]);
    cJSON_AddStringToObject(o, "upload_type", qrows_get(u, 0, 1));
    add_progress(o, u);
    qjson_add_time(o, "created_at", qrows_get(u, 0, 5));
    qjson_add_time(o, "updated_at", qrows_get(u, 0, 10));
    cJSON *files = cJSON_AddArrayToObject(o, "files");
    for (int i = 0; i < f->nrows; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "file_id", qrows_get(f, i, 0));
        cJSON_AddStringToObject(x, "upload_id", r->params[0]);
        cJSON_AddStringToObject(x, "file_name", qrows_get(f, i, 1));
        qjson_add_int_text(x, "file_size_bytes", qrows_get(f, i, 2));
        cJSON_AddStringToObject(x, "sha256", qrows_get(f, i, 3));
        cJSON_AddStringToObject(x, "format", qrows_get(f, i, 4));
        qjson_add_int_text(x, "sequence", qrows_get(f, i, 6));
        qjson_add_time(x, "uploaded_at", qrows_get(f, i, 5));
        cJSON_AddItemToArray(files, x);
    }
    cJSON *slots = cJSON_AddArrayToObject(o, "resumable");
    for (int i = 0; i < t->nrows; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "id", qrows_get(t, i, 0));
        cJSON_AddStringToObject(x, "file_name", qrows_get(t, i, 1));
        qjson_add_int_text(x, "offset", qrows_get(t, i, 2));
        qjson_add_int_text(x, "length", qrows_get(t, i, 3));
        cJSON_AddStringToObject(x, "url", qarena_printf(r->arena, "/api/v1/uploads/%s/tus/%s", r->params[0],
                                                        qrows_get(t, i, 0)));
        qjson_add_time(x, "created_at", qrows_get(t, i, 4));
        cJSON_AddItemToArray(slots, x);
    }
    return api_reply_json(r, 200, o, NULL);
}

qerr h_upload_list(qreq *r)
{
    int64_t page, per;
    qerr e = api_paging(r, &page, &per);
    qrows *rows, *cnt;
    int64_t admin = api_is_admin(r);
    if (e || (e = qdb_query(r->db, r->arena, &rows, &r->err,
                            "SELECT u.public_id, u.upload_type, u.status, u.total_files, u.total_size_bytes,"
                            " u.created_at, (SELECT COUNT(*) FROM upload_files f WHERE f.upload_id = u.id)"
                            " FROM uploads u WHERE (u.owner_id = ? OR ? = 1) ORDER BY u.id DESC LIMIT ? OFFSET ?",
                            "iiii", r->user.id, admin, per, (page - 1) * per)) ||
        (e = qdb_query(r->db, r->arena, &cnt, &r->err,
                       "SELECT COUNT(*) FROM uploads WHERE (owner_id = ? OR ? = 1)", "ii", r->user.id, admin)))
        return e;
    cJSON *o = api_obj(r);
    cJSON *arr = cJSON_AddArrayToObject(o, "uploads");
    for (int i = 0; i < rows->nrows; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "upload_id", qrows_get(rows, i, 0));
        cJSON_AddStringToObject(x, "upload_type", qrows_get(rows, i, 1));
        cJSON_AddStringToObject(x, "status", qrows_get(rows, i, 2));
        qjson_add_int_text(x, "total_files", qrows_get(rows, i, 3));
        qjson_add_int_text(x, "total_size_bytes", qrows_get(rows, i, 4));
        qjson_add_int_text(x, "files_uploaded", qrows_get(rows, i, 6));
        qjson_add_time(x, "created_at", qrows_get(rows, i, 5));
        cJSON_AddItemToArray(arr, x);
    }
    cJSON_AddNumberToObject(o, "page", (double)page);
    cJSON_AddNumberToObject(o, "per_page", (double)per);
    cJSON_AddNumberToObject(o, "total", (double)qrows_i64(cnt, 0, 0, 0));
    return api_reply_json(r, 200, o, NULL);
}

qerr h_upload_delete(qreq *r)
{
    int64_t id;
    qerr e = upload_lookup(r, r->params[0], &id, NULL, NULL);
    if (e || (e = qdb_exec(r->db, &r->err, "DELETE FROM uploads WHERE id = ?", "i", id)))
        return e;
    /* rows first: a crash here leaves unreferenced files, never rows
     * pointing at missing files */
    store_remove(r, qarena_printf(r->arena, "uploads/%s", r->params[0]));
    cJSON *o = api_obj(r);
    cJSON_AddStringToObject(o, "upload_id", r->params[0]);
    cJSON_AddBoolToObject(o, "deleted", 1);
    cJSON_AddStringToObject(o, "message", "Upload deleted");
    return api_reply_json(r, 200, o, NULL);
}
