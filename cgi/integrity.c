/* integrity.c - the client's word against what arrived: an expected sha256
 * on whole-file uploads (X-Content-SHA256), and header values quire echoes
 * made incapable of starting a header line of their own. */
#include "api.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

int api_sha256_hex_ok(const char *s)
{
    size_t n = 0;
    for (; s && s[n]; n++)
        if (!isxdigit((unsigned char)s[n]))
            return 0;
    return n == 64;
}

qerr api_expected_sha256(qreq *r, const char *have)
{
    const char *want = api_header(r, "X-Content-SHA256");
    if (!want)
        return Q_OK;
    if (!api_sha256_hex_ok(want))
        return api_fail(r, Q_ERR_INVALID, "X-Content-SHA256 must be the file's sha256 as 64 hex digits");
    /* hex digits compare case-insensitively; the stored digest is lowercase */
    if (strcasecmp(want, have) != 0)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "the received file's sha256 is %s, not %.64s as X-Content-SHA256"
                        " says; nothing was stored", have, want);
    return Q_OK;
}

const char *api_header_value(qreq *r, const char *v, int quoted)
{
    char *out = qarena_strdup(r->arena, v ? v : "");
    if (!out)
        return "";
    for (char *p = out; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7F || (quoted && (c == '"' || c == '\\')))
            *p = '_';
    }
    return out;
}
