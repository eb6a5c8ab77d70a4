/* json.h - helpers on cJSON for request decoding and reply building: typed
 * field access that records a precise error, and arena-owned trees. */
#ifndef QUIRE_JSON_H
#define QUIRE_JSON_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"

/* Parses len bytes; the tree is freed with the arena. Depth is capped at
 * QJSON_MAX_DEPTH. On failure returns Q_ERR_INVALID with a message. */
#define QJSON_MAX_DEPTH 64
/* 2^53: every whole number up to it is exact in a JSON number (a double)
 * and converts to int64_t without undefined behaviour. */
#define QJSON_MAX_EXACT_INT 9007199254740992.0
qerr qjson_parse(qarena *a, const char *buf, size_t len, cJSON **out, qerrctx *err);
/* Registers tree for cJSON_Delete when the arena goes; returns tree. */
cJSON *qjson_own(qarena *a, cJSON *tree);

/* Typed fields of an object. `required` fields that are missing give 422
 * naming the field; a field of the wrong type gives 422 too. A missing
 * optional field leaves *out untouched and returns Q_OK. */
qerr qjson_str(const cJSON *obj, const char *field, int required, size_t maxlen, const char **out, qerrctx *err);
qerr qjson_int(const cJSON *obj, const char *field, int required, int64_t lo, int64_t hi, int64_t *out, qerrctx *err);
qerr qjson_num(const cJSON *obj, const char *field, int required, double lo, double hi, double *out, qerrctx *err);
qerr qjson_bool(const cJSON *obj, const char *field, int required, int *out, qerrctx *err);

/* Adds a string or null when s is NULL. */
void qjson_add_str_or_null(cJSON *obj, const char *name, const char *s);
/* Adds an integer given as decimal text (from a qrows value), or null. */
void qjson_add_int_text(cJSON *obj, const char *name, const char *s);
/* Adds a raw JSON text (a stored result) parsed, or null when absent/bad. */
void qjson_add_raw(cJSON *obj, const char *name, const char *json);
/* A DATETIME text "YYYY-MM-DD HH:MM:SS.mmm" as ISO 8601 UTC, or null. */
void qjson_add_time(cJSON *obj, const char *name, const char *datetime);

#endif
