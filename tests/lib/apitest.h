/* apitest.h - fixtures of the API's integration tests (test_api_*): fresh
 * users, audio files made at test time, upload sessions, audiobooks, and a
 * raw socket for requests libcurl will not send (a body cut mid-way). */
#ifndef QUIRE_APITEST_H
#define QUIRE_APITEST_H

#include <stddef.h>

#include "http.h"

/* A new user ("<prefix>-<pid>-<n>") and its token; malloc'd. */
char *at_user(const char *prefix, int admin);
/* A WAV file of secs seconds of a sine tone in the tests' temp directory;
 * the path is malloc'd. */
char *at_wav(const char *name, double secs);
/* The test temp directory (created once, removed at exit). */
const char *at_tmpdir(void);
/* Reads a whole file (malloc'd) into *len; NULL when it cannot. */
char *at_slurp(const char *path, size_t *len);
/* Sha-256 of a file as hex (static buffer). */
const char *at_sha256_file(const char *path);

/* An upload session of the token's user: returns upload_id (malloc'd). */
char *at_upload(const char *tok, const char *type, int total_files);
/* A raw-body file upload; returns the file_id (malloc'd) or NULL; *status
 * gets the HTTP status when given. */
char *at_upload_raw(const char *tok, const char *upload_id, const char *path, const char *name, long *status);
/* An audiobook from a one-file upload of a short WAV; its id (malloc'd).
 * upload_out (may be NULL) gets the upload id (malloc'd). */
char *at_book(const char *tok, char **upload_out);
/* The same with extra JSON members for the create body ("\"priority\":100"). */
char *at_book_ex(const char *tok, char **upload_out, const char *extra);
/* The ids of an audiobook's jobs (from GET .../jobs), up to max. */
int at_book_jobs(const char *tok, const char *book, long long *ids, int max);
/* How many regular files are under $QUIRE_STORAGE/<rel> (0 if missing). */
int at_storage_files(const char *rel);

/* Sends raw bytes to the stack's nginx, reads the reply until close or
 * timeout_ms; returns the HTTP status (0 when none came). When cut > 0 the
 * connection is closed after sending that many bytes, before any reply. */
int at_raw_http(const void *req, size_t len, size_t cut, int timeout_ms, char *reply, size_t replysz);

/* The tus protocol header every tus request carries. */
#define AT_TUS "Tus-Resumable: 1.0.0"
/* POST .../tus of upload up: the new slot's path (malloc'd) or NULL;
 * *status gets the HTTP status (0 when none came). meta may be NULL. */
char *at_tus_create(const char *tok, const char *up, long long length, const char *meta, long *status);
/* HEAD of a tus slot (a path): its Upload-Offset, -1 when it has none;
 * *status (may be NULL) gets the HTTP status. */
long long at_tus_head(const char *tok, const char *slot, long *status);
/* The value of one series of this stack's /metrics, given as it is written
 * there (`quire_x_total{a="b"}`); -1 when absent. */
long long at_metric(const char *series);
#endif
