/* test_disk_full.c - with the storage root on a small tmpfs (8 MiB),
 * uploads that do not fit (raw, multipart, tus) fail with 507
 * insufficient_storage and leave no file, no row and unchanged counters; a
 * tus chunk that hits ENOSPC is not acknowledged and its bytes are given
 * back; a file that fits still works afterwards. A tts job whose output hits
 * ENOSPC fails with a retryable "no space" error and leaves no partial file.
 * quire-api runs with QUIRE_STORAGE on the tmpfs for the length of the test
 * (nginx's body temp stays on the ordinary disk: the link into storage then
 * crosses file systems and the copy path is what fills up). Needs root for
 * mount(8); skipped otherwise. */
#include "apitest.h"
#include "db.h"
#include "queue.h"
#include "t.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TUS AT_TUS

static char *tok;
static char small[512], orig_storage[512];
static int mounted;

static void api_restart(void)
{
    tsh("\"$QUIRE_ROOT/scripts/stack.sh\" api-stop >/dev/null 2>&1; "
        "\"$QUIRE_ROOT/scripts/stack.sh\" api-start >/dev/null 2>&1");
    for (int i = 0; i < 50; i++) {
        thttp r;
        int ok = thttp_json(&r, "GET", "/api/v1/health", NULL, NULL) == 0 && r.status == 200;
        thttp_free(&r);
        if (ok)
            break;
        usleep(100000);
    }
}

/* Leaves about keep bytes free on the tmpfs (a filler file). */
static int fill_leaving(long keep)
{
    return tsh("f=$(( $(stat -f -c '%%a*%%S' '%s') - %ld )); [ $f -gt 0 ] && fallocate -l $f '%s/filler'", small, keep,
               small);
}

static void unfill(void)
{
    tsh("rm -f '%s/filler'", small);
}

static long long progress(const char *up, const char *field)
{
    char path[128];
    snprintf(path, sizeof path, "/api/v1/uploads/%s/progress", up);
    thttp r;
    long long v = -1;
    if (thttp_json(&r, "GET", path, tok, NULL) == 0 && r.status == 200)
        v = (long long)tjson_num(r.json, field, -1);
    thttp_free(&r);
    return v;
}

static long post_file(const char *up, const char *ctype, const char *body, size_t len, thttp *r)
{
    char path[128];
    snprintf(path, sizeof path, "/api/v1/uploads/%s/files", up);
    thttp_req(r, "POST", path, tok, ctype, body, len, NULL);
    return r->status;
}

#define EXPECT_507(r)                                                                    \
    do {                                                                                 \
        T_EQ_STR(tjson_str((r).json, "error.code"), "insufficient_storage");           \
        T_CHECK(tjson_str((r).json, "error.message") != NULL);                         \
    } while (0)

