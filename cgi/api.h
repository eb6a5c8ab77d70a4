/* api.h - quire-api's umbrella header: the request context every handler
 * gets, the reply functions, the router, and the handlers' declarations. */
#ifndef QUIRE_API_H
#define QUIRE_API_H

#include <fcgiapp.h>
#include <stdint.h>

#include "accounts.h"   /* users, tokens, roles                */
#include "arena.h"      /* the per-request arena               */
#include "config.h"     /* QUIRE_* settings                    */
#include "db.h"         /* this thread's MariaDB connection    */
#include "err.h"        /* the error enum, carried to api_fail */
#include "json.h"       /* cJSON helpers                       */
#include "log.h"        /* one line per event                  */

#define API_MAX_PARAMS 6
#define API_VERSION "0.1.0"

/* Everything a handler needs; lives for one request. Memory from r->arena
 * is freed when the reply is sent, with the cleanups registered on it. */
typedef struct qreq {
    FCGX_Request *fcgi;
    qarena *arena;
    qdb *db;                     /* NULL when the database is unreachable    */
    const char *method;
    const char *path;            /* without the query string, canonical form */
    const char *query;           /* "" when none                             */
    const char *params[API_MAX_PARAMS];  /* {placeholders} of the route      */
    int nparams;
    const char *route;           /* the matched pattern, for metrics         */
    char request_id[17];
    quser user;                  /* valid when authed                        */
    int authed;
    int status;                  /* status sent, for the access log          */
    int replied;
    qerrctx err;
} qreq;

typedef qerr (*qhandler)(qreq *r);

/* Access rules of a route. */
enum { AUTH_NONE = 0, AUTH_USER, AUTH_ADMIN, AUTH_WORKER };

typedef struct qroute {
    const char *method;
    const char *pattern;         /* "/api/v1/jobs/{id}"                      */
    qhandler fn;
    int auth;
} qroute;

/* http.c: the request's parts and the replies. */
const char *api_param(qreq *r, const char *name);           /* FastCGI param */
const char *api_header(qreq *r, const char *name);          /* "Content-Type" */
/* A query string value (decoded, arena-owned), or NULL. */
const char *api_query(qreq *r, const char *name);
/* Reads the whole body (from stdin or nginx's body file) up to max bytes:
 * Q_ERR_TOO_LARGE beyond. The buffer is arena-owned and NUL-terminated. */
qerr api_body(qreq *r, size_t max, char **buf, size_t *len);
/* Parses the body as a JSON object (size limit QUIRE_MAX_JSON_BYTES). */
qerr api_json_body(qreq *r, cJSON **out);
/* Sends status with a JSON body (the tree is not freed: it is the caller's
 * or the arena's). extra_headers: NULL or "Name: value\r\n" lines. */
qerr api_reply_json(qreq *r, int status, const cJSON *body, const char *extra_headers);
/* A new object owned by the request's arena. */
cJSON *api_obj(qreq *r);
/* Sends a body of given content type. */
qerr api_reply_raw(qreq *r, int status, const char *ctype, const void *body, size_t len, const char *extra_headers);
/* The one exit for errors: {"error": {"code", "message", "request_id"}}. */
void api_reply_error(qreq *r, qerr code, const char *message);
/* Records the error on r and returns code (for `return api_fail(r, ...)`). */
qerr api_fail(qreq *r, qerr code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A path parameter as a positive integer id; 404 when it is not one. */
qerr api_param_id(qreq *r, int i, int64_t *id);
/* Requires the database; 503 when this thread has none. */
qerr api_need_db(qreq *r);

/* main.c: non-zero once SIGTERM arrived (long polls end early). */
int api_stopping(void);

/* router.c */
extern const qroute api_routes[];
extern const int api_nroutes;
void api_dispatch(qreq *r);

/* auth.c */
qerr api_authenticate(qreq *r);

/* Handlers, one file per resource. */
qerr h_health(qreq *r);
qerr h_ping(qreq *r);
qerr h_audiobook_transcript(qreq *r);     /* transcripts.c */
qerr h_search(qreq *r);                   /* search.c */

#endif
