/* test_api_flow.c - the upload -> audiobook -> jobs flow: the seed
 * document's script run with the curl command line through the
 * /api/v1/admin/ aliases, multi-file books in natural order with their job
 * graph, a processor reporting through the status endpoint until the book is
 * ready, cancel/retry and the failed status, lists, updates and deletes. */
#include "apitest.h"
#include "audiobook.h"
#include "db.h"
#include "queue.h"
#include "t.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *user_tok, *other_tok, *admin_tok;

/* Runs curl (the command line) and parses its one-line JSON output. */
static cJSON *curl_json(const char *fmt, const char *a, const char *b, const char *c)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, fmt, a, b, c);
    char *out = tsh_out("%s", cmd);
    cJSON *j = out ? cJSON_Parse(out) : NULL;
    if (!j)
        t_note("curl said: %s", out ? out : "(nothing)");
    free(out);
    return j;
}

static int has_keys(const cJSON *o, const char *const *keys)
{
    for (; *keys; keys++)
        if (!cJSON_GetObjectItemCaseSensitive(o, *keys)) {
            t_note("missing key %s", *keys);
            return 0;
        }
    return 1;
}

static void test_seed_flow_through_admin_aliases(void)
{
    const char *url = tenv("QUIRE_URL");
    char mp3[600];
    snprintf(mp3, sizeof mp3, "%s/audio.mp3", at_tmpdir());
    if (tsh("ffmpeg -loglevel error -y -f lavfi -i sine=f=440:d=1 -q:a 9 '%s' </dev/null", mp3) != 0) {
        char *w = at_wav("audio.wav", 1);
        snprintf(mp3, sizeof mp3, "%s", w);
        free(w);
    }
    /* 1. upload session, exactly as the seed's curl does it */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "curl -s -X POST %s/api/v1/admin/uploads -H 'Content-Type: application/json'"
             " -H 'Authorization: Bearer %%s' -d '{\"upload_type\": \"single\", \"total_files\": 1,"
             " \"total_size_bytes\": 1024000}'%%s%%s", url);
    cJSON *s = curl_json(cmd, user_tok, "", "");
    T_REQUIRE(s != NULL);
    T_CHECK(has_keys(s, (const char *const[]){"upload_id", "status", "message", NULL}));
    T_EQ_STR(tjson_str(s, "status"), "pending");
    const char *up = tjson_str(s, "upload_id");
    T_REQUIRE(up != NULL);

    /* 2. the file with -F file=@audio.mp3 */
    snprintf(cmd, sizeof cmd, "curl -s -X POST %s/api/v1/admin/uploads/%%s/files -H 'Authorization: Bearer %%s'"
             " -F 'file=@%%s'", url);
    cJSON *f = curl_json(cmd, up, user_tok, mp3);
    T_REQUIRE(f != NULL);
    T_CHECK(has_keys(f, (const char *const[]){"file_id", "upload_id", "file_name", "file_size_bytes", "uploaded_at",
                                               "sha256", NULL}));
    T_EQ_STR(tjson_str(f, "upload_id"), up);
    T_EQ_STR(tjson_str(f, "sha256"), at_sha256_file(mp3));
    const char *base = strrchr(mp3, '/') + 1;
    T_EQ_STR(tjson_str(f, "file_name"), base);

    /* progress and the session through the aliases */
    thttp r;
    char path[512];
    snprintf(path, sizeof path, "/api/v1/admin/uploads/%s/progress", up);
    T_REQUIRE(thttp_json(&r, "GET", path, user_tok, NULL) == 0);
    T_EQ_INT(r.status, 200);
    T_EQ_INT(tjson_num(r.json, "files_uploaded", -1), 1);
    T_EQ_INT(tjson_num(r.json, "percent", -1), 100);
    T_EQ_STR(tjson_str(r.json, "status"), "completed");
    thttp_free(&r);

    /* 3. the audiobook */
    snprintf(cmd, sizeof cmd, "curl -s -X POST %s/api/v1/admin/audiobooks -H 'Content-Type: application/json'"
             " -H 'Authorization: Bearer %%s' -d '{\"upload_id\": \"%%s\", \"title\": \"My Audio Book\","
             " \"author\": \"Author Name\", \"description\": \"Book description\", \"language\": \"en\","
             " \"is_public\": false}'%%s", url);
    cJSON *b = curl_json(cmd, user_tok, up, "");
    T_REQUIRE(b != NULL);
    T_CHECK(has_keys(b, (const char *const[]){"audiobook_id", "status", "message", "jobs_created", "total_jobs", NULL}));
    T_EQ_STR(tjson_str(b, "status"), "processing");
    T_EQ_INT(tjson_num(b, "jobs_created", -1), 4);
    T_EQ_INT(tjson_num(b, "total_jobs", -1), 4);
    const char *ab = tjson_str(b, "audiobook_id");
    T_REQUIRE(ab != NULL);

    /* 4. its jobs */
    snprintf(cmd, sizeof cmd, "curl -s -X GET %s/api/v1/admin/audiobooks/%%s/jobs -H 'Authorization: Bearer %%s'%%s",
             url);
    cJSON *j = curl_json(cmd, ab, user_tok, "");
    T_REQUIRE(j != NULL);
    T_CHECK(has_keys(j, (const char *const[]){"audiobook_id", "jobs", "overall_status", "progress", "total_jobs",
                                               "completed_jobs", "failed_jobs", NULL}));
    T_EQ_STR(tjson_str(j, "overall_status"), "processing");
    T_EQ_INT(tjson_num(j, "total_jobs", -1), 4);
    T_EQ_INT(tjson_num(j, "completed_jobs", -1), 0);
    T_EQ_INT(tjson_num(j, "failed_jobs", -1), 0);
    cJSON *jobs = cJSON_GetObjectItem(j, "jobs");
    T_EQ_INT(cJSON_GetArraySize(jobs), 4);
    int types[4] = {0};
    const cJSON *x;
    cJSON_ArrayForEach(x, jobs) {
        T_CHECK(has_keys(x, (const char *const[]){"id", "audiobook_id", "job_type", "status", "progress",
                                                   "started_at", "completed_at", "error", NULL}));
        T_EQ_STR(tjson_str(x, "audiobook_id"), ab);
        const char *t = tjson_str(x, "job_type");
        types[0] += t && !strcmp(t, "transcribe");
        types[1] += t && !strcmp(t, "summarize");
        types[2] += t && !strcmp(t, "tag");
        types[3] += t && !strcmp(t, "embed");
    }
    T_CHECK(types[0] == 1 && types[1] == 1 && types[2] == 1 && types[3] == 1);

    /* PUT and DELETE through the aliases too */
    snprintf(path, sizeof path, "/api/v1/admin/audiobooks/%s", ab);
    T_REQUIRE(thttp_json(&r, "PUT", path, user_tok, "{\"title\":\"Renamed\",\"is_public\":true}") == 0);
    T_EQ_INT(r.status, 200);
    T_EQ_STR(tjson_str(r.json, "title"), "Renamed");
    T_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(r.json, "is_public")));
    T_EQ_STR(tjson_str(r.json, "author"), "Author Name");
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "DELETE", path, user_tok, NULL) == 0);
    T_EQ_INT(r.status, 200);
    T_EQ_INT(tjson_num(r.json, "jobs_cancelled", -1), 4);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", path, user_tok, NULL) == 0);
    T_EQ_INT(r.status, 404);
    thttp_free(&r);
    char rel[128];
    snprintf(rel, sizeof rel, "audiobooks/%s", ab);
    T_EQ_INT(at_storage_files(rel), 0);
    snprintf(path, sizeof path, "/api/v1/admin/uploads/%s", up);
    T_REQUIRE(thttp_json(&r, "GET", path, user_tok, NULL) == 0);
    T_EQ_INT(r.status, 200);
    T_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "files")), 1);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "DELETE", path, user_tok, NULL) == 0);
    T_EQ_INT(r.status, 200);
    thttp_free(&r);
    snprintf(rel, sizeof rel, "uploads/%s", up);
    T_EQ_INT(at_storage_files(rel), 0);
    cJSON_Delete(s);
    cJSON_Delete(f);
    cJSON_Delete(b);
    cJSON_Delete(j);
}

