/* decode.h - the JSON request decoding of every handler that takes a JSON
 * body: body (already parsed by api_json_body) -> a struct of validated
 * fields, before any SQL and without the database. Each function lives in
 * its handler's file, next to the handler that calls it; errors are
 * recorded on r (api_fail) exactly as the handler replied them before.
 * Strings in the structs point into the body tree or r->arena: they live as
 * long as the request. tests/fuzz/fuzz_json.c runs every one of them on
 * arbitrary bodies. */
#ifndef QUIRE_DECODE_H
#define QUIRE_DECODE_H

#include <stdint.h>

#include "api.h"

/* uploads.c: POST /api/v1/uploads */
typedef struct upload_create_in {
    const char *type;                 /* "single" | "multi" */
    int64_t total_files, total_size;
} upload_create_in;
qerr upload_create_decode(qreq *r, const cJSON *in, upload_create_in *out);

/* accounts.c: POST /api/v1/admin/users and .../users/{id}/tokens */
typedef struct user_create_in {
    const char *name, *prio, *label;
    int role;                         /* QROLE_* */
} user_create_in;
qerr user_create_decode(qreq *r, const cJSON *in, user_create_in *out);
/* the token's label ("api" unless given) */
qerr token_create_decode(qreq *r, const cJSON *in, const char **label);

/* audiobooks.c: POST /api/v1/audiobooks and PUT /api/v1/audiobooks/{id} */
typedef struct audiobook_in {
    const char *upload_pub, *title, *author, *desc, *language, *notify;
    int is_public;                    /* update: -1 when not given */
    int64_t priority;
} audiobook_in;
qerr audiobook_create_decode(qreq *r, const cJSON *in, audiobook_in *out);
qerr audiobook_update_decode(qreq *r, const cJSON *in, audiobook_in *out);

/* jobs.c: POST /api/v1/admin/jobs/{id}/status */
typedef struct job_report_in {
    const char *status, *token, *message, *error;
    double percent;
    char *result;                     /* the "result" as JSON text, or NULL */
} job_report_in;
qerr job_report_decode(qreq *r, const cJSON *in, job_report_in *out);

/* summarize.c: POST /api/v1/summarize */
typedef struct summarize_in {
    const char *text;
    int64_t sentences, priority;
} summarize_in;
qerr summarize_decode(qreq *r, const cJSON *in, summarize_in *out);

/* queue_http.c: the queue over HTTP */
typedef struct rq_create_in {
    const cJSON *payload;             /* the "payload", or the whole body */
    int64_t prio, max_att, delay;
    const char *idem, *notify;
    int64_t deps[64];
    int ndeps;
} rq_create_in;
qerr rq_create_decode(qreq *r, const cJSON *body, rq_create_in *out);
typedef struct rq_claim_in {
    const char *wid;
    int64_t max, wait, lease;
} rq_claim_in;
qerr rq_claim_decode(qreq *r, const cJSON *body, rq_claim_in *out);
/* complete: the result as JSON text (NULL for null), owned by r->arena */
qerr rq_complete_decode(qreq *r, const cJSON *body, char **text);
typedef struct rq_fail_in {
    const char *msg;
    int retryable;
} rq_fail_in;
qerr rq_fail_decode(qreq *r, const cJSON *body, rq_fail_in *out);
typedef struct rq_progress_in {
    double pct;
    const char *msg;
    int64_t cur, tot;
} rq_progress_in;
qerr rq_progress_decode(qreq *r, const cJSON *body, rq_progress_in *out);
typedef struct rq_heartbeat_in {
    int64_t lease;
    int cancelled, release;
} rq_heartbeat_in;
qerr rq_heartbeat_decode(qreq *r, const cJSON *body, rq_heartbeat_in *out);
qerr rq_counter_decode(qreq *r, const cJSON *body, int64_t *by);
typedef struct rq_worker_in {
    const char *wid, *status, *host, *gpu, *types;
    int64_t conc, cur, done, failed;
    char *caps_text, *stats_text;     /* objects as JSON text, or NULL; arena-owned */
} rq_worker_in;
/* type: the {type} of the route, the default of "types" */
qerr rq_worker_decode(qreq *r, const cJSON *body, const char *type, rq_worker_in *out);

/* tts.c: POST /api/v1/tts/queue */
typedef struct tts_chapter_in {
    const char *id, *title, *text;
    int64_t chars;
} tts_chapter_in;
typedef struct tts_in {
    const char *script, *work_id, *title, *author, *format, *notify, *channel, *date;
    int64_t prio, video, total;
    tts_chapter_in *ch;               /* n chapters, arena-owned */
    int n;
} tts_in;
qerr tts_decode(qreq *r, const cJSON *body, tts_in *out);
/* voice_settings (or the seed's voiceSettings) -> {"engine", "voice",
 * "language", "speed", "pitch"} (arena-owned); voices are checked against
 * the built-in ones and those online workers report (none when r->db is
 * NULL). */
qerr tts_parse_voice(qreq *r, const cJSON *body, cJSON **out);

/* blobs.c: the storage path a blob request addresses, from the job's
 * payload, ?path= and the {name} of the route; 403/404/422 otherwise. */
struct qjob;
qerr blob_path(qreq *r, const struct qjob *j, const cJSON *payload, const char *name, int for_write,
               const char **rel);

#endif
