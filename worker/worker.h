/* worker.h - quire-worker's umbrella header: the per-job context handed to
 * job code, checkpoints, and the registry of job types. */
#ifndef QUIRE_WORKER_H
#define QUIRE_WORKER_H

#include <stdatomic.h>
#include <stdint.h>

#include "arena.h"      /* the per-job arena                          */
#include "config.h"     /* QUIRE_* settings                           */
#include "db.h"         /* this slot's own MariaDB connection         */
#include "err.h"        /* the error enum; the job's error exit       */
#include "json.h"       /* payload and result                         */
#include "log.h"        /* one line per event, with the job id        */
#include "queue.h"      /* claims, leases, completion                 */

/* One running attempt. The runner owns it; job code reads the payload,
 * writes result (arena text) or an error, and calls qjob_checkpoint often. */
typedef struct qjobctx {
    qjob *job;
    qdb *db;                 /* the slot's connection, for the job's own rows */
    qarena *arena;           /* freed after the attempt ends                  */
    const char *worker_id;
    cJSON *payload;          /* parsed job->payload (arena-owned)             */
    const char *result;      /* JSON text for jobs.result, or NULL            */
    int permanent;           /* set with an error: do not retry               */
    atomic_int cancel;       /* the owner asked to cancel                     */
    atomic_int lost;         /* the lease is gone: stop, write nothing        */
    int64_t last_progress_ms;
    qerrctx err;
} qjobctx;

/* Job code calls this between chunks of work: records progress (at most a
 * few writes per second) and returns Q_ERR_CANCELLED when the job must stop
 * (cancel requested or lease lost), else Q_OK. percent 0..100. */
qerr qjob_checkpoint(qjobctx *c, double percent, const char *message, int current, int total);

typedef qerr (*qjob_fn)(qjobctx *c);
typedef void (*qjob_after_fn)(qjobctx *c);

typedef struct qjob_type {
    const char *name;
    qjob_fn run;
    qjob_after_fn after_complete;   /* writes the job's own rows in the completion's
                                       transaction (c->db is inside it)        */
} qjob_type;

/* jobs.c: the table of job types this binary can run. */
const qjob_type *worker_job_type(const char *name);
const char *worker_all_types(void);      /* comma separated */

/* The job types, one file each. */
qerr job_noop(qjobctx *c);
void job_noop_after(qjobctx *c);
qerr job_transcribe(qjobctx *c);          /* job_transcribe.c */
void job_transcribe_after(qjobctx *c);
qerr job_summarize(qjobctx *c);           /* job_text.c */
void job_summarize_after(qjobctx *c);
qerr job_tag(qjobctx *c);
void job_tag_after(qjobctx *c);
qerr job_embed(qjobctx *c);
void job_embed_after(qjobctx *c);
qerr job_tts(qjobctx *c);                 /* job_tts.c */
qerr job_assemble(qjobctx *c);

#endif
