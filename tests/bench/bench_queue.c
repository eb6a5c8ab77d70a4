/* bench_queue.c - make bench-queue: (a) the raw-SQL ceiling, a minimal
 * claim+complete loop in plain Connector/C; (b) quire's claim+complete of
 * noop jobs through lib/queue with the same batch size, threads and server;
 * (c) enqueue-to-claim latency with an idle quire-worker, from the server's
 * own created_at/started_at. Prints figures, then the summary line. */
#include "db.h"
#include "queue.h"
#include "util.h"

#include <errmsg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 4
#define BATCH 32

static int njobs = 40000;
static atomic_long done;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench-queue: %s: %s\n", what, msg);
    exit(1);
}

/* n pending jobs of type (setup, not measured): one prepared INSERT per
 * job, committed 1000 at a time; values are bound like everywhere else. */
static void fill(qdb *db, const char *type, int n)
{
    qerrctx e = {0};
    for (int i = 0; i < n; i += 1000) {
        int k = n - i < 1000 ? n - i : 1000;
        if (qdb_begin(db, &e))
            die("fill", e.msg);
        for (int j = 0; j < k; j++)
            if (qdb_exec(db, &e, "INSERT INTO jobs (type, status, priority, base_priority, payload)"
                         " VALUES (?, 'pending', ?, ?, '{}')", "sii", type, (int64_t)((i + j) % 5),
                         (int64_t)((i + j) % 5)))
                die("fill", e.msg);
        if (qdb_commit(db, &e))
            die("fill", e.msg);
    }
}

/* (a) the ceiling: prepared statements on bare Connector/C, nothing else. */
static void *raw_thread(void *arg)
{
    (void)arg;
    qerrctx e = {0};
    qdb *q = qdb_open(&e);
    if (!q)
        die("connect", e.msg);
    MYSQL *my = qdb_mysql(q);
    MYSQL_STMT *sel = mysql_stmt_init(my), *upd = mysql_stmt_init(my), *fin = mysql_stmt_init(my);
    const char *s1 = "SELECT id FROM jobs FORCE INDEX (ix_jobs_claim) WHERE status = 'pending' AND type = 'raw'"
                     " AND run_at <= NOW(3) ORDER BY priority DESC, id LIMIT 32 FOR UPDATE SKIP LOCKED";
    const char *s2 = "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker_id = 'raw',"
                     " attempt_token = CONCAT('raw.', id), lease_expires_at = NOW(3) + INTERVAL 30 SECOND,"
                     " started_at = NOW(3) WHERE id IN (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    const char *s3 = "UPDATE jobs SET status = 'completed', finished_at = NOW(3) WHERE id = ? AND attempt_token = ?"
                     " AND status = 'running'";
    if (mysql_stmt_prepare(sel, s1, strlen(s1)) || mysql_stmt_prepare(upd, s2, strlen(s2)) ||
        mysql_stmt_prepare(fin, s3, strlen(s3)))
        die("prepare", mysql_error(my));
    long long id = 0;
    MYSQL_BIND rb = {0};
    rb.buffer_type = MYSQL_TYPE_LONGLONG;
    rb.buffer = &id;
    mysql_stmt_bind_result(sel, &rb);
    long long ids[BATCH];
    MYSQL_BIND ub[BATCH];
    memset(ub, 0, sizeof ub);
    for (int i = 0; i < BATCH; i++) {
        ub[i].buffer_type = MYSQL_TYPE_LONGLONG;
        ub[i].buffer = &ids[i];
    }
    mysql_stmt_bind_param(upd, ub);
    long long fid;
    char tok[64];
    unsigned long toklen;
    MYSQL_BIND fb[2];
    memset(fb, 0, sizeof fb);
    fb[0].buffer_type = MYSQL_TYPE_LONGLONG;
    fb[0].buffer = &fid;
    fb[1].buffer_type = MYSQL_TYPE_STRING;
    fb[1].buffer = tok;
    fb[1].length = &toklen;
    mysql_stmt_bind_param(fin, fb);
    for (;;) {
        if (mysql_query(my, "BEGIN"))
            die("begin", mysql_error(my));
        if (mysql_stmt_execute(sel)) {
            mysql_query(my, "ROLLBACK");
            continue;                   /* deadlock: again */
        }
        mysql_stmt_store_result(sel);
        int n = 0;
        memset(ids, 0, sizeof ids);
        while (n < BATCH && mysql_stmt_fetch(sel) == 0)
            ids[n++] = id;
        mysql_stmt_free_result(sel);
        if (n == 0) {
            mysql_query(my, "COMMIT");
            break;
        }
        if (mysql_stmt_execute(upd) || mysql_commit(my)) {
            mysql_query(my, "ROLLBACK");
            continue;
        }
        for (int i = 0; i < n; i++) {
            fid = ids[i];
            toklen = (unsigned long)snprintf(tok, sizeof tok, "raw.%lld", fid);
            while (mysql_stmt_execute(fin) != 0)
                ;
        }
        atomic_fetch_add(&done, n);
    }
    mysql_stmt_close(sel);
    mysql_stmt_close(upd);
    mysql_stmt_close(fin);
    qdb_close(q);
    return NULL;
}

