/* admin.c - the queue as admins watch it: GET /api/v1/admin/queue/stats
 * (jobs per type and status, throughput, average run and wait times) and
 * GET /api/v1/admin/workers (the workers table). Read-only SELECTs. */
#include "api.h"

#include <stdlib.h>
#include <string.h>

static const char *const STATES[] = {"waiting", "pending", "running", "completed", "failed", "cancelled"};
#define NSTATES 6

static cJSON *type_entry(cJSON *by_type, const char *type)
{
    cJSON *t = cJSON_GetObjectItemCaseSensitive(by_type, type);
    if (!t) {
        t = cJSON_AddObjectToObject(by_type, type);
        for (int i = 0; i < NSTATES; i++)
            cJSON_AddNumberToObject(t, STATES[i], 0);
    }
    return t;
}

qerr h_admin_queue_stats(qreq *r)
{
    qrows *c, *tp, *avg;
    qerr e;
    if ((e = qdb_query(r->db, r->arena, &c, &r->err,
                       "SELECT type, status, COUNT(*) FROM jobs GROUP BY type, status ORDER BY type", "")) ||
        (e = qdb_query(r->db, r->arena, &tp, &r->err,
                       "SELECT COALESCE(SUM(status = 'completed' AND finished_at > NOW(3) - INTERVAL 1 MINUTE), 0),"
                       " COALESCE(SUM(status = 'completed'), 0), COALESCE(SUM(status = 'failed'), 0),"
                       " COALESCE(SUM(status = 'cancelled'), 0)"
                       " FROM jobs WHERE finished_at > NOW(3) - INTERVAL 1 HOUR", "")) ||
        (e = qdb_query(r->db, r->arena, &avg, &r->err,
                       "SELECT type, COUNT(*), AVG(TIMESTAMPDIFF(MICROSECOND, started_at, finished_at)) / 1e6,"
                       " AVG(TIMESTAMPDIFF(MICROSECOND, created_at, started_at)) / 1e6"
                       " FROM jobs WHERE status = 'completed' AND finished_at > NOW(3) - INTERVAL 24 HOUR"
                       " AND started_at IS NOT NULL GROUP BY type ORDER BY type", "")))
        return e;
    cJSON *o = api_obj(r);
    cJSON *by_type = cJSON_AddObjectToObject(o, "by_type");
    cJSON *totals = cJSON_AddObjectToObject(o, "totals");
    for (int i = 0; i < NSTATES; i++)
        cJSON_AddNumberToObject(totals, STATES[i], 0);
    double all = 0;
    for (int i = 0; i < c->nrows; i++) {
        const char *st = qrows_get(c, i, 1);
        double n = (double)qrows_i64(c, i, 2, 0);
        cJSON *t = type_entry(by_type, qrows_get(c, i, 0));
        cJSON *v = cJSON_GetObjectItemCaseSensitive(t, st);
        if (v)
            cJSON_SetNumberValue(v, n);
        cJSON *tv = cJSON_GetObjectItemCaseSensitive(totals, st);
        if (tv)
            cJSON_SetNumberValue(tv, tv->valuedouble + n);
        all += n;
    }
    cJSON_AddNumberToObject(totals, "all", all);
    cJSON *th = cJSON_AddObjectToObject(o, "throughput");
    cJSON_AddNumberToObject(th, "completed_last_minute", (double)qrows_i64(tp, 0, 0, 0));
    cJSON_AddNumberToObject(th, "completed_last_hour", (double)qrows_i64(tp, 0, 1, 0));
    cJSON_AddNumberToObject(th, "failed_last_hour", (double)qrows_i64(tp, 0, 2, 0));
    cJSON_AddNumberToObject(th, "cancelled_last_hour", (double)qrows_i64(tp, 0, 3, 0));
    cJSON_AddNumberToObject(th, "per_minute_last_hour", (double)qrows_i64(tp, 0, 1, 0) / 60.0);
    cJSON *rt = cJSON_AddObjectToObject(o, "run_time_last_24h");
    for (int i = 0; i < avg->nrows; i++) {
        cJSON *x = cJSON_AddObjectToObject(rt, qrows_get(avg, i, 0));
        cJSON_AddNumberToObject(x, "completed", (double)qrows_i64(avg, i, 1, 0));
        cJSON_AddNumberToObject(x, "avg_run_seconds", qrows_double(avg, i, 2, 0));
        cJSON_AddNumberToObject(x, "avg_wait_seconds", qrows_double(avg, i, 3, 0));
    }
    return api_reply_json(r, 200, o, NULL);
}

qerr h_admin_workers(qreq *r)
{
    qrows *w;
    qerr e = qdb_query(r->db, r->arena, &w, &r->err,
                       "SELECT id, hostname, types, gpu, capabilities, status, concurrency, current_jobs,"
                       " jobs_completed, jobs_failed, last_heartbeat, stats, started_at,"
                       " last_heartbeat > NOW(3) - INTERVAL 60 SECOND"
                       " FROM workers ORDER BY status = 'offline', id", "");
    if (e)
        return e;
    cJSON *o = api_obj(r);
    cJSON *arr = cJSON_AddArrayToObject(o, "workers");
    int online = 0;
    for (int i = 0; i < w->nrows; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "id", qrows_get(w, i, 0));
        cJSON_AddStringToObject(x, "hostname", qrows_get(w, i, 1));
        cJSON *types = cJSON_AddArrayToObject(x, "types");
        char *tl = qarena_strdup(r->arena, qrows_get(w, i, 2));
        for (char *save = NULL, *t = tl ? strtok_r(tl, ", ", &save) : NULL; t; t = strtok_r(NULL, ", ", &save))
            cJSON_AddItemToArray(types, cJSON_CreateString(t));
        cJSON_AddStringToObject(x, "gpu", qrows_get(w, i, 3));
        qjson_add_raw(x, "capabilities", qrows_get(w, i, 4));
        const char *st = qrows_get(w, i, 5);
        int alive = qrows_i64(w, i, 13, 0) != 0;
        cJSON_AddStringToObject(x, "status", st);
        cJSON_AddBoolToObject(x, "alive", alive && strcmp(st, "offline") != 0);
        online += alive && strcmp(st, "offline") != 0;
        qjson_add_int_text(x, "concurrency", qrows_get(w, i, 6));
        qjson_add_int_text(x, "current_jobs", qrows_get(w, i, 7));
        qjson_add_int_text(x, "jobs_completed", qrows_get(w, i, 8));
        qjson_add_int_text(x, "jobs_failed", qrows_get(w, i, 9));
        qjson_add_raw(x, "stats", qrows_get(w, i, 11));
        qjson_add_time(x, "last_heartbeat", qrows_get(w, i, 10));
        qjson_add_time(x, "started_at", qrows_get(w, i, 12));
        cJSON_AddItemToArray(arr, x);
    }
    cJSON_AddNumberToObject(o, "total", w->nrows);
    cJSON_AddNumberToObject(o, "online", online);
    return api_reply_json(r, 200, o, NULL);
}
