/* queue.c - the job state machine over MariaDB; the only writer of
 * jobs.status. Claims lock with SKIP LOCKED under READ COMMITTED and commit
 * at once; every later write for an attempt is fenced by its token. Times
 * come from the database clock so workers on other hosts agree on leases. */
#include "queue.h"
#include "config.h"
#include "log.h"
#include "util.h"

#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qqueue_type_ok(const char *type)
{
    size_t n = type ? strlen(type) : 0;
    if (n == 0 || n > QJOB_TYPE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = type[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

void qjob_clear(qjob *j)
{
    if (!j)
        return;
    free(j->payload);
    memset(j, 0, sizeof *j);
}

int64_t qqueue_backoff_ms(int attempt)
{
    const qconfig *c = qconfig_get();
    int64_t d = c->retry_base_ms;
    for (int i = 1; i < attempt && d < c->retry_cap_ms; i++)
        d *= 2;
    if (d > c->retry_cap_ms)
        d = c->retry_cap_ms;
    /* "equal jitter": half fixed, half random, so retries of a burst spread */
    return d / 2 + (int64_t)(qrandom_u64() % (uint64_t)(d / 2 + 1));
}

/* ---- enqueue ---------------------------------------------------------- */

static qerr find_idempotent(qdb *db, qarena *a, int64_t owner, const char *key, int64_t *id, qerrctx *err)
{
    qrows *r = NULL;
    qerr e = qdb_query(db, a, &r, err, "SELECT id FROM jobs WHERE owner_id <=> ? AND idempotency_key = ?", "Is",
                       owner, key);
    if (e)
        return e;
    *id = r->nrows ? qrows_i64(r, 0, 0, 0) : 0;
    return Q_OK;
}

/* Inside a transaction: the state a new job starts in given its deps. */
static qerr deps_state(qdb *db, qarena *a, const qjob_spec *s, const char **status, char *why, size_t whylen,
                       qerrctx *err)
{
    *status = "pending";
    for (int i = 0; i < s->ndeps; i++) {
        qrows *r = NULL;
        /* lock the dependency row so its completion cannot slip between
         * this check and the job_deps insert */
        qerr e = qdb_query(db, a, &r, err, "SELECT status FROM jobs WHERE id = ? FOR UPDATE", "i", s->depends_on[i]);
        if (e)
            return e;
        if (r->nrows == 0)
            return qerr_set(err, Q_ERR_UNPROCESSABLE, "dependency %lld does not exist", (long long)s->depends_on[i]);
        const char *st = qrows_get(r, 0, 0);
        if (!strcmp(st, "failed") || !strcmp(st, "cancelled")) {
            *status = "failed";
            snprintf(why, whylen, "dependency %lld %s", (long long)s->depends_on[i], st);
            return Q_OK;
        }
        if (strcmp(st, "completed") != 0)
            *status = "waiting";
    }
    return Q_OK;
}

static qerr enqueue_in_txn(qdb *db, qarena *a, const qjob_spec *s, int64_t *job_id, int *existed, qerrctx *err)
{
    if (s->idempotency_key) {
        int64_t id = 0;
        qerr e = find_idempotent(db, a, s->owner_id, s->idempotency_key, &id, err);
        if (e)
            return e;
        if (id) {
            *job_id = id;
            if (existed)
                *existed = 1;
            return Q_OK;
        }
    }
    const char *status = "pending";
    char why[256] = "";
    qerr e = deps_state(db, a, s, &status, why, sizeof why, err);
    if (e)
        return e;
    int prio = s->priority + (s->premium ? QQUEUE_PREMIUM_BONUS : 0);
    int failed_now = !strcmp(status, "failed");
    e = qdb_exec(db, err,
                 "INSERT INTO jobs (type, status, priority, base_priority, run_at, aged_at, max_attempts, owner_id,"
                 " audiobook_id, parent_id, payload, idempotency_key, last_error, finished_at)"
                 " VALUES (?, ?, ?, ?, NOW(3) + INTERVAL ? MICROSECOND, NOW(3) + INTERVAL ? MICROSECOND, ?, ?, ?, ?, ?, ?, ?,"
                 " IF(? = 'failed', NOW(3), NULL))",
                 "ssiiiiiIIIssss", s->type, status, (int64_t)prio, (int64_t)prio,
                 s->delay_ms * 1000, s->delay_ms * 1000,
                 (int64_t)(s->max_attempts > 0 ? s->max_attempts : 3), s->owner_id,
                 s->audiobook_id, s->parent_id, s->payload ? s->payload : "{}", s->idempotency_key,
                 failed_now ? why : NULL, status);
    if (e) {
        if (qdb_errno(db) == ER_DUP_ENTRY)      /* a concurrent twin with the same key won */
            return qerr_set(err, Q_ERR_CONFLICT, "a job with this idempotency key is being created");
        return e;
    }
    *job_id = (int64_t)qdb_insert_id(db);
    for (int i = 0; i < s->ndeps && !e; i++) {
        e = qdb_exec(db, err, "INSERT IGNORE INTO job_deps (job_id, depends_on) VALUES (?, ?)", "ii", *job_id,
                     s->depends_on[i]);
        if (!e)
            e = qdb_exec(db, err, "UPDATE jobs SET has_dependents = 1 WHERE id = ?", "i", s->depends_on[i]);
    }
    return e;
}

qerr qqueue_enqueue(qdb *db, const qjob_spec *s, int64_t *job_id, int *existed, qerrctx *err)
{
    if (existed)
        *existed = 0;
    if (!qqueue_type_ok(s->type))
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "job type must be 1-32 characters of a-z 0-9 _ . -");
    if (s->idempotency_key && strlen(s->idempotency_key) > 128)
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "idempotency key longer than 128 bytes");
    if (s->ndeps < 0 || s->ndeps > 1000)
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "at most 1000 dependencies");
    qarena *a = qarena_new();
    if (!a)
        return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    qerr e;
    if (qdb_in_txn(db)) {
        e = enqueue_in_txn(db, a, s, job_id, existed, err);
    } else {
        /* own transaction, retried when the connection was lost */
        for (int tries = 0;; tries++) {
            qerrctx e2 = {0};
            e = qdb_begin(db, &e2);
            if (!e)
                e = enqueue_in_txn(db, a, s, job_id, existed, &e2);
            if (!e)
                e = qdb_commit(db, &e2);
            if (e && qdb_in_txn(db))
                qdb_rollback(db);
            if (e == Q_ERR_DB_GONE && tries < 3) {
                qsleep_ms(200);
                continue;
            }
            if (e)
                qerr_set(err, e, "%s", e2.msg);
            break;
        }
        if (!e && !(existed && *existed))
            qqueue_wake(db, s->type);
    }
    qarena_free(a);
    return e;
}

