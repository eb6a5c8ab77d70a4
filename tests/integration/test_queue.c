/* test_queue.c - the queue and the worker daemon against the real MariaDB
 * of the test stack, in a database of their own: claims, fencing, leases,
 * retries, priorities and aging, cancellation, dependencies, idempotency,
 * SIGKILL and SIGTERM of workers, idle exit, a MariaDB restart under load,
 * and 8 workers x 20,000 jobs completed exactly once. */
#include "db.h"
#include "http.h"
#include "migrate.h"
#include "queue.h"
#include "t.h"
#include "util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static qdb *db;
static char dbname[64];

static int64_t sql_int(const char *sql, const char *types, int64_t a1, int64_t a2)
{
    qarena *a = qarena_new();
    qrows *r = NULL;
    qerrctx e = {0};
    int64_t v = -1;
    qerr x = types[0] == 0 ? qdb_query(db, a, &r, &e, sql, "")
           : types[1] == 0 ? qdb_query(db, a, &r, &e, sql, types, a1)
                           : qdb_query(db, a, &r, &e, sql, types, a1, a2);
    if (x == Q_OK && r->nrows > 0)
        v = qrows_i64(r, 0, 0, -1);
    else if (x)
        fprintf(stderr, "sql_int: %s\n", e.msg);
    qarena_free(a);
    return v;
}

static char *job_status(int64_t id)
{
    static char st[32];
    qarena *a = qarena_new();
    qrows *r = NULL;
    qerrctx e = {0};
    st[0] = 0;
    if (qdb_query(db, a, &r, &e, "SELECT status FROM jobs WHERE id = ?", "i", id) == Q_OK && r->nrows)
        snprintf(st, sizeof st, "%s", qrows_get(r, 0, 0));
    qarena_free(a);
    return st;
}

static int wait_status(int64_t id, const char *status, int timeout_ms)
{
    int64_t end = qmono_ms() + timeout_ms;
    while (qmono_ms() < end) {
        if (!strcmp(job_status(id), status))
            return 1;
        qsleep_ms(25);
    }
    return 0;
}

static int64_t enqueue(const char *type, const char *payload, int prio, int max_attempts)
{
    qjob_spec s = {.type = type, .payload = payload, .priority = prio, .max_attempts = max_attempts};
    int64_t id = 0;
    qerrctx e = {0};
    if (qqueue_enqueue(db, &s, &id, NULL, &e) != Q_OK)
        fprintf(stderr, "enqueue: %s\n", e.msg);
    return id;
}

/* Starts a worker through the stack script (pid file var/run/NAME.pid). */
static void worker_start(const char *name, const char *args)
{
    tsh("\"$QUIRE_ROOT/scripts/stack.sh\" worker-start %s %s", name, args);
}

static int worker_pid(const char *name)
{
    char *p = tsh_out("cat \"$QUIRE_VAR/run/%s.pid\" 2>/dev/null", name);
    int pid = p ? atoi(p) : 0;
    free(p);
    return pid;
}

static void worker_stop(const char *name)
{
    tsh("\"$QUIRE_ROOT/scripts/stack.sh\" worker-stop %s", name);
}

/* Waits for pid to exit (it is not our child); returns ms waited or -1. */
static int wait_gone(int pid, int timeout_ms)
{
    int64_t t0 = qmono_ms();
    while (qmono_ms() - t0 < timeout_ms) {
        if (kill(pid, 0) != 0)
            return (int)(qmono_ms() - t0);
        qsleep_ms(20);
    }
    return -1;
}

static void test_claim_uses_index_without_filesort(void)
{
    qarena *a = qarena_new();
    qrows *r = NULL;
    qerrctx e = {0};
    T_REQUIRE(qdb_query(db, a, &r, &e,
                        "EXPLAIN SELECT id FROM jobs FORCE INDEX (ix_jobs_claim) WHERE status = 'pending'"
                        " AND type = 'noop' AND run_at <= NOW(3) ORDER BY priority DESC, id LIMIT 16"
                        " FOR UPDATE SKIP LOCKED", "") == Q_OK, "%s", e.msg);
    int key = qrows_col(r, "key"), extra = qrows_col(r, "Extra");
    T_REQUIRE(key >= 0 && extra >= 0);
    T_EQ_STR(qrows_get(r, 0, key), "ix_jobs_claim");
    const char *x = qrows_get(r, 0, extra) ? qrows_get(r, 0, extra) : "";
    T_CHECK(strstr(x, "filesort") == NULL, "Extra: %s", x);
    t_note("EXPLAIN claim: key=%s Extra=%s", qrows_get(r, 0, key), x);
    qarena_free(a);
}

