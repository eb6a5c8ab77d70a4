/* store.c - the API's side of file storage: storage paths from ids, placing
 * nginx's request body files into storage without streaming them through
 * FastCGI (link, or copy_file_range of a byte range), type sniffing by magic
 * bytes, and making client file names safe for display. */
#include "api.h"
#include "audio_magic.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void store_uuid(char out[37])
{
    unsigned char b[16];
    uint64_t x = qrandom_u64(), y = qrandom_u64();
    memcpy(b, &x, 8);
    memcpy(b + 8, &y, 8);
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);   /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);   /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

const char *store_abs(qreq *r, const char *rel)
{
    /* paths are built from ids: a ".." here is a bug, never input */
    if (strstr(rel, "..") || rel[0] == '/')
        return NULL;
    return qarena_printf(r->arena, "%s/%s", qconfig_get()->storage_dir, rel);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len;
    if (s[0] < 0x80)
        return 1;
    else if ((s[0] & 0xE0) == 0xC0 && s[0] >= 0xC2)
        len = 2;
    else if ((s[0] & 0xF0) == 0xE0)
        len = 3;
    else if ((s[0] & 0xF8) == 0xF0 && s[0] <= 0xF4)
        len = 4;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    /* overlong forms (E0 80 AF is '/' in disguise), UTF-16 surrogates and
     * code points past U+10FFFF are not UTF-8 */
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0) || (s[0] == 0xF0 && s[1] < 0x90) ||
        (s[0] == 0xF4 && s[1] >= 0x90))
        return 0;
    return len;
}

/* The code point of a valid sequence of k bytes at s. */
static unsigned utf8_cp(const unsigned char *s, size_t k)
{
    unsigned c = k == 1 ? s[0] : k == 2 ? s[0] & 0x1Fu : k == 3 ? s[0] & 0x0Fu : s[0] & 0x07u;
    for (size_t i = 1; i < k; i++)
        c = (c << 6) | (s[i] & 0x3Fu);
    return c;
}

/* Characters that change how a name looks without being seen: C1 controls,
 * bidi overrides and isolates (U+202E turns "evil\u202Egpj.mp3" into what
 * reads as "evil3pm.jpg"), zero-width characters, line separators. */
static int invisible_cp(unsigned c)
{
    return (c >= 0x80 && c <= 0x9F) || c == 0x061C || (c >= 0x200B && c <= 0x200F) || (c >= 0x2028 && c <= 0x202E) ||
           (c >= 0x2060 && c <= 0x2069) || c == 0xFEFF;
}

/* Look-alikes of the slash and the backslash (fullwidth, division and
 * fraction slashes): harmless here (names never reach the file system), but
 * a consumer that normalizes Unicode (NFKC) would turn U+FF0F into '/'. */
static int slash_cp(unsigned c)
{
    return c == 0xFF0F || c == 0xFF3C || c == 0x2215 || c == 0x2044 || c == 0x29F8 || c == 0x29F9 || c == 0xFE68;
}

void store_sanitize_name(const char *in, char *out, size_t outsz)
{
    const char *base = in ? in : "";
    for (const char *p = base; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    size_t max = outsz - 1 < STORE_NAME_MAX ? outsz - 1 : STORE_NAME_MAX;
    size_t j = 0, n = strlen(base);
    const unsigned char *s = (const unsigned char *)base;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(s + i, n - i);
        if (k == 0) {                        /* invalid byte: dropped */
            i++;
            continue;
        }
        if (k == 1 && (s[i] < 0x20 || s[i] == 0x7F || s[i] == ':' || s[i] == '"' || s[i] == '<' || s[i] == '>' ||
                       s[i] == '|' || s[i] == '?' || s[i] == '*')) {
            i++;
            continue;
        }
        if (j == 0 && k == 1 && (s[i] == '.' || s[i] == ' ')) {   /* no hidden or ".." names */
            i++;
            continue;
        }
        if (k > 1 && invisible_cp(utf8_cp(s + i, k))) {               /* dropped */
            i += k;
            continue;
        }
        if (k > 1 && slash_cp(utf8_cp(s + i, k))) {                   /* becomes '_' */
            if (j + 1 > max)
                break;
            out[j++] = '_';
            i += k;
            continue;
        }
        if (j + k > max)
            break;
        memcpy(out + j, s + i, k);
        j += k;
        i += k;
    }
    while (j > 0 && (out[j - 1] == ' ' || out[j - 1] == '.'))
        j--;
    out[j] = '\0';
    if (j == 0)
        snprintf(out, outsz, "file");
}

