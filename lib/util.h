/* util.h - small shared helpers: clocks, hashing, random tokens, files. */
#ifndef QUIRE_UTIL_H
#define QUIRE_UTIL_H

#include <stddef.h>
#include <stdint.h>

int64_t qnow_ms(void);        /* wall clock, ms since the epoch   */
int64_t qmono_ms(void);       /* monotonic clock, ms               */
int64_t qmono_us(void);
void qsleep_ms(int64_t ms);

/* SHA-256 of buf as 64 lowercase hex characters + NUL into out[65]. */
void qsha256_hex(const void *buf, size_t len, char out[65]);
/* HMAC-SHA256 of msg under key as hex into out[65]. */
void qhmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t len, char out[65]);
/* Incremental SHA-256 for files that arrive in pieces. */
typedef struct qsha256 { void *ctx; } qsha256;
int qsha256_init(qsha256 *h);
void qsha256_update(qsha256 *h, const void *buf, size_t len);
void qsha256_final(qsha256 *h, char out[65]);   /* also frees the context */
/* sha256 of a file's bytes [0, size); returns 0 or -1 with errno. */
int qsha256_file(const char *path, char out[65]);

/* nbytes of randomness from the kernel as hex (out holds 2*nbytes+1). */
int qrandom_hex(char *out, size_t nbytes);
uint64_t qrandom_u64(void);

/* mkdir -p with mode; returns 0 or -1 with errno. */
int qmkdir_p(const char *path, int mode);

/* Makes a file that was just written and named survive a machine crash:
 * its data (fdatasync) and its name (fsync of the directory holding it).
 * What quire acknowledges to a client as stored goes through here first.
 * 0 or -1 with errno (ENOSPC/EIO of delayed writes show up here). */
int qfile_durable(const char *path);
/* Starts writing [off, off + len) of fd to disk without waiting, so that a
 * later qfile_durable has only the tail left (errors are ignored: the
 * later fdatasync reports them). */
void qfile_writeback(int fd, int64_t off, int64_t len);

/* The whole file into a malloc'd, NUL-terminated buffer (the caller frees);
 * NULL when it cannot be read or is larger than max bytes. */
char *qread_file(const char *path, size_t max, size_t *len);

/* A path relative to the storage root as quire makes them (ids, [A-Za-z0-9
 * ._/-], no "..", not absolute): the check for paths carried in payloads. */
int qrel_path_ok(const char *p);

/* Strict decimal parse of a whole string into an int64 in [lo, hi]. */
int qparse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);

#endif
