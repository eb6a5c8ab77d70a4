/* main.c - quire-worker: registers, claims batches for its free slots, runs
 * each job in a slot thread with its own database connection, heartbeats
 * leases, reaps expired ones, parks idle in SELECT SLEEP on a connection an
 * enqueue can wake, and on SIGTERM drains then releases what is left.
 * With --api URL --token T it does the same through quire-api's remote
 * worker API (transport_http.c) instead of MariaDB, parking idle in a long
 * poll of the claim endpoint. */
#include "worker.h"
#include "blas.h"
#include "transport.h"
#include "util.h"
#include "workers.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int worker_run_job(qjobctx *c);

#define MAX_SLOTS 64
#define MAX_TYPES 16
#define IDLE_SLEEP_S 3

#define HTTP_IDLE_WAIT_S 20     /* long poll of an idle worker over HTTP */
#define HTTP_BUSY_WAIT_S 1      /* ... of one with jobs running and free slots */

struct slot {
    pthread_t th;
    qtransport *tp;
    qjob job;
    qjobctx *ctx;            /* non-NULL while a job runs (under mu) */
    int has_job;
    int64_t started_ms;
};

static struct {
    char id[65];
    char types_csv[512];
    const char *types[MAX_TYPES];
    int ntypes;
    int concurrency;
    int idle_exit_s;
    int lease_s;
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* a slot freed, or a job arrived */
    struct slot slots[MAX_SLOTS];
    int busy;
    int64_t last_busy_ms;
    long long completed, failed;
    double sum_s[MAX_TYPES];
    long long count[MAX_TYPES];
    atomic_int stopping;
    _Atomic int64_t next_due_ms;  /* a retry this worker scheduled is due then */
    qdb *wait_db;               /* parks in SELECT SLEEP(); killed to wake */
    unsigned long wait_conn_id;
} W = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&W.stopping, 1);
}

static int type_index(const char *t)
{
    for (int i = 0; i < W.ntypes; i++)
        if (!strcmp(W.types[i], t))
            return i;
    return 0;
}

static void *slot_main(void *arg)
{
    struct slot *s = arg;
    qarena *arena = qarena_new();
    for (;;) {
        pthread_mutex_lock(&W.mu);
        while (!s->has_job && !atomic_load(&W.stopping))
            pthread_cond_wait(&W.cv, &W.mu);
        if (!s->has_job) {
            pthread_mutex_unlock(&W.mu);
            break;
        }
        qjobctx *c = qarena_calloc(arena, sizeof *c);
        c->job = &s->job;
        c->tp = s->tp;
        c->db = s->tp->db;
        c->arena = arena;
        c->worker_id = W.id;
        s->ctx = c;
        s->started_ms = qmono_ms();
        pthread_mutex_unlock(&W.mu);

        if (s->tp->ops->ping(s->tp) != 0)
            QLOG_W("slot database unreachable; the job will be retried after its lease");
        int ok = worker_run_job(c);
        int64_t delay = qqueue_last_retry_delay_ms();
        if (delay > 0) {
            int64_t due = qmono_ms() + delay, cur = atomic_load(&W.next_due_ms);
            if (cur == 0 || due < cur)
                atomic_store(&W.next_due_ms, due);
        }
        double secs = (qmono_ms() - s->started_ms) / 1000.0;

        pthread_mutex_lock(&W.mu);
        int ti = type_index(s->job.type);
        W.sum_s[ti] += secs;
        W.count[ti]++;
        if (ok)
            W.completed++;
        else
            W.failed++;
        s->ctx = NULL;
        s->has_job = 0;
        qjob_clear(&s->job);
        W.busy--;
        W.last_busy_ms = qmono_ms();
        pthread_cond_broadcast(&W.cv);
        pthread_mutex_unlock(&W.mu);
        qarena_reset(arena);
    }
    qarena_free(arena);
    return NULL;
}

static char *stats_json(void)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < W.ntypes; i++)
        if (W.count[i])
            cJSON_AddNumberToObject(o, W.types[i], W.sum_s[i] / (double)W.count[i]);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* Heartbeat: the worker row, every running job's lease, cancel flags, and
 * the reaper now and then. Runs on its own connection. */
