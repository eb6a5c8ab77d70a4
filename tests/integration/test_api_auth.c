/* test_api_auth.c - the auth matrix: every route of the router, called with
 * no token, a bad token, another user's token, the owner's token and an
 * admin's token, answers the expected status (401 / 401 / 404 or 403 /
 * success / success). Routes on one audiobook run twice, on a private and
 * on a public book: another user reads a public book like its owner, and
 * gets 403 where only the owner may act (404 on a private book). Each call
 * gets fresh resources of the owner, so destructive endpoints are tested
 * like the others. Also: public books in lists and search, X-API-Key,
 * revoked tokens, worker tokens, and the rate limit. */
#include "api.h"
#include "apitest.h"
#include "t.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* K_BOOK_READ: readable by everyone when the book is public; K_BOOK_WRITE:
 * the owner's (and admins') only, public or not */
enum { K_PUBLIC, K_OPEN, K_OWNED, K_ADMIN, K_WORKER, K_BOOK_READ, K_BOOK_WRITE };
enum { C_NONE, C_BAD, C_OTHER, C_OWNER, C_ADMIN, C__N };
static const char *const caller_name[] = {"no token", "bad token", "other user", "owner", "admin"};

typedef struct row {
    const char *method, *pattern;
    int kind;
    int ok;          /* the owner's (or admin's) status */
} row;

