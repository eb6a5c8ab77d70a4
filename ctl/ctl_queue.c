/* ctl_queue.c - quirectl's queue commands: stats per type and status with
 * throughput and run times, workers with heartbeat age, failed jobs with
 * every attempt's error, retry and cancel (through lib/queue). */
#include "ctl.h"
#include "queue.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static int fail(const qerrctx *e)
{
    fprintf(stderr, "quirectl: %s\n", e->msg);
    return e->code == Q_ERR_NOT_FOUND ? 3 : 1;
}

static int cmd_stats(qdb *db, qarena *a)
{
    qerrctx e = {0};
    qrows *r = NULL;
    if (qdb_query(db, a, &r, &e, "SELECT type, status, COUNT(*) FROM jobs GROUP BY type, status ORDER BY type, status", ""))
        return fail(&e);
    printf("%-24s %-10s %s\n", "type", "status", "jobs");
    for (int i = 0; i < r->nrows; i++)
        printf("%-24s %-10s %s\n", qrows_get(r, i, 0), qrows_get(r, i, 1), qrows_get(r, i, 2));
    if (qdb_query(db, a, &r, &e,
                  "SELECT type, SUM(finished_at > NOW(3) - INTERVAL 1 MINUTE), COUNT(*),"
                  " AVG(TIMESTAMPDIFF(MICROSECOND, started_at, finished_at)) / 1e6"
                  " FROM jobs WHERE status = 'completed' AND finished_at > NOW(3) - INTERVAL 1 HOUR GROUP BY type", ""))
        return fail(&e);
    printf("\n%-24s %12s %12s %14s\n", "type", "done/minute", "done/hour", "avg run (s)");
    for (int i = 0; i < r->nrows; i++)
        printf("%-24s %12s %12s %14.3f\n", qrows_get(r, i, 0), qrows_get(r, i, 1), qrows_get(r, i, 2),
               qrows_double(r, i, 3, 0));
    return 0;
}

static int cmd_workers(qdb *db, qarena *a)
{
    qerrctx e = {0};
    qrows *r = NULL;
    if (qdb_query(db, a, &r, &e,
                  "SELECT id, hostname, status, types, gpu, current_jobs, jobs_completed, jobs_failed,"
                  " TIMESTAMPDIFF(MICROSECOND, last_heartbeat, NOW(3)) / 1e6, COALESCE(stats, '{}') FROM workers"
                  " ORDER BY status, id", ""))
        return fail(&e);
    printf("%-24s %-9s %-20s %-6s %5s %9s %7s %9s %s\n", "id", "status", "types", "gpu", "jobs", "completed",
           "failed", "heartbeat", "avg s/type");
    for (int i = 0; i < r->nrows; i++) {
        double age = qrows_double(r, i, 8, 0);
        int stale = strcmp(qrows_get(r, i, 2), "offline") && age > 30;
        printf("%-24s %-9s %-20s %-6s %5s %9s %7s %8.1fs%s %s\n", qrows_get(r, i, 0),
               qrows_get(r, i, 2), qrows_get(r, i, 3), qrows_get(r, i, 4), qrows_get(r, i, 5), qrows_get(r, i, 6),
               qrows_get(r, i, 7), age, stale ? " STALE" : "", qrows_get(r, i, 9));
    }
    return 0;
}

static int cmd_failed(qdb *db, qarena *a)
{
    qerrctx e = {0};
    qrows *r = NULL;
    if (qdb_query(db, a, &r, &e,
                  "SELECT id, type, attempts, max_attempts, finished_at, COALESCE(last_error, '') FROM jobs"
                  " WHERE status = 'failed' ORDER BY finished_at DESC LIMIT 100", ""))
        return fail(&e);
    for (int i = 0; i < r->nrows; i++) {
        printf("job %s  %s  attempts %s/%s  failed %s\n  %s\n", qrows_get(r, i, 0), qrows_get(r, i, 1),
               qrows_get(r, i, 2), qrows_get(r, i, 3), qrows_get(r, i, 4), qrows_get(r, i, 5));
        qrows *at = NULL;
        if (qdb_query(db, a, &at, &e,
                      "SELECT attempt, outcome, COALESCE(worker_id, '-'), finished_at, COALESCE(error, '')"
                      " FROM job_attempts WHERE job_id = ? ORDER BY id", "i", qrows_i64(r, i, 0, 0)) == Q_OK)
            for (int k = 0; k < at->nrows; k++)
                printf("    attempt %s %-13s %-20s %s  %s\n", qrows_get(at, k, 0), qrows_get(at, k, 1),
                       qrows_get(at, k, 2), qrows_get(at, k, 3), qrows_get(at, k, 4));
    }
    if (r->nrows == 0)
        printf("no failed jobs\n");
    return 0;
}

int ctl_queue_command(qdb *db, int argc, char **argv)
{
    if (argc < 1)
        return 2;
    qarena *a = qarena_new();
    qerrctx e = {0};
    int rc = 2;
    int64_t id = 0;
    if (!strcmp(argv[0], "stats"))
        rc = cmd_stats(db, a);
    else if (!strcmp(argv[0], "workers"))
        rc = cmd_workers(db, a);
    else if (!strcmp(argv[0], "failed"))
        rc = cmd_failed(db, a);
    else if (!strcmp(argv[0], "reap")) {
        int n = qqueue_reap(db, &e);
        rc = n < 0 ? fail(&e) : (printf("expired leases returned: %d\n", n), 0);
    } else if ((!strcmp(argv[0], "retry") || !strcmp(argv[0], "cancel")) && argc == 2) {
        if (qparse_i64(argv[1], 1, INT64_MAX, &id) != 0) {
            fprintf(stderr, "quirectl: job id must be a number\n");
            rc = 2;
        } else if (!strcmp(argv[0], "retry")) {
            rc = qqueue_retry(db, id, 0, &e) ? fail(&e) : (printf("job %lld is pending again\n", (long long)id), 0);
        } else {
            int running = 0;
            rc = qqueue_cancel(db, id, 0, &running, &e) ? fail(&e)
               : (printf("job %lld %s\n", (long long)id, running ? "cancel requested (running)" : "cancelled"), 0);
        }
    }
    qarena_free(a);
    return rc;
}
