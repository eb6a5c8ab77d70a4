/* test_remote.c - issue 5 against the test stack: the queue over HTTP with
 * worker tokens (claims, long poll, fencing, retries, counters, worker
 * rows, blobs with Range and checksums), quire-worker --api processing noop
 * jobs end to end (with a retry and a cancel), TTS requests (validation,
 * job records and dependencies, aggregated status, cancel, audio through
 * X-Accel-Redirect, voices from worker capabilities) with noop workers
 * standing in for the engines, webhooks to a receiver in this process
 * (signature, retry after an error, a dead receiver does not slow the
 * queue) and /metrics. quire-api and the workers use the stack's database;
 * job types here are this test's own. */
#include "apitest.h"
#include "db.h"
#include "http.h"
#include "queue.h"
#include "t.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char *admin, *user, *user2, *wtok;
static qdb *db;

static int64_t sql_int(const char *sql, int64_t a1)
{
    qarena *a = qarena_new();
    qrows *r = NULL;
    qerrctx e = {0};
    int64_t v = -1;
    if (qdb_query(db, a, &r, &e, sql, strchr(sql, '?') ? "i" : "", a1) == Q_OK && r->nrows > 0)
        v = qrows_i64(r, 0, 0, -1);
    else if (e.code)
        fprintf(stderr, "sql_int: %s\n", e.msg);
    qarena_free(a);
    return v;
}

static char *sql_str(const char *sql, int64_t a1)
{
    static char out[4096];
    qarena *a = qarena_new();
    qrows *r = NULL;
    qerrctx e = {0};
    out[0] = 0;
    if (qdb_query(db, a, &r, &e, sql, "i", a1) == Q_OK && r->nrows > 0 && qrows_get(r, 0, 0))
        snprintf(out, sizeof out, "%s", qrows_get(r, 0, 0));
    qarena_free(a);
    return out;
}

/* POST a JSON body as the worker; returns the status, *out the reply. */
static long wpost(const char *path, const char *json, thttp *out)
{
    thttp_json(out, "POST", path, wtok, json);
    return out->status;
}

static int64_t create_job(const char *type, const char *json)
{
    thttp r;
    char path[128];
    snprintf(path, sizeof path, "/api/v1/queue/%s/jobs", type);
    int64_t id = wpost(path, json, &r) == 201 ? (int64_t)tjson_num(r.json, "job_id", 0) : 0;
    if (!id)
        fprintf(stderr, "create_job: %ld %s\n", r.status, r.body);
    thttp_free(&r);
    return id;
}

/* Claims one job of type as worker wid; *token gets its token. */
static int64_t claim(const char *type, const char *wid, int wait, char token[64], char **payload)
{
    thttp r;
    char path[128], body[160];
    snprintf(path, sizeof path, "/api/v1/queue/%s/claim", type);
    snprintf(body, sizeof body, "{\"worker_id\":\"%s\",\"wait\":%d,\"lease\":30}", wid, wait);
    int64_t id = 0;
    if (wpost(path, body, &r) == 200 && cJSON_IsObject(cJSON_GetObjectItem(r.json, "job"))) {
        id = (int64_t)tjson_num(r.json, "job.id", 0);
        snprintf(token, 64, "%s", tjson_str(r.json, "job.token"));
        if (payload)
            *payload = cJSON_PrintUnformatted(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "job"), "payload"));
    }
    thttp_free(&r);
    return id;
}

static long attempt(const char *type, int64_t id, const char *what, const char *json)
{
    thttp r;
    char path[160];
    snprintf(path, sizeof path, "/api/v1/queue/%s/jobs/%lld/%s", type, (long long)id, what);
    long s = wpost(path, json, &r);
    if (s >= 300 && s != 409)
        t_note("%s %s -> %ld %s", what, path, s, r.body);
    thttp_free(&r);
    return s;
}

static char *job_status(int64_t id)
{
    return sql_str("SELECT status FROM jobs WHERE id = ?", id);
}

static int wait_status(int64_t id, const char *st, int ms)
{
    int64_t end = qmono_ms() + ms;
    while (qmono_ms() < end) {
        if (!strcmp(job_status(id), st))
            return 1;
        qsleep_ms(50);
    }
    return 0;
}

/* ---- the queue over HTTP ------------------------------------------------ */

static void test_worker_routes_need_a_worker_token(void)
{
    thttp r;
    thttp_json(&r, "POST", "/api/v1/queue/rt.auth/claim", NULL, "{\"worker_id\":\"x\"}");
    T_EQ_INT(r.status, 401);
    thttp_free(&r);
    thttp_json(&r, "POST", "/api/v1/queue/rt.auth/claim", user, "{\"worker_id\":\"x\"}");
    T_EQ_INT(r.status, 403);
    thttp_free(&r);
    thttp_json(&r, "POST", "/api/v1/queue/rt.auth/claim", wtok, "{\"worker_id\":\"x\"}");
    T_EQ_INT(r.status, 200);
    T_CHECK(cJSON_IsNull(cJSON_GetObjectItem(r.json, "job")), "%s", r.body);
    thttp_free(&r);
    /* a worker token is for the queue only */
    thttp_json(&r, "POST", "/api/v1/tts/queue", wtok, "{\"script_text\":\"hi\"}");
    T_EQ_INT(r.status, 403);
    thttp_free(&r);
    thttp_json(&r, "POST", "/api/v1/queue/UPPER/claim", wtok, "{\"worker_id\":\"x\"}");
    T_CHECK(r.status == 404 || r.status == 400, "%ld", r.status);
    thttp_free(&r);
}

static void test_claim_complete_fencing_and_stats(void)
{
    int64_t id = create_job("rt.basic", "{\"payload\":{\"n\":1},\"priority\":5}");
    T_REQUIRE(id > 0);
    T_EQ_STR(job_status(id), "pending");
    char tok[64] = "";
    char *payload = NULL;
    T_EQ_INT(claim("rt.basic", "rt-w1", 0, tok, &payload), id);
    T_EQ_STR(payload, "{\"n\":1}");
    free(payload);
    T_EQ_STR(job_status(id), "running");
    T_EQ_STR(sql_str("SELECT worker_id FROM jobs WHERE id = ?", id), "rt-w1");
    char body[256];
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"percent\":40,\"message\":\"going\",\"current\":2,\"total\":5}", tok);
    T_EQ_INT(attempt("rt.basic", id, "progress", body), 200);
    T_EQ_INT(sql_int("SELECT progress_percent FROM jobs WHERE id = ?", id), 40);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"lease\":60}", tok);
    T_EQ_INT(attempt("rt.basic", id, "heartbeat", body), 200);
    T_CHECK(sql_int("SELECT TIMESTAMPDIFF(SECOND, NOW(3), lease_expires_at) FROM jobs WHERE id = ?", id) >= 50);
    /* fencing: a wrong token changes nothing */
    T_EQ_INT(attempt("rt.basic", id, "complete", "{\"token\":\"nope.1.1\",\"result\":{\"x\":1}}"), 409);
    T_EQ_STR(job_status(id), "running");
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"result\":{\"gofile_link\":\"https://x\"}}", tok);
    T_EQ_INT(attempt("rt.basic", id, "complete", body), 200);
    T_EQ_STR(job_status(id), "completed");
    T_EQ_STR(sql_str("SELECT result FROM jobs WHERE id = ?", id), "{\"gofile_link\":\"https://x\"}");
    /* a late second report is refused */
    T_EQ_INT(attempt("rt.basic", id, "complete", body), 409);
    thttp r;
    thttp_json(&r, "GET", "/api/v1/queue/rt.basic/stats", wtok, NULL);
    T_EQ_INT(r.status, 200);
    T_CHECK(tjson_num(r.json, "completed", 0) >= 1, "%s", r.body);
    T_CHECK(cJSON_GetObjectItem(r.json, "processing") != NULL);
    thttp_free(&r);
    thttp_json(&r, "GET", "/api/v1/queue/rt.basic/jobs?status=completed", wtok, NULL);
    T_EQ_INT(r.status, 200);
    T_CHECK(cJSON_IsArray(r.json) && cJSON_GetArraySize(r.json) >= 1, "%s", r.body);
    T_EQ_INT((int64_t)tjson_num(cJSON_GetArrayItem(r.json, 0), "job_id", 0), id);
    thttp_free(&r);
    thttp_json(&r, "GET", "/api/v1/queue/rt.basic/jobs?status=bogus", wtok, NULL);
    T_EQ_INT(r.status, 400);
    thttp_free(&r);
}