static void *heartbeat_main(void *arg)
{
    (void)arg;
    qerrctx e = {0};
    qtransport *db = NULL;
    const qconfig *c = qconfig_get();
    int64_t next_reap = qmono_ms() + 1000 + (int64_t)(qrandom_u64() % 2000);
    while (!atomic_load(&W.stopping)) {
        if (!db) {
            qerr_clear(&e);
            db = qtransport_open(&e);
        }
        if (db) {
            pthread_mutex_lock(&W.mu);
            int busy = W.busy;
            long long done = W.completed, failed = W.failed;
            char *stats = stats_json();
            qjob held[MAX_SLOTS];
            qjobctx *ctxs[MAX_SLOTS];
            int n = 0;
            for (int i = 0; i < W.concurrency; i++)
                if (W.slots[i].ctx) {
                    held[n] = W.slots[i].job;       /* shallow: id and token */
                    ctxs[n++] = W.slots[i].ctx;
                }
            pthread_mutex_unlock(&W.mu);
            qerr_clear(&e);
            db->ops->worker_heartbeat(db, W.id, "online", busy, done, failed, stats, &e);
            cJSON_free(stats);
            for (int i = 0; i < n; i++) {
                int cancel = 0;
                qerr_clear(&e);
                qerr r = db->ops->heartbeat(db, &held[i], W.lease_s, &cancel, &e);
                pthread_mutex_lock(&W.mu);
                /* the slot may have moved on; only touch the same attempt */
                for (int k = 0; k < W.concurrency; k++)
                    if (W.slots[k].ctx == ctxs[i] && W.slots[k].job.id == held[i].id) {
                        if (r == Q_ERR_LEASE_LOST)
                            atomic_store(&ctxs[i]->lost, 1);
                        if (cancel)
                            atomic_store(&ctxs[i]->cancel, 1);
                    }
                pthread_mutex_unlock(&W.mu);
            }
            if (qmono_ms() >= next_reap) {
                qerr_clear(&e);
                db->ops->reap(db, &e);
                next_reap = qmono_ms() + 4000 + (int64_t)(qrandom_u64() % 2000);
            }
        }
        for (int i = 0; i < c->heartbeat_seconds * 10 && !atomic_load(&W.stopping); i++)
            qsleep_ms(100);
    }
    qtransport_close(db);
    return NULL;
}

/* Parks until an enqueue wakes us (KILL QUERY) or IDLE_SLEEP_S passes. */
static void idle_wait(void)
{
    qerrctx e = {0};
    if (!W.wait_db) {
        W.wait_db = qdb_open(&e);
        if (!W.wait_db) {
            qsleep_ms(1000);
            return;
        }
        W.wait_conn_id = mysql_thread_id(qdb_mysql(W.wait_db));
    }
    /* sleep no longer than until a retry this worker scheduled is due */
    double secs = IDLE_SLEEP_S;
    int64_t due = atomic_exchange(&W.next_due_ms, 0);
    if (due) {
        double left = (due - qmono_ms()) / 1000.0 + 0.005;
        if (left < secs)
            secs = left > 0.005 ? left : 0.005;
        else
            atomic_store(&W.next_due_ms, due);      /* still ahead: keep it */
    }
    /* the length of the sleep is bound, like every value in quire's SQL */
    qarena *a = qarena_new();
    qrows *rows;
    qerr_clear(&e);
    qerr rc = a ? qdb_query(W.wait_db, a, &rows, &e, "SELECT IF((SELECT woken FROM worker_waits WHERE conn_id ="
                            " CONNECTION_ID()) = 1, 0, SLEEP(?))", "d", secs)
                : Q_ERR_NOMEM;
    qarena_free(a);
    if (rc && qdb_errno(W.wait_db) != 1317 /* interrupted: woken */) {
        qdb_close(W.wait_db);
        W.wait_db = NULL;
        qsleep_ms(200);
    }
}

static void drain_and_release(qtransport *db)
{
    const qconfig *c = qconfig_get();
    int64_t deadline = qmono_ms() + (int64_t)c->shutdown_grace_seconds * 1000;
    pthread_mutex_lock(&W.mu);
    pthread_cond_broadcast(&W.cv);
    while (W.busy > 0 && qmono_ms() < deadline) {
        pthread_mutex_unlock(&W.mu);
        qsleep_ms(50);
        pthread_mutex_lock(&W.mu);
    }
    int released = 0;
    for (int i = 0; i < W.concurrency; i++) {
        struct slot *s = &W.slots[i];
        if (!s->ctx)
            continue;
        atomic_store(&s->ctx->lost, 1);         /* the slot must not report */
        qerrctx e = {0};
        if (db->ops->release(db, &s->job, &e) == Q_OK)
            released++;
    }
    int left = W.busy;
    pthread_mutex_unlock(&W.mu);
    if (released)
        QLOG_I("released %d unfinished job(s) back to pending", released);
    (void)left;
}

