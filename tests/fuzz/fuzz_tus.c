/* fuzz_tus.c - libFuzzer target for the tus header parsers of cgi/tus.c:
 * Upload-Metadata (base64 file name, then store_sanitize_name as
 * h_tus_create does, and its sha256 entry), Upload-Length / Upload-Offset
 * (qparse_i64), the Tus-Resumable check, Upload-Checksum, and the
 * whole-file upload's X-Content-SHA256 (integrity.c). Input: the header
 * values one per line, in that order. Build and run with `scripts/fuzz.sh tus`. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_req.h"
#include "tus.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_req f;
    fuzz_req_init(&f);
    const char *p = (const char *)data, *end = p + size;
    const char *meta = fuzz_field(&f, &p, end);
    const char *length = fuzz_field(&f, &p, end);
    const char *version = fuzz_field(&f, &p, end);
    const char *checksum = fuzz_field(&f, &p, end);
    const char *content_sha = fuzz_field(&f, &p, end);

    char raw[1024], name[STORE_NAME_MAX + 1], sha[65];
    tus_meta_filename(meta, raw, sizeof raw, sha);
    if (sha[0] && strcmp(sha, "?") && (strlen(sha) != 64 || !api_sha256_hex_ok(sha)))
        abort();                         /* "", "?" or 64 hex digits */
    store_sanitize_name(raw, name, sizeof name);
    /* tiny outputs: the cut at outsz - 1 */
    char small[4];
    for (size_t n = 1; n <= sizeof small; n++)
        tus_meta_filename(meta, small, n, sha);
    long dn = b64_decode(meta, strlen(meta), raw, sizeof raw);
    if (dn >= (long)sizeof raw || (dn >= 0 && raw[dn] != '\0'))
        abort();

    int64_t v;
    qparse_i64(length, 0, INT64_MAX, &v);
    qparse_i64(length, 1, 1000, &v);

    fuzz_req_param(&f, "HTTP_TUS_RESUMABLE", version);
    if (*checksum)
        fuzz_req_param(&f, "HTTP_UPLOAD_CHECKSUM", checksum);
    if (*content_sha)
        fuzz_req_param(&f, "HTTP_X_CONTENT_SHA256", content_sha);
    api_expected_sha256(&f.r, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    for (int quoted = 0; quoted < 2; quoted++)   /* a header value quire echoes */
        for (const char *v = api_header_value(&f.r, meta, quoted); *v; v++)
            if ((unsigned char)*v < 0x20 || *v == 0x7F || (quoted && (*v == '"' || *v == '\\')))
                abort();
    tus_check_version(&f.r);
    char want[65];
    int given;
    if (tus_chunk_checksum(&f.r, want, &given) == Q_OK && given && (strlen(want) != 64 || !api_sha256_hex_ok(want)))
        abort();
    fuzz_req_free(&f);
    return 0;
}
