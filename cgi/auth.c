/* auth.c - who is calling: a bearer token (or X-API-Key) looked up by its
 * SHA-256 hash. Successful lookups are remembered in this process for
 * QUIRE_AUTH_CACHE_MS (default 1000; 0 turns the cache off), so a busy client
 * costs one database read per second instead of one per request. A token
 * revoked through this process is forgotten at once; one revoked elsewhere
 * (quirectl, another quire-api) stops working within that time. */
#include "api.h"
#include "util.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>

#define AUTH_CACHE_SLOTS 1024

static struct auth_slot {
    char hash[65];
    quser user;
    int64_t until_ms;
} auth_cache[AUTH_CACHE_SLOTS];
static pthread_mutex_t auth_mu = PTHREAD_MUTEX_INITIALIZER;

static int64_t cache_ms(void)
{
    static int64_t ms = -1;
    if (ms < 0) {
        int64_t v = qconfig_int("QUIRE_AUTH_CACHE_MS", 1000);
        ms = v < 0 ? 0 : v > 60000 ? 60000 : v;
    }
    return ms;
}

static struct auth_slot *slot_of(const char *hash)
{
    unsigned h = 0;
    for (int i = 0; i < 8; i++)
        h = h * 16 + (unsigned)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
    return &auth_cache[h % AUTH_CACHE_SLOTS];
}

void api_auth_forget(int64_t token_id)
{
    pthread_mutex_lock(&auth_mu);
    for (int i = 0; i < AUTH_CACHE_SLOTS; i++)
        if (auth_cache[i].until_ms && (token_id <= 0 || auth_cache[i].user.token_id == token_id))
            auth_cache[i].until_ms = 0;
    pthread_mutex_unlock(&auth_mu);
}

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
    size_t n = strlen(tok);
    if (n > QTOKEN_MAX)
        return api_fail(r, Q_ERR_UNAUTHORIZED, "invalid API token");
    int64_t ttl = cache_ms();
    char hash[65];
    if (ttl > 0) {
        qsha256_hex(tok, n, hash);
        int64_t now = qmono_ms();
        struct auth_slot *s = slot_of(hash);
        pthread_mutex_lock(&auth_mu);
        int hit = s->until_ms > now && !strcmp(s->hash, hash);
        if (hit)
            r->user = s->user;
        pthread_mutex_unlock(&auth_mu);
        if (hit) {
            r->authed = 1;
            return Q_OK;
        }
    }
    qerr e = api_need_db(r);
    if (e)
        return e;
    e = qaccounts_authenticate(r->db, tok, &r->user, &r->err);
    if (e)
        return e;
    r->authed = 1;
    if (ttl > 0) {
        struct auth_slot *s = slot_of(hash);
        pthread_mutex_lock(&auth_mu);
        memcpy(s->hash, hash, sizeof s->hash);
        s->user = r->user;
        s->until_ms = qmono_ms() + ttl;
        pthread_mutex_unlock(&auth_mu);
    }
    return Q_OK;
}
