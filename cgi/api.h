/* api.h - quire-api's umbrella header: the request context every handler
 * gets, the reply functions, the router, and the handlers' declarations. */
#ifndef QUIRE_API_H
#define QUIRE_API_H

#include <fcgiapp.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "accounts.h"   /* users, tokens, roles                */
#include "arena.h"      /* the per-request arena               */
#include "config.h"     /* QUIRE_* settings                    */
#include "db.h"         /* this thread's MariaDB connection    */
#include "err.h"        /* the error enum, carried to api_fail */
#include "json.h"       /* cJSON helpers                       */
#include "log.h"        /* one line per event                  */

#define API_MAX_PARAMS 6
#define API_VERSION "0.1.0"

/* Everything a handler needs; lives for one request. Memory from r->arena
 * is freed when the reply is sent, with the cleanups registered on it. */
typedef struct qreq {
    FCGX_Request *fcgi;
    qarena *arena;
    qdb *db;                     /* NULL when the database is unreachable    */
    const char *method;
    const char *path;            /* without the query string, canonical form */
    const char *query;           /* "" when none                             */
    const char *params[API_MAX_PARAMS];  /* {placeholders} of the route      */
    int nparams;
    const char *route;           /* the matched pattern, for metrics         */
    char request_id[17];
    quser user;                  /* valid when authed                        */
    int authed;
    int status;                  /* status sent, for the access log          */
    int replied;
    qerrctx err;
    const char *err_headers;     /* "Name: value\r\n" lines sent with an error */
    int capture;                 /* idempotency: keep a copy of the reply    */
    char *cap_body;              /* the reply's body and extra headers,      */
    size_t cap_len;              /* arena-owned, when capture was set        */
    char *cap_headers;
} qreq;

typedef qerr (*qhandler)(qreq *r);

/* Access rules of a route. */
enum { AUTH_NONE = 0, AUTH_USER, AUTH_ADMIN, AUTH_WORKER };

typedef struct qroute {
    const char *method;
    const char *pattern;         /* "/api/v1/jobs/{id}"                      */
    qhandler fn;
    int auth;
} qroute;

/* http.c: the request's parts and the replies. */
const char *api_param(qreq *r, const char *name);           /* FastCGI param */
const char *api_header(qreq *r, const char *name);          /* "Content-Type" */
/* A query string value (decoded, arena-owned), or NULL. */
const char *api_query(qreq *r, const char *name);
/* Reads the whole body (from stdin or nginx's body file) up to max bytes:
 * Q_ERR_TOO_LARGE beyond. The buffer is arena-owned and NUL-terminated. */
qerr api_body(qreq *r, size_t max, char **buf, size_t *len);
/* Parses the body as a JSON object (size limit QUIRE_MAX_JSON_BYTES). */
qerr api_json_body(qreq *r, cJSON **out);
/* Sends status with a JSON body (the tree is not freed: it is the caller's
 * or the arena's). extra_headers: NULL or "Name: value\r\n" lines. */
