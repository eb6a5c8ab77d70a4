/* test_upload_tap.c - uploads hashed while they arrive (cgi/bodytap.c): the
 * sha256 quire-api records is always that of the stored bytes, whether the
 * tap had it ready (raw bodies, multipart with the file first) or the
 * handler hashed for itself (a field before the file, a preamble, no
 * closing delimiter); delimiters straddling the tap's windows; uploads in
 * parallel; the stored bytes are the sent bytes. /metrics counts the tap's
 * hits and misses, and its staging directory is left empty. */
#include "apitest.h"
#include "t.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static char *tok, *up;

/* A WAV header then n random bytes; malloc'd. */
static unsigned char *audio(size_t n, size_t *len)
{
    static const unsigned char hdr[44] = "RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00"
                                         "\x00\x7d\x00\x00\x02\x00\x10\x00" "data\xff\xff\xff\xff";
    unsigned char *b = malloc(sizeof hdr + n);
    memcpy(b, hdr, sizeof hdr);
    for (size_t off = 0; off < n;) {
        ssize_t k = getrandom(b + sizeof hdr + off, n - off > 65536 ? 65536 : n - off, 0);
        if (k > 0)
            off += (size_t)k;
    }
    *len = sizeof hdr + n;
    return b;
}

/* quire_upload_tap_claims_total{result=...} from /metrics. */
static long long tap_count(const char *result)
{
    char key[80];
    snprintf(key, sizeof key, "quire_upload_tap_claims_total{result=\"%s\"}", result);
    return at_metric(key);
}

/* Sends body to the upload's files endpoint; 1 when it answered 201 with
 * the sha256 of want[0, wantlen). */
static int send_and_check(const char *ctype, const void *body, size_t len, const void *want, size_t wantlen,
                          const char *headers)
{
    char path[200], sha[65];
    snprintf(path, sizeof path, "/api/v1/uploads/%s/files", up);
    qsha256_hex(want, wantlen, sha);
    thttp h;
    int ok = thttp_req(&h, "POST", path, tok, ctype, body, len, headers) == 0 && h.status == 201 &&
             tjson_str(h.json, "sha256") && !strcmp(tjson_str(h.json, "sha256"), sha) &&
             tjson_num(h.json, "file_size_bytes", -1) == (double)wantlen;
    if (!ok)
        t_note("status %ld: %.300s", h.status, h.body ? h.body : "");
    /* what is stored is what was sent (linked, renamed from the tap's
     * staging file, or copied) */
    char stored[1024];
    snprintf(stored, sizeof stored, "%s/uploads/%s/%s.wav", tenv("QUIRE_STORAGE"), up,
             ok ? tjson_str(h.json, "file_id") : "-");
    if (ok && strcmp(at_sha256_file(stored), sha) != 0) {
        t_note("stored file %s differs from what was sent", stored);
        ok = 0;
    }
    thttp_free(&h);
    return ok;
}

/* A multipart body: pre (may be ""), then the parts' text before the file,
 * the file, the closing delimiter. malloc'd. */
static char *multipart(const char *pre, const char *before, const unsigned char *file, size_t flen, size_t *len)
{
    char head[1024];
    int hn = snprintf(head, sizeof head, "%s%s--XqTapBoundary42\r\nContent-Disposition: form-data; name=\"file\";"
                      " filename=\"t.wav\"\r\nContent-Type: audio/wav\r\n\r\n", pre, before);
    static const char tail[] = "\r\n--XqTapBoundary42--\r\n";
    char *b = malloc((size_t)hn + flen + sizeof tail);
    memcpy(b, head, (size_t)hn);
    memcpy(b + hn, file, flen);
    memcpy(b + hn + flen, tail, sizeof tail - 1);
    *len = (size_t)hn + flen + sizeof tail - 1;
    return b;
}

#define MP_CT "multipart/form-data; boundary=XqTapBoundary42"

