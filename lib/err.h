/* err.h - quire's one error enum, and the context that carries an error to
 * the one place that reports it (the JSON reply in quire-api, the job's
 * last_error in quire-worker). Values are appended, never reordered. */
#ifndef QUIRE_ERR_H
#define QUIRE_ERR_H

#include <stdarg.h>

typedef enum {
    Q_OK = 0,
    Q_ERR_INVALID,        /* 400 malformed request: bad JSON, wrong types    */
    Q_ERR_UNAUTHORIZED,   /* 401 no token or a bad one                       */
    Q_ERR_FORBIDDEN,      /* 403 authenticated, not allowed                  */
    Q_ERR_NOT_FOUND,      /* 404 no such thing, or not the caller's          */
    Q_ERR_METHOD,         /* 405 method not allowed on this path             */
    Q_ERR_CONFLICT,       /* 409 state forbids it (wrong offset, not ready)  */
    Q_ERR_PRECONDITION,   /* 412 unsupported protocol version                */
    Q_ERR_TOO_LARGE,      /* 413 body or file over the configured limit      */
    Q_ERR_UNSUPPORTED,    /* 415 not a media type quire accepts              */
    Q_ERR_UNPROCESSABLE,  /* 422 well-formed but a field's value is wrong    */
    Q_ERR_RATE_LIMITED,   /* 429                                             */
    Q_ERR_NOMEM,          /* 500 allocation failed                           */
    Q_ERR_INTERNAL,       /* 500 a bug: an invariant did not hold            */
    Q_ERR_IO,             /* 500 file system (507 when the disk is full)     */
    Q_ERR_DB,             /* 503 database error                              */
    Q_ERR_DB_GONE,        /* 503 connection lost; retry the transaction      */
    Q_ERR_UNAVAILABLE,    /* 503 shutting down, dependency down              */
    Q_ERR_LEASE_LOST,     /* 409 fencing: the attempt token no longer holds  */
    Q_ERR_NO_SPACE,       /* 507 storage full                                */
    Q_ERR_CANCELLED,      /* job was cancelled at a checkpoint               */
    Q_ERR_TIMEOUT,        /* 504                                             */
    Q_ERR_CHECKSUM,       /* 460 bytes received differ from the given sha256 */
    Q__ERR_COUNT
} qerr;

/* Stable machine-readable code ("invalid_request", ...) and HTTP status. */
const char *qerr_code(qerr e);
int qerr_http_status(qerr e);
/* The code for a failed file operation's errno: a full disk or quota
 * (Q_ERR_NO_SPACE: 507, retryable for jobs) or any other I/O error. */
qerr qerr_of_errno(int e);

/* An error on its way out: the first error set wins, later ones are kept
 * out so the root cause is what the caller sees. */
typedef struct qerrctx {
    qerr code;
    char msg[512];
} qerrctx;

/* Record code and a printf-style message on ctx (if none is recorded yet);
 * returns code so callers can write `return qerr_set(ctx, ...)`. */
qerr qerr_set(qerrctx *ctx, qerr code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
qerr qerr_vset(qerrctx *ctx, qerr code, const char *fmt, va_list ap);
void qerr_clear(qerrctx *ctx);

#endif
