/* queue_http.c - the job queue over HTTP for workers that cannot reach
 * MariaDB (the seed's file-server queue API): create, claim (with a long
 * poll), complete / fail / progress / heartbeat fenced by the attempt token,
 * list, stats, counters, and the workers' own rows. Every state change goes
 * through lib/queue.h and lib/workers.h, so the semantics are exactly those
 * of the database path. Routes need a worker (or admin) token. */
#include "api.h"
#include "decode.h"
#include "notify.h"
#include "queue.h"
#include "util.h"
#include "workers.h"

#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CLAIM_WAIT_MAX_S 30
#define CLAIM_POLL_MS 100
#define MAX_CLAIM_TYPES 16
#define REAP_EVERY_MS 2000
#define PARK_MAX_MS 2000      /* one sleep of a parked claim */

static atomic_int long_polls;          /* claims parked right now        */
static atomic_llong last_reap_ms;      /* this process's reaper schedule */

/* The attempt token: the body's "token" or the X-Attempt-Token header. */
static const char *attempt_token(qreq *r, const cJSON *body)
{
    const char *t = NULL;
    if (body)
        qjson_str(body, "token", 0, 63, &t, &r->err);
    if (!t)
        t = api_header(r, "X-Attempt-Token");
    return t && *t ? t : NULL;
}

qerr rq_load_attempt(qreq *r, const char *type, int64_t id, const char *token, qjob *j)
{
    if (!token)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'token' (the attempt token from the claim) is required");
    qrows *rows = NULL;
    qerr e = qdb_query(r->db, r->arena, &rows, &r->err,
                       "SELECT attempts, has_dependents, type, status, (attempt_token <=> ?) FROM jobs WHERE id = ?",
                       "si", token, id);
    if (e)
        return e;
    if (rows->nrows == 0 || (type && strcmp(qrows_get(rows, 0, 2), type) != 0))
        return api_fail(r, Q_ERR_NOT_FOUND, "no job %lld of type %s", (long long)id, type ? type : "");
    if (strcmp(qrows_get(rows, 0, 3), "running") != 0 || qrows_i64(rows, 0, 4, 0) != 1)
        return api_fail(r, Q_ERR_LEASE_LOST, "job %lld: that attempt no longer holds the lease (job is %s)",
                        (long long)id, qrows_get(rows, 0, 3));
    memset(j, 0, sizeof *j);
    j->id = id;
    snprintf(j->token, sizeof j->token, "%s", token);
    j->attempt = (int)qrows_i64(rows, 0, 0, 1);
    j->has_dependents = (int)qrows_i64(rows, 0, 1, 0);
    snprintf(j->type, sizeof j->type, "%s", qrows_get(rows, 0, 2));
    return Q_OK;
}

static qerr type_param(qreq *r, const char **type)
{
    *type = r->nparams > 0 ? r->params[0] : "";
    if (!qqueue_type_ok(*type))
        return api_fail(r, Q_ERR_NOT_FOUND, "job type must be 1-32 characters of a-z 0-9 _ . -");
    return Q_OK;
}

/* POST /api/v1/queue/{type}/jobs: the body is the payload, or
 * {"payload": {...}, "priority", "max_attempts", "idempotency_key",
 * "delay_ms", "depends_on": [ids], "notify_url"}. */
qerr rq_create_decode(qreq *r, const cJSON *body, rq_create_in *out)
{
    int64_t prio = 0, max_att = 0, delay = 0;
    const char *idem = NULL, *notify = NULL;
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(body, "payload");
    if (payload) {
        if (!cJSON_IsObject(payload))
            return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'payload' must be an object");
        if (qjson_int(body, "priority", 0, -100, 100, &prio, &r->err) ||
            qjson_int(body, "max_attempts", 0, 1, 100, &max_att, &r->err) ||
            qjson_int(body, "delay_ms", 0, 0, 86400000LL * 30, &delay, &r->err) ||
            qjson_str(body, "idempotency_key", 0, 128, &idem, &r->err) ||
            qjson_str(body, "notify_url", 0, QNOTIFY_URL_MAX, &notify, &r->err))
            return r->err.code;
        if (notify && !qnotify_url_ok(notify))
            return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'notify_url' must be an http:// or https:// URL");
    } else {
        payload = body;
        qjson_int(body, "priority", 0, -100, 100, &prio, &r->err);
        if (r->err.code)
            return r->err.code;
    }
    int64_t *deps = out->deps;
    int ndeps = 0;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(body, "depends_on");
    if (d && payload != body) {
        if (!cJSON_IsArray(d) || cJSON_GetArraySize(d) > 64)
            return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'depends_on' must be an array of at most 64 job ids");
        const cJSON *it;
        cJSON_ArrayForEach(it, d) {
            /* whole numbers that convert exactly: 1e300 made the cast
             * undefined (found by tests/fuzz/fuzz_json.c) */
            if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > QJSON_MAX_EXACT_INT ||
                it->valuedouble != floor(it->valuedouble))
                return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'depends_on' must hold job ids");
            deps[ndeps++] = (int64_t)it->valuedouble;
        }
    }
    out->payload = payload;
    out->prio = prio;
    out->max_att = max_att;
    out->delay = delay;
    out->idem = idem;
    out->notify = notify;
    out->ndeps = ndeps;
    return Q_OK;
}

