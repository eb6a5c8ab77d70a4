/* router.c - the route table (every endpoint of quire-api is listed here and
 * in docs/openapi.yaml) and dispatch: match, authenticate, run, and the one
 * place where a handler's error becomes the JSON error reply. */
#include "api.h"

#include <string.h>

const qroute api_routes[] = {
    {"GET", "/api/v1/health", h_health, AUTH_NONE},
    {"GET", "/api/v1/ping", h_ping, AUTH_NONE},
    /* transcripts and search (issues 6, 7) */
    {"GET", "/api/v1/audiobooks/{id}/transcript", h_audiobook_transcript, AUTH_USER},
    {"GET", "/api/v1/search", h_search, AUTH_USER},
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

void api_dispatch(qreq *r)
{
    const qroute *hit = NULL;
    int path_known = 0;
    r->path = canonical_path(r, r->path);
    size_t plen = strlen(r->path);
    if (plen > 1 && r->path[plen - 1] == '/')       /* "/api/v1/jobs/" == "/api/v1/jobs" */
        r->path = qarena_strndup(r->arena, r->path, plen - 1);
    for (int i = 0; i < api_nroutes; i++) {
        if (!route_match(r, api_routes[i].pattern, r->path))
            continue;
        path_known = 1;
        if (!strcmp(api_routes[i].method, r->method) ||
            (!strcmp(r->method, "HEAD") && !strcmp(api_routes[i].method, "GET"))) {
            hit = &api_routes[i];
            break;
        }
    }
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
        if (!e)
            e = hit->fn(r);
    }
    if (e && !r->replied) {
        if (r->err.code == Q_OK)
            qerr_set(&r->err, e, "%s", qerr_code(e));
        api_reply_error(r, e, r->err.msg);
    } else if (!r->replied) {
        api_reply_error(r, Q_ERR_INTERNAL, "the handler sent no reply");
    }
}