static void test_fail_retries_then_dead_letter(void)
{
    int64_t id = create_job("rt.fail", "{\"payload\":{},\"max_attempts\":2}");
    T_REQUIRE(id > 0);
    char tok[64], body[256];
    T_EQ_INT(claim("rt.fail", "rt-w2", 0, tok, NULL), id);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"error_message\":\"first try broke\"}", tok);
    T_EQ_INT(attempt("rt.fail", id, "fail", body), 200);
    T_EQ_STR(job_status(id), "pending");
    /* after its backoff the long poll hands it out again */
    T_EQ_INT(claim("rt.fail", "rt-w2", 15, tok, NULL), id);
    T_EQ_INT(sql_int("SELECT attempts FROM jobs WHERE id = ?", id), 2);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"error\":\"second try broke\"}", tok);
    T_EQ_INT(attempt("rt.fail", id, "fail", body), 200);
    T_EQ_STR(job_status(id), "failed");
    T_EQ_INT(sql_int("SELECT COUNT(*) FROM job_attempts WHERE job_id = ? AND outcome = 'failed'", id), 2);
    T_EQ_STR(sql_str("SELECT last_error FROM jobs WHERE id = ?", id), "second try broke");
}

struct delayed { const char *type; int ms; int64_t id; };
static void *enqueue_later(void *arg)
{
    struct delayed *d = arg;
    qsleep_ms(d->ms);
    d->id = create_job(d->type, "{\"payload\":{}}");
    return NULL;
}

static void test_long_poll_wakes_on_enqueue(void)
{
    struct delayed d = {"rt.poll", 700, 0};
    pthread_t th;
    pthread_create(&th, NULL, enqueue_later, &d);
    int64_t t0 = qmono_ms();
    char tok[64];
    int64_t got = claim("rt.poll", "rt-w3", 10, tok, NULL);
    int64_t ms = qmono_ms() - t0;
    pthread_join(th, NULL);
    T_CHECK(got > 0 && got == d.id, "got %lld want %lld", (long long)got, (long long)d.id);
    T_CHECK(ms >= 600 && ms < 2500, "claim returned after %lld ms", (long long)ms);
    t_note("long poll returned %lld ms after the claim (job enqueued at 700 ms)", (long long)ms);
    /* nothing there: the poll ends at its wait */
    t0 = qmono_ms();
    T_EQ_INT(claim("rt.poll", "rt-w3", 1, tok, NULL), 0);
    T_CHECK(qmono_ms() - t0 >= 900, "empty poll took %lld ms", (long long)(qmono_ms() - t0));
}

static void test_counter_and_worker_rows(void)
{
    thttp r;
    T_EQ_INT(wpost("/api/v1/counter/increment/rt_audio", NULL, &r), 200);
    int64_t v1 = (int64_t)tjson_num(r.json, "value", -1);
    thttp_free(&r);
    T_EQ_INT(wpost("/api/v1/counter/increment/rt_audio", NULL, &r), 200);
    T_EQ_INT((int64_t)tjson_num(r.json, "value", -1), v1 + 1);
    thttp_free(&r);
    T_EQ_INT(wpost("/api/v1/workers/rt.caps/heartbeat",
                   "{\"worker_id\":\"rt-gpu-1\",\"status\":\"online\",\"gpu_model\":\"RTX 4090\",\"hostname\":\"vast-1\","
                   "\"capabilities\":{\"tts\":{\"espeak-ng\":[{\"id\":\"xx-rt\",\"name\":\"Test voice\",\"language\":\"xx\"}]}}}",
                   &r), 200);
    thttp_free(&r);
    thttp_json(&r, "GET", "/api/v1/workers/rt.caps", wtok, NULL);
    T_EQ_INT(r.status, 200);
    T_CHECK(cJSON_IsArray(r.json) && cJSON_GetArraySize(r.json) == 1, "%s", r.body);
    const cJSON *w = cJSON_GetArrayItem(r.json, 0);
    T_EQ_STR(tjson_str(w, "worker_id"), "rt-gpu-1");
    T_EQ_STR(tjson_str(w, "gpu_model"), "RTX 4090");
    T_EQ_STR(tjson_str(w, "status"), "online");
    thttp_free(&r);
    /* its voice is now known */
    thttp_json(&r, "GET", "/api/v1/voices", user, NULL);
    T_EQ_INT(r.status, 200);
    T_CHECK(strstr(r.body, "xx-rt") != NULL, "%s", r.body);
    thttp_free(&r);
    thttp_json(&r, "POST", "/api/v1/tts/queue", user,
               "{\"script_text\":\"hello\",\"voice_settings\":{\"engine\":\"espeak-ng\",\"voice\":\"xx-rt\"},\"priority\":-100}");
    T_EQ_INT(r.status, 202);
    const char *jid = tjson_str(r.json, "job_id");
    char path[128];
    snprintf(path, sizeof path, "/api/v1/tts/queue/%s", jid ? jid : "x");
    thttp_free(&r);
    thttp_json(&r, "DELETE", path, user, NULL);
    T_EQ_INT(r.status, 200);
    thttp_free(&r);
    T_EQ_INT(wpost("/api/v1/workers/rt.caps/heartbeat", "{\"worker_id\":\"rt-gpu-1\",\"status\":\"offline\"}", &r), 200);
    thttp_free(&r);
}

static void write_file(const char *path, const void *buf, size_t n)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    qmkdir_p(dir, 0755);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(buf, 1, n, f);
        fclose(f);
    }
}