static const row rows[] = {
    {"GET", "/api/v1/health", K_PUBLIC, 200},
    {"GET", "/api/v1/ping", K_PUBLIC, 200},
    {"GET", "/api/v1/me", K_OPEN, 200},
    {"POST", "/api/v1/uploads", K_OPEN, 201},
    {"GET", "/api/v1/uploads", K_OPEN, 200},
    {"GET", "/api/v1/uploads/{id}", K_OWNED, 200},
    {"DELETE", "/api/v1/uploads/{id}", K_OWNED, 200},
    {"POST", "/api/v1/uploads/{id}/files", K_OWNED, 201},
    {"GET", "/api/v1/uploads/{id}/progress", K_OWNED, 200},
    {"OPTIONS", "/api/v1/uploads/{id}/tus", K_PUBLIC, 204},
    {"POST", "/api/v1/uploads/{id}/tus", K_OWNED, 201},
    {"OPTIONS", "/api/v1/uploads/{id}/tus/{slot}", K_PUBLIC, 204},
    {"HEAD", "/api/v1/uploads/{id}/tus/{slot}", K_OWNED, 200},
    {"PATCH", "/api/v1/uploads/{id}/tus/{slot}", K_OWNED, 204},
    {"DELETE", "/api/v1/uploads/{id}/tus/{slot}", K_OWNED, 204},
    {"POST", "/api/v1/audiobooks", K_OWNED, 201},
    {"GET", "/api/v1/audiobooks", K_OPEN, 200},
    {"GET", "/api/v1/audiobooks/{id}", K_BOOK_READ, 200},
    {"PUT", "/api/v1/audiobooks/{id}", K_BOOK_WRITE, 200},
    {"DELETE", "/api/v1/audiobooks/{id}", K_BOOK_WRITE, 200},
    /* jobs (errors, attempts) are the owner's business */
    {"GET", "/api/v1/audiobooks/{id}/jobs", K_BOOK_WRITE, 200},
    {"GET", "/api/v1/jobs", K_OPEN, 200},
    {"GET", "/api/v1/jobs/{id}", K_OWNED, 200},
    {"DELETE", "/api/v1/jobs/{id}", K_OWNED, 200},
    {"POST", "/api/v1/jobs/{id}/retry", K_OWNED, 200},
    {"GET", "/api/v1/admin/users", K_ADMIN, 200},
    {"POST", "/api/v1/admin/users", K_ADMIN, 201},
    {"GET", "/api/v1/admin/users/{id}/tokens", K_ADMIN, 200},
    {"POST", "/api/v1/admin/users/{id}/tokens", K_ADMIN, 201},
    {"DELETE", "/api/v1/admin/tokens/{id}", K_ADMIN, 200},
    {"GET", "/api/v1/admin/queue/stats", K_ADMIN, 200},
    {"GET", "/api/v1/admin/workers", K_ADMIN, 200},
    /* an admin is let in; the made-up attempt token is then fenced off */
    {"POST", "/api/v1/admin/jobs/{id}/status", K_WORKER, 409},
    /* a fresh book is not transcribed yet: 409 for whoever may read it */
    {"GET", "/api/v1/audiobooks/{id}/transcript", K_BOOK_READ, 409},
    {"GET", "/api/v1/audiobooks/{id}/chapters/{n}/audio", K_BOOK_READ, 200},
    {"GET", "/api/v1/search", K_OPEN, 200},
    {"POST", "/api/v1/summarize", K_OPEN, 202},
    /* remote workers, TTS, notifications, metrics (issue 5); attempt calls
     * with a made-up token are fenced off (409) once let in */
    {"POST", "/api/v1/queue/{type}/jobs", K_WORKER, 201},
    {"GET", "/api/v1/queue/{type}/jobs", K_WORKER, 200},
    {"POST", "/api/v1/queue/{type}/claim", K_WORKER, 200},
    {"GET", "/api/v1/queue/{type}/stats", K_WORKER, 200},
    {"POST", "/api/v1/queue/{type}/jobs/{id}/complete", K_WORKER, 409},
    {"POST", "/api/v1/queue/{type}/jobs/{id}/fail", K_WORKER, 409},
    {"POST", "/api/v1/queue/{type}/jobs/{id}/progress", K_WORKER, 409},
    {"POST", "/api/v1/queue/{type}/jobs/{id}/heartbeat", K_WORKER, 409},
    {"GET", "/api/v1/queue/{type}/jobs/{id}/blobs/{name}", K_WORKER, 409},
    {"PUT", "/api/v1/queue/{type}/jobs/{id}/blobs/{name}", K_WORKER, 409},
    {"POST", "/api/v1/counter/increment/{name}", K_WORKER, 200},
    {"POST", "/api/v1/workers/{type}/heartbeat", K_WORKER, 200},
    {"GET", "/api/v1/workers/{type}", K_WORKER, 200},
    {"POST", "/api/v1/tts/queue", K_OPEN, 202},
    {"GET", "/api/v1/tts/queue", K_OPEN, 200},
    {"GET", "/api/v1/tts/queue/{job_id}", K_OWNED, 200},
    {"DELETE", "/api/v1/tts/queue/{job_id}", K_OWNED, 200},
    /* not synthesized yet: 409 for its owner */
    {"GET", "/api/v1/tts/queue/{job_id}/audio", K_OWNED, 409},
    {"GET", "/api/v1/tts/queue/{job_id}/chapters/{n}/audio", K_OWNED, 409},
    {"GET", "/api/v1/voices", K_OPEN, 200},
    {"GET", "/api/v1/notifications", K_OPEN, 200},
    /* loopback callers need no token */
    {"GET", "/metrics", K_PUBLIC, 200},
};
#define NROWS (int)(sizeof rows / sizeof rows[0])

static char *owner_tok, *other_tok, *admin_tok;
static long long owner_id;
static char *wav;
static size_t wav_len;
static char *wav_data;

/* The request for one row: path with fresh ids, body, headers. */
typedef struct call {
    char path[512];
    const char *ctype;
    char body[1024];
    const char *data;       /* raw body instead of body[] */
    size_t len;
    char headers[512];
} call;

static char *fresh_upload_with_file(void)
{
    char *up = at_upload(owner_tok, "multi", 5);
    char *f = up ? at_upload_raw(owner_tok, up, wav, "a.wav", NULL) : NULL;
    free(f);
    return up;
}

static char *fresh_slot(const char *up, int with_bytes)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/uploads/%s/tus", up);
    char hdr[128];
    snprintf(hdr, sizeof hdr, "Tus-Resumable: 1.0.0\nUpload-Length: %zu", wav_len);
    thttp r;
    char *loc = NULL;
    if (thttp_req(&r, "POST", path, owner_tok, NULL, NULL, 0, hdr) == 0 && thttp_header(&r, "Location"))
        loc = strdup(thttp_header(&r, "Location"));
    thttp_free(&r);
    if (loc && with_bytes) {
        thttp_req(&r, "PATCH", loc, owner_tok, "application/offset+octet-stream", wav_data, 100,
                  "Tus-Resumable: 1.0.0\nUpload-Offset: 0");
        thttp_free(&r);
    }
    return loc;
}

