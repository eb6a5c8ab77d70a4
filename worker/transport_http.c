/* transport_http.c - the HTTP transport: quire-worker on a host that cannot
 * reach MariaDB talks to quire-api's remote worker API (cgi/queue_http.c,
 * cgi/blobs.c) with a worker token. One libcurl handle per instance, so
 * connections are kept alive; network errors and 502/503/504 answers are
 * retried with exponential backoff (reports of an outcome for up to a
 * minute: a result must not be lost to a short outage); API errors map
 * back onto the error enum, "lease_lost" onto Q_ERR_LEASE_LOST. */
#include "transport.h"
#include "config.h"
#include "json.h"
#include "log.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RESP_MAX (64u << 20)      /* claim replies carry payloads (book text) */

typedef struct http_tp {
    qtransport base;
    CURL *c;
    char url[512];
    char auth[200];
    char wtype[QJOB_TYPE_MAX + 1];   /* the type in /workers/{type}/ paths */
    atomic_int *stop;
} http_tp;

typedef struct buf {
    char *s;
    size_t len;
    int over;
} buf;

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    buf *b = ud;
    size_t k = sz * n;
    if (b->len + k > RESP_MAX) {
        b->over = 1;
        return 0;
    }
    char *ns = realloc(b->s, b->len + k + 1);
    if (!ns)
        return 0;
    memcpy(ns + b->len, p, k);
    b->s = ns;
    b->len += k;
    b->s[b->len] = '\0';
    return k;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    atomic_int *stop = ud;
    return stop && atomic_load(stop) ? 1 : 0;     /* non-zero aborts */
}

/* How hard a call tries: a claim gives up soon (the loop claims again), an
 * outcome report keeps at it. */
enum { TRY_ONCE = 1, TRY_SOME = 4, TRY_HARD = 12 };

static qerr map_error(long status, const char *body, qerrctx *err)
{
    cJSON *j = body ? cJSON_Parse(body) : NULL;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code"), *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
    const char *c = cJSON_IsString(code) ? code->valuestring : "";
    qerr q = !strcmp(c, "lease_lost") ? Q_ERR_LEASE_LOST
           : status == 401 ? Q_ERR_UNAUTHORIZED
           : status == 403 ? Q_ERR_FORBIDDEN
           : status == 404 ? Q_ERR_NOT_FOUND
           : status == 409 ? Q_ERR_CONFLICT
           : status == 413 ? Q_ERR_TOO_LARGE
           : status == 422 ? Q_ERR_UNPROCESSABLE
           : status >= 500 ? Q_ERR_UNAVAILABLE : Q_ERR_INVALID;
    qerr_set(err, q, "quire-api %ld: %s", status, cJSON_IsString(msg) ? msg->valuestring : (body ? body : ""));
    cJSON_Delete(j);
    return q;
}

/* One API call with retries. body: JSON text or NULL. *out (may be NULL)
 * gets the parsed reply (the caller frees it). */
