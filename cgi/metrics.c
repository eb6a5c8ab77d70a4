/* metrics.c - GET /metrics in the Prometheus text format (0.0.4), for
 * loopback callers or admins. Two sources: this process's counters of HTTP
 * requests (route, method, status, latency histogram) and upload bytes,
 * kept in memory and fed by api_metrics_observe after every request; and
 * the queue's own figures (jobs by type and status, claims, completions,
 * failures, retries, lease expiries, queue latency and run time histograms,
 * workers, notifications), computed from the rows at scrape time so every
 * quire-api process reports the same numbers. */
#include "api.h"
#include "util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600};
#define NB ((int)(sizeof buckets / sizeof buckets[0]))
#define MAX_SERIES 512

struct req_series {                 /* requests by route, method, status */
    const char *route;
    char method[8];
    int status;
    unsigned long long count;
};
struct lat_series {                 /* latency by route and method */
    const char *route;
    char method[8];
    unsigned long long count, bucket[NB];
    double sum;
};

static struct {
    pthread_mutex_t mu;
    struct req_series req[MAX_SERIES];
    int nreq;
    struct lat_series lat[MAX_SERIES];
    int nlat;
    unsigned long long dropped;
} M = {.mu = PTHREAD_MUTEX_INITIALIZER};
static atomic_llong upload_bytes;

void api_metrics_upload_bytes(int64_t n)
{
    if (n > 0)
        atomic_fetch_add(&upload_bytes, n);
}

void api_metrics_observe(const qreq *r, double seconds)
{
    /* patterns are the route table's static strings: compared by address */
    const char *route = r->route ? r->route : "unmatched";
    char method[8];
    snprintf(method, sizeof method, "%s", r->method ? r->method : "-");
    for (char *p = method; *p; p++)
        if (*p < 'A' || *p > 'Z')
            *p = '_';
    if (r->route && strstr(r->route, "/uploads/") && r->status >= 200 && r->status < 300 && r->method &&
        (!strcmp(r->method, "POST") || !strcmp(r->method, "PATCH") || !strcmp(r->method, "PUT"))) {
        const char *cl = FCGX_GetParam("CONTENT_LENGTH", r->fcgi->envp);
        int64_t n = 0;
        if (cl && qparse_i64(cl, 0, INT64_MAX, &n) == 0)
            api_metrics_upload_bytes(n);
    }
    pthread_mutex_lock(&M.mu);
    int i;
    for (i = 0; i < M.nreq; i++)
        if (M.req[i].route == route && M.req[i].status == r->status && !strcmp(M.req[i].method, method))
            break;
    if (i == M.nreq && M.nreq < MAX_SERIES) {
        M.req[i].route = route;
        memcpy(M.req[i].method, method, sizeof method);
        M.req[i].status = r->status;
        M.nreq++;
    }
    if (i < M.nreq)
        M.req[i].count++;
    else
        M.dropped++;
    for (i = 0; i < M.nlat; i++)
        if (M.lat[i].route == route && !strcmp(M.lat[i].method, method))
            break;
    if (i == M.nlat && M.nlat < MAX_SERIES) {
        M.lat[i].route = route;
        memcpy(M.lat[i].method, method, sizeof method);
        M.nlat++;
    }
    if (i < M.nlat) {
        struct lat_series *l = &M.lat[i];
        l->count++;
        l->sum += seconds;
        for (int b = 0; b < NB; b++)
            if (seconds <= buckets[b])
                l->bucket[b]++;
    }
    pthread_mutex_unlock(&M.mu);
}

/* A growing text buffer on the arena's terms: capped at 4 MiB. */
typedef struct mbuf {
    char *s;
    size_t len, cap;
    int full;
} mbuf;

static void out(mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(mbuf *b, const char *fmt, ...)
{
    if (b->full)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = b->cap * 2;
        char *ns = ncap <= (4u << 20) ? realloc(b->s, ncap) : NULL;
        if (!ns) {
            b->full = 1;
            return;
        }
        b->s = ns;
        b->cap = ncap;
    }
}

/* Label values here are job types, routes, statuses: no quotes or
 * backslashes can occur (types are [a-z0-9_.-]), but escape anyway. */
static const char *esc(qarena *a, const char *s)
{
    if (!s)
        return "";
    if (!strpbrk(s, "\"\\\n"))
        return s;
    char *o = qarena_alloc(a, strlen(s) * 2 + 1), *p = o;
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *p++ = '\\';
        *p++ = *s == '\n' ? ' ' : *s;
    }
    *p = 0;
    return o;
}