static void test_uploads_that_do_not_fit(void)
{
    if (!mounted) {
        t_skip("no tmpfs (not root?)");
        return;
    }
    char *big = at_wav("df-big.wav", 300.0);     /* 9.6 MB > 8 MiB */
    char *mid = at_wav("df-mid.wav", 32.0);      /* 1 MB */
    size_t blen, mlen;
    char *bdata = big ? at_slurp(big, &blen) : NULL, *mdata = mid ? at_slurp(mid, &mlen) : NULL;
    T_REQUIRE(bdata && mdata);
    char *up = at_upload(tok, "multi", 3);
    T_REQUIRE(up != NULL);
    char rel[128];
    snprintf(rel, sizeof rel, "uploads/%s", up);
    thttp r;

    /* raw: copied across file systems until ENOSPC */
    T_EQ_INT(post_file(up, "application/octet-stream", bdata, blen, &r), 507);
    EXPECT_507(r);
    thttp_free(&r);
    T_EQ_INT(at_storage_files(""), 0);
    /* multipart: the same through the copy thread */
    const char *b = "dfBoundary";
    char head[256], tail[64];
    int hn = snprintf(head, sizeof head, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.wav\""
                      "\r\n\r\n", b);
    int tn = snprintf(tail, sizeof tail, "\r\n--%s--\r\n", b);
    char *mp = malloc((size_t)hn + blen + (size_t)tn);
    memcpy(mp, head, (size_t)hn);
    memcpy(mp + hn, bdata, blen);
    memcpy(mp + hn + blen, tail, (size_t)tn);
    char ct[64];
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", b);
    T_EQ_INT(post_file(up, ct, mp, (size_t)hn + blen + (size_t)tn, &r), 507);
    EXPECT_507(r);
    thttp_free(&r);
    free(mp);
    T_EQ_INT(at_storage_files(""), 0);
    /* tus: a file larger than the free space is refused at creation */
    char path[128], hdr[128];
    snprintf(path, sizeof path, "/api/v1/uploads/%s/tus", up);
    snprintf(hdr, sizeof hdr, TUS "\nUpload-Length: %zu", blen);
    T_REQUIRE(thttp_req(&r, "POST", path, tok, NULL, NULL, 0, hdr) == 0);
    T_EQ_INT(r.status, 507);
    EXPECT_507(r);
    thttp_free(&r);
    T_EQ_INT(progress(up, "files_uploaded"), 0);
    T_EQ_INT(progress(up, "bytes_uploaded"), 0);

    /* tus: the slot fitted when it was made, then the disk filled up */
    snprintf(hdr, sizeof hdr, TUS "\nUpload-Length: %zu", mlen);
    T_REQUIRE(thttp_req(&r, "POST", path, tok, NULL, NULL, 0, hdr) == 0);
    T_EQ_INT(r.status, 201);
    char slot[256];
    snprintf(slot, sizeof slot, "%s", thttp_header(&r, "Location") ? thttp_header(&r, "Location") : "");
    thttp_free(&r);
    T_REQUIRE(slot[0] == '/');
    T_REQUIRE(fill_leaving(256 * 1024) == 0);
    snprintf(hdr, sizeof hdr, TUS "\nUpload-Offset: 0");
    T_REQUIRE(thttp_req(&r, "PATCH", slot, tok, "application/offset+octet-stream", mdata, mlen, hdr) == 0);
    T_EQ_INT(r.status, 507);
    EXPECT_507(r);
    thttp_free(&r);
    T_EQ_INT(at_tus_head(tok, slot, NULL), 0);
    char *part = tsh_out("find '%s/%s/tus' -type f -printf '%%s\\n'", small, rel);
    T_EQ_STR(part, "0");                          /* the cut write was given back */
    free(part);
    T_EQ_INT(progress(up, "bytes_uploaded"), 0);
    unfill();
    /* room again: the same chunk resumes and finishes */
    T_REQUIRE(thttp_req(&r, "PATCH", slot, tok, "application/offset+octet-stream", mdata, mlen, hdr) == 0);
    T_EQ_INT(r.status, 204);
    thttp_free(&r);
    /* and a plain upload that fits works */
    T_EQ_INT(post_file(up, "application/octet-stream", mdata, mlen, &r), 201);
    thttp_free(&r);
    T_EQ_INT(progress(up, "files_uploaded"), 2);
    T_EQ_INT(at_storage_files(rel), 2);
    free(up);
    free(bdata);
    free(mdata);
    free(big);
    free(mid);
}

