/* test_api_openapi.c - docs/openapi.yaml is a valid OpenAPI document
 * (openapi-spec-validator, when installed) and agrees with the router: every
 * route of api_routes[] is described once, every described path (aliases
 * included) answers its documented methods with something other than 404 or
 * 405 when called with real ids. The YAML is read line by line: path keys at
 * indent 2 under "paths:", methods at indent 4, "$ref" path items as
 * aliases. */
#include "api.h"
#include "apitest.h"
#include "t.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATHS 128
#define NMETHODS 7
static const char *const methods[NMETHODS] = {"get", "head", "options", "post", "put", "patch", "delete"};

typedef struct spec_path {
    char path[256];
    char ref[256];          /* a $ref'd path item: its methods are the target's */
    int has[NMETHODS];
} spec_path;

static spec_path paths[MAX_PATHS];
static int npaths;

static void spec_file(char *file, size_t sz)
{
    const char *root = getenv("QUIRE_ROOT");
    snprintf(file, sz, "%s/docs/openapi.yaml", root && *root ? root : ".");
}

static int load_spec(void)
{
    char file[1024];
    spec_file(file, sizeof file);
    FILE *f = fopen(file, "r");
    if (!f)
        return -1;
    char line[2048];
    int in_paths = 0;
    spec_path *cur = NULL;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] && line[0] != ' ' && line[0] != '#') {
            in_paths = !strcmp(line, "paths:");
            cur = NULL;
            continue;
        }
        if (!in_paths)
            continue;
        size_t n = strlen(line);
        if (!strncmp(line, "  /", 3) && line[n - 1] == ':' && npaths < MAX_PATHS) {
            cur = &paths[npaths++];
            snprintf(cur->path, sizeof cur->path, "%.*s", (int)(n - 3), line + 2);
        } else if (cur && !strncmp(line, "    $ref: '#/paths/", 19)) {
            const char *s = line + 19;
            size_t j = 0;
            for (; *s && *s != '\'' && j < sizeof cur->ref - 1; s++) {
                if (s[0] == '~' && s[1] == '1') {
                    cur->ref[j++] = '/';
                    s++;
                } else {
                    cur->ref[j++] = *s;
                }
            }
            cur->ref[j] = '\0';
        } else if (cur && !strncmp(line, "    ", 4) && line[4] != ' ') {
            for (int m = 0; m < NMETHODS; m++) {
                size_t ml = strlen(methods[m]);
                if (!strncmp(line + 4, methods[m], ml) && line[4 + ml] == ':')
                    cur->has[m] = 1;
            }
        }
    }
    fclose(f);
    /* aliases take their target's methods */
    for (int i = 0; i < npaths; i++) {
        if (!paths[i].ref[0])
            continue;
        for (int j = 0; j < npaths; j++)
            if (!strcmp(paths[j].path, paths[i].ref))
                memcpy(paths[i].has, paths[j].has, sizeof paths[i].has);
    }
    return 0;
}

/* "/a/{x}/b" -> "/a/{}/b" */
static void normalize(const char *in, char *out, size_t outsz)
{
    size_t j = 0;
    for (const char *p = in; *p && j < outsz - 3; p++) {
        if (*p == '{') {
            out[j++] = '{';
            out[j++] = '}';
            while (*p && *p != '}')
                p++;
            if (!*p)
                break;
        } else {
            out[j++] = *p;
        }
    }
    out[j] = '\0';
}