static qdb *test_db(void)
{
    static qdb *db;
    qerrctx e = {0};
    if (!db)
        db = qdb_open(&e);
    if (!db)
        t_note("no database: %s", e.msg);
    return db;
}

static void test_multi_file_book_natural_order_and_job_graph(void)
{
    char *up = at_upload(user_tok, "multi", 3);
    T_REQUIRE(up != NULL);
    char *w = at_wav("ch.wav", 0.3);
    static const char *const names[] = {"Chapter 10.wav", "Chapter 2.wav", "chapter 1.wav"};
    for (int i = 0; i < 3; i++) {
        char *fid = at_upload_raw(user_tok, up, w, names[i], NULL);
        T_CHECK(fid != NULL);
        free(fid);
    }
    long st = 0;
    char *extra = at_upload_raw(user_tok, up, w, "four.wav", &st);
    T_EQ_INT(st, 409);                         /* the session said 3 files */
    free(extra);
    char body[256];
    snprintf(body, sizeof body, "{\"upload_id\":\"%s\",\"title\":\"Three chapters\"}", up);
    thttp r;
    T_REQUIRE(thttp_json(&r, "POST", "/api/v1/audiobooks", user_tok, body) == 0);
    T_EQ_INT(r.status, 201);
    T_EQ_INT(tjson_num(r.json, "jobs_created", -1), 8);   /* 3 transcribe, 2x summarize+tag, embed */
    char *ab = strdup(tjson_str(r.json, "audiobook_id") ? tjson_str(r.json, "audiobook_id") : "");
    thttp_free(&r);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/audiobooks/%s", ab);
    T_REQUIRE(thttp_json(&r, "GET", path, user_tok, NULL) == 0);
    T_EQ_INT(r.status, 200);
    cJSON *ch = cJSON_GetObjectItem(r.json, "chapters");
    T_EQ_INT(cJSON_GetArraySize(ch), 3);
    T_EQ_STR(tjson_str(cJSON_GetArrayItem(ch, 0), "file_name"), "chapter 1.wav");
    T_EQ_STR(tjson_str(cJSON_GetArrayItem(ch, 1), "file_name"), "Chapter 2.wav");
    T_EQ_STR(tjson_str(cJSON_GetArrayItem(ch, 2), "file_name"), "Chapter 10.wav");
    T_EQ_STR(tjson_str(r.json, "status"), "processing");
    thttp_free(&r);

    /* the graph: early text jobs wait on chapter 1's transcription only,
     * final ones and embed on all three */
    qdb *db = test_db();
    T_REQUIRE(db != NULL);
    qarena *a = qarena_new();
    qrows *rows;
    qerrctx e = {0};
    T_REQUIRE(qdb_query(db, a, &rows, &e,
                        "SELECT j.type, COALESCE(JSON_VALUE(j.payload, '$.stage'), ''), COUNT(d.depends_on),"
                        " MIN(JSON_VALUE(p.payload, '$.chapter'))"
                        " FROM jobs j JOIN audiobooks b ON b.id = j.audiobook_id"
                        " LEFT JOIN job_deps d ON d.job_id = j.id LEFT JOIN jobs p ON p.id = d.depends_on"
                        " WHERE b.public_id = ? GROUP BY j.id ORDER BY j.id", "s", ab) == Q_OK);
    T_EQ_INT(rows->nrows, 8);
    int early = 0, final = 0;
    for (int i = 0; i < rows->nrows; i++) {
        const char *type = qrows_get(rows, i, 0), *stage = qrows_get(rows, i, 1);
        int ndeps = (int)qrows_i64(rows, i, 2, -1);
        if (!strcmp(type, "transcribe"))
            T_EQ_INT(ndeps, 0);
        else if (!strcmp(stage, "early")) {
            early++;
            T_EQ_INT(ndeps, 1);
            T_EQ_INT(qrows_i64(rows, i, 3, 0), 1);
        } else {
            final++;
            T_EQ_INT(ndeps, 3);
        }
    }
    T_EQ_INT(early, 2);
    T_EQ_INT(final, 3);
    qarena_free(a);
    free(ab);
    free(up);
    free(w);
}