static long long fresh_job(int cancelled)
{
    char *ab = at_book(owner_tok, NULL);
    long long ids[8] = {0};
    if (!ab || at_book_jobs(owner_tok, ab, ids, 8) < 1) {
        free(ab);
        return 0;
    }
    if (cancelled) {
        char p[128];
        snprintf(p, sizeof p, "/api/v1/jobs/%lld", ids[3]);
        thttp r;
        thttp_json(&r, "DELETE", p, owner_tok, NULL);
        thttp_free(&r);
    }
    free(ab);
    return cancelled ? ids[3] : ids[0];
}

static long long fresh_token_id(void)
{
    char p[128];
    snprintf(p, sizeof p, "/api/v1/admin/users/%lld/tokens", owner_id);
    thttp r;
    long long id = 0;
    if (thttp_json(&r, "POST", p, admin_tok, "{\"label\":\"matrix\"}") == 0)
        id = (long long)tjson_num(r.json, "token_id", 0);
    thttp_free(&r);
    return id;
}

/* A TTS request of the owner's (low priority: no worker takes it here). */
static char *fresh_tts(void)
{
    thttp r;
    char *id = NULL;
    if (thttp_json(&r, "POST", "/api/v1/tts/queue", owner_tok, "{\"script_text\":\"Matrix.\",\"priority\":-100}") == 0 &&
        tjson_str(r.json, "job_id"))
        id = strdup(tjson_str(r.json, "job_id"));
    thttp_free(&r);
    return id;
}