qerr api_reply_json(qreq *r, int status, const cJSON *body, const char *extra_headers);
/* A new object owned by the request's arena. */
cJSON *api_obj(qreq *r);
/* Sends a body of given content type. */
qerr api_reply_raw(qreq *r, int status, const char *ctype, const void *body, size_t len, const char *extra_headers);
/* The one exit for errors: {"error": {"code", "message", "request_id"}}. */
void api_reply_error(qreq *r, qerr code, const char *message);
/* Records the error on r and returns code (for `return api_fail(r, ...)`). */
qerr api_fail(qreq *r, qerr code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A path parameter as a positive integer id; 404 when it is not one. */
qerr api_param_id(qreq *r, int i, int64_t *id);
/* Requires the database; 503 when this thread has none. */
qerr api_need_db(qreq *r);

/* http.c: non-zero once SIGTERM arrived (long polls end early); main.c
 * sets it. */
int api_stopping(void);
void api_set_stopping(void);

/* router.c */
extern const qroute api_routes[];
extern const int api_nroutes;
/* The route of r->method and r->path (which becomes canonical: admin
 * aliases resolved, no trailing slash), r->params filled; NULL when none,
 * *path_known telling 405 from 404. Needs only r->arena. */
const qroute *api_route_find(qreq *r, int *path_known);
void api_dispatch(qreq *r);

/* auth.c */
qerr api_authenticate(qreq *r);
/* Drops a token (token_id <= 0: every token) from this process's cache of
 * recent lookups; called when a token is revoked. */
void api_auth_forget(int64_t token_id);

/* ratelimit.c: per-token token bucket (QUIRE_RATE_LIMIT per minute);
 * Q_ERR_RATE_LIMITED with Retry-After when the bucket is empty. */
qerr api_rate_limit(qreq *r);

/* idempotency.c: Idempotency-Key on POSTs. api_idem_begin either replies
 * with the stored first response (*replayed = 1) or arms capture; after the
 * handler, api_idem_finish stores (status < 500) or forgets the reply. */
qerr api_idem_begin(qreq *r, int *replayed);
void api_idem_finish(qreq *r);

/* integrity.c: what the client says it sent. api_sha256_hex_ok: 1 when s is
 * 64 hex digits. api_expected_sha256: compares the stored file's sha256
 * (have, hex) with the optional X-Content-SHA256 header; Q_OK when absent or
 * equal, else the error on r (400 malformed, 422 mismatch). The caller then
 * removes what it stored. */
int api_sha256_hex_ok(const char *s);
qerr api_expected_sha256(qreq *r, const char *have);
/* A header value quire echoes, made safe: CR, LF, NUL and other controls
 * (and '"', '\\' when quoted is set, for quoted-string parameters) become
 * '_', so a value can never start a header line of its own. Arena-owned. */
const char *api_header_value(qreq *r, const char *v, int quoted);

/* store.c: files under QUIRE_STORAGE. Storage paths are relative to it and
 * made only from ids; client file names never reach the file system. */
#define STORE_NAME_MAX 200
/* A random UUID v4 into out[37]. */
void store_uuid(char out[37]);
/* The absolute path of a relative storage path (arena-owned). */
const char *store_abs(qreq *r, const char *rel);
/* A client file name made safe for display: the last path component, no
 * control characters, NUL, slashes or backslashes, no leading dots, valid
 * UTF-8 cut to STORE_NAME_MAX bytes; "file" when nothing is left. Invalid
 * and overlong UTF-8 (C0 AF, E0 80 AF) is dropped byte by byte; invisible
 * characters (C1 controls, bidi overrides/isolates such as U+202E,
 * zero-width, U+2028/9) are dropped; look-alike slashes (U+FF0F, U+2215,
 * U+2044, ...) become '_'. docs/reliability.md has the table. */
void store_sanitize_name(const char *in, char *out, size_t outsz);
/* Names the type of a file from its first bytes (Q_AUDIO_MAGIC_WANT of
 * them): an audio format by lib/audio_magic ("mp3", "mp4", "flac", "ogg",
 * "wav") with *is_audio = 1, or what else it looks like ("pdf", "png",
 * "text", ... "unknown binary data"). */
const char *store_sniff(const unsigned char *buf, size_t len, int *is_audio);
/* The file extension stored for an audio format (".mp3", ...). */
const char *store_ext(const char *format);
/* Reads up to n bytes at off of path into buf; returns bytes read or -1. */
ssize_t store_pread(const char *path, int64_t off, void *buf, size_t n);
/* Puts bytes [off, off + len) of src (nginx's body file) at dst_rel: a hard
 * link when that is the whole file, else copy_file_range. The directory is
 * created. sha256 (may be NULL) gets the stored bytes' hash, unless
 * sha_known is given (then it is copied). */
qerr store_place(qreq *r, const char *src, int64_t off, int64_t len, const char *dst_rel, char sha256[65]);
/* A copy of bytes [off, off + len) of src to dst_rel on a thread of its own
 * (copy_file_range), so the caller can hash and check the same bytes
 * meanwhile. store_copy_finish waits for it, then cuts the copy to keep
 * bytes when 0 <= keep < len; on any error the copy is removed. A started
 * copy must be finished. */
typedef struct store_copy {
    pthread_t th;
    const char *src, *dst;
    int64_t off, len;
    int err, started;
} store_copy;
qerr store_copy_start(qreq *r, store_copy *c, const char *src, int64_t off, int64_t len, const char *dst_rel);
qerr store_copy_finish(qreq *r, store_copy *c, int64_t keep);
/* SHA-256 of path's bytes [off, limit) (pread). With a needle,
 * stops at its first occurrence at or after off: *hit gets its position
 * (-1 when none) and only the bytes before it are hashed. 0 or -1/errno. */
int store_hash_range(const char *path, int64_t off, int64_t limit, const char *needle, size_t nlen, int64_t *hit,
                     char sha[65]);
/* bodytap.c: upload bodies hashed while nginx receives them, from the
 * directory nginx writes them to; multipart parts also written to a staging
 * file under stage (a directory on the storage file system). A claim gets
 * the SHA-256 of the body file at path from start: to its end (needle NULL)
 * or to the first needle (the multipart delimiter), *end being where the
 * hashed bytes stop; staged (may be NULL) gets the path of a staging file
 * holding exactly those bytes, which the caller then owns (renames into
 * place or removes), or "". -1 when the tap cannot vouch for exactly that
 * range; the caller hashes for itself. forget drops what the tap holds of
 * a body no claim will come for. */
int api_bodytap_start(const char *dir, const char *stage);
void api_bodytap_stop(void);
int api_bodytap_claim(const char *path, int64_t start, const char *needle, size_t nlen, int64_t *end, char sha[65],
                      char *staged, size_t stagedsz);
void api_bodytap_forget(const char *path);
/* tus.c: finished tus files whose sha256 came from the running digest,
 * and those hashed whole (a restart or another process in between). */
void api_tus_digest_counts(long long *running, long long *rehashed);
/* Claims answered by the tap and claims that were not, since start. */
void api_bodytap_counts(long long *hits, long long *misses);
/* Renames abs (a file on the storage file system, such as the upload
 * tap's staging file) to dst_rel; abs is removed whatever happens. */
qerr store_adopt(qreq *r, const char *abs, const char *dst_rel);
/* Appends [0, len) of src to dst_rel at offset at (tus chunks). */
qerr store_append(qreq *r, const char *src, int64_t len, const char *dst_rel, int64_t at);
/* Removes a file, or a directory tree, under storage; missing is fine. */
void store_remove(qreq *r, const char *rel);
/* Hard-links (or copies) one stored file to another storage path. */
qerr store_link(qreq *r, const char *src_rel, const char *dst_rel);

/* Shared by the resource files. */
/* Is the caller an admin? */
static inline int api_is_admin(const qreq *r) { return r->user.role == QROLE_ADMIN; }
/* page/per_page query parameters: page >= 1, 1 <= per_page <= 100. */
qerr api_paging(qreq *r, int64_t *page, int64_t *per_page);

/* Handlers, one file per resource. */
qerr h_health(qreq *r);
qerr h_ping(qreq *r);
qerr h_me(qreq *r);
/* uploads.c */
qerr h_upload_create(qreq *r);
qerr h_upload_get(qreq *r);
qerr h_upload_progress(qreq *r);
qerr h_upload_delete(qreq *r);
qerr h_upload_file(qreq *r);
qerr h_upload_list(qreq *r);
/* Loads the caller's (or, for admins, anyone's) upload by public id:
 * *id, *owner, *total_files; 404 otherwise. */
qerr upload_lookup(qreq *r, const char *public_id, int64_t *id, int64_t *owner, int64_t *total_files);
/* Records a stored file as the next file of the upload (status updated);
 * storage_rel is already in place. Fills the reply object when out given. */
qerr upload_add_file(qreq *r, int64_t upload_id, const char *upload_pub, const char *file_pub,
                     const char *name, const char *storage_rel, int64_t size, const char *sha,
                     const char *format, cJSON *out);
/* tus.c */
qerr h_tus_options(qreq *r);
qerr h_tus_create(qreq *r);
qerr h_tus_head(qreq *r);
qerr h_tus_patch(qreq *r);
qerr h_tus_delete(qreq *r);
/* audiobooks.c */
qerr h_audiobook_create(qreq *r);
qerr h_audiobook_list(qreq *r);
qerr h_audiobook_get(qreq *r);
qerr h_audiobook_update(qreq *r);
qerr h_audiobook_delete(qreq *r);
qerr h_audiobook_jobs(qreq *r);
/* jobs.c */
qerr h_job_get(qreq *r);
qerr h_job_list(qreq *r);
qerr h_job_cancel(qreq *r);
qerr h_job_retry(qreq *r);
qerr h_job_report(qreq *r);
/* admin.c */
qerr h_admin_users(qreq *r);
qerr h_admin_user_create(qreq *r);
qerr h_admin_user_tokens(qreq *r);
qerr h_admin_token_create(qreq *r);
qerr h_admin_token_revoke(qreq *r);
qerr h_admin_queue_stats(qreq *r);
qerr h_admin_workers(qreq *r);
qerr h_audiobook_transcript(qreq *r);     /* transcripts.c */
qerr h_audiobook_chapter_audio(qreq *r);
qerr h_search(qreq *r);                   /* search.c */
qerr h_summarize(qreq *r);                /* summarize.c */

/* remote workers, TTS, metrics (issue 5) */
/* queue_http.c: the queue over HTTP for remote workers. */
qerr h_rq_create(qreq *r);
qerr h_rq_claim(qreq *r);
qerr h_rq_complete(qreq *r);
qerr h_rq_fail(qreq *r);
qerr h_rq_progress(qreq *r);
qerr h_rq_heartbeat(qreq *r);
qerr h_rq_list(qreq *r);
qerr h_rq_stats(qreq *r);
qerr h_rq_counter(qreq *r);
qerr h_rq_worker_heartbeat(qreq *r);
qerr h_rq_workers(qreq *r);
/* Loads the running attempt of job id (of type, when not NULL) presented
 * with token into *j (payload not loaded): 404 when no such job, 409
 * lease_lost when the token no longer holds. */
struct qjob;
qerr rq_load_attempt(qreq *r, const char *type, int64_t id, const char *token, struct qjob *j);
/* blobs.c: a running job's input download and checksummed output upload. */
qerr h_blob_get(qreq *r);
qerr h_blob_put(qreq *r);
/* A storage path relative to QUIRE_STORAGE that cannot leave it:
 * [A-Za-z0-9_.-/], no leading '/' or '.', no "/." or "//". */
int api_safe_rel_path(const char *p);
/* tts.c: text-to-speech requests and voices. */
qerr h_tts_create(qreq *r);
qerr h_tts_get(qreq *r);
qerr h_tts_cancel(qreq *r);
qerr h_tts_list(qreq *r);
qerr h_tts_audio(qreq *r);
qerr h_tts_chapter_audio(qreq *r);
qerr h_voices(qreq *r);
/* notifications.c: the caller's webhook deliveries; the delivery thread. */
qerr h_notifications(qreq *r);
void api_notifier_start(void);
void api_notifier_stop(void);
/* metrics.c: GET /metrics; main.c calls api_metrics_observe after every
 * request; upload handlers may add bytes received. */
qerr h_metrics(qreq *r);
void api_metrics_observe(const qreq *r, double seconds);
void api_metrics_upload_bytes(int64_t n);

#endif