static qerr call(http_tp *t, const char *method, const char *path, const char *body, int tries, int abortable,
                 cJSON **out, qerrctx *err)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", t->url, path);
    int64_t delay = 200;
    for (int attempt = 1;; attempt++) {
        buf b = {0};
        struct curl_slist *h = NULL;
        h = curl_slist_append(h, t->auth);
        h = curl_slist_append(h, "Content-Type: application/json");
        h = curl_slist_append(h, "Expect:");
        curl_easy_setopt(t->c, CURLOPT_URL, url);
        curl_easy_setopt(t->c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(t->c, CURLOPT_HTTPGET, 0L);
        if (body) {
            curl_easy_setopt(t->c, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(t->c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        } else {
            curl_easy_setopt(t->c, CURLOPT_POSTFIELDS, NULL);
            if (!strcmp(method, "GET"))
                curl_easy_setopt(t->c, CURLOPT_HTTPGET, 1L);
        }
        curl_easy_setopt(t->c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(t->c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(t->c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(t->c, CURLOPT_NOPROGRESS, abortable ? 0L : 1L);
        curl_easy_setopt(t->c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(t->c, CURLOPT_XFERINFODATA, t->stop);
        CURLcode rc = curl_easy_perform(t->c);
        curl_slist_free_all(h);
        long status = 0;
        if (rc == CURLE_OK)
            curl_easy_getinfo(t->c, CURLINFO_RESPONSE_CODE, &status);
        if (rc == CURLE_OK && status < 500) {
            qerr e = Q_OK;
            if (status >= 300) {
                e = map_error(status, b.s, err);
            } else if (out) {
                *out = b.s ? cJSON_Parse(b.s) : NULL;
                if (!*out)
                    e = qerr_set(err, Q_ERR_INVALID, "quire-api sent no JSON for %s %s", method, path);
            }
            free(b.s);
            return e;
        }
        int server_busy = rc == CURLE_OK && (status == 502 || status == 503 || status == 504);
        int aborted = rc == CURLE_ABORTED_BY_CALLBACK;
        if (aborted || attempt >= tries || (rc == CURLE_OK && !server_busy) || (t->stop && atomic_load(t->stop) && abortable)) {
            qerr e = rc == CURLE_OK ? map_error(status, b.s, err)
                   : qerr_set(err, Q_ERR_UNAVAILABLE, "%s %s: %s", method, path, curl_easy_strerror(rc));
            free(b.s);
            return e;
        }
        free(b.s);
        QLOG_D("%s %s: %s; retrying in %lld ms", method, path,
               rc == CURLE_OK ? "server busy" : curl_easy_strerror(rc), (long long)delay);
        qsleep_ms(delay + (int64_t)(qrandom_u64() % (uint64_t)(delay / 2 + 1)));
        delay = delay * 2 > 5000 ? 5000 : delay * 2;
    }
}

static double tjson_num_field(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* Big files: no overall time limit, but give up on a transfer that
 * crawls below 1 KiB/s for a minute (then resume or retry). */
static void long_transfer(CURL *c, int on)
{
    curl_easy_setopt(c, CURLOPT_TIMEOUT, on ? 0L : 120L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, on ? 1024L : 0L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, on ? 60L : 0L);
}

static char *jtext(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static int h_claim(qtransport *tp, const char *wid, const char *const *types, int ntypes, int max, int lease, int wait,
                   qjob *out, qerrctx *err)
{
    http_tp *t = (http_tp *)tp;
    char path[700] = "/api/v1/queue/";
    for (int i = 0; i < ntypes; i++) {
        if (i)
            strcat(path, ",");
        strncat(path, types[i], QJOB_TYPE_MAX);
    }
    strcat(path, "/claim");
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "worker_id", wid);
    cJSON_AddNumberToObject(b, "max", max);
    cJSON_AddNumberToObject(b, "lease", lease);
    cJSON_AddNumberToObject(b, "wait", wait);
    char *body = jtext(b);
    cJSON *res = NULL;
    curl_easy_setopt(t->c, CURLOPT_TIMEOUT, (long)(wait + 30));
    qerr e = call(t, "POST", path, body, wait ? TRY_ONCE : TRY_SOME, 1, &res, err);
    curl_easy_setopt(t->c, CURLOPT_TIMEOUT, 120L);
    free(body);
    if (e)
        return -1;
    int n = 0;
    const cJSON *j;
    cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(res, "jobs")) {
        if (n >= max)
            break;
        qjob *q = &out[n];
        memset(q, 0, sizeof *q);
        q->id = (int64_t)tjson_num_field(j, "id");
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(j, "type"), *tk = cJSON_GetObjectItemCaseSensitive(j, "token");
        if (!q->id || !cJSON_IsString(ty) || !cJSON_IsString(tk))
            continue;
        snprintf(q->type, sizeof q->type, "%s", ty->valuestring);
        snprintf(q->token, sizeof q->token, "%s", tk->valuestring);
        q->attempt = (int)tjson_num_field(j, "attempt");
        q->max_attempts = (int)tjson_num_field(j, "max_attempts");
        q->priority = (int)tjson_num_field(j, "priority");
        q->has_dependents = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "has_dependents"));
        q->owner_id = (int64_t)tjson_num_field(j, "owner_id");
        q->audiobook_id = (int64_t)tjson_num_field(j, "audiobook_id");
        q->parent_id = (int64_t)tjson_num_field(j, "parent_id");
        q->payload = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, "payload"));
        if (!q->payload)
            q->payload = strdup("{}");
        n++;
    }
    cJSON_Delete(res);
    return n;
}

/* POST /api/v1/queue/{type}/jobs/{id}/{what} with the token added to b. */
static qerr attempt_call(qtransport *tp, const qjob *j, const char *what, cJSON *b, int tries, cJSON **out,
                         qerrctx *err)
{
    http_tp *t = (http_tp *)tp;
    char path[256];
    snprintf(path, sizeof path, "/api/v1/queue/%s/jobs/%lld/%s", j->type, (long long)j->id, what);
    cJSON_AddStringToObject(b, "token", j->token);
    char *body = jtext(b);
    qerr e = body ? call(t, "POST", path, body, tries, 0, out, err) : qerr_set(err, Q_ERR_NOMEM, "out of memory");
    free(body);
    return e;
}

static int cancel_flag(cJSON *res)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "cancel_requested"));
}