/* Claims and completes (through the HTTP status endpoint) every job of the
 * audiobook; jobs of others claimed on the way are released untouched. */
static int process_book(const char *ab, int fail_first_transcribe)
{
    qdb *db = test_db();
    if (!db)
        return -1;
    qarena *a = qarena_new();
    qrows *rows;
    qerrctx e = {0};
    if (qdb_query(db, a, &rows, &e, "SELECT id FROM audiobooks WHERE public_id = ?", "s", ab) || rows->nrows == 0) {
        qarena_free(a);
        return -1;
    }
    int64_t book = qrows_i64(rows, 0, 0, 0);
    qarena_free(a);
    static const char *const types[] = {"transcribe", "summarize", "tag", "embed"};
    int done = 0;
    for (int round = 0; round < 40; round++) {
        qjob jobs[QQUEUE_MAX_BATCH];
        qerr_clear(&e);
        int n = qqueue_claim(db, "apitest", types, 4, QQUEUE_MAX_BATCH, 30, jobs, &e);
        if (n < 0)
            return -1;
        int mine = 0;
        for (int i = 0; i < n; i++) {
            if (jobs[i].audiobook_id != book) {
                qqueue_release(db, &jobs[i], &e);
                qjob_clear(&jobs[i]);
                continue;
            }
            mine++;
            char path[128], body[512];
            snprintf(path, sizeof path, "/api/v1/admin/jobs/%lld/status", (long long)jobs[i].id);
            thttp r;
            snprintf(body, sizeof body, "{\"status\":\"progress\",\"token\":\"%s\",\"progress\":50,\"message\":\"half\"}",
                     jobs[i].token);
            thttp_json(&r, "POST", path, admin_tok, body);
            if (r.status != 200)
                t_note("progress report: %ld %s", r.status, r.body);
            thttp_free(&r);
            if (fail_first_transcribe && !strcmp(jobs[i].type, "transcribe")) {
                snprintf(body, sizeof body, "{\"status\":\"failed\",\"token\":\"%s\",\"error\":\"bad audio\"}",
                         jobs[i].token);
                fail_first_transcribe = 0;
            } else {
                snprintf(body, sizeof body, "{\"status\":\"completed\",\"token\":\"%s\",\"result\":{\"ok\":true}}",
                         jobs[i].token);
            }
            thttp_json(&r, "POST", path, admin_tok, body);
            if (r.status == 200)
                done++;
            else
                t_note("completion report: %ld %s", r.status, r.body);
            thttp_free(&r);
            qjob_clear(&jobs[i]);
        }
        qqueue_reap(db, &e);
        if (n == 0 && round > 2)
            break;
    }
    return done;
}