static void test_blobs_download_range_and_checksummed_upload(void)
{
    const char *storage = tenv("QUIRE_STORAGE");
    size_t n = 300000;
    unsigned char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 7 + i / 251);
    char in[1024];
    snprintf(in, sizeof in, "%s/rt-blobs/in.bin", storage);
    write_file(in, data, n);
    int64_t id = create_job("rt.blob", "{\"payload\":{\"inputs\":{\"in.bin\":\"rt-blobs/in.bin\"},\"output_dir\":\"rt-blobs/out\"}}");
    T_REQUIRE(id > 0);
    char tok[64], path[256], hdr[320];
    T_REQUIRE(claim("rt.blob", "rt-w4", 0, tok, NULL) == id);
    snprintf(path, sizeof path, "/api/v1/queue/rt.blob/jobs/%lld/blobs/in.bin", (long long)id);
    snprintf(hdr, sizeof hdr, "X-Attempt-Token: %s", tok);
    thttp r;
    thttp_req(&r, "GET", path, wtok, NULL, NULL, 0, hdr);
    T_EQ_INT(r.status, 200);
    T_EQ_INT(r.len, n);
    T_CHECK(r.len == n && memcmp(r.body, data, n) == 0, "downloaded bytes differ");
    thttp_free(&r);
    /* resume: a Range request gets the rest */
    snprintf(hdr, sizeof hdr, "X-Attempt-Token: %s\nRange: bytes=100000-", tok);
    thttp_req(&r, "GET", path, wtok, NULL, NULL, 0, hdr);
    T_EQ_INT(r.status, 206);
    T_EQ_INT(r.len, n - 100000);
    T_CHECK(r.len == n - 100000 && memcmp(r.body, data + 100000, n - 100000) == 0, "range bytes differ");
    thttp_free(&r);
    /* a stale token gets nothing */
    thttp_req(&r, "GET", path, wtok, NULL, NULL, 0, "X-Attempt-Token: stale.1.1");
    T_EQ_INT(r.status, 409);
    thttp_free(&r);
    /* upload: a wrong checksum stores nothing, the right one stores it */
    char sha[65];
    qsha256_hex(data, 5000, sha);
    snprintf(path, sizeof path, "/api/v1/queue/rt.blob/jobs/%lld/blobs/out.bin", (long long)id);
    snprintf(hdr, sizeof hdr, "X-Attempt-Token: %s\nX-Content-SHA256: %064d", tok, 0);
    thttp_req(&r, "PUT", path, wtok, "application/octet-stream", data, 5000, hdr);
    T_EQ_INT(r.status, 422);
    thttp_free(&r);
    char out[1024];
    snprintf(out, sizeof out, "%s/rt-blobs/out/out.bin", storage);
    struct stat st;
    T_CHECK(stat(out, &st) != 0, "a file with a bad checksum was stored");
    snprintf(hdr, sizeof hdr, "X-Attempt-Token: %s\nX-Content-SHA256: %s", tok, sha);
    thttp_req(&r, "PUT", path, wtok, "application/octet-stream", data, 5000, hdr);
    T_EQ_INT(r.status, 201);
    T_EQ_STR(tjson_str(r.json, "path"), "rt-blobs/out/out.bin");
    thttp_free(&r);
    T_CHECK(stat(out, &st) == 0 && st.st_size == 5000, "output not stored");
    char got[65] = "";
    qsha256_file(out, got);
    T_EQ_STR(got, sha);
    char body[128];
    snprintf(body, sizeof body, "{\"token\":\"%s\"}", tok);
    T_EQ_INT(attempt("rt.blob", id, "complete", body), 200);
    free(data);
}

/* ---- quire-worker --api ------------------------------------------------- */

static void worker_start(const char *name, const char *args)
{
    tsh("\"$QUIRE_ROOT/scripts/stack.sh\" worker-start %s --api \"$QUIRE_URL\" --token %s %s", name, wtok, args);
}

static void worker_stop(const char *name)
{
    tsh("\"$QUIRE_ROOT/scripts/stack.sh\" worker-stop %s", name);
}

static void test_http_worker_end_to_end(void)
{
    setenv("QUIRE_SHUTDOWN_GRACE", "1", 1);      /* for the SIGTERM part */
    worker_start("worker-rt-http", "--types noop.rt --concurrency 2 --lease 10");
    int64_t ids[20];
    for (int i = 0; i < 20; i++)
        ids[i] = create_job("noop.rt", "{\"payload\":{\"sleep_ms\":20}}");
    int64_t retry = create_job("noop.rt", "{\"payload\":{\"fail_times\":1},\"max_attempts\":3}");
    int64_t longjob = create_job("noop.rt", "{\"payload\":{\"sleep_ms\":20000,\"steps\":200}}");
    T_REQUIRE(ids[19] > 0 && retry > 0 && longjob > 0);
    T_CHECK(wait_status(longjob, "running", 15000), "long job never started: %s", job_status(longjob));
    /* the owner cancels the running job; the HTTP worker notices */
    T_EQ_INT(tsh("\"$QUIRE_BIN/quirectl\" cancel %lld >/dev/null", (long long)longjob), 0);
    T_CHECK(wait_status(longjob, "cancelled", 10000), "long job: %s", job_status(longjob));
    for (int i = 0; i < 20; i++)
        T_CHECK(wait_status(ids[i], "completed", 15000), "job %lld: %s", (long long)ids[i], job_status(ids[i]));
    T_CHECK(wait_status(retry, "completed", 20000), "retry job: %s", job_status(retry));
    T_EQ_INT(sql_int("SELECT attempts FROM jobs WHERE id = ?", retry), 2);
    T_EQ_INT(sql_int("SELECT COUNT(*) FROM job_attempts WHERE job_id = ? AND outcome = 'failed'", retry), 1);
    T_EQ_INT(sql_int("SELECT COUNT(*) FROM job_attempts WHERE job_id = ? AND outcome = 'cancelled'", longjob), 1);
    T_EQ_STR(sql_str("SELECT worker_id FROM jobs WHERE id = ?", ids[0]), "worker-rt-http");
    thttp r;
    thttp_json(&r, "GET", "/api/v1/workers/noop.rt", wtok, NULL);
    T_CHECK(r.status == 200 && strstr(r.body, "worker-rt-http") && strstr(r.body, "\"online\""), "%s", r.body);
    thttp_free(&r);
    /* enqueue to claim over the long poll stays quick */
    int64_t t0 = qmono_ms();
    int64_t one = create_job("noop.rt", "{\"payload\":{}}");
    T_CHECK(wait_status(one, "completed", 5000), "%s", job_status(one));
    t_note("enqueue to completed over HTTP: %lld ms", (long long)(qmono_ms() - t0));
    /* SIGTERM: a running job goes back without spending an attempt */
    int64_t held = create_job("noop.rt", "{\"payload\":{\"sleep_ms\":60000,\"steps\":600}}");
    T_CHECK(wait_status(held, "running", 10000), "%s", job_status(held));
    worker_stop("worker-rt-http");
    T_CHECK(wait_status(held, "pending", 5000), "held job: %s", job_status(held));
    T_EQ_INT(sql_int("SELECT attempts FROM jobs WHERE id = ?", held), 0);
    char *st = sql_str("SELECT status FROM workers WHERE id = 'worker-rt-http' AND 1 = ?", 1);
    T_EQ_STR(st, "offline");
    /* the stopped worker's long poll must not take a job for nobody */
    int64_t after = create_job("noop.rt", "{\"payload\":{}}");
    qsleep_ms(3000);
    T_EQ_STR(job_status(after), "pending");
    T_EQ_INT(sql_int("SELECT attempts FROM jobs WHERE id = ?", after), 0);
    int r2 = 0;
    qerrctx e = {0};
    qqueue_cancel(db, held, 0, &r2, &e);
    qqueue_cancel(db, after, 0, &r2, &e);
}


/* The API goes away under a running HTTP worker: its reports are retried
 * with backoff, and the job completes once nginx is back. */
