/* health.c - GET /api/v1/health (no auth): database, schema, workers,
 * version; and GET /api/v1/ping, the trivial handler benchmarks compare to. */
#include "api.h"
#include "migrate.h"
#include "util.h"

qerr h_health(qreq *r)
{
    cJSON *o = api_obj(r);
    cJSON *db = cJSON_AddObjectToObject(o, "database");
    int ok = r->db && qdb_ping(r->db) == 0;
    cJSON_AddBoolToObject(db, "reachable", ok);
    cJSON_AddNumberToObject(db, "schema_version", ok ? qmigrate_version(r->db) : 0);
    cJSON *w = cJSON_AddObjectToObject(o, "workers");
    if (ok) {
        qrows *rows = NULL;
        qerrctx e = {0};
        if (qdb_query(r->db, r->arena, &rows, &e,
                      "SELECT COUNT(*) FROM workers WHERE status <> 'offline'"
                      " AND last_heartbeat > NOW(3) - INTERVAL 60 SECOND", "") == Q_OK)
            cJSON_AddNumberToObject(w, "online", (double)qrows_i64(rows, 0, 0, 0));
    }
    cJSON_AddStringToObject(o, "status", ok ? "ok" : "degraded");
    cJSON_AddStringToObject(o, "version", API_VERSION);
    return api_reply_json(r, ok ? 200 : 503, o, NULL);
}

/* ?sleep_ms=N (at most 3000) holds the request, so tests can prove that a
 * stopping quire-api finishes the requests it accepted. */
qerr h_ping(qreq *r)
{
    static const char body[] = "{\"pong\":true}";
    const char *s = api_query(r, "sleep_ms");
    int64_t ms;
    if (s && qparse_i64(s, 0, 3000, &ms) == 0)
        qsleep_ms(ms);
    return api_reply_raw(r, 200, "application/json", body, sizeof body - 1, NULL);
}