static void test_claim_complete_and_fencing(void)
{
    int64_t id = enqueue("noop.fence", "{}", 0, 3);
    T_REQUIRE(id > 0);
    const char *types[] = {"noop.fence"};
    qjob j[4];
    qerrctx e = {0};
    T_EQ_INT(qqueue_claim(db, "tw-a", types, 1, 4, 1, j, &e), 1);
    T_EQ_INT(j[0].id, id);
    T_EQ_INT(j[0].attempt, 1);
    T_EQ_STR(job_status(id), "running");
    /* A's lease (1 s) runs out; the reaper hands the job to B */
    qsleep_ms(1200);
    T_CHECK(qqueue_reap(db, &e) >= 1, "%s", e.msg);
    T_EQ_STR(job_status(id), "pending");
    qjob b[4];
    int64_t t0 = qmono_ms();
    int got = 0;
    while (got == 0 && qmono_ms() - t0 < 10000) {      /* after its backoff */
        got = qqueue_claim(db, "tw-b", types, 1, 4, 30, b, &e);
        if (!got)
            qsleep_ms(50);
    }
    T_REQUIRE(got == 1);
    T_EQ_INT(b[0].attempt, 2);
    T_CHECK(strcmp(b[0].token, j[0].token) != 0);
    /* the old attempt's heartbeat, progress and completion are refused */
    int cancel;
    qerrctx e2 = {0};
    T_EQ_INT(qqueue_heartbeat(db, &j[0], 30, &cancel, &e2), Q_ERR_LEASE_LOST);
    qerr_clear(&e2);
    T_EQ_INT(qqueue_progress(db, &j[0], 50, "x", 0, 0, NULL, &e2), Q_ERR_LEASE_LOST);
    qerr_clear(&e2);
    T_EQ_INT(qqueue_complete(db, &j[0], "{\"from\":\"a\"}", &e2), Q_ERR_LEASE_LOST);
    T_CHECK(strstr(e2.msg, "no longer holds") != NULL, "%s", e2.msg);
    T_EQ_INT(qqueue_complete(db, &b[0], "{\"from\":\"b\"}", &e), Q_OK);
    T_EQ_STR(job_status(id), "completed");
    qerr_clear(&e2);
    T_EQ_INT(qqueue_complete(db, &j[0], "{\"from\":\"a\"}", &e2), Q_ERR_LEASE_LOST);
    T_EQ_INT(sql_int("SELECT COUNT(*) FROM jobs WHERE id = ? AND result LIKE '%\"b\"%'", "i", id, 0), 1);
    T_EQ_INT(sql_int("SELECT COUNT(*) FROM job_attempts WHERE job_id = ? AND outcome = 'lease_expired'", "i", id, 0), 1);
    qjob_clear(&j[0]);
    qjob_clear(&b[0]);
}

