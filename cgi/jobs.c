/* jobs.c - /api/v1/jobs: one job with its attempt history, the caller's job
 * history (admins: all) with filters and paging, cancel, retry; and the
 * external processor's report POST /api/v1/admin/jobs/{job_id}/status.
 * Reads jobs with SELECTs; every state change goes through lib/queue. */
#include "api.h"
#include "decode.h"
#include "queue.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define JOB_COLS_OWN \
    "j.id, j.type, j.status, j.priority, j.progress_percent, j.progress_message, j.progress_current," \
    " j.progress_total, j.attempts, j.max_attempts, j.last_error, j.result, j.created_at, j.started_at," \
    " j.finished_at, j.cancel_requested"
#define JOB_COLS JOB_COLS_OWN ", a.public_id, j.worker_id"

/* One row of JOB_COLS as the job object. */
static cJSON *job_json(const qrows *j, int i, int with_result)
{
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "id", qrows_get(j, i, 0));
    cJSON_AddStringToObject(x, "type", qrows_get(j, i, 1));
    cJSON_AddStringToObject(x, "status", qrows_get(j, i, 2));
    qjson_add_int_text(x, "priority", qrows_get(j, i, 3));
    cJSON *p = cJSON_AddObjectToObject(x, "progress");
    cJSON_AddNumberToObject(p, "percent", qrows_double(j, i, 4, 0));
    qjson_add_str_or_null(p, "message", qrows_get(j, i, 5));
    qjson_add_int_text(p, "current", qrows_get(j, i, 6));
    qjson_add_int_text(p, "total", qrows_get(j, i, 7));
    qjson_add_int_text(x, "attempts", qrows_get(j, i, 8));
    qjson_add_int_text(x, "max_attempts", qrows_get(j, i, 9));
    qjson_add_str_or_null(x, "error", qrows_get(j, i, 10));
    if (with_result)
        qjson_add_raw(x, "result", qrows_get(j, i, 11));
    cJSON_AddBoolToObject(x, "cancel_requested", qrows_i64(j, i, 15, 0) != 0);
    qjson_add_str_or_null(x, "audiobook_id", qrows_get(j, i, 16));
    qjson_add_time(x, "created_at", qrows_get(j, i, 12));
    qjson_add_time(x, "started_at", qrows_get(j, i, 13));
    qjson_add_time(x, "finished_at", qrows_get(j, i, 14));
    return x;
}

/* The attempt history of job id: rows of `at` (job_id first) for it. */
static void add_history(cJSON *o, const qrows *j, int row, const qrows *at, const char *id)
{
    cJSON *hist = cJSON_AddArrayToObject(o, "attempt_history");
    int64_t last = 0;
    for (int i = 0; at && i < at->nrows; i++) {
        if (strcmp(qrows_get(at, i, 0), id) != 0)
            continue;
        cJSON *x = cJSON_CreateObject();
        qjson_add_int_text(x, "attempt", qrows_get(at, i, 1));
        qjson_add_str_or_null(x, "worker_id", qrows_get(at, i, 2));
        cJSON_AddStringToObject(x, "outcome", qrows_get(at, i, 5));
        qjson_add_str_or_null(x, "error", qrows_get(at, i, 6));
        qjson_add_time(x, "started_at", qrows_get(at, i, 3));
        qjson_add_time(x, "finished_at", qrows_get(at, i, 4));
        cJSON_AddItemToArray(hist, x);
        last = qrows_i64(at, i, 1, 0);
    }
    /* the queue records attempts that ended otherwise than completed; the
     * current or completed attempt is the job row itself */
    const char *st = qrows_get(j, row, 2);
    int64_t n = qrows_i64(j, row, 8, 0);
    if (n > 0 && last < n && (!strcmp(st, "running") || !strcmp(st, "completed"))) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "attempt", (double)n);
        qjson_add_str_or_null(x, "worker_id", qrows_get(j, row, 17));
        cJSON_AddStringToObject(x, "outcome", st);
        cJSON_AddNullToObject(x, "error");
        qjson_add_time(x, "started_at", qrows_get(j, row, 13));
        qjson_add_time(x, "finished_at", qrows_get(j, row, 14));
        cJSON_AddItemToArray(hist, x);
    }
}

