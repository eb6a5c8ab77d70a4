/* test_stack.c - the foundation: the stack is up, health reports the
 * database, migrations run once, quire-api survives a MariaDB restart and
 * stops on SIGTERM without dropping a request in flight. */
#include "http.h"
#include "t.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How many migrations sql/ holds (count) and the highest number (max). */
static int migrations(int *max)
{
    DIR *d = opendir(tenv("QUIRE_SQL_DIR"));
    int n = 0;
    struct dirent *de;
    *max = 0;
    while (d && (de = readdir(d)))
        if (strstr(de->d_name, ".sql") && de->d_name[0] >= '0' && de->d_name[0] <= '9') {
            n++;
            if (atoi(de->d_name) > *max)
                *max = atoi(de->d_name);
        }
    if (d)
        closedir(d);
    return n;
}

static int count_migrations(void)
{
    int max;
    return migrations(&max);
}

static int last_migration(void)
{
    int max;
    migrations(&max);
    return max;
}

static void test_health_reports_database(void)
{
    thttp r;
    T_REQUIRE(thttp_json(&r, "GET", "/api/v1/health", NULL, NULL) == 0);
    T_EQ_INT(r.status, 200);
    T_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "database"), "reachable")));
    T_EQ_INT(tjson_num(r.json, "database.schema_version", -1), last_migration());
    T_EQ_STR(tjson_str(r.json, "status"), "ok");
    T_CHECK(tjson_str(r.json, "version") != NULL);
    T_CHECK(tjson_num(r.json, "workers.online", -1) >= 0);
    T_CHECK(strstr(thttp_header(&r, "Content-Type"), "application/json") != NULL);
    thttp_free(&r);
}

static void test_static_dashboard_served(void)
{
    thttp r;
    T_REQUIRE(thttp_req(&r, "GET", "/", NULL, NULL, NULL, 0, NULL) == 0);
    T_EQ_INT(r.status, 200);
    thttp_free(&r);
}

static void test_unknown_and_wrong_method_are_json(void)
{
    thttp r;
    T_REQUIRE(thttp_json(&r, "GET", "/api/v1/no-such-thing", NULL, NULL) == 0);
    T_EQ_INT(r.status, 404);
    T_EQ_STR(tjson_str(r.json, "error.code"), "not_found");
    T_CHECK(tjson_str(r.json, "error.message") != NULL);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "DELETE", "/api/v1/health", NULL, NULL) == 0);
    T_EQ_INT(r.status, 405);
    T_EQ_STR(tjson_str(r.json, "error.code"), "method_not_allowed");
    thttp_free(&r);
}

static void test_migrations_apply_once(void)
{
    char *out = tsh_out("\"$QUIRE_BIN/quirectl\" migrate 2>/dev/null");
    T_REQUIRE(out != NULL);
    T_CHECK(strstr(out, "migrations applied: 0") != NULL, "%s", out);
    free(out);
    out = tsh_out("mariadb --no-defaults -S \"$QUIRE_DB_SOCKET\" -u quire -N -e "
                  "'SELECT COUNT(*), COUNT(DISTINCT version) FROM quire.schema_migrations'");
    T_REQUIRE(out != NULL);
    char want[32];
    snprintf(want, sizeof want, "%d\t%d", count_migrations(), count_migrations());
    T_EQ_STR(out, want);
    free(out);
}

static int health_status(int *reachable)
{
    thttp r;
    if (thttp_json(&r, "GET", "/api/v1/health", NULL, NULL) != 0)
        return -1;
    int st = (int)r.status;
    *reachable = cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "database"), "reachable"));
    thttp_free(&r);
    return st;
}

static void test_survives_mariadb_restart(void)
{
    int reach = 0;
    T_EQ_INT(health_status(&reach), 200);
    T_CHECK(reach);
    T_REQUIRE(tsh("\"$QUIRE_ROOT/scripts/stack.sh\" db-stop >/dev/null 2>&1") == 0);
    T_EQ_INT(health_status(&reach), 503);
    T_CHECK(!reach, "health must say the database is unreachable while it is down");
    T_REQUIRE(tsh("\"$QUIRE_ROOT/scripts/stack.sh\" db-start >/dev/null 2>&1") == 0);
    /* every thread of quire-api reconnects on its next request */
    int ok = 0;
    for (int i = 0; i < 40; i++) {
        if (health_status(&reach) == 200 && reach)
            ok++;
        else
            ok = 0;
        if (ok >= 20)
            break;
        usleep(50000);
    }
    T_CHECK(ok >= 20, "health must answer 200 steadily after the restart (%d)", ok);
}

static void test_sigterm_finishes_requests_in_flight(void)
{
    char *pids = tsh_out("cat \"$QUIRE_VAR/run/api.pid\"");
    int pid = pids ? atoi(pids) : 0;
    free(pids);
    T_REQUIRE(pid > 0);
    /* a request that takes 1.5 s is in flight when SIGTERM arrives */
    T_REQUIRE(tsh("curl -s -o \"$QUIRE_VAR/slow.out\" -w '%%{http_code}' \"$QUIRE_URL/api/v1/ping?sleep_ms=1500\" "
                  ">\"$QUIRE_VAR/slow.code\" &") == 0);
    usleep(400000);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    T_REQUIRE(kill(pid, SIGTERM) == 0);
    int gone = 0;
    for (int i = 0; i < 100 && !gone; i++) {
        usleep(50000);
        gone = kill(pid, 0) != 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    T_CHECK(gone, "quire-api still running 5 s after SIGTERM");
    t_note("quire-api exited %.2f s after SIGTERM", s);
    usleep(300000);
    char *code = tsh_out("cat \"$QUIRE_VAR/slow.code\"");
    T_CHECK(code && !strcmp(code, "200"), "the request in flight got %s", code ? code : "nothing");
    char *body = tsh_out("cat \"$QUIRE_VAR/slow.out\"");
    T_CHECK(body && strstr(body, "pong"));
    free(code);
    free(body);
    T_CHECK(tsh("test ! -e \"$QUIRE_VAR/run/api.sock\"") == 0, "socket left behind");
    T_REQUIRE(tsh("rm -f \"$QUIRE_VAR/run/api.pid\"; \"$QUIRE_ROOT/scripts/stack.sh\" api-start") == 0);
    int reach;
    T_EQ_INT(health_status(&reach), 200);
}

int main(void)
{
    T_RUN(test_health_reports_database);
    T_RUN(test_static_dashboard_served);
    T_RUN(test_unknown_and_wrong_method_are_json);
    T_RUN(test_migrations_apply_once);
    T_RUN(test_survives_mariadb_restart);
    T_RUN(test_sigterm_finishes_requests_in_flight);
    return t_done();
}