static void http_metrics(mbuf *b, qarena *a)
{
    pthread_mutex_lock(&M.mu);
    out(b, "# HELP quire_http_requests_total HTTP requests answered by this quire-api process.\n"
           "# TYPE quire_http_requests_total counter\n");
    for (int i = 0; i < M.nreq; i++)
        out(b, "quire_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %llu\n", esc(a, M.req[i].route),
            M.req[i].method, M.req[i].status, M.req[i].count);
    out(b, "# HELP quire_http_request_duration_seconds Time from accept to reply in quire-api.\n"
           "# TYPE quire_http_request_duration_seconds histogram\n");
    for (int i = 0; i < M.nlat; i++) {
        struct lat_series *l = &M.lat[i];
        const char *rt = esc(a, l->route);
        for (int k = 0; k < NB; k++)
            out(b, "quire_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",le=\"%g\"} %llu\n", rt,
                l->method, buckets[k], l->bucket[k]);
        out(b, "quire_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",le=\"+Inf\"} %llu\n", rt,
            l->method, l->count);
        out(b, "quire_http_request_duration_seconds_sum{route=\"%s\",method=\"%s\"} %.6f\n", rt, l->method, l->sum);
        out(b, "quire_http_request_duration_seconds_count{route=\"%s\",method=\"%s\"} %llu\n", rt, l->method, l->count);
    }
    unsigned long long dropped = M.dropped;
    pthread_mutex_unlock(&M.mu);
    out(b, "# HELP quire_http_series_dropped_total Requests not counted because the series table was full.\n"
           "# TYPE quire_http_series_dropped_total counter\nquire_http_series_dropped_total %llu\n", dropped);
    out(b, "# HELP quire_upload_bytes_total Bytes received in uploads and remote workers' outputs by this process.\n"
           "# TYPE quire_upload_bytes_total counter\nquire_upload_bytes_total %lld\n",
        (long long)atomic_load(&upload_bytes));
    long long hits, misses;
    api_bodytap_counts(&hits, &misses);
    out(b, "# HELP quire_upload_tap_claims_total Uploads hashed while they arrived (hit) or after (miss).\n"
           "# TYPE quire_upload_tap_claims_total counter\nquire_upload_tap_claims_total{result=\"hit\"} %lld\n"
           "quire_upload_tap_claims_total{result=\"miss\"} %lld\n", hits, misses);
    api_tus_digest_counts(&hits, &misses);
    out(b, "# HELP quire_tus_digests_total Finished tus uploads hashed as their chunks came (running) or whole.\n"
           "# TYPE quire_tus_digests_total counter\nquire_tus_digests_total{how=\"running\"} %lld\n"
           "quire_tus_digests_total{how=\"rehashed\"} %lld\n", hits, misses);
}

/* The histograms' SQL is constant text: the bucket bounds are bound as
 * parameters (only parameterized SQL, everywhere), one "?" per bound. */
_Static_assert(sizeof buckets / sizeof buckets[0] == 16, "HIST_SUMS has one ? per bucket");
#define HIST_SUM1 ", COALESCE(SUM(x <= ?), 0)"
#define HIST_SUMS HIST_SUM1 HIST_SUM1 HIST_SUM1 HIST_SUM1 HIST_SUM1 HIST_SUM1 HIST_SUM1 HIST_SUM1 \
                  HIST_SUM1 HIST_SUM1 HIST_SUM1 HIST_SUM1 HIST_SUM1 HIST_SUM1 HIST_SUM1 HIST_SUM1
#define HIST_SQL(expr, where) \
    "SELECT type, COUNT(*), COALESCE(SUM(x), 0)" HIST_SUMS " FROM (SELECT type, " expr " AS x FROM jobs WHERE " \
    where ") t GROUP BY type"

static const char hist_latency_sql[] =
    HIST_SQL("TIMESTAMPDIFF(MICROSECOND, created_at, started_at) / 1e6", "started_at IS NOT NULL");
static const char hist_run_sql[] =
    HIST_SQL("TIMESTAMPDIFF(MICROSECOND, started_at, finished_at) / 1e6",
             "status = 'completed' AND started_at IS NOT NULL");