static void test_retry_with_backoff_then_dead_letter(void)
{
    int64_t ok = enqueue("noop.retry", "{\"fail_times\":2}", 0, 3);
    int64_t bad = enqueue("noop.retry", "{\"fail_times\":100}", 0, 3);
    worker_start("worker-retry", "--types noop.retry --concurrency 2");
    T_CHECK(wait_status(ok, "completed", 20000), "status %s", job_status(ok));
    T_CHECK(wait_status(bad, "failed", 20000), "status %s", job_status(bad));
    T_EQ_INT(sql_int("SELECT attempts FROM jobs WHERE id = ?", "i", ok, 0), 3);
    T_EQ_INT(sql_int("SELECT COUNT(*) FROM job_attempts WHERE job_id = ? AND outcome = 'failed'"
                     " AND error LIKE 'noop: failing on purpose%'", "i", ok, 0), 2);
    T_EQ_INT(sql_int("SELECT attempts FROM jobs WHERE id = ?", "i", bad, 0), 3);
    T_EQ_INT(sql_int("SELECT COUNT(*) FROM job_attempts WHERE job_id = ? AND outcome = 'failed'", "i", bad, 0), 3);
    /* the backoff: each retry waited at least half the base delay */
    T_CHECK(sql_int("SELECT TIMESTAMPDIFF(MICROSECOND, MIN(finished_at), MAX(finished_at)) FROM job_attempts"
                    " WHERE job_id = ?", "i", bad, 0) >= 1000 * (50 / 2 + 100 / 2),
            "retries came too fast for the backoff");
    /* quirectl shows the dead letter with every attempt's error */
    char *out = tsh_out("\"$QUIRE_BIN/quirectl\" failed | grep -c 'noop: failing on purpose'");
    T_CHECK(out && atoi(out) >= 4, "quirectl failed shows %s error lines", out ? out : "no");
    free(out);
    out = tsh_out("\"$QUIRE_BIN/quirectl\" stats | grep -c 'noop.retry'");
    T_CHECK(out && atoi(out) >= 2, "quirectl stats: %s lines for noop.retry", out ? out : "no");
    free(out);
    /* an explicit retry puts the dead letter back */
    qerrctx e = {0};
    T_EQ_INT(qqueue_retry(db, bad, 0, &e), Q_OK);
    T_CHECK(!strcmp(job_status(bad), "pending") || !strcmp(job_status(bad), "running"));
    T_CHECK(wait_status(bad, "failed", 20000));
    T_EQ_INT(qqueue_retry(db, ok, 0, &e), Q_ERR_CONFLICT);
    worker_stop("worker-retry");
}

static void test_cancel_pending_waiting_running(void)
{
    qerrctx e = {0};
    int running = -1;
    int64_t p = enqueue("noop.cancel", "{}", 0, 3);
    T_EQ_INT(qqueue_cancel(db, p, 0, &running, &e), Q_OK);
    T_EQ_INT(running, 0);
    T_EQ_STR(job_status(p), "cancelled");
    int64_t blocker = enqueue("noop.cancel.blocker", "{}", 0, 3);      /* nobody serves it */
    qjob_spec s = {.type = "noop.cancel", .payload = "{}", .depends_on = &blocker, .ndeps = 1};
    int64_t w = 0;
    T_EQ_INT(qqueue_enqueue(db, &s, &w, NULL, &e), Q_OK);
    T_EQ_STR(job_status(w), "waiting");
    T_EQ_INT(qqueue_cancel(db, w, 0, &running, &e), Q_OK);
    T_EQ_STR(job_status(w), "cancelled");
    int64_t r = enqueue("noop.cancel", "{\"sleep_ms\":20000,\"steps\":200}", 0, 3);
    worker_start("worker-cancel", "--types noop.cancel");
    T_REQUIRE(wait_status(r, "running", 10000));
    qsleep_ms(300);
    T_EQ_INT(qqueue_cancel(db, r, 0, &running, &e), Q_OK);
    T_EQ_INT(running, 1);
    int64_t t0 = qmono_ms();
    T_CHECK(wait_status(r, "cancelled", 5000), "status %s", job_status(r));
    t_note("running job cancelled %lld ms after the request", (long long)(qmono_ms() - t0));
    T_EQ_INT(qqueue_cancel(db, r, 0, &running, &e), Q_ERR_CONFLICT);
    worker_stop("worker-cancel");
}