/* Reads of single jobs coalesce. Progress bars poll GET /api/v1/jobs/{id},
 * so under load many threads want one row each at the same moment: while
 * one thread's query is at the database the others queue, and the next
 * query reads every queued id at once (up to JR_BATCH). Nobody waits for a
 * batch to fill: a lone request is read at once, by itself. Each read still
 * starts after its request arrived, so a client sees its own writes. The
 * thread that runs a batch renders every job of it; each waiter then owns
 * its object. */
#define JR_BATCH 16
#define JR_IDS "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
#define JR_TYPES "iiiiiiiiiiiiiiii"

typedef struct jr_wait {
    int64_t id;
    cJSON *obj;                  /* the job; NULL when there is none   */
    int64_t owner;
    qerr e;
    char msg[sizeof(qerrctx){0}.msg];
    int done;
    pthread_cond_t cv;           /* its thread waits here, woken alone */
    struct jr_wait *next;
} jr_wait;

static pthread_mutex_t jr_mu = PTHREAD_MUTEX_INITIALIZER;
static jr_wait *jr_head, **jr_tail = &jr_head;
static int jr_busy;

#define JR_SELECT "SELECT " JOB_COLS_OWN ", (SELECT a.public_id FROM audiobooks a WHERE a.id = j.audiobook_id)," \
                  " j.worker_id, j.owner_id FROM jobs j WHERE j.id "
#define JR_ATTEMPTS "SELECT job_id, attempt, worker_id, started_at, finished_at, outcome, error FROM job_attempts" \
                    " WHERE job_id "

/* One query for the batch's jobs, one for the attempts of those that ran. */
static qerr jr_query(qreq *r, jr_wait **b, int n, qrows **j, qrows **at)
{
    int64_t v[JR_BATCH];
    for (int i = 0; i < JR_BATCH; i++)
        v[i] = b[i < n ? i : 0]->id;        /* a short batch repeats its first id */
    qerr e = n == 1 ? qdb_query(r->db, r->arena, j, &r->err, JR_SELECT "= ?", "i", v[0])
                    : qdb_query(r->db, r->arena, j, &r->err, JR_SELECT "IN (" JR_IDS ")", JR_TYPES, v[0], v[1],
                                v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14],
                                v[15]);
    *at = NULL;
    if (e)
        return e;
    int ran = 0;
    for (int i = 0; i < (*j)->nrows; i++)
        ran += qrows_i64(*j, i, 8, 0) > 0;
    if (!ran)                               /* no second query for jobs never run */
        return Q_OK;
    return n == 1 ? qdb_query(r->db, r->arena, at, &r->err, JR_ATTEMPTS "= ? ORDER BY attempt, id", "i", v[0])
                  : qdb_query(r->db, r->arena, at, &r->err, JR_ATTEMPTS "IN (" JR_IDS ") ORDER BY job_id, attempt, id",
                              JR_TYPES, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11],
                              v[12], v[13], v[14], v[15]);
}

/* Runs one batch from the queue; called and returns with jr_mu held. */
static void jr_lead(qreq *r)
{
    jr_wait *b[JR_BATCH];
    int n = 0;
    while (jr_head && n < JR_BATCH) {
        b[n++] = jr_head;
        jr_head = jr_head->next;
    }
    if (!jr_head)
        jr_tail = &jr_head;
    jr_busy = 1;
    pthread_mutex_unlock(&jr_mu);
    qrows *j, *at;
    qerr e = jr_query(r, b, n, &j, &at);
    pthread_mutex_lock(&jr_mu);
    jr_busy = 0;                            /* the next batch may go to the database: */
    if (jr_head)                            /* the first in the queue takes it */
        pthread_cond_signal(&jr_head->cv);
    pthread_mutex_unlock(&jr_mu);
    for (int k = 0; k < n; k++) {
        b[k]->e = e;
        if (e) {
            snprintf(b[k]->msg, sizeof b[k]->msg, "%s", r->err.msg);
            continue;
        }
        char id[24];
        snprintf(id, sizeof id, "%lld", (long long)b[k]->id);
        for (int i = 0; i < j->nrows; i++)
            if (!strcmp(qrows_get(j, i, 0), id)) {
                b[k]->obj = job_json(j, i, 1);
                b[k]->owner = qrows_i64(j, i, 18, 0);
                add_history(b[k]->obj, j, i, at, id);
                break;
            }
    }
    pthread_mutex_lock(&jr_mu);
    for (int k = 0; k < n; k++) {
        b[k]->done = 1;
        pthread_cond_signal(&b[k]->cv);
    }
}

