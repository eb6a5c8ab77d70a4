/* json.c - cJSON helpers shared by quire-api, quire-worker and quirectl. */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void json_delete(void *p) { cJSON_Delete(p); }

cJSON *qjson_own(qarena *a, cJSON *tree)
{
    if (tree)
        qarena_defer(a, json_delete, tree);
    return tree;
}

/* cJSON recurses per level: measure depth first so hostile nesting is
 * refused before the parser sees it. Strings are skipped correctly. */
static int too_deep(const char *s, size_t len)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > QJSON_MAX_DEPTH)
                return 1;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 0;
}

qerr qjson_parse(qarena *a, const char *buf, size_t len, cJSON **out, qerrctx *err)
{
    if (!buf || len == 0)
        return qerr_set(err, Q_ERR_INVALID, "request body is empty; expected a JSON object");
    if (too_deep(buf, len))
        return qerr_set(err, Q_ERR_INVALID, "JSON nested deeper than %d levels", QJSON_MAX_DEPTH);
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (!j) {
        size_t at = end ? (size_t)(end - buf) : 0;
        return qerr_set(err, Q_ERR_INVALID, "malformed JSON near byte %zu", at);
    }
    /* only whitespace may follow the value */
    for (const char *p = end; p && p < buf + len; p++)
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
            cJSON_Delete(j);
            return qerr_set(err, Q_ERR_INVALID, "unexpected data after the JSON value");
        }
    *out = qjson_own(a, j);
    return Q_OK;
}

static const cJSON *field_get(const cJSON *obj, const char *field)
{
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, field) : NULL;
}

qerr qjson_str(const cJSON *obj, const char *field, int required, size_t maxlen, const char **out, qerrctx *err)
{
    const cJSON *v = field_get(obj, field);
    if (!v || cJSON_IsNull(v))
        return required ? qerr_set(err, Q_ERR_UNPROCESSABLE, "field '%s' is required", field) : Q_OK;
    if (!cJSON_IsString(v))
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "field '%s' must be a string", field);
    if (strlen(v->valuestring) > maxlen)
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "field '%s' is longer than %zu bytes", field, maxlen);
    *out = v->valuestring;
    return Q_OK;
}

qerr qjson_num(const cJSON *obj, const char *field, int required, double lo, double hi, double *out, qerrctx *err)
{
    const cJSON *v = field_get(obj, field);
    if (!v || cJSON_IsNull(v))
        return required ? qerr_set(err, Q_ERR_UNPROCESSABLE, "field '%s' is required", field) : Q_OK;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "field '%s' must be a number", field);
    if (v->valuedouble < lo || v->valuedouble > hi)
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "field '%s' must be between %g and %g", field, lo, hi);
    *out = v->valuedouble;
    return Q_OK;
}

qerr qjson_int(const cJSON *obj, const char *field, int required, int64_t lo, int64_t hi, int64_t *out, qerrctx *err)
{
    const cJSON *v = field_get(obj, field);
    if (!v || cJSON_IsNull(v))
        return required ? qerr_set(err, Q_ERR_UNPROCESSABLE, "field '%s' is required", field) : Q_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || !isfinite(v->valuedouble))
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "field '%s' must be an integer", field);
    /* compared as integers: (double)hi rounds (INT64_MAX / 2 becomes 2^62,
     * one past it; INT64_MAX becomes 2^63, past any int64_t), so only a
     * value inside int64_t's range is converted (tests/fuzz/fuzz_json.c) */
    double d = v->valuedouble;
    if (d < -9223372036854775808.0 || d >= 9223372036854775808.0 || (int64_t)d < lo || (int64_t)d > hi)
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "field '%s' must be between %lld and %lld", field,
                        (long long)lo, (long long)hi);
    *out = (int64_t)d;
    return Q_OK;
}

qerr qjson_bool(const cJSON *obj, const char *field, int required, int *out, qerrctx *err)
{
    const cJSON *v = field_get(obj, field);
    if (!v || cJSON_IsNull(v))
        return required ? qerr_set(err, Q_ERR_UNPROCESSABLE, "field '%s' is required", field) : Q_OK;
    if (!cJSON_IsBool(v))
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "field '%s' must be true or false", field);
    *out = cJSON_IsTrue(v);
    return Q_OK;
}

void qjson_add_str_or_null(cJSON *obj, const char *name, const char *s)
{
    if (s)
        cJSON_AddStringToObject(obj, name, s);
    else
        cJSON_AddNullToObject(obj, name);
}

void qjson_add_int_text(cJSON *obj, const char *name, const char *s)
{
    if (s)
        cJSON_AddNumberToObject(obj, name, (double)strtoll(s, NULL, 10));
    else
        cJSON_AddNullToObject(obj, name);
}

void qjson_add_raw(cJSON *obj, const char *name, const char *json)
{
    cJSON *v = json ? cJSON_Parse(json) : NULL;
    if (v)
        cJSON_AddItemToObject(obj, name, v);
    else
        cJSON_AddNullToObject(obj, name);
}

void qjson_add_time(cJSON *obj, const char *name, const char *dt)
{
    if (!dt || strlen(dt) < 19) {
        cJSON_AddNullToObject(obj, name);
        return;
    }
    char iso[40];
    snprintf(iso, sizeof iso, "%.10sT%.12sZ", dt, dt + 11);
    cJSON_AddStringToObject(obj, name, iso);
}