static void test_http_worker_rides_out_an_api_outage(void)
{
    worker_start("worker-rt-outage", "--types noop.outage --lease 30");
    int64_t id = create_job("noop.outage", "{\"payload\":{\"sleep_ms\":2500,\"steps\":5}}");
    T_REQUIRE(id > 0);
    T_CHECK(wait_status(id, "running", 10000), "%s", job_status(id));
    T_EQ_INT(tsh("\"$QUIRE_ROOT/scripts/stack.sh\" nginx-stop >/dev/null 2>&1"), 0);
    qsleep_ms(4000);                  /* the job ends while the API is away */
    T_EQ_STR(job_status(id), "running");
    T_EQ_INT(tsh("\"$QUIRE_ROOT/scripts/stack.sh\" nginx-start >/dev/null 2>&1"), 0);
    T_CHECK(wait_status(id, "completed", 30000), "after the outage: %s", job_status(id));
    T_EQ_INT(sql_int("SELECT attempts FROM jobs WHERE id = ?", id), 1);
    /* and it claims again afterwards */
    int64_t next = create_job("noop.outage", "{\"payload\":{}}");
    T_CHECK(wait_status(next, "completed", 10000), "%s", job_status(next));
    worker_stop("worker-rt-outage");
}

/* ---- TTS ---------------------------------------------------------------- */

static long tts_post(const char *json, thttp *r)
{
    thttp_json(r, "POST", "/api/v1/tts/queue", user, json);
    return r->status;
}

static void expect_422(const char *json, const char *field)
{
    thttp r;
    long s = tts_post(json, &r);
    T_CHECK(s == 422, "%s -> %ld %s", json, s, r.body);
    const char *m = tjson_str(r.json, "error.message");
    T_CHECK(m && strstr(m, field), "422 should name %s: %s", field, r.body);
    thttp_free(&r);
}

static void test_tts_validation(void)
{
    expect_422("{\"script_text\":\"   \"}", "script_text");
    expect_422("{}", "script_text");
    expect_422("{\"chapters\":[]}", "chapters");
    expect_422("{\"chapters\":[{\"id\":\"c1\",\"title\":\"One\",\"text\":\"\"}]}", "chapters[0].text");
    expect_422("{\"script_text\":\"hi\",\"voice_settings\":{\"speed\":2.5}}", "voice_settings.speed");
    expect_422("{\"script_text\":\"hi\",\"voice_settings\":{\"speed\":0.4}}", "voice_settings.speed");
    expect_422("{\"script_text\":\"hi\",\"voice_settings\":{\"engine\":\"polly\"}}", "voice_settings.engine");
    expect_422("{\"script_text\":\"hi\",\"voice_settings\":{\"engine\":\"flite\",\"voice\":\"nobody\"}}",
               "voice_settings.voice");
    expect_422("{\"script_text\":\"hi\",\"format\":\"ogg\"}", "format");
    expect_422("{\"script_text\":\"hi\",\"notify_url\":\"ftp://x\"}", "notify_url");
    expect_422("{\"script_text\":\"hi\",\"channel_code\":\"BI\"}", "video_number");
    expect_422("{\"script_text\":\"hi\",\"channel_code\":\"BI\",\"video_number\":1,\"date\":\"27-01-2025\"}", "date");
    /* a form's empty engine and voice, and pitch 0, mean the defaults */
    thttp r;
    T_EQ_INT(tts_post("{\"script_text\":\"hi\",\"priority\":-100,\"voice_settings\":{\"engine\":\"\",\"voice\":\"\","
                      "\"speed\":1,\"pitch\":0}}", &r), 202);
    char path[128];
    snprintf(path, sizeof path, "/api/v1/tts/queue/%s", tjson_str(r.json, "job_id") ? tjson_str(r.json, "job_id") : "x");
    thttp_free(&r);
    thttp_json(&r, "DELETE", path, user, NULL);
    T_EQ_INT(r.status, 200);
    thttp_free(&r);
    /* over the limit of 2,000,000 characters */
    size_t n = 2000001;
    char *big = malloc(n + 64);
    memcpy(big, "{\"script_text\":\"", 16);
    memset(big + 16, 'a', n);
    memcpy(big + 16 + n, "\"}", 3);
    expect_422(big, "script_text");
    free(big);
}

struct tts_ids { char pub[40]; int64_t req, asm_id, ch[8]; int n; };

static int tts_create(const char *json, struct tts_ids *t)
{
    thttp r;
    memset(t, 0, sizeof *t);
    long s = tts_post(json, &r);
    if (s != 202) {
        t_note("tts create: %ld %s", s, r.body);
        thttp_free(&r);
        return 0;
    }
    snprintf(t->pub, sizeof t->pub, "%s", tjson_str(r.json, "job_id"));
    thttp_free(&r);
    qarena *a = qarena_new();
    qrows *rows = NULL;
    qerrctx e = {0};
    if (qdb_query(db, a, &rows, &e, "SELECT id, assemble_job_id FROM tts_requests WHERE public_id = ?", "s", t->pub) == Q_OK &&
        rows->nrows) {
        t->req = qrows_i64(rows, 0, 0, 0);
        t->asm_id = qrows_i64(rows, 0, 1, 0);
    }
    if (qdb_query(db, a, &rows, &e, "SELECT job_id FROM tts_chapters WHERE request_id = ? ORDER BY seq", "i", t->req) == Q_OK)
        for (int i = 0; i < rows->nrows && i < 8; i++)
            t->ch[t->n++] = qrows_i64(rows, i, 0, 0);
    qarena_free(a);
    return 1;
}

static cJSON *tts_get(const char *pub, const char *tok, long *status)
{
    thttp r;
    char path[128];
    snprintf(path, sizeof path, "/api/v1/tts/queue/%s", pub);
    thttp_json(&r, "GET", path, tok, NULL);
    *status = r.status;
    cJSON *j = r.json;
    r.json = NULL;
    thttp_free(&r);
    return j;
}

/* Claims the given job (and only it) of type as this test's worker. */
static int claim_exact(const char *type, int64_t want, char tok[64])
{
    int64_t end = qmono_ms() + 10000;
    while (qmono_ms() < end) {
        char t2[64];
        int64_t got = claim(type, "rt-tts", 1, t2, NULL);
        if (got == want) {
            snprintf(tok, 64, "%s", t2);
            return 1;
        }
        if (got) {      /* someone else's: hand it back untouched */
            char b[128];
            snprintf(b, sizeof b, "{\"token\":\"%s\",\"release\":true}", t2);
            attempt(type, got, "heartbeat", b);
        }
    }
    return 0;
}

