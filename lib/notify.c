/* notify.c - webhook events: watches become events when their subject
 * ends, events are POSTed signed, failures retried with backoff for a day,
 * every attempt recorded. See notify.h for the contract. */
#include "notify.h"
#include "accounts.h"
#include "config.h"
#include "json.h"
#include "log.h"
#include "util.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEASE_S 120          /* a sender holds a due event this long */

int qnotify_url_ok(const char *url)
{
    size_t n = url ? strlen(url) : 0;
    if (n < 8 || n > QNOTIFY_URL_MAX)
        return 0;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return 0;
    const char *host = strstr(url, "://") + 3;
    if (!*host || *host == '/' || *host == ':')
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f || url[i] == '"' || url[i] == '\\')
            return 0;
    return 1;
}

qerr qnotify_watch(qdb *db, int64_t owner, const char *kind, int64_t ref_id, int64_t watch_job_id, const char *url,
                   qerrctx *err)
{
    if (!qnotify_url_ok(url))
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "field 'notify_url' must be an http:// or https:// URL");
    return qdb_exec(db, err,
                    "INSERT INTO notifications (owner_id, kind, ref_id, watch_job_id, url) VALUES (?, ?, ?, ?, ?)",
                    "isiIs", owner, kind, ref_id, watch_job_id, url);
}

int64_t qnotify_backoff_ms(int attempt)
{
    int64_t base = qconfig_int("QUIRE_NOTIFY_RETRY_BASE_MS", 5000);
    int64_t d = base;
    for (int i = 1; i < attempt && d < 3600000; i++)
        d *= 3;
    if (d > 3600000)
        d = 3600000;
    return d * 3 / 4 + (int64_t)(qrandom_u64() % (uint64_t)(d / 4 + 1));
}

static int is_final(const char *st)
{
    return st && (!strcmp(st, "completed") || !strcmp(st, "failed") || !strcmp(st, "cancelled"));
}

static char *event_link(qarena *a, const char *fmt, const char *id)
{
    return qarena_printf(a, "%s%s", qconfig_str("QUIRE_PUBLIC_URL", ""), qarena_printf(a, fmt, id));
}

/* Builds the event of a TTS request (ref = tts_requests.id). */
static cJSON *tts_event(qdb *db, qarena *a, int64_t ref)
{
    qrows *r = NULL;
    qerrctx e = {0};
    if (qdb_query(db, a, &r, &e,
                  "SELECT t.public_id, t.cancelled_at IS NOT NULL, t.total_chapters, j.status, j.last_error, t.title,"
                  " t.work_id, t.output_dir FROM tts_requests t LEFT JOIN jobs j ON j.id = t.assemble_job_id WHERE t.id = ?",
                  "i", ref) || r->nrows == 0)
        return NULL;
    const char *pid = qrows_get(r, 0, 0), *js = qrows_get(r, 0, 3);
    const char *status = js && !strcmp(js, "completed") ? "completed"
                       : qrows_i64(r, 0, 1, 0) || (js && !strcmp(js, "cancelled")) ? "cancelled" : "failed";
    const char *error = strcmp(status, "completed") ? qrows_get(r, 0, 4) : NULL;
    qrows *c = NULL;
    if (!strcmp(status, "failed") &&
        qdb_query(db, a, &c, &e,
                  "SELECT c.seq, j.last_error FROM tts_chapters c JOIN jobs j ON j.id = c.job_id WHERE c.request_id = ?"
                  " AND j.status = 'failed' ORDER BY c.seq LIMIT 1", "i", ref) == Q_OK && c->nrows)
        error = qarena_printf(a, "chapter %s: %s", qrows_get(c, 0, 0), qrows_get(c, 0, 1) ? qrows_get(c, 0, 1) : "failed");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "event", qarena_printf(a, "tts.%s", status));
    cJSON_AddStringToObject(o, "kind", "tts");
    cJSON_AddStringToObject(o, "job_id", pid);
    cJSON_AddStringToObject(o, "status", status);
    qjson_add_str_or_null(o, "error", error);
    qjson_add_str_or_null(o, "title", qrows_get(r, 0, 5));
    qjson_add_str_or_null(o, "work_id", qrows_get(r, 0, 6));
    cJSON_AddNumberToObject(o, "total_chapters", (double)qrows_i64(r, 0, 2, 0));
    cJSON_AddStringToObject(o, "status_url", event_link(a, "/api/v1/tts/queue/%s", pid));
    qjson_add_str_or_null(o, "audio_url", !strcmp(status, "completed") ? event_link(a, "/api/v1/tts/queue/%s/audio", pid) : NULL);
    qjson_add_str_or_null(o, "organized_path", qrows_get(r, 0, 7));
    return o;
}

