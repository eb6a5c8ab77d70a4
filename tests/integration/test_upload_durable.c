/* test_upload_durable.c - a 201 (or a tus 204) means the bytes are on disk:
 * right after the reply, the stored file has no page in the page cache that
 * is dirty or still being written back. Checked with cachestat(2) (Linux
 * 6.5+), which counts a file's dirty and under-writeback pages; a file
 * written here without a sync is the control that shows the check can see
 * dirt at all on this file system. Covers raw and multipart uploads (linked
 * or renamed from the tap's staging file) and every acknowledged tus chunk
 * and the finished tus file. */
#include "apitest.h"
#include "t.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_cachestat
#define SYS_cachestat 451           /* every architecture's number since 6.5 */
#endif

struct cs_range {
    uint64_t off, len;
};
struct cs_stat {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

#define FILE_BYTES (6 << 20)

static char *tok;
static unsigned char *wav;
static size_t wav_len;
static int can_see;                 /* the control saw dirty pages */

/* Dirty plus under-writeback pages of path; -1 when cachestat cannot tell. */
static long long unsynced(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct cs_range r = {0, 0};
    struct cs_stat s;
    memset(&s, 0, sizeof s);
    long rc = syscall(SYS_cachestat, fd, &r, &s, 0);
    close(fd);
    return rc == 0 ? (long long)(s.nr_dirty + s.nr_writeback) : -1;
}

/* The one stored audio file of upload up (a fresh session), or "". */
static const char *stored_file(const char *up)
{
    static char path[1400];
    char dir[900];
    snprintf(dir, sizeof dir, "%s/uploads/%s", tenv("QUIRE_STORAGE"), up);
    path[0] = '\0';
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".wav"))
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (d)
        closedir(d);
    return path;
}

static void test_control_shows_dirty_pages(void)
{
    char path[900];
    snprintf(path, sizeof path, "%s/durable-control.bin", tenv("QUIRE_STORAGE"));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    T_REQUIRE(fd >= 0, "%s: %s", path, strerror(errno));
    T_REQUIRE(write(fd, wav, wav_len) == (ssize_t)wav_len);
    close(fd);
    long long n = unsynced(path);
    unlink(path);
    if (n < 0) {
        t_skip("cachestat(2) is not available on this kernel");
        return;
    }
    if (n == 0) {
        t_skip("a file written without sync shows no dirty page here (a file system without a page cache?)");
        return;
    }
    can_see = 1;
    t_note("control: %lld unsynced pages in a file written without fsync", n);
}

static void check_upload(const char *ctype, const void *body, size_t len, const char *headers)
{
    if (!can_see) {
        t_skip("the control could not see dirty pages");
        return;
    }
    char *up = at_upload(tok, "single", 1);
    T_REQUIRE(up);
    char path[200];
    snprintf(path, sizeof path, "/api/v1/uploads/%s/files", up);
    thttp h;
    T_REQUIRE(thttp_req(&h, "POST", path, tok, ctype, body, len, headers) == 0);
    long long n = unsynced(stored_file(up));
    T_EQ_INT(h.status, 201);
    T_EQ_INT(n, 0);
    thttp_free(&h);
    free(up);
}

static void test_raw_upload_is_on_disk_at_201(void)
{
    check_upload("application/octet-stream", wav, wav_len, "X-File-Name: durable.wav");
}

static void test_multipart_upload_is_on_disk_at_201(void)
{
    static const char head[] = "--XqDurable7\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.wav\"\r\n"
                               "Content-Type: audio/wav\r\n\r\n";
    static const char tail[] = "\r\n--XqDurable7--\r\n";
    size_t n = sizeof head - 1 + wav_len + sizeof tail - 1;
    char *b = malloc(n);
    memcpy(b, head, sizeof head - 1);
    memcpy(b + sizeof head - 1, wav, wav_len);
    memcpy(b + sizeof head - 1 + wav_len, tail, sizeof tail - 1);
    check_upload("multipart/form-data; boundary=XqDurable7", b, n, NULL);
    free(b);
}

static void test_tus_chunks_and_file_are_on_disk_when_acknowledged(void)
{
    if (!can_see) {
        t_skip("the control could not see dirty pages");
        return;
    }
    char *up = at_upload(tok, "single", 1);
    T_REQUIRE(up);
    long st;
    char *slot = at_tus_create(tok, up, (long long)wav_len, NULL, &st);
    T_REQUIRE(slot, "create: %ld", st);
    const char *id = strrchr(slot, '/');
    char part[1024];
    snprintf(part, sizeof part, "%s/uploads/%s/tus/%s.part", tenv("QUIRE_STORAGE"), up, id ? id + 1 : "-");
    size_t half = wav_len / 2;
    char hdr[200];
    thttp h;
    snprintf(hdr, sizeof hdr, AT_TUS "\nUpload-Offset: 0");
    T_REQUIRE(thttp_req(&h, "PATCH", slot, tok, "application/offset+octet-stream", wav, half, hdr) == 0);
    long long n = unsynced(part);
    T_EQ_INT(h.status, 204);
    T_EQ_INT(n, 0);
    thttp_free(&h);
    snprintf(hdr, sizeof hdr, AT_TUS "\nUpload-Offset: %zu", half);
    T_REQUIRE(thttp_req(&h, "PATCH", slot, tok, "application/offset+octet-stream", wav + half, wav_len - half,
                        hdr) == 0);
    n = unsynced(stored_file(up));
    T_EQ_INT(h.status, 204);
    T_EQ_INT(n, 0);
    thttp_free(&h);
    free(slot);
    free(up);
}

int main(void)
{
    static const unsigned char hdr[44] = "RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00"
                                         "\x00\x7d\x00\x00\x02\x00\x10\x00" "data\xff\xff\xff\xff";
    wav_len = sizeof hdr + FILE_BYTES;
    wav = malloc(wav_len);
    memcpy(wav, hdr, sizeof hdr);
    for (size_t off = sizeof hdr; off < wav_len;) {
        ssize_t k = getrandom(wav + off, wav_len - off > 65536 ? 65536 : wav_len - off, 0);
        if (k > 0)
            off += (size_t)k;
    }
    tok = at_user("durable", 0);
    if (!tok)
        return 1;
    T_RUN(test_control_shows_dirty_pages);
    T_RUN(test_raw_upload_is_on_disk_at_201);
    T_RUN(test_multipart_upload_is_on_disk_at_201);
    T_RUN(test_tus_chunks_and_file_are_on_disk_when_acknowledged);
    free(wav);
    free(tok);
    return t_done();
}