static void test_dependencies(void)
{
    qerrctx e = {0};
    int64_t a = enqueue("noop.deps", "{\"sleep_ms\":200}", 0, 1);
    int64_t b = enqueue("noop.deps", "{\"sleep_ms\":100}", 0, 1);
    int64_t ab[2] = {a, b};
    qjob_spec s = {.type = "noop.deps", .payload = "{}", .depends_on = ab, .ndeps = 2};
    int64_t c = 0;
    T_EQ_INT(qqueue_enqueue(db, &s, &c, NULL, &e), Q_OK);
    T_EQ_STR(job_status(c), "waiting");
    int64_t f = enqueue("noop.deps", "{\"fail_times\":5}", 0, 1);
    qjob_spec s2 = {.type = "noop.deps", .payload = "{}", .depends_on = &f, .ndeps = 1};
    int64_t d = 0, d2 = 0;
    T_EQ_INT(qqueue_enqueue(db, &s2, &d, NULL, &e), Q_OK);
    qjob_spec s3 = {.type = "noop.deps", .payload = "{}", .depends_on = &d, .ndeps = 1};
    T_EQ_INT(qqueue_enqueue(db, &s3, &d2, NULL, &e), Q_OK);
    worker_start("worker-deps", "--types noop.deps --concurrency 2");
    T_CHECK(wait_status(c, "completed", 15000), "status %s", job_status(c));
    /* c started only after both of its dependencies finished */
    T_EQ_INT(sql_int("SELECT COUNT(*) FROM jobs c, jobs d WHERE c.id = ? AND d.id IN (?, c.id - 1)"
                     " AND c.started_at >= d.finished_at", "ii", c, a), 2);
    T_CHECK(wait_status(d, "failed", 15000), "status %s", job_status(d));
    T_CHECK(wait_status(d2, "failed", 5000), "status %s", job_status(d2));
    qarena *ar = qarena_new();
    qrows *r = NULL;
    T_REQUIRE(qdb_query(db, ar, &r, &e, "SELECT last_error FROM jobs WHERE id = ?", "i", d) == Q_OK);
    char want[64];
    snprintf(want, sizeof want, "dependency %lld failed", (long long)f);
    T_EQ_STR(qrows_get(r, 0, 0), want);
    qarena_free(ar);
    /* retrying the failed dependency re-arms the jobs that failed because
     * of it: they wait again, and run once it completes */
    T_EQ_INT(qdb_exec(db, &e, "UPDATE jobs SET payload = '{}' WHERE id = ?", "i", f), Q_OK);
    T_EQ_INT(qqueue_retry(db, f, 0, &e), Q_OK);
    T_CHECK(!strcmp(job_status(d), "waiting"), "dependent is %s after the retry", job_status(d));
    T_CHECK(wait_status(d2, "completed", 15000), "second-level dependent is %s", job_status(d2));
    T_EQ_STR(job_status(d), "completed");
    /* a new job on a job that already failed fails at once */
    int64_t gone = enqueue("noop.deps", "{\"fail_times\":5}", 0, 1);
    T_CHECK(wait_status(gone, "failed", 15000));
    s2.depends_on = &gone;
    int64_t d3 = 0;
    T_EQ_INT(qqueue_enqueue(db, &s2, &d3, NULL, &e), Q_OK);
    T_EQ_STR(job_status(d3), "failed");
    worker_stop("worker-deps");
}

static void test_idempotency_key(void)
{
    qerrctx e = {0};
    qjob_spec s = {.type = "noop.idem", .payload = "{}", .owner_id = 0, .idempotency_key = "key-1"};
    int64_t a = 0, b = 0;
    int existed = -1;
    T_EQ_INT(qqueue_enqueue(db, &s, &a, &existed, &e), Q_OK);
    T_EQ_INT(existed, 0);
    T_EQ_INT(qqueue_enqueue(db, &s, &b, &existed, &e), Q_OK);
    T_EQ_INT(existed, 1);
    T_EQ_INT(a, b);
    s.idempotency_key = "key-2";
    T_EQ_INT(qqueue_enqueue(db, &s, &b, &existed, &e), Q_OK);
    T_CHECK(a != b);
    T_EQ_INT(sql_int("SELECT COUNT(*) FROM jobs WHERE type = 'noop.idem'", "", 0, 0), 2);
}

static void test_counter_increment_is_atomic(void)
{
    qerrctx e = {0};
    int64_t v = 0;
    T_EQ_INT(qqueue_counter_add(db, "video_number", 1, &v, &e), Q_OK);
    T_EQ_INT(v, 1);
    T_EQ_INT(qqueue_counter_add(db, "video_number", 1, &v, &e), Q_OK);
    T_EQ_INT(v, 2);
    T_EQ_INT(qqueue_counter_add(db, "video_number", 5, &v, &e), Q_OK);
    T_EQ_INT(v, 7);
}

/* High-priority jobs keep arriving faster than one slot can run them; an old
 * low-priority job still starts because waiting jobs age. */