/* Books the test processes itself run at the top priority, ahead of the
 * pending jobs other tests left in the shared stack. */
#define TOP "\"priority\":100"

static void test_processor_reports_until_ready(void)
{
    char *ab = at_book_ex(user_tok, NULL, TOP);
    T_REQUIRE(ab != NULL);
    long long ids[8];
    T_REQUIRE(at_book_jobs(user_tok, ab, ids, 8) == 4);
    /* a report with a wrong token is fenced off */
    thttp r;
    char path[128];
    snprintf(path, sizeof path, "/api/v1/admin/jobs/%lld/status", ids[0]);
    T_REQUIRE(thttp_json(&r, "POST", path, admin_tok, "{\"status\":\"completed\",\"token\":\"nope\"}") == 0);
    T_EQ_INT(r.status, 409);
    T_EQ_STR(tjson_str(r.json, "error.code"), "lease_lost");
    thttp_free(&r);
    T_EQ_INT(process_book(ab, 0), 4);
    char url[256];
    snprintf(url, sizeof url, "/api/v1/audiobooks/%s", ab);
    T_REQUIRE(thttp_json(&r, "GET", url, user_tok, NULL) == 0);
    T_EQ_STR(tjson_str(r.json, "status"), "ready");
    T_EQ_INT(tjson_num(r.json, "completed_jobs", -1), 4);
    thttp_free(&r);
    snprintf(url, sizeof url, "/api/v1/audiobooks/%s/jobs", ab);
    T_REQUIRE(thttp_json(&r, "GET", url, user_tok, NULL) == 0);
    T_EQ_STR(tjson_str(r.json, "overall_status"), "ready");
    T_EQ_INT(tjson_num(r.json, "progress", -1) * 1000, 1000);
    T_CHECK(tjson_str(cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "jobs"), 0), "completed_at") != NULL);
    thttp_free(&r);
    /* the job as /jobs/{id} shows it, with its attempt */
    snprintf(url, sizeof url, "/api/v1/jobs/%lld", ids[0]);
    T_REQUIRE(thttp_json(&r, "GET", url, user_tok, NULL) == 0);
    T_EQ_INT(r.status, 200);
    T_EQ_STR(tjson_str(r.json, "status"), "completed");
    T_EQ_STR(tjson_str(r.json, "type"), "transcribe");
    T_EQ_INT(tjson_num(r.json, "progress.percent", -1), 100);
    T_EQ_INT(tjson_num(r.json, "attempts", -1), 1);
    T_EQ_INT(tjson_num(r.json, "max_attempts", -1), 3);
    T_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "result"), "ok")));
    T_CHECK(tjson_str(r.json, "started_at") && tjson_str(r.json, "finished_at") && tjson_str(r.json, "created_at"));
    cJSON *hist = cJSON_GetObjectItem(r.json, "attempt_history");
    T_EQ_INT(cJSON_GetArraySize(hist), 1);
    T_EQ_STR(tjson_str(cJSON_GetArrayItem(hist, 0), "outcome"), "completed");
    thttp_free(&r);
    /* a finished job cannot be cancelled */
    T_REQUIRE(thttp_json(&r, "DELETE", url, user_tok, NULL) == 0);
    T_EQ_INT(r.status, 409);
    thttp_free(&r);
    free(ab);
}