/* (b) quire: the queue module, as a worker's slots use it. */
static void *quire_thread(void *arg)
{
    (void)arg;
    qerrctx e = {0};
    qdb *q = qdb_open(&e);
    if (!q)
        die("connect", e.msg);
    const char *types[] = {"noop.bench"};
    qjob jobs[BATCH];
    for (;;) {
        qerr_clear(&e);
        int n = qqueue_claim(q, "bench", types, 1, BATCH, 30, jobs, &e);
        if (n < 0)
            continue;                   /* lost a deadlock: again */
        if (n == 0)
            break;
        for (int i = 0; i < n; i++) {
            qerr_clear(&e);
            if (qqueue_complete(q, &jobs[i], NULL, &e))
                die("complete", e.msg);
            qjob_clear(&jobs[i]);
        }
        atomic_fetch_add(&done, n);
    }
    qdb_close(q);
    return NULL;
}

static double run(void *(*fn)(void *))
{
    pthread_t th[THREADS];
    atomic_store(&done, 0);
    int64_t t0 = qmono_us();
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, fn, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    double s = (qmono_us() - t0) / 1e6;
    return (double)atomic_load(&done) / s;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    if (getenv("QUIRE_BENCH_JOBS"))
        njobs = atoi(getenv("QUIRE_BENCH_JOBS"));
    setenv("QUIRE_DB_NAME", "quire_bench", 1);
    if (system("\"$QUIRE_BIN/quirectl\" create-db quire_bench && \"$QUIRE_BIN/quirectl\" migrate >/dev/null 2>&1"))
        die("setup", "cannot create the database");
    qerrctx e = {0};
    qdb *db = qdb_open(&e);
    if (!db)
        die("connect", e.msg);
    printf("bench-queue: %d jobs per run, %d threads, batch %d, same MariaDB and durability settings\n", njobs,
           THREADS, BATCH);

    double raw = 0, quire = 0;
    for (int round = 0; round < 2; round++) {     /* alternate, keep the best of each */
        fill(db, "raw", njobs);
        double r = run(raw_thread);
        fill(db, "noop.bench", njobs);
        double q = run(quire_thread);
        printf("  round %d: raw %.0f jobs/s, quire %.0f jobs/s\n", round + 1, r, q);
        if (r > raw)
            raw = r;
        if (q > quire)
            quire = q;
        qdb_exec_text(db, &e, "DELETE FROM jobs");
    }
    long long leftover = 0;

    /* (c) latency with an idle worker */
    if (system("\"$QUIRE_ROOT/scripts/stack.sh\" worker-start worker-bench --types noop.lat >/dev/null 2>&1"))
        die("worker", "cannot start quire-worker");
    sleep(2);
    enum { N = 100 };
    double lat[N];
    int got = 0;
    for (int i = 0; i < N; i++) {
        usleep(50000 + (qrandom_u64() % 150000));
        qjob_spec s = {.type = "noop.lat", .payload = "{}"};
        int64_t id;
        qerr_clear(&e);
        if (qqueue_enqueue(db, &s, &id, NULL, &e))
            die("enqueue", e.msg);
        for (int w = 0; w < 2000; w++) {
            qarena *a = qarena_new();
            qrows *r = NULL;
            qdb_query(db, a, &r, &e, "SELECT TIMESTAMPDIFF(MICROSECOND, created_at, started_at) FROM jobs"
                      " WHERE id = ? AND started_at IS NOT NULL", "i", id);
            int ok = r && r->nrows == 1;
            if (ok)
                lat[got++] = qrows_i64(r, 0, 0, 0) / 1000.0;
            qarena_free(a);
            if (ok)
                break;
            usleep(2000);
        }
    }
    system("\"$QUIRE_ROOT/scripts/stack.sh\" worker-stop worker-bench >/dev/null 2>&1");
    qsort(lat, got, sizeof lat[0], cmp_d);
    double p50 = got ? lat[got / 2] : -1, p99 = got ? lat[(got * 99) / 100 < got ? (got * 99) / 100 : got - 1] : -1;
    printf("  latency: %d samples, enqueue to claim p50 %.2f ms, p99 %.2f ms (server clock)\n", got, p50, p99);
    (void)leftover;
    qdb_close(db);
    printf("bench-queue: quire=%.0f raw=%.0f ratio=%.2f latency_p50_ms=%.2f latency_p99_ms=%.2f\n", quire, raw,
           raw > 0 ? quire / raw : 0, p50, p99);
    return 0;
}