static void test_no_starvation(void)
{
    int64_t low = enqueue("noop.starve", "{\"sleep_ms\":10}", 0, 3);
    for (int i = 0; i < 20; i++)
        enqueue("noop.starve", "{\"sleep_ms\":100}", 3, 3);
    worker_start("worker-starve", "--types noop.starve");
    int64_t t0 = qmono_ms();
    int started = 0;
    while (qmono_ms() - t0 < 25000 && !started) {
        enqueue("noop.starve", "{\"sleep_ms\":100}", 3, 3);     /* 5 per second */
        enqueue("noop.starve", "{\"sleep_ms\":100}", 3, 3);
        qsleep_ms(200);
        started = strcmp(job_status(low), "pending") != 0;
    }
    T_CHECK(started, "the low-priority job never started");
    int64_t high_pending = sql_int("SELECT COUNT(*) FROM jobs WHERE type = 'noop.starve' AND status = 'pending'"
                                   " AND base_priority = 3", "", 0, 0);
    t_note("low-priority job started after %lld ms with %lld high-priority jobs still pending",
           (long long)(qmono_ms() - t0), (long long)high_pending);
    T_CHECK(high_pending > 0, "the test must keep high-priority jobs waiting to mean anything");
    /* FIFO within a priority and higher first: of the first completed, the
     * high ones came before the low one was aged up */
    worker_stop("worker-starve");
    tsh("mariadb --no-defaults -S \"$QUIRE_DB_SOCKET\" -u quire %s -e \"UPDATE jobs SET status='cancelled'"
        " WHERE type='noop.starve' AND status IN ('pending','waiting')\"", dbname);
}

static void test_priority_order_and_fifo(void)
{
    const char *types[] = {"noop.order"};
    int64_t a = enqueue("noop.order", "{}", 0, 3), b = enqueue("noop.order", "{}", 5, 3);
    int64_t c = enqueue("noop.order", "{}", 0, 3), d = enqueue("noop.order", "{}", 5, 3);
    qjob j[8];
    qerrctx e = {0};
    T_REQUIRE(qqueue_claim(db, "tw-order", types, 1, 8, 30, j, &e) == 4);
    T_EQ_INT(j[0].id, b);
    T_EQ_INT(j[1].id, d);
    T_EQ_INT(j[2].id, a);
    T_EQ_INT(j[3].id, c);
    for (int i = 0; i < 4; i++) {
        T_EQ_INT(qqueue_complete(db, &j[i], NULL, &e), Q_OK);
        qjob_clear(&j[i]);
    }
}

static void test_sigkill_mid_job_runs_again_once(void)
{
    int64_t id = enqueue("noop.kill", "{\"sleep_ms\":4000,\"steps\":40,\"record\":true}", 0, 3);
    worker_start("worker-kill1", "--types noop.kill --lease 2");
    T_REQUIRE(wait_status(id, "running", 10000));
    qsleep_ms(500);
    int pid = worker_pid("worker-kill1");
    T_REQUIRE(pid > 0);
    T_REQUIRE(kill(pid, SIGKILL) == 0);
    wait_gone(pid, 2000);
    tsh("rm -f \"$QUIRE_VAR/run/worker-kill1.pid\"");
    worker_start("worker-kill2", "--types noop.kill --lease 2");
    T_CHECK(wait_status(id, "completed", 30000), "status %s", job_status(id));
    T_EQ_INT(sql_int("SELECT COUNT(*) FROM noop_completions WHERE job_id = ?", "i", id, 0), 1);
    T_EQ_INT(sql_int("SELECT attempts FROM jobs WHERE id = ?", "i", id, 0), 2);
    T_EQ_INT(sql_int("SELECT COUNT(*) FROM job_attempts WHERE job_id = ? AND outcome = 'lease_expired'", "i", id, 0), 1);
    worker_stop("worker-kill2");
}

static void test_sigterm_releases_without_spending_attempt(void)
{
    int64_t id = enqueue("noop.term", "{\"sleep_ms\":30000,\"steps\":300}", 0, 3);
    tsh("QUIRE_SHUTDOWN_GRACE=1 \"$QUIRE_ROOT/scripts/stack.sh\" worker-start worker-term --types noop.term");
    T_REQUIRE(wait_status(id, "running", 10000));
    int pid = worker_pid("worker-term");
    T_REQUIRE(kill(pid, SIGTERM) == 0);
    int ms = wait_gone(pid, 10000);
    T_CHECK(ms >= 0 && ms < 5000, "worker took %d ms to stop", ms);
    T_EQ_STR(job_status(id), "pending");
    T_EQ_INT(sql_int("SELECT attempts FROM jobs WHERE id = ?", "i", id, 0), 0);
    T_EQ_INT(sql_int("SELECT COUNT(*) FROM workers WHERE id = 'worker-term' AND status = 'offline'", "", 0, 0), 1);
    tsh("rm -f \"$QUIRE_VAR/run/worker-term.pid\"");
    int running;
    qerrctx e = {0};
    qqueue_cancel(db, id, 0, &running, &e);
}

