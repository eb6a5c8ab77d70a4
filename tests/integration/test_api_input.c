/* test_api_input.c - bad input gets the right 4xx with a JSON error and
 * stores nothing: malformed JSON, wrong types, missing fields, huge JSON,
 * deep nesting, oversized bodies, non-audio files, hostile file names,
 * broken multipart; plus Idempotency-Key replay rules. */
#include "apitest.h"
#include "t.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *tok, *other;
static char *wav_data;
static size_t wav_len;

static void expect(const char *method, const char *path, const char *ctype, const char *body, size_t len, int status,
                   const char *code, const char *msg_part)
{
    thttp r;
    if (thttp_req(&r, method, path, tok, ctype, body, len, NULL) != 0) {
        t_fail_at(__FILE__, __LINE__, "%s %s: no response", method, path);
        return;
    }
    if (r.status != status)
        t_fail_at(__FILE__, __LINE__, "%s %s: %ld, expected %d: %.300s", method, path, r.status, status, r.body);
    if (code && (!tjson_str(r.json, "error.code") || strcmp(tjson_str(r.json, "error.code"), code)))
        t_fail_at(__FILE__, __LINE__, "%s %s: code %s, expected %s", method, path, tjson_str(r.json, "error.code"),
                  code);
    if (msg_part && (!tjson_str(r.json, "error.message") || !strstr(tjson_str(r.json, "error.message"), msg_part)))
        t_fail_at(__FILE__, __LINE__, "%s %s: message \"%s\" does not mention \"%s\"", method, path,
                  tjson_str(r.json, "error.message"), msg_part);
    thttp_free(&r);
}

#define JSON(m, p, b, st, code, part) expect(m, p, "application/json", b, strlen(b), st, code, part)

static void test_bad_json(void)
{
    JSON("POST", "/api/v1/uploads", "{\"upload_type\": \"single\",", 400, "invalid_request", "malformed");
    JSON("POST", "/api/v1/uploads", "[1,2,3]", 400, "invalid_request", "object");
    JSON("POST", "/api/v1/uploads", "{} trailing", 400, "invalid_request", NULL);
    expect("POST", "/api/v1/uploads", "application/json", NULL, 0, 400, "invalid_request", "empty");
    /* wrong types */
    JSON("POST", "/api/v1/uploads", "{\"upload_type\":\"single\",\"total_files\":\"one\"}", 422, "validation_failed",
         "total_files");
    JSON("POST", "/api/v1/uploads", "{\"upload_type\":5,\"total_files\":1}", 422, "validation_failed", "upload_type");
    JSON("POST", "/api/v1/uploads", "{\"upload_type\":\"single\",\"total_files\":1.5}", 422, NULL, "total_files");
    JSON("POST", "/api/v1/uploads", "{\"upload_type\":\"single\",\"total_files\":-1}", 422, NULL, "total_files");
    JSON("POST", "/api/v1/uploads", "{\"upload_type\":\"batch\",\"total_files\":1}", 422, NULL, "upload_type");
    JSON("POST", "/api/v1/uploads", "{\"upload_type\":\"single\",\"total_files\":2}", 422, NULL, "single");
    /* missing fields */
    JSON("POST", "/api/v1/uploads", "{}", 422, "validation_failed", "upload_type");
    JSON("POST", "/api/v1/uploads", "{\"upload_type\":\"multi\"}", 422, NULL, "total_files");
    JSON("POST", "/api/v1/audiobooks", "{\"title\":\"x\"}", 422, NULL, "upload_id");
    char *up = at_upload(tok, "single", 1);
    char body[256];
    snprintf(body, sizeof body, "{\"upload_id\":\"%s\"}", up);
    JSON("POST", "/api/v1/audiobooks", body, 422, NULL, "title");
    snprintf(body, sizeof body, "{\"upload_id\":\"%s\",\"title\":\"t\",\"is_public\":\"yes\"}", up);
    JSON("POST", "/api/v1/audiobooks", body, 422, NULL, "is_public");
    snprintf(body, sizeof body, "{\"upload_id\":\"%s\",\"title\":\"t\",\"language\":\"e n;\"}", up);
    JSON("POST", "/api/v1/audiobooks", body, 422, NULL, "language");
    /* an audiobook needs an upload with all its files */
    snprintf(body, sizeof body, "{\"upload_id\":\"%s\",\"title\":\"t\"}", up);
    JSON("POST", "/api/v1/audiobooks", body, 409, "conflict", "no files");
    JSON("POST", "/api/v1/audiobooks", "{\"upload_id\":\"nope\",\"title\":\"t\"}", 404, "not_found", NULL);
    /* a wrong media type for JSON endpoints */
    expect("POST", "/api/v1/uploads", "application/xml", "<a/>", 4, 415, "unsupported_media_type", NULL);
    free(up);
}

