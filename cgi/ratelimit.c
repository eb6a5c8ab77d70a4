/* ratelimit.c - the per-token rate limit of quire-api: a token bucket per
 * API token holding up to QUIRE_RATE_LIMIT requests and refilled at that
 * many per minute (0 turns it off). Buckets live in this process, shared by
 * its threads; with several quire-api processes each enforces the limit on
 * its own share of the traffic. */
#include "api.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>

#define RL_SLOTS 4096           /* tokens tracked at once                  */
#define RL_PROBE 8              /* a full neighbourhood evicts its oldest  */

static struct rl_slot {
    int64_t token_id;           /* 0: free */
    double tokens;
    int64_t at_ms;
} rl[RL_SLOTS];
static pthread_mutex_t rl_mu = PTHREAD_MUTEX_INITIALIZER;

qerr api_rate_limit(qreq *r)
{
    int limit = qconfig_get()->rate_limit_per_minute;
    if (limit <= 0 || !r->authed)
        return Q_OK;
    double per_ms = limit / 60000.0;
    int64_t now = qmono_ms();
    uint64_t h = (uint64_t)r->user.token_id * 0x9E3779B97F4A7C15ull;
    size_t base = (size_t)(h >> 52) % RL_SLOTS;
    pthread_mutex_lock(&rl_mu);
    struct rl_slot *s = NULL, *victim = NULL;
    for (size_t i = 0; i < RL_PROBE; i++) {
        struct rl_slot *c = &rl[(base + i) % RL_SLOTS];
        if (c->token_id == r->user.token_id) {
            s = c;
            break;
        }
        if (!victim || c->token_id == 0 || (victim->token_id != 0 && c->at_ms < victim->at_ms))
            victim = c;
    }
    if (!s) {
        s = victim;
        s->token_id = r->user.token_id;
        s->tokens = limit;
        s->at_ms = now;
    }
    s->tokens += (double)(now - s->at_ms) * per_ms;
    if (s->tokens > limit)
        s->tokens = limit;
    s->at_ms = now;
    int ok = s->tokens >= 1.0;
    double wait_ms = ok ? 0 : (1.0 - s->tokens) / per_ms;
    if (ok)
        s->tokens -= 1.0;
    pthread_mutex_unlock(&rl_mu);
    if (ok)
        return Q_OK;
    int secs = (int)(wait_ms / 1000) + 1;
    r->err_headers = qarena_printf(r->arena, "Retry-After: %d\r\n", secs);
    return api_fail(r, Q_ERR_RATE_LIMITED, "rate limit of %d requests per minute reached; retry in %d s", limit, secs);
}