void qqueue_wake(qdb *db, const char *type)
{
    qarena *a = qarena_new();
    qrows *r = NULL;
    qerrctx e = {0};
    if (a && qdb_query(db, a, &r, &e,
                       "SELECT conn_id FROM worker_waits WHERE woken = 0 AND FIND_IN_SET(?, types)"
                       " AND since > NOW(3) - INTERVAL 10 SECOND ORDER BY since LIMIT 1", "s", type) == Q_OK &&
        r->nrows == 1) {
        uint64_t id = strtoull(qrows_get(r, 0, 0), NULL, 10);
        /* mark first (one waker per waiter; a sleep not started yet sees
         * the mark and skips), then interrupt a sleep under way */
        if (qdb_exec(db, &e, "UPDATE worker_waits SET woken = 1 WHERE conn_id = ? AND woken = 0", "i",
                     (int64_t)id) == Q_OK && qdb_affected(db) == 1) {
            /* KILL takes no bound parameter; id is an unsigned integer
             * formatted by us, so nothing but digits reaches the SQL */
            char sql[64];
            snprintf(sql, sizeof sql, "KILL QUERY %llu", (unsigned long long)id);
            if (mysql_query(qdb_mysql(db), sql) != 0)
                QLOG_D("wake %llu: %s", (unsigned long long)id, mysql_error(qdb_mysql(db)));
        }
    }
    qarena_free(a);
}

/* ---- claim ------------------------------------------------------------ */

static const char claim_select[] =
    "SELECT id, type, attempts, max_attempts, priority, has_dependents, owner_id, audiobook_id, parent_id, payload"
    " FROM jobs FORCE INDEX (ix_jobs_claim) WHERE status = 'pending' AND type = ? AND run_at <= NOW(3)"
    " ORDER BY priority DESC, id LIMIT ? FOR UPDATE SKIP LOCKED";

