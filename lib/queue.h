/* queue.h - the job queue over MariaDB. This module is the only code that
 * writes jobs.status (and the columns that go with it: attempts, lease,
 * token, progress, result, error). Everything else asks it.
 *
 * States: waiting -> pending -> running -> completed | failed | cancelled;
 * running -> pending on retry with backoff, lease expiry or release.
 * Every call that acts for a running attempt is fenced by the attempt token
 * given at claim: an attempt that lost its lease gets Q_ERR_LEASE_LOST and
 * changes nothing. */
#ifndef QUIRE_QUEUE_H
#define QUIRE_QUEUE_H

#include <stdint.h>

#include "db.h"

#define QJOB_TYPE_MAX 32
#define QQUEUE_MAX_BATCH 32
#define QQUEUE_PREMIUM_BONUS 10   /* priority bonus of the premium class */

typedef struct qjob_spec {
    const char *type;              /* [a-z0-9_.-]{1,32}                          */
    const char *payload;           /* JSON text; NULL means "{}"                 */
    int priority;                  /* higher first; user range -100..100         */
    int premium;                   /* owner's class: adds QQUEUE_PREMIUM_BONUS   */
    int max_attempts;              /* 0: 3                                       */
    int64_t owner_id;              /* 0: none                                    */
    int64_t audiobook_id;          /* 0: none                                    */
    int64_t parent_id;             /* 0: none                                    */
    const char *idempotency_key;   /* NULL: none; unique per owner               */
    int64_t delay_ms;              /* run no earlier than now + delay            */
    const int64_t *depends_on;     /* the job waits until these completed        */
    int ndeps;
} qjob_spec;

/* Enqueues one job. *job_id gets its id; *existed (may be NULL) is set when
 * the idempotency key matched an existing job, whose id is returned. When
 * db is inside the caller's transaction the job becomes visible with the
 * caller's commit, and the caller calls qqueue_wake after it. */
qerr qqueue_enqueue(qdb *db, const qjob_spec *spec, int64_t *job_id, int *existed, qerrctx *err);
/* Wakes one idle worker parked on the given type (no-op when none). */
void qqueue_wake(qdb *db, const char *type);

/* A claimed attempt. payload is malloc'd: qjob_clear frees it. */
typedef struct qjob {
    int64_t id;
    char type[QJOB_TYPE_MAX + 1];
    char token[48];
    int attempt;                   /* 1 for the first try                        */
    int max_attempts;
    int priority;
    int has_dependents;
    int64_t owner_id, audiobook_id, parent_id;
    char *payload;
} qjob;
void qjob_clear(qjob *j);

/* Claims up to max (<= QQUEUE_MAX_BATCH) pending jobs of one of the types
 * for worker_id: SELECT ... FOR UPDATE SKIP LOCKED, then owner, lease and a
 * fresh token, committed at once. Returns how many were claimed (0..max)
 * into out, or -1 with err set. */
int qqueue_claim(qdb *db, const char *worker_id, const char *const *types, int ntypes, int max,
                 int lease_seconds, qjob *out, qerrctx *err);

/* Extends the lease. *cancel gets the cancel-requested flag. */
qerr qqueue_heartbeat(qdb *db, const qjob *j, int lease_seconds, int *cancel, qerrctx *err);
/* Progress: percent 0..100, message, current of total (0 = not given). */
qerr qqueue_progress(qdb *db, const qjob *j, double percent, const char *message, int current, int total,
                     int *cancel, qerrctx *err);
/* The attempt succeeded; result is JSON text or NULL. */
qerr qqueue_complete(qdb *db, const qjob *j, const char *result, qerrctx *err);
/* Did this very attempt complete the job? (A report retried after the
 * connection died may find its own earlier commit.) */
int qqueue_completed_by(qdb *db, const qjob *j);
/* The attempt failed. retryable and attempts left: back to pending after an
 * exponential backoff with jitter; otherwise failed for good (dead letter)
 * and dependents fail. */
qerr qqueue_fail(qdb *db, const qjob *j, const char *error, int retryable, qerrctx *err);
/* The delay before the retry that this thread's last qqueue_fail scheduled
 * (0 when it failed for good): lets a worker look again when it is due. */
int64_t qqueue_last_retry_delay_ms(void);
/* The worker honoured a cancel request: the job ends cancelled. */
qerr qqueue_ack_cancel(qdb *db, const qjob *j, qerrctx *err);
/* Shutdown: the attempt goes back to pending without spending an attempt. */
qerr qqueue_release(qdb *db, const qjob *j, qerrctx *err);

/* For callers acting by id (API, quirectl). owner_id > 0 restricts to that
 * owner's jobs (another's answer Q_ERR_NOT_FOUND). */
/* Pending or waiting: cancelled at once (*running = 0); running: cancel
 * requested (*running = 1); final: Q_ERR_CONFLICT. */
qerr qqueue_cancel(qdb *db, int64_t job_id, int64_t owner_id, int *running, qerrctx *err);
/* Failed or cancelled back to pending with a fresh set of attempts. */
qerr qqueue_retry(qdb *db, int64_t job_id, int64_t owner_id, qerrctx *err);
/* An external processor's report by id and token (the seed's status
 * endpoint): status "progress" | "completed" | "failed". */
qerr qqueue_report(qdb *db, int64_t job_id, const char *token, const char *status, double percent,
                   const char *message, const char *result, const char *error, qerrctx *err);

/* Housekeeping any process may run, safe concurrently: expired leases go
 * back to pending (or failed when attempts are used up), pending jobs age
 * (+1 priority per QUIRE_AGING_SECONDS waited), waiting jobs whose
 * dependencies all completed are released. Returns leases reaped, or -1. */
int qqueue_reap(qdb *db, qerrctx *err);

/* A worker (re)starting under worker_id: leases its previous run still held
 * expire now, so the reaper hands those jobs out again at once. */
qerr qqueue_expire_worker(qdb *db, const char *worker_id, qerrctx *err);

/* Named counters with atomic increment; *value gets the new value. */
qerr qqueue_counter_add(qdb *db, const char *name, int64_t by, int64_t *value, qerrctx *err);

/* Exponential backoff with jitter for the attempt that just failed (1-based),
 * from QUIRE_RETRY_BASE_MS and QUIRE_RETRY_CAP_MS. */
int64_t qqueue_backoff_ms(int attempt);

/* Valid job type name? */
int qqueue_type_ok(const char *type);

#endif