/* pub: the audiobook routes get a public book */
static int prepare(const row *w, int pub, call *c)
{
    static int seq;
    memset(c, 0, sizeof *c);
    const char *p = w->pattern;
    if (!strcmp(p, "/api/v1/uploads/{id}") || !strcmp(p, "/api/v1/uploads/{id}/progress") ||
        !strcmp(p, "/api/v1/uploads/{id}/files") || !strcmp(p, "/api/v1/uploads/{id}/tus")) {
        char *up = fresh_upload_with_file();
        if (!up)
            return -1;
        snprintf(c->path, sizeof c->path, "%.*s%s%s", 16, p, up, p + strlen("/api/v1/uploads/{id}"));
        if (!strcmp(w->method, "POST") && strstr(p, "/files")) {
            c->ctype = "application/octet-stream";
            c->data = wav_data;
            c->len = wav_len;
        }
        if (strstr(p, "/tus"))
            snprintf(c->headers, sizeof c->headers, "Tus-Resumable: 1.0.0\nUpload-Length: %zu", wav_len);
        free(up);
    } else if (!strcmp(p, "/api/v1/uploads/{id}/tus/{slot}")) {
        char *up = at_upload(owner_tok, "multi", 2);
        char *slot = up ? fresh_slot(up, 0) : NULL;
        free(up);
        if (!slot)
            return -1;
        snprintf(c->path, sizeof c->path, "%s", slot);
        free(slot);
        snprintf(c->headers, sizeof c->headers, "Tus-Resumable: 1.0.0\nUpload-Offset: 0");
        if (!strcmp(w->method, "PATCH")) {
            c->ctype = "application/offset+octet-stream";
            c->data = wav_data;
            c->len = 100;
        }
    } else if (!strcmp(p, "/api/v1/audiobooks") && !strcmp(w->method, "POST")) {
        char *up = fresh_upload_with_file();
        if (!up)
            return -1;
        /* the session was made for 5 files: make it one */
        char *single = at_upload(owner_tok, "single", 1);
        char *f = single ? at_upload_raw(owner_tok, single, wav, "b.wav", NULL) : NULL;
        free(f);
        snprintf(c->path, sizeof c->path, "%s", p);
        c->ctype = "application/json";
        snprintf(c->body, sizeof c->body, "{\"upload_id\":\"%s\",\"title\":\"Matrix\"}", single ? single : "");
        free(up);
        free(single);
    } else if (!strncmp(p, "/api/v1/audiobooks/{id}", 23)) {
        char *ab = at_book_ex(owner_tok, NULL, pub ? "\"is_public\":true" : NULL);
        if (!ab)
            return -1;
        snprintf(c->path, sizeof c->path, "/api/v1/audiobooks/%s%s", ab, p + 23);
        char *n = strstr(c->path, "{n}");
        if (n)
            memmove(n + 1, n + 3, strlen(n + 3) + 1), n[0] = '1';
        free(ab);
        if (!strcmp(w->method, "PUT")) {
            c->ctype = "application/json";
            snprintf(c->body, sizeof c->body, "{\"title\":\"Renamed\"}");
        }
    } else if (!strncmp(p, "/api/v1/jobs/{id}", 17) || !strcmp(p, "/api/v1/admin/jobs/{id}/status")) {
        long long id = fresh_job(strstr(p, "/retry") != NULL);
        if (!id)
            return -1;
        if (strstr(p, "/admin/"))
            snprintf(c->path, sizeof c->path, "/api/v1/admin/jobs/%lld/status", id);
        else
            snprintf(c->path, sizeof c->path, "/api/v1/jobs/%lld%s", id, p + 17);
        if (strstr(p, "/status")) {
            c->ctype = "application/json";
            snprintf(c->body, sizeof c->body, "{\"status\":\"progress\",\"token\":\"made-up\",\"progress\":5}");
        }
    } else if (!strncmp(p, "/api/v1/queue/{type}/jobs/{id}/", 31)) {
        /* an audiobook job, not running: any attempt token is refused */
        long long id = fresh_job(0);
        if (!id)
            return -1;
        thttp r;
        char jp[64];
        snprintf(jp, sizeof jp, "/api/v1/jobs/%lld", id);
        thttp_json(&r, "GET", jp, owner_tok, NULL);
        char type[40];
        snprintf(type, sizeof type, "%s", tjson_str(r.json, "type") ? tjson_str(r.json, "type") : "noop");
        thttp_free(&r);
        snprintf(c->path, sizeof c->path, "/api/v1/queue/%s/jobs/%lld/%s", type, id, p + 31);
        if (strstr(p, "/blobs/")) {
            snprintf(c->path, sizeof c->path, "/api/v1/queue/%s/jobs/%lld/blobs/out.bin", type, id);
            snprintf(c->headers, sizeof c->headers, "X-Attempt-Token: made-up\nX-Content-SHA256: %064d", 0);
            if (!strcmp(w->method, "PUT")) {
                c->ctype = "application/octet-stream";
                c->data = "x";
                c->len = 1;
            }
        } else {
            c->ctype = "application/json";
            snprintf(c->body, sizeof c->body, "{\"token\":\"made-up\"}");
        }
    } else if (!strncmp(p, "/api/v1/queue/{type}/", 21) || !strncmp(p, "/api/v1/workers/{type}", 22)) {
        const char *type = !strncmp(p, "/api/v1/workers/", 16) ? "all" : "matrix.none";
        size_t pre = !strncmp(p, "/api/v1/workers/", 16) ? 22 : 20;
        snprintf(c->path, sizeof c->path, "%.*s%s%s", (int)(pre - 6), p, type, p + pre);
        if (!strcmp(w->method, "POST")) {
            c->ctype = "application/json";
            if (strstr(p, "/heartbeat"))
                snprintf(c->body, sizeof c->body, "{\"worker_id\":\"matrix-w\",\"status\":\"online\"}");
            else if (strstr(p, "/claim"))
                snprintf(c->body, sizeof c->body, "{\"worker_id\":\"matrix-w\"}");
            else
                snprintf(c->body, sizeof c->body, "{\"payload\":{},\"priority\":-100}");
        }
    } else if (!strcmp(p, "/api/v1/counter/increment/{name}")) {
        snprintf(c->path, sizeof c->path, "/api/v1/counter/increment/matrix");
    } else if (!strncmp(p, "/api/v1/tts/queue/{job_id}", 26)) {
        char *id = fresh_tts();
        if (!id)
            return -1;
        char rest[128];
        snprintf(rest, sizeof rest, "%s", p + 26);
        char *n = strstr(rest, "{n}");
        if (n)
            memcpy(n, "1", 2), strcat(rest, "/audio");
        snprintf(c->path, sizeof c->path, "/api/v1/tts/queue/%s%s", id, rest);
        free(id);
    } else if (!strcmp(p, "/api/v1/tts/queue") && !strcmp(w->method, "POST")) {
        snprintf(c->path, sizeof c->path, "%s", p);
        c->ctype = "application/json";
        snprintf(c->body, sizeof c->body, "{\"script_text\":\"Matrix.\",\"priority\":-100}");
    } else if (!strcmp(p, "/api/v1/admin/users/{id}/tokens")) {
        snprintf(c->path, sizeof c->path, "/api/v1/admin/users/%lld/tokens", owner_id);
        if (!strcmp(w->method, "POST")) {
            c->ctype = "application/json";
            snprintf(c->body, sizeof c->body, "{\"label\":\"m\"}");
        }
    } else if (!strcmp(p, "/api/v1/admin/tokens/{id}")) {
        long long id = fresh_token_id();
        if (!id)
            return -1;
        snprintf(c->path, sizeof c->path, "/api/v1/admin/tokens/%lld", id);
    } else {
        snprintf(c->path, sizeof c->path, "%s", p);
        if (!strcmp(p, "/api/v1/uploads") && !strcmp(w->method, "POST")) {
            c->ctype = "application/json";
            snprintf(c->body, sizeof c->body, "{\"upload_type\":\"single\",\"total_files\":1}");
        } else if (!strcmp(p, "/api/v1/search")) {
            snprintf(c->path, sizeof c->path, "/api/v1/search?q=chapter+one");
        } else if (!strcmp(p, "/api/v1/summarize")) {
            c->ctype = "application/json";
            snprintf(c->body, sizeof c->body, "{\"text\":\"One sentence here. Another one there.\",\"sentences\":1}");
        } else if (!strcmp(p, "/api/v1/admin/users") && !strcmp(w->method, "POST")) {
            c->ctype = "application/json";
            snprintf(c->body, sizeof c->body, "{\"name\":\"matrix-%d-%d\"}", (int)getpid(), ++seq);
        }
    }
    return 0;
}

