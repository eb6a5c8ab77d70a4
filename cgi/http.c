/* http.c - reading a FastCGI request and writing replies. All input is
 * bounded: headers by nginx, bodies by the limits passed here. */
#include "api.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Set once by quire-api's main thread when SIGTERM arrives; long polls and
 * the request loop read it. */
static atomic_int api_stop_flag;

int api_stopping(void) { return atomic_load(&api_stop_flag); }
void api_set_stopping(void) { atomic_store(&api_stop_flag, 1); }

const char *api_param(qreq *r, const char *name)
{
    return FCGX_GetParam(name, r->fcgi->envp);
}

const char *api_header(qreq *r, const char *name)
{
    char key[128] = "HTTP_";
    size_t n = strlen(name);
    if (n + 6 > sizeof key)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        key[5 + i] = c == '-' ? '_' : (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
    }
    key[5 + n] = '\0';
    if (!strcmp(key, "HTTP_CONTENT_TYPE"))
        return api_param(r, "CONTENT_TYPE");
    if (!strcmp(key, "HTTP_CONTENT_LENGTH"))
        return api_param(r, "CONTENT_LENGTH");
    return api_param(r, key);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decodes [s, s+n) onto the arena; NUL bytes are refused. */
static char *url_decode(qarena *a, const char *s, size_t n)
{
    char *out = qarena_alloc(a, n + 1);
    if (!out)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            char c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            if (c == '\0')
                return NULL;
            out[j++] = c;
            i += 2;
        } else if (s[i] == '+') {
            out[j++] = ' ';
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return out;
}

const char *api_query(qreq *r, const char *name)
{
    size_t nl = strlen(name);
    const char *q = r->query;
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > nl && q[nl] == '=' && !strncmp(q, name, nl))
            return url_decode(r->arena, q + nl + 1, len - nl - 1);
        if (len == nl && !strncmp(q, name, nl))
            return "";
        q = amp ? amp + 1 : NULL;
    }
    return NULL;
}

qerr api_body(qreq *r, size_t max, char **buf, size_t *len)
{
    const char *cl = api_param(r, "CONTENT_LENGTH");
    const char *file = api_param(r, "REQUEST_BODY_FILE");
    int64_t n = 0;
    if (cl && *cl && qparse_i64(cl, 0, INT64_MAX, &n) != 0)
        return api_fail(r, Q_ERR_INVALID, "bad Content-Length");
    if ((uint64_t)n > max)
        return api_fail(r, Q_ERR_TOO_LARGE, "request body of %lld bytes is over the limit of %zu", (long long)n, max);
    char *b = qarena_alloc(r->arena, (size_t)n + 1);
    if (!b)
        return api_fail(r, Q_ERR_NOMEM, "out of memory");
    size_t got = 0;
    if (file && *file) {
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return api_fail(r, Q_ERR_IO, "request body file is gone");
        while (got < (size_t)n) {
            ssize_t k = read(fd, b + got, (size_t)n - got);
            if (k <= 0)
                break;
            got += (size_t)k;
        }
        close(fd);
    } else {
        while (got < (size_t)n) {
            int k = FCGX_GetStr(b + got, (int)((size_t)n - got > (1 << 20) ? (1 << 20) : (size_t)n - got), r->fcgi->in);
            if (k <= 0)
                break;
            got += (size_t)k;
        }
    }
    if (got != (size_t)n)
        return api_fail(r, Q_ERR_INVALID, "request body ended after %zu of %lld bytes", got, (long long)n);
    b[got] = '\0';
    *buf = b;
    *len = got;
    return Q_OK;
}

qerr api_json_body(qreq *r, cJSON **out)
{
    const char *ct = api_param(r, "CONTENT_TYPE");
    /* `curl -d '{...}'` labels JSON as a form: accepted when it is JSON */
    int lenient = ct && (!strncasecmp(ct, "application/x-www-form-urlencoded", 33) || !strncasecmp(ct, "text/plain", 10));
    if (ct && *ct && strncasecmp(ct, "application/json", 16) != 0 && !lenient)
        return api_fail(r, Q_ERR_UNSUPPORTED, "expected Content-Type application/json, got %.64s", ct);
    char *buf;
    size_t len;
    qerr e = api_body(r, (size_t)qconfig_get()->max_json_bytes, &buf, &len);
    if (e)
        return e;
    if (lenient) {
        size_t i = 0;
        while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t'))
            i++;
        if (i == len || buf[i] != '{')
            return api_fail(r, Q_ERR_UNSUPPORTED, "expected Content-Type application/json, got %.64s", ct);
    }
    e = qjson_parse(r->arena, buf, len, out, &r->err);
    if (e)
        return e;
    if (!cJSON_IsObject(*out))
        return api_fail(r, Q_ERR_INVALID, "the request body must be a JSON object");
    return Q_OK;
}