static void test_cancel_fails_book_and_retry(void)
{
    char *ab = at_book_ex(user_tok, NULL, TOP);
    T_REQUIRE(ab != NULL);
    long long ids[8];
    T_REQUIRE(at_book_jobs(user_tok, ab, ids, 8) == 4);
    thttp r;
    char url[256];
    snprintf(url, sizeof url, "/api/v1/jobs/%lld", ids[3]);      /* embed: waiting */
    T_REQUIRE(thttp_json(&r, "DELETE", url, other_tok, NULL) == 0);
    T_EQ_INT(r.status, 404);                                     /* not theirs */
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "DELETE", url, user_tok, NULL) == 0);
    T_EQ_INT(r.status, 200);
    T_EQ_STR(tjson_str(r.json, "status"), "cancelled");
    thttp_free(&r);
    T_EQ_INT(process_book(ab, 0), 3);
    snprintf(url, sizeof url, "/api/v1/audiobooks/%s", ab);
    T_REQUIRE(thttp_json(&r, "GET", url, user_tok, NULL) == 0);
    T_EQ_STR(tjson_str(r.json, "status"), "failed");
    T_CHECK(tjson_str(r.json, "error") && strstr(tjson_str(r.json, "error"), "embed job"));
    T_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "failed")), 1);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", "/api/v1/audiobooks?status=failed", user_tok, NULL) == 0);
    T_CHECK(tjson_num(r.json, "total", 0) >= 1);
    T_EQ_STR(tjson_str(cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "audiobooks"), 0), "audiobook_id"), ab);
    thttp_free(&r);
    snprintf(url, sizeof url, "/api/v1/jobs/%lld/retry", ids[3]);
    T_REQUIRE(thttp_json(&r, "POST", url, user_tok, NULL) == 0);
    T_EQ_INT(r.status, 200);
    T_EQ_STR(tjson_str(r.json, "status"), "pending");
    thttp_free(&r);
    T_EQ_INT(process_book(ab, 0), 1);
    snprintf(url, sizeof url, "/api/v1/audiobooks/%s", ab);
    T_REQUIRE(thttp_json(&r, "GET", url, user_tok, NULL) == 0);
    T_EQ_STR(tjson_str(r.json, "status"), "ready");
    thttp_free(&r);
    free(ab);
}

