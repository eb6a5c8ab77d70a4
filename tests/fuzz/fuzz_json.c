/* fuzz_json.c - libFuzzer target for the JSON request decoding of every
 * handler that takes a JSON body: the input is a request body, read by
 * api_json_body exactly as quire-api reads it (from nginx's body file, here
 * a memfd; once as application/json, once through the lenient form-labelled
 * path), and the parsed object is then run through every handler's decode
 * function (cgi/decode.h) and the blob path check on a job payload. No
 * database: the decoders never touch one. Build and run with
 * `scripts/fuzz.sh json`. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "decode.h"
#include "fuzz_req.h"
#include "queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int body_fd = -1;
static char body_path[64];

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

/* Every decoder on one parsed body; the results must hold what the
 * handlers rely on. */
static void decode_all(qreq *r, const cJSON *body)
{
    upload_create_in uc;
    if (upload_create_decode(r, body, &uc) == Q_OK)
        CHECK(uc.total_files >= 1 && uc.total_files <= 1000 && uc.total_size >= 0 && uc.total_size <= INT64_MAX / 2);
    user_create_in u;
    if (user_create_decode(r, body, &u) == Q_OK)
        CHECK(u.name && u.prio && u.label && u.role >= QROLE_USER && u.role <= QROLE_WORKER);
    const char *label = "api";
    if (token_create_decode(r, body, &label) == Q_OK)
        CHECK(label && strlen(label) <= 64);
    audiobook_in ab;
    if (audiobook_create_decode(r, body, &ab) == Q_OK)
        CHECK(ab.upload_pub && ab.title && *ab.title && ab.language && ab.priority >= -100 && ab.priority <= 100);
    if (audiobook_update_decode(r, body, &ab) == Q_OK)
        CHECK(ab.title || ab.author || ab.desc || ab.language || ab.is_public >= 0);
    job_report_in jr;
    if (job_report_decode(r, body, &jr) == Q_OK)
        CHECK(jr.status && jr.token && jr.percent >= 0 && jr.percent <= 100);
    summarize_in sm;
    if (summarize_decode(r, body, &sm) == Q_OK)
        CHECK(sm.text && sm.sentences >= 1 && sm.sentences <= 200 && sm.priority >= -100 && sm.priority <= 100);

    rq_create_in rc;
    if (rq_create_decode(r, body, &rc) == Q_OK) {
        CHECK(rc.payload && rc.ndeps >= 0 && rc.ndeps <= 64 && rc.prio >= -100 && rc.prio <= 100 &&
              rc.max_att >= 0 && rc.max_att <= 100 && rc.delay >= 0 && rc.delay <= 86400000LL * 30);
        for (int i = 0; i < rc.ndeps; i++)
            CHECK(rc.deps[i] >= 1);
    }
    rq_claim_in cl;
    if (rq_claim_decode(r, body, &cl) == Q_OK)
        CHECK(cl.wid && *cl.wid && cl.max >= 1 && cl.max <= QQUEUE_MAX_BATCH && cl.wait >= 0 && cl.wait <= 30 &&
              cl.lease >= 1);
    char *text;
    rq_complete_decode(r, body, &text);
    rq_fail_in fl;
    rq_fail_decode(r, body, &fl);
    rq_progress_in pg;
    if (rq_progress_decode(r, body, &pg) == Q_OK)
        CHECK(pg.pct >= 0 && pg.pct <= 100 && pg.cur >= 0 && pg.cur <= 1000000 && pg.tot >= 0 && pg.tot <= 1000000);
    rq_heartbeat_in hb;
    if (rq_heartbeat_decode(r, body, &hb) == Q_OK)
        CHECK(hb.lease >= 1 && hb.lease <= 86400);
    int64_t by = 1;
    if (rq_counter_decode(r, body, &by) == Q_OK)
        CHECK(by >= 1 && by <= 1000000);
    rq_worker_in w;
    if (rq_worker_decode(r, body, "tts", &w) == Q_OK)
        CHECK(w.wid && *w.wid && w.types && w.conc >= 1 && w.done <= INT64_MAX / 2 && w.failed <= INT64_MAX / 2);

    tts_in t;
    if (tts_decode(r, body, &t) == Q_OK) {
        CHECK(t.n >= 1 && t.n <= 1000 && t.ch && t.total <= qconfig_get()->max_tts_chars && t.prio >= -100 &&
              t.prio <= 100 && t.video >= 0 && t.video <= 100000 && t.format && (!t.channel || t.video));
        for (int i = 0; i < t.n; i++)
            CHECK(t.ch[i].text && t.ch[i].title);
    }
    cJSON *voice = NULL;
    if (tts_parse_voice(r, body, &voice) == Q_OK)
        CHECK(cJSON_IsObject(voice));

    /* the body as a job's payload: blob paths must stay inside storage */
    qjob j;
    memset(&j, 0, sizeof j);
    j.id = 7;
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(body, "name");
    const cJSON *pq = cJSON_GetObjectItemCaseSensitive(body, "path");
    r->query = cJSON_IsString(pq) ? qarena_printf(r->arena, "path=%s", pq->valuestring) : "";
    for (int wr = 0; wr < 2; wr++) {
        const char *rel = NULL;
        if (blob_path(r, &j, body, cJSON_IsString(nm) ? nm->valuestring : "out.wav", wr, &rel) == Q_OK)
            CHECK(rel && api_safe_rel_path(rel));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (body_fd < 0) {
        body_fd = memfd_create("fuzz-json", 0);
        if (body_fd < 0)
            abort();
        snprintf(body_path, sizeof body_path, "/proc/self/fd/%d", body_fd);
    }
    if (ftruncate(body_fd, 0) != 0 || (size && pwrite(body_fd, data, size, 0) != (ssize_t)size))
        abort();
    static const char *const TYPES[] = {"application/json", "application/x-www-form-urlencoded"};
    for (size_t k = 0; k < 2; k++) {
        fuzz_req f;
        fuzz_req_init(&f);
        fuzz_req_param(&f, "CONTENT_TYPE", TYPES[k]);
        fuzz_req_param(&f, "CONTENT_LENGTH", qarena_printf(f.r.arena, "%zu", size));
        fuzz_req_param(&f, "REQUEST_BODY_FILE", body_path);
        cJSON *body = NULL;
        if (api_json_body(&f.r, &body) == Q_OK) {
            CHECK(cJSON_IsObject(body));
            decode_all(&f.r, body);
            k = 2;                       /* the same tree: once is enough */
        }
        fuzz_req_free(&f);
    }
    return 0;
}