static void test_tts_book_records_progress_and_audio(void)
{
    struct tts_ids t;
    T_REQUIRE(tts_create("{\"work_id\":\"w-42\",\"title\":\"A Book\",\"priority\":100,\"format\":\"mp3\","
                         "\"voice_settings\":{\"engine\":\"flite\",\"voice\":\"slt\",\"speed\":1.25,\"pitch\":0.9},"
                         "\"chapters\":[{\"id\":\"c1\",\"title\":\"One\",\"text\":\"First chapter.\"},"
                         "{\"id\":\"c2\",\"title\":\"Two\",\"text\":\"Second chapter.\"},"
                         "{\"id\":\"c3\",\"title\":\"Three\",\"text\":\"Third chapter.\"}]}", &t));
    T_EQ_INT(t.n, 3);
    /* the records: three tts jobs, an assemble job waiting on all three */
    for (int i = 0; i < 3; i++) {
        T_EQ_STR(sql_str("SELECT type FROM jobs WHERE id = ?", t.ch[i]), "tts");
        T_EQ_STR(job_status(t.ch[i]), "pending");
        T_EQ_INT(sql_int("SELECT parent_id FROM jobs WHERE id = ?", t.ch[i]), t.req);
    }
    T_EQ_STR(sql_str("SELECT type FROM jobs WHERE id = ?", t.asm_id), "assemble");
    T_EQ_STR(job_status(t.asm_id), "waiting");
    T_EQ_INT(sql_int("SELECT COUNT(*) FROM job_deps WHERE job_id = ?", t.asm_id), 3);
    char *p = sql_str("SELECT payload FROM jobs WHERE id = ?", t.ch[1]);
    T_CHECK(strstr(p, "\"text\":\"Second chapter.\"") && strstr(p, "\"speed\":1.25") &&
            strstr(p, "/chapter_002.wav\"") && strstr(p, "\"format\":\"wav\""), "%s", p);
    long st;
    cJSON *j = tts_get(t.pub, user, &st);
    T_EQ_INT(st, 200);
    T_EQ_STR(tjson_str(j, "status"), "queued");
    T_EQ_INT(tjson_num(j, "total_chapters", 0), 3);
    T_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "chapters")), 3);
    cJSON_Delete(j);
    /* another user sees nothing */
    j = tts_get(t.pub, user2, &st);
    T_EQ_INT(st, 404);
    cJSON_Delete(j);
    char path[160];
    thttp r;
    snprintf(path, sizeof path, "/api/v1/tts/queue/%s/audio", t.pub);
    thttp_json(&r, "GET", path, user, NULL);
    T_EQ_INT(r.status, 409);
    thttp_free(&r);

    /* chapter 1 runs at 50 % */
    char tok[64], body[256];
    T_REQUIRE(claim_exact("tts", t.ch[0], tok));
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"percent\":50,\"message\":\"chunk 2 of 4\"}", tok);
    T_EQ_INT(attempt("tts", t.ch[0], "progress", body), 200);
    j = tts_get(t.pub, user, &st);
    T_EQ_STR(tjson_str(j, "status"), "processing");
    T_EQ_INT(tjson_num(j, "current_chapter", 0), 1);
    double pct = tjson_num(j, "progress_percent", -1);
    T_CHECK(pct > 15 && pct < 17, "progress %g", pct);
    const char *msg = tjson_str(j, "progress_message");
    T_CHECK(msg && strstr(msg, "chapter 1 of 3") && strstr(msg, "chunk 2 of 4"), "%s", msg ? msg : "-");
    T_EQ_STR(tjson_str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "chapters"), 0), "status"), "processing");
    cJSON_Delete(j);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"result\":{\"seconds\":1.5}}", tok);
    T_EQ_INT(attempt("tts", t.ch[0], "complete", body), 200);
    /* chapter 2 running: current chapter 2, 1 of 3 done */
    T_REQUIRE(claim_exact("tts", t.ch[1], tok));
    j = tts_get(t.pub, user, &st);
    T_EQ_INT(tjson_num(j, "current_chapter", 0), 2);
    T_EQ_INT(tjson_num(j, "chapters_done", 0), 1);
    cJSON_Delete(j);
    snprintf(body, sizeof body, "{\"token\":\"%s\"}", tok);
    T_EQ_INT(attempt("tts", t.ch[1], "complete", body), 200);
    T_REQUIRE(claim_exact("tts", t.ch[2], tok));
    snprintf(body, sizeof body, "{\"token\":\"%s\"}", tok);
    T_EQ_INT(attempt("tts", t.ch[2], "complete", body), 200);
    /* all chapters done: the assemble job is released */
    T_CHECK(wait_status(t.asm_id, "pending", 3000), "assemble: %s", job_status(t.asm_id));
    j = tts_get(t.pub, user, &st);
    T_EQ_STR(tjson_str(j, "status"), "processing");
    msg = tjson_str(j, "progress_message");
    T_CHECK(msg && strstr(msg, "assembling"), "%s", msg ? msg : "-");
    cJSON_Delete(j);
    T_REQUIRE(claim_exact("assemble", t.asm_id, tok));
    p = sql_str("SELECT payload FROM jobs WHERE id = ?", t.asm_id);
    T_CHECK(strstr(p, "/audio.mp3\"") && strstr(p, "chapter_003.wav") && strstr(p, "\"titles\":[\"One\",\"Two\",\"Three\"]"),
            "%s", p);
    /* the stand-in engine writes the files where the payload says */
    char dir[512], file[1024];
    snprintf(dir, sizeof dir, "%s/%s", tenv("QUIRE_STORAGE"),
             sql_str("SELECT output_dir FROM tts_requests WHERE id = ?", t.req));
    snprintf(file, sizeof file, "%s/audio.mp3", dir);
    char audio[4096];
    for (size_t i = 0; i < sizeof audio; i++)
        audio[i] = (char)(i * 13);
    write_file(file, audio, sizeof audio);
    snprintf(file, sizeof file, "%s/chapter_002.wav", dir);
    write_file(file, "RIFFchapter2", 12);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"result\":{\"duration_seconds\":3.0}}", tok);
    T_EQ_INT(attempt("assemble", t.asm_id, "complete", body), 200);
    j = tts_get(t.pub, user, &st);
    T_EQ_STR(tjson_str(j, "status"), "completed");
    T_EQ_INT(tjson_num(j, "progress_percent", 0), 100);
    T_CHECK(tjson_str(j, "audio_url") != NULL);
    T_CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "error")));
    cJSON_Delete(j);
    /* the audio, sent by nginx, with ranges */
    thttp_json(&r, "GET", path, user, NULL);
    T_EQ_INT(r.status, 200);
    T_EQ_INT(r.len, sizeof audio);
    T_CHECK(r.len == sizeof audio && memcmp(r.body, audio, sizeof audio) == 0, "audio bytes differ");
    T_CHECK(thttp_header(&r, "Content-Type") && strstr(thttp_header(&r, "Content-Type"), "audio/mpeg"));
    thttp_free(&r);
    thttp_req(&r, "GET", path, user, NULL, NULL, 0, "Range: bytes=4000-");
    T_EQ_INT(r.status, 206);
    T_EQ_INT(r.len, 96);
    thttp_free(&r);
    snprintf(path, sizeof path, "/api/v1/tts/queue/%s/chapters/2/audio", t.pub);
    thttp_json(&r, "GET", path, user, NULL);
    T_EQ_INT(r.status, 200);
    T_CHECK(r.len == 12 && !memcmp(r.body, "RIFFchapter2", 12));
    thttp_free(&r);
    snprintf(path, sizeof path, "/api/v1/tts/queue/%s/chapters/1/audio", t.pub);
    thttp_json(&r, "GET", path, user, NULL);
    T_EQ_INT(r.status, 404);             /* completed, but no file was written */
    thttp_free(&r);
    snprintf(path, sizeof path, "/api/v1/tts/queue/%s/chapters/9/audio", t.pub);
    thttp_json(&r, "GET", path, user, NULL);
    T_EQ_INT(r.status, 404);
    thttp_free(&r);
    /* a finished request cannot be cancelled */
    snprintf(path, sizeof path, "/api/v1/tts/queue/%s", t.pub);
    thttp_json(&r, "DELETE", path, user, NULL);
    T_EQ_INT(r.status, 409);
    thttp_free(&r);
}