static void test_lists_filter_page_and_ownership(void)
{
    char *tok = at_user("lister", 0);
    T_REQUIRE(tok != NULL);
    char *books[3];
    for (int i = 0; i < 3; i++)
        books[i] = at_book(tok, NULL);
    T_REQUIRE(books[0] && books[1] && books[2]);
    thttp r;
    T_REQUIRE(thttp_json(&r, "GET", "/api/v1/audiobooks?per_page=2", tok, NULL) == 0);
    T_EQ_INT(r.status, 200);
    T_EQ_INT(tjson_num(r.json, "total", -1), 3);
    cJSON *arr = cJSON_GetObjectItem(r.json, "audiobooks");
    T_EQ_INT(cJSON_GetArraySize(arr), 2);
    T_EQ_STR(tjson_str(cJSON_GetArrayItem(arr, 0), "audiobook_id"), books[2]);   /* newest first */
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", "/api/v1/audiobooks?per_page=2&page=2", tok, NULL) == 0);
    T_EQ_STR(tjson_str(cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "audiobooks"), 0), "audiobook_id"), books[0]);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", "/api/v1/audiobooks?status=ready", tok, NULL) == 0);
    T_EQ_INT(tjson_num(r.json, "total", -1), 0);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", "/api/v1/audiobooks?status=bogus", tok, NULL) == 0);
    T_EQ_INT(r.status, 422);
    thttp_free(&r);
    /* jobs: own history only, filters apply */
    T_REQUIRE(thttp_json(&r, "GET", "/api/v1/jobs?type=transcribe&per_page=100", tok, NULL) == 0);
    T_EQ_INT(r.status, 200);
    T_EQ_INT(tjson_num(r.json, "total", -1), 3);
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItem(r.json, "jobs"))
        T_EQ_STR(tjson_str(x, "type"), "transcribe");
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", "/api/v1/jobs?status=waiting", tok, NULL) == 0);
    T_EQ_INT(tjson_num(r.json, "total", -1), 9);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", "/api/v1/jobs?status=nope", tok, NULL) == 0);
    T_EQ_INT(r.status, 422);
    thttp_free(&r);
    char *fresh = at_user("nobody", 0);
    T_REQUIRE(thttp_json(&r, "GET", "/api/v1/jobs", fresh, NULL) == 0);
    T_EQ_INT(tjson_num(r.json, "total", -1), 0);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", "/api/v1/audiobooks", fresh, NULL) == 0);
    T_EQ_INT(tjson_num(r.json, "total", -1), 0);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", "/api/v1/audiobooks?per_page=100", admin_tok, NULL) == 0);
    T_CHECK(tjson_num(r.json, "total", -1) >= 3);
    thttp_free(&r);
    for (int i = 0; i < 3; i++)
        free(books[i]);
    free(tok);
    free(fresh);
}

static void test_chapters_outlive_their_upload(void)
{
    char *up = NULL;
    char *ab = at_book(user_tok, &up);
    T_REQUIRE(ab && up);
    thttp r;
    char url[256];
    snprintf(url, sizeof url, "/api/v1/uploads/%s", up);
    T_REQUIRE(thttp_json(&r, "DELETE", url, user_tok, NULL) == 0);
    T_EQ_INT(r.status, 200);
    thttp_free(&r);
    char rel[128];
    snprintf(rel, sizeof rel, "audiobooks/%s", ab);
    T_EQ_INT(at_storage_files(rel), 1);
    snprintf(url, sizeof url, "/api/v1/audiobooks/%s", ab);
    T_REQUIRE(thttp_json(&r, "GET", url, user_tok, NULL) == 0);
    T_EQ_INT(r.status, 200);
    T_CHECK(cJSON_IsNull(cJSON_GetObjectItem(r.json, "upload_id")));
    thttp_free(&r);
    free(ab);
    free(up);
}

/* What workers write through lib/audiobook shows in GET /audiobooks/{id};
 * an early summary never replaces a final one. */
