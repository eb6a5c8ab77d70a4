/* transport_db.c - the database transport (each call is the lib/queue.h or
 * lib/workers.h call of the same name on this transport's own connection;
 * files are read and written in the storage directory itself), plus the
 * choice between it and the HTTP transport. */
#include "transport.h"
#include "config.h"
#include "json.h"
#include "util.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static struct {
    char url[512];
    char token[160];
    atomic_int *stop;
    int http;
} cfg;

void qtransport_use_http(const char *url, const char *token, atomic_int *stop)
{
    snprintf(cfg.url, sizeof cfg.url, "%s", url);
    size_t n = strlen(cfg.url);
    while (n > 0 && cfg.url[n - 1] == '/')
        cfg.url[--n] = '\0';
    snprintf(cfg.token, sizeof cfg.token, "%s", token);
    cfg.stop = stop;
    cfg.http = 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);    /* once, before any thread */
}

int qtransport_is_http(void)
{
    return cfg.http;
}

qtransport *qtransport_open(qerrctx *err)
{
    return cfg.http ? qtransport_http_open(cfg.url, cfg.token, cfg.stop, err) : qtransport_db_open(err);
}

void qtransport_close(qtransport *t)
{
    if (t)
        t->ops->close(t);
}

/* ---- payload paths ---------------------------------------------------- */

int qtransport_rel_ok(const char *p)
{
    /* quire's storage path rule, and no hidden names (".part" files) */
    return qrel_path_ok(p) && p[0] != '.' && !strstr(p, "/.") && !strstr(p, "//") && p[strlen(p) - 1] != '/';
}

static qerr payload_path(const qjob *j, const char *name, int input, char *out, size_t outsz, qerrctx *err)
{
    if (!qtransport_rel_ok(name) || strchr(name, '/') || strlen(name) > 64)
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "file names are 1-64 characters of letters, digits and _ - .");
    cJSON *p = cJSON_Parse(j->payload ? j->payload : "{}");
    const cJSON *in = input ? cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p, "inputs"), name) : NULL;
    const cJSON *dir = cJSON_GetObjectItemCaseSensitive(p, "output_dir");
    qerr e = Q_OK;
    if (cJSON_IsString(in))
        snprintf(out, outsz, "%s", in->valuestring);
    else if (cJSON_IsString(dir))
        snprintf(out, outsz, "%s/%s", dir->valuestring, name);
    else
        snprintf(out, outsz, "jobs/%lld/%s", (long long)j->id, name);
    if (!qtransport_rel_ok(out))
        e = qerr_set(err, Q_ERR_UNPROCESSABLE, "job %lld: unsafe storage path for '%s'", (long long)j->id, name);
    cJSON_Delete(p);
    return e;
}

qerr qtransport_output_rel(const qjob *j, const char *name, char *out, size_t outsz, qerrctx *err)
{
    return payload_path(j, name, 0, out, outsz, err);
}

qerr qtransport_input_rel(const qjob *j, const char *name, char *out, size_t outsz, qerrctx *err)
{
    return payload_path(j, name, 1, out, outsz, err);
}

/* ---- the database transport ------------------------------------------- */

static int db_claim(qtransport *t, const char *wid, const char *const *types, int ntypes, int max, int lease, int wait,
                    qjob *out, qerrctx *err)
{
    (void)wait;
    return qqueue_claim(t->db, wid, types, ntypes, max, lease, out, err);
}

static qerr db_heartbeat(qtransport *t, const qjob *j, int lease, int *cancel, qerrctx *err)
{
    return qqueue_heartbeat(t->db, j, lease, cancel, err);
}

static qerr db_progress(qtransport *t, const qjob *j, double pct, const char *msg, int cur, int tot, int *cancel,
                        qerrctx *err)
{
    return qqueue_progress(t->db, j, pct, msg, cur, tot, cancel, err);
}

static qerr db_complete(qtransport *t, const qjob *j, const char *result, qerrctx *err)
{
    return qqueue_complete(t->db, j, result, err);
}

static qerr db_fail(qtransport *t, const qjob *j, const char *error, int retryable, qerrctx *err)
{
    return qqueue_fail(t->db, j, error, retryable, err);
}

static qerr db_ack_cancel(qtransport *t, const qjob *j, qerrctx *err)
{
    return qqueue_ack_cancel(t->db, j, err);
}

static qerr db_release(qtransport *t, const qjob *j, qerrctx *err)
{
    return qqueue_release(t->db, j, err);
}

static qerr db_register(qtransport *t, const qworker_info *w, qerrctx *err)
{
    qerr e = qworkers_register(t->db, w, err);
    return e ? e : qqueue_expire_worker(t->db, w->id, err);
}

static qerr db_worker_heartbeat(qtransport *t, const char *id, const char *status, int cur, long long done,
                                long long failed, const char *stats, qerrctx *err)
{
    return qworkers_heartbeat(t->db, id, status, cur, done, failed, stats, err);
}

static qerr db_offline(qtransport *t, const char *id, qerrctx *err)
{
    return qworkers_offline(t->db, id, err);
}

static int db_reap(qtransport *t, qerrctx *err)
{
    return qqueue_reap(t->db, err);
}

static qerr db_fetch(qtransport *t, const qjob *j, const char *rel, qerrctx *err)
{
    (void)t;
    char path[1024];
    if (!qtransport_rel_ok(rel))
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "job %lld: '%.200s' is not a storage path", (long long)j->id, rel);
    snprintf(path, sizeof path, "%s/%s", qconfig_get()->storage_dir, rel);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return qerr_set(err, Q_ERR_NOT_FOUND, "job %lld: input %s is missing", (long long)j->id, rel);
    return Q_OK;
}

static qerr db_store(qtransport *t, const qjob *j, const char *rel, qerrctx *err)
{
    (void)t, (void)j, (void)rel, (void)err;
    return Q_OK;           /* written in place */
}

static int db_ping(qtransport *t)
{
    return qdb_ping(t->db);
}

static void db_close(qtransport *t)
{
    qdb_close(t->db);
    free(t);
}

static const qtransport_ops db_ops = {
    .name = "db", .claim = db_claim, .heartbeat = db_heartbeat, .progress = db_progress, .complete = db_complete,
    .fail = db_fail, .ack_cancel = db_ack_cancel, .release = db_release, .worker_register = db_register,
    .worker_heartbeat = db_worker_heartbeat, .worker_offline = db_offline, .reap = db_reap, .fetch = db_fetch,
    .store = db_store, .ping = db_ping, .close = db_close,
};

qtransport *qtransport_db_open(qerrctx *err)
{
    qdb *db = qdb_open(err);
    if (!db)
        return NULL;
    qtransport *t = calloc(1, sizeof *t);
    if (!t) {
        qdb_close(db);
        qerr_set(err, Q_ERR_NOMEM, "out of memory");
        return NULL;
    }
    t->ops = &db_ops;
    t->db = db;
    return t;
}
