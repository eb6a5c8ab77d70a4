/* test_api_tus.c - resumable uploads (tus 1.0.0): a file in three chunks
 * with a connection that breaks mid-chunk and a resume from the last
 * acknowledged byte, a wrong offset (409), an unsupported version (412),
 * termination, limits, non-audio, and another user's slot. */
#include "apitest.h"
#include "t.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *tok, *other;

#define TUS AT_TUS

static long tus_patch(const char *t, const char *slot, long long offset, const char *data, size_t len, thttp *out)
{
    char hdr[256];
    snprintf(hdr, sizeof hdr, TUS "\nUpload-Offset: %lld", offset);
    thttp_req(out, "PATCH", slot, t, "application/offset+octet-stream", data, len, hdr);
    return out->status;
}

static void test_options_advertises_the_protocol(void)
{
    char *up = at_upload(tok, "multi", 2);
    T_REQUIRE(up != NULL);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/uploads/%s/tus", up);
    thttp r;
    T_REQUIRE(thttp_req(&r, "OPTIONS", path, NULL, NULL, NULL, 0, NULL) == 0);
    T_EQ_INT(r.status, 204);
    T_EQ_STR(thttp_header(&r, "Tus-Resumable"), "1.0.0");
    T_EQ_STR(thttp_header(&r, "Tus-Version"), "1.0.0");
    T_CHECK(thttp_header(&r, "Tus-Extension") && strstr(thttp_header(&r, "Tus-Extension"), "creation") &&
            strstr(thttp_header(&r, "Tus-Extension"), "termination"));
    T_CHECK(thttp_header(&r, "Tus-Max-Size") != NULL);
    thttp_free(&r);
    /* no Tus-Resumable, or another version: 412 naming ours */
    T_REQUIRE(thttp_req(&r, "POST", path, tok, NULL, NULL, 0, "Upload-Length: 10") == 0);
    T_EQ_INT(r.status, 412);
    thttp_free(&r);
    T_REQUIRE(thttp_req(&r, "POST", path, tok, NULL, NULL, 0, "Tus-Resumable: 0.2.2\nUpload-Length: 10") == 0);
    T_EQ_INT(r.status, 412);
    T_EQ_STR(thttp_header(&r, "Tus-Version"), "1.0.0");
    T_EQ_STR(tjson_str(r.json, "error.code"), "precondition_failed");
    thttp_free(&r);
    free(up);
}

