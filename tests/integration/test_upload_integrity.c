/* test_upload_integrity.c - a file is never recorded as complete unless its
 * sha256 matches what the client says it sent: the tus checksum extension
 * (Upload-Checksum per chunk: 460, nothing appended), the whole-file digest
 * of tus (metadata "sha256") and of plain uploads (X-Content-SHA256, raw and
 * multipart: 422, no row, no file). */
#include "apitest.h"
#include "t.h"
#include "util.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TUS AT_TUS

static char *tok;
static char *wav_data;
static size_t wav_len;

/* base64 of the 32 bytes whose hex is hex, or of a string, into out. */
static void b64_of_digest(const char *hex, char *out)
{
    unsigned char d[32];
    for (int i = 0; i < 32; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        d[i] = (unsigned char)v;
    }
    EVP_EncodeBlock((unsigned char *)out, d, 32);
}

static void b64_of_str(const char *s, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)strlen(s));
}

static long long files_of(const char *up)
{
    char path[128];
    snprintf(path, sizeof path, "/api/v1/uploads/%s", up);
    thttp r;
    long long n = -1;
    if (thttp_json(&r, "GET", path, tok, NULL) == 0 && r.status == 200)
        n = cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "files"));
    thttp_free(&r);
    return n;
}

/* PATCH with an optional Upload-Checksum value ("sha256 <b64>"). */
static long tus_patch(const char *slot, long long off, const char *data, size_t len, const char *checksum,
                      thttp *out)
{
    char hdr[512];
    snprintf(hdr, sizeof hdr, TUS "\nUpload-Offset: %lld%s%s", off, checksum ? "\nUpload-Checksum: " : "",
             checksum ? checksum : "");
    thttp_req(out, "PATCH", slot, tok, "application/offset+octet-stream", data, len, hdr);
    return out->status;
}

static void test_options_advertise_checksum(void)
{
    char *up = at_upload(tok, "single", 1);
    T_REQUIRE(up != NULL);
    char path[128];
    snprintf(path, sizeof path, "/api/v1/uploads/%s/tus", up);
    thttp r;
    T_REQUIRE(thttp_req(&r, "OPTIONS", path, NULL, NULL, NULL, 0, NULL) == 0);
    T_CHECK(thttp_header(&r, "Tus-Extension") && strstr(thttp_header(&r, "Tus-Extension"), "checksum"));
    T_EQ_STR(thttp_header(&r, "Tus-Checksum-Algorithm"), "sha256");
    thttp_free(&r);
    free(up);
}

static void test_tus_chunk_checksum(void)
{
    char *up = at_upload(tok, "single", 1);
    T_REQUIRE(up != NULL);
    long st;
    char *slot = at_tus_create(tok, up, (long long)wav_len, NULL, &st);
    T_EQ_INT(st, 201);
    T_REQUIRE(slot != NULL);
    size_t c1 = wav_len / 2;
    char hex[65], good[64], bad[64];
    qsha256_hex(wav_data, c1, hex);
    b64_of_digest(hex, good);
    qsha256_hex(wav_data, c1 - 1, hex);
    b64_of_digest(hex, bad);
    char cs[128];
    thttp r;
    /* a wrong digest: 460, nothing appended */
    snprintf(cs, sizeof cs, "sha256 %s", bad);
    T_EQ_INT(tus_patch(slot, 0, wav_data, c1, cs, &r), 460);
    T_EQ_STR(tjson_str(r.json, "error.code"), "checksum_mismatch");
    T_EQ_STR(thttp_header(&r, "Tus-Resumable"), "1.0.0");
    thttp_free(&r);
    T_EQ_INT(at_tus_head(tok, slot, NULL), 0);
    /* an algorithm quire does not speak, or a digest of the wrong size: 400 */
    T_EQ_INT(tus_patch(slot, 0, wav_data, c1, "md5 1B2M2Y8AsgTpgAmY7PhCfg==", &r), 400);
    thttp_free(&r);
    T_EQ_INT(tus_patch(slot, 0, wav_data, c1, "sha256 AAAA", &r), 400);
    thttp_free(&r);
    T_EQ_INT(at_tus_head(tok, slot, NULL), 0);
    /* the right digest: appended */
    snprintf(cs, sizeof cs, "sha256 %s", good);
    T_EQ_INT(tus_patch(slot, 0, wav_data, c1, cs, &r), 204);
    thttp_free(&r);
    T_EQ_INT(at_tus_head(tok, slot, NULL), (long long)c1);
    /* corrupted in transit: the client's digest is of the bytes it meant */
    char *bent = malloc(wav_len - c1);
    memcpy(bent, wav_data + c1, wav_len - c1);
    bent[100] ^= 0x55;
    qsha256_hex(wav_data + c1, wav_len - c1, hex);
    b64_of_digest(hex, good);
    snprintf(cs, sizeof cs, "sha256 %s", good);
    T_EQ_INT(tus_patch(slot, (long long)c1, bent, wav_len - c1, cs, &r), 460);
    thttp_free(&r);
    T_EQ_INT(at_tus_head(tok, slot, NULL), (long long)c1);
    T_EQ_INT(files_of(up), 0);
    T_EQ_INT(tus_patch(slot, (long long)c1, wav_data + c1, wav_len - c1, cs, &r), 204);
    T_CHECK(thttp_header(&r, "X-File-Id") != NULL);
    thttp_free(&r);
    T_EQ_INT(files_of(up), 1);
    free(bent);
    free(slot);
    free(up);
}