qerr h_rq_create(qreq *r)
{
    const char *type;
    cJSON *body;
    rq_create_in in;
    qerr e = type_param(r, &type);
    if (!e)
        e = api_need_db(r);
    if (!e)
        e = api_json_body(r, &body);
    if (!e)
        e = rq_create_decode(r, body, &in);
    if (e)
        return e;
    const cJSON *payload = in.payload;
    int64_t prio = in.prio, max_att = in.max_att, delay = in.delay, *deps = in.deps;
    const char *idem = in.idem, *notify = in.notify;
    int ndeps = in.ndeps;
    char *ptext = cJSON_PrintUnformatted(payload);
    if (!ptext)
        return api_fail(r, Q_ERR_NOMEM, "out of memory");
    qarena_defer(r->arena, free, ptext);
    qjob_spec s = {.type = type, .payload = ptext, .priority = (int)prio, .premium = r->user.premium,
                   .max_attempts = (int)max_att, .owner_id = r->user.id, .idempotency_key = idem,
                   .delay_ms = delay, .depends_on = deps, .ndeps = ndeps};
    int64_t id = 0;
    int existed = 0;
    e = qqueue_enqueue(r->db, &s, &id, &existed, &r->err);
    if (e)
        return e;
    /* a watch on the new job; its event goes when the job ends */
    if (notify && !existed && (e = qnotify_watch(r->db, r->user.id, "job", id, id, notify, &r->err)))
        return e;
    qrows *rows = NULL;
    e = qdb_query(r->db, r->arena, &rows, &r->err, "SELECT status FROM jobs WHERE id = ?", "i", id);
    if (e)
        return e;
    cJSON *o = api_obj(r);
    cJSON_AddNumberToObject(o, "job_id", (double)id);
    cJSON_AddStringToObject(o, "status", rows->nrows ? qrows_get(rows, 0, 0) : "pending");
    cJSON_AddBoolToObject(o, "existed", existed);
    return api_reply_json(r, existed ? 200 : 201, o, NULL);
}

static cJSON *claimed_json(const qjob *j, int lease)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)j->id);
    cJSON_AddNumberToObject(o, "job_id", (double)j->id);
    cJSON_AddStringToObject(o, "type", j->type);
    cJSON_AddStringToObject(o, "token", j->token);
    cJSON_AddNumberToObject(o, "attempt", j->attempt);
    cJSON_AddNumberToObject(o, "max_attempts", j->max_attempts);
    cJSON_AddNumberToObject(o, "priority", j->priority);
    cJSON_AddBoolToObject(o, "has_dependents", j->has_dependents);
    cJSON_AddNumberToObject(o, "owner_id", (double)j->owner_id);
    cJSON_AddNumberToObject(o, "audiobook_id", (double)j->audiobook_id);
    cJSON_AddNumberToObject(o, "parent_id", (double)j->parent_id);
    cJSON_AddNumberToObject(o, "lease_seconds", lease);
    cJSON *p = j->payload ? cJSON_Parse(j->payload) : NULL;
    cJSON_AddItemToObject(o, "payload", p ? p : cJSON_CreateObject());
    return o;
}

/* Runs the reaper now and then: with only remote workers nobody else
 * would. Safe when several processes do. */
static void maybe_reap(qreq *r)
{
    long long now = qmono_ms(), last = atomic_load(&last_reap_ms);
    if (now - last < REAP_EVERY_MS || !atomic_compare_exchange_strong(&last_reap_ms, &last, now))
        return;
    qerrctx e = {0};
    qqueue_reap(r->db, &e);
}

/* ---- the long poll's wake-up connection -------------------------------
 * A parked claim sleeps in SELECT SLEEP() on a connection of its thread's
 * own, announced in worker_waits like an idle quire-worker's, so an
 * enqueue of its type wakes it at once (qqueue_wake: KILL QUERY) and a
 * parked remote worker costs the database a few statements per sleep
 * period instead of a claim every few milliseconds. */
