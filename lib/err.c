/* err.c - names and HTTP statuses of the error enum, the code for an errno; the error context. */
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct { const char *code; int status; } err_table[Q__ERR_COUNT] = {
    [Q_OK]                = {"ok", 200},
    [Q_ERR_INVALID]       = {"invalid_request", 400},
    [Q_ERR_UNAUTHORIZED]  = {"unauthorized", 401},
    [Q_ERR_FORBIDDEN]     = {"forbidden", 403},
    [Q_ERR_NOT_FOUND]     = {"not_found", 404},
    [Q_ERR_METHOD]        = {"method_not_allowed", 405},
    [Q_ERR_CONFLICT]      = {"conflict", 409},
    [Q_ERR_PRECONDITION]  = {"precondition_failed", 412},
    [Q_ERR_TOO_LARGE]     = {"payload_too_large", 413},
    [Q_ERR_UNSUPPORTED]   = {"unsupported_media_type", 415},
    [Q_ERR_UNPROCESSABLE] = {"validation_failed", 422},
    [Q_ERR_RATE_LIMITED]  = {"rate_limited", 429},
    [Q_ERR_NOMEM]         = {"out_of_memory", 500},
    [Q_ERR_INTERNAL]      = {"internal_error", 500},
    [Q_ERR_IO]            = {"io_error", 500},
    [Q_ERR_DB]            = {"database_error", 503},
    [Q_ERR_DB_GONE]       = {"database_unavailable", 503},
    [Q_ERR_UNAVAILABLE]   = {"unavailable", 503},
    [Q_ERR_LEASE_LOST]    = {"lease_lost", 409},
    [Q_ERR_NO_SPACE]      = {"insufficient_storage", 507},
    [Q_ERR_CANCELLED]     = {"cancelled", 409},
    [Q_ERR_TIMEOUT]       = {"timeout", 504},
    [Q_ERR_CHECKSUM]      = {"checksum_mismatch", 460},
};

const char *qerr_code(qerr e)
{
    if ((unsigned)e >= Q__ERR_COUNT || !err_table[e].code)
        return "internal_error";
    return err_table[e].code;
}

qerr qerr_of_errno(int e)
{
    return e == ENOSPC || e == EDQUOT ? Q_ERR_NO_SPACE : Q_ERR_IO;
}

int qerr_http_status(qerr e)
{
    if ((unsigned)e >= Q__ERR_COUNT || !err_table[e].status)
        return 500;
    return err_table[e].status;
}

qerr qerr_vset(qerrctx *ctx, qerr code, const char *fmt, va_list ap)
{
    if (!ctx || ctx->code != Q_OK)
        return code;
    ctx->code = code;
    vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
    return code;
}

qerr qerr_set(qerrctx *ctx, qerr code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    qerr_vset(ctx, code, fmt, ap);
    va_end(ap);
    return code;
}

void qerr_clear(qerrctx *ctx)
{
    ctx->code = Q_OK;
    ctx->msg[0] = '\0';
}
