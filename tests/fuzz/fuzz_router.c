/* fuzz_router.c - libFuzzer target for the router and the query string:
 * the first line of the input is a request target "path?query", matched
 * with every method against the real route table (api_route_find, as
 * api_dispatch does) and its parameters read as ids, then its query read
 * through api_query and api_paging. Build and run with `scripts/fuzz.sh router`. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const METHODS[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", ""};
/* every name a handler asks for, and edge cases */
static const char *const NAMES[] = {"page", "per_page", "q", "status", "type", "limit", "format", "since",
                                    "wait", "owner", "state", "", "=", "&"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_req f;
    fuzz_req_init(&f);
    const char *p = (const char *)data, *end = p + size;
    char *target = fuzz_field(&f, &p, end);
    char *q = strchr(target, '?');
    if (q)
        *q++ = '\0';
    const char *path = target;
    f.r.query = q ? q : "";
    for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++) {
        f.r.method = METHODS[i];
        f.r.path = path;
        f.r.nparams = 0;
        int known;
        const qroute *hit = api_route_find(&f.r, &known);
        if (hit && (f.r.nparams < 0 || f.r.nparams > API_MAX_PARAMS))
            abort();
        for (int k = 0; hit && k < f.r.nparams; k++)
            if (!f.r.params[k] || strchr(f.r.params[k], '/'))
                abort();                 /* a parameter is one path segment */
        if (hit && hit->auth == AUTH_NONE && !strcmp(METHODS[i], "POST"))
            abort();                     /* no open POST routes */
        if (!strncmp(f.r.path, "/api/v1/admin/uploads", 21) || !strncmp(f.r.path, "/api/v1/admin/audiobooks", 24))
            abort();                     /* aliases are resolved before matching */
        int64_t id;
        for (int k = 0; hit && k < f.r.nparams; k++)   /* {id} as the handlers read it */
            if (api_param_id(&f.r, k, &id) == Q_OK && id < 1)
                abort();
    }
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        api_query(&f.r, NAMES[i]);
    /* the query's own names, as a handler reading any of them would */
    const char *amp = f.r.query;
    for (int k = 0; k < 8 && amp && *amp; k++) {
        size_t n = strcspn(amp, "=&");
        api_query(&f.r, qarena_strndup(f.r.arena, amp, n));
        amp = strchr(amp, '&');
        if (amp)
            amp++;
    }
    int64_t page, per_page;
    if (api_paging(&f.r, &page, &per_page) == Q_OK && (page < 1 || per_page < 1 || per_page > 100))
        abort();
    fuzz_req_free(&f);
    return 0;
}