static pthread_key_t wait_key;
static pthread_once_t wait_once = PTHREAD_ONCE_INIT;
static _Thread_local qdb *wait_db;

static void wait_db_free(void *db)
{
    qdb_close(db);
}

static void wait_key_make(void)
{
    pthread_key_create(&wait_key, wait_db_free);
}

/* This thread's wake-up connection, opened on first use; NULL when the
 * database refuses one (the caller then polls). */
static qdb *wait_conn(void)
{
    if (!wait_db) {
        qerrctx e = {0};
        pthread_once(&wait_once, wait_key_make);
        wait_db = qdb_open(&e);
        if (wait_db)
            pthread_setspecific(wait_key, wait_db);
    }
    return wait_db;
}

/* Sleeps up to ms on the wake-up connection; returns early when woken. */
static void park(int64_t ms)
{
    qdb *w = wait_conn();
    if (!w) {
        qsleep_ms(ms < CLAIM_POLL_MS ? ms : CLAIM_POLL_MS);
        return;
    }
    /* the length of the sleep is bound, like every value in quire's SQL */
    qarena *a = qarena_new();
    qrows *rows;
    qerrctx e = {0};
    qerr rc = a ? qdb_query(w, a, &rows, &e, "SELECT IF((SELECT woken FROM worker_waits WHERE conn_id = CONNECTION_ID())"
                            " = 1, 0, SLEEP(?))", "d", (double)ms / 1000.0)
                : Q_ERR_NOMEM;
    qarena_free(a);
    if (rc && qdb_errno(w) != 1317 /* interrupted: woken */) {
        qdb_close(w);
        pthread_setspecific(wait_key, NULL);
        wait_db = NULL;
        qsleep_ms(CLAIM_POLL_MS);
    }
}

/* Has the worker hung up on a parked claim? nginx closes the FastCGI
 * connection when its client goes away; a claim that went on would hand a
 * job to nobody (it would sit "running" until its lease ran out). */
