/* test_jobs_tts.c - the tts and assemble job types through the real queue
 * and a real quire-worker: two chapters spoken by flite, joined into an M4B
 * and an MP3 whose chapter markers (read back with ffprobe) sit where the
 * chapters begin; a cancelled tts job leaves no file. */
#include "db.h"
#include "http.h"
#include "queue.h"
#include "t.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static qdb *db;

static const char *status_of(int64_t id)
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

static int wait_final(int64_t id, int ms)
{
    for (int64_t t0 = qmono_ms(); qmono_ms() - t0 < ms; qsleep_ms(100)) {
        const char *s = status_of(id);
        if (!strcmp(s, "completed") || !strcmp(s, "failed") || !strcmp(s, "cancelled"))
            return 1;
    }
    return 0;
}

static int64_t enqueue(const char *type, const char *payload, const int64_t *deps, int ndeps)
{
    qjob_spec s = {.type = type, .payload = payload, .depends_on = deps, .ndeps = ndeps};
    int64_t id = 0;
    qerrctx e = {0};
    if (qqueue_enqueue(db, &s, &id, NULL, &e))
        fprintf(stderr, "enqueue: %s\n", e.msg);
    return id;
}

static void last_error(int64_t id)
{
    qarena *a = qarena_new();
    qrows *r = NULL;
    qerrctx e = {0};
    if (qdb_query(db, a, &r, &e, "SELECT last_error FROM jobs WHERE id = ?", "i", id) == Q_OK && r->nrows)
        t_note("job %lld: %s", (long long)id, qrows_get(r, 0, 0) ? qrows_get(r, 0, 0) : "");
    qarena_free(a);
}

/* Chapter start times (ms) of a file, from ffprobe. */
static int chapters(const char *rel, double *starts, int cap)
{
    char *out = tsh_out("ffprobe -v error -show_chapters -of csv=p=0 \"$QUIRE_STORAGE/%s\" 2>/dev/null"
                        " | cut -d, -f4 | paste -sd' '", rel);
    int n = 0;
    for (char *s = out; s && *s && n < cap;) {
        char *end;
        starts[n++] = strtod(s, &end) * 1000.0;
        if (end == s)
            break;
        s = end;
    }
    free(out);
    return n;
}