static void test_huge_and_deep_json(void)
{
    /* over QUIRE_MAX_JSON_BYTES (1 MiB) but under nginx's 2 MiB */
    size_t n = 1536 * 1024;
    char *big = malloc(n + 64);
    int k = snprintf(big, n + 64, "{\"upload_type\":\"single\",\"total_files\":1,\"pad\":\"");
    memset(big + k, 'a', n - (size_t)k - 2);
    memcpy(big + n - 2, "\"}", 3);
    expect("POST", "/api/v1/uploads", "application/json", big, n, 413, "payload_too_large", NULL);
    free(big);
    /* over nginx's limit: still a JSON 413 */
    n = 3 * 1024 * 1024;
    big = calloc(1, n);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    expect("POST", "/api/v1/uploads", "application/json", big, n, 413, "payload_too_large", NULL);
    free(big);
    /* hostile nesting */
    char deep[4096];
    size_t d = 0;
    d += (size_t)snprintf(deep, sizeof deep, "{\"upload_type\":\"single\",\"total_files\":1,\"x\":");
    for (int i = 0; i < 1000 && d < sizeof deep - 1100; i++)
        deep[d++] = '[';
    size_t opened = d - strlen("{\"upload_type\":\"single\",\"total_files\":1,\"x\":");
    for (size_t i = 0; i < opened; i++)
        deep[d++] = ']';
    deep[d++] = '}';
    expect("POST", "/api/v1/uploads", "application/json", deep, d, 400, "invalid_request", "deeper");
    /* paging and ids */
    expect("GET", "/api/v1/jobs?per_page=1000", NULL, NULL, 0, 400, "invalid_request", "per_page");
    expect("GET", "/api/v1/audiobooks?page=0", NULL, NULL, 0, 400, NULL, "page");
    expect("GET", "/api/v1/jobs/abc", NULL, NULL, 0, 404, "not_found", NULL);
    expect("GET", "/api/v1/jobs/99999999999", NULL, NULL, 0, 404, "not_found", NULL);
    expect("GET", "/api/v1/uploads/..%2F..%2Fetc", NULL, NULL, 0, 404, NULL, NULL);
    expect("GET", "/api/v1/audiobooks/00000000-0000-4000-8000-000000000000", NULL, NULL, 0, 404, NULL, NULL);
}

/* A multipart/form-data body with one part (malloc'd). */
static char *multipart(const char *field, const char *filename, const void *data, size_t len, size_t *out_len)
{
    const char *b = "----quireTestBoundary7MA4YWxkTrZu0gW";
    size_t cap = len + 2048;
    char *buf = malloc(cap);
    int n = snprintf(buf, cap, "--%s\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nignored\r\n"
                     "--%s\r\nContent-Disposition: form-data; name=\"%s\"%s%s%s\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n", b, b, field, filename ? "; filename=\"" : "",
                     filename ? filename : "", filename ? "\"" : "");
    memcpy(buf + n, data, len);
    size_t m = (size_t)n + len;
    m += (size_t)snprintf(buf + m, cap - m, "\r\n--%s--\r\n", b);
    *out_len = m;
    return buf;
}
#define MP_CTYPE "multipart/form-data; boundary=----quireTestBoundary7MA4YWxkTrZu0gW"