/* One histogram per type from one of the constant statements above. */
static void job_histogram(mbuf *b, qreq *r, const char *name, const char *help, const char *sql)
{
    const double *k_ = buckets;
    qrows *rows = NULL;
    qerrctx e = {0};
    out(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    if (qdb_query(r->db, r->arena, &rows, &e, sql, "dddddddddddddddd", k_[0], k_[1], k_[2], k_[3], k_[4], k_[5], k_[6],
                  k_[7], k_[8], k_[9], k_[10], k_[11], k_[12], k_[13], k_[14], k_[15]) != Q_OK)
        return;
    for (int i = 0; i < rows->nrows; i++) {
        const char *t = esc(r->arena, qrows_get(rows, i, 0));
        for (int k = 0; k < NB; k++)
            out(b, "%s_bucket{type=\"%s\",le=\"%g\"} %lld\n", name, t, buckets[k], (long long)qrows_i64(rows, i, 3 + k, 0));
        out(b, "%s_bucket{type=\"%s\",le=\"+Inf\"} %lld\n", name, t, (long long)qrows_i64(rows, i, 1, 0));
        out(b, "%s_sum{type=\"%s\"} %.6f\n", name, t, qrows_double(rows, i, 2, 0));
        out(b, "%s_count{type=\"%s\"} %lld\n", name, t, (long long)qrows_i64(rows, i, 1, 0));
    }
}

#define MAX_TYPES_SEEN 256

struct type_stats {
    const char *type;
    long long claims, done, failures, retries, expiries, cancels, releases;
};

/* The entry of type in t[0..*nt), added when new; NULL when t is full. */
static struct type_stats *type_slot(struct type_stats *t, int *nt, const char *type)
{
    for (int k = 0; k < *nt; k++)
        if (!strcmp(t[k].type, type))
            return &t[k];
    if (*nt == MAX_TYPES_SEEN)
        return NULL;
    memset(&t[*nt], 0, sizeof t[*nt]);
    t[*nt].type = type;
    return &t[(*nt)++];
}

static void queue_metrics(mbuf *b, qreq *r)
{
    qerrctx e = {0};
    qrows *js = NULL, *at = NULL;
    if (qdb_query(r->db, r->arena, &js, &e, "SELECT type, status, COUNT(*) FROM jobs GROUP BY type, status", "") ||
        qdb_query(r->db, r->arena, &at, &e,
                  "SELECT j.type, a.outcome, COUNT(*),"
                  " COALESCE(SUM(a.outcome IN ('failed','lease_expired') AND (j.attempts > a.attempt OR j.status <> 'failed')), 0)"
                  " FROM job_attempts a JOIN jobs j ON j.id = a.job_id GROUP BY j.type, a.outcome", "")) {
        out(b, "# queue figures unavailable: %s\n", e.msg);
        return;
    }
    out(b, "# HELP quire_jobs Jobs in the queue by type and status.\n# TYPE quire_jobs gauge\n");
    for (int i = 0; i < js->nrows; i++)
        out(b, "quire_jobs{type=\"%s\",status=\"%s\"} %lld\n", esc(r->arena, qrows_get(js, i, 0)), qrows_get(js, i, 1),
            (long long)qrows_i64(js, i, 2, 0));
    /* per type: claims = attempts that ended on record + completed + running */
    struct type_stats *t = qarena_alloc(r->arena, sizeof *t * MAX_TYPES_SEEN);
    int nt = 0;
    if (!t)
        return;
    for (int i = 0; i < js->nrows; i++) {
        struct type_stats *s = type_slot(t, &nt, qrows_get(js, i, 0));
        const char *st = qrows_get(js, i, 1);
        long long n = qrows_i64(js, i, 2, 0);
        if (!s)
            continue;
        if (!strcmp(st, "completed")) {
            s->done += n;
            s->claims += n;
        } else if (!strcmp(st, "running")) {
            s->claims += n;
        }
    }
    for (int i = 0; i < at->nrows; i++) {
        struct type_stats *s = type_slot(t, &nt, qrows_get(at, i, 0));
        const char *oc = qrows_get(at, i, 1);
        long long n = qrows_i64(at, i, 2, 0);
        if (!s)
            continue;
        s->claims += n;
        s->retries += qrows_i64(at, i, 3, 0);
        if (!strcmp(oc, "failed"))
            s->failures += n;
        else if (!strcmp(oc, "lease_expired"))
            s->expiries += n;
        else if (!strcmp(oc, "cancelled"))
            s->cancels += n;
        else if (!strcmp(oc, "released"))
            s->releases += n;
    }
    static const struct { const char *name, *help; size_t off; } ctr[] = {
        {"quire_job_claims_total", "Attempts started (claims) by job type.", 0},
        {"quire_job_completions_total", "Jobs completed by type.", 1},
        {"quire_job_failures_total", "Attempts that ended in failure by type.", 2},
        {"quire_job_retries_total", "Failed or expired attempts that were retried, by type.", 3},
        {"quire_job_lease_expiries_total", "Attempts whose lease expired (worker died or hung), by type.", 4},
        {"quire_job_cancellations_total", "Running attempts that stopped at a cancel request, by type.", 5},
        {"quire_job_releases_total", "Attempts handed back at worker shutdown, by type.", 6},
    };
    for (size_t c = 0; c < sizeof ctr / sizeof ctr[0]; c++) {
        out(b, "# HELP %s %s\n# TYPE %s counter\n", ctr[c].name, ctr[c].help, ctr[c].name);
        for (int i = 0; i < nt; i++) {
            long long v[] = {t[i].claims, t[i].done, t[i].failures, t[i].retries, t[i].expiries, t[i].cancels,
                             t[i].releases};
            out(b, "%s{type=\"%s\"} %lld\n", ctr[c].name, esc(r->arena, t[i].type), v[ctr[c].off]);
        }
    }
    job_histogram(b, r, "quire_job_queue_latency_seconds",
                  "From enqueue to the start of the latest attempt (includes retry backoff), by type.",
                  hist_latency_sql);
    job_histogram(b, r, "quire_job_run_seconds", "Run time of completed jobs' final attempt, by type.", hist_run_sql);

    qrows *w = NULL;
    out(b, "# HELP quire_workers Workers by status (online means a heartbeat within 60 s).\n# TYPE quire_workers gauge\n");
    if (qdb_query(r->db, r->arena, &w, &e,
                  "SELECT IF(status <> 'offline' AND last_heartbeat < NOW(3) - INTERVAL 60 SECOND, 'offline', status) s,"
                  " COUNT(*), COALESCE(SUM(current_jobs), 0) FROM workers GROUP BY s", "") == Q_OK) {
        long long online = 0, busy = 0;
        static const char *const sts[] = {"online", "draining", "offline"};
        for (int k = 0; k < 3; k++) {
            long long n = 0;
            for (int i = 0; i < w->nrows; i++)
                if (!strcmp(qrows_get(w, i, 0), sts[k])) {
                    n = qrows_i64(w, i, 1, 0);
                    if (k < 2)
                        busy += qrows_i64(w, i, 2, 0);
                }
            if (k == 0)
                online = n;
            out(b, "quire_workers{status=\"%s\"} %lld\n", sts[k], n);
        }
        out(b, "# HELP quire_workers_online Workers heartbeating and not offline.\n# TYPE quire_workers_online gauge\n"
               "quire_workers_online %lld\n", online);
        out(b, "# HELP quire_worker_jobs_running Jobs the online workers report running.\n"
               "# TYPE quire_worker_jobs_running gauge\nquire_worker_jobs_running %lld\n", busy);
    }
    qrows *n = NULL;
    out(b, "# HELP quire_notifications Webhook notifications by state.\n# TYPE quire_notifications gauge\n");
    if (qdb_query(r->db, r->arena, &n, &e, "SELECT state, COUNT(*) FROM notifications GROUP BY state", "") == Q_OK)
        for (int i = 0; i < n->nrows; i++)
            out(b, "quire_notifications{state=\"%s\"} %lld\n", qrows_get(n, i, 0), (long long)qrows_i64(n, i, 1, 0));
    out(b, "# HELP quire_notification_attempts_total Webhook delivery attempts by outcome.\n"
           "# TYPE quire_notification_attempts_total counter\n");
    if (qdb_query(r->db, r->arena, &n, &e,
                  "SELECT IF(http_status BETWEEN 200 AND 299, 'ok', 'error') o, COUNT(*) FROM notification_attempts"
                  " GROUP BY o", "") == Q_OK)
        for (int i = 0; i < n->nrows; i++)
            out(b, "quire_notification_attempts_total{outcome=\"%s\"} %lld\n", qrows_get(n, i, 0),
                (long long)qrows_i64(n, i, 1, 0));
}

static int loopback(qreq *r)
{
    const char *a = api_param(r, "REMOTE_ADDR");
    return a && (!strcmp(a, "127.0.0.1") || !strcmp(a, "::1") || !strncmp(a, "127.", 4));
}

/* GET /metrics: from loopback without a token; from elsewhere for admins. */
qerr h_metrics(qreq *r)
{
    if (!loopback(r)) {
        qerr e = api_authenticate(r);
        if (e)
            return e;
        if (r->user.role != QROLE_ADMIN)
            return api_fail(r, Q_ERR_FORBIDDEN, "metrics are for loopback callers and admins");
    }
    mbuf b = {malloc(65536), 0, 65536, 0};
    if (!b.s)
        return api_fail(r, Q_ERR_NOMEM, "out of memory");
    http_metrics(&b, r->arena);
    out(&b, "# HELP quire_up 1 when quire-api reaches its database.\n# TYPE quire_up gauge\nquire_up %d\n",
        r->db && qdb_ping(r->db) == 0);
    if (r->db)
        queue_metrics(&b, r);
    qarena_defer(r->arena, free, b.s);
    return api_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.s, b.len, NULL);
}