static int expected(const row *w, int caller, int pub)
{
    if (w->kind == K_PUBLIC)
        return w->ok;
    if (caller == C_NONE || caller == C_BAD)
        return 401;
    switch (w->kind) {
    case K_OPEN:
        return w->ok;
    case K_OWNED:
        return caller == C_OTHER ? 404 : w->ok;
    case K_BOOK_READ:
        return caller == C_OTHER && !pub ? 404 : w->ok;
    case K_BOOK_WRITE:
        return caller == C_OTHER ? (pub ? 403 : 404) : w->ok;
    default:                                   /* admin and worker routes */
        return caller == C_ADMIN ? w->ok : 403;
    }
}

static void test_every_route_x_every_caller(void)
{
    const char *tokens[C__N] = {NULL, "qr_0000000000000000000000000000000000000000000000000000000000000bad", other_tok,
                                owner_tok, admin_tok};
    for (int i = 0; i < NROWS; i++) {
        int book = rows[i].kind == K_BOOK_READ || rows[i].kind == K_BOOK_WRITE;
        for (int pub = 0; pub <= book; pub++) {
            for (int c = 0; c < C__N; c++) {
                call k;
                if (prepare(&rows[i], pub, &k) != 0) {
                    t_fail_at(__FILE__, __LINE__, "%s %s: fixtures failed", rows[i].method, rows[i].pattern);
                    continue;
                }
                thttp r;
                const void *body = k.data ? (const void *)k.data : k.body[0] ? k.body : NULL;
                size_t len = k.data ? k.len : strlen(k.body);
                if (thttp_req(&r, rows[i].method, k.path, tokens[c], k.ctype, body, len,
                              k.headers[0] ? k.headers : NULL) != 0) {
                    t_fail_at(__FILE__, __LINE__, "%s %s: no response", rows[i].method, k.path);
                    thttp_free(&r);
                    continue;
                }
                int want = expected(&rows[i], c, pub);
                if (r.status != want)
                    t_fail_at(__FILE__, __LINE__, "%s %s%s as %s: %ld, expected %d: %.200s", rows[i].method,
                              rows[i].pattern, pub ? " (public book)" : "", caller_name[c], r.status, want, r.body);
                /* errors are JSON with a code (HEAD has no body) */
                if (r.status >= 400 && strcmp(rows[i].method, "HEAD") && !tjson_str(r.json, "error.code"))
                    t_fail_at(__FILE__, __LINE__, "%s %s as %s: error without a JSON body", rows[i].method,
                              rows[i].pattern, caller_name[c]);
                thttp_free(&r);
            }
        }
    }
}