static void test_tus_whole_file_digest(void)
{
    char *up = at_upload(tok, "single", 1);
    T_REQUIRE(up != NULL);
    char hex[65], meta[256], b64[128], name64[64];
    b64_of_str("a.wav", name64);
    long st;
    /* malformed digest in the metadata: refused at creation */
    b64_of_str("nothex", b64);
    snprintf(meta, sizeof meta, "filename %s,sha256 %s", name64, b64);
    char *slot = at_tus_create(tok, up, (long long)wav_len, meta, &st);
    T_EQ_INT(st, 400);
    free(slot);
    /* a digest of other bytes: the last chunk gets 460 and nothing stays */
    qsha256_hex(wav_data, wav_len - 1, hex);
    b64_of_str(hex, b64);
    snprintf(meta, sizeof meta, "filename %s,sha256 %s", name64, b64);
    slot = at_tus_create(tok, up, (long long)wav_len, meta, &st);
    T_EQ_INT(st, 201);
    T_REQUIRE(slot != NULL);
    thttp r;
    T_EQ_INT(tus_patch(slot, 0, wav_data, wav_len, NULL, &r), 460);
    T_EQ_STR(tjson_str(r.json, "error.code"), "checksum_mismatch");
    thttp_free(&r);
    T_EQ_INT(files_of(up), 0);
    char rel[128];
    snprintf(rel, sizeof rel, "uploads/%s", up);
    T_EQ_INT(at_storage_files(rel), 0);
    T_EQ_INT(at_tus_head(tok, slot, NULL), -1);
    free(slot);
    /* the true digest (upper case hex is the same digest) */
    qsha256_hex(wav_data, wav_len, hex);
    for (char *p = hex; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 32);
    b64_of_str(hex, b64);
    snprintf(meta, sizeof meta, "filename %s,sha256 %s", name64, b64);
    slot = at_tus_create(tok, up, (long long)wav_len, meta, &st);
    T_EQ_INT(st, 201);
    T_REQUIRE(slot != NULL);
    T_EQ_INT(tus_patch(slot, 0, wav_data, wav_len, NULL, &r), 204);
    thttp_free(&r);
    T_EQ_INT(files_of(up), 1);
    T_EQ_INT(at_storage_files(rel), 1);
    free(slot);
    free(up);
}

static long post_file(const char *up, const char *ctype, const char *body, size_t len, const char *hdr, thttp *r)
{
    char path[128];
    snprintf(path, sizeof path, "/api/v1/uploads/%s/files", up);
    thttp_req(r, "POST", path, tok, ctype, body, len, hdr);
    return r->status;
}

static void test_plain_upload_digest(void)
{
    char *up = at_upload(tok, "multi", 3);
    T_REQUIRE(up != NULL);
    char rel[128];
    snprintf(rel, sizeof rel, "uploads/%s", up);
    char hex[65], wrong[65], hdr[128];
    qsha256_hex(wav_data, wav_len, hex);
    qsha256_hex(wav_data, wav_len - 1, wrong);
    thttp r;
    /* raw: a wrong digest is 422 and leaves no row and no file */
    snprintf(hdr, sizeof hdr, "X-Content-SHA256: %s", wrong);
    T_EQ_INT(post_file(up, "application/octet-stream", wav_data, wav_len, hdr, &r), 422);
    T_EQ_STR(tjson_str(r.json, "error.code"), "validation_failed");
    T_CHECK(tjson_str(r.json, "error.message") && strstr(tjson_str(r.json, "error.message"), "sha256"));
    thttp_free(&r);
    T_EQ_INT(post_file(up, "application/octet-stream", wav_data, wav_len, "X-Content-SHA256: abc", &r), 400);
    thttp_free(&r);
    T_EQ_INT(files_of(up), 0);
    T_EQ_INT(at_storage_files(rel), 0);
    /* multipart, the same */
    const char *b = "XyZbOuNdArY";
    char head[256];
    int hn = snprintf(head, sizeof head, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"m.wav\""
                      "\r\nContent-Type: audio/wav\r\n\r\n", b);
    char tail[64];
    int tn = snprintf(tail, sizeof tail, "\r\n--%s--\r\n", b);
    size_t mlen = (size_t)hn + wav_len + (size_t)tn;
    char *mp = malloc(mlen);
    memcpy(mp, head, (size_t)hn);
    memcpy(mp + hn, wav_data, wav_len);
    memcpy(mp + hn + wav_len, tail, (size_t)tn);
    char ct[64];
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", b);
    T_EQ_INT(post_file(up, ct, mp, mlen, hdr, &r), 422);
    thttp_free(&r);
    T_EQ_INT(files_of(up), 0);
    T_EQ_INT(at_storage_files(rel), 0);
    /* the right digests: stored */
    snprintf(hdr, sizeof hdr, "X-Content-SHA256: %s", hex);
    T_EQ_INT(post_file(up, ct, mp, mlen, hdr, &r), 201);
    T_EQ_STR(tjson_str(r.json, "sha256"), hex);
    thttp_free(&r);
    T_EQ_INT(post_file(up, "application/octet-stream", wav_data, wav_len, hdr, &r), 201);
    thttp_free(&r);
    T_EQ_INT(files_of(up), 2);
    T_EQ_INT(at_storage_files(rel), 2);
    free(mp);
    free(up);
}

int main(void)
{
    tok = at_user("integrity", 0);
    char *wav = at_wav("integrity.wav", 1.0);
    wav_data = wav ? at_slurp(wav, &wav_len) : NULL;
    if (!tok || !wav_data)
        return 1;
    T_RUN(test_options_advertise_checksum);
    T_RUN(test_tus_chunk_checksum);
    T_RUN(test_tus_whole_file_digest);
    T_RUN(test_plain_upload_digest);
    free(wav);
    free(wav_data);
    free(tok);
    return t_done();
}