static void test_tts_failure_and_cancel(void)
{
    struct tts_ids f, c;
    T_REQUIRE(tts_create("{\"title\":\"Fails\",\"priority\":100,\"chapters\":[{\"title\":\"A\",\"text\":\"a\"},"
                         "{\"title\":\"B\",\"text\":\"b\"}]}", &f));
    char tok[64], body[256];
    T_REQUIRE(claim_exact("tts", f.ch[0], tok));
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"error\":\"engine exploded\",\"retryable\":false}", tok);
    T_EQ_INT(attempt("tts", f.ch[0], "fail", body), 200);
    long st;
    cJSON *j = tts_get(f.pub, user, &st);
    T_EQ_STR(tjson_str(j, "status"), "failed");
    const char *err = tjson_str(j, "error");
    T_CHECK(err && strstr(err, "chapter 1") && strstr(err, "engine exploded"), "%s", err ? err : "-");
    cJSON_Delete(j);
    T_EQ_STR(job_status(f.asm_id), "failed");          /* its dependency failed */
    int r2;
    qerrctx e = {0};
    qqueue_cancel(db, f.ch[1], 0, &r2, &e);

    T_REQUIRE(tts_create("{\"title\":\"Cancelled\",\"script_text\":\"never mind\",\"priority\":100}", &c));
    T_EQ_INT(c.n, 1);
    char path[128];
    snprintf(path, sizeof path, "/api/v1/tts/queue/%s", c.pub);
    thttp r;
    thttp_json(&r, "DELETE", path, user2, NULL);
    T_EQ_INT(r.status, 404);
    thttp_free(&r);
    thttp_json(&r, "DELETE", path, user, NULL);
    T_EQ_INT(r.status, 200);
    thttp_free(&r);
    T_EQ_STR(job_status(c.ch[0]), "cancelled");
    T_EQ_STR(job_status(c.asm_id), "cancelled");
    j = tts_get(c.pub, user, &st);
    T_EQ_STR(tjson_str(j, "status"), "cancelled");
    cJSON_Delete(j);
    thttp_json(&r, "DELETE", path, user, NULL);
    T_EQ_INT(r.status, 409);
    thttp_free(&r);
    /* the history, newest first */
    thttp_json(&r, "GET", "/api/v1/tts/queue?page=1&per_page=2", user, NULL);
    T_EQ_INT(r.status, 200);
    const cJSON *items = cJSON_GetObjectItem(r.json, "items");
    T_EQ_INT(cJSON_GetArraySize(items), 2);
    T_EQ_STR(tjson_str(cJSON_GetArrayItem(items, 0), "job_id"), c.pub);
    T_EQ_STR(tjson_str(cJSON_GetArrayItem(items, 1), "job_id"), f.pub);
    T_CHECK(tjson_num(r.json, "total", 0) >= 3);
    thttp_free(&r);
    thttp_json(&r, "GET", "/api/v1/tts/queue", user2, NULL);
    T_EQ_INT(tjson_num(r.json, "total", -1), 0);
    thttp_free(&r);
}

static void test_tts_daily_video_path_and_http_worker(void)
{
    /* noop workers over HTTP stand in for the engines */
    worker_start("worker-rt-tts", "--types tts,assemble --stand-in noop --concurrency 2");
    struct tts_ids t;
    T_REQUIRE(tts_create("{\"script_text\":\"Namaste duniya.\",\"channel_code\":\"BI\",\"video_number\":2,"
                         "\"date\":\"2025-01-27\",\"format\":\"wav\"}", &t));
    T_EQ_STR(sql_str("SELECT output_dir FROM tts_requests WHERE id = ?", t.req), "tts/2025-01-27/BI/video_2");
    int64_t end = qmono_ms() + 20000;
    const char *s = "";
    cJSON *j = NULL;
    long st;
    while (qmono_ms() < end) {
        cJSON_Delete(j);
        j = tts_get(t.pub, user, &st);
        s = tjson_str(j, "status") ? tjson_str(j, "status") : "";
        if (!strcmp(s, "completed") || !strcmp(s, "failed"))
            break;
        qsleep_ms(100);
    }
    T_EQ_STR(s, "completed");
    T_EQ_STR(tjson_str(j, "organized_path"), "tts/2025-01-27/BI/video_2");
    T_CHECK(tjson_num(j, "audio_counter", 0) >= 1, "audio_counter");
    cJSON_Delete(j);
    T_EQ_STR(sql_str("SELECT worker_id FROM jobs WHERE id = ?", t.asm_id), "worker-rt-tts");
}


/* The real engines over HTTP: the worker's storage is its scratch area;
 * chapter files travel up, the assembler's inputs down, the book up. */
static void test_tts_real_engines_over_http(void)
{
    worker_start("worker-rt-engines", "--types tts,assemble --concurrency 2");
    struct tts_ids t;
    T_REQUIRE(tts_create("{\"title\":\"Tiny\",\"format\":\"mp3\",\"voice_settings\":{\"engine\":\"flite\",\"voice\":\"slt\"},"
                         "\"chapters\":[{\"title\":\"One\",\"text\":\"Hello there.\"},"
                         "{\"title\":\"Two\",\"text\":\"Goodbye now.\"}]}", &t));
    int64_t end = qmono_ms() + 90000;
    const char *s = "";
    cJSON *j = NULL;
    long st;
    while (qmono_ms() < end) {
        cJSON_Delete(j);
        j = tts_get(t.pub, user, &st);
        s = tjson_str(j, "status") ? tjson_str(j, "status") : "";
        if (!strcmp(s, "completed") || !strcmp(s, "failed"))
            break;
        qsleep_ms(200);
    }
    T_CHECK(!strcmp(s, "completed"), "status %s error %s", s, tjson_str(j, "error") ? tjson_str(j, "error") : "-");
    cJSON_Delete(j);
    char path[160];
    thttp r;
    snprintf(path, sizeof path, "/api/v1/tts/queue/%s/audio", t.pub);
    thttp_json(&r, "GET", path, user, NULL);
    T_EQ_INT(r.status, 200);
    const unsigned char *b = (const unsigned char *)r.body;
    T_CHECK(r.len > 1000 && (!memcmp(b, "ID3", 3) || (b[0] == 0xFF && (b[1] & 0xE0) == 0xE0)),
            "not an MP3: %zu bytes", r.len);
    t_note("book of 2 chapters synthesized over HTTP: %zu bytes of MP3", r.len);
    thttp_free(&r);
    snprintf(path, sizeof path, "/api/v1/tts/queue/%s/chapters/2/audio", t.pub);
    thttp_json(&r, "GET", path, user, NULL);
    T_EQ_INT(r.status, 200);
    T_CHECK(r.len > 44 && !memcmp(r.body, "RIFF", 4), "chapter 2 is not a WAV");
    thttp_free(&r);
    /* the voices the worker reported */
    thttp_json(&r, "GET", "/api/v1/voices", user, NULL);
    T_CHECK(r.status == 200 && strstr(r.body, "\"slt\"") && strstr(r.body, "\"source\":\"workers\""), "%.300s", r.body);
    thttp_free(&r);
    /* nothing left behind in the worker's scratch storage */
    char *left = tsh_out("find \"$QUIRE_VAR\"/tmp/worker-scratch-* -type f 2>/dev/null | wc -l");
    T_EQ_STR(left, "0");
    free(left);
    worker_stop("worker-rt-engines");
}

/* ---- notifications ----------------------------------------------------- */