static void test_matrix_covers_the_router(void)
{
    for (int i = 0; i < api_nroutes; i++) {
        int found = 0;
        for (int j = 0; j < NROWS; j++)
            found |= !strcmp(api_routes[i].method, rows[j].method) && !strcmp(api_routes[i].pattern, rows[j].pattern);
        if (!found)
            t_fail_at(__FILE__, __LINE__, "route %s %s is not in the auth matrix", api_routes[i].method,
                      api_routes[i].pattern);
    }
}

/* Whether the list at url (one page) holds audiobook id; -1 when the list
 * did not answer 200. *can_edit gets the item's can_edit. */
static int list_has(const char *tok, const char *url, const char *id, int *can_edit)
{
    thttp r;
    int found = -1;
    if (thttp_json(&r, "GET", url, tok, NULL) == 0 && r.status == 200) {
        found = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, cJSON_GetObjectItem(r.json, "audiobooks"))
            if (tjson_str(x, "audiobook_id") && !strcmp(tjson_str(x, "audiobook_id"), id)) {
                found = 1;
                if (can_edit)
                    *can_edit = cJSON_IsTrue(cJSON_GetObjectItem(x, "can_edit"));
            }
    }
    thttp_free(&r);
    return found;
}

/* Another user reads a public book (detail, lists with ?public=1, search)
 * without the owner's upload or the power to change it; the owner's list
 * stays the owner's; making the book private hides it again. */
