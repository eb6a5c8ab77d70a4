/* router.c - the route table (every endpoint of quire-api is listed here and
 * in docs/openapi.yaml) and dispatch: match, authenticate, run, and the one
 * place where a handler's error becomes the JSON error reply. */
#include "api.h"

#include <string.h>

const qroute api_routes[] = {
    {"GET", "/api/v1/health", h_health, AUTH_NONE},
    {"GET", "/api/v1/ping", h_ping, AUTH_NONE},
    {"GET", "/api/v1/me", h_me, AUTH_USER},

    /* uploads (also under /api/v1/admin/uploads, see canonical_path) */
    {"POST", "/api/v1/uploads", h_upload_create, AUTH_USER},
    {"GET", "/api/v1/uploads", h_upload_list, AUTH_USER},
    {"GET", "/api/v1/uploads/{id}", h_upload_get, AUTH_USER},
    {"DELETE", "/api/v1/uploads/{id}", h_upload_delete, AUTH_USER},
    {"POST", "/api/v1/uploads/{id}/files", h_upload_file, AUTH_USER},
    {"GET", "/api/v1/uploads/{id}/progress", h_upload_progress, AUTH_USER},
    /* tus 1.0.0 */
    {"OPTIONS", "/api/v1/uploads/{id}/tus", h_tus_options, AUTH_NONE},
    {"POST", "/api/v1/uploads/{id}/tus", h_tus_create, AUTH_USER},
    {"OPTIONS", "/api/v1/uploads/{id}/tus/{slot}", h_tus_options, AUTH_NONE},
    {"HEAD", "/api/v1/uploads/{id}/tus/{slot}", h_tus_head, AUTH_USER},
    {"PATCH", "/api/v1/uploads/{id}/tus/{slot}", h_tus_patch, AUTH_USER},
    {"DELETE", "/api/v1/uploads/{id}/tus/{slot}", h_tus_delete, AUTH_USER},

    /* audiobooks (also under /api/v1/admin/audiobooks) */
    {"POST", "/api/v1/audiobooks", h_audiobook_create, AUTH_USER},
    {"GET", "/api/v1/audiobooks", h_audiobook_list, AUTH_USER},
    {"GET", "/api/v1/audiobooks/{id}", h_audiobook_get, AUTH_USER},
    {"PUT", "/api/v1/audiobooks/{id}", h_audiobook_update, AUTH_USER},
    {"DELETE", "/api/v1/audiobooks/{id}", h_audiobook_delete, AUTH_USER},
    {"GET", "/api/v1/audiobooks/{id}/jobs", h_audiobook_jobs, AUTH_USER},

    /* jobs */
    {"GET", "/api/v1/jobs", h_job_list, AUTH_USER},
    {"GET", "/api/v1/jobs/{id}", h_job_get, AUTH_USER},
    {"DELETE", "/api/v1/jobs/{id}", h_job_cancel, AUTH_USER},
    {"POST", "/api/v1/jobs/{id}/retry", h_job_retry, AUTH_USER},

    /* admin */
    {"GET", "/api/v1/admin/users", h_admin_users, AUTH_ADMIN},
    {"POST", "/api/v1/admin/users", h_admin_user_create, AUTH_ADMIN},
    {"GET", "/api/v1/admin/users/{id}/tokens", h_admin_user_tokens, AUTH_ADMIN},
    {"POST", "/api/v1/admin/users/{id}/tokens", h_admin_token_create, AUTH_ADMIN},
    {"DELETE", "/api/v1/admin/tokens/{id}", h_admin_token_revoke, AUTH_ADMIN},
    {"GET", "/api/v1/admin/queue/stats", h_admin_queue_stats, AUTH_ADMIN},
    {"GET", "/api/v1/admin/workers", h_admin_workers, AUTH_ADMIN},
    {"POST", "/api/v1/admin/jobs/{id}/status", h_job_report, AUTH_WORKER},
    /* transcripts and search (issues 6, 7) */
    {"GET", "/api/v1/audiobooks/{id}/transcript", h_audiobook_transcript, AUTH_USER},
    {"GET", "/api/v1/audiobooks/{id}/chapters/{n}/audio", h_audiobook_chapter_audio, AUTH_USER},
    {"GET", "/api/v1/search", h_search, AUTH_USER},
    {"POST", "/api/v1/summarize", h_summarize, AUTH_USER},

    /* remote workers, TTS, metrics (issue 5) */
    {"POST", "/api/v1/queue/{type}/jobs", h_rq_create, AUTH_WORKER},
    {"GET", "/api/v1/queue/{type}/jobs", h_rq_list, AUTH_WORKER},
    {"POST", "/api/v1/queue/{type}/claim", h_rq_claim, AUTH_WORKER},
    {"GET", "/api/v1/queue/{type}/stats", h_rq_stats, AUTH_WORKER},
    {"POST", "/api/v1/queue/{type}/jobs/{id}/complete", h_rq_complete, AUTH_WORKER},
    {"POST", "/api/v1/queue/{type}/jobs/{id}/fail", h_rq_fail, AUTH_WORKER},
    {"POST", "/api/v1/queue/{type}/jobs/{id}/progress", h_rq_progress, AUTH_WORKER},
    {"POST", "/api/v1/queue/{type}/jobs/{id}/heartbeat", h_rq_heartbeat, AUTH_WORKER},
    {"GET", "/api/v1/queue/{type}/jobs/{id}/blobs/{name}", h_blob_get, AUTH_WORKER},
    {"PUT", "/api/v1/queue/{type}/jobs/{id}/blobs/{name}", h_blob_put, AUTH_WORKER},
    {"POST", "/api/v1/counter/increment/{name}", h_rq_counter, AUTH_WORKER},
    {"POST", "/api/v1/workers/{type}/heartbeat", h_rq_worker_heartbeat, AUTH_WORKER},
    {"GET", "/api/v1/workers/{type}", h_rq_workers, AUTH_WORKER},
    {"POST", "/api/v1/tts/queue", h_tts_create, AUTH_USER},
    {"GET", "/api/v1/tts/queue", h_tts_list, AUTH_USER},
    {"GET", "/api/v1/tts/queue/{job_id}", h_tts_get, AUTH_USER},
    {"DELETE", "/api/v1/tts/queue/{job_id}", h_tts_cancel, AUTH_USER},
    {"GET", "/api/v1/tts/queue/{job_id}/audio", h_tts_audio, AUTH_USER},
    {"GET", "/api/v1/tts/queue/{job_id}/chapters/{n}/audio", h_tts_chapter_audio, AUTH_USER},
    {"GET", "/api/v1/voices", h_voices, AUTH_USER},
    {"GET", "/api/v1/notifications", h_notifications, AUTH_USER},
    {"GET", "/metrics", h_metrics, AUTH_NONE},
};
const int api_nroutes = (int)(sizeof api_routes / sizeof api_routes[0]);