static void test_two_chapters_assembled_with_markers(void)
{
    const char *p1 = "{\"text\":\"Chapter one. The quick brown fox jumps over the lazy dog. It was a bright cold"
                     " day in April, and the clocks were striking thirteen.\",\"title\":\"One\",\"engine\":\"flite\","
                     "\"voice\":\"slt\",\"format\":\"wav\",\"output\":\"tts/test/ch1.wav\"}";
    const char *p2 = "{\"text\":\"Chapter two. Call me Ishmael. Some years ago, never mind how long precisely,"
                     " I thought I would sail about a little.\",\"title\":\"Two\",\"engine\":\"espeak-ng\","
                     "\"voice\":\"en-us\",\"speed\":1.2,\"format\":\"wav\",\"output\":\"tts/test/ch2.wav\"}";
    int64_t a = enqueue("tts", p1, NULL, 0), b = enqueue("tts", p2, NULL, 0);
    int64_t deps[2] = {a, b};
    const char *asm_m4b = "{\"inputs\":[\"tts/test/ch1.wav\",\"tts/test/ch2.wav\"],\"titles\":[\"One\",\"Two\"],"
                          "\"format\":\"m4b\",\"output\":\"tts/test/book.m4b\",\"title\":\"Test Book\",\"author\":\"quire\"}";
    const char *asm_mp3 = "{\"inputs\":[\"tts/test/ch1.wav\",\"tts/test/ch2.wav\"],\"titles\":[\"One\",\"Two\"],"
                          "\"format\":\"mp3\",\"output\":\"tts/test/book.mp3\",\"title\":\"Test Book\"}";
    int64_t m4b = enqueue("assemble", asm_m4b, deps, 2), mp3 = enqueue("assemble", asm_mp3, deps, 2);
    T_EQ_STR(status_of(m4b), "waiting");
    T_REQUIRE(tsh("\"$QUIRE_ROOT/scripts/stack.sh\" worker-start worker-tts --types tts,assemble --concurrency 2") == 0);
    T_CHECK(wait_final(m4b, 120000) && wait_final(mp3, 60000));
    T_EQ_STR(status_of(a), "completed");
    T_EQ_STR(status_of(b), "completed");
    T_EQ_STR(status_of(m4b), "completed");
    T_EQ_STR(status_of(mp3), "completed");
    if (t_failed_now()) {
        last_error(a), last_error(b), last_error(m4b), last_error(mp3);
        return;
    }
    /* chapter 2 starts where chapter 1's audio ends (plus the pause) */
    char *d1 = tsh_out("ffprobe -v error -show_entries format=duration -of csv=p=0 \"$QUIRE_STORAGE/tts/test/ch1.wav\"");
    double dur1 = d1 ? strtod(d1, NULL) * 1000.0 : -1;
    free(d1);
    double st[8];
    const char *files[2] = {"tts/test/book.m4b", "tts/test/book.mp3"};
    for (int f = 0; f < 2; f++) {
        int n = chapters(files[f], st, 8);
        T_EQ_INT(n, 2);
        if (n == 2) {
            T_CHECK(st[0] < 50, "%s: chapter 1 at %.0f ms", files[f], st[0]);
            T_CHECK(st[1] > dur1 - 100 && st[1] < dur1 + 2500, "%s: chapter 2 at %.0f ms, chapter 1 lasts %.0f ms",
                    files[f], st[1], dur1);
            t_note("%s: chapters at %.0f and %.0f ms (chapter 1 audio %.0f ms)", files[f], st[0], st[1], dur1);
        }
    }
    char *title = tsh_out("ffprobe -v error -show_entries format_tags=title -of csv=p=0 \"$QUIRE_STORAGE/tts/test/book.mp3\"");
    T_CHECK(title && strstr(title, "Test Book"), "mp3 title: %s", title ? title : "(none)");
    free(title);
}

static void test_cancelled_tts_leaves_no_file(void)
{
    /* a long text: cancelled between chunks */
    size_t n = 60000;
    char *text = malloc(n + 256);
    size_t at = (size_t)sprintf(text, "{\"text\":\"");
    while (at < n)
        at += (size_t)sprintf(text + at, "This is a long sentence that keeps the speech engine busy for a while. ");
    sprintf(text + at, "\",\"engine\":\"flite\",\"format\":\"mp3\",\"output\":\"tts/test/long.mp3\"}");
    int64_t id = enqueue("tts", text, NULL, 0);
    free(text);
    for (int64_t t0 = qmono_ms(); strcmp(status_of(id), "running") && qmono_ms() - t0 < 20000;)
        qsleep_ms(50);
    qsleep_ms(500);
    int running = 0;
    qerrctx e = {0};
    T_EQ_INT(qqueue_cancel(db, id, 0, &running, &e), Q_OK);
    T_CHECK(wait_final(id, 20000));
    T_EQ_STR(status_of(id), "cancelled");
    T_CHECK(tsh("test ! -e \"$QUIRE_STORAGE/tts/test/long.mp3\"") == 0, "partial output left behind");
}

int main(void)
{
    char name[64];
    snprintf(name, sizeof name, "quire_tt%d", (int)getpid());
    setenv("QUIRE_DB_NAME", name, 1);
    setenv("QUIRE_HEARTBEAT_SECONDS", "1", 1);
    if (tsh("\"$QUIRE_BIN/quirectl\" create-db %s && \"$QUIRE_BIN/quirectl\" migrate >/dev/null 2>&1", name) != 0)
        return 1;
    qerrctx e = {0};
    db = qdb_open(&e);
    if (!db)
        return 1;
    T_RUN(test_two_chapters_assembled_with_markers);
    T_RUN(test_cancelled_tts_leaves_no_file);
    tsh("\"$QUIRE_ROOT/scripts/stack.sh\" worker-stop worker-tts >/dev/null 2>&1");
    qdb_close(db);
    return t_done();
}