static qerr h_heartbeat(qtransport *tp, const qjob *j, int lease, int *cancel, qerrctx *err)
{
    cJSON *b = cJSON_CreateObject(), *res = NULL;
    cJSON_AddNumberToObject(b, "lease", lease);
    qerr e = attempt_call(tp, j, "heartbeat", b, TRY_SOME, &res, err);
    if (!e && cancel)
        *cancel = cancel_flag(res);
    cJSON_Delete(res);
    return e;
}

static qerr h_progress(qtransport *tp, const qjob *j, double pct, const char *msg, int cur, int tot, int *cancel,
                       qerrctx *err)
{
    cJSON *b = cJSON_CreateObject(), *res = NULL;
    cJSON_AddNumberToObject(b, "percent", pct < 0 ? 0 : pct > 100 ? 100 : pct);
    if (msg) {
        char m[256];
        snprintf(m, sizeof m, "%s", msg);
        cJSON_AddStringToObject(b, "message", m);
    }
    cJSON_AddNumberToObject(b, "current", cur);
    cJSON_AddNumberToObject(b, "total", tot);
    qerr e = attempt_call(tp, j, "progress", b, TRY_ONCE + 1, &res, err);
    if (!e && cancel)
        *cancel = cancel_flag(res);
    cJSON_Delete(res);
    return e;
}

static qerr h_complete(qtransport *tp, const qjob *j, const char *result, qerrctx *err)
{
    cJSON *b = cJSON_CreateObject();
    cJSON *r = result ? cJSON_Parse(result) : NULL;
    if (result && !r)
        r = cJSON_CreateString(result);
    cJSON_AddItemToObject(b, "result", r ? r : cJSON_CreateNull());
    return attempt_call(tp, j, "complete", b, TRY_HARD, NULL, err);
}

static qerr h_fail(qtransport *tp, const qjob *j, const char *error, int retryable, qerrctx *err)
{
    cJSON *b = cJSON_CreateObject();
    char m[4000];
    snprintf(m, sizeof m, "%s", error ? error : "failed");
    cJSON_AddStringToObject(b, "error", m);
    cJSON_AddBoolToObject(b, "retryable", retryable);
    return attempt_call(tp, j, "fail", b, TRY_HARD, NULL, err);
}

static qerr h_ack_cancel(qtransport *tp, const qjob *j, qerrctx *err)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddBoolToObject(b, "cancelled", 1);
    return attempt_call(tp, j, "heartbeat", b, TRY_HARD, NULL, err);
}