static void test_three_chunks_with_a_break_and_resume(void)
{
    char *wav = at_wav("tus.wav", 2.0);
    size_t len;
    char *data = at_slurp(wav, &len);
    T_REQUIRE(data != NULL);
    char *up = at_upload(tok, "multi", 2);
    T_REQUIRE(up != NULL);
    long st = 0;
    /* "my book.wav" in base64 */
    char *slot = at_tus_create(tok, up, (long long)len, "filename bXkgYm9vay53YXY=,lang ZW4=", &st);
    T_EQ_INT(st, 201);
    T_REQUIRE(slot != NULL);
    T_CHECK(strstr(slot, "/api/v1/uploads/") == slot);
    size_t c1 = len / 3, c2 = len / 3, c3 = len - c1 - c2;
    thttp r;
    T_EQ_INT(tus_patch(tok, slot, 0, data, c1, &r), 204);
    T_EQ_INT(atoll(thttp_header(&r, "Upload-Offset") ? thttp_header(&r, "Upload-Offset") : "-1"), (long long)c1);
    T_EQ_STR(thttp_header(&r, "Tus-Resumable"), "1.0.0");
    thttp_free(&r);

    /* chunk 2 breaks: the client sends half and its connection drops */
    char head[1024];
    int hn = snprintf(head, sizeof head,
                      "PATCH %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n" TUS "\r\n"
                      "Upload-Offset: %zu\r\nContent-Type: application/offset+octet-stream\r\n"
                      "Content-Length: %zu\r\n\r\n", slot, tok, c1, c2);
    char *req = malloc((size_t)hn + c2);
    memcpy(req, head, (size_t)hn);
    memcpy(req + hn, data + c1, c2);
    T_EQ_INT(at_raw_http(req, (size_t)hn + c2, (size_t)hn + c2 / 2, 1000, NULL, 0), 0);
    free(req);
    usleep(200 * 1000);
    /* the server kept exactly what it acknowledged */
    T_EQ_INT(at_tus_head(tok, slot, &st), (long long)c1);
    T_EQ_INT(st, 200);
    /* a client that lost track and resends from 0: 409 with the offset */
    T_EQ_INT(tus_patch(tok, slot, 0, data, c1, &r), 409);
    T_EQ_INT(atoll(thttp_header(&r, "Upload-Offset") ? thttp_header(&r, "Upload-Offset") : "-1"), (long long)c1);
    T_EQ_STR(tjson_str(r.json, "error.code"), "conflict");
    thttp_free(&r);
    /* wrong content type */
    char hdr[128];
    snprintf(hdr, sizeof hdr, TUS "\nUpload-Offset: %zu", c1);
    T_REQUIRE(thttp_req(&r, "PATCH", slot, tok, "application/octet-stream", data + c1, c2, hdr) == 0);
    T_EQ_INT(r.status, 415);
    thttp_free(&r);
    /* resume from the acknowledged byte */
    T_EQ_INT(tus_patch(tok, slot, (long long)c1, data + c1, c2, &r), 204);
    thttp_free(&r);
    T_EQ_INT(at_tus_head(tok, slot, &st), (long long)(c1 + c2));
    /* another user cannot see or touch it */
    T_EQ_INT(at_tus_head(other, slot, &st), -1);
    T_EQ_INT(st, 404);
    T_EQ_INT(tus_patch(other, slot, (long long)(c1 + c2), data + c1 + c2, c3, &r), 404);
    thttp_free(&r);
    /* past Upload-Length */
    char *more = malloc(c3 + 10);
    memcpy(more, data + c1 + c2, c3);
    memset(more + c3, 0, 10);
    T_EQ_INT(tus_patch(tok, slot, (long long)(c1 + c2), more, c3 + 10, &r), 413);
    thttp_free(&r);
    free(more);
    /* the last chunk finishes the file, its sha256 from the digest kept
     * running as the chunks came (the cut chunk never reached quire-api) */
    long long running = at_metric("quire_tus_digests_total{how=\"running\"}");
    T_EQ_INT(tus_patch(tok, slot, (long long)(c1 + c2), data + c1 + c2, c3, &r), 204);
    T_EQ_INT(at_metric("quire_tus_digests_total{how=\"running\"}"), running + 1);
    T_EQ_INT(atoll(thttp_header(&r, "Upload-Offset") ? thttp_header(&r, "Upload-Offset") : "-1"), (long long)len);
    const char *fid = thttp_header(&r, "X-File-Id");
    char file_id[64] = "";
    snprintf(file_id, sizeof file_id, "%s", fid ? fid : "");
    thttp_free(&r);
    T_CHECK(file_id[0] != '\0');
    /* it is a file of the session like any other */
    char path[256];
    snprintf(path, sizeof path, "/api/v1/uploads/%s", up);
    T_REQUIRE(thttp_json(&r, "GET", path, tok, NULL) == 0);
    cJSON *files = cJSON_GetObjectItem(r.json, "files");
    T_EQ_INT(cJSON_GetArraySize(files), 1);
    cJSON *f = cJSON_GetArrayItem(files, 0);
    T_EQ_STR(tjson_str(f, "file_id"), file_id);
    T_EQ_STR(tjson_str(f, "file_name"), "my book.wav");
    T_EQ_INT(tjson_num(f, "file_size_bytes", -1), (long long)len);
    T_EQ_STR(tjson_str(f, "sha256"), at_sha256_file(wav));
    T_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "resumable")), 0);
    thttp_free(&r);
    /* the finished slot is gone */
    at_tus_head(tok, slot, &st);
    T_EQ_INT(st, 404);
    char rel[128];
    snprintf(rel, sizeof rel, "uploads/%s/tus", up);
    T_EQ_INT(at_storage_files(rel), 0);
    snprintf(rel, sizeof rel, "uploads/%s", up);
    T_EQ_INT(at_storage_files(rel), 1);
    free(slot);
    free(up);
    free(data);
    free(wav);
}