/* The job as GET /api/v1/jobs/{id} shows it, with its attempts. */
static qerr job_render(qreq *r, int64_t id, cJSON **out)
{
    jr_wait w = {.id = id};
    pthread_cond_init(&w.cv, NULL);
    pthread_mutex_lock(&jr_mu);
    *jr_tail = &w;
    jr_tail = &w.next;
    while (!w.done) {
        /* an empty queue with w not done: w's batch is being rendered */
        if (!jr_busy && jr_head)
            jr_lead(r);
        else
            pthread_cond_wait(&w.cv, &jr_mu);
    }
    pthread_mutex_unlock(&jr_mu);
    pthread_cond_destroy(&w.cv);
    if (w.e)
        return api_fail(r, w.e, "%s", w.msg);
    if (w.obj)
        qjson_own(r->arena, w.obj);
    if (!w.obj || (!api_is_admin(r) && w.owner != r->user.id))
        return api_fail(r, Q_ERR_NOT_FOUND, "no job %lld", (long long)id);
    *out = w.obj;
    return Q_OK;
}

qerr h_job_get(qreq *r)
{
    int64_t id;
    cJSON *o;
    qerr e = api_param_id(r, 0, &id);
    if (e || (e = api_need_db(r)) || (e = job_render(r, id, &o)))
        return e;
    return api_reply_json(r, 200, o, NULL);
}

qerr h_job_list(qreq *r)
{
    int64_t page, per;
    qerr e = api_need_db(r);
    if (e || (e = api_paging(r, &page, &per)))
        return e;
    const char *status = api_query(r, "status"), *type = api_query(r, "type");
    static const char *const states[] = {"waiting", "pending", "running", "completed", "failed", "cancelled"};
    if (status && *status) {
        int ok = 0;
        for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
            ok |= !strcmp(status, states[i]);
        if (!ok)
            return api_fail(r, Q_ERR_UNPROCESSABLE,
                            "status must be one of waiting, pending, running, completed, failed, cancelled");
    }
    if (type && *type && !qqueue_type_ok(type))
        return api_fail(r, Q_ERR_UNPROCESSABLE, "type is not a job type name");
    status = status ? status : "";
    type = type ? type : "";
    int64_t admin = api_is_admin(r);
    qrows *rows, *cnt;
    if ((e = qdb_query(r->db, r->arena, &rows, &r->err,
                       "SELECT " JOB_COLS " FROM jobs j LEFT JOIN audiobooks a ON a.id = j.audiobook_id"
                       " WHERE (j.owner_id = ? OR ? = 1) AND (? = '' OR j.status = ?) AND (? = '' OR j.type = ?)"
                       " ORDER BY j.id DESC LIMIT ? OFFSET ?", "iissssii", r->user.id, admin, status, status, type,
                       type, per, (page - 1) * per)) ||
        (e = qdb_query(r->db, r->arena, &cnt, &r->err,
                       "SELECT COUNT(*) FROM jobs j WHERE (j.owner_id = ? OR ? = 1) AND (? = '' OR j.status = ?)"
                       " AND (? = '' OR j.type = ?)", "iissss", r->user.id, admin, status, status, type, type)))
        return e;
    cJSON *o = api_obj(r);
    cJSON *arr = cJSON_AddArrayToObject(o, "jobs");
    for (int i = 0; i < rows->nrows; i++)
        cJSON_AddItemToArray(arr, job_json(rows, i, 0));
    cJSON_AddNumberToObject(o, "page", (double)page);
    cJSON_AddNumberToObject(o, "per_page", (double)per);
    cJSON_AddNumberToObject(o, "total", (double)qrows_i64(cnt, 0, 0, 0));
    return api_reply_json(r, 200, o, NULL);
}

