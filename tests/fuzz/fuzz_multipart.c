/* fuzz_multipart.c - libFuzzer target for the multipart/form-data reader
 * (cgi/multipart.c) run as h_upload_file runs it: boundary from the
 * Content-Type, the file part's start and name, the guessed and the true
 * end (hashing on the way), the client name sanitized and the first bytes
 * sniffed. Input: the Content-Type on the first line, the body after it;
 * the body is written to a memfd, as nginx writes its body file. When the
 * Content-Type has no usable boundary, "XyZ" is used so the body is still
 * parsed. Build and run with `scripts/fuzz.sh multipart`. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_req.h"
#include "multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int body_fd = -1;
static char body_path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (body_fd < 0) {
        body_fd = memfd_create("fuzz-multipart", 0);
        if (body_fd < 0)
            abort();
        snprintf(body_path, sizeof body_path, "/proc/self/fd/%d", body_fd);
    }
    fuzz_req f;
    fuzz_req_init(&f);
    const char *p = (const char *)data, *end = p + size;
    const char *ct = fuzz_field(&f, &p, end);
    size_t blen = (size_t)(end - p);
    if (ftruncate(body_fd, 0) != 0 || (blen && pwrite(body_fd, p, blen, 0) != (ssize_t)blen))
        abort();
    if (blen == 0)
        goto out;              /* h_upload_file refuses an empty body first */

    char boundary[MP_BOUNDARY_MAX] = "", rawname[1024] = "", sha[65] = "";
    if (mp_boundary(ct, boundary, sizeof boundary) != 0)
        snprintf(boundary, sizeof boundary, "XyZ");
    int64_t start = 0, size64 = (int64_t)blen;
    if (mp_find_file(&f.r, body_path, size64, boundary, &start, rawname, sizeof rawname) != Q_OK)
        goto out;
    if (start < 0 || start > size64)
        abort();
    int64_t guess = mp_guess_end(body_path, size64, start, boundary);
    if (guess < 0)
        goto out;
    if (guess < start || guess > size64)
        abort();
    int64_t len = guess - start;
    if (len > 0) {
        unsigned char magic[64];
        ssize_t mn = store_pread(body_path, start, magic, len < 64 ? (size_t)len : sizeof magic);
        int is_audio;
        if (mn >= 0)
            store_sniff(magic, (size_t)mn, &is_audio);
    }
    int64_t stop = -1;
    if (mp_scan(&f.r, body_path, start, start + len + MP_BOUNDARY_MAX + 8, boundary, &stop, sha) == Q_OK &&
        stop >= 0 && (stop < start || stop > size64))
        abort();
    char name[STORE_NAME_MAX + 1];
    store_sanitize_name(rawname, name, sizeof name);
out:
    fuzz_req_free(&f);
    return 0;
}