static void test_idle_exit(void)
{
    worker_start("worker-idle", "--types noop.idle --idle-exit 1");
    qsleep_ms(200);
    int pid = worker_pid("worker-idle");
    T_REQUIRE(pid > 0);
    int ms = wait_gone(pid, 8000);
    T_CHECK(ms >= 0, "worker with --idle-exit 1 still running");
    t_note("idle worker exited after %d ms", ms + 200);
    T_EQ_INT(sql_int("SELECT COUNT(*) FROM workers WHERE id = 'worker-idle' AND status = 'offline'", "", 0, 0), 1);
    tsh("rm -f \"$QUIRE_VAR/run/worker-idle.pid\"");
}

static int64_t questions(void)
{
    char *s = tsh_out("mariadb --no-defaults -S \"$QUIRE_DB_SOCKET\" -u quire -N -e "
                      "\"SHOW GLOBAL STATUS LIKE 'Questions'\" | cut -f2");
    int64_t v = s ? atoll(s) : -1;
    free(s);
    return v;
}

static void test_idle_worker_is_cheap_and_wakes_fast(void)
{
    worker_start("worker-wake", "--types noop.wake");
    qsleep_ms(1500);
    int64_t q0 = questions();
    qsleep_ms(10000);
    int64_t q1 = questions();
    double qps = (double)(q1 - q0 - 2) / 10.0;     /* less our own two */
    t_note("idle worker: %.2f queries/s", qps);
    T_CHECK(qps <= 5.0, "idle worker costs %.2f queries/s", qps);
    /* wake-up: enqueue-to-start latency with the worker parked */
    int64_t worst = 0, sum = 0;
    for (int i = 0; i < 10; i++) {
        qsleep_ms(300);
        int64_t id = enqueue("noop.wake", "{}", 0, 3);
        int64_t t0 = qmono_ms();
        while (!strcmp(job_status(id), "pending") && qmono_ms() - t0 < 5000)
            qsleep_ms(2);
        int64_t dt = qmono_ms() - t0;
        sum += dt;
        if (dt > worst)
            worst = dt;
    }
    t_note("enqueue to claim: mean %lld ms, worst %lld ms (10 tries)", (long long)(sum / 10), (long long)worst);
    T_CHECK(sum / 10 <= 200, "mean wake-up %lld ms", (long long)(sum / 10));
    worker_stop("worker-wake");
}

/* n jobs of mixed priorities in transactions of 500. */
static void enqueue_many(const char *type, int n, const char *payload)
{
    qerrctx e = {0};
    for (int i = 0; i < n; i += 500) {
        qdb_begin(db, &e);
        for (int k = i; k < n && k < i + 500; k++) {
            qjob_spec s = {.type = type, .payload = payload, .priority = k % 7};
            int64_t id;
            qqueue_enqueue(db, &s, &id, NULL, &e);
        }
        qdb_commit(db, &e);
    }
}

static void test_many_workers_complete_each_job_once(void)
{
    /* the sanitizer run proves the same with fewer jobs */
    int n = getenv("QUIRE_TEST_SANITIZE") ? 4000 : 20000;
    int64_t t0 = qmono_ms();
    enqueue_many("noop.many", n, "{\"record\":true}");
    t_note("enqueued %d jobs in %lld ms", n, (long long)(qmono_ms() - t0));
    t0 = qmono_ms();
    char name[32];
    for (int w = 1; w <= 8; w++) {
        snprintf(name, sizeof name, "worker-many%d", w);
        worker_start(name, "--types noop.many --concurrency 2");
    }
    int64_t left = n;
    while (qmono_ms() - t0 < 240000 && left > 0) {
        qsleep_ms(500);
        left = sql_int("SELECT COUNT(*) FROM jobs WHERE type = 'noop.many' AND status <> 'completed'", "", 0, 0);
    }
    double s = (qmono_ms() - t0) / 1000.0;
    t_note("8 workers completed %d jobs in %.1f s (%.0f jobs/s)", n, s, n / s);
    T_EQ_INT(left, 0);
    T_EQ_INT(sql_int("SELECT COUNT(*) FROM noop_completions c JOIN jobs j ON j.id = c.job_id WHERE j.type = 'noop.many'",
                     "", 0, 0), n);
    T_EQ_INT(sql_int("SELECT COUNT(*) FROM (SELECT job_id FROM noop_completions GROUP BY job_id HAVING COUNT(*) > 1) d",
                     "", 0, 0), 0);
    T_EQ_INT(sql_int("SELECT COUNT(DISTINCT c.worker_id) FROM noop_completions c JOIN jobs j ON j.id = c.job_id"
                     " WHERE j.type = 'noop.many'", "", 0, 0), 8);
    for (int w = 1; w <= 8; w++) {
        snprintf(name, sizeof name, "worker-many%d", w);
        worker_stop(name);
    }
}

