/* test_hostile_input.c - hostile names everywhere a client supplies one
 * (X-File-Name, the multipart filename, tus Upload-Metadata, ids in URL
 * paths, audiobook titles, notify URLs): path traversal, absolute paths,
 * NUL, very long names, unicode tricks, CR/LF. Each gets the right 4xx or a
 * sanitized stored name; nothing is written outside storage, and no value
 * quire echoes ever starts a header line of its own. */
#include "apitest.h"
#include "t.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TUS AT_TUS

static char *tok;
static char *wav_data;
static size_t wav_len;
static char marker[512];

/* The stored file_name of a raw upload with this X-File-Name (static). */
static const char *raw_name(const char *up, const char *xname, long *status)
{
    static char name[1024];
    char path[128];
    snprintf(path, sizeof path, "/api/v1/uploads/%s/files", up);
    char *hdr = malloc(strlen(xname) + 32);
    sprintf(hdr, "X-File-Name: %s", xname);
    thttp r;
    name[0] = '\0';
    *status = 0;
    if (thttp_req(&r, "POST", path, tok, "application/octet-stream", wav_data, wav_len, hdr) == 0) {
        *status = r.status;
        snprintf(name, sizeof name, "%s", tjson_str(r.json, "file_name") ? tjson_str(r.json, "file_name") : "");
        T_CHECK(!thttp_header(&r, "Set-Cookie"), "a header was injected");
    }
    thttp_free(&r);
    free(hdr);
    return name;
}

/* A stored name is safe: no separators, controls, invisible characters. */
static int name_safe(const char *n)
{
    if (!*n || n[0] == '.' || strlen(n) > 200 || strpbrk(n, "/\\\r\n"))
        return 0;
    for (const unsigned char *p = (const unsigned char *)n; *p; p++)
        if (*p < 0x20 || *p == 0x7F || (p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0xAE) ||
            (p[0] == 0xEF && p[1] == 0xBC && p[2] == 0x8F) || p[0] == 0xC0)
            return 0;
    return 1;
}

static void test_raw_file_names(void)
{
    char *up = at_upload(tok, "multi", 20);
    T_REQUIRE(up != NULL);
    long st;
    static const struct { const char *in, *want; } cases[] = {
        {"../../../../etc/passwd.wav", "passwd.wav"},
        {"/etc/shadow.wav", "shadow.wav"},
        {"..\\..\\windows\\system.wav", "system.wav"},
        {"..", "file.wav"},
        {"evil\xe2\x80\xae" "vaw.mp3", "evilvaw.mp3"},               /* RTL override dropped */
        {"a\xef\xbc\x8f" "b.wav", "a_b.wav"},                        /* fullwidth solidus */
        {"..\xc0\xaf..\xc0\xaf" "x.wav", "x.wav"},                   /* overlong '/' */
        {"bad\xff\xfe.wav", "bad.wav"},                              /* invalid UTF-8 */
        {"x%0D%0ASet-Cookie:%20a=b.wav", "x%0D%0ASet-Cookie%20a=b.wav"},   /* literal, never decoded */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *n = raw_name(up, cases[i].in, &st);
        T_EQ_INT(st, 201);
        T_EQ_STR(n, cases[i].want);
    }
    /* very long: cut to 200 bytes */
    char longname[5001];
    memset(longname, 'a', 4996);
    memcpy(longname + 4996, ".wav", 5);
    const char *n = raw_name(up, longname, &st);
    T_EQ_INT(st, 201);
    T_EQ_INT(strlen(n), 200);
    /* a bare CR inside a header value: nginx refuses the request */
    char req[1024];
    int hn = snprintf(req, sizeof req, "POST /api/v1/uploads/%s/files HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Authorization: Bearer %s\r\nX-File-Name: a\rSet-Cookie: x=y.wav\r\n"
                      "Content-Type: application/octet-stream\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", up, tok);
    char reply[4096];
    int status = at_raw_http(req, (size_t)hn, 0, 3000, reply, sizeof reply);
    T_CHECK(status >= 400 && status < 500, "bare CR in X-File-Name: %d", status);
    T_CHECK(!strstr(reply, "Set-Cookie"), "a header was injected");
    /* every stored file is named by ids only */
    char *bad = tsh_out("find \"$QUIRE_STORAGE/uploads/%s\" -type f | grep -Evc '/[0-9a-f-]{36}\\.(wav|mp3|m4a|flac|ogg|bin)$'",
                        up);
    T_EQ_STR(bad, "0");
    free(bad);
    free(up);
}