static int has_prefix(const unsigned char *b, size_t len, const char *p, size_t n)
{
    return len >= n && memcmp(b, p, n) == 0;
}

const char *store_sniff(const unsigned char *b, size_t len, int *is_audio)
{
    /* audio: the engines' detector, which the worker's decoder agrees with */
    const char *audio = q_audio_magic(b, len);
    *is_audio = audio != NULL;
    if (audio)
        return audio;
    *is_audio = 0;
    if (len == 0)
        return "empty file";
    static const struct { const char *magic; size_t n; const char *name; } sigs[] = {
        {"%PDF", 4, "pdf"}, {"\x89PNG", 4, "png"}, {"\xFF\xD8\xFF", 3, "jpeg"}, {"GIF8", 4, "gif"},
        {"PK\x03\x04", 4, "zip"}, {"\x1F\x8B", 2, "gzip"}, {"\x7F" "ELF", 4, "elf executable"},
        {"MZ", 2, "windows executable"}, {"BZh", 3, "bzip2"}, {"\xFD" "7zXZ", 5, "xz"},
        {"7z\xBC\xAF", 4, "7z"}, {"Rar!", 4, "rar"}, {"\x1A\x45\xDF\xA3", 4, "matroska/webm"},
        {"<?xml", 5, "xml"}, {"<!DOCTYPE", 9, "html"}, {"<html", 5, "html"}, {"<!doctype", 9, "html"},
        {"\xD0\xCF\x11\xE0", 4, "ms office document"}, {"SQLite format 3", 15, "sqlite"},
    };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (has_prefix(b, len, sigs[i].magic, sigs[i].n))
            return sigs[i].name;
    if (len >= 12 && !memcmp(b, "RIFF", 4))
        return !memcmp(b + 8, "AVI ", 4) ? "avi" : !memcmp(b + 8, "WEBP", 4) ? "webp" : "riff (not wave)";
    size_t i = 0;
    while (i < len && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t'))
        i++;
    int text = 1;
    for (size_t k = 0; k < len;) {
        size_t q = utf8_seq(b + k, len - k);
        if (q == 0 && len - k < 4)           /* a sequence cut by the sample */
            break;
        if (q == 0 || (q == 1 && b[k] < 0x20 && b[k] != '\n' && b[k] != '\r' && b[k] != '\t')) {
            text = 0;
            break;
        }
        k += q;
    }
    if (text)
        return i < len && (b[i] == '{' || b[i] == '[') ? "json text" : "text";
    return "unknown binary data";
}

const char *store_ext(const char *format)
{
    if (!strcmp(format, "mp3"))
        return ".mp3";
    if (!strcmp(format, "mp4"))
        return ".m4a";
    if (!strcmp(format, "flac"))
        return ".flac";
    if (!strcmp(format, "ogg"))
        return ".ogg";
    if (!strcmp(format, "wav"))
        return ".wav";
    return ".bin";
}

ssize_t store_pread(const char *path, int64_t off, void *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, (char *)buf + got, n - got, (off_t)(off + (int64_t)got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    return (ssize_t)got;
}

/* mkdir -p of the directory part of abs. */
static int make_parent(const char *abs)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", abs);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    return qmkdir_p(dir, 0750);
}

/* Copies len bytes from in at *off_in to out at *off_out: copy_file_range,
 * falling back to read/write where the kernel or file system refuses. */
static int copy_range(int in, int64_t off_in, int out, int64_t off_out, int64_t len)
{
    loff_t oi = off_in, oo = off_out;
    int64_t left = len;
    while (left > 0) {
        /* 8 MiB at a time, each sent on to the disk, so the sync before
         * the reply finds little left (as the upload tap does) */
        size_t chunk = left > (8 << 20) ? (size_t)8 << 20 : (size_t)left;
        ssize_t k = copy_file_range(in, &oi, out, &oo, chunk, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL))
            break;
        if (k <= 0)
            return -1;
        qfile_writeback(out, oo - k, k);
        left -= k;
    }
    static _Thread_local char buf[1 << 16];
    while (left > 0) {
        ssize_t k = pread(in, buf, left > (int64_t)sizeof buf ? sizeof buf : (size_t)left, oi);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        for (ssize_t w = 0; w < k;) {
            ssize_t m = pwrite(out, buf + w, (size_t)(k - w), oo);
            if (m < 0 && errno == EINTR)
                continue;
            if (m <= 0)
                return -1;
            w += m;
            oo += m;
        }
        oi += k;
        left -= k;
    }
    return 0;
}