static void usage(void)
{
    fprintf(stderr, "usage: quire-worker [--types t1,t2] [--concurrency N] [--id NAME] [--idle-exit SEC]\n"
                    "                    [--lease SEC] [--api URL --token TOKEN] [--stand-in TYPE]\n"
                    "  --api URL      reach the queue through quire-api at URL instead of MariaDB\n"
                    "  --token TOKEN  a worker token (quirectl user add NAME --worker); or QUIRE_WORKER_TOKEN\n"
                    "  --stand-in T   run job type T's code for every type served (tests, dry runs)\n");
}

/* Over HTTP the storage root is the worker's own scratch area (job code
 * reads inputs from it and writes outputs to it; the runner moves them to
 * and from quire-api): QUIRE_WORKER_SCRATCH, default
 * $QUIRE_VAR/tmp/worker-scratch-<pid>. Set before the settings are read. */
static void http_scratch_storage(int argc, char **argv)
{
    int http = 0;
    for (int i = 1; i < argc; i++)
        http |= !strcmp(argv[i], "--api") || !strncmp(argv[i], "--api=", 6);
    if (!http)
        return;
    char dir[1024];
    const char *s = getenv("QUIRE_WORKER_SCRATCH");
    if (s && *s)
        snprintf(dir, sizeof dir, "%s", s);
    else
        snprintf(dir, sizeof dir, "%s/tmp/worker-scratch-%d", getenv("QUIRE_VAR") ? getenv("QUIRE_VAR") : "var",
                 (int)getpid());
    setenv("QUIRE_STORAGE", dir, 1);
}