/* A plain job (ref = jobs.id). */
static cJSON *job_event(qdb *db, qarena *a, int64_t ref)
{
    qrows *r = NULL;
    qerrctx e = {0};
    if (qdb_query(db, a, &r, &e, "SELECT type, status, last_error, result FROM jobs WHERE id = ?", "i", ref) ||
        r->nrows == 0)
        return NULL;
    const char *st = qrows_get(r, 0, 1);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "event", qarena_printf(a, "job.%s", st));
    cJSON_AddStringToObject(o, "kind", "job");
    cJSON_AddNumberToObject(o, "job_id", (double)ref);
    cJSON_AddStringToObject(o, "type", qrows_get(r, 0, 0));
    cJSON_AddStringToObject(o, "status", st);
    qjson_add_str_or_null(o, "error", strcmp(st, "completed") ? qrows_get(r, 0, 2) : NULL);
    qjson_add_raw(o, "result", qrows_get(r, 0, 3));
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)ref);
    cJSON_AddStringToObject(o, "status_url", event_link(a, "/api/v1/jobs/%s", id));
    return o;
}

/* An audiobook (ref = audiobooks.id): final when all its jobs are. NULL
 * while not final. */
static cJSON *audiobook_event(qdb *db, qarena *a, int64_t ref, int *final)
{
    qrows *r = NULL;
    qerrctx e = {0};
    *final = 0;
    if (qdb_query(db, a, &r, &e,
                  "SELECT COUNT(*), COALESCE(SUM(status IN ('waiting','pending','running')), 0),"
                  " COALESCE(SUM(status IN ('failed','cancelled')), 0) FROM jobs WHERE audiobook_id = ?", "i", ref) ||
        qrows_i64(r, 0, 0, 0) == 0 || qrows_i64(r, 0, 1, 1) > 0)
        return NULL;
    *final = 1;
    const char *status = qrows_i64(r, 0, 2, 0) ? "failed" : "ready";
    const char *pub = NULL;
    qrows *p = NULL;
    qerrctx ignore = {0};
    if (qdb_query(db, a, &p, &ignore, "SELECT public_id FROM audiobooks WHERE id = ?", "i", ref) == Q_OK && p->nrows)
        pub = qrows_get(p, 0, 0);
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)ref);
    qrows *f = NULL;
    const char *error = NULL;
    if (!strcmp(status, "failed") &&
        qdb_query(db, a, &f, &ignore, "SELECT type, last_error FROM jobs WHERE audiobook_id = ? AND status IN"
                  " ('failed','cancelled') ORDER BY id LIMIT 1", "i", ref) == Q_OK && f->nrows)
        error = qarena_printf(a, "%s: %s", qrows_get(f, 0, 0), qrows_get(f, 0, 1) ? qrows_get(f, 0, 1) : "failed");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "event", qarena_printf(a, "audiobook.%s", status));
    cJSON_AddStringToObject(o, "kind", "audiobook");
    cJSON_AddStringToObject(o, "audiobook_id", pub ? pub : id);
    cJSON_AddStringToObject(o, "status", status);
    qjson_add_str_or_null(o, "error", error);
    cJSON_AddStringToObject(o, "status_url", event_link(a, "/api/v1/audiobooks/%s", pub ? pub : id));
    return o;
}