static void test_worker_results_show_in_the_book(void)
{
    char *ab = at_book(user_tok, NULL);
    T_REQUIRE(ab != NULL);
    qdb *db = test_db();
    T_REQUIRE(db != NULL);
    qarena *a = qarena_new();
    qrows *rows;
    qerrctx e = {0};
    T_REQUIRE(qdb_query(db, a, &rows, &e, "SELECT b.id, c.id, b.storage_dir FROM audiobooks b JOIN chapters c"
                        " ON c.audiobook_id = b.id WHERE b.public_id = ?", "s", ab) == Q_OK && rows->nrows == 1);
    int64_t book = qrows_i64(rows, 0, 0, 0), ch = qrows_i64(rows, 0, 1, 0);
    char dir[128];
    T_EQ_INT(qbook_dir(db, book, dir, sizeof dir, &e), Q_OK);
    T_EQ_STR(dir, qrows_get(rows, 0, 2));
    T_EQ_INT(qbook_chapter_media(db, ch, 0.5, "pcm_s16le", 256000, 16000, 1, &e), Q_OK);
    char tpath[256];
    snprintf(tpath, sizeof tpath, "%s/transcripts/001.json", dir);
    T_EQ_INT(qbook_chapter_transcript(db, ch, tpath, 42, &e), Q_OK);
    T_EQ_INT(qbook_chapter_transcript(db, ch, "/etc/passwd", 1, &e), Q_ERR_INVALID);
    int applied = -1;
    T_EQ_INT(qbook_summary(db, book, "{\"text\":\"final words\"}", QBOOK_FINAL, &applied, &e), Q_OK);
    T_EQ_INT(applied, 1);
    T_EQ_INT(qbook_summary(db, book, "{\"text\":\"early words\"}", QBOOK_EARLY, &applied, &e), Q_OK);
    T_EQ_INT(applied, 0);
    T_EQ_INT(qbook_tags(db, book, "[\"sea\",\"ships\"]", QBOOK_EARLY, &applied, &e), Q_OK);
    T_EQ_INT(applied, 1);
    T_EQ_INT(qbook_tags(db, book, "{\"not\":\"an array\"}", QBOOK_FINAL, &applied, &e), Q_ERR_INVALID);
    T_EQ_INT(qbook_tags(db, 999999999, "[]", QBOOK_FINAL, &applied, &e), Q_ERR_NOT_FOUND);
    qarena_free(a);
    char url[256];
    snprintf(url, sizeof url, "/api/v1/audiobooks/%s", ab);
    thttp r;
    T_REQUIRE(thttp_json(&r, "GET", url, user_tok, NULL) == 0);
    T_EQ_STR(tjson_str(r.json, "summary.text"), "final words");
    T_EQ_STR(tjson_str(r.json, "summary_stage"), "final");
    T_EQ_STR(tjson_str(r.json, "tags_stage"), "early");
    T_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "tags")), 2);
    cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "chapters"), 0);
    T_EQ_INT(tjson_num(c0, "duration_seconds", -1) * 10, 5);
    T_EQ_STR(tjson_str(c0, "codec"), "pcm_s16le");
    T_EQ_INT(tjson_num(c0, "sample_rate", -1), 16000);
    T_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(c0, "transcribed")));
    T_EQ_INT(tjson_num(c0, "transcript_words", -1), 42);
    T_EQ_INT(tjson_num(r.json, "duration_seconds", -1) * 10, 5);
    thttp_free(&r);
    free(ab);
}

/* The book's duration_seconds, in the list and in the detail, from one
 * GET each; -1 for null, -2 when the book is missing from the list. */
static void book_durations(const char *tok, const char *ab, double *list, double *detail)
{
    thttp r;
    *list = -2;
    *detail = -2;
    if (thttp_json(&r, "GET", "/api/v1/audiobooks?per_page=100", tok, NULL) == 0) {
        const cJSON *x;
        cJSON_ArrayForEach(x, cJSON_GetObjectItem(r.json, "audiobooks"))
            if (tjson_str(x, "audiobook_id") && !strcmp(tjson_str(x, "audiobook_id"), ab))
                *list = cJSON_IsNull(cJSON_GetObjectItem(x, "duration_seconds")) ? -1
                                                                                 : tjson_num(x, "duration_seconds", -2);
    }
    thttp_free(&r);
    char url[256];
    snprintf(url, sizeof url, "/api/v1/audiobooks/%s", ab);
    if (thttp_json(&r, "GET", url, tok, NULL) == 0 && r.status == 200)
        *detail = cJSON_IsNull(cJSON_GetObjectItem(r.json, "duration_seconds")) ? -1
                                                                                : tjson_num(r.json, "duration_seconds", -2);
    thttp_free(&r);
}