/* One UPDATE for the whole batch: unused slots hold id 0, which no job has.
 * Only the primary key in the WHERE: the rows are ours (locked by the
 * SELECT), and a status predicate could lead the optimizer to scan and lock
 * the claim index, which deadlocks concurrent claimers. */
static const char claim_update[] =
    "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker_id = ?,"
    " attempt_token = CONCAT(?, '.', id, '.', attempts), lease_expires_at = NOW(3) + INTERVAL ? SECOND,"
    " started_at = NOW(3), cancel_requested = 0"
    " WHERE id IN (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

static qerr claim_one_type(qdb *db, qarena *a, const char *worker_id, const char *type, int max, int lease,
                           qjob *out, int *got, qerrctx *err)
{
    qrows *r = NULL;
    qerr e = qdb_query(db, a, &r, err, claim_select, "si", type, (int64_t)max);
    if (e || r->nrows == 0)
        return e;
    char prefix[17];
    qrandom_hex(prefix, 8);
    int64_t ids[QQUEUE_MAX_BATCH] = {0};
    for (int i = 0; i < r->nrows && i < QQUEUE_MAX_BATCH; i++)
        ids[i] = qrows_i64(r, i, 0, 0);
    e = qdb_exec(db, err, claim_update, "ss" "i" "iiiiiiiiiiiiiiii" "iiiiiiiiiiiiiiii", worker_id, prefix, (int64_t)lease,
                 ids[0], ids[1], ids[2], ids[3], ids[4], ids[5], ids[6], ids[7], ids[8], ids[9], ids[10], ids[11],
                 ids[12], ids[13], ids[14], ids[15], ids[16], ids[17], ids[18], ids[19], ids[20], ids[21], ids[22],
                 ids[23], ids[24], ids[25], ids[26], ids[27], ids[28], ids[29], ids[30], ids[31]);
    if (e)
        return e;
    if (qdb_affected(db) != (uint64_t)r->nrows)
        return qerr_set(err, Q_ERR_INTERNAL, "claimed %d rows but updated %llu", r->nrows,
                        (unsigned long long)qdb_affected(db));
    for (int i = 0; i < r->nrows; i++) {
        qjob *j = &out[*got + i];
        memset(j, 0, sizeof *j);
        j->id = ids[i];
        snprintf(j->type, sizeof j->type, "%s", qrows_get(r, i, 1));
        j->attempt = (int)qrows_i64(r, i, 2, 0) + 1;
        /* the token the UPDATE wrote (SET assigns left to right, so attempts
         * there is already the new count) */
        snprintf(j->token, sizeof j->token, "%s.%lld.%d", prefix, (long long)j->id, j->attempt);
        j->max_attempts = (int)qrows_i64(r, i, 3, 3);
        j->priority = (int)qrows_i64(r, i, 4, 0);
        j->has_dependents = (int)qrows_i64(r, i, 5, 0);
        j->owner_id = qrows_i64(r, i, 6, 0);
        j->audiobook_id = qrows_i64(r, i, 7, 0);
        j->parent_id = qrows_i64(r, i, 8, 0);
        j->payload = strdup(qrows_get(r, i, 9) ? qrows_get(r, i, 9) : "{}");
    }
    *got += r->nrows;
    return Q_OK;
}

int qqueue_claim(qdb *db, const char *worker_id, const char *const *types, int ntypes, int max, int lease,
                 qjob *out, qerrctx *err)
{
    if (max > QQUEUE_MAX_BATCH)
        max = QQUEUE_MAX_BATCH;
    if (max <= 0 || ntypes <= 0)
        return 0;
    qarena *a = qarena_new();
    if (!a) {
        qerr_set(err, Q_ERR_NOMEM, "out of memory");
        return -1;
    }
    int got = 0;
    qerrctx e2 = {0};
    qerr e = qdb_begin(db, &e2);
    /* types in the worker's order, from a rotating start so one busy type
     * cannot starve the others */
    static _Thread_local unsigned rot;
    rot++;
    for (int k = 0; !e && k < ntypes && got < max; k++)
        e = claim_one_type(db, a, worker_id, types[(rot + k) % ntypes], max - got, lease, out, &got, &e2);
    if (!e)
        e = qdb_commit(db, &e2);
    if (e) {
        if (qdb_in_txn(db))
            qdb_rollback(db);
        for (int i = 0; i < got; i++)
            qjob_clear(&out[i]);
        qerr_set(err, e, "%s", e2.msg);
        qarena_free(a);
        return -1;
    }
    qarena_free(a);
    return got;
}

