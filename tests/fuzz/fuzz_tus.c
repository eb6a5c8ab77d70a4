/* fuzz_tus.c - libFuzzer target for the tus header parsers of cgi/tus.c:
 * Upload-Metadata (base64 file name, then store_sanitize_name as
 * h_tus_create does), Upload-Length / Upload-Offset (qparse_i64) and the
 * Tus-Resumable check. Input: the header values one per line, in that
 * order. Build and run with `scripts/fuzz.sh tus`. */
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

    char raw[1024], name[STORE_NAME_MAX + 1];
    tus_meta_filename(meta, raw, sizeof raw);
    store_sanitize_name(raw, name, sizeof name);
    /* tiny outputs: the cut at outsz - 1 */
    char small[4];
    for (size_t n = 1; n <= sizeof small; n++)
        tus_meta_filename(meta, small, n);
    b64_decode(meta, strlen(meta), raw, sizeof raw);

    int64_t v;
    qparse_i64(length, 0, INT64_MAX, &v);
    qparse_i64(length, 1, 1000, &v);

    fuzz_req_param(&f, "HTTP_TUS_RESUMABLE", version);
    tus_check_version(&f.r);
    fuzz_req_free(&f);
    return 0;
}
