/* multipart.h - the multipart/form-data reader (multipart.c) used by
 * h_upload_file. Every function reads the body from the file at path (nginx's
 * request body file); errors are recorded on r with api_fail. */
#ifndef QUIRE_MULTIPART_H
#define QUIRE_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"

#define MP_HEAD_MAX (64 * 1024)     /* part headers must be in the first 64 KiB */
#define MP_BOUNDARY_MAX 200

/* The boundary parameter of a multipart Content-Type into out; 0 or -1. */
int mp_boundary(const char *ct, char *out, size_t outsz);
/* Finds the part named "file" (or the first part with a file name) in the
 * first MP_HEAD_MAX bytes: *start is where its data begins, fname gets the
 * client's file name. Scratch memory comes from r->arena. */
qerr mp_find_file(qreq *r, const char *path, int64_t size, const char *boundary, int64_t *start,
                  char *fname, size_t fnsz);
/* Scans [start, limit) for "\r\n--boundary", hashing the bytes before it:
 * *end is where the file's data ends, -1 when no delimiter came. */
qerr mp_scan(qreq *r, const char *path, int64_t start, int64_t limit, const char *boundary, int64_t *end,
             char sha[65]);
/* The last delimiter in the body's last 8 KiB: a guess of the file's end
 * (-1 when none); mp_scan decides. */
int64_t mp_guess_end(const char *path, int64_t size, int64_t start, const char *boundary);

#endif