/* ---- a running attempt ------------------------------------------------ */

static qerr lost(const qjob *j, qerrctx *err)
{
    return qerr_set(err, Q_ERR_LEASE_LOST, "job %lld: attempt %d no longer holds the lease", (long long)j->id,
                    j->attempt);
}

static qerr read_cancel(qdb *db, const qjob *j, int *cancel, qerrctx *err)
{
    qarena *a = qarena_new();
    qrows *r = NULL;
    qerr e = qdb_query(db, a, &r, err, "SELECT cancel_requested FROM jobs WHERE id = ? AND attempt_token = ?", "is",
                       j->id, j->token);
    if (!e && r->nrows == 0)
        e = lost(j, err);
    if (!e && cancel)
        *cancel = (int)qrows_i64(r, 0, 0, 0);
    qarena_free(a);
    return e;
}

qerr qqueue_heartbeat(qdb *db, const qjob *j, int lease, int *cancel, qerrctx *err)
{
    qerr e = qdb_exec(db, err,
                      "UPDATE jobs SET lease_expires_at = NOW(3) + INTERVAL ? SECOND"
                      " WHERE id = ? AND attempt_token = ? AND status = 'running'", "iis", (int64_t)lease, j->id, j->token);
    if (e)
        return e;
    if (qdb_affected(db) == 0)
        return lost(j, err);
    return read_cancel(db, j, cancel, err);
}

qerr qqueue_progress(qdb *db, const qjob *j, double percent, const char *message, int current, int total,
                     int *cancel, qerrctx *err)
{
    if (percent < 0)
        percent = 0;
    if (percent > 100)
        percent = 100;
    char msg[256];
    snprintf(msg, sizeof msg, "%s", message ? message : "");
    qerr e = qdb_exec(db, err,
                      "UPDATE jobs SET progress_percent = ?, progress_message = ?, progress_current = ?,"
                      " progress_total = ? WHERE id = ? AND attempt_token = ? AND status = 'running'",
                      "dsiiis", percent, message ? msg : NULL, (int64_t)current, (int64_t)total, j->id, j->token);
    if (e)
        return e;
    if (qdb_affected(db) == 0)
        return lost(j, err);
    return cancel ? read_cancel(db, j, cancel, err) : Q_OK;
}

static void record_attempt(qdb *db, const qjob *j, const char *outcome, const char *error)
{
    qerrctx e = {0};
    qdb_exec(db, &e,
             "INSERT INTO job_attempts (job_id, attempt, worker_id, started_at, outcome, error)"
             " SELECT id, ?, worker_id, started_at, ?, ? FROM jobs WHERE id = ?",
             "issi", (int64_t)j->attempt, outcome, error, j->id);
}

/* A job reached failed or cancelled for good: its waiting dependents fail,
 * and theirs in turn. */
static void fail_dependents(qdb *db, int64_t job_id, const char *why_state)
{
    qarena *a = qarena_new();
    if (!a)
        return;
    int64_t stack[256];
    int n = 0;
    stack[n++] = job_id;
    while (n > 0) {
        int64_t id = stack[--n];
        qrows *r = NULL;
        qerrctx e = {0};
        if (qdb_query(db, a, &r, &e,
                      "SELECT j.id FROM job_deps d JOIN jobs j ON j.id = d.job_id"
                      " WHERE d.depends_on = ? AND j.status IN ('waiting','pending')", "i", id))
            break;
        for (int i = 0; i < r->nrows; i++) {
            int64_t dep = qrows_i64(r, i, 0, 0);
            char msg[160];
            snprintf(msg, sizeof msg, "dependency %lld %s", (long long)id, why_state);
            if (qdb_exec(db, &e,
                         "UPDATE jobs SET status = 'failed', last_error = ?, finished_at = NOW(3)"
                         " WHERE id = ? AND status IN ('waiting','pending')", "si", msg, dep) == Q_OK &&
                qdb_affected(db) == 1 && n < 256)
                stack[n++] = dep;
        }
        why_state = "failed";
    }
    qarena_free(a);
}