static int upload_file_count(const char *up)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/uploads/%s", up);
    thttp r;
    int n = -1;
    if (thttp_json(&r, "GET", path, tok, NULL) == 0 && r.status == 200)
        n = cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "files"));
    thttp_free(&r);
    return n;
}

static void test_non_audio_and_broken_uploads_store_nothing(void)
{
    char *up = at_upload(tok, "multi", 10);
    T_REQUIRE(up != NULL);
    char path[256], rel[128];
    snprintf(path, sizeof path, "/api/v1/uploads/%s/files", up);
    snprintf(rel, sizeof rel, "uploads/%s", up);
    size_t len;
    char *mp = multipart("file", "notes.mp3", "just some text, not audio\n", 26, &len);
    expect("POST", path, MP_CTYPE, mp, len, 415, "unsupported_media_type", "text");
    free(mp);
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    expect("POST", path, "application/octet-stream", (const char *)png, sizeof png, 415, NULL, "png");
    char elf[64] = "\x7f" "ELF\x02\x01\x01";
    expect("POST", path, "audio/mpeg", elf, sizeof elf, 415, NULL, "elf");
    expect("POST", path, "application/octet-stream", NULL, 0, 422, "validation_failed", NULL);
    expect("POST", path, "text/plain", wav_data, wav_len, 415, NULL, "Content-Type");
    /* multipart without the file part, without a boundary, without an end */
    mp = multipart("other", NULL, wav_data, wav_len, &len);
    expect("POST", path, MP_CTYPE, mp, len, 422, NULL, "'file'");
    expect("POST", path, "multipart/form-data", mp, len, 400, NULL, "boundary");
    free(mp);
    mp = multipart("file", "a.wav", wav_data, wav_len, &len);
    expect("POST", path, MP_CTYPE, mp, len - 20, 400, NULL, "closing boundary");
    free(mp);
    T_EQ_INT(upload_file_count(up), 0);
    T_EQ_INT(at_storage_files(rel), 0);
    /* over the per-file limit: nginx refuses from Content-Length alone */
    char req[1024];
    int n = snprintf(req, sizeof req, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/octet-stream\r\nContent-Length: 99999999999999\r\n\r\n", path, tok);
    char reply[4096];
    T_EQ_INT(at_raw_http(req, (size_t)n, 0, 5000, reply, sizeof reply), 413);
    T_CHECK(strstr(reply, "application/json") != NULL);
    T_EQ_INT(upload_file_count(up), 0);
    T_EQ_INT(at_storage_files(rel), 0);
    /* someone else's session */
    thttp r;
    T_REQUIRE(thttp_req(&r, "POST", path, other, "application/octet-stream", wav_data, wav_len, NULL) == 0);
    T_EQ_INT(r.status, 404);
    thttp_free(&r);
    T_EQ_INT(at_storage_files(rel), 0);
    free(up);
}

static void test_hostile_file_names(void)
{
    static const struct { const char *sent, *kept; } names[] = {
        {"../../../../etc/passwd.wav", "passwd.wav"},
        {"..\\\\..\\\\windows\\\\win.wav", "win.wav"},
        {"/absolute/path.wav", "path.wav"},
        {"..", "file.wav"},
        {".hidden.wav", "hidden.wav"},
        {"tab\there\x01\x7f.wav", "tabhere.wav"},
        {"Kapitel \xc3\xbc.wav", "Kapitel \xc3\xbc.wav"},
        {"bad\xff\xfeutf8.wav", "badutf8.wav"},
        {"a<b>c|d?e*f:g.wav", "abcdefg.wav"},
        {"", "file.wav"},
    };
    int nn = (int)(sizeof names / sizeof names[0]);
    char *up = at_upload(tok, "multi", nn + 1);
    T_REQUIRE(up != NULL);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/uploads/%s/files", up);
    for (int i = 0; i < nn; i++) {
        size_t len;
        char *mp = multipart("file", names[i].sent, wav_data, wav_len, &len);
        thttp r;
        T_REQUIRE(thttp_req(&r, "POST", path, tok, MP_CTYPE, mp, len, NULL) == 0);
        T_EQ_INT(r.status, 201);
        T_EQ_STR(tjson_str(r.json, "file_name"), names[i].kept);
        T_EQ_INT(tjson_num(r.json, "file_size_bytes", -1), (long long)wav_len);
        thttp_free(&r);
        free(mp);
    }
    /* a very long name is cut (on a character boundary) */
    char longname[1200];
    memset(longname, 'x', sizeof longname);
    memcpy(longname + sizeof longname - 5, ".wav", 5);
    size_t len;
    char *mp = multipart("file", longname, wav_data, wav_len, &len);
    thttp r;
    T_REQUIRE(thttp_req(&r, "POST", path, tok, MP_CTYPE, mp, len, NULL) == 0);
    T_EQ_INT(r.status, 201);
    T_CHECK(tjson_str(r.json, "file_name") && strlen(tjson_str(r.json, "file_name")) <= 200);
    thttp_free(&r);
    free(mp);
    /* names never reach the file system: every stored file is <uuid>.wav
     * inside the session's directory, nothing appeared anywhere else */
    char *out = tsh_out("cd '%s' && find . -type f -newer '%s' ! -path './uploads/%s/*' ! -path './audiobooks/*'"
                        " ! -path './uploads/*' | head -1", tenv("QUIRE_STORAGE"), at_tmpdir(), up);
    T_CHECK(out == NULL || out[0] == '\0', "unexpected file %s", out ? out : "");
    free(out);
    out = tsh_out("ls '%s/uploads/%s' | grep -cvE '^[0-9a-f-]{36}\\.wav$'", tenv("QUIRE_STORAGE"), up);
    T_EQ_STR(out, "0");
    free(out);
    char rel[128];
    snprintf(rel, sizeof rel, "uploads/%s", up);
    T_EQ_INT(at_storage_files(rel), nn + 1);
    T_CHECK(access("/etc/passwd.wav", F_OK) != 0);
    free(up);
}

/* The file part first and other parts after it: the stored bytes are the
 * file's exactly (the end is found by scanning, not taken from the tail). */
static void test_multipart_parts_after_the_file(void)
{
    char *up = at_upload(tok, "multi", 2);
    T_REQUIRE(up != NULL);
    const char *b = "XyZbound4711";
    size_t cap = wav_len + 1024, n = 0;
    char *body = malloc(cap);
    n += (size_t)snprintf(body + n, cap - n, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.wav\"\r\n"
                          "\r\n", b);
    memcpy(body + n, wav_data, wav_len);
    n += wav_len;
    n += (size_t)snprintf(body + n, cap - n, "\r\n--%s\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n"
                          "a note after the file\r\n--%s--\r\n", b, b);
    char path[256], ct[128];
    snprintf(path, sizeof path, "/api/v1/uploads/%s/files", up);
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", b);
    thttp r;
    T_REQUIRE(thttp_req(&r, "POST", path, tok, ct, body, n, NULL) == 0);
    T_EQ_INT(r.status, 201);
    T_EQ_INT(tjson_num(r.json, "file_size_bytes", -1), (long long)wav_len);
    char sha[65];
    qsha256_hex(wav_data, wav_len, sha);
    T_EQ_STR(tjson_str(r.json, "sha256"), sha);
    thttp_free(&r);
    char rel[128];
    snprintf(rel, sizeof rel, "uploads/%s", up);
    char *sz = tsh_out("find '%s/%s' -type f -printf '%%s'", tenv("QUIRE_STORAGE"), rel);
    char want[32];
    snprintf(want, sizeof want, "%zu", wav_len);
    T_EQ_STR(sz, want);
    free(sz);
    free(body);
    free(up);
}

static void test_idempotency_keys(void)
{
    const char *body = "{\"upload_type\":\"single\",\"total_files\":1}";
    thttp a, b;
    char key[64];
    snprintf(key, sizeof key, "Idempotency-Key: k-%d", (int)getpid());
    T_REQUIRE(thttp_req(&a, "POST", "/api/v1/uploads", tok, "application/json", body, strlen(body), key) == 0);
    T_EQ_INT(a.status, 201);
    T_REQUIRE(thttp_req(&b, "POST", "/api/v1/uploads", tok, "application/json", body, strlen(body), key) == 0);
    T_EQ_INT(b.status, 201);
    T_EQ_STR(tjson_str(b.json, "upload_id"), tjson_str(a.json, "upload_id"));
    T_EQ_STR(thttp_header(&b, "Idempotent-Replayed"), "true");
    T_EQ_STR(thttp_header(&b, "Location"), thttp_header(&a, "Location") ? thttp_header(&a, "Location") : "");
    thttp_free(&b);
    /* the same key from another user is another key */
    T_REQUIRE(thttp_req(&b, "POST", "/api/v1/uploads", other, "application/json", body, strlen(body), key) == 0);
    T_EQ_INT(b.status, 201);
    T_CHECK(strcmp(tjson_str(b.json, "upload_id"), tjson_str(a.json, "upload_id")) != 0);
    thttp_free(&b);
    /* reused for another endpoint: refused */
    T_REQUIRE(thttp_req(&b, "POST", "/api/v1/audiobooks", tok, "application/json", "{}", 2, key) == 0);
    T_EQ_INT(b.status, 422);
    T_CHECK(tjson_str(b.json, "error.message") && strstr(tjson_str(b.json, "error.message"), "Idempotency-Key"));
    thttp_free(&b);
    /* an error response is kept too: the same mistake gets the same answer */
    char key2[64];
    snprintf(key2, sizeof key2, "Idempotency-Key: bad-%d", (int)getpid());
    T_REQUIRE(thttp_req(&b, "POST", "/api/v1/uploads", tok, "application/json", "{}", 2, key2) == 0);
    T_EQ_INT(b.status, 422);
    thttp_free(&b);
    T_REQUIRE(thttp_req(&b, "POST", "/api/v1/uploads", tok, "application/json", body, strlen(body), key2) == 0);
    T_EQ_INT(b.status, 422);
    T_EQ_STR(thttp_header(&b, "Idempotent-Replayed"), "true");
    thttp_free(&b);
    /* a file upload retried with its key stores one file */
    char *up = at_upload(tok, "multi", 3);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/uploads/%s/files", up);
    for (int i = 0; i < 2; i++) {
        T_REQUIRE(thttp_req(&b, "POST", path, tok, "application/octet-stream", wav_data, wav_len,
                            "Idempotency-Key: file-1\nX-File-Name: one.wav") == 0);
        T_EQ_INT(b.status, 201);
        thttp_free(&b);
    }
    T_EQ_INT(upload_file_count(up), 1);
    /* bad keys */
    T_REQUIRE(thttp_req(&b, "POST", "/api/v1/uploads", tok, "application/json", body, strlen(body),
                        "Idempotency-Key: has space") == 0);
    T_EQ_INT(b.status, 400);
    thttp_free(&b);
    thttp_free(&a);
    free(up);
}

int main(void)
{
    tok = at_user("input", 0);
    other = at_user("input-other", 0);
    char *wav = at_wav("input.wav", 0.2);
    wav_data = wav ? at_slurp(wav, &wav_len) : NULL;
    if (!tok || !other || !wav_data)
        return 1;
    /* a reference time for "nothing was written" checks */
    tsh("touch '%s'", at_tmpdir());
    T_RUN(test_bad_json);
    T_RUN(test_huge_and_deep_json);
    T_RUN(test_non_audio_and_broken_uploads_store_nothing);
    T_RUN(test_hostile_file_names);
    T_RUN(test_multipart_parts_after_the_file);
    T_RUN(test_idempotency_keys);
    free(tok);
    free(other);
    free(wav);
    free(wav_data);
    return t_done();
}