static void test_public_books_read_by_all_changed_by_owner(void)
{
    char *reader = at_user("reader", 0);
    char *pub = at_book_ex(owner_tok, NULL, "\"is_public\":true");
    char *priv = at_book(owner_tok, NULL);
    T_REQUIRE(reader && pub && priv);
    char pu[128], pv[128];
    snprintf(pu, sizeof pu, "/api/v1/audiobooks/%s", pub);
    snprintf(pv, sizeof pv, "/api/v1/audiobooks/%s", priv);
    thttp r;
    T_REQUIRE(thttp_json(&r, "GET", pu, reader, NULL) == 0);
    T_EQ_INT(r.status, 200);
    T_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(r.json, "is_public")));
    T_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(r.json, "can_edit")));
    T_CHECK(cJSON_IsNull(cJSON_GetObjectItem(r.json, "upload_id")), "the owner's upload is not shown");
    T_EQ_INT(tjson_num(r.json, "total_chapters", -1), 1);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", pu, owner_tok, NULL) == 0);
    T_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(r.json, "can_edit")));
    T_CHECK(tjson_str(r.json, "upload_id") != NULL);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", pv, reader, NULL) == 0);
    T_EQ_INT(r.status, 404);
    thttp_free(&r);
    /* writes: 403 on the public book, 404 on the private one; nothing changes */
    T_REQUIRE(thttp_json(&r, "PUT", pu, reader, "{\"title\":\"Stolen\",\"is_public\":false}") == 0);
    T_EQ_INT(r.status, 403);
    T_EQ_STR(tjson_str(r.json, "error.code"), "forbidden");
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "PUT", pv, reader, "{\"title\":\"Stolen\"}") == 0);
    T_EQ_INT(r.status, 404);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "DELETE", pu, reader, NULL) == 0);
    T_EQ_INT(r.status, 403);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", pu, owner_tok, NULL) == 0);
    T_EQ_STR(tjson_str(r.json, "title"), "Fixture");
    T_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(r.json, "is_public")));
    thttp_free(&r);
    /* lists: one's own by default, everyone's public books with ?public=1 */
    T_EQ_INT(list_has(reader, "/api/v1/audiobooks?per_page=100", pub, NULL), 0);
    int can_edit = -1;
    T_EQ_INT(list_has(reader, "/api/v1/audiobooks?public=1&per_page=100", pub, &can_edit), 1);
    T_EQ_INT(can_edit, 0);
    T_EQ_INT(list_has(reader, "/api/v1/audiobooks?public=true&per_page=100", priv, NULL), 0);
    T_EQ_INT(list_has(owner_tok, "/api/v1/audiobooks?per_page=100", pub, &can_edit), 1);
    T_EQ_INT(can_edit, 1);
    T_EQ_INT(list_has(owner_tok, "/api/v1/audiobooks?per_page=100", priv, NULL), 1);
    T_EQ_INT(list_has(owner_tok, "/api/v1/audiobooks?public=1&per_page=100", priv, NULL), 0);
    T_EQ_INT(list_has(owner_tok, "/api/v1/audiobooks?public=0&per_page=100", priv, NULL), 1);
    T_EQ_INT(list_has(reader, "/api/v1/audiobooks?public=maybe", pub, NULL), -1);
    /* search in one book: a book the caller may not read does not exist */
    char q[256];
    snprintf(q, sizeof q, "/api/v1/search?q=chapter&audiobook_id=%s", pub);
    T_REQUIRE(thttp_json(&r, "GET", q, reader, NULL) == 0);
    T_EQ_INT(r.status, 200);
    thttp_free(&r);
    snprintf(q, sizeof q, "/api/v1/search?q=chapter&audiobook_id=%s", priv);
    T_REQUIRE(thttp_json(&r, "GET", q, reader, NULL) == 0);
    T_EQ_INT(r.status, 404);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", q, owner_tok, NULL) == 0);
    T_EQ_INT(r.status, 200);
    thttp_free(&r);
    /* private again: gone for the reader, writes included */
    T_REQUIRE(thttp_json(&r, "PUT", pu, owner_tok, "{\"is_public\":false}") == 0);
    T_EQ_INT(r.status, 200);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", pu, reader, NULL) == 0);
    T_EQ_INT(r.status, 404);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "DELETE", pu, reader, NULL) == 0);
    T_EQ_INT(r.status, 404);
    thttp_free(&r);
    T_EQ_INT(list_has(reader, "/api/v1/audiobooks?public=1&per_page=100", pub, NULL), 0);
    free(reader);
    free(pub);
    free(priv);
}

static void test_api_key_header_and_revocation(void)
{
    char p[128];
    snprintf(p, sizeof p, "/api/v1/admin/users/%lld/tokens", owner_id);
    thttp r;
    T_REQUIRE(thttp_json(&r, "POST", p, admin_tok, "{\"label\":\"to-revoke\"}") == 0);
    T_EQ_INT(r.status, 201);
    char tok[128];
    snprintf(tok, sizeof tok, "%s", tjson_str(r.json, "token") ? tjson_str(r.json, "token") : "");
    long long id = (long long)tjson_num(r.json, "token_id", 0);
    T_CHECK(strlen(tok) >= 64);
    thttp_free(&r);
    char hdr[200];
    snprintf(hdr, sizeof hdr, "X-API-Key: %s", tok);
    T_REQUIRE(thttp_req(&r, "GET", "/api/v1/me", NULL, NULL, NULL, 0, hdr) == 0);
    T_EQ_INT(r.status, 200);
    T_EQ_INT(tjson_num(r.json, "id", -1), owner_id);
    thttp_free(&r);
    /* the token list shows a prefix, never the token */
    T_REQUIRE(thttp_json(&r, "GET", p, admin_tok, NULL) == 0);
    T_CHECK(strstr(r.body, tok) == NULL);
    thttp_free(&r);
    snprintf(p, sizeof p, "/api/v1/admin/tokens/%lld", id);
    T_REQUIRE(thttp_json(&r, "DELETE", p, admin_tok, NULL) == 0);
    T_EQ_INT(r.status, 200);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "DELETE", p, admin_tok, NULL) == 0);
    T_EQ_INT(r.status, 404);
    thttp_free(&r);
    T_REQUIRE(thttp_req(&r, "GET", "/api/v1/me", NULL, NULL, NULL, 0, hdr) == 0);
    T_EQ_INT(r.status, 401);
    T_CHECK(thttp_header(&r, "WWW-Authenticate") != NULL);
    thttp_free(&r);
}