/* A job completed: each waiting dependent whose dependencies all completed
 * becomes pending. */
static void release_dependents(qdb *db, int64_t job_id)
{
    qarena *a = qarena_new();
    qrows *r = NULL;
    qerrctx e = {0};
    if (a && qdb_query(db, a, &r, &e,
                       "SELECT j.id, j.type FROM job_deps d JOIN jobs j ON j.id = d.job_id"
                       " WHERE d.depends_on = ? AND j.status = 'waiting'"
                       " AND NOT EXISTS (SELECT 1 FROM job_deps d2 JOIN jobs p ON p.id = d2.depends_on"
                       "   WHERE d2.job_id = j.id AND p.status <> 'completed')", "i", job_id) == Q_OK) {
        for (int i = 0; i < r->nrows; i++) {
            if (qdb_exec(db, &e,
                         "UPDATE jobs SET status = 'pending', run_at = NOW(3), aged_at = NOW(3)"
                         " WHERE id = ? AND status = 'waiting'", "i", qrows_i64(r, i, 0, 0)) == Q_OK &&
                qdb_affected(db) == 1)
                qqueue_wake(db, qrows_get(r, i, 1));
        }
    }
    qarena_free(a);
}

qerr qqueue_complete(qdb *db, const qjob *j, const char *result, qerrctx *err)
{
    qerr e = qdb_exec(db, err,
                      "UPDATE jobs SET status = 'completed', result = ?, finished_at = NOW(3), progress_percent = 100,"
                      " lease_expires_at = NULL WHERE id = ? AND attempt_token = ? AND status = 'running'",
                      "sis", result, j->id, j->token);
    if (e)
        return e;
    if (qdb_affected(db) == 0)
        return lost(j, err);
    if (j->has_dependents)
        release_dependents(db, j->id);
    return Q_OK;
}

int qqueue_completed_by(qdb *db, const qjob *j)
{
    qarena *a = qarena_new();
    qrows *r = NULL;
    qerrctx e = {0};
    int yes = a && qdb_query(db, a, &r, &e, "SELECT 1 FROM jobs WHERE id = ? AND attempt_token = ?"
                             " AND status = 'completed'", "is", j->id, j->token) == Q_OK && r->nrows == 1;
    qarena_free(a);
    return yes;
}

static _Thread_local int64_t last_retry_delay_ms;

int64_t qqueue_last_retry_delay_ms(void) { return last_retry_delay_ms; }

qerr qqueue_fail(qdb *db, const qjob *j, const char *error, int retryable, qerrctx *err)
{
    last_retry_delay_ms = 0;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", error && *error ? error : "failed");
    /* record first: the attempt row must exist even if the job moves on */
    qarena *a = qarena_new();
    qrows *r = NULL;
    qerr e = qdb_query(db, a, &r, err, "SELECT attempts, max_attempts FROM jobs WHERE id = ? AND attempt_token = ?"
                       " AND status = 'running'", "is", j->id, j->token);
    int again = 0;
    if (!e && r->nrows == 0)
        e = lost(j, err);
    if (!e)
        again = retryable && qrows_i64(r, 0, 0, 0) < qrows_i64(r, 0, 1, 0);
    qarena_free(a);
    if (e)
        return e;
    record_attempt(db, j, "failed", msg);
    int64_t delay = again ? qqueue_backoff_ms(j->attempt) : 0;
    if (again)
        e = qdb_exec(db, err,
                     "UPDATE jobs SET status = 'pending', last_error = ?, run_at = NOW(3) + INTERVAL ? MICROSECOND,"
                     " aged_at = NOW(3), worker_id = NULL, attempt_token = NULL, lease_expires_at = NULL"
                     " WHERE id = ? AND attempt_token = ? AND status = 'running'",
                     "siis", msg, delay * 1000, j->id, j->token);
    if (!e && again)
        last_retry_delay_ms = delay;
    else
        e = qdb_exec(db, err,
                     "UPDATE jobs SET status = 'failed', last_error = ?, finished_at = NOW(3), lease_expires_at = NULL"
                     " WHERE id = ? AND attempt_token = ? AND status = 'running'", "sis", msg, j->id, j->token);
    if (e)
        return e;
    if (qdb_affected(db) == 0)
        return lost(j, err);
    if (!again && j->has_dependents)
        fail_dependents(db, j->id, "failed");
    return Q_OK;
}

