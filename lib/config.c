/* config.c - reads QUIRE_* variables once into a process-wide qconfig. */
#include "config.h"
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static qconfig cfg;
static pthread_once_t cfg_once = PTHREAD_ONCE_INIT;

const char *qconfig_str(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return (v && *v) ? v : dflt;
}

int64_t qconfig_int(const char *name, int64_t dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end != '\0') {
        fprintf(stderr, "quire: %s=%s is not a number, using %lld\n", name, v, (long long)dflt);
        return dflt;
    }
    return n;
}

/* Joins a and b into one of a few static buffers (so the paths live as long
 * as the process without an allocation). */
static const char *path_join(const char *a, const char *b)
{
    static char bufs[4][4096];
    static int used;
    if (used == 4)
        abort();
    char *p = bufs[used++];
    snprintf(p, sizeof bufs[0], "%s/%s", a, b);
    return p;
}

static void cfg_load(void)
{
    cfg.var_dir = qconfig_str("QUIRE_VAR", "var");
    cfg.storage_dir = qconfig_str("QUIRE_STORAGE", path_join(cfg.var_dir, "storage"));
    cfg.db_host = qconfig_str("QUIRE_DB_HOST", NULL);
    cfg.db_socket = qconfig_str("QUIRE_DB_SOCKET", cfg.db_host ? NULL : path_join(cfg.var_dir, "run/mysqld.sock"));
    cfg.db_port = (int)qconfig_int("QUIRE_DB_PORT", 3306);
    cfg.db_user = qconfig_str("QUIRE_DB_USER", "quire");
    cfg.db_password = qconfig_str("QUIRE_DB_PASSWORD", "");
    cfg.db_name = qconfig_str("QUIRE_DB_NAME", "quire");
    cfg.api_socket = qconfig_str("QUIRE_API_SOCKET", path_join(cfg.var_dir, "run/api.sock"));
    cfg.api_threads = (int)qconfig_int("QUIRE_API_THREADS", 16);
    if (cfg.api_threads < 1 || cfg.api_threads > 256)
        cfg.api_threads = 16;
    const char *lvl = qconfig_str("QUIRE_LOG_LEVEL", "info");
    cfg.log_level = !strcasecmp(lvl, "debug") ? QLOG_DEBUG : !strcasecmp(lvl, "warn") ? QLOG_WARN
                  : !strcasecmp(lvl, "error") ? QLOG_ERROR : QLOG_INFO;
    cfg.lease_seconds = (int)qconfig_int("QUIRE_LEASE_SECONDS", 30);
    cfg.heartbeat_seconds = (int)qconfig_int("QUIRE_HEARTBEAT_SECONDS", 5);
    cfg.retry_base_ms = (int)qconfig_int("QUIRE_RETRY_BASE_MS", 2000);
    cfg.retry_cap_ms = (int)qconfig_int("QUIRE_RETRY_CAP_MS", 600000);
    cfg.aging_seconds = (int)qconfig_int("QUIRE_AGING_SECONDS", 10);
    cfg.shutdown_grace_seconds = (int)qconfig_int("QUIRE_SHUTDOWN_GRACE", 30);
    cfg.max_upload_bytes = qconfig_int("QUIRE_MAX_UPLOAD_BYTES", 4LL << 30);
    cfg.max_json_bytes = qconfig_int("QUIRE_MAX_JSON_BYTES", 1 << 20);
    cfg.max_tts_chars = qconfig_int("QUIRE_MAX_TTS_CHARS", 2000000);
    cfg.rate_limit_per_minute = (int)qconfig_int("QUIRE_RATE_LIMIT", 6000);
}

const qconfig *qconfig_get(void)
{
    pthread_once(&cfg_once, cfg_load);
    return &cfg;
}