static struct {
    int fd, port;
    atomic_int stop, fail_first, hits;
    pthread_mutex_t mu;
    char body[8][4096], sig[8][128];
    int codes[8];
} rx = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *receiver(void *arg)
{
    (void)arg;
    while (!atomic_load(&rx.stop)) {
        struct pollfd p = {rx.fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int c = accept(rx.fd, NULL, NULL);
        if (c < 0)
            continue;
        char buf[16384];
        size_t n = 0;
        long need = -1;
        char *hend = NULL;
        while (n < sizeof buf - 1) {
            ssize_t k = recv(c, buf + n, sizeof buf - 1 - n, 0);
            if (k <= 0)
                break;
            n += (size_t)k;
            buf[n] = 0;
            if (!hend && (hend = strstr(buf, "\r\n\r\n"))) {
                char *cl = strcasestr(buf, "Content-Length:");
                need = cl ? atol(cl + 15) : 0;
            }
            if (hend && (long)(n - (size_t)(hend + 4 - buf)) >= need)
                break;
        }
        int i = atomic_fetch_add(&rx.hits, 1);
        int code = i < atomic_load(&rx.fail_first) ? 500 : 200;
        if (i < 8 && hend) {
            pthread_mutex_lock(&rx.mu);
            snprintf(rx.body[i], sizeof rx.body[i], "%s", hend + 4);
            char *sg = strcasestr(buf, "X-Quire-Signature:");
            if (sg) {
                sg += 18;
                while (*sg == ' ')
                    sg++;
                snprintf(rx.sig[i], sizeof rx.sig[i], "%.*s", (int)strcspn(sg, "\r\n"), sg);
            }
            rx.codes[i] = code;
            pthread_mutex_unlock(&rx.mu);
        }
        char resp[128];
        int m = snprintf(resp, sizeof resp, "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", code);
        send(c, resp, (size_t)m, MSG_NOSIGNAL);
        close(c);
    }
    return NULL;
}

static int listen_free_port(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 16))
        return -1;
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    *port = ntohs(a.sin_port);
    return fd;
}

static cJSON *notification_for(const char *tok, const char *kind_ref_pub)
{
    thttp r;
    thttp_json(&r, "GET", "/api/v1/notifications", tok, NULL);
    cJSON *found = NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(r.json, "items")) {
        const char *jid = tjson_str(it, "event.job_id");
        if (jid && !strcmp(jid, kind_ref_pub))
            found = cJSON_Duplicate(it, 1);
        if (found)
            break;
    }
    thttp_free(&r);
    return found;
}

static void test_notifications_signed_retried_and_never_blocking(void)
{
    rx.fd = listen_free_port(&rx.port);
    T_REQUIRE(rx.fd >= 0);
    atomic_store(&rx.fail_first, 1);
    pthread_t th;
    pthread_create(&th, NULL, receiver, NULL);
    char json[512];
    snprintf(json, sizeof json, "{\"script_text\":\"Tell me when done.\",\"notify_url\":\"http://127.0.0.1:%d/hook\"}",
             rx.port);
    struct tts_ids t;
    T_REQUIRE(tts_create(json, &t));
    /* a dead receiver: a port nobody listens on */
    int dead_port;
    int dfd = listen_free_port(&dead_port);
    close(dfd);
    snprintf(json, sizeof json, "{\"script_text\":\"Nobody listens.\",\"notify_url\":\"http://127.0.0.1:%d/x\"}", dead_port);
    struct tts_ids d;
    T_REQUIRE(tts_create(json, &d));
    /* the first delivery gets a 500, the retry (after ~5 s) a 200 */
    int64_t end = qmono_ms() + 40000;
    while (qmono_ms() < end && atomic_load(&rx.hits) < 2)
        qsleep_ms(100);
    T_CHECK(atomic_load(&rx.hits) >= 2, "receiver saw %d deliveries", atomic_load(&rx.hits));
    /* meanwhile the queue kept going at full speed */
    int64_t t0 = qmono_ms();
    struct tts_ids q[5];
    for (int i = 0; i < 5; i++)
        T_REQUIRE(tts_create("{\"script_text\":\"Quick.\"}", &q[i]));
    for (int i = 0; i < 5; i++)
        T_CHECK(wait_status(q[i].asm_id, "completed", 10000), "%s", job_status(q[i].asm_id));
    int64_t ms = qmono_ms() - t0;
    T_CHECK(ms < 8000, "5 requests took %lld ms while a receiver is dead", (long long)ms);
    t_note("5 TTS requests through stand-in workers in %lld ms beside a dead receiver", (long long)ms);
    /* the signature verifies with the owner's secret */
    thttp r;
    thttp_json(&r, "GET", "/api/v1/notifications", user, NULL);
    const char *secret = tjson_str(r.json, "signing_secret");
    T_REQUIRE(secret != NULL);
    char want[65];
    pthread_mutex_lock(&rx.mu);
    qhmac_sha256_hex(secret, strlen(secret), rx.body[1], strlen(rx.body[1]), want);
    char expect[80];
    snprintf(expect, sizeof expect, "sha256=%s", want);
    T_EQ_STR(rx.sig[1], expect);
    T_EQ_STR(rx.body[0], rx.body[1]);         /* a retry sends the same event */
    cJSON *ev = cJSON_Parse(rx.body[1]);
    T_EQ_STR(tjson_str(ev, "event"), "tts.completed");
    T_EQ_STR(tjson_str(ev, "job_id"), t.pub);
    T_CHECK(tjson_str(ev, "audio_url") && strstr(tjson_str(ev, "audio_url"), t.pub));
    cJSON_Delete(ev);
    pthread_mutex_unlock(&rx.mu);
    thttp_free(&r);
    /* visible to the owner with each attempt */
    cJSON *n = notification_for(user, t.pub);
    T_REQUIRE(n != NULL);
    T_EQ_STR(tjson_str(n, "state"), "delivered");
    const cJSON *dl = cJSON_GetObjectItem(n, "deliveries");
    T_EQ_INT(cJSON_GetArraySize(dl), 2);
    T_EQ_INT(tjson_num(cJSON_GetArrayItem(dl, 0), "http_status", 0), 500);
    T_EQ_INT(tjson_num(cJSON_GetArrayItem(dl, 1), "http_status", 0), 200);
    cJSON_Delete(n);
    n = notification_for(user, d.pub);
    T_REQUIRE(n != NULL);
    T_EQ_STR(tjson_str(n, "state"), "pending");
    T_CHECK(tjson_num(n, "attempts", 0) >= 1, "dead receiver attempts");
    T_CHECK(tjson_str(n, "last_error") != NULL);
    t_note("dead receiver: %s", tjson_str(n, "last_error") ? tjson_str(n, "last_error") : "-");
    cJSON_Delete(n);
    /* nobody else sees them */
    thttp_json(&r, "GET", "/api/v1/notifications", user2, NULL);
    T_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "items")), 0);
    thttp_free(&r);
    /* an audiobook: the event goes when all its jobs ended (here: the
     * owner cancels them, no engine runs in this test) */
    char extra[128];
    snprintf(extra, sizeof extra, "\"notify_url\":\"http://127.0.0.1:%d/book\"", rx.port);
    char *book = at_book_ex(user, NULL, extra);
    T_REQUIRE(book != NULL);
    long long jobs[32];
    int nj = at_book_jobs(user, book, jobs, 32);
    T_CHECK(nj >= 2, "book jobs %d", nj);
    int before = atomic_load(&rx.hits);
    for (int i = nj - 1; i >= 0; i--) {
        char path[64];
        snprintf(path, sizeof path, "/api/v1/jobs/%lld", jobs[i]);
        thttp_json(&r, "DELETE", path, user, NULL);
        thttp_free(&r);
    }
    end = qmono_ms() + 15000;
    while (qmono_ms() < end && atomic_load(&rx.hits) == before)
        qsleep_ms(100);
    T_CHECK(atomic_load(&rx.hits) > before, "no audiobook event");
    pthread_mutex_lock(&rx.mu);
    int hit = before < 8 ? before : 7;
    ev = cJSON_Parse(rx.body[hit]);
    T_EQ_STR(tjson_str(ev, "event"), "audiobook.failed");
    T_EQ_STR(tjson_str(ev, "audiobook_id"), book);
    T_CHECK(tjson_str(ev, "error") && strstr(tjson_str(ev, "error"), "cancel"), "%s", rx.body[hit]);
    cJSON_Delete(ev);
    pthread_mutex_unlock(&rx.mu);
    free(book);
    atomic_store(&rx.stop, 1);
    pthread_join(th, NULL);
    close(rx.fd);
    worker_stop("worker-rt-tts");
}