static int client_gone(qreq *r)
{
    int fd = r->fcgi->ipcFd;
    if (fd < 0)
        return 1;
    struct pollfd p = {fd, POLLIN | POLLRDHUP, 0};
    if (poll(&p, 1, 0) <= 0)
        return 0;
    if (p.revents & (POLLHUP | POLLERR | POLLRDHUP))
        return 1;
    char c;
    return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

qerr rq_claim_decode(qreq *r, const cJSON *body, rq_claim_in *out)
{
    const char *wid = NULL;
    int64_t max = 1, wait = 0, lease = qconfig_get()->lease_seconds;
    if (qjson_str(body, "worker_id", 1, 64, &wid, &r->err) || qjson_int(body, "max", 0, 1, QQUEUE_MAX_BATCH, &max, &r->err) ||
        qjson_int(body, "wait", 0, 0, CLAIM_WAIT_MAX_S, &wait, &r->err) ||
        qjson_int(body, "lease", 0, 1, 86400, &lease, &r->err))
        return r->err.code;
    if (!*wid)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'worker_id' must not be empty");
    *out = (rq_claim_in){wid, max, wait, lease};
    return Q_OK;
}

/* POST /api/v1/queue/{types}/claim {"worker_id", "max", "wait", "lease"}:
 * {"job": {...} | null, "jobs": [...]}. {types} may be a comma separated
 * list. wait (<= 30 s) parks the request until a job comes (see park());
 * when too many claims are parked already (they hold quire-api threads) it
 * answers at once, and the worker backs off. */
qerr h_rq_claim(qreq *r)
{
    const char *tparam = r->nparams ? r->params[0] : "";
    const char *types[MAX_CLAIM_TYPES];
    int ntypes = 0;
    char *tl = qarena_strdup(r->arena, tparam), *save = NULL;
    for (char *t = strtok_r(tl, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!qqueue_type_ok(t) || ntypes == MAX_CLAIM_TYPES)
            return api_fail(r, Q_ERR_NOT_FOUND, "job types must be 1-32 characters of a-z 0-9 _ . - (at most 16)");
        types[ntypes++] = t;
    }
    if (ntypes == 0)
        return api_fail(r, Q_ERR_NOT_FOUND, "no job type given");
    cJSON *body;
    rq_claim_in in;
    qerr e = api_need_db(r);
    if (!e)
        e = api_json_body(r, &body);
    if (!e)
        e = rq_claim_decode(r, body, &in);
    if (e)
        return e;
    const char *wid = in.wid;
    int64_t max = in.max, wait = in.wait, lease = in.lease;
    maybe_reap(r);
    int cap = qconfig_get()->api_threads - 2;
    if (cap < 1)
        cap = 1;
    int parked = 0;
    qjob batch[QQUEUE_MAX_BATCH];
    int got = 0;
    int64_t end = qmono_ms() + wait * 1000;
    for (;;) {
        qerrctx ce = {0};
        if (parked && client_gone(r)) {
            got = 0;
            break;
        }
        got = qqueue_claim(r->db, wid, types, ntypes, (int)max, (int)lease, batch, &ce);
        if (got < 0 && ce.code == Q_ERR_DB_GONE && strstr(ce.msg, "busy")) {
            got = 0;                 /* lost a lock race: simply look again */
        } else if (got < 0) {
            e = api_fail(r, ce.code ? ce.code : Q_ERR_DB, "%s", ce.msg);
            break;
        }
        int64_t left = end - qmono_ms();
        if (got > 0 || left <= 0 || api_stopping())
            break;
        if (!parked) {
            if (atomic_fetch_add(&long_polls, 1) >= cap) {
                atomic_fetch_sub(&long_polls, 1);
                break;
            }
            parked = 1;
        }
        qdb *w = wait_conn();
        if (w) {
            /* announce before the next look, so an enqueue in between
             * still wakes us; refreshed every round (wakers skip stale
             * announcements) */
            qerrctx we = {0};
            qdb_exec(r->db, &we, "REPLACE INTO worker_waits (conn_id, worker_id, types, since, woken)"
                     " VALUES (?, ?, ?, NOW(3), 0)", "iss", (int64_t)mysql_thread_id(qdb_mysql(w)), wid, tparam);
            qerr_clear(&ce);
            got = qqueue_claim(r->db, wid, types, ntypes, (int)max, (int)lease, batch, &ce);
            if (got > 0)
                break;
            if (got < 0 && !(ce.code == Q_ERR_DB_GONE && strstr(ce.msg, "busy"))) {
                e = api_fail(r, ce.code ? ce.code : Q_ERR_DB, "%s", ce.msg);
                break;
            }
            got = 0;
        }
        park(left < PARK_MAX_MS ? left : PARK_MAX_MS);
    }
    if (parked) {
        atomic_fetch_sub(&long_polls, 1);
        if (wait_db) {
            qerrctx we = {0};
            qdb_exec(r->db, &we, "DELETE FROM worker_waits WHERE conn_id = ?", "i",
                     (int64_t)mysql_thread_id(qdb_mysql(wait_db)));
        }
    }
    if (e)
        return e;
    if (got > 0 && parked && client_gone(r)) {
        /* claimed for a worker that left meanwhile: hand them back */
        for (int i = 0; i < got; i++) {
            qerrctx re = {0};
            qqueue_release(r->db, &batch[i], &re);
            qjob_clear(&batch[i]);
        }
        QLOG_I("claim by %s: the worker hung up; %d job(s) released", wid, got);
        got = 0;
    }
    cJSON *o = api_obj(r);
    cJSON *arr = cJSON_AddArrayToObject(o, "jobs");
    for (int i = 0; i < got; i++) {
        cJSON *j = claimed_json(&batch[i], (int)lease);
        if (i == 0)
            cJSON_AddItemToObject(o, "job", cJSON_Duplicate(j, 1));
        cJSON_AddItemToArray(arr, j);
        qjob_clear(&batch[i]);
    }
    if (got == 0)
        cJSON_AddNullToObject(o, "job");
    return api_reply_json(r, 200, o, NULL);
}

/* The common start of the four attempt endpoints. */
static qerr attempt_begin(qreq *r, cJSON **body, qjob *j)
{
    const char *type;
    int64_t id;
    qerr e = type_param(r, &type);
    if (!e)
        e = api_param_id(r, 1, &id);
    if (!e)
        e = api_need_db(r);
    if (!e)
        e = api_json_body(r, body);
    if (e)
        return e;
    return rq_load_attempt(r, type, id, attempt_token(r, *body), j);
}

static qerr reply_status(qreq *r, const char *status, int cancel)
{
    cJSON *o = api_obj(r);
    cJSON_AddStringToObject(o, "status", status);
    if (cancel >= 0)
        cJSON_AddBoolToObject(o, "cancel_requested", cancel);
    return api_reply_json(r, 200, o, NULL);
}

/* POST .../jobs/{id}/complete {"token", "result": {...}} (other fields of
 * the body, like the seed's "gofile_link", become the result when no
 * "result" is given). */
qerr rq_complete_decode(qreq *r, const cJSON *body, char **text_out)
{
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(body, "result");
    cJSON *copy = NULL;
    if (!res) {
        copy = qjson_own(r->arena, cJSON_Duplicate(body, 1));
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "token");
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "worker_id");
        res = copy;
    }
    char *text = cJSON_IsNull(res) ? NULL : cJSON_PrintUnformatted(res);
    qarena_defer(r->arena, free, text);
    *text_out = text;
    return Q_OK;
}

