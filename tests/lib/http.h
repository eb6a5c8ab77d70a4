/* http.h - what integration tests use to reach the stack tests/run.sh
 * started: an HTTP client (libcurl) against $QUIRE_URL, environment and
 * shell helpers. */
#ifndef QUIRE_TEST_HTTP_H
#define QUIRE_TEST_HTTP_H

#include <cjson/cJSON.h>
#include <stddef.h>

typedef struct thttp {
    long status;
    char *body;             /* NUL-terminated                          */
    size_t len;
    cJSON *json;            /* parsed body, or NULL                    */
    char *headers;          /* raw response header lines               */
    double seconds;
} thttp;

/* One request. path is appended to $QUIRE_URL; token NULL sends none;
 * headers: NULL or lines "Name: value" separated by '\n'. Returns 0 when a
 * response arrived (any status), -1 on a transport error. Free with
 * thttp_free. */
int thttp_req(thttp *res, const char *method, const char *path, const char *token, const char *ctype,
              const void *body, size_t len, const char *headers);
/* JSON convenience: body is a JSON text or NULL. */
int thttp_json(thttp *res, const char *method, const char *path, const char *token, const char *json);
/* A response header's value (copied into a static per-thread buffer). */
const char *thttp_header(const thttp *res, const char *name);
void thttp_free(thttp *res);

/* String field of a JSON object path like "error.code", or NULL. */
const char *tjson_str(const cJSON *j, const char *path);
double tjson_num(const cJSON *j, const char *path, double dflt);

/* An environment variable the harness sets; aborts the test run when absent. */
const char *tenv(const char *name);
/* Runs a shell command (printf-style); returns its exit status. */
int tsh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runs a command and returns its first output line (malloc'd), or NULL. */
char *tsh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A new user with a token: returns the token (malloc'd). */
char *tuser_token(const char *name, const char *flags);

#endif