/* A book's duration is the sum of its chapters' known durations, in the
 * list as in the detail, and null only while none is known. */
static void test_book_duration_sums_known_chapters(void)
{
    char *tok = at_user("duration", 0);
    char *up = tok ? at_upload(tok, "multi", 3) : NULL;
    char *w = at_wav("dur.wav", 0.2);
    T_REQUIRE(up && w);
    static const char *const names[] = {"1.wav", "2.wav", "3.wav"};
    for (int i = 0; i < 3; i++)
        free(at_upload_raw(tok, up, w, names[i], NULL));
    char body[256];
    snprintf(body, sizeof body, "{\"upload_id\":\"%s\",\"title\":\"Timed\"}", up);
    thttp r;
    T_REQUIRE(thttp_json(&r, "POST", "/api/v1/audiobooks", tok, body) == 0 && r.status == 201);
    char *ab = strdup(tjson_str(r.json, "audiobook_id"));
    thttp_free(&r);
    double list, detail;
    book_durations(tok, ab, &list, &detail);
    T_EQ_INT(list, -1);
    T_EQ_INT(detail, -1);
    qdb *db = test_db();
    T_REQUIRE(db != NULL);
    qarena *a = qarena_new();
    qrows *rows;
    qerrctx e = {0};
    T_REQUIRE(qdb_query(db, a, &rows, &e, "SELECT c.id FROM audiobooks b JOIN chapters c ON c.audiobook_id = b.id"
                        " WHERE b.public_id = ? ORDER BY c.seq", "s", ab) == Q_OK && rows->nrows == 3);
    /* one chapter measured: the book is at least that long */
    T_EQ_INT(qbook_chapter_media(db, qrows_i64(rows, 0, 0, 0), 1.5, "pcm_s16le", 0, 16000, 1, &e), Q_OK);
    book_durations(tok, ab, &list, &detail);
    T_EQ_INT(list * 100, 150);
    T_EQ_INT(detail * 100, 150);
    T_EQ_INT(qbook_chapter_media(db, qrows_i64(rows, 2, 0, 0), 2.25, "pcm_s16le", 0, 16000, 1, &e), Q_OK);
    book_durations(tok, ab, &list, &detail);
    T_EQ_INT(list * 100, 375);
    T_EQ_INT(detail * 100, 375);
    T_EQ_INT(qbook_chapter_media(db, qrows_i64(rows, 1, 0, 0), 0.25, "pcm_s16le", 0, 16000, 1, &e), Q_OK);
    book_durations(tok, ab, &list, &detail);
    T_EQ_INT(list * 100, 400);
    T_EQ_INT(detail * 100, 400);
    qarena_free(a);
    free(ab);
    free(w);
    free(up);
    free(tok);
}

int main(void)
{
    admin_tok = strdup(tenv("QUIRE_ADMIN_TOKEN"));
    user_tok = at_user("flow", 0);
    other_tok = at_user("flow-other", 0);
    if (!user_tok || !other_tok) {
        fprintf(stderr, "cannot create test users\n");
        return 1;
    }
    T_RUN(test_seed_flow_through_admin_aliases);
    T_RUN(test_multi_file_book_natural_order_and_job_graph);
    T_RUN(test_processor_reports_until_ready);
    T_RUN(test_cancel_fails_book_and_retry);
    T_RUN(test_lists_filter_page_and_ownership);
    T_RUN(test_chapters_outlive_their_upload);
    T_RUN(test_worker_results_show_in_the_book);
    T_RUN(test_book_duration_sums_known_chapters);
    free(user_tok);
    free(other_tok);
    free(admin_tok);
    return t_done();
}