int main(int argc, char **argv)
{
    http_scratch_storage(argc, argv);
    qlog_init("worker");
    const qconfig *c = qconfig_get();
    W.concurrency = 1;
    W.lease_s = c->lease_seconds;
    snprintf(W.types_csv, sizeof W.types_csv, "%s", worker_all_types());
    char host[256] = "localhost";
    gethostname(host, sizeof host);
    snprintf(W.id, sizeof W.id, "%.40s-%d", host, (int)getpid());
    static const struct option opts[] = {
        {"types", required_argument, 0, 't'}, {"concurrency", required_argument, 0, 'c'},
        {"id", required_argument, 0, 'i'},    {"idle-exit", required_argument, 0, 'x'},
        {"lease", required_argument, 0, 'l'}, {"help", no_argument, 0, 'h'},
        {"api", required_argument, 0, 'a'},   {"token", required_argument, 0, 'k'},
        {"stand-in", required_argument, 0, 's'},
        {0, 0, 0, 0}};
    const char *api_url = NULL, *api_token = getenv("QUIRE_WORKER_TOKEN");
    int o;
    while ((o = getopt_long(argc, argv, "t:c:i:x:l:ha:k:s:", opts, NULL)) != -1) {
        int64_t v;
        switch (o) {
        case 't': snprintf(W.types_csv, sizeof W.types_csv, "%s", optarg); break;
        case 'c':
            if (qparse_i64(optarg, 1, MAX_SLOTS, &v)) { usage(); return 2; }
            W.concurrency = (int)v;
            break;
        case 'i': snprintf(W.id, sizeof W.id, "%s", optarg); break;
        case 'x':
            if (qparse_i64(optarg, 1, 86400 * 365, &v)) { usage(); return 2; }
            W.idle_exit_s = (int)v;
            break;
        case 'l':
            if (qparse_i64(optarg, 1, 86400, &v)) { usage(); return 2; }
            W.lease_s = (int)v;
            break;
        case 'a': api_url = optarg; break;
        case 'k': api_token = optarg; break;
        case 's':
            if (!worker_job_type(optarg)) {
                fprintf(stderr, "quire-worker: unknown job type '%s' for --stand-in\n", optarg);
                return 2;
            }
            worker_set_stand_in(optarg);
            break;
        default: usage(); return o == 'h' ? 0 : 2;
        }
    }
    if (api_url) {
        if (!api_token || !*api_token || (strncmp(api_url, "http://", 7) && strncmp(api_url, "https://", 8))) {
            fprintf(stderr, "quire-worker: --api needs an http(s) URL and --token (or QUIRE_WORKER_TOKEN)\n");
            return 2;
        }
        qtransport_use_http(api_url, api_token, &W.stopping);
    }
    char *save = NULL;
    char *types_buf = strdup(W.types_csv);
    for (char *t = strtok_r(types_buf, ",", &save); t && W.ntypes < MAX_TYPES; t = strtok_r(NULL, ",", &save)) {
        if (!qqueue_type_ok(t) || !worker_job_type(t)) {
            fprintf(stderr, "quire-worker: unknown job type '%s'\n", t);
            return 2;
        }
        /* a type whose completion writes its own rows (after_complete)
         * needs the database; over HTTP only the noop ledger is let go */
        const qjob_type *jt = worker_job_type(t);
        if (api_url && jt->after_complete && strcmp(jt->name, "noop") != 0) {
            fprintf(stderr, "quire-worker: job type '%s' writes rows when it completes and needs the database;"
                            " serve it from a worker that reaches MariaDB\n", t);
            return 2;
        }
        W.types[W.ntypes++] = t;
    }
    if (W.ntypes == 0) {
        usage();
        return 2;
    }

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    mysql_library_init(0, NULL, NULL);

    /* the dispatcher's connection: claims and registration; retried until
     * the database is there */
    qerrctx e = {0};
    qtransport *tp = NULL;
    while (!tp && !atomic_load(&W.stopping)) {
        qerr_clear(&e);
        if (!(tp = qtransport_open(&e))) {
            QLOG_W("waiting for the database: %s", e.msg);
            qsleep_ms(1000);
        }
    }
    if (!tp)
        return 0;
    qdb *db = tp->db;           /* NULL over HTTP: no wake-up connection then */
    int http = qtransport_is_http();
    /* the BLAS backend is chosen (and the reason logged) before the first
     * job; a CUDA build without a device says so here and uses OpenBLAS */
    qblas_init();
    const char *gpu = qblas_backend_in_use() == QBLAS_CUDA ? "cuda" : "none";
    char *caps = worker_capabilities(W.types_csv);
    qworker_info info = {W.id, host, W.types_csv, gpu, caps, W.concurrency};
    for (int tries = 0;; tries++) {
        qerr_clear(&e);
        if (!tp->ops->worker_register(tp, &info, &e))
            break;
        if (tries == 30 || atomic_load(&W.stopping)) {
            QLOG_E("cannot register: %s", e.msg);
            return 1;
        }
        qsleep_ms(1000);
    }
    for (int i = 0; i < W.concurrency; i++) {
        qerr_clear(&e);
        while (!(W.slots[i].tp = qtransport_open(&e)) && !atomic_load(&W.stopping))
            qsleep_ms(500);
        if (!W.slots[i].tp)
            return 0;
        pthread_create(&W.slots[i].th, NULL, slot_main, &W.slots[i]);
    }
    pthread_t hb;
    pthread_create(&hb, NULL, heartbeat_main, NULL);
    QLOG_I("worker %s serving %s with %d slot(s)%s%s", W.id, W.types_csv, W.concurrency, http ? " via " : "",
           http ? api_url : "");

    W.last_busy_ms = qmono_ms();
    qjob batch[QQUEUE_MAX_BATCH];
    int registered_wait = 0;
    while (!atomic_load(&W.stopping)) {
        pthread_mutex_lock(&W.mu);
        int free_slots = W.concurrency - W.busy;
        pthread_mutex_unlock(&W.mu);
        if (free_slots == 0) {
            pthread_mutex_lock(&W.mu);
            /* timed: a signal does not wake a condition wait */
            while (W.busy == W.concurrency && !atomic_load(&W.stopping)) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 200 * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&W.cv, &W.mu, &ts);
            }
            pthread_mutex_unlock(&W.mu);
            continue;
        }
        /* over HTTP the claim itself waits (long poll): idle, a long one;
         * with jobs running, a short one so freed slots fill soon */
        int wait_s = 0;
        if (http) {
            pthread_mutex_lock(&W.mu);
            int idle_now = W.busy == 0;
            int64_t idle_for = qmono_ms() - W.last_busy_ms;
            pthread_mutex_unlock(&W.mu);
            wait_s = idle_now ? HTTP_IDLE_WAIT_S : HTTP_BUSY_WAIT_S;
            if (idle_now && W.idle_exit_s) {
                int64_t left = (int64_t)W.idle_exit_s * 1000 - idle_for;
                wait_s = left <= 0 ? 0 : (int)((left + 999) / 1000) < wait_s ? (int)((left + 999) / 1000) : wait_s;
            }
        }
        if (!http && !registered_wait && W.wait_db) {
            /* announce the parking spot before the last look, so an enqueue
             * that lands in between still wakes us */
            qerr_clear(&e);
            qdb_exec(db, &e, "REPLACE INTO worker_waits (conn_id, worker_id, types, since, woken)"
                     " VALUES (?, ?, ?, NOW(3), 0)",
                     "iss", (int64_t)W.wait_conn_id, W.id, W.types_csv);
            registered_wait = 1;
        }
        qerr_clear(&e);
        int64_t claim_t0 = qmono_ms();
        int got = tp->ops->claim(tp, W.id, W.types, W.ntypes, free_slots, W.lease_s, wait_s, batch, &e);
        if (got < 0 && http) {
            if (!atomic_load(&W.stopping)) {
                QLOG_W("claim failed: %s", e.msg);
                qsleep_ms(1000);
            }
            continue;
        }
        if (got < 0) {
            /* lost a deadlock: just go again; database gone: back off */
            if (e.code == Q_ERR_DB_GONE && strstr(e.msg, "busy")) {
                qsleep_ms(5 + (int64_t)(qrandom_u64() % 20));
            } else {
                QLOG_W("claim failed: %s", e.msg);
                qsleep_ms(500);
            }
            continue;
        }
        if (got > 0) {
            if (registered_wait) {
                qerr_clear(&e);
                qdb_exec(db, &e, "DELETE FROM worker_waits WHERE conn_id = ?", "i", (int64_t)W.wait_conn_id);
                registered_wait = 0;
            }
            pthread_mutex_lock(&W.mu);
            int k = 0;
            for (int i = 0; i < W.concurrency && k < got; i++)
                if (!W.slots[i].has_job) {
                    W.slots[i].job = batch[k++];
                    W.slots[i].has_job = 1;
                    W.busy++;
                }
            pthread_cond_broadcast(&W.cv);
            pthread_mutex_unlock(&W.mu);
            continue;
        }
        pthread_mutex_lock(&W.mu);
        int idle = W.busy == 0;
        int64_t idle_ms = qmono_ms() - W.last_busy_ms;
        pthread_mutex_unlock(&W.mu);
        if (W.idle_exit_s && idle && idle_ms >= (int64_t)W.idle_exit_s * 1000) {
            QLOG_I("idle for %d s: exiting", W.idle_exit_s);
            break;
        }
        if (http) {
            /* the long poll came back empty; one that came back at once
             * (quire-api has too many parked already) waits a little */
            if (wait_s > 0 && qmono_ms() - claim_t0 < 500)
                qsleep_ms(1000);
            continue;
        }
        if (!idle) {
            /* jobs still running: look again soon rather than park */
            qsleep_ms(50);
            continue;
        }
        if (!registered_wait) {
            /* no parking spot announced (no wait connection yet): open it
             * and look again before sleeping */
            qerr_clear(&e);
            if (!W.wait_db && (W.wait_db = qdb_open(&e)))
                W.wait_conn_id = mysql_thread_id(qdb_mysql(W.wait_db));
            if (!W.wait_db)
                qsleep_ms(1000);
            continue;
        }
        idle_wait();
        registered_wait = 0;        /* woken or timed out: announce again */
    }
    atomic_store(&W.stopping, 1);
    QLOG_I("stopping: draining %d running job(s)", W.busy);
    qerr_clear(&e);
    tp->ops->worker_heartbeat(tp, W.id, "draining", W.busy, W.completed, W.failed, NULL, &e);
    drain_and_release(tp);
    qerr_clear(&e);
    if (db)
        qdb_exec(db, &e, "DELETE FROM worker_waits WHERE worker_id = ?", "s", W.id);
    tp->ops->worker_offline(tp, W.id, &e);
    pthread_join(hb, NULL);
    pthread_mutex_lock(&W.mu);
    int left = W.busy;
    pthread_cond_broadcast(&W.cv);
    pthread_mutex_unlock(&W.mu);
    if (left == 0)
        for (int i = 0; i < W.concurrency; i++) {
            pthread_join(W.slots[i].th, NULL);
            qtransport_close(W.slots[i].tp);
        }
    qdb_close(W.wait_db);
    qtransport_close(tp);
    /* slots still running a released job read W.types (into types_buf)
     * until the process ends: free it only when they are all joined */
    if (left == 0)
        free(types_buf);
    free(caps);
    QLOG_I("worker %s stopped", W.id);
    if (left == 0)
        mysql_library_end();
    return 0;
}