static qerr h_release(qtransport *tp, const qjob *j, qerrctx *err)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddBoolToObject(b, "release", 1);
    return attempt_call(tp, j, "heartbeat", b, TRY_SOME, NULL, err);
}

static qerr worker_call(http_tp *t, cJSON *b, int tries, qerrctx *err)
{
    char path[128];
    snprintf(path, sizeof path, "/api/v1/workers/%s/heartbeat", t->wtype[0] ? t->wtype : "all");
    char *body = jtext(b);
    qerr e = body ? call(t, "POST", path, body, tries, 0, NULL, err) : qerr_set(err, Q_ERR_NOMEM, "out of memory");
    free(body);
    return e;
}

static qerr h_register(qtransport *tp, const qworker_info *w, qerrctx *err)
{
    http_tp *t = (http_tp *)tp;
    size_t k = strcspn(w->types, ",");
    snprintf(t->wtype, sizeof t->wtype, "%.*s", (int)(k < QJOB_TYPE_MAX ? k : QJOB_TYPE_MAX), w->types);
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "worker_id", w->id);
    cJSON_AddStringToObject(b, "status", "starting");
    cJSON_AddStringToObject(b, "hostname", w->hostname);
    cJSON_AddStringToObject(b, "types", w->types);
    cJSON_AddStringToObject(b, "gpu_model", w->gpu ? w->gpu : "none");
    cJSON_AddNumberToObject(b, "concurrency", w->concurrency);
    cJSON *caps = w->capabilities ? cJSON_Parse(w->capabilities) : NULL;
    if (caps)
        cJSON_AddItemToObject(b, "capabilities", caps);
    return worker_call(t, b, TRY_SOME, err);
}

static qerr h_worker_heartbeat(qtransport *tp, const char *id, const char *status, int cur, long long done,
                               long long failed, const char *stats, qerrctx *err)
{
    http_tp *t = (http_tp *)tp;
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "worker_id", id);
    cJSON_AddStringToObject(b, "status", status);
    cJSON_AddNumberToObject(b, "current_jobs", cur);
    cJSON_AddNumberToObject(b, "jobs_completed", (double)done);
    cJSON_AddNumberToObject(b, "jobs_failed", (double)failed);
    cJSON *s = stats ? cJSON_Parse(stats) : NULL;
    if (s)
        cJSON_AddItemToObject(b, "stats", s);
    return worker_call(t, b, TRY_ONCE + 1, err);
}

static qerr h_offline(qtransport *tp, const char *id, qerrctx *err)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "worker_id", id);
    cJSON_AddStringToObject(b, "status", "offline");
    return worker_call((http_tp *)tp, b, TRY_SOME, err);
}

static int h_reap(qtransport *tp, qerrctx *err)
{
    (void)tp, (void)err;
    return 0;
}

/* GET .../blobs/file?path=rel into QUIRE_STORAGE/rel (through a .part
 * file renamed at the end), resuming with Range after a broken transfer
 * (up to 6 tries). */