qerr h_rq_complete(qreq *r)
{
    cJSON *body;
    qjob j;
    char *text;
    qerr e = attempt_begin(r, &body, &j);
    if (e || (e = rq_complete_decode(r, body, &text)))
        return e;
    e = qqueue_complete(r->db, &j, text, &r->err);
    if (e)
        return e;
    return reply_status(r, "completed", -1);
}

/* POST .../jobs/{id}/fail {"token", "error" | "error_message", "retryable"
 * (default true)} -> {"status": "pending" | "failed"}. */
qerr rq_fail_decode(qreq *r, const cJSON *body, rq_fail_in *out)
{
    const char *msg = NULL;
    int retryable = 1;
    if (qjson_str(body, "error", 0, 4000, &msg, &r->err) || qjson_bool(body, "retryable", 0, &retryable, &r->err))
        return r->err.code;
    if (!msg && qjson_str(body, "error_message", 0, 4000, &msg, &r->err))
        return r->err.code;
    *out = (rq_fail_in){msg, retryable};
    return Q_OK;
}

qerr h_rq_fail(qreq *r)
{
    cJSON *body;
    qjob j;
    rq_fail_in in;
    qerr e = attempt_begin(r, &body, &j);
    if (e || (e = rq_fail_decode(r, body, &in)))
        return e;
    const char *msg = in.msg;
    int retryable = in.retryable;
    e = qqueue_fail(r->db, &j, msg ? msg : "failed (no message)", retryable, &r->err);
    if (e)
        return e;
    qrows *rows = NULL;
    e = qdb_query(r->db, r->arena, &rows, &r->err, "SELECT status FROM jobs WHERE id = ?", "i", j.id);
    if (e)
        return e;
    return reply_status(r, rows->nrows ? qrows_get(rows, 0, 0) : "failed", -1);
}

/* POST .../jobs/{id}/progress {"token", "percent", "message", "current",
 * "total"} -> {"status": "running", "cancel_requested"}. */
qerr rq_progress_decode(qreq *r, const cJSON *body, rq_progress_in *out)
{
    double pct = 0;
    const char *msg = NULL;
    int64_t cur = 0, tot = 0;
    if (qjson_num(body, "percent", 0, 0, 100, &pct, &r->err) || qjson_str(body, "message", 0, 255, &msg, &r->err) ||
        qjson_int(body, "current", 0, 0, 1000000, &cur, &r->err) ||
        qjson_int(body, "total", 0, 0, 1000000, &tot, &r->err))
        return r->err.code;
    *out = (rq_progress_in){pct, msg, cur, tot};
    return Q_OK;
}

qerr h_rq_progress(qreq *r)
{
    cJSON *body;
    qjob j;
    rq_progress_in in;
    qerr e = attempt_begin(r, &body, &j);
    if (e || (e = rq_progress_decode(r, body, &in)))
        return e;
    double pct = in.pct;
    const char *msg = in.msg;
    int64_t cur = in.cur, tot = in.tot;
    int cancel = 0;
    e = qqueue_progress(r->db, &j, pct, msg, (int)cur, (int)tot, &cancel, &r->err);
    if (e)
        return e;
    return reply_status(r, "running", cancel);
}

/* POST .../jobs/{id}/heartbeat {"token", "lease"} extends the lease. A
 * worker that honours a cancel request says so with {"cancelled": true};
 * one shutting down hands the attempt back with {"release": true}. */
qerr rq_heartbeat_decode(qreq *r, const cJSON *body, rq_heartbeat_in *out)
{
    int64_t lease = qconfig_get()->lease_seconds;
    int cancelled = 0, release = 0;
    if (qjson_int(body, "lease", 0, 1, 86400, &lease, &r->err) || qjson_bool(body, "cancelled", 0, &cancelled, &r->err) ||
        qjson_bool(body, "release", 0, &release, &r->err))
        return r->err.code;
    *out = (rq_heartbeat_in){lease, cancelled, release};
    return Q_OK;
}

qerr h_rq_heartbeat(qreq *r)
{
    cJSON *body;
    qjob j;
    rq_heartbeat_in in;
    qerr e = attempt_begin(r, &body, &j);
    if (e || (e = rq_heartbeat_decode(r, body, &in)))
        return e;
    int64_t lease = in.lease;
    int cancelled = in.cancelled, release = in.release;
    if (cancelled) {
        e = qqueue_ack_cancel(r->db, &j, &r->err);
        return e ? e : reply_status(r, "cancelled", 1);
    }
    if (release) {
        e = qqueue_release(r->db, &j, &r->err);
        return e ? e : reply_status(r, "pending", -1);
    }
    int cancel = 0;
    e = qqueue_heartbeat(r->db, &j, (int)lease, &cancel, &r->err);
    if (e)
        return e;
    return reply_status(r, "running", cancel);
}