static void test_raw_and_multipart_are_hashed_while_they_arrive(void)
{
    long long hits = tap_count("hit");
    T_REQUIRE(hits >= 0, "the tap's counters are in /metrics");
    size_t n, mn;
    unsigned char *a = audio(24 << 20, &n);
    T_CHECK(send_and_check("application/octet-stream", a, n, a, n, "X-File-Name: raw.wav"));
    char *mp = multipart("", "", a, n, &mn);
    T_CHECK(send_and_check(MP_CT, mp, mn, a, n, NULL));
    /* a tap that fell behind is a miss, not a failure: at least one of the
     * two must have been ready */
    T_CHECK(tap_count("hit") >= hits + 1, "hits %lld -> %lld", hits, tap_count("hit"));
    free(mp);
    free(a);
}

static void test_what_the_tap_cannot_vouch_for_is_hashed_by_the_handler(void)
{
    size_t n, mn;
    unsigned char *a = audio(6 << 20, &n);
    long long misses = tap_count("miss");
    /* a field before the file: the tap hashed from the wrong part */
    char *mp = multipart("", "--XqTapBoundary42\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n", a,
                         n, &mn);
    T_CHECK(send_and_check(MP_CT, mp, mn, a, n, NULL));
    free(mp);
    /* a preamble before the first delimiter */
    mp = multipart("this is a preamble\r\n", "", a, n, &mn);
    T_CHECK(send_and_check(MP_CT, mp, mn, a, n, NULL));
    free(mp);
    T_CHECK(tap_count("miss") >= misses + 2);
    /* no closing delimiter: refused, nothing stored */
    int before = at_storage_files("uploads");
    mp = multipart("", "", a, n, &mn);
    char path[200];
    snprintf(path, sizeof path, "/api/v1/uploads/%s/files", up);
    thttp h;
    T_CHECK(thttp_req(&h, "POST", path, tok, MP_CT, mp, mn - 24, NULL) == 0 && h.status == 400, "status %ld",
            h.status);
    thttp_free(&h);
    T_EQ_INT(at_storage_files("uploads"), before);
    free(mp);
    free(a);
}

/* The closing delimiter lands on and around the tap's 4 MiB windows. */
static void test_delimiters_straddling_windows(void)
{
    size_t n, mn;
    unsigned char *big = audio(5 << 20, &n);
    size_t hdr = strlen("--XqTapBoundary42\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.wav\"\r\n"
                        "Content-Type: audio/wav\r\n\r\n");
    static const int deltas[] = {-40, -21, -3, -1, 0, 1, 7, 4096};
    for (size_t i = 0; i < sizeof deltas / sizeof deltas[0]; i++) {
        size_t flen = (size_t)((4 << 20) - (long)hdr + deltas[i]);
        char *mp = multipart("", "", big, flen, &mn);
        T_CHECK(send_and_check(MP_CT, mp, mn, big, flen, NULL), "delta %d", deltas[i]);
        free(mp);
    }
    free(big);
}

struct par {
    unsigned char *a;
    size_t n;
    int ok;
};

static void *one(void *arg)
{
    struct par *p = arg;
    p->ok = send_and_check("application/octet-stream", p->a, p->n, p->a, p->n, "X-File-Name: p.wav");
    return NULL;
}

/* Every staging file was renamed into place or removed. */
static void test_nothing_left_staged(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/.tap", tenv("QUIRE_STORAGE"));
    char *n = tsh_out("find '%s' -type f | wc -l", dir);
    T_CHECK(n && atoi(n) == 0, "staged files left: %s", n ? n : "?");
    free(n);
}

static void test_parallel_uploads(void)
{
    struct par p[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        p[i].a = audio((size_t)(8 + i) << 20, &p[i].n);
        pthread_create(&th[i], NULL, one, &p[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        T_CHECK(p[i].ok, "upload %d", i);
        free(p[i].a);
    }
}

int main(void)
{
    tok = at_user("tap", 0);
    if (!tok || !(up = at_upload(tok, "multi", 100)))
        return 1;
    T_RUN(test_raw_and_multipart_are_hashed_while_they_arrive);
    T_RUN(test_what_the_tap_cannot_vouch_for_is_hashed_by_the_handler);
    T_RUN(test_delimiters_straddling_windows);
    T_RUN(test_parallel_uploads);
    T_RUN(test_nothing_left_staged);
    free(up);
    free(tok);
    return t_done();
}