qerr qqueue_ack_cancel(qdb *db, const qjob *j, qerrctx *err)
{
    record_attempt(db, j, "cancelled", "cancelled at the owner's request");
    qerr e = qdb_exec(db, err,
                      "UPDATE jobs SET status = 'cancelled', last_error = 'cancelled', finished_at = NOW(3),"
                      " lease_expires_at = NULL WHERE id = ? AND attempt_token = ? AND status = 'running'",
                      "is", j->id, j->token);
    if (e)
        return e;
    if (qdb_affected(db) == 0)
        return lost(j, err);
    if (j->has_dependents)
        fail_dependents(db, j->id, "cancelled");
    return Q_OK;
}

qerr qqueue_release(qdb *db, const qjob *j, qerrctx *err)
{
    record_attempt(db, j, "released", "worker shut down; attempt not counted");
    qerr e = qdb_exec(db, err,
                      "UPDATE jobs SET status = 'pending', attempts = GREATEST(attempts - 1, 0), worker_id = NULL,"
                      " attempt_token = NULL, lease_expires_at = NULL, run_at = NOW(3)"
                      " WHERE id = ? AND attempt_token = ? AND status = 'running'", "is", j->id, j->token);
    if (e)
        return e;
    if (qdb_affected(db) == 0)
        return lost(j, err);
    qqueue_wake(db, j->type);
    return Q_OK;
}

/* ---- by id ------------------------------------------------------------ */

static qerr job_status(qdb *db, qarena *a, int64_t id, int64_t owner, const char **status, qerrctx *err)
{
    qrows *r = NULL;
    qerr e = owner > 0
        ? qdb_query(db, a, &r, err, "SELECT status FROM jobs WHERE id = ? AND owner_id = ?", "ii", id, owner)
        : qdb_query(db, a, &r, err, "SELECT status FROM jobs WHERE id = ?", "i", id);
    if (e)
        return e;
    if (r->nrows == 0)
        return qerr_set(err, Q_ERR_NOT_FOUND, "no job %lld", (long long)id);
    *status = qrows_get(r, 0, 0);
    return Q_OK;
}

qerr qqueue_cancel(qdb *db, int64_t id, int64_t owner, int *running, qerrctx *err)
{
    qarena *a = qarena_new();
    const char *st = NULL;
    qerr e = job_status(db, a, id, owner, &st, err);
    *running = 0;
    if (!e) {
        e = qdb_exec(db, err,
                     "UPDATE jobs SET status = 'cancelled', last_error = 'cancelled', finished_at = NOW(3)"
                     " WHERE id = ? AND status IN ('pending','waiting')", "i", id);
        if (!e && qdb_affected(db) == 1) {
            fail_dependents(db, id, "cancelled");
        } else if (!e) {
            e = qdb_exec(db, err, "UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND status = 'running'", "i", id);
            if (!e && qdb_affected(db) == 1)
                *running = 1;
            else if (!e) {
                job_status(db, a, id, 0, &st, err);
                e = qerr_set(err, Q_ERR_CONFLICT, "job %lld is already %s", (long long)id, st ? st : "final");
            }
        }
    }
    qarena_free(a);
    return e;
}

/* Jobs that failed only because job_id did (their last_error names it) wait
 * again, and theirs in turn: a retried transcription re-arms its book. */
static void rearm_dependents(qdb *db, int64_t job_id)
{
    qarena *a = qarena_new();
    if (!a)
        return;
    int64_t stack[256];
    int n = 0;
    stack[n++] = job_id;
    while (n > 0) {
        int64_t id = stack[--n];
        char like[64];
        snprintf(like, sizeof like, "dependency %lld %%", (long long)id);
        qrows *r = NULL;
        qerrctx e = {0};
        if (qdb_query(db, a, &r, &e,
                      "SELECT j.id FROM job_deps d JOIN jobs j ON j.id = d.job_id WHERE d.depends_on = ?"
                      " AND j.status = 'failed' AND j.last_error LIKE ?", "is", id, like))
            break;
        for (int i = 0; i < r->nrows; i++) {
            int64_t dep = qrows_i64(r, i, 0, 0);
            if (qdb_exec(db, &e,
                         "UPDATE jobs SET status = 'waiting', attempts = 0, finished_at = NULL, aged_at = NOW(3)"
                         " WHERE id = ? AND status = 'failed'", "i", dep) == Q_OK && qdb_affected(db) == 1 && n < 256)
                stack[n++] = dep;
        }
    }
    qarena_free(a);
}

