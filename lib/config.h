/* config.h - quire's settings, read once from QUIRE_* environment variables
 * (every one is listed in docs/configuration.md). */
#ifndef QUIRE_CONFIG_H
#define QUIRE_CONFIG_H

#include <stdint.h>

typedef struct qconfig {
    const char *var_dir;        /* QUIRE_VAR: state root (default ./var)          */
    const char *storage_dir;    /* QUIRE_STORAGE: files (default $VAR/storage)    */
    const char *db_socket;      /* QUIRE_DB_SOCKET (default $VAR/run/mysqld.sock) */
    const char *db_host;        /* QUIRE_DB_HOST: TCP host, when no socket given  */
    int db_port;                /* QUIRE_DB_PORT (default 3306)                   */
    const char *db_user;        /* QUIRE_DB_USER (default quire)                  */
    const char *db_password;    /* QUIRE_DB_PASSWORD (default empty)              */
    const char *db_name;        /* QUIRE_DB_NAME (default quire)                  */
    const char *api_socket;     /* QUIRE_API_SOCKET (default $VAR/run/api.sock)   */
    int api_threads;            /* QUIRE_API_THREADS (default 8)                  */
    int log_level;              /* QUIRE_LOG_LEVEL: debug|info|warn|error         */
    int lease_seconds;          /* QUIRE_LEASE_SECONDS (default 30)               */
    int heartbeat_seconds;      /* QUIRE_HEARTBEAT_SECONDS (default 5)            */
    int retry_base_ms;          /* QUIRE_RETRY_BASE_MS (default 2000)             */
    int retry_cap_ms;           /* QUIRE_RETRY_CAP_MS (default 600000)            */
    int aging_seconds;          /* QUIRE_AGING_SECONDS: +1 priority per this wait */
    int shutdown_grace_seconds; /* QUIRE_SHUTDOWN_GRACE (default 30)              */
    int64_t max_upload_bytes;   /* QUIRE_MAX_UPLOAD_BYTES (default 4 GiB)         */
    int64_t max_json_bytes;     /* QUIRE_MAX_JSON_BYTES (default 1 MiB)           */
    int64_t max_tts_chars;      /* QUIRE_MAX_TTS_CHARS (default 2,000,000)        */
    int rate_limit_per_minute;  /* QUIRE_RATE_LIMIT (per token, default 6000)     */
} qconfig;

/* Reads the environment on first call; the result lives for the process. */
const qconfig *qconfig_get(void);

/* Helpers for programs with settings of their own. */
const char *qconfig_str(const char *name, const char *dflt);
int64_t qconfig_int(const char *name, int64_t dflt);

#endif