static void lower(const char *in, char *out, size_t outsz)
{
    size_t i = 0;
    for (; in[i] && i < outsz - 1; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
    out[i] = '\0';
}

static void test_spec_parses(void)
{
    T_REQUIRE(load_spec() == 0, "docs/openapi.yaml not found");
    T_CHECK(npaths >= 20, "only %d paths", npaths);
    for (int i = 0; i < npaths; i++) {
        int any = 0;
        for (int m = 0; m < NMETHODS; m++)
            any |= paths[i].has[m];
        T_CHECK(any, "%s has no methods", paths[i].path);
        /* YAML keeps the last of two equal keys without a word, so a path
         * described twice silently loses its first description */
        for (int j = 0; j < i; j++)
            T_CHECK(strcmp(paths[i].path, paths[j].path) != 0, "%s is described twice", paths[i].path);
    }
}

/* The whole document against the OpenAPI 3.0 schema (the line reader above
 * sees only paths and methods; an unquoted ", " in a flow mapping, for one,
 * turns a description into extra keys). The validator is Debian's
 * python3-openapi-spec-validator where the release has it (scripts/deps.sh),
 * or any openapi-spec-validator on PATH; without one the check is skipped. */
static void test_spec_validates(void)
{
    const char *cmd = NULL;
    if (tsh("command -v openapi-spec-validator >/dev/null 2>&1") == 0)
        cmd = "openapi-spec-validator";
    else if (tsh("python3 -c 'import openapi_spec_validator' >/dev/null 2>&1") == 0)
        cmd = "python3 -m openapi_spec_validator";
    if (!cmd) {
        t_skip("openapi-spec-validator is not installed");
        return;
    }
    char file[1024], out[1024];
    spec_file(file, sizeof file);
    snprintf(out, sizeof out, "%s/openapi-spec-validator.out", at_tmpdir());
    int rc = tsh("%s '%s' >'%s' 2>&1", cmd, file, out);
    if (rc != 0)
        tsh("tail -25 '%s' >&2", out);          /* the why, in the test's stderr log */
    T_CHECK(rc == 0, "%s rejects docs/openapi.yaml (exit %d; its report is in this test's stderr)", cmd, rc);
}

static void test_every_route_is_documented(void)
{
    for (int r = 0; r < api_nroutes; r++) {
        char want[256], method[16];
        normalize(api_routes[r].pattern, want, sizeof want);
        lower(api_routes[r].method, method, sizeof method);
        int found = 0;
        for (int i = 0; i < npaths && !found; i++) {
            char have[256];
            normalize(paths[i].path, have, sizeof have);
            if (strcmp(have, want))
                continue;
            for (int m = 0; m < NMETHODS; m++)
                found |= paths[i].has[m] && !strcmp(methods[m], method);
        }
        T_CHECK(found, "route %s %s is not in docs/openapi.yaml", api_routes[r].method, api_routes[r].pattern);
    }
    /* and every documented canonical path is a route (aliases map onto them) */
    for (int i = 0; i < npaths; i++) {
        if (paths[i].ref[0])
            continue;
        char have[256];
        normalize(paths[i].path, have, sizeof have);
        int found = 0;
        for (int r = 0; r < api_nroutes && !found; r++) {
            char want[256];
            normalize(api_routes[r].pattern, want, sizeof want);
            found = !strcmp(have, want);
        }
        T_CHECK(found, "documented path %s has no route", paths[i].path);
    }
}

static char *admin;
static char upload_id[64], slot_id[64], book_id[64], job_id[32], user_id[32], job_type[40], tts_id[40];

static int make_fixtures(void)
{
    char *up = at_upload(admin, "multi", 10);
    char *wav = at_wav("openapi.wav", 0.2);
    if (!up || !wav)
        return -1;
    char *f = at_upload_raw(admin, up, wav, "x.wav", NULL);
    free(f);
    snprintf(upload_id, sizeof upload_id, "%s", up);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/uploads/%s/tus", up);
    thttp r;
    thttp_req(&r, "POST", path, admin, NULL, NULL, 0, "Tus-Resumable: 1.0.0\nUpload-Length: 1000");
    const char *loc = thttp_header(&r, "Location");
    const char *slash = loc ? strrchr(loc, '/') : NULL;
    snprintf(slot_id, sizeof slot_id, "%s", slash ? slash + 1 : "");
    thttp_free(&r);
    char *b = at_book(admin, NULL);
    if (!b)
        return -1;
    snprintf(book_id, sizeof book_id, "%s", b);
    long long ids[8];
    if (at_book_jobs(admin, b, ids, 8) < 1)
        return -1;
    snprintf(job_id, sizeof job_id, "%lld", ids[0]);
    /* the queue paths name the job's type; a TTS request for its paths */
    snprintf(path, sizeof path, "/api/v1/jobs/%s", job_id);
    thttp_json(&r, "GET", path, admin, NULL);
    snprintf(job_type, sizeof job_type, "%s", tjson_str(r.json, "type") ? tjson_str(r.json, "type") : "noop");
    thttp_free(&r);
    thttp_json(&r, "POST", "/api/v1/tts/queue", admin, "{\"script_text\":\"Documented.\",\"priority\":-100}");
    snprintf(tts_id, sizeof tts_id, "%s", tjson_str(r.json, "job_id") ? tjson_str(r.json, "job_id") : "");
    thttp_free(&r);
    thttp_json(&r, "GET", "/api/v1/me", admin, NULL);
    snprintf(user_id, sizeof user_id, "%lld", (long long)tjson_num(r.json, "id", 1));
    thttp_free(&r);
    free(b);
    free(up);
    free(wav);
    return slot_id[0] ? 0 : -1;
}

/* The spec path with real ids; token paths get a fresh token. */
static void fill(const char *spec, char *out, size_t outsz)
{
    size_t j = 0;
    for (const char *p = spec; *p && j < outsz - 64; p++) {
        if (*p != '{') {
            out[j++] = *p;
            continue;
        }
        const char *e = strchr(p, '}');
        size_t n = e ? (size_t)(e - p - 1) : 0;
        const char *v = "0";
        char tokid[32];
        if (!strncmp(p + 1, "upload_id", n))
            v = upload_id;
        else if (!strncmp(p + 1, "slot_id", n))
            v = slot_id;
        else if (!strncmp(p + 1, "audiobook_id", n))
            v = book_id;
        else if (!strncmp(p + 1, "job_id", n))
            v = job_id;
        else if (!strncmp(p + 1, "user_id", n))
            v = user_id;
        else if (!strncmp(p + 1, "type", n))
            v = job_type;
        else if (!strncmp(p + 1, "tts_id", n))
            v = tts_id;
        else if (!strncmp(p + 1, "n", n))
            v = "1";
        else if (!strncmp(p + 1, "token_id", n)) {
            char tp[128];
            snprintf(tp, sizeof tp, "/api/v1/admin/users/%s/tokens", user_id);
            thttp r;
            thttp_json(&r, "POST", tp, admin, "{\"label\":\"openapi\"}");
            snprintf(tokid, sizeof tokid, "%lld", (long long)tjson_num(r.json, "token_id", 0));
            thttp_free(&r);
            v = tokid;
        }
        j += (size_t)snprintf(out + j, outsz - j, "%s", v);
        p = e ? e : p + strlen(p) - 1;
    }
    out[j] = '\0';
}

static void test_every_documented_path_answers(void)
{
    T_REQUIRE(make_fixtures() == 0, "fixtures failed");
    int calls = 0;
    for (int i = 0; i < npaths; i++) {
        int only_delete = paths[i].has[6];
        for (int m = 0; m < 6; m++)
            only_delete &= !paths[i].has[m];
        for (int m = 0; m < NMETHODS; m++) {
            if (!paths[i].has[m] || (m == 6 && !only_delete))   /* deletes would eat the fixtures */
                continue;
            char url[512], M[16];
            fill(paths[i].path, url, sizeof url);
            size_t k = 0;
            for (; methods[m][k]; k++)
                M[k] = (char)(methods[m][k] - 32);
            M[k] = '\0';
            thttp r;
            const char *hdr = strstr(url, "/tus") ? "Tus-Resumable: 1.0.0" : NULL;
            T_CHECK(thttp_req(&r, M, url, admin, NULL, NULL, 0, hdr) == 0);
            T_CHECK(r.status != 404 && r.status != 405, "%s %s (%s): %ld %.200s", M, url, paths[i].path, r.status,
                    r.body);
            calls++;
            thttp_free(&r);
        }
    }
    t_note("%d documented operations called", calls);
}

int main(void)
{
    admin = strdup(tenv("QUIRE_ADMIN_TOKEN"));
    T_RUN(test_spec_parses);
    T_RUN(test_spec_validates);
    T_RUN(test_every_route_is_documented);
    T_RUN(test_every_documented_path_answers);
    free(admin);
    return t_done();
}