static void test_job_output_that_does_not_fit(void)
{
    if (!mounted) {
        t_skip("no tmpfs (not root?)");
        return;
    }
    char name[64];
    snprintf(name, sizeof name, "quire_df%d", (int)getpid());
    T_REQUIRE(tsh("\"$QUIRE_BIN/quirectl\" create-db %s >/dev/null 2>&1 && QUIRE_DB_NAME=%s \"$QUIRE_BIN/quirectl\""
                  " migrate >/dev/null 2>&1", name, name) == 0);
    /* the config is read once: this process keeps the name, children do not */
    setenv("QUIRE_DB_NAME", name, 1);
    qerrctx e = {0};
    qdb *db = qdb_open(&e);
    unsetenv("QUIRE_DB_NAME");
    T_REQUIRE(db != NULL, "%s", e.msg);
    const char *payload = "{\"text\":\"It was the best of times, it was the worst of times, it was the age of wisdom,"
                          " it was the age of foolishness, it was the epoch of belief, it was the epoch of incredulity,"
                          " it was the season of Light, it was the season of Darkness.\",\"engine\":\"flite\","
                          "\"voice\":\"slt\",\"format\":\"wav\",\"output\":\"tts/df/out.wav\"}";
    qjob_spec s = {.type = "tts", .payload = payload, .max_attempts = 3};
    int64_t id = 0;
    T_REQUIRE(qqueue_enqueue(db, &s, &id, NULL, &e) == Q_OK, "%s", e.msg);
    T_REQUIRE(fill_leaving(48 * 1024) == 0);
    /* a long backoff keeps the job pending after its first failure */
    T_REQUIRE(tsh("QUIRE_DB_NAME=%s QUIRE_RETRY_BASE_MS=600000 QUIRE_HEARTBEAT_SECONDS=1 \"$QUIRE_ROOT/scripts/stack.sh\""
                  " worker-start worker-df --types tts >/dev/null 2>&1", name) == 0);
    qarena *a = qarena_new();
    qrows *rows = NULL;
    const char *status = "", *err = NULL;
    int64_t attempts = 0;
    for (int64_t t0 = qmono_ms(); qmono_ms() - t0 < 60000; qsleep_ms(100)) {
        qerr_clear(&e);
        if (qdb_query(db, a, &rows, &e, "SELECT status, attempts, last_error FROM jobs WHERE id = ?", "i", id) ||
            !rows->nrows)
            continue;
        status = qrows_get(rows, 0, 0);
        attempts = qrows_i64(rows, 0, 1, 0);
        err = qrows_get(rows, 0, 2);
        if (err && *err && strcmp(status, "running"))
            break;
    }
    tsh("\"$QUIRE_ROOT/scripts/stack.sh\" worker-stop worker-df >/dev/null 2>&1");
    t_note("job %lld: %s after %lld attempt(s): %s", (long long)id, status, (long long)attempts, err ? err : "");
    T_CHECK(err && strstr(err, "no space"), "the error says the disk is full: %s", err ? err : "(none)");
    /* retryable: back to pending (with backoff), an attempt spent */
    T_EQ_STR(status, "pending");
    T_EQ_INT(attempts, 1);
    char *left = tsh_out("find '%s/tts' -type f 2>/dev/null | wc -l", small);
    T_EQ_STR(left, "0");
    free(left);
    if (t_failed_now())
        tsh("find '%s/tts' -type f -printf 'left: %%p %%s\\n' >&2", small);
    qarena_free(a);
    unfill();
    qdb_close(db);
    tsh("mariadb --no-defaults -S \"$QUIRE_DB_SOCKET\" -u root -e 'DROP DATABASE IF EXISTS %s' >/dev/null 2>&1",
        name);
}

int main(void)
{
    tok = at_user("diskfull", 0);
    if (!tok)
        return 1;
    snprintf(orig_storage, sizeof orig_storage, "%s", tenv("QUIRE_STORAGE"));
    snprintf(small, sizeof small, "%s/small-storage", tenv("QUIRE_VAR"));
    tsh("mkdir -p '%s'", small);
    mounted = tsh("mount -t tmpfs -o size=8m tmpfs '%s' 2>/dev/null", small) == 0;
    if (mounted) {
        /* quire-api stores on the tmpfs; nginx's body temp stays where it is */
        setenv("QUIRE_STORAGE", small, 1);
        api_restart();
    }
    T_RUN(test_uploads_that_do_not_fit);
    T_RUN(test_job_output_that_does_not_fit);
    if (mounted) {
        setenv("QUIRE_STORAGE", orig_storage, 1);
        api_restart();
        tsh("umount '%s'", small);
    }
    tsh("rmdir '%s' 2>/dev/null", small);
    free(tok);
    return t_done();
}