static void test_admin_user_creation_and_worker_tokens(void)
{
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"w-%d\",\"role\":\"worker\"}", (int)getpid());
    thttp r;
    T_REQUIRE(thttp_json(&r, "POST", "/api/v1/admin/users", admin_tok, body) == 0);
    T_EQ_INT(r.status, 201);
    T_EQ_STR(tjson_str(r.json, "role"), "worker");
    char tok[128];
    snprintf(tok, sizeof tok, "%s", tjson_str(r.json, "token") ? tjson_str(r.json, "token") : "");
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "POST", "/api/v1/admin/users", admin_tok, body) == 0);
    T_EQ_INT(r.status, 409);                      /* the name exists */
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "POST", "/api/v1/admin/users", admin_tok, "{\"name\":\"../x\"}") == 0);
    T_EQ_INT(r.status, 422);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "POST", "/api/v1/admin/users", admin_tok, "{\"name\":\"ok-name\",\"role\":\"god\"}") == 0);
    T_EQ_INT(r.status, 422);
    thttp_free(&r);
    /* a worker token reports job status but cannot use user endpoints */
    T_REQUIRE(thttp_json(&r, "GET", "/api/v1/uploads", tok, NULL) == 0);
    T_EQ_INT(r.status, 403);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "POST", "/api/v1/admin/jobs/1/status", tok, "{\"status\":\"progress\",\"token\":\"x\"}") == 0);
    T_EQ_INT(r.status, 409);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", "/api/v1/admin/users", admin_tok, NULL) == 0);
    T_CHECK(tjson_num(r.json, "total", 0) >= 3);
    thttp_free(&r);
}

static void test_rate_limit(void)
{
    const char *lim = getenv("QUIRE_RATE_LIMIT");
    long limit = lim && *lim ? atol(lim) : 6000;
    if (limit <= 0 || limit > 20000) {
        t_skip("rate limit off or too high to reach quickly");
        return;
    }
    char *tok = at_user("burst", 0);
    T_REQUIRE(tok != NULL);
    long n = 0, limited = 0;
    thttp r;
    for (; n < limit + limit / 2 + 500 && !limited; n++) {
        thttp_req(&r, "GET", "/api/v1/me", tok, NULL, NULL, 0, NULL);
        if (r.status == 429) {
            limited = n;
            T_CHECK(thttp_header(&r, "Retry-After") != NULL);
            T_EQ_STR(tjson_str(r.json, "error.code"), "rate_limited");
        }
        thttp_free(&r);
    }
    T_CHECK(limited > 0, "no 429 after %ld requests", n);
    T_CHECK(limited >= limit - limit / 10, "429 came after only %ld of %ld", limited, limit);
    /* other tokens are not affected */
    T_REQUIRE(thttp_json(&r, "GET", "/api/v1/me", owner_tok, NULL) == 0);
    T_EQ_INT(r.status, 200);
    thttp_free(&r);
    free(tok);
}

int main(void)
{
    admin_tok = strdup(tenv("QUIRE_ADMIN_TOKEN"));
    owner_tok = at_user("owner", 0);
    other_tok = at_user("other", 0);
    wav = at_wav("matrix.wav", 0.3);
    wav_data = wav ? at_slurp(wav, &wav_len) : NULL;
    if (!owner_tok || !other_tok || !wav_data)
        return 1;
    thttp r;
    thttp_json(&r, "GET", "/api/v1/me", owner_tok, NULL);
    owner_id = (long long)tjson_num(r.json, "id", 0);
    thttp_free(&r);
    T_RUN(test_matrix_covers_the_router);
    T_RUN(test_every_route_x_every_caller);
    T_RUN(test_public_books_read_by_all_changed_by_owner);
    T_RUN(test_api_key_header_and_revocation);
    T_RUN(test_admin_user_creation_and_worker_tokens);
    T_RUN(test_rate_limit);
    free(owner_tok);
    free(other_tok);
    free(admin_tok);
    free(wav);
    free(wav_data);
    return t_done();
}