/* Matches path against pattern, filling r->params; 1 on a match. */
static int route_match(qreq *r, const char *pattern, const char *path)
{
    const char *p = pattern, *s = path;
    int np = 0;
    const char *params[API_MAX_PARAMS];
    while (*p && *s) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *se = strchr(s, '/');
            size_t len = se ? (size_t)(se - s) : strlen(s);
            if (!pe || len == 0 || np == API_MAX_PARAMS)
                return 0;
            params[np++] = qarena_strndup(r->arena, s, len);
            p = pe + 1;
            s += len;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    if (*p || *s)
        return 0;
    memcpy(r->params, params, sizeof params[0] * np);
    r->nparams = np;
    return 1;
}

/* The systems quire replaces put uploads and audiobooks under
 * /api/v1/admin/ for every caller: those paths are aliases. */
static const char *canonical_path(qreq *r, const char *path)
{
    static const char pre[] = "/api/v1/admin/";
    if (!strncmp(path, pre, sizeof pre - 1)) {
        const char *rest = path + sizeof pre - 1;
        if (!strncmp(rest, "uploads", 7) || !strncmp(rest, "audiobooks", 10))
            return qarena_printf(r->arena, "/api/v1/%s", rest);
    }
    return path;
}

const qroute *api_route_find(qreq *r, int *path_known)
{
    *path_known = 0;
    r->path = canonical_path(r, r->path);
    size_t plen = strlen(r->path);
    if (plen > 1 && r->path[plen - 1] == '/')       /* "/api/v1/jobs/" == "/api/v1/jobs" */
        r->path = qarena_strndup(r->arena, r->path, plen - 1);
    for (int i = 0; i < api_nroutes; i++) {
        if (!route_match(r, api_routes[i].pattern, r->path))
            continue;
        *path_known = 1;
        if (!strcmp(api_routes[i].method, r->method) ||
            (!strcmp(r->method, "HEAD") && !strcmp(api_routes[i].method, "GET")))
            return &api_routes[i];
    }
    return NULL;
}

void api_dispatch(qreq *r)
{
    int path_known;
    const qroute *hit = api_route_find(r, &path_known);
    qerr e = Q_OK;
    if (!hit) {
        e = path_known ? api_fail(r, Q_ERR_METHOD, "%s is not allowed on %s", r->method, r->path)
                       : api_fail(r, Q_ERR_NOT_FOUND, "no endpoint %s", r->path);
    } else {
        r->route = hit->pattern;
        if (hit->auth != AUTH_NONE)
            e = api_authenticate(r);
        if (!e && hit->auth == AUTH_ADMIN && r->user.role != QROLE_ADMIN)
            e = api_fail(r, Q_ERR_FORBIDDEN, "this endpoint is for admins");
        if (!e && hit->auth == AUTH_WORKER && r->user.role != QROLE_ADMIN && r->user.role != QROLE_WORKER)
            e = api_fail(r, Q_ERR_FORBIDDEN, "this endpoint is for workers");
        if (!e && hit->auth == AUTH_USER && r->user.role == QROLE_WORKER)
            e = api_fail(r, Q_ERR_FORBIDDEN, "worker tokens may only use the queue endpoints");
        int replayed = 0;
        if (!e && hit->auth != AUTH_NONE)
            e = api_rate_limit(r);
        if (!e)
            e = api_idem_begin(r, &replayed);
        if (!e && !replayed)
            e = hit->fn(r);
    }
    if (e && !r->replied) {
        if (r->err.code == Q_OK)
            qerr_set(&r->err, e, "%s", qerr_code(e));
        api_reply_error(r, e, r->err.msg);
    } else if (!r->replied) {
        api_reply_error(r, Q_ERR_INTERNAL, "the handler sent no reply");
    }
    if (r->db && qdb_in_txn(r->db))        /* a handler that forgot: never leak a txn */
        qdb_rollback(r->db);
    api_idem_finish(r);
}
