/* auth.c - who is calling: a bearer token (or X-API-Key) looked up by its
 * SHA-256 hash. */
#include "api.h"

#include <string.h>
#include <strings.h>

qerr api_authenticate(qreq *r)
{
    const char *h = api_header(r, "Authorization");
    const char *tok = NULL;
    if (h && !strncasecmp(h, "Bearer ", 7)) {
        tok = h + 7;
        while (*tok == ' ')
            tok++;
    } else if ((h = api_header(r, "X-API-Key")) && *h) {
        tok = h;
    }
    if (!tok || !*tok)
        return api_fail(r, Q_ERR_UNAUTHORIZED, "missing API token: send 'Authorization: Bearer <token>'");
    if (strlen(tok) > QTOKEN_MAX)
        return api_fail(r, Q_ERR_UNAUTHORIZED, "invalid API token");
    qerr e = api_need_db(r);
    if (e)
        return e;
    e = qaccounts_authenticate(r->db, tok, &r->user, &r->err);
    if (e)
        return e;
    r->authed = 1;
    return Q_OK;
}