static void test_mariadb_restart_under_load(void)
{
    int n = getenv("QUIRE_TEST_SANITIZE") ? 1000 : 3000;
    enqueue_many("noop.restart", n, "{\"sleep_ms\":2,\"record\":true}");
    worker_start("worker-rs1", "--types noop.restart --concurrency 2");
    worker_start("worker-rs2", "--types noop.restart --concurrency 2");
    int64_t t0 = qmono_ms();
    while (sql_int("SELECT COUNT(*) FROM jobs WHERE type = 'noop.restart' AND status = 'completed'", "", 0, 0) < n / 4 &&
           qmono_ms() - t0 < 30000)
        qsleep_ms(50);
    T_REQUIRE(tsh("\"$QUIRE_ROOT/scripts/stack.sh\" db-stop >/dev/null 2>&1 && sleep 1 &&"
                  " \"$QUIRE_ROOT/scripts/stack.sh\" db-start >/dev/null 2>&1") == 0);
    qdb_ping(db);
    int64_t left = n;
    t0 = qmono_ms();
    while (qmono_ms() - t0 < 120000 && left > 0) {
        qsleep_ms(500);
        left = sql_int("SELECT COUNT(*) FROM jobs WHERE type = 'noop.restart' AND status <> 'completed'", "", 0, 0);
    }
    T_EQ_INT(left, 0);
    T_EQ_INT(sql_int("SELECT COUNT(*) FROM noop_completions c JOIN jobs j ON j.id = c.job_id"
                     " WHERE j.type = 'noop.restart'", "", 0, 0), n);
    T_EQ_INT(sql_int("SELECT COUNT(*) FROM (SELECT job_id FROM noop_completions GROUP BY job_id HAVING COUNT(*) > 1) d",
                     "", 0, 0), 0);
    worker_stop("worker-rs1");
    worker_stop("worker-rs2");
}

int main(void)
{
    /* a database of our own, so the counts below are ours alone; the
     * workers we start inherit these settings */
    snprintf(dbname, sizeof dbname, "quire_tq%d", (int)getpid());
    setenv("QUIRE_DB_NAME", dbname, 1);
    setenv("QUIRE_RETRY_BASE_MS", "50", 1);
    setenv("QUIRE_RETRY_CAP_MS", "400", 1);
    setenv("QUIRE_AGING_SECONDS", "1", 1);
    setenv("QUIRE_HEARTBEAT_SECONDS", "1", 1);
    if (tsh("\"$QUIRE_BIN/quirectl\" create-db %s && \"$QUIRE_BIN/quirectl\" migrate >/dev/null 2>&1", dbname) != 0) {
        fprintf(stderr, "cannot create the test database\n");
        return 1;
    }
    qerrctx e = {0};
    db = qdb_open(&e);
    if (!db) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    T_RUN(test_claim_uses_index_without_filesort);
    T_RUN(test_claim_complete_and_fencing);
    T_RUN(test_priority_order_and_fifo);
    T_RUN(test_idempotency_key);
    T_RUN(test_counter_increment_is_atomic);
    T_RUN(test_retry_with_backoff_then_dead_letter);
    T_RUN(test_cancel_pending_waiting_running);
    T_RUN(test_dependencies);
    T_RUN(test_no_starvation);
    T_RUN(test_sigkill_mid_job_runs_again_once);
    T_RUN(test_sigterm_releases_without_spending_attempt);
    T_RUN(test_idle_exit);
    T_RUN(test_idle_worker_is_cheap_and_wakes_fast);
    T_RUN(test_many_workers_complete_each_job_once);
    T_RUN(test_mariadb_restart_under_load);
    tsh("\"$QUIRE_ROOT/scripts/stack.sh\" worker-stop >/dev/null 2>&1");
    qdb_close(db);
    return t_done();
}