static qerr io_fail(qreq *r, const char *what, int e)
{
    QLOG_E("%s: %s", what, strerror(e));
    if (qerr_of_errno(e) == Q_ERR_NO_SPACE)
        return api_fail(r, Q_ERR_NO_SPACE, "storage is full");
    return api_fail(r, Q_ERR_IO, "storage error while %s", what);
}

qerr store_place(qreq *r, const char *src, int64_t off, int64_t len, const char *dst_rel, char sha256[65])
{
    const char *dst = store_abs(r, dst_rel);
    if (!dst)
        return api_fail(r, Q_ERR_INTERNAL, "bad storage path");
    struct stat st;
    if (stat(src, &st) != 0)
        return io_fail(r, "reading the request body", errno);
    if (make_parent(dst) != 0)
        return io_fail(r, "creating a storage directory", errno);
    int linked = 0;
    if (off == 0 && len == st.st_size && link(src, dst) == 0)
        linked = 1;
    if (!linked) {
        int in = open(src, O_RDONLY | O_CLOEXEC);
        if (in < 0)
            return io_fail(r, "reading the request body", errno);
        int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        if (out < 0) {
            int e = errno;
            close(in);
            return io_fail(r, "creating a stored file", e);
        }
        int rc = copy_range(in, off, out, 0, len);
        int e = errno;
        close(in);
        if (close(out) != 0 && rc == 0)
            rc = -1, e = errno;
        if (rc != 0) {
            unlink(dst);
            return io_fail(r, "copying the upload into storage", e);
        }
    }
    int64_t t0 = qmono_us();
    if (sha256 && !sha256[0] && store_hash_range(dst, 0, len, NULL, 0, NULL, sha256) != 0) {
        int e = errno;
        unlink(dst);
        return io_fail(r, "hashing a stored file", e);
    }
    int64_t t1 = qmono_us();
    if (qfile_durable(dst) != 0) {
        int e = errno;
        unlink(dst);
        return io_fail(r, "writing the upload to disk", e);
    }
    QLOG_D("stored %lld bytes (%s), hashed in %.1f ms, on disk after %.1f ms more", (long long)len,
           linked ? "linked" : "copied", (t1 - t0) / 1000.0, (qmono_us() - t1) / 1000.0);
    return Q_OK;
}

qerr store_adopt(qreq *r, const char *abs, const char *dst_rel)
{
    const char *dst = store_abs(r, dst_rel);
    int e = 0;
    if (!dst) {
        unlink(abs);
        return api_fail(r, Q_ERR_INTERNAL, "bad storage path");
    }
    if (make_parent(dst) != 0 || rename(abs, dst) != 0) {
        e = errno;
        unlink(abs);
        return io_fail(r, "moving an upload into storage", e);
    }
    if (qfile_durable(dst) != 0) {
        e = errno;
        unlink(dst);
        return io_fail(r, "writing the upload to disk", e);
    }
    return Q_OK;
}

qerr store_append(qreq *r, const char *src, int64_t len, const char *dst_rel, int64_t at)
{
    const char *dst = store_abs(r, dst_rel);
    if (!dst)
        return api_fail(r, Q_ERR_INTERNAL, "bad storage path");
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return io_fail(r, "reading the request body", errno);
    int out = open(dst, O_WRONLY | O_CLOEXEC);
    if (out < 0) {
        int e = errno;
        close(in);
        return io_fail(r, "opening an upload in progress", e);
    }
    int rc = copy_range(in, 0, out, at, len);
    int e = errno;
    /* bytes past the acknowledged offset (a chunk cut short earlier) go */
    if (rc == 0 && ftruncate(out, (off_t)(at + len)) != 0)
        rc = -1, e = errno;
    /* an acknowledged offset must survive a crash: the client will not resend */
    if (rc == 0 && fdatasync(out) != 0)
        rc = -1, e = errno;
    close(in);
    close(out);
    if (rc != 0)
        return io_fail(r, "appending to an upload", e);
    return Q_OK;
}

