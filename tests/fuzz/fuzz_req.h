/* fuzz_req.h - a quire-api request without nginx or a database, for the
 * libFuzzer targets that drive cgi/ code: an arena, no db (r->db NULL: a
 * handler path that reaches SQL would fail with 503, never crash) and a
 * FastCGI parameter list the target fills (api_param/api_header read it).
 * Header-only: each target is one translation unit. */
#ifndef QUIRE_FUZZ_REQ_H
#define QUIRE_FUZZ_REQ_H

#include <stdlib.h>
#include <string.h>

#include "api.h"

#define FUZZ_REQ_ENV 16

typedef struct fuzz_req {
    qreq r;
    FCGX_Request fcgi;
    char *env[FUZZ_REQ_ENV + 1];     /* "NAME=value", NULL-terminated; arena-owned */
    int nenv;
} fuzz_req;

static inline void fuzz_req_init(fuzz_req *f)
{
    memset(f, 0, sizeof *f);
    f->r.arena = qarena_new();
    if (!f->r.arena)
        abort();
    f->fcgi.envp = f->env;
    f->r.fcgi = &f->fcgi;
    f->r.method = "GET";
    f->r.path = "/";
    f->r.query = "";
    memcpy(f->r.request_id, "fuzz", 5);
}

/* Adds the FastCGI parameter name=value (value NUL-terminated). */
static inline void fuzz_req_param(fuzz_req *f, const char *name, const char *value)
{
    if (f->nenv < FUZZ_REQ_ENV)
        f->env[f->nenv++] = qarena_printf(f->r.arena, "%s=%s", name, value);
}

static inline void fuzz_req_free(fuzz_req *f)
{
    qarena_free(f->r.arena);
}

/* The next '\n'-terminated field of [*p, end) as a NUL-terminated copy on
 * the arena (cut at an embedded NUL, as FastCGI parameters are); "" at
 * the end. */
static inline char *fuzz_field(fuzz_req *f, const char **p, const char *end)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *fe = nl ? nl : end;
    char *s = qarena_strndup(f->r.arena, *p, (size_t)(fe - *p));
    *p = nl ? nl + 1 : end;
    return s ? s : (char *)"";
}

#endif
