/* test_chaos.c - the queue under fire: short jobs of mixed types and
 * priorities (some failing once) with 4 workers, while a driver SIGKILLs a
 * random worker every 1-3 s and restarts it, restarts MariaDB once and
 * quire-api once mid-run. At the end every job is final, every completed job
 * was completed exactly once (the noop ledger, written in the completion's
 * transaction), none is lost. `make test-chaos` runs it alone; QUIRE_TEST_LONG
 * makes it 10,000 jobs. The last line of its report:
 * chaos: jobs=<n> completed=<n> failed=<n> lost=<n> duplicated=<n> retries=<n> lease_expiries=<n> */
#include "db.h"
#include "http.h"
#include "queue.h"
#include "t.h"
#include "util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WORKERS 4

static qdb *db;

static int64_t one(const char *sql)
{
    qarena *a = qarena_new();
    qrows *r = NULL;
    qerrctx e = {0};
    int64_t v = -1;
    for (int tries = 0; tries < 50; tries++) {      /* MariaDB may be restarting */
        qerr_clear(&e);
        if (qdb_query(db, a, &r, &e, sql, "") == Q_OK) {
            v = r->nrows ? qrows_i64(r, 0, 0, -1) : -1;
            break;
        }
        qsleep_ms(200);
    }
    qarena_free(a);
    return v;
}

static void start_worker(int i)
{
    tsh("rm -f \"$QUIRE_VAR/run/worker-chaos%d.pid\"; QUIRE_LEASE_SECONDS=3 QUIRE_HEARTBEAT_SECONDS=1 "
        "\"$QUIRE_ROOT/scripts/stack.sh\" worker-start worker-chaos%d --types noop.ca,noop.cb --concurrency 2"
        " --lease 3 >/dev/null 2>&1", i, i);
}