static void test_multipart_and_tus_names(void)
{
    char *up = at_upload(tok, "multi", 10);
    T_REQUIRE(up != NULL);
    char path[128];
    snprintf(path, sizeof path, "/api/v1/uploads/%s/files", up);
    static const char *const names[] = {
        "../../../tmp/owned.wav", "/abs/path.wav", "q\\\"uote.wav", "nul\x01.wav",
        "rtl\xe2\x80\xae" "vaw.mp3",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char head[512], tail[64];
        int hn = snprintf(head, sizeof head, "--B0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\""
                          "\r\n\r\n", names[i]);
        int tn = snprintf(tail, sizeof tail, "\r\n--B0undary--\r\n");
        size_t len = (size_t)hn + wav_len + (size_t)tn;
        char *body = malloc(len);
        memcpy(body, head, (size_t)hn);
        memcpy(body + hn, wav_data, wav_len);
        memcpy(body + hn + wav_len, tail, (size_t)tn);
        thttp r;
        T_REQUIRE(thttp_req(&r, "POST", path, tok, "multipart/form-data; boundary=B0undary", body, len, NULL) == 0);
        T_EQ_INT(r.status, 201);
        const char *n = tjson_str(r.json, "file_name");
        T_CHECK(n && name_safe(n), "multipart %zu: unsafe stored name %s", i, n ? n : "(none)");
        thttp_free(&r);
        free(body);
    }
    /* tus: the name is base64 in Upload-Metadata, so anything can be in it */
    const char *evil = "../../x\r\nSet-Cookie: a=b\xe2\x80\xae.wav";
    char b64[256], hdr[512];
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)evil, (int)strlen(evil));
    snprintf(path, sizeof path, "/api/v1/uploads/%s/tus", up);
    snprintf(hdr, sizeof hdr, TUS "\nUpload-Length: %zu\nUpload-Metadata: filename %s", wav_len, b64);
    thttp r;
    T_REQUIRE(thttp_req(&r, "POST", path, tok, NULL, NULL, 0, hdr) == 0);
    T_EQ_INT(r.status, 201);
    T_CHECK(!thttp_header(&r, "Set-Cookie"), "a header was injected");
    T_CHECK(tjson_str(r.json, "file_name") && name_safe(tjson_str(r.json, "file_name")), "tus name %s",
            tjson_str(r.json, "file_name"));
    T_EQ_STR(tjson_str(r.json, "file_name"), "xSet-Cookie a=b.wav");
    thttp_free(&r);
    /* metadata that is not base64 is no name at all */
    snprintf(hdr, sizeof hdr, TUS "\nUpload-Length: %zu\nUpload-Metadata: filename ../../etc/passwd", wav_len);
    T_REQUIRE(thttp_req(&r, "POST", path, tok, NULL, NULL, 0, hdr) == 0);
    T_EQ_INT(r.status, 201);
    T_CHECK(tjson_str(r.json, "file_name") && name_safe(tjson_str(r.json, "file_name")));
    thttp_free(&r);
    free(up);
}

static void test_ids_in_paths(void)
{
    static const char *const paths[] = {
        "/api/v1/uploads/..%2F..%2Fetc/files", "/api/v1/uploads/%2e%2e/%2e%2e/etc/passwd",
        "/api/v1/uploads/abc%00def/files", "/api/v1/uploads/..%00/files", "/api/v1/audiobooks/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/tts/queue/..%2F..%2F..%2Fetc/audio", "/api/v1/uploads/%252e%252e%252f/files",
        "/api/v1/uploads/00000000-0000-4000-8000-000000000000%0d%0aSet-Cookie:%20x/tus",
        "/api/v1/uploads/..%5c..%5cetc/files", "/api/v1/uploads/\xef\xbc\x8f..\xef\xbc\x8f/files",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        thttp r;
        if (thttp_req(&r, "GET", paths[i], tok, NULL, NULL, 0, NULL) != 0) {
            t_fail_at(__FILE__, __LINE__, "%s: no response", paths[i]);
            continue;
        }
        T_CHECK(r.status >= 400 && r.status < 500, "%s: %ld", paths[i], r.status);
        t_note("GET %s: %ld", paths[i], r.status);
        T_CHECK(!r.body || !strstr(r.body, "root:"), "%s: leaked a system file", paths[i]);
        T_CHECK(!thttp_header(&r, "Set-Cookie"), "%s: a header was injected", paths[i]);
        thttp_free(&r);
        /* the same as a POST of a file */
        if (thttp_req(&r, "POST", paths[i], tok, "application/octet-stream", wav_data, wav_len, NULL) == 0)
            T_CHECK(r.status >= 400 && r.status < 500, "POST %s: %ld", paths[i], r.status);
        thttp_free(&r);
    }
    /* an overlong id */
    char *p = malloc(9000);
    strcpy(p, "/api/v1/uploads/");
    memset(p + 16, 'a', 8000);
    strcpy(p + 8016, "/files");
    thttp r;
    T_REQUIRE(thttp_req(&r, "GET", p, tok, NULL, NULL, 0, NULL) == 0);
    T_CHECK(r.status >= 400 && r.status < 500, "overlong id: %ld", r.status);
    thttp_free(&r);
    free(p);
}

