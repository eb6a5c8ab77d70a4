/* http.c - the integration tests' libcurl client and environment helpers. */
#include "http.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>

struct buf {
    char *p;
    size_t n;
};

static size_t on_data(char *d, size_t sz, size_t nm, void *u)
{
    struct buf *b = u;
    size_t n = sz * nm;
    char *p = realloc(b->p, b->n + n + 1);
    if (!p)
        return 0;
    memcpy(p + b->n, d, n);
    b->p = p;
    b->n += n;
    p[b->n] = '\0';
    return n;
}

const char *tenv(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "test: %s is not set (run through tests/run.sh)\n", name);
        exit(2);
    }
    return v;
}

int thttp_req(thttp *res, const char *method, const char *path, const char *token, const char *ctype,
              const void *body, size_t len, const char *headers)
{
    memset(res, 0, sizeof *res);
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    char url[4096];
    snprintf(url, sizeof url, "%s%s", tenv("QUIRE_URL"), path);
    struct buf b = {0}, h = {0};
    struct curl_slist *hl = NULL;
    char line[8192];
    if (token) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", token);
        hl = curl_slist_append(hl, line);
    }
    if (ctype) {
        snprintf(line, sizeof line, "Content-Type: %s", ctype);
        hl = curl_slist_append(hl, line);
    }
    hl = curl_slist_append(hl, "Expect:");
    if (headers) {
        const char *s = headers;
        while (*s) {
            const char *e = strchr(s, '\n');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            if (n && n < sizeof line) {
                memcpy(line, s, n);
                line[n] = '\0';
                hl = curl_slist_append(hl, line);
            }
            s += n + (e ? 1 : 0);
        }
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &res->seconds);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    res->body = b.p ? b.p : calloc(1, 1);
    res->len = b.n;
    res->headers = h.p ? h.p : calloc(1, 1);
    res->json = b.n ? cJSON_Parse(res->body) : NULL;
    return rc == CURLE_OK ? 0 : -1;
}

int thttp_json(thttp *res, const char *method, const char *path, const char *token, const char *json)
{
    return thttp_req(res, method, path, token, json ? "application/json" : NULL, json, json ? strlen(json) : 0, NULL);
}

const char *thttp_header(const thttp *res, const char *name)
{
    static _Thread_local char val[4096];
    size_t n = strlen(name);
    const char *s = res->headers;
    while (s && *s) {
        const char *e = strchr(s, '\n');
        if (!strncasecmp(s, name, n) && s[n] == ':') {
            const char *v = s + n + 1;
            while (*v == ' ')
                v++;
            size_t l = e ? (size_t)(e - v) : strlen(v);
            while (l && (v[l - 1] == '\r' || v[l - 1] == '\n'))
                l--;
            if (l >= sizeof val)
                l = sizeof val - 1;
            memcpy(val, v, l);
            val[l] = '\0';
            return val;
        }
        s = e ? e + 1 : NULL;
    }
    return NULL;
}

void thttp_free(thttp *res)
{
    free(res->body);
    free(res->headers);
    cJSON_Delete(res->json);
    memset(res, 0, sizeof *res);
}

static const cJSON *jpath(const cJSON *j, const char *path)
{
    char key[128];
    while (j && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        j = cJSON_GetObjectItemCaseSensitive(j, key);
        path += n + (dot ? 1 : 0);
    }
    return j;
}

const char *tjson_str(const cJSON *j, const char *path)
{
    const cJSON *v = jpath(j, path);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

double tjson_num(const cJSON *j, const char *path, double dflt)
{
    const cJSON *v = jpath(j, path);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

int tsh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    fflush(stdout);
    int rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

char *tsh_out(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    char line[4096];
    char *out = NULL;
    if (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\r\n")] = '\0';
        out = strdup(line);
    }
    pclose(p);
    return out;
}

char *tuser_token(const char *name, const char *flags)
{
    return tsh_out("\"$QUIRE_BIN/quirectl\" user add '%s' %s", name, flags ? flags : "");
}