qerr qqueue_retry(qdb *db, int64_t id, int64_t owner, qerrctx *err)
{
    qarena *a = qarena_new();
    const char *st = NULL;
    qerr e = job_status(db, a, id, owner, &st, err);
    if (!e) {
        /* back to waiting when a dependency is not completed (yet) */
        e = qdb_exec(db, err,
                     "UPDATE jobs j SET j.status = IF(EXISTS (SELECT 1 FROM job_deps d JOIN jobs p ON p.id = d.depends_on"
                     " WHERE d.job_id = j.id AND p.status <> 'completed'), 'waiting', 'pending'),"
                     " j.attempts = 0, j.run_at = NOW(3), j.aged_at = NOW(3), j.finished_at = NULL,"
                     " j.cancel_requested = 0, j.progress_percent = 0, j.worker_id = NULL, j.attempt_token = NULL"
                     " WHERE j.id = ? AND j.status IN ('failed','cancelled')", "i", id);
        if (!e && qdb_affected(db) == 0)
            e = qerr_set(err, Q_ERR_CONFLICT, "job %lld is %s; only failed or cancelled jobs can be retried",
                         (long long)id, st);
    }
    if (!e) {
        rearm_dependents(db, id);
        qrows *r = NULL;
        if (qdb_query(db, a, &r, err, "SELECT type FROM jobs WHERE id = ?", "i", id) == Q_OK && r->nrows)
            qqueue_wake(db, qrows_get(r, 0, 0));
    }
    qarena_free(a);
    return e;
}

qerr qqueue_report(qdb *db, int64_t id, const char *token, const char *status, double percent,
                   const char *message, const char *result, const char *error, qerrctx *err)
{
    qarena *a = qarena_new();
    qrows *r = NULL;
    qjob j = {0};
    qerr e = qdb_query(db, a, &r, err,
                       "SELECT attempts, has_dependents, type FROM jobs WHERE id = ? AND attempt_token = ?"
                       " AND status = 'running'", "is", id, token ? token : "");
    if (!e && r->nrows == 0)
        e = qerr_set(err, Q_ERR_LEASE_LOST, "job %lld is not running under that attempt token", (long long)id);
    if (!e) {
        j.id = id;
        snprintf(j.token, sizeof j.token, "%s", token);
        j.attempt = (int)qrows_i64(r, 0, 0, 1);
        j.has_dependents = (int)qrows_i64(r, 0, 1, 0);
        snprintf(j.type, sizeof j.type, "%s", qrows_get(r, 0, 2));
        if (!strcmp(status, "progress"))
            e = qqueue_progress(db, &j, percent, message, 0, 0, NULL, err);
        else if (!strcmp(status, "completed"))
            e = qqueue_complete(db, &j, result, err);
        else if (!strcmp(status, "failed"))
            e = qqueue_fail(db, &j, error, 1, err);
        else
            e = qerr_set(err, Q_ERR_UNPROCESSABLE, "status must be progress, completed or failed");
    }
    qarena_free(a);
    return e;
}

/* ---- housekeeping ----------------------------------------------------- */