int store_hash_range(const char *path, int64_t off, int64_t limit, const char *needle, size_t nlen, int64_t *hit,
                     char sha[65])
{
    /* read, not mapped: the kernel copies through its own large-page map
     * of memory, while walking 4 KiB mappings stalls the hash on every page
     * (a gigabyte: 0.75 s read, 1.2-1.4 s mapped, on the bench machine) */
    enum { WIN = 1 << 20 };
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    qsha256 h;
    char *buf = malloc(WIN + nlen);
    if (!buf || qsha256_init(&h) != 0) {
        free(buf);
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    if (hit)
        *hit = -1;
    int64_t pos = off;                      /* bytes [off, pos) are hashed */
    int rc = 0;
    while (pos < limit) {
        size_t want = (size_t)(limit - pos < WIN ? limit - pos : WIN);
        /* a needle may straddle windows: read nlen more than is hashed */
        size_t extra = needle && pos + (int64_t)want < limit ? nlen : 0;
        if (pos + (int64_t)(want + extra) > limit)
            extra = (size_t)(limit - pos - (int64_t)want);
        size_t got = 0;
        while (got < want + extra) {
            ssize_t k = pread(fd, buf + got, want + extra - got, pos + (int64_t)got);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0)
                rc = -1;
            if (k <= 0)
                break;
            got += (size_t)k;
        }
        if (rc != 0)
            break;
        if (got < want + extra) {           /* the file ends before limit */
            limit = pos + (int64_t)got;
            want = got < want ? got : want;
            extra = got - want;
        }
        const char *found = needle ? memmem(buf, want + extra, needle, nlen) : NULL;
        if (found && found < buf + want) {
            qsha256_update(&h, buf, (size_t)(found - buf));
            *hit = pos + (found - buf);
            break;
        }
        /* a needle starting in the overlap is found by the next window */
        qsha256_update(&h, buf, want);
        pos += (int64_t)want;
    }
    int e = errno;
    free(buf);
    close(fd);
    qsha256_final(&h, sha);
    errno = e;
    return rc;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP || flag == FTW_D)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

void store_remove(qreq *r, const char *rel)
{
    const char *abs = store_abs(r, rel);
    if (!abs || !*rel)
        return;
    struct stat st;
    if (lstat(abs, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode))
        nftw(abs, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    else
        unlink(abs);
}

qerr store_link(qreq *r, const char *src_rel, const char *dst_rel)
{
    const char *src = store_abs(r, src_rel);
    if (!src)
        return api_fail(r, Q_ERR_INTERNAL, "bad storage path");
    struct stat st;
    if (stat(src, &st) != 0)
        return io_fail(r, "finding a stored file", errno);
    char sha[65] = "-";   /* known: not recomputed */
    return store_place(r, src, 0, st.st_size, dst_rel, sha);
}

static void *copy_main(void *arg)
{
    store_copy *c = arg;
    int in = open(c->src, O_RDONLY | O_CLOEXEC);
    int out = in < 0 ? -1 : open(c->dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (in < 0 || out < 0) {
        c->err = errno;
        if (in >= 0)
            close(in);
        return NULL;
    }
    if (copy_range(in, c->off, out, 0, c->len) != 0)
        c->err = errno ? errno : EIO;
    if (close(out) != 0 && !c->err)
        c->err = errno;
    close(in);
    return NULL;
}

qerr store_copy_start(qreq *r, store_copy *c, const char *src, int64_t off, int64_t len, const char *dst_rel)
{
    memset(c, 0, sizeof *c);
    c->src = src;
    c->dst = store_abs(r, dst_rel);
    c->off = off;
    c->len = len;
    if (!c->dst)
        return api_fail(r, Q_ERR_INTERNAL, "bad storage path");
    if (make_parent(c->dst) != 0)
        return io_fail(r, "creating a storage directory", errno);
    if (pthread_create(&c->th, NULL, copy_main, c) != 0)
        return api_fail(r, Q_ERR_NOMEM, "cannot start a copy");
    c->started = 1;
    return Q_OK;
}

qerr store_copy_finish(qreq *r, store_copy *c, int64_t keep)
{
    if (!c->started)
        return Q_OK;
    pthread_join(c->th, NULL);
    c->started = 0;
    if (!c->err && keep >= 0 && keep < c->len && truncate(c->dst, (off_t)keep) != 0)
        c->err = errno;
    if (!c->err && qfile_durable(c->dst) != 0)
        c->err = errno;
    if (c->err) {
        unlink(c->dst);
        return io_fail(r, "copying the upload into storage", c->err);
    }
    return Q_OK;
}