static qerr h_fetch(qtransport *tp, const qjob *j, const char *rel, qerrctx *err)
{
    http_tp *t = (http_tp *)tp;
    if (!qtransport_rel_ok(rel))
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "job %lld: '%.200s' is not a storage path", (long long)j->id, rel);
    char path[1024], part[1100], dir[1024];
    snprintf(path, sizeof path, "%s/%s", qconfig_get()->storage_dir, rel);
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    if (qmkdir_p(dir, 0755) != 0)
        return qerr_set(err, Q_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    snprintf(part, sizeof part, "%s.part", path);
    const char *name = rel;
    char url[1536], tokh[96];
    snprintf(url, sizeof url, "%s/api/v1/queue/%s/jobs/%lld/blobs/file?path=%s", t->url, j->type, (long long)j->id, rel);
    snprintf(tokh, sizeof tokh, "X-Attempt-Token: %s", j->token);
    FILE *f = fopen(part, "wb");
    if (!f)
        return qerr_set(err, Q_ERR_IO, "cannot write %s: %s", part, strerror(errno));
    int64_t delay = 200;
    for (int attempt = 1;; attempt++) {
        long have = ftell(f);
        char range[64];
        struct curl_slist *h = NULL;
        h = curl_slist_append(h, t->auth);
        h = curl_slist_append(h, tokh);
        if (have > 0) {
            snprintf(range, sizeof range, "Range: bytes=%ld-", have);
            h = curl_slist_append(h, range);
        }
        curl_easy_setopt(t->c, CURLOPT_URL, url);
        curl_easy_setopt(t->c, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(t->c, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(t->c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(t->c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(t->c, CURLOPT_WRITEFUNCTION, NULL);   /* fwrite */
        curl_easy_setopt(t->c, CURLOPT_WRITEDATA, f);
        curl_easy_setopt(t->c, CURLOPT_NOPROGRESS, 1L);
        curl_easy_setopt(t->c, CURLOPT_FAILONERROR, 1L);
        long_transfer(t->c, 1);
        CURLcode rc = curl_easy_perform(t->c);
        long_transfer(t->c, 0);
        curl_easy_setopt(t->c, CURLOPT_FAILONERROR, 0L);
        curl_slist_free_all(h);
        long status = 0;
        curl_easy_getinfo(t->c, CURLINFO_RESPONSE_CODE, &status);
        fflush(f);
        if (rc == CURLE_OK && have > 0 && status == 200 && attempt < 6) {
            /* the server ignored the range and sent the whole file after
             * the part we had: keep only a fresh whole copy */
            QLOG_D("fetch %s: server ignored the range; fetching it whole", name);
            if (ftruncate(fileno(f), 0) == 0) {
                rewind(f);
                continue;
            }
        }
        if (rc == CURLE_OK) {
            if (fclose(f) != 0 || rename(part, path) != 0) {
                unlink(part);
                return qerr_set(err, Q_ERR_IO, "cannot write %s: %s", path, strerror(errno));
            }
            return Q_OK;
        }
        if (rc == CURLE_HTTP_RETURNED_ERROR && status < 500) {
            fclose(f);
            unlink(part);
            return qerr_set(err, status == 409 ? Q_ERR_LEASE_LOST : status == 404 ? Q_ERR_NOT_FOUND : Q_ERR_INVALID,
                            "download of '%s' refused: HTTP %ld", name, status);
        }
        if (attempt >= 6) {
            fclose(f);
            unlink(part);
            return qerr_set(err, Q_ERR_UNAVAILABLE, "download of '%s' failed: %s", name, curl_easy_strerror(rc));
        }
        QLOG_I("download of '%s' broke at %ld bytes (%s); resuming", name, ftell(f), curl_easy_strerror(rc));
        qsleep_ms(delay);
        delay = delay * 2 > 5000 ? 5000 : delay * 2;
    }
}

static size_t discard_to_buf(char *p, size_t sz, size_t n, void *ud)
{
    return on_data(p, sz, n, ud);
}

/* PUT .../blobs/file?path=rel with the file's SHA-256; retried whole. */
static qerr h_store(qtransport *tp, const qjob *j, const char *rel, qerrctx *err)
{
    http_tp *t = (http_tp *)tp;
    char sha[65], local[1024];
    if (!qtransport_rel_ok(rel))
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "job %lld: '%.200s' is not a storage path", (long long)j->id, rel);
    snprintf(local, sizeof local, "%s/%s", qconfig_get()->storage_dir, rel);
    const char *name = rel;
    if (qsha256_file(local, sha) != 0)
        return qerr_set(err, Q_ERR_IO, "cannot read %s: %s", local, strerror(errno));
    struct stat st;
    if (stat(local, &st) != 0)
        return qerr_set(err, Q_ERR_IO, "cannot read %s: %s", local, strerror(errno));
    char url[1536], tokh[96], shah[96];
    snprintf(url, sizeof url, "%s/api/v1/queue/%s/jobs/%lld/blobs/file?path=%s", t->url, j->type, (long long)j->id, rel);
    snprintf(tokh, sizeof tokh, "X-Attempt-Token: %s", j->token);
    snprintf(shah, sizeof shah, "X-Content-SHA256: %s", sha);
    int64_t delay = 200;
    for (int attempt = 1;; attempt++) {
        FILE *f = fopen(local, "rb");
        if (!f)
            return qerr_set(err, Q_ERR_IO, "cannot read %s: %s", local, strerror(errno));
        buf b = {0};
        struct curl_slist *h = NULL;
        h = curl_slist_append(h, t->auth);
        h = curl_slist_append(h, tokh);
        h = curl_slist_append(h, shah);
        h = curl_slist_append(h, "Content-Type: application/octet-stream");
        h = curl_slist_append(h, "Expect:");
        curl_easy_setopt(t->c, CURLOPT_URL, url);
        curl_easy_setopt(t->c, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(t->c, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(t->c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(t->c, CURLOPT_READDATA, f);
        curl_easy_setopt(t->c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
        curl_easy_setopt(t->c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(t->c, CURLOPT_WRITEFUNCTION, discard_to_buf);
        curl_easy_setopt(t->c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(t->c, CURLOPT_NOPROGRESS, 1L);
        long_transfer(t->c, 1);
        CURLcode rc = curl_easy_perform(t->c);
        long_transfer(t->c, 0);
        curl_easy_setopt(t->c, CURLOPT_UPLOAD, 0L);
        curl_slist_free_all(h);
        fclose(f);
        long status = 0;
        if (rc == CURLE_OK)
            curl_easy_getinfo(t->c, CURLINFO_RESPONSE_CODE, &status);
        if (rc == CURLE_OK && status < 300) {
            free(b.s);
            return Q_OK;
        }
        if ((rc == CURLE_OK && status < 500) || attempt >= 6) {
            qerr q = rc == CURLE_OK ? map_error(status, b.s, err)
                   : qerr_set(err, Q_ERR_UNAVAILABLE, "upload of '%s' failed: %s", name, curl_easy_strerror(rc));
            free(b.s);
            return q;
        }
        free(b.s);
        qsleep_ms(delay);
        delay = delay * 2 > 5000 ? 5000 : delay * 2;
    }
}

static int h_ping(qtransport *tp)
{
    (void)tp;
    return 0;
}

static void h_close(qtransport *tp)
{
    http_tp *t = (http_tp *)tp;
    curl_easy_cleanup(t->c);
    free(t);
}

static const qtransport_ops http_ops = {
    .name = "http", .claim = h_claim, .heartbeat = h_heartbeat, .progress = h_progress, .complete = h_complete,
    .fail = h_fail, .ack_cancel = h_ack_cancel, .release = h_release, .worker_register = h_register,
    .worker_heartbeat = h_worker_heartbeat, .worker_offline = h_offline, .reap = h_reap, .fetch = h_fetch,
    .store = h_store, .ping = h_ping, .close = h_close,
};

qtransport *qtransport_http_open(const char *url, const char *token, atomic_int *stop, qerrctx *err)
{
    http_tp *t = calloc(1, sizeof *t);
    if (!t || !(t->c = curl_easy_init())) {
        free(t);
        qerr_set(err, Q_ERR_NOMEM, "out of memory");
        return NULL;
    }
    t->base.ops = &http_ops;
    snprintf(t->url, sizeof t->url, "%s", url);
    snprintf(t->auth, sizeof t->auth, "Authorization: Bearer %s", token);
    t->stop = stop;
    curl_easy_setopt(t->c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(t->c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(t->c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(t->c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(t->c, CURLOPT_USERAGENT, "quire-worker/1");
    return &t->base;
}