/* Watches whose subject ended become pending events. */
static void finalize_watches(qdb *db, qarena *a)
{
    qrows *r = NULL;
    qerrctx e = {0};
    if (qdb_query(db, a, &r, &e,
                  "SELECT n.id, n.kind, n.ref_id, n.watch_job_id, j.status FROM notifications n"
                  " LEFT JOIN jobs j ON j.id = n.watch_job_id WHERE n.state = 'watching' ORDER BY n.id LIMIT 200", ""))
        return;
    for (int i = 0; i < r->nrows; i++) {
        const char *kind = qrows_get(r, i, 1), *st = qrows_get(r, i, 4);
        int64_t ref = qrows_i64(r, i, 2, 0);
        int has_watch = qrows_get(r, i, 3) != NULL;
        cJSON *ev = NULL;
        int final = 0;
        if (has_watch && !st) {
            final = 1;                       /* the job is gone */
        } else if (has_watch) {
            final = is_final(st);
        }
        if (!strcmp(kind, "audiobook") && !has_watch)
            ev = audiobook_event(db, a, ref, &final);
        else if (final && !strcmp(kind, "tts"))
            ev = tts_event(db, a, ref);
        else if (final && !strcmp(kind, "job"))
            ev = job_event(db, a, ref);
        if (!final)
            continue;
        if (!ev) {
            ev = cJSON_CreateObject();
            cJSON_AddStringToObject(ev, "event", qarena_printf(a, "%s.ended", kind));
            cJSON_AddStringToObject(ev, "kind", kind);
            cJSON_AddNumberToObject(ev, "ref_id", (double)ref);
        }
        cJSON_AddNumberToObject(ev, "notification_id", (double)qrows_i64(r, i, 0, 0));
        char *body = cJSON_PrintUnformatted(ev);
        cJSON_Delete(ev);
        if (!body)
            continue;
        qdb_exec(db, &e, "UPDATE notifications SET state = 'pending', event = ?, final_at = NOW(3),"
                 " next_attempt_at = NOW(3) WHERE id = ? AND state = 'watching'", "si", body, qrows_i64(r, i, 0, 0));
        free(body);
    }
}

static size_t discard(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

/* POSTs body; returns the HTTP status (0 when none) with err text. */
static long post(CURL *c, const char *url, const char *body, const char *sig, int64_t id, const char *event,
                 char *errbuf)
{
    struct curl_slist *h = NULL;
    char line[160];
    h = curl_slist_append(h, "Content-Type: application/json");
    snprintf(line, sizeof line, "X-Quire-Signature: sha256=%s", sig);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof line, "X-Quire-Delivery: %lld", (long long)id);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof line, "X-Quire-Event: %.100s", event);
    h = curl_slist_append(h, line);
    h = curl_slist_append(h, "Expect:");
    long timeout = (long)qconfig_int("QUIRE_NOTIFY_TIMEOUT_MS", 10000);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "quire-notify/1");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout < 5000 ? timeout : 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    errbuf[0] = 0;
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else if (!errbuf[0])
        snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_easy_strerror(rc));
    curl_slist_free_all(h);
    return status;
}