int qqueue_reap(qdb *db, qerrctx *err)
{
    const qconfig *c = qconfig_get();
    qarena *a = qarena_new();
    if (!a)
        return -1;
    int reaped = 0;
    qrows *r = NULL;
    qerrctx e2 = {0};
    qerr e = qdb_begin(db, &e2);
    if (!e)
        e = qdb_query(db, a, &r, &e2,
                      "SELECT id, attempt_token, attempts, max_attempts, has_dependents, type, worker_id FROM jobs"
                      " WHERE status = 'running' AND lease_expires_at < NOW(3) LIMIT 200 FOR UPDATE SKIP LOCKED", "");
    for (int i = 0; !e && i < r->nrows; i++) {
        qjob j = {0};
        j.id = qrows_i64(r, i, 0, 0);
        snprintf(j.token, sizeof j.token, "%s", qrows_get(r, i, 1) ? qrows_get(r, i, 1) : "");
        j.attempt = (int)qrows_i64(r, i, 2, 1);
        int used_up = qrows_i64(r, i, 2, 0) >= qrows_i64(r, i, 3, 0);
        char msg[200];
        snprintf(msg, sizeof msg, "lease expired: worker %s stopped heartbeating",
                 qrows_get(r, i, 6) ? qrows_get(r, i, 6) : "?");
        record_attempt(db, &j, "lease_expired", msg);
        if (used_up)
            e = qdb_exec(db, &e2,
                         "UPDATE jobs SET status = 'failed', last_error = ?, finished_at = NOW(3), lease_expires_at = NULL"
                         " WHERE id = ? AND attempt_token = ? AND status = 'running'", "sis", msg, j.id, j.token);
        else
            e = qdb_exec(db, &e2,
                         "UPDATE jobs SET status = 'pending', last_error = ?, run_at = NOW(3) + INTERVAL ? MICROSECOND,"
                         " aged_at = NOW(3), worker_id = NULL, attempt_token = NULL, lease_expires_at = NULL"
                         " WHERE id = ? AND attempt_token = ? AND status = 'running'",
                         "siis", msg, qqueue_backoff_ms(j.attempt) * 1000, j.id, j.token);
        if (!e && qdb_affected(db) == 1) {
            reaped++;
            QLOG_I("job %lld: %s; %s", (long long)j.id, msg, used_up ? "attempts used up, failed" : "back to pending");
            if (used_up && qrows_i64(r, i, 4, 0))
                fail_dependents(db, j.id, "failed");
        }
    }
    if (!e)
        e = qdb_commit(db, &e2);
    if (e && qdb_in_txn(db))
        qdb_rollback(db);
    /* aging: a pending job gains a point per aging period waited */
    if (!e && c->aging_seconds > 0)
        e = qdb_exec(db, &e2,
                     "UPDATE jobs SET priority = priority + 1, aged_at = NOW(3) WHERE status = 'pending'"
                     " AND aged_at < NOW(3) - INTERVAL ? SECOND AND priority < base_priority + 1000 LIMIT 1000",
                     "i", (int64_t)c->aging_seconds);
    /* safety net: dependents whose release was interrupted by a crash */
    if (!e)
        e = qdb_query(db, a, &r, &e2,
                      "SELECT j.id FROM jobs j WHERE j.status = 'waiting' AND NOT EXISTS (SELECT 1 FROM job_deps d"
                      " JOIN jobs p ON p.id = d.depends_on WHERE d.job_id = j.id AND p.status <> 'completed') LIMIT 100", "");
    for (int i = 0; !e && i < r->nrows; i++)
        qdb_exec(db, &e2, "UPDATE jobs SET status = 'pending', run_at = NOW(3), aged_at = NOW(3)"
                 " WHERE id = ? AND status = 'waiting'", "i", qrows_i64(r, i, 0, 0));
    qarena_free(a);
    if (e) {
        qerr_set(err, e, "%s", e2.msg);
        return -1;
    }
    return reaped;
}

qerr qqueue_expire_worker(qdb *db, const char *worker_id, qerrctx *err)
{
    return qdb_exec(db, err, "UPDATE jobs SET lease_expires_at = NOW(3) - INTERVAL 1 SECOND"
                    " WHERE status = 'running' AND worker_id = ?", "s", worker_id);
}

qerr qqueue_counter_add(qdb *db, const char *name, int64_t by, int64_t *value, qerrctx *err)
{
    if (!name || !*name || strlen(name) > 128)
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "counter names are 1-128 bytes");
    /* LAST_INSERT_ID(expr) hands the new value back on this connection */
    qerr e = qdb_exec(db, err,
                      "INSERT INTO counters (name, value) VALUES (?, LAST_INSERT_ID(?))"
                      " ON DUPLICATE KEY UPDATE value = LAST_INSERT_ID(value + ?)", "sii", name, by, by);
    if (e)
        return e;
    *value = (int64_t)qdb_insert_id(db);
    return Q_OK;
}
