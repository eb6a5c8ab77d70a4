/* blobs.c - files of a running job for remote workers: download of an
 * input (nginx sends the stored file by X-Accel-Redirect, so Range requests
 * resume a broken download and cost quire-api nothing) and checksummed
 * upload of an output (nginx buffers the body to a file; it is hashed,
 * compared with X-Content-SHA256 and renamed into place, so a file either
 * arrives whole and verified or not at all). Both are fenced by the attempt
 * token, like every other write of a running attempt.
 *
 * A job names its files in its payload, as storage paths: "inputs" (an
 * array of paths, or an object name -> path) may be downloaded; "output"
 * (one path) and anything under "output_dir" or "jobs/{id}/" may be
 * uploaded and downloaded. A file is addressed by ?path=<storage path>, or
 * by {name}: the input of that name, else output_dir/name. */
#include "api.h"
#include "decode.h"
#include "queue.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOB_NAME_MAX 64

int api_safe_rel_path(const char *p)
{
    /* quire's storage path rule, and no hidden names (".part" files) */
    return qrel_path_ok(p) && p[0] != '.' && !strstr(p, "/.") && !strstr(p, "//") && p[strlen(p) - 1] != '/';
}

static int blob_name_ok(const char *s)
{
    return s && strlen(s) <= BLOB_NAME_MAX && api_safe_rel_path(s) && !strchr(s, '/');
}

/* Checks the attempt and finds the job's payload; *payload arena-owned. */
static qerr blob_begin(qreq *r, qjob *j, const char **name, cJSON **payload)
{
    int64_t id;
    const char *type = r->nparams ? r->params[0] : "";
    qerr e = api_param_id(r, 1, &id);
    if (!e)
        e = api_need_db(r);
    if (e)
        return e;
    *name = r->nparams > 2 ? r->params[2] : "";
    const char *tok = api_header(r, "X-Attempt-Token");
    if (!tok || !*tok)
        tok = api_query(r, "token");
    e = rq_load_attempt(r, type, id, tok && *tok ? tok : NULL, j);
    if (e)
        return e;
    qrows *rows = NULL;
    e = qdb_query(r->db, r->arena, &rows, &r->err, "SELECT payload FROM jobs WHERE id = ?", "i", id);
    if (e)
        return e;
    const char *p = rows->nrows ? qrows_get(rows, 0, 0) : "{}";
    if (qjson_parse(r->arena, p, strlen(p), payload, &r->err) || !cJSON_IsObject(*payload))
        *payload = api_obj(r);
    return Q_OK;
}

static const char *output_dir(qreq *r, const qjob *j, const cJSON *payload)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(payload, "output_dir");
    if (cJSON_IsString(d) && api_safe_rel_path(d->valuestring))
        return d->valuestring;
    return qarena_printf(r->arena, "jobs/%lld", (long long)j->id);
}

static int under(const char *dir, const char *rel)
{
    size_t n = strlen(dir);
    return !strncmp(rel, dir, n) && rel[n] == '/';
}

/* May the attempt read (or, for_write, write) storage path rel? */
static int path_allowed(qreq *r, const qjob *j, const cJSON *payload, const char *rel, int for_write)
{
    if (!api_safe_rel_path(rel))
        return 0;
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(payload, "output");
    if (cJSON_IsString(out) && !strcmp(out->valuestring, rel))
        return 1;
    if (under(output_dir(r, j, payload), rel) || under(qarena_printf(r->arena, "jobs/%lld", (long long)j->id), rel))
        return 1;
    if (for_write)
        return 0;
    const cJSON *in;
    cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(payload, "inputs"))
        if (cJSON_IsString(in) && !strcmp(in->valuestring, rel))
            return 1;
    return 0;
}

/* The storage path the request addresses: ?path= or {name} (decode.h). */
qerr blob_path(qreq *r, const qjob *j, const cJSON *payload, const char *name, int for_write, const char **rel)
{
    const char *p = api_query(r, "path");
    if (p) {
        if (!path_allowed(r, j, payload, p, for_write))
            return api_fail(r, Q_ERR_FORBIDDEN, "job %lld may not %s '%.200s'", (long long)j->id,
                            for_write ? "write" : "read", p);
        *rel = p;
        return Q_OK;
    }
    if (!blob_name_ok(name))
        return api_fail(r, Q_ERR_NOT_FOUND, "blob names are 1-64 characters of letters, digits and _ - .");
    const cJSON *in = for_write ? NULL
                    : cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(payload, "inputs"), name);
    if (cJSON_IsString(in)) {
        if (!api_safe_rel_path(in->valuestring))
            return api_fail(r, Q_ERR_UNPROCESSABLE, "input '%s' of job %lld has an unsafe path", name, (long long)j->id);
        *rel = in->valuestring;
    } else {
        *rel = qarena_printf(r->arena, "%s/%s", output_dir(r, j, payload), name);
    }
    return Q_OK;
}

/* GET /api/v1/queue/{type}/jobs/{id}/blobs/{name}[?path=] (X-Attempt-Token
 * or ?token=): an input, or an output already uploaded. */