/* The seed's name for running. */
static const char *seed_status(const char *s)
{
    return !strcmp(s, "running") ? "processing" : s;
}

/* GET /api/v1/queue/{type}/jobs?status=&limit= -> [job, ...], newest first
 * (pending ones in claim order). */
qerr h_rq_list(qreq *r)
{
    const char *type;
    qerr e = type_param(r, &type);
    if (!e)
        e = api_need_db(r);
    if (e)
        return e;
    const char *st = api_query(r, "status");
    const char *lim = api_query(r, "limit");
    int64_t limit = 100;
    if (lim && qparse_i64(lim, 1, 1000, &limit) != 0)
        return api_fail(r, Q_ERR_INVALID, "limit must be 1-1000");
    if (st && !strcmp(st, "processing"))
        st = "running";
    static const char *const ok[] = {"waiting", "pending", "running", "completed", "failed", "cancelled"};
    int valid = !st;
    for (size_t i = 0; st && i < sizeof ok / sizeof ok[0]; i++)
        valid |= !strcmp(st, ok[i]);
    if (!valid)
        return api_fail(r, Q_ERR_INVALID, "status must be waiting, pending, processing, running, completed, failed or cancelled");
    qrows *rows = NULL;
    /* plain constant statements (no SQL is built at run time) */
#define JOB_COLS "SELECT id, status, priority, attempts, max_attempts, worker_id, owner_id, payload, result, last_error," \
                 " progress_percent, progress_message, created_at, started_at, finished_at FROM jobs"
    if (st && !strcmp(st, "pending"))
        e = qdb_query(r->db, r->arena, &rows, &r->err,
                      JOB_COLS " WHERE status = 'pending' AND type = ? ORDER BY priority DESC, id LIMIT ?", "si", type,
                      limit);
    else if (st)
        e = qdb_query(r->db, r->arena, &rows, &r->err,
                      JOB_COLS " WHERE status = ? AND type = ? ORDER BY id DESC LIMIT ?", "ssi", st, type, limit);
    else
        e = qdb_query(r->db, r->arena, &rows, &r->err, JOB_COLS " WHERE type = ? ORDER BY id DESC LIMIT ?", "si", type,
                      limit);
#undef JOB_COLS
    if (e)
        return e;
    cJSON *arr = qjson_own(r->arena, cJSON_CreateArray());
    for (int i = 0; i < rows->nrows; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "job_id", (double)qrows_i64(rows, i, 0, 0));
        cJSON_AddStringToObject(o, "type", type);
        cJSON_AddStringToObject(o, "status", seed_status(qrows_get(rows, i, 1)));
        qjson_add_int_text(o, "priority", qrows_get(rows, i, 2));
        qjson_add_int_text(o, "attempts", qrows_get(rows, i, 3));
        qjson_add_int_text(o, "max_attempts", qrows_get(rows, i, 4));
        cJSON_AddNumberToObject(o, "retry_count", (double)(qrows_i64(rows, i, 3, 0) > 0 ? qrows_i64(rows, i, 3, 0) - 1 : 0));
        qjson_add_str_or_null(o, "worker_id", qrows_get(rows, i, 5));
        qjson_add_int_text(o, "owner_id", qrows_get(rows, i, 6));
        qjson_add_raw(o, "payload", qrows_get(rows, i, 7));
        qjson_add_raw(o, "result", qrows_get(rows, i, 8));
        qjson_add_str_or_null(o, "error_message", qrows_get(rows, i, 9));
        cJSON_AddNumberToObject(o, "progress_percent", qrows_double(rows, i, 10, 0));
        qjson_add_str_or_null(o, "progress_message", qrows_get(rows, i, 11));
        qjson_add_time(o, "created_at", qrows_get(rows, i, 12));
        qjson_add_time(o, "processing_started_at", qrows_get(rows, i, 13));
        qjson_add_time(o, "completed_at", qrows_get(rows, i, 14));
        cJSON_AddItemToArray(arr, o);
    }
    return api_reply_json(r, 200, arr, NULL);
}

/* GET /api/v1/queue/{type}/stats -> {"waiting", "pending", "processing",
 * "running", "completed", "failed", "cancelled"}. */
