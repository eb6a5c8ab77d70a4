/* runner.c - runs one claimed attempt: parses the payload, calls the job
 * type, and reports the outcome to the queue (complete, fail with retry,
 * cancelled). Fencing makes a late report of a lost attempt harmless. */
#include "worker.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* Progress is written at most every 250 ms (plus the last step). */
#define CHECKPOINT_EVERY_MS 250

qerr qjob_checkpoint(qjobctx *c, double percent, const char *message, int current, int total)
{
    if (atomic_load(&c->lost) || atomic_load(&c->cancel))
        return Q_ERR_CANCELLED;
    /* a job that ends within the first interval writes no progress at all:
     * completion says 100% anyway */
    int64_t now = qmono_ms();
    if (now - c->last_progress_ms < CHECKPOINT_EVERY_MS)
        return Q_OK;
    c->last_progress_ms = now;
    int cancel = 0;
    qerrctx e = {0};
    qerr r = qqueue_progress(c->db, c->job, percent, message, current, total, &cancel, &e);
    if (r == Q_ERR_LEASE_LOST) {
        atomic_store(&c->lost, 1);
        return Q_ERR_CANCELLED;
    }
    if (cancel)
        atomic_store(&c->cancel, 1);
    return cancel ? Q_ERR_CANCELLED : Q_OK;
}

/* One try at telling the queue how the attempt ended. *completed is set
 * when a completion was accepted. */
static qerr report(qjobctx *c, const qjob_type *t, qerr e, int *completed, qerrctx *re)
{
    qjob *j = c->job;
    qerr r;
    if (atomic_load(&c->lost)) {
        QLOG_W("lease lost while running; result discarded");
        return Q_ERR_LEASE_LOST;
    }
    if (e == Q_ERR_CANCELLED || (e && atomic_load(&c->cancel))) {
        r = qqueue_ack_cancel(c->db, j, re);
        if (!r)
            QLOG_I("cancelled");
        return r;
    }
    if (e) {
        const char *msg = c->err.msg[0] ? c->err.msg : qerr_code(e);
        r = qqueue_fail(c->db, j, msg, !c->permanent, re);
        if (!r)
            QLOG_W("attempt %d failed: %s", j->attempt, msg);
        return r;
    }
    if (t && t->after_complete) {
        /* the job's own rows commit with its completion, or not at all */
        r = qdb_begin(c->db, re);
        if (!r)
            r = qqueue_complete(c->db, j, c->result, re);
        if (!r)
            t->after_complete(c);
        if (!r)
            r = qdb_commit(c->db, re);
        if (r && qdb_in_txn(c->db))
            qdb_rollback(c->db);
    } else {
        r = qqueue_complete(c->db, j, c->result, re);
    }
    if (r == Q_ERR_LEASE_LOST && qqueue_completed_by(c->db, j))
        r = Q_OK;       /* an earlier try's commit got through before the link died */
    *completed = !r;
    return r;
}

/* Runs and reports. Returns 1 when the job completed, 0 otherwise. */
int worker_run_job(qjobctx *c);
int worker_run_job(qjobctx *c)
{
    qjob *j = c->job;
    char ctx[32];
    snprintf(ctx, sizeof ctx, "job-%lld", (long long)j->id);
    qlog_set_context(ctx);
    const qjob_type *t = worker_job_type(j->type);
    qerr e;
    c->last_progress_ms = qmono_ms();
    if (!t) {
        e = qerr_set(&c->err, Q_ERR_UNPROCESSABLE, "this worker cannot run jobs of type '%s'", j->type);
        c->permanent = 1;
    } else if (qjson_parse(c->arena, j->payload, strlen(j->payload), &c->payload, &c->err) != Q_OK ||
               !cJSON_IsObject(c->payload)) {
        e = qerr_set(&c->err, Q_ERR_INVALID, "payload is not a JSON object");
        c->permanent = 1;
    } else {
        e = t->run(c);
    }
    qerrctx re = {0};
    qerr r;
    int completed = 0;
    /* The report is retried while the database is away (a restart): the
     * attempt's token still holds when it is back, unless the lease ran out
     * meanwhile, and then the queue refuses it like any late report. */
    int64_t backoff = 100;
    for (int tries = 0;; tries++) {
        qerr_clear(&re);
        r = report(c, t, e, &completed, &re);
        if (r != Q_ERR_DB_GONE || tries == 20 || atomic_load(&c->lost))
            break;
        qsleep_ms(backoff);
        if (backoff < 2000)
            backoff *= 2;
        qdb_ping(c->db);
        if (tries == 0)
            QLOG_W("database unavailable while reporting; retrying: %s", re.msg);
    }
    if (r == Q_ERR_LEASE_LOST)
        QLOG_W("queue refused the report: %s", re.msg);
    else if (r)
        QLOG_E("could not report the outcome: %s", re.msg);
    qlog_set_context(NULL);
    return completed;
}