qerr h_blob_get(qreq *r)
{
    qjob j;
    const char *name, *rel;
    cJSON *payload;
    qerr e = blob_begin(r, &j, &name, &payload);
    if (!e)
        e = blob_path(r, &j, payload, name, 0, &rel);
    if (e)
        return e;
    const char *abs = qarena_printf(r->arena, "%s/%s", qconfig_get()->storage_dir, rel);
    struct stat st;
    if (stat(abs, &st) != 0 || !S_ISREG(st.st_mode))
        return api_fail(r, Q_ERR_NOT_FOUND, "job %lld has no file '%s'", (long long)j.id, rel);
    const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
    const char *hdr = qarena_printf(r->arena, "X-Accel-Redirect: /_storage/%s\r\nX-Blob-Size: %lld\r\n"
                                    "Content-Disposition: attachment; filename=\"%s\"\r\n",
                                    rel, (long long)st.st_size, api_header_value(r, base, 1));
    return api_reply_raw(r, 200, "application/octet-stream", "", 0, hdr);
}

/* Copies src to the open fd dst; 0 or -1. */
static int copy_fd(const char *src, int dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    char buf[65536];
    ssize_t k;
    int rc = 0;
    while ((k = read(in, buf, sizeof buf)) > 0)
        if (write(dst, buf, (size_t)k) != k) {
            rc = -1;
            break;
        }
    if (k < 0)
        rc = -1;
    close(in);
    return rc;
}

/* PUT /api/v1/queue/{type}/jobs/{id}/blobs/{name}[?path=] with X-Attempt-Token and
 * X-Content-SHA256 (hex of the body) -> 201 {"path", "size", "sha256"}; a
 * body whose hash differs is refused (422) and nothing is stored. */
qerr h_blob_put(qreq *r)
{
    qjob j;
    const char *name, *rel;
    cJSON *payload;
    qerr e = blob_begin(r, &j, &name, &payload);
    if (!e)
        e = blob_path(r, &j, payload, name, 1, &rel);
    if (e)
        return e;
    const char *want = api_header(r, "X-Content-SHA256");
    if (!want || strlen(want) != 64)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "header X-Content-SHA256 (64 hex characters) is required");
    const qconfig *c = qconfig_get();
    const char *abs = qarena_printf(r->arena, "%s/%s", c->storage_dir, rel);
    const char *dir = qarena_strndup(r->arena, abs, (size_t)(strrchr(abs, '/') - abs));
    if (qmkdir_p(dir, 0755) != 0)
        return api_fail(r, Q_ERR_IO, "cannot create the output directory: %s", strerror(errno));
    char suffix[17];
    qrandom_hex(suffix, 8);
    const char *tmp = qarena_printf(r->arena, "%s/.part-%s", dir, suffix);
    const char *file = api_param(r, "REQUEST_BODY_FILE");
    char got[65];
    int64_t size = 0;
    if (file && *file) {
        /* nginx's file: link it (same file system) or copy it */
        if (link(file, tmp) != 0) {
            int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (fd < 0 || copy_fd(file, fd) != 0) {
                if (fd >= 0)
                    close(fd);
                unlink(tmp);
                return api_fail(r, Q_ERR_IO, "cannot store the output: %s", strerror(errno));
            }
            close(fd);
        }
    } else {
        char *buf;
        size_t len;
        e = api_body(r, (size_t)c->max_json_bytes * 4, &buf, &len);
        if (e)
            return e;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 || (len && write(fd, buf, len) != (ssize_t)len)) {
            if (fd >= 0)
                close(fd);
            unlink(tmp);
            return api_fail(r, Q_ERR_IO, "cannot store the output: %s", strerror(errno));
        }
        close(fd);
    }
    struct stat st;
    if (stat(tmp, &st) != 0 || qsha256_file(tmp, got) != 0) {
        unlink(tmp);
        return api_fail(r, Q_ERR_IO, "cannot hash the output: %s", strerror(errno));
    }
    size = st.st_size;
    if (strcasecmp(got, want) != 0) {
        unlink(tmp);
        return api_fail(r, Q_ERR_UNPROCESSABLE, "checksum mismatch: the body hashes to %s, X-Content-SHA256 says %.64s",
                        got, want);
    }
    if (rename(tmp, abs) != 0) {
        unlink(tmp);
        return api_fail(r, Q_ERR_IO, "cannot store the output: %s", strerror(errno));
    }
    /* the worker reports its job done next: the output must be on disk */
    if (qfile_durable(abs) != 0) {
        int en = errno;
        unlink(abs);
        return api_fail(r, qerr_of_errno(en), "cannot store the output: %s", strerror(en));
    }
    api_metrics_upload_bytes(size);
    cJSON *o = api_obj(r);
    cJSON_AddStringToObject(o, "path", rel);
    cJSON_AddNumberToObject(o, "size", (double)size);
    cJSON_AddStringToObject(o, "sha256", got);
    return api_reply_json(r, 201, o, NULL);
}