qerr h_rq_stats(qreq *r)
{
    const char *type;
    qerr e = type_param(r, &type);
    if (!e)
        e = api_need_db(r);
    if (e)
        return e;
    qrows *rows = NULL;
    e = qdb_query(r->db, r->arena, &rows, &r->err, "SELECT status, COUNT(*) FROM jobs WHERE type = ? GROUP BY status",
                  "s", type);
    if (e)
        return e;
    static const char *const names[] = {"waiting", "pending", "running", "completed", "failed", "cancelled"};
    double v[6] = {0};
    for (int i = 0; i < rows->nrows; i++)
        for (int k = 0; k < 6; k++)
            if (!strcmp(qrows_get(rows, i, 0), names[k]))
                v[k] = (double)qrows_i64(rows, i, 1, 0);
    cJSON *o = api_obj(r);
    for (int k = 0; k < 6; k++)
        cJSON_AddNumberToObject(o, names[k], v[k]);
    cJSON_AddNumberToObject(o, "processing", v[2]);
    return api_reply_json(r, 200, o, NULL);
}

/* The counter's step: "by" (1 when not given). */
qerr rq_counter_decode(qreq *r, const cJSON *body, int64_t *by)
{
    if (qjson_int(body, "by", 0, 1, 1000000, by, &r->err))
        return r->err.code;
    return Q_OK;
}

/* POST /api/v1/counter/increment/{name} {"by": n (default 1)} -> {"value"}.
 * The seed's "audio" and "video" counters are "audio_counter" and
 * "video_counter" rows. */
qerr h_rq_counter(qreq *r)
{
    const char *name = r->nparams ? r->params[0] : "";
    qerr e = api_need_db(r);
    if (e)
        return e;
    size_t n = strlen(name);
    if (n == 0 || n > 100)
        return api_fail(r, Q_ERR_NOT_FOUND, "counter names are 1-100 characters");
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return api_fail(r, Q_ERR_NOT_FOUND, "counter names are letters, digits and _ - .");
    }
    int64_t by = 1;
    const char *cl = api_param(r, "CONTENT_LENGTH");
    if (cl && *cl && strcmp(cl, "0") != 0) {
        cJSON *body;
        e = api_json_body(r, &body);
        if (e)
            return e;
        if ((e = rq_counter_decode(r, body, &by)))
            return e;
    }
    const char *full = strstr(name, "_counter") ? name : qarena_printf(r->arena, "%s_counter", name);
    int64_t value = 0;
    e = qqueue_counter_add(r->db, full, by, &value, &r->err);
    if (e)
        return e;
    cJSON *o = api_obj(r);
    cJSON_AddNumberToObject(o, "value", (double)value);
    cJSON_AddStringToObject(o, "counter", full);
    return api_reply_json(r, 200, o, NULL);
}

/* POST /api/v1/workers/{type}/heartbeat {"worker_id", "status", "hostname",
 * "gpu_model", "types", "capabilities", "concurrency", "current_jobs",
 * "jobs_completed", "jobs_failed", "stats"}. status "starting" registers
 * (and expires leases a previous run of the same id still held), "offline"
 * signs off; any other ("online", "busy", "draining") is a heartbeat, which
 * registers a worker not seen before. */
qerr rq_worker_decode(qreq *r, const cJSON *body, const char *type, rq_worker_in *out)
{
    const char *wid = NULL, *status = "online", *host = "remote", *gpu = "none", *types = type;
    int64_t conc = 1, cur = 0, done = 0, failed = 0;
    if (qjson_str(body, "worker_id", 1, 64, &wid, &r->err) || qjson_str(body, "status", 0, 16, &status, &r->err) ||
        qjson_str(body, "hostname", 0, 255, &host, &r->err) || qjson_str(body, "gpu_model", 0, 128, &gpu, &r->err) ||
        qjson_str(body, "types", 0, 512, &types, &r->err) ||
        qjson_int(body, "concurrency", 0, 1, 1024, &conc, &r->err) ||
        qjson_int(body, "current_jobs", 0, 0, 1024, &cur, &r->err) ||
        qjson_int(body, "jobs_completed", 0, 0, INT64_MAX / 2, &done, &r->err) ||
        qjson_int(body, "jobs_failed", 0, 0, INT64_MAX / 2, &failed, &r->err))
        return r->err.code;
    if (!*wid)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'worker_id' must not be empty");
    const cJSON *caps = cJSON_GetObjectItemCaseSensitive(body, "capabilities");
    const cJSON *stats = cJSON_GetObjectItemCaseSensitive(body, "stats");
    char *caps_text = caps && cJSON_IsObject(caps) ? cJSON_PrintUnformatted(caps) : NULL;
    char *stats_text = stats && cJSON_IsObject(stats) ? cJSON_PrintUnformatted(stats) : NULL;
    qarena_defer(r->arena, free, caps_text);
    qarena_defer(r->arena, free, stats_text);
    if (caps_text && strlen(caps_text) > 60000)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'capabilities' is over 60000 bytes");
    if (strcmp(status, "starting") && strcmp(status, "offline") && strcmp(status, "online") && strcmp(status, "busy") &&
        strcmp(status, "draining"))
        return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'status' must be starting, online, busy, draining or offline");
    *out = (rq_worker_in){wid, status, host, gpu, types, conc, cur, done, failed, caps_text, stats_text};
    return Q_OK;
}