static void test_titles_urls_and_echoed_headers(void)
{
    char *up = at_upload(tok, "single", 1);
    T_REQUIRE(up != NULL);
    char *fid = NULL;
    {
        char path[128];
        snprintf(path, sizeof path, "/api/v1/uploads/%s/files", up);
        thttp r;
        T_REQUIRE(thttp_req(&r, "POST", path, tok, "application/octet-stream", wav_data, wav_len, NULL) == 0);
        T_EQ_INT(r.status, 201);
        fid = tjson_str(r.json, "file_id") ? strdup(tjson_str(r.json, "file_id")) : NULL;
        thttp_free(&r);
    }
    free(fid);
    /* a webhook URL with CR/LF (raw, in JSON) is refused */
    char body[1024];
    snprintf(body, sizeof body, "{\"upload_id\":\"%s\",\"title\":\"t\",\"notify_url\":\"http://x/\\r\\nHost: evil\"}", up);
    thttp r;
    T_REQUIRE(thttp_json(&r, "POST", "/api/v1/audiobooks", tok, body) == 0);
    T_EQ_INT(r.status, 422);
    thttp_free(&r);
    /* a title is data: kept (JSON-escaped), never a path or a header */
    snprintf(body, sizeof body, "{\"upload_id\":\"%s\",\"title\":\"../../etc/passwd\\r\\nSet-Cookie: a=b\\u202e\"}", up);
    T_REQUIRE(thttp_json(&r, "POST", "/api/v1/audiobooks", tok, body) == 0);
    T_EQ_INT(r.status, 201);
    T_CHECK(!thttp_header(&r, "Set-Cookie"), "a header was injected");
    const char *loc = thttp_header(&r, "Location");
    T_CHECK(loc && !strpbrk(loc, "\r\n") && strstr(loc, "/api/v1/audiobooks/") == loc);
    thttp_free(&r);
    /* Idempotency-Key and X-Request-Id with encoded CRLF: never echoed raw */
    T_REQUIRE(thttp_req(&r, "POST", "/api/v1/uploads", tok, "application/json",
                        "{\"upload_type\":\"single\",\"total_files\":1}", 40,
                        "Idempotency-Key: k%0d%0aSet-Cookie:%20a=b\nX-Request-Id: r%0d%0aSet-Cookie:%20c=d") == 0);
    T_CHECK(r.status == 201 || r.status == 400, "%ld", r.status);
    T_CHECK(!thttp_header(&r, "Set-Cookie"), "a header was injected");
    T_CHECK(!strstr(r.headers, "%0d%0a"), "a client value was echoed in a header: %s", r.headers);
    thttp_free(&r);
    /* the same key with a raw CR: nginx or quire refuses it */
    char req[1024];
    int hn = snprintf(req, sizeof req, "POST /api/v1/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                      "Idempotency-Key: k\rSet-Cookie: a=b\r\nContent-Type: application/json\r\nContent-Length: 40\r\n"
                      "Connection: close\r\n\r\n{\"upload_type\":\"single\",\"total_files\":1}", tok);
    char reply[4096];
    int status = at_raw_http(req, (size_t)hn, 0, 3000, reply, sizeof reply);
    T_CHECK(status == 400, "raw CR in Idempotency-Key: %d", status);
    T_CHECK(!strstr(reply, "\nSet-Cookie"), "a header was injected");
    /* header names with underscores are dropped by nginx, not mapped */
    char path[128];
    snprintf(path, sizeof path, "/api/v1/uploads/%s", up);
    free(up);
    up = at_upload(tok, "single", 1);
    snprintf(path, sizeof path, "/api/v1/uploads/%s/files", up);
    T_REQUIRE(thttp_req(&r, "POST", path, tok, "application/octet-stream", wav_data, wav_len,
                        "X_File_Name: ../under.wav") == 0);
    T_EQ_INT(r.status, 201);
    T_CHECK(tjson_str(r.json, "file_name") && strcmp(tjson_str(r.json, "file_name"), "under.wav") != 0,
            "X_File_Name reached quire-api as X-File-Name");
    thttp_free(&r);
    free(up);
}

static void test_nothing_outside_storage(void)
{
    /* every file written since the test began is under storage (or is the
     * stack's own: logs, the database, nginx's temp and pid files) */
    char *out = tsh_out("find \"$QUIRE_VAR\" /tmp/owned.wav /etc/passwd.wav -newer '%s' -type f 2>/dev/null"
                        " | grep -v -e \"^$QUIRE_STORAGE/\" -e \"^$QUIRE_VAR/log/\" -e \"^$QUIRE_VAR/mysql/\""
                        " -e \"^$QUIRE_VAR/tmp/\" -e \"^$QUIRE_VAR/run/\" | head -3 | paste -sd' '", marker);
    T_CHECK(out && !*out, "written outside storage: %s", out ? out : "?");
    free(out);
}

int main(void)
{
    tok = at_user("hostile", 0);
    char *wav = at_wav("hostile.wav", 0.3);
    wav_data = wav ? at_slurp(wav, &wav_len) : NULL;
    if (!tok || !wav_data)
        return 1;
    snprintf(marker, sizeof marker, "%s/hostile.marker", at_tmpdir());
    tsh("touch '%s'; sleep 0.01", marker);
    T_RUN(test_raw_file_names);
    T_RUN(test_multipart_and_tus_names);
    T_RUN(test_ids_in_paths);
    T_RUN(test_titles_urls_and_echoed_headers);
    T_RUN(test_nothing_outside_storage);
    free(wav);
    free(wav_data);
    free(tok);
    return t_done();
}
