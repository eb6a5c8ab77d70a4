/* util.c - clocks, OpenSSL-backed hashing, kernel randomness, directories. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t qnow_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t qmono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t qmono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void qsleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[2 * n] = '\0';
}

/* OpenSSL 3 looks the algorithm up on every EVP_sha256() digest; fetched
 * once, a token check costs a few microseconds less per request. Never
 * freed: it lives as long as the process. */
static EVP_MD *sha256_md;
static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sha256_fetch);
    return sha256_md ? sha256_md : EVP_sha256();
}

void qsha256_hex(const void *buf, size_t len, char out[65])
{
    unsigned char d[32];
    unsigned int n = 0;
    EVP_Digest(buf, len, d, &n, sha256(), NULL);
    to_hex(d, 32, out);
}

void qhmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t len, char out[65])
{
    unsigned char d[32];
    unsigned int n = 0;
    HMAC(sha256(), key, (int)keylen, msg, len, d, &n);
    to_hex(d, 32, out);
}

int qsha256_init(qsha256 *h)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || !EVP_DigestInit_ex(c, sha256(), NULL)) {
        EVP_MD_CTX_free(c);
        h->ctx = NULL;
        return -1;
    }
    h->ctx = c;
    return 0;
}

void qsha256_update(qsha256 *h, const void *buf, size_t len)
{
    EVP_DigestUpdate(h->ctx, buf, len);
}

void qsha256_final(qsha256 *h, char out[65])
{
    unsigned char d[32];
    unsigned int n = 0;
    EVP_DigestFinal_ex(h->ctx, d, &n);
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
    to_hex(d, 32, out);
}

int qsha256_file(const char *path, char out[65])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    qsha256 h;
    if (qsha256_init(&h) != 0) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    static _Thread_local unsigned char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        qsha256_update(&h, buf, (size_t)n);
    int saved = errno;
    close(fd);
    qsha256_final(&h, out);
    if (n < 0) {
        errno = saved;
        return -1;
    }
    return 0;
}

int qrandom_hex(char *out, size_t nbytes)
{
    unsigned char buf[128];
    if (nbytes > sizeof buf)
        return -1;
    size_t got = 0;
    while (got < nbytes) {
        ssize_t n = getrandom(buf + got, nbytes - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    to_hex(buf, nbytes, out);
    return 0;
}

uint64_t qrandom_u64(void)
{
    uint64_t v = 0;
    while (getrandom(&v, sizeof v, 0) != sizeof v)
        ;
    return v;
}

int qmkdir_p(const char *path, int mode)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int qfile_durable(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fdatasync(fd), e = errno;
    close(fd);
    if (rc != 0) {
        errno = e;
        return -1;
    }
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n == 0 || n >= sizeof dir)
        return 0;
    memcpy(dir, path, n);
    dir[n] = '\0';
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    rc = fsync(fd), e = errno;
    close(fd);
    errno = e;
    return rc;
}

void qfile_writeback(int fd, int64_t off, int64_t len)
{
    if (len > 0)
        (void)sync_file_range(fd, off, len, SYNC_FILE_RANGE_WRITE);
}

int qparse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (!s || !*s)
        return -1;
    const char *p = s;
    if (*p == '-')
        p++;
    if (!*p)
        return -1;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return -1;
    if (strlen(p) > 18)
        return -1;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

char *qread_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && (size_t)n <= max && fseek(f, 0, SEEK_SET) == 0)
        buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return buf;
}

int qrel_path_ok(const char *p)
{
    if (!p || !*p || p[0] == '/' || strstr(p, "..") || strlen(p) > 1024)
        return 0;
    for (const char *s = p; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '/' ||
              *s == '.' || *s == '-' || *s == '_'))
            return 0;
    return 1;
}