static const char *status_text(int s)
{
    switch (s) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 460: return "Checksum Mismatch";   /* tus checksum extension */
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 507: return "Insufficient Storage";
    default: return "Status";
    }
}

/* 1 when extra is nothing but "Name: value\r\n" lines: a token, a colon,
 * a value without CR, LF or other controls. A value that smuggled in a CR
 * or LF fails this (a bare one, or a blank line that would end the head). */
static int headers_ok(const char *h)
{
    while (h && *h) {
        const char *p = h;
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')
            p++;
        if (p == h || *p != ':')
            return 0;
        for (p++; *p != '\r'; p++)
            if (!*p || ((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7F)
                return 0;
        if (p[1] != '\n')
            return 0;
        h = p + 2;
    }
    return 1;
}

qerr api_reply_raw(qreq *r, int status, const char *ctype, const void *body, size_t len, const char *extra)
{
    if (r->replied)
        return Q_OK;
    /* a loud invariant: every echoed value is made safe where it is built
     * (api_header_value); a header block that still is not well formed is
     * a bug, answered with a bare 500 rather than sent on */
    if (!headers_ok(extra) || (ctype && strpbrk(ctype, "\r\n"))) {
        QLOG_E("refusing a malformed reply header block (status %d)", status);
        status = 500, ctype = "application/json", extra = NULL;
        body = "{\"error\":{\"code\":\"internal_error\",\"message\":\"malformed reply headers\"}}";
        len = strlen(body);
    }
    r->replied = 1;
    r->status = status;
    /* libfcgi's own printf knows few formats: build the head with snprintf */
    char head[2048];
    int n = snprintf(head, sizeof head, "Status: %d %s\r\nX-Request-Id: %s\r\nCache-Control: no-store\r\n%s%s%s%s"
                     "Content-Length: %zu\r\n\r\n", status, status_text(status), r->request_id,
                     ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "", extra ? extra : "", len);
    if (n < 0 || (size_t)n >= sizeof head)
        n = snprintf(head, sizeof head, "Status: 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"), len = 0;
    FCGX_PutStr(head, n, r->fcgi->out);
    if (len)
        FCGX_PutStr(body, (int)len, r->fcgi->out);
    if (r->capture) {
        r->cap_body = qarena_strndup(r->arena, body ? body : "", len);
        r->cap_len = r->cap_body ? len : 0;
        r->cap_headers = qarena_strdup(r->arena, extra ? extra : "");
    }
    return Q_OK;
}

qerr api_reply_json(qreq *r, int status, const cJSON *body, const char *extra)
{
    char *s = body ? cJSON_PrintUnformatted(body) : NULL;
    if (body && !s)
        return api_fail(r, Q_ERR_NOMEM, "out of memory");
    qerr e = api_reply_raw(r, status, "application/json", s ? s : "", s ? strlen(s) : 0, extra);
    cJSON_free(s);
    return e;
}

cJSON *api_obj(qreq *r)
{
    return qjson_own(r->arena, cJSON_CreateObject());
}

void api_reply_error(qreq *r, qerr code, const char *message)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(e, "code", qerr_code(code));
    cJSON_AddStringToObject(e, "message", message && *message ? message : qerr_code(code));
    cJSON_AddStringToObject(e, "request_id", r->request_id);
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    const char *extra = code == Q_ERR_UNAUTHORIZED ? "WWW-Authenticate: Bearer\r\n" : r->err_headers;
    api_reply_raw(r, qerr_http_status(code), "application/json", s ? s : "{}", s ? strlen(s) : 2, extra);
    cJSON_free(s);
}

qerr api_fail(qreq *r, qerr code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    qerr_vset(&r->err, code, fmt, ap);
    va_end(ap);
    return code;
}

qerr api_param_id(qreq *r, int i, int64_t *id)
{
    int64_t v;
    if (i >= r->nparams || qparse_i64(r->params[i], 1, INT64_MAX, &v) != 0)
        return api_fail(r, Q_ERR_NOT_FOUND, "no such resource");
    *id = v;
    return Q_OK;
}

qerr api_need_db(qreq *r)
{
    if (!r->db)
        return api_fail(r, Q_ERR_DB_GONE, "the database is unreachable; try again shortly");
    return Q_OK;
}

qerr api_paging(qreq *r, int64_t *page, int64_t *per_page)
{
    const char *p = api_query(r, "page"), *pp = api_query(r, "per_page");
    *page = 1;
    *per_page = 20;
    if (p && qparse_i64(p, 1, 1000000, page) != 0)
        return api_fail(r, Q_ERR_INVALID, "page must be a whole number from 1");
    if (pp && qparse_i64(pp, 1, 100, per_page) != 0)
        return api_fail(r, Q_ERR_INVALID, "per_page must be a whole number from 1 to 100");
    return Q_OK;
}