qerr h_rq_worker_heartbeat(qreq *r)
{
    const char *type;
    cJSON *body;
    rq_worker_in in;
    qerr e = type_param(r, &type);
    if (!e)
        e = api_need_db(r);
    if (!e)
        e = api_json_body(r, &body);
    if (!e)
        e = rq_worker_decode(r, body, type, &in);
    if (e)
        return e;
    const char *wid = in.wid, *status = in.status, *host = in.host, *gpu = in.gpu, *types = in.types;
    int64_t conc = in.conc, cur = in.cur, done = in.done, failed = in.failed;
    char *caps_text = in.caps_text, *stats_text = in.stats_text;
    qworker_info info = {wid, host, types, gpu, caps_text, (int)conc};
    if (!strcmp(status, "starting")) {
        e = qworkers_register(r->db, &info, &r->err);
        if (!e)
            e = qqueue_expire_worker(r->db, wid, &r->err);
    } else if (!strcmp(status, "offline")) {
        e = qworkers_offline(r->db, wid, &r->err);
    } else {
        e = qworkers_heartbeat(r->db, wid, !strcmp(status, "draining") ? "draining" : "online", (int)cur, done, failed,
                               stats_text, &r->err);
        if (!e && qdb_affected(r->db) == 0)
            e = qworkers_register(r->db, &info, &r->err);
        if (!e && caps_text)
            e = qdb_exec(r->db, &r->err, "UPDATE workers SET capabilities = ? WHERE id = ?", "ss", caps_text, wid);
    }
    if (e)
        return e;
    return reply_status(r, "ok", -1);
}

/* GET /api/v1/workers/{type} -> [worker, ...] serving that type ("all":
 * every worker). */
qerr h_rq_workers(qreq *r)
{
    const char *type;
    qerr e = type_param(r, &type);
    if (!e)
        e = api_need_db(r);
    if (e)
        return e;
    qrows *rows = NULL;
    e = qdb_query(r->db, r->arena, &rows, &r->err,
                  "SELECT id, hostname, gpu, status, current_jobs, jobs_completed, jobs_failed, last_heartbeat,"
                  " started_at, types, capabilities, stats, concurrency,"
                  " TIMESTAMPDIFF(MICROSECOND, last_heartbeat, NOW(3)) / 1e6 FROM workers"
                  " WHERE ? = 'all' OR FIND_IN_SET(?, types) ORDER BY id", "ss", type, type);
    if (e)
        return e;
    cJSON *arr = qjson_own(r->arena, cJSON_CreateArray());
    for (int i = 0; i < rows->nrows; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "worker_id", qrows_get(rows, i, 0));
        cJSON_AddStringToObject(o, "hostname", qrows_get(rows, i, 1));
        cJSON_AddStringToObject(o, "gpu_model", qrows_get(rows, i, 2));
        double age = qrows_double(rows, i, 13, 1e9);
        const char *st = qrows_get(rows, i, 3);
        /* a worker that stopped heartbeating is offline whatever it said */
        cJSON_AddStringToObject(o, "status", strcmp(st, "offline") && age > 60 ? "offline" : st);
        qjson_add_int_text(o, "current_jobs", qrows_get(rows, i, 4));
        qjson_add_int_text(o, "jobs_completed", qrows_get(rows, i, 5));
        qjson_add_int_text(o, "jobs_failed", qrows_get(rows, i, 6));
        qjson_add_time(o, "last_heartbeat", qrows_get(rows, i, 7));
        cJSON_AddNumberToObject(o, "heartbeat_age_seconds", age);
        qjson_add_time(o, "created_at", qrows_get(rows, i, 8));
        cJSON_AddStringToObject(o, "types", qrows_get(rows, i, 9));
        qjson_add_raw(o, "capabilities", qrows_get(rows, i, 10));
        qjson_add_raw(o, "stats", qrows_get(rows, i, 11));
        qjson_add_int_text(o, "concurrency", qrows_get(rows, i, 12));
        cJSON_AddItemToArray(arr, o);
    }
    return api_reply_json(r, 200, arr, NULL);
}