static void test_chaos(void)
{
    int n = getenv("QUIRE_TEST_LONG") ? 10000 : getenv("QUIRE_TEST_SANITIZE") ? 600 : 2000;
    qerrctx e = {0};
    for (int i = 0; i < n; i += 250) {
        T_REQUIRE(qdb_begin(db, &e) == Q_OK, "%s", e.msg);
        for (int k = i; k < n && k < i + 250; k++) {
            char payload[128];
            snprintf(payload, sizeof payload, "{\"sleep_ms\":%d,\"record\":true%s}", 10 + (k * 37) % 60,
                     k % 10 == 0 ? ",\"fail_times\":1" : "");
            qjob_spec s = {.type = k % 3 ? "noop.ca" : "noop.cb", .payload = payload, .priority = k % 5,
                           .max_attempts = 10};
            int64_t id;
            T_REQUIRE(qqueue_enqueue(db, &s, &id, NULL, &e) == Q_OK, "%s", e.msg);
        }
        T_REQUIRE(qdb_commit(db, &e) == Q_OK, "%s", e.msg);
    }
    for (int w = 0; w < WORKERS; w++)
        start_worker(w);
    int64_t t0 = qmono_ms(), next_kill = t0 + 500;
    int kills = 0, db_restarted = 0, api_restarted = 0;
    int64_t left = n;
    /* a stuck queue must end the test, but a busy shared machine must not:
     * 2,000 jobs take about 30 s here and 10,000 about 75 s, so the cap is
     * 170 s or 50 ms a job, whichever is more (500 s for the long run) */
    int64_t cap_ms = (int64_t)n * 50 > 170000 ? (int64_t)n * 50 : 170000;
    while (left > 0 && qmono_ms() - t0 < cap_ms) {
        int64_t now = qmono_ms();
        if (now >= next_kill) {
            int w = (int)(qrandom_u64() % WORKERS);
            char *pid = tsh_out("cat \"$QUIRE_VAR/run/worker-chaos%d.pid\" 2>/dev/null", w);
            if (pid && atoi(pid) > 0 && kill(atoi(pid), SIGKILL) == 0)
                kills++;
            free(pid);
            qsleep_ms(100);
            start_worker(w);
            next_kill = qmono_ms() + 1000 + (int64_t)(qrandom_u64() % 2000);
        }
        int64_t done = n - left;
        if (!db_restarted && done > n / 3) {
            tsh("\"$QUIRE_ROOT/scripts/stack.sh\" db-stop >/dev/null 2>&1; sleep 1;"
                " \"$QUIRE_ROOT/scripts/stack.sh\" db-start >/dev/null 2>&1");
            db_restarted = 1;
        }
        if (!api_restarted && done > n / 2) {
            /* quire-api serves the stack's own database, not this test's */
            tsh("\"$QUIRE_ROOT/scripts/stack.sh\" api-stop >/dev/null 2>&1;"
                " QUIRE_DB_NAME=quire \"$QUIRE_ROOT/scripts/stack.sh\" api-start >/dev/null 2>&1");
            api_restarted = 1;
        }
        qsleep_ms(200);
        int64_t v = one("SELECT COUNT(*) FROM jobs WHERE type IN ('noop.ca','noop.cb')"
                        " AND status NOT IN ('completed','failed','cancelled')");
        if (v >= 0)
            left = v;
    }
    for (int w = 0; w < WORKERS; w++)
        tsh("\"$QUIRE_ROOT/scripts/stack.sh\" worker-stop worker-chaos%d >/dev/null 2>&1", w);
    int64_t completed = one("SELECT COUNT(*) FROM jobs WHERE type IN ('noop.ca','noop.cb') AND status = 'completed'");
    int64_t failed = one("SELECT COUNT(*) FROM jobs WHERE type IN ('noop.ca','noop.cb') AND status = 'failed'");
    int64_t total = one("SELECT COUNT(*) FROM jobs WHERE type IN ('noop.ca','noop.cb')");
    int64_t dup = one("SELECT COUNT(*) FROM (SELECT job_id FROM noop_completions c JOIN jobs j ON j.id = c.job_id"
                      " WHERE j.type IN ('noop.ca','noop.cb') GROUP BY job_id HAVING COUNT(*) > 1) d");
    int64_t ledger = one("SELECT COUNT(DISTINCT job_id) FROM noop_completions c JOIN jobs j ON j.id = c.job_id"
                         " WHERE j.type IN ('noop.ca','noop.cb')");
    int64_t retries = one("SELECT COUNT(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id"
                          " WHERE j.type IN ('noop.ca','noop.cb') AND a.outcome IN ('failed','lease_expired')");
    int64_t expiries = one("SELECT COUNT(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id"
                           " WHERE j.type IN ('noop.ca','noop.cb') AND a.outcome = 'lease_expired'");
    /* lost: enqueued but not final, or completed with no ledger row */
    int64_t lost = (n - total) + left + (completed - ledger);
    t_note("%d worker kills, MariaDB restarted %d, quire-api restarted %d, %.1f s", kills, db_restarted,
           api_restarted, (qmono_ms() - t0) / 1000.0);
    T_EQ_INT(left, 0);
    T_EQ_INT(lost, 0);
    T_EQ_INT(dup, 0);
    T_EQ_INT(completed + failed, n);
    T_EQ_INT(completed, ledger);
    /* how many kills fit depends on how fast the jobs go (a sanitizer build
     * runs fewer); at least one worker must have died mid-run */
    T_CHECK(kills >= 1, "the driver killed no worker");
    T_CHECK(db_restarted && api_restarted);
    printf("chaos: jobs=%d completed=%lld failed=%lld lost=%lld duplicated=%lld retries=%lld lease_expiries=%lld\n", n,
           (long long)completed, (long long)failed, (long long)lost, (long long)dup, (long long)retries,
           (long long)expiries);
}

int main(void)
{
    char name[64];
    snprintf(name, sizeof name, "quire_tc%d", (int)getpid());
    setenv("QUIRE_DB_NAME", name, 1);
    setenv("QUIRE_RETRY_BASE_MS", "100", 1);
    setenv("QUIRE_RETRY_CAP_MS", "1000", 1);
    if (tsh("\"$QUIRE_BIN/quirectl\" create-db %s && \"$QUIRE_BIN/quirectl\" migrate >/dev/null 2>&1", name) != 0)
        return 1;
    qerrctx e = {0};
    db = qdb_open(&e);
    if (!db)
        return 1;
    T_RUN(test_chaos);
    qdb_close(db);
    /* the quire-api restarted above serves our database: give the tests
     * after us one on the stack's own again */
    unsetenv("QUIRE_DB_NAME");
    unsetenv("QUIRE_RETRY_BASE_MS");
    unsetenv("QUIRE_RETRY_CAP_MS");
    tsh("\"$QUIRE_ROOT/scripts/stack.sh\" api-stop >/dev/null 2>&1; \"$QUIRE_ROOT/scripts/stack.sh\" api-start >/dev/null 2>&1");
    return t_done();
}
