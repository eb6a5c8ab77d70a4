/* runner.c - runs one claimed attempt: parses the payload, calls the job
 * type, and reports the outcome to the queue (complete, fail with retry,
 * cancelled). Fencing makes a late report of a lost attempt harmless. */
#include "worker.h"
#include "transport.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
    qerr r = c->tp->ops->progress(c->tp, c->job, percent, message, current, total, &cancel, &e);
    if (r == Q_ERR_LEASE_LOST) {
        atomic_store(&c->lost, 1);
        return Q_ERR_CANCELLED;
    }
    if (cancel)
        atomic_store(&c->cancel, 1);
    return cancel ? Q_ERR_CANCELLED : Q_OK;
}

/* ---- files over HTTP ----------------------------------------------------
 * Job code reads and writes QUIRE_STORAGE/<path> as on the database host.
 * Over HTTP that directory is the worker's scratch area: the runner
 * downloads the payload's "inputs" there before the job runs, uploads the
 * file its result names ("path") after, and removes both. */

static qerr fetch_inputs(qjobctx *c)
{
    const cJSON *in;
    cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(c->payload, "inputs")) {
        if (!cJSON_IsString(in))
            continue;
        qerr e = c->tp->ops->fetch(c->tp, c->job, in->valuestring, &c->err);
        if (e)
            return e;
        if (atomic_load(&c->cancel) || atomic_load(&c->lost))
            return Q_ERR_CANCELLED;
    }
    return Q_OK;
}

static const char *result_file(qjobctx *c)
{
    cJSON *res = NULL;
    qerrctx e = {0};
    if (!c->result || qjson_parse(c->arena, c->result, strlen(c->result), &res, &e) != Q_OK)
        return NULL;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(res, "path");
    return cJSON_IsString(p) && qtransport_rel_ok(p->valuestring) ? p->valuestring : NULL;
}

static qerr store_result_file(qjobctx *c)
{
    const char *rel = result_file(c);
    char abs[1024];
    if (!rel)
        return Q_OK;
    snprintf(abs, sizeof abs, "%s/%s", qconfig_get()->storage_dir, rel);
    if (access(abs, F_OK) != 0)
        return Q_OK;                   /* already published by qjob_output */
    return c->tp->ops->store(c->tp, c->job, rel, &c->err);
}

static void scratch_cleanup(qjobctx *c)
{
    char abs[1024];
    const cJSON *in;
    cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(c->payload, "inputs"))
        if (cJSON_IsString(in) && qtransport_rel_ok(in->valuestring)) {
            snprintf(abs, sizeof abs, "%s/%s", qconfig_get()->storage_dir, in->valuestring);
            unlink(abs);
        }
    const char *rel = result_file(c);
    if (rel) {
        snprintf(abs, sizeof abs, "%s/%s", qconfig_get()->storage_dir, rel);
        unlink(abs);
    }
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
        r = c->tp->ops->ack_cancel(c->tp, j, re);
        if (!r)
            QLOG_I("cancelled");
        return r;
    }
    if (e) {
        const char *msg = c->err.msg[0] ? c->err.msg : qerr_code(e);
        r = c->tp->ops->fail(c->tp, j, msg, !c->permanent, re);
        if (!r)
            QLOG_W("attempt %d failed: %s", j->attempt, msg);
        return r;
    }
    if (t && t->after_complete && c->db) {
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
        if (r == Q_ERR_LEASE_LOST && qqueue_completed_by(c->db, j))
            r = Q_OK;   /* an earlier try's commit got through before the link died */
    } else {
        /* over HTTP a type's after_complete hook has no database to write
         * to: such job code puts what it has in its result instead */
        r = c->tp->ops->complete(c->tp, j, c->result, re);
        if (r == Q_ERR_LEASE_LOST && c->db && qqueue_completed_by(c->db, j))
            r = Q_OK;
    }
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
        /* over HTTP the inputs the payload names come first, into the
         * scratch storage where the job code looks for them */
        e = c->db || worker_stand_in_active() ? Q_OK : fetch_inputs(c);
        if (!e)
            e = t->run(c);
        if (!e && !c->db)
            e = store_result_file(c);
    }
    if (!c->db)
        scratch_cleanup(c);
    qerrctx re = {0};
    qerr r;
    int completed = 0;
    /* The report is retried while the database (or the API) is away, as in
     * a restart: the attempt's token still holds when it is back, unless
     * the lease ran out meanwhile, and then the queue refuses it like any
     * late report. */
    int64_t backoff = 100;
    for (int tries = 0;; tries++) {
        qerr_clear(&re);
        r = report(c, t, e, &completed, &re);
        if ((r != Q_ERR_DB_GONE && r != Q_ERR_UNAVAILABLE) || tries == 20 || atomic_load(&c->lost))
            break;
        if (tries == 0)
            QLOG_W("queue unavailable while reporting; retrying: %s", re.msg);
        qsleep_ms(backoff);
        if (backoff < 2000)
            backoff *= 2;
        if (c->db)
            qdb_ping(c->db);
    }
    if (r == Q_ERR_LEASE_LOST)
        QLOG_W("queue refused the report: %s", re.msg);
    else if (r)
        QLOG_E("could not report the outcome: %s", re.msg);
    qlog_set_context(NULL);
    return completed;
}

qerr qjob_input(qjobctx *c, const char *name, const char **path)
{
    char rel[512];
    qerr e = qtransport_input_rel(c->job, name, rel, sizeof rel, &c->err);
    if (!e)
        e = c->tp->ops->fetch(c->tp, c->job, rel, &c->err);
    if (!e)
        *path = qarena_printf(c->arena, "%s/%s", qconfig_get()->storage_dir, rel);
    return e;
}

/* Copies src into the new file dst; 0 or -1 with errno. */
static int copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[65536];
    ssize_t k;
    int rc = 0;
    while ((k = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)k) != k) {
            rc = -1;
            break;
        }
    if (k < 0 || close(out) != 0)
        rc = -1;
    close(in);
    return rc;
}

qerr qjob_output(qjobctx *c, const char *name, const char *local_path)
{
    char rel[512], abs[1024], tmp[1100], dir[1024];
    qerr e = qtransport_output_rel(c->job, name, rel, sizeof rel, &c->err);
    if (e)
        return e;
    snprintf(abs, sizeof abs, "%s/%s", qconfig_get()->storage_dir, rel);
    if (strcmp(abs, local_path) != 0) {
        snprintf(dir, sizeof dir, "%s", abs);
        *strrchr(dir, '/') = '\0';
        snprintf(tmp, sizeof tmp, "%s.part", abs);
        if (qmkdir_p(dir, 0755) != 0 || (link(local_path, tmp) != 0 && copy_file(local_path, tmp) != 0) ||
            rename(tmp, abs) != 0 || qfile_durable(abs) != 0) {
            int en = errno;
            unlink(tmp);
            return qerr_set(&c->err, qerr_of_errno(en), "cannot store %s: %s", rel, strerror(en));
        }
    }
    return c->tp->ops->store(c->tp, c->job, rel, &c->err);
}
