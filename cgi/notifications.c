/* notifications.c - the caller's webhook notifications with every delivery
 * attempt (GET /api/v1/notifications), and the sender thread quire-api runs
 * beside its request threads (lib/notify.c does the work; this thread only
 * paces it, on a connection of its own, so requests never wait on a
 * receiver and a receiver never waits on requests). */
#include "api.h"
#include "notify.h"
#include "util.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

/* GET /api/v1/notifications?page=&per_page=&kind=&ref= -> {"items": [...],
 * "signing_secret"}: the key of X-Quire-Signature (HMAC-SHA256 of the raw
 * body, hex) is the secret as given here. */
qerr h_notifications(qreq *r)
{
    qerr e = api_need_db(r);
    if (e)
        return e;
    int64_t page = 1, per = 20;
    const char *p = api_query(r, "page"), *pp = api_query(r, "per_page");
    if ((p && qparse_i64(p, 1, 1000000, &page)) || (pp && qparse_i64(pp, 1, 100, &per)))
        return api_fail(r, Q_ERR_INVALID, "page must be >= 1 and per_page 1-100");
    qrows *rows = NULL;
    e = qdb_query(r->db, r->arena, &rows, &r->err,
                  "SELECT id, kind, ref_id, url, state, attempts, last_status, last_error, event, created_at, final_at,"
                  " delivered_at, next_attempt_at FROM notifications WHERE owner_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
                  "iii", r->user.id, per, (page - 1) * per);
    if (e)
        return e;
    cJSON *o = api_obj(r);
    cJSON *items = cJSON_AddArrayToObject(o, "items");
    for (int i = 0; i < rows->nrows; i++) {
        cJSON *n = cJSON_CreateObject();
        int64_t id = qrows_i64(rows, i, 0, 0);
        cJSON_AddNumberToObject(n, "id", (double)id);
        cJSON_AddStringToObject(n, "kind", qrows_get(rows, i, 1));
        qjson_add_int_text(n, "ref_id", qrows_get(rows, i, 2));
        cJSON_AddStringToObject(n, "url", qrows_get(rows, i, 3));
        cJSON_AddStringToObject(n, "state", qrows_get(rows, i, 4));
        qjson_add_int_text(n, "attempts", qrows_get(rows, i, 5));
        qjson_add_int_text(n, "last_status", qrows_get(rows, i, 6));
        qjson_add_str_or_null(n, "last_error", qrows_get(rows, i, 7));
        qjson_add_raw(n, "event", qrows_get(rows, i, 8));
        qjson_add_time(n, "created_at", qrows_get(rows, i, 9));
        qjson_add_time(n, "final_at", qrows_get(rows, i, 10));
        qjson_add_time(n, "delivered_at", qrows_get(rows, i, 11));
        qjson_add_time(n, "next_attempt_at", !strcmp(qrows_get(rows, i, 4), "pending") ? qrows_get(rows, i, 12) : NULL);
        qrows *at = NULL;
        e = qdb_query(r->db, r->arena, &at, &r->err,
                      "SELECT attempt, at, http_status, error, duration_ms FROM notification_attempts"
                      " WHERE notification_id = ? ORDER BY attempt LIMIT 100", "i", id);
        if (e) {
            cJSON_Delete(n);
            return e;
        }
        cJSON *arr = cJSON_AddArrayToObject(n, "deliveries");
        for (int k = 0; k < at->nrows; k++) {
            cJSON *d = cJSON_CreateObject();
            qjson_add_int_text(d, "attempt", qrows_get(at, k, 0));
            qjson_add_time(d, "at", qrows_get(at, k, 1));
            qjson_add_int_text(d, "http_status", qrows_get(at, k, 2));
            qjson_add_str_or_null(d, "error", qrows_get(at, k, 3));
            qjson_add_int_text(d, "duration_ms", qrows_get(at, k, 4));
            cJSON_AddItemToArray(arr, d);
        }
        cJSON_AddItemToArray(items, n);
    }
    char secret[65];
    if (qaccounts_webhook_secret(r->db, r->user.id, secret, &r->err) == Q_OK)
        cJSON_AddStringToObject(o, "signing_secret", secret);
    cJSON_AddNumberToObject(o, "page", (double)page);
    cJSON_AddNumberToObject(o, "per_page", (double)per);
    return api_reply_json(r, 200, o, NULL);
}

/* ---- the sender thread ------------------------------------------------ */

static pthread_t sender;
static int sender_started;
static atomic_int sender_stop;

static void *sender_main(void *arg)
{
    (void)arg;
    qlog_set_context("notify");
    qdb *db = NULL;
    int64_t poll = qconfig_int("QUIRE_NOTIFY_POLL_MS", 2000);
    if (poll < 50)
        poll = 50;
    while (!atomic_load(&sender_stop)) {
        qerrctx e = {0};
        if (!db)
            db = qdb_open(&e);
        int n = db ? qnotify_pass(db, 20, &e) : -1;
        if (n < 0 && db && qdb_ping(db) != 0) {
            qdb_close(db);
            db = NULL;
        }
        /* a full batch: more may be due at once */
        for (int64_t t = 0; n < 20 && t < poll && !atomic_load(&sender_stop); t += 50)
            qsleep_ms(50);
    }
    qdb_close(db);
    return NULL;
}

void api_notifier_start(void)
{
    if (qconfig_int("QUIRE_NOTIFY_SENDER", 1) == 0)
        return;
    curl_global_init(CURL_GLOBAL_DEFAULT);    /* before the thread starts */
    atomic_store(&sender_stop, 0);
    sender_started = pthread_create(&sender, NULL, sender_main, NULL) == 0;
}

void api_notifier_stop(void)
{
    if (!sender_started)
        return;
    atomic_store(&sender_stop, 1);
    pthread_join(sender, NULL);
    sender_started = 0;
}