int qnotify_pass(qdb *db, int max, qerrctx *err)
{
    qarena *a = qarena_new();
    if (!a)
        return qerr_set(err, Q_ERR_NOMEM, "out of memory"), -1;
    /* one cheap look first: an idle sender costs a statement per pass */
    qrows *probe = NULL;
    if (qdb_query(db, a, &probe, err,
                  "SELECT EXISTS (SELECT 1 FROM notifications WHERE state = 'watching'),"
                  " EXISTS (SELECT 1 FROM notifications WHERE state = 'pending' AND next_attempt_at <= NOW(3))", "")) {
        qarena_free(a);
        return -1;
    }
    int watching = (int)qrows_i64(probe, 0, 0, 0), due = (int)qrows_i64(probe, 0, 1, 0);
    if (watching)
        finalize_watches(db, a);
    if (!due && !watching) {
        qarena_free(a);
        return 0;
    }
    /* lease the due events: the next attempt time moves ahead, so another
     * sender skips them while this one is at work */
    qrows *r = NULL;
    qerr e = qdb_begin(db, err);
    if (!e)
        e = qdb_query(db, a, &r, err,
                      "SELECT id, url, event, attempts, owner_id, TIMESTAMPDIFF(SECOND, final_at, NOW(3)) FROM notifications"
                      " WHERE state = 'pending' AND next_attempt_at <= NOW(3) ORDER BY next_attempt_at LIMIT ?"
                      " FOR UPDATE SKIP LOCKED", "i", (int64_t)max);
    for (int i = 0; !e && i < r->nrows; i++)
        e = qdb_exec(db, err, "UPDATE notifications SET next_attempt_at = NOW(3) + INTERVAL ? SECOND WHERE id = ?", "ii",
                     (int64_t)LEASE_S, qrows_i64(r, i, 0, 0));
    if (!e)
        e = qdb_commit(db, err);
    if (e) {
        if (qdb_in_txn(db))
            qdb_rollback(db);
        qarena_free(a);
        return -1;
    }
    int n = r->nrows;
    CURL *c = n ? curl_easy_init() : NULL;
    int64_t give_up = qconfig_int("QUIRE_NOTIFY_GIVE_UP_S", 86400);
    for (int i = 0; i < n && c; i++) {
        int64_t id = qrows_i64(r, i, 0, 0), owner = qrows_i64(r, i, 4, 0);
        const char *url = qrows_get(r, i, 1), *body = qrows_get(r, i, 2) ? qrows_get(r, i, 2) : "{}";
        int attempt = (int)qrows_i64(r, i, 3, 0) + 1;
        char secret[65] = "", sig[65];
        qerrctx se = {0};
        qaccounts_webhook_secret(db, owner, secret, &se);
        qhmac_sha256_hex(secret, strlen(secret), body, strlen(body), sig);
        const char *event = "event";
        cJSON *ev = cJSON_Parse(body);
        if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(ev, "event")))
            event = qarena_strdup(a, cJSON_GetObjectItemCaseSensitive(ev, "event")->valuestring);
        cJSON_Delete(ev);
        char errbuf[CURL_ERROR_SIZE];
        int64_t t0 = qmono_ms();
        long status = post(c, url, body, sig, id, event, errbuf);
        int64_t ms = qmono_ms() - t0;
        int ok = status >= 200 && status < 300;
        char msg[512];
        if (ok)
            msg[0] = 0;
        else if (status)
            snprintf(msg, sizeof msg, "receiver answered %ld", status);
        else
            snprintf(msg, sizeof msg, "%s", errbuf);
        qerrctx we = {0};
        qdb_exec(db, &we, "INSERT INTO notification_attempts (notification_id, attempt, http_status, error, duration_ms)"
                 " VALUES (?, ?, ?, ?, ?)", "iiIsi", id, (int64_t)attempt, (int64_t)status, ok ? NULL : msg, ms);
        if (ok) {
            qdb_exec(db, &we, "UPDATE notifications SET state = 'delivered', attempts = ?, last_status = ?,"
                     " last_error = NULL, delivered_at = NOW(3) WHERE id = ?", "iii", (int64_t)attempt, (int64_t)status, id);
            QLOG_D("notification %lld delivered to %s", (long long)id, url);
        } else if (qrows_i64(r, i, 5, 0) >= give_up) {
            qdb_exec(db, &we, "UPDATE notifications SET state = 'gave_up', attempts = ?, last_status = ?, last_error = ?"
                     " WHERE id = ?", "iIsi", (int64_t)attempt, (int64_t)status, msg, id);
            QLOG_W("notification %lld: giving up after %d attempts: %s", (long long)id, attempt, msg);
        } else {
            qdb_exec(db, &we, "UPDATE notifications SET attempts = ?, last_status = ?, last_error = ?,"
                     " next_attempt_at = NOW(3) + INTERVAL ? MICROSECOND WHERE id = ?", "iIsii", (int64_t)attempt,
                     (int64_t)status, msg, qnotify_backoff_ms(attempt) * 1000, id);
            QLOG_I("notification %lld attempt %d failed: %s", (long long)id, attempt, msg);
        }
    }
    if (c)
        curl_easy_cleanup(c);
    qarena_free(a);
    return n;
}
