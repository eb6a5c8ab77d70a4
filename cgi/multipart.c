/* multipart.c - the multipart/form-data reader of POST /api/v1/uploads/{id}/files:
 * it works on the body file nginx wrote and never holds the whole body in
 * memory. Moved out of uploads.c so tests/fuzz/fuzz_multipart.c can drive it. */
#include "api.h"
#include "multipart.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The boundary parameter of a multipart Content-Type into out. */
int mp_boundary(const char *ct, char *out, size_t outsz)
{
    const char *b = strcasestr(ct, "boundary=");
    if (!b)
        return -1;
    b += 9;
    size_t n;
    if (*b == '"') {
        b++;
        const char *q = strchr(b, '"');
        if (!q)
            return -1;
        n = (size_t)(q - b);
    } else {
        n = strcspn(b, "; \t");
    }
    if (n == 0 || n >= outsz || n > 70)
        return -1;
    memcpy(out, b, n);
    out[n] = '\0';
    return 0;
}

/* A parameter (name="..." / filename="...") of a Content-Disposition line
 * [line, end) into out; 0 when present. */
static int mp_disp_param(const char *line, const char *end, const char *param, char *out, size_t outsz)
{
    size_t pl = strlen(param);
    for (const char *p = line; p + pl + 2 <= end; p++) {
        if (strncasecmp(p, param, pl) != 0 || p[pl] != '=' || (p > line && p[-1] != ' ' && p[-1] != ';'))
            continue;
        const char *v = p + pl + 1;
        size_t j = 0;
        if (*v == '"') {
            v++;
            for (; v < end && *v != '"'; v++) {
                if (*v == '\\' && v + 1 < end)
                    v++;
                if (j + 1 < outsz)
                    out[j++] = *v;
            }
        } else {
            for (; v < end && *v != ';' && *v != ' '; v++)
                if (j + 1 < outsz)
                    out[j++] = *v;
        }
        out[j] = '\0';
        return 0;
    }
    return -1;
}

/* Finds the part named "file" (or the first part with a file name) of the
 * multipart body at path: where its data starts and the client's file name. */
qerr mp_find_file(qreq *r, const char *path, int64_t size, const char *boundary, int64_t *start,
                  char *fname, size_t fnsz)
{
    size_t headn = size < MP_HEAD_MAX ? (size_t)size : MP_HEAD_MAX;
    char *head = qarena_alloc(r->arena, headn + 1);
    if (!head)
        return api_fail(r, Q_ERR_NOMEM, "out of memory");
    if (store_pread(path, 0, head, headn) != (ssize_t)headn)
        return api_fail(r, Q_ERR_IO, "cannot read the request body");
    head[headn] = '\0';
    char delim[MP_BOUNDARY_MAX + 8];
    int dl = snprintf(delim, sizeof delim, "--%s", boundary);
    const char *p = memmem(head, headn, delim, (size_t)dl);
    const char *hend = head + headn;
    while (p) {
        p += dl;
        if (p + 2 <= hend && p[0] == '-' && p[1] == '-')
            break;                                    /* the closing delimiter */
        if (p + 2 > hend || p[0] != '\r' || p[1] != '\n')
            return api_fail(r, Q_ERR_INVALID, "malformed multipart body");
        p += 2;
        const char *hdr_end = memmem(p, (size_t)(hend - p), "\r\n\r\n", 4);
        if (!hdr_end)
            return api_fail(r, Q_ERR_INVALID, "multipart part headers are too long or cut");
        char name[64] = "", filename[1024] = "";
        int has_filename = 0;
        for (const char *line = p; line < hdr_end;) {
            const char *eol = memmem(line, (size_t)(hdr_end + 2 - line), "\r\n", 2);
            if (!eol)
                eol = hdr_end;
            if (!strncasecmp(line, "Content-Disposition:", 20)) {
                mp_disp_param(line, eol, "name", name, sizeof name);
                has_filename = mp_disp_param(line, eol, "filename", filename, sizeof filename) == 0;
            }
            line = eol + 2;
        }
        const char *data = hdr_end + 4;
        if (!strcmp(name, "file") || has_filename) {
            *start = data - head;
            snprintf(fname, fnsz, "%s", filename);
            goto found;
        }
        char nd[MP_BOUNDARY_MAX + 8];
        int nl = snprintf(nd, sizeof nd, "\r\n--%s", boundary);
        p = memmem(data, (size_t)(hend - data), nd, (size_t)nl);
        if (p)
            p += 2;
    }
    return api_fail(r, Q_ERR_UNPROCESSABLE, "the multipart body has no 'file' part (send it as -F file=@audio.mp3)");

found:
    return Q_OK;
}

/* Scans the multipart data from start for the delimiter "\r\n--boundary"
 * (reading at most up to limit), hashing the bytes before it: *end is where
 * the file's data ends, -1 when no delimiter came. */
qerr mp_scan(qreq *r, const char *path, int64_t start, int64_t limit, const char *boundary, int64_t *end,
             char sha[65])
{
    char needle[MP_BOUNDARY_MAX + 8];
    size_t nlen = (size_t)snprintf(needle, sizeof needle, "\r\n--%s", boundary);
    if (store_hash_range(path, start, limit, needle, nlen, end, sha) != 0)
        return api_fail(r, Q_ERR_IO, "cannot read the request body");
    return Q_OK;
}

/* Where the file's data most likely ends: the last delimiter in the body's
 * tail (the file is usually the last part). Only a guess: mp_scan decides. */
int64_t mp_guess_end(const char *path, int64_t size, int64_t start, const char *boundary)
{
    char tail[8192 + 1];
    int64_t from = size - (int64_t)sizeof tail + 1 > start ? size - (int64_t)sizeof tail + 1 : start;
    ssize_t n = store_pread(path, from, tail, (size_t)(size - from));
    if (n <= 0)
        return -1;
    char needle[MP_BOUNDARY_MAX + 8];
    size_t nlen = (size_t)snprintf(needle, sizeof needle, "\r\n--%s", boundary);
    int64_t last = -1;
    for (char *p = tail; (p = memmem(p, (size_t)(tail + n - p), needle, nlen)); p++)
        last = from + (p - tail);
    return last;
}