/* ---- metrics ------------------------------------------------------------ */

/* The value of the first sample line starting with prefix, or -1. */
static double metric(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *s = text; s && *s;) {
        if (!strncmp(s, prefix, n) && s[n] == ' ')
            return atof(s + n + 1);
        s = strchr(s, '\n');
        s = s ? s + 1 : NULL;
    }
    return -1;
}

static void test_metrics(void)
{
    thttp r;
    thttp_json(&r, "GET", "/metrics", NULL, NULL);
    T_EQ_INT(r.status, 200);
    T_CHECK(thttp_header(&r, "Content-Type") && strstr(thttp_header(&r, "Content-Type"), "text/plain"));
    const char *health = "quire_http_requests_total{route=\"/api/v1/health\",method=\"GET\",status=\"200\"}";
    double h0 = metric(r.body, health);
    double c0 = metric(r.body, "quire_job_completions_total{type=\"noop.rt\"}");
    T_CHECK(c0 >= 21, "completions noop.rt %g", c0);
    T_CHECK(metric(r.body, "quire_job_retries_total{type=\"noop.rt\"}") >= 1, "retries");
    T_CHECK(metric(r.body, "quire_job_failures_total{type=\"rt.fail\"}") == 2, "failures rt.fail");
    T_CHECK(metric(r.body, "quire_job_cancellations_total{type=\"noop.rt\"}") >= 1, "cancellations");
    T_CHECK(metric(r.body, "quire_job_claims_total{type=\"rt.fail\"}") == 2, "claims rt.fail");
    T_CHECK(metric(r.body, "quire_jobs{type=\"rt.fail\",status=\"failed\"}") == 1, "jobs gauge");
    T_CHECK(metric(r.body, "quire_job_run_seconds_count{type=\"noop.rt\"}") >= 21, "run histogram");
    T_CHECK(metric(r.body, "quire_job_queue_latency_seconds_bucket{type=\"noop.rt\",le=\"+Inf\"}") >= 21, "latency histogram");
    T_CHECK(metric(r.body, "quire_workers_online") >= 0, "workers online");
    T_CHECK(metric(r.body, "quire_upload_bytes_total") >= 5000, "upload bytes");
    T_CHECK(strstr(r.body, "# TYPE quire_http_request_duration_seconds histogram") != NULL);
    thttp_free(&r);
    for (int i = 0; i < 3; i++) {
        thttp_json(&r, "GET", "/api/v1/health", NULL, NULL);
        thttp_free(&r);
    }
    int64_t id = create_job("noop.rt", "{\"payload\":{}}");
    char tok[64], body[128];
    T_REQUIRE(claim("noop.rt", "rt-metrics", 0, tok, NULL) == id);
    snprintf(body, sizeof body, "{\"token\":\"%s\"}", tok);
    T_EQ_INT(attempt("noop.rt", id, "complete", body), 200);
    thttp_json(&r, "GET", "/metrics", NULL, NULL);
    T_CHECK(metric(r.body, health) >= (h0 < 0 ? 0 : h0) + 3, "health count %g -> %g", h0, metric(r.body, health));
    T_EQ_INT(metric(r.body, "quire_job_completions_total{type=\"noop.rt\"}"), c0 + 1);
    T_CHECK(metric(r.body, "quire_http_request_duration_seconds_count{route=\"/api/v1/queue/{type}/claim\",method=\"POST\"}") >= 1,
            "claim latency series");
    /* every sample line parses: name{labels} value */
    int bad = 0, lines = 0;
    for (char *s = r.body; s && *s;) {
        char *e = strchr(s, '\n');
        if (*s != '#' && e != s) {
            lines++;
            char *sp = memchr(s, ' ', e ? (size_t)(e - s) : strlen(s));
            char *end = NULL;
            if (!sp)
                bad++;
            else
                strtod(sp + 1, &end), bad += !(end && (*end == '\n' || *end == 0));
        }
        s = e ? e + 1 : NULL;
    }
    T_EQ_INT(bad, 0);
    t_note("/metrics: %d samples", lines);
    thttp_free(&r);
}

int main(void)
{
    tenv("QUIRE_URL");
    admin = strdup(tenv("QUIRE_ADMIN_TOKEN"));
    char name[64];
    snprintf(name, sizeof name, "rt-user-%d", (int)getpid());
    user = tuser_token(name, NULL);
    snprintf(name, sizeof name, "rt-other-%d", (int)getpid());
    user2 = tuser_token(name, NULL);
    snprintf(name, sizeof name, "rt-worker-%d", (int)getpid());
    wtok = tuser_token(name, "--worker");
    /* quire-api on the stack's own database: a test before us may have
     * restarted it on one of its own (QUIRE_DB_NAME) */
    tsh("\"$QUIRE_ROOT/scripts/stack.sh\" api-stop >/dev/null 2>&1; \"$QUIRE_ROOT/scripts/stack.sh\" api-start >/dev/null 2>&1");
    for (int i = 0; i < 100; i++) {
        thttp h;
        thttp_json(&h, "GET", "/api/v1/voices", user, NULL);
        long st = h.status;
        thttp_free(&h);
        if (st == 200)
            break;
        qsleep_ms(100);
    }
    qerrctx e = {0};
    db = qdb_open(&e);
    if (!user || !user2 || !wtok || !db) {
        fprintf(stderr, "setup failed: %s\n", e.msg);
        return 1;
    }
    T_RUN(test_worker_routes_need_a_worker_token);
    T_RUN(test_claim_complete_fencing_and_stats);
    T_RUN(test_fail_retries_then_dead_letter);
    T_RUN(test_long_poll_wakes_on_enqueue);
    T_RUN(test_counter_and_worker_rows);
    T_RUN(test_blobs_download_range_and_checksummed_upload);
    T_RUN(test_http_worker_end_to_end);
    T_RUN(test_http_worker_rides_out_an_api_outage);
    T_RUN(test_tts_validation);
    T_RUN(test_tts_book_records_progress_and_audio);
    T_RUN(test_tts_failure_and_cancel);
    T_RUN(test_tts_daily_video_path_and_http_worker);
    T_RUN(test_notifications_signed_retried_and_never_blocking);
    T_RUN(test_tts_real_engines_over_http);
    T_RUN(test_metrics);
    tsh("\"$QUIRE_ROOT/scripts/stack.sh\" worker-stop worker-rt-http >/dev/null 2>&1");
    tsh("\"$QUIRE_ROOT/scripts/stack.sh\" worker-stop worker-rt-tts >/dev/null 2>&1");
    tsh("\"$QUIRE_ROOT/scripts/stack.sh\" worker-stop worker-rt-engines >/dev/null 2>&1");
    tsh("\"$QUIRE_ROOT/scripts/stack.sh\" worker-stop worker-rt-outage >/dev/null 2>&1");
    qdb_close(db);
    free(admin);
    free(user);
    free(user2);
    free(wtok);
    return t_done();
}