static void test_termination(void)
{
    char *wav = at_wav("tus.wav", 2.0);
    size_t len;
    char *data = at_slurp(wav, &len);
    char *up = at_upload(tok, "single", 1);
    T_REQUIRE(data && up);
    long st;
    char *slot = at_tus_create(tok, up, (long long)len, NULL, &st);
    T_REQUIRE(slot != NULL);
    thttp r;
    T_EQ_INT(tus_patch(tok, slot, 0, data, 1000, &r), 204);
    thttp_free(&r);
    char rel[128];
    snprintf(rel, sizeof rel, "uploads/%s/tus", up);
    T_EQ_INT(at_storage_files(rel), 1);
    T_REQUIRE(thttp_req(&r, "DELETE", slot, other, NULL, NULL, 0, TUS) == 0);
    T_EQ_INT(r.status, 404);
    thttp_free(&r);
    T_REQUIRE(thttp_req(&r, "DELETE", slot, tok, NULL, NULL, 0, TUS) == 0);
    T_EQ_INT(r.status, 204);
    thttp_free(&r);
    at_tus_head(tok, slot, &st);
    T_EQ_INT(st, 404);
    T_EQ_INT(tus_patch(tok, slot, 1000, data + 1000, 1000, &r), 404);
    thttp_free(&r);
    T_EQ_INT(at_storage_files(rel), 0);
    /* the freed place in the single-file session can be used again */
    free(slot);
    slot = at_tus_create(tok, up, (long long)len, NULL, &st);
    T_EQ_INT(st, 201);
    /* but not twice */
    char *slot2 = at_tus_create(tok, up, (long long)len, NULL, &st);
    T_EQ_INT(st, 409);
    free(slot2);
    free(slot);
    free(up);
    free(data);
    free(wav);
}

static void test_limits_and_non_audio(void)
{
    char *up = at_upload(tok, "multi", 3);
    T_REQUIRE(up != NULL);
    long st;
    char *s = at_tus_create(tok, up, 1LL << 50, NULL, &st);
    T_EQ_INT(st, 413);
    free(s);
    s = at_tus_create(tok, up, 0, NULL, &st);
    T_EQ_INT(st, 422);
    free(s);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/uploads/%s/tus", up);
    thttp r;
    T_REQUIRE(thttp_req(&r, "POST", path, tok, NULL, NULL, 0, TUS "\nUpload-Length: abc") == 0);
    T_EQ_INT(r.status, 400);
    thttp_free(&r);
    /* the first chunk of a PDF: 415 naming it, the slot is dropped */
    const char pdf[] = "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n";
    s = at_tus_create(tok, up, (long long)sizeof pdf - 1, "filename ZG9jLnBkZg==", &st);
    T_REQUIRE(s != NULL);
    T_EQ_INT(tus_patch(tok, s, 0, pdf, sizeof pdf - 1, &r), 415);
    T_CHECK(tjson_str(r.json, "error.message") && strstr(tjson_str(r.json, "error.message"), "pdf"));
    thttp_free(&r);
    at_tus_head(tok, s, &st);
    T_EQ_INT(st, 404);
    char rel[128];
    snprintf(rel, sizeof rel, "uploads/%s", up);
    T_EQ_INT(at_storage_files(rel), 0);
    free(s);
    /* a first chunk too short to judge: the check comes with the last byte */
    s = at_tus_create(tok, up, (long long)sizeof pdf - 1, NULL, &st);
    T_REQUIRE(s != NULL);
    T_EQ_INT(tus_patch(tok, s, 0, pdf, 4, &r), 204);
    thttp_free(&r);
    T_EQ_INT(tus_patch(tok, s, 4, pdf + 4, sizeof pdf - 5, &r), 415);
    thttp_free(&r);
    at_tus_head(tok, s, &st);
    T_EQ_INT(st, 404);
    T_EQ_INT(at_storage_files(rel), 0);
    free(s);
    /* unknown upload session */
    s = at_tus_create(tok, "00000000-0000-4000-8000-000000000000", 10, NULL, &st);
    T_EQ_INT(st, 404);
    free(s);
    s = at_tus_create(other, up, 10, NULL, &st);
    T_EQ_INT(st, 404);
    free(s);
    free(up);
}

int main(void)
{
    tok = at_user("tus", 0);
    other = at_user("tus-other", 0);
    if (!tok || !other)
        return 1;
    T_RUN(test_options_advertises_the_protocol);
    T_RUN(test_three_chunks_with_a_break_and_resume);
    T_RUN(test_termination);
    T_RUN(test_limits_and_non_audio);
    free(tok);
    free(other);
    return t_done();
}