qerr h_job_cancel(qreq *r)
{
    int64_t id;
    int running = 0;
    cJSON *o;
    qerr e = api_param_id(r, 0, &id);
    if (e || (e = api_need_db(r)))
        return e;
    e = qqueue_cancel(r->db, id, api_is_admin(r) ? 0 : r->user.id, &running, &r->err);
    if (e || (e = job_render(r, id, &o)))
        return e;
    cJSON_AddStringToObject(o, "message", running ? "Cancellation requested; the worker stops at its next checkpoint"
                                                  : "Job cancelled");
    return api_reply_json(r, running ? 202 : 200, o, NULL);
}

qerr h_job_retry(qreq *r)
{
    int64_t id;
    cJSON *o;
    qerr e = api_param_id(r, 0, &id);
    if (e || (e = api_need_db(r)) ||
        (e = qqueue_retry(r->db, id, api_is_admin(r) ? 0 : r->user.id, &r->err)) || (e = job_render(r, id, &o)))
        return e;
    cJSON_AddStringToObject(o, "message", "Job queued again");
    return api_reply_json(r, 200, o, NULL);
}

/* {"status": "progress"|"processing"|"completed"|"failed", "token": the
 * attempt token, "progress": 0..100 (or "percent"), "message", "result": any
 * JSON, "error": text}. */
qerr job_report_decode(qreq *r, const cJSON *in, job_report_in *out)
{
    qerr e;
    const char *status = NULL, *token = NULL, *message = NULL, *error = NULL;
    double percent = 0;
    if ((e = qjson_str(in, "status", 1, 16, &status, &r->err)) ||
        (e = qjson_str(in, "token", 0, 64, &token, &r->err)) ||
        (e = qjson_str(in, "attempt_token", 0, 64, &token, &r->err)) ||
        (e = qjson_str(in, "message", 0, 255, &message, &r->err)) ||
        (e = qjson_str(in, "error", 0, 4000, &error, &r->err)) ||
        (e = qjson_num(in, "progress", 0, 0, 100, &percent, &r->err)) ||
        (e = qjson_num(in, "percent", 0, 0, 100, &percent, &r->err)))
        return e;
    if (!token)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'token' (the attempt token given at claim) is required");
    if (!strcmp(status, "processing") || !strcmp(status, "running"))
        status = "progress";
    if (strcmp(status, "progress") && strcmp(status, "completed") && strcmp(status, "failed"))
        return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'status' must be progress, completed or failed");
    if (!strcmp(status, "failed") && !error)
        error = "failed (no error given)";
    char *result = NULL;
    cJSON *res = cJSON_GetObjectItemCaseSensitive(in, "result");
    if (res && !cJSON_IsNull(res)) {
        char *s = cJSON_PrintUnformatted(res);
        if (!s)
            return api_fail(r, Q_ERR_NOMEM, "out of memory");
        result = qarena_strdup(r->arena, s);
        cJSON_free(s);
    }
    *out = (job_report_in){status, token, message, error, percent, result};
    return Q_OK;
}

qerr h_job_report(qreq *r)
{
    int64_t id;
    cJSON *body;
    job_report_in in;
    qerr e = api_param_id(r, 0, &id);
    if (e || (e = api_need_db(r)) || (e = api_json_body(r, &body)) || (e = job_report_decode(r, body, &in)))
        return e;
    const char *status = in.status, *token = in.token, *message = in.message, *error = in.error;
    double percent = in.percent;
    char *result = in.result;
    if ((e = qqueue_report(r->db, id, token, status, percent, message, result, error, &r->err)))
        return e;
    qrows *j;
    if ((e = qdb_query(r->db, r->arena, &j, &r->err, "SELECT status, progress_percent, cancel_requested FROM jobs"
                       " WHERE id = ?", "i", id)))
        return e;
    cJSON *o = api_obj(r);
    cJSON_AddStringToObject(o, "id", r->params[0]);
    cJSON_AddStringToObject(o, "status", j->nrows ? qrows_get(j, 0, 0) : "unknown");
    cJSON_AddNumberToObject(o, "progress", j->nrows ? qrows_double(j, 0, 1, 0) : 0);
    cJSON_AddBoolToObject(o, "cancel_requested", j->nrows && qrows_i64(j, 0, 2, 0));
    cJSON_AddStringToObject(o, "message", "Status recorded");
    return api_reply_json(r, 200, o, NULL);
}
