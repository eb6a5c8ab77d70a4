/* main.c - quire-api: a multithreaded FastCGI server. FCGX_Init once, one
 * thread per request slot, each with its own MariaDB connection and arena.
 * SIGTERM/SIGINT: stop accepting, finish the requests in flight, exit 0. */
#include "api.h"
#include "util.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int listen_fd = -1;


static void handle(qreq *r)
{
    const char *rid = api_param(r, "REQUEST_ID");
    if (rid && strlen(rid) >= 16)
        snprintf(r->request_id, sizeof r->request_id, "%.16s", rid);
    else
        qrandom_hex(r->request_id, 8);
    qlog_set_context(r->request_id);
    r->method = api_param(r, "REQUEST_METHOD");
    const char *uri = api_param(r, "DOCUMENT_URI");
    if (!uri)
        uri = api_param(r, "SCRIPT_NAME");
    r->query = api_param(r, "QUERY_STRING");
    if (!r->query)
        r->query = "";
    if (!r->method || !uri) {
        api_reply_error(r, Q_ERR_INVALID, "incomplete FastCGI request");
        return;
    }
    r->path = uri;
    api_dispatch(r);
}

static void *serve(void *arg)
{
    (void)arg;
    FCGX_Request req;
    if (FCGX_InitRequest(&req, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
        return NULL;
    qarena *arena = qarena_new();
    qerrctx err = {0};
    qdb *db = qdb_open(&err);
    int64_t last_try = qmono_ms();
    if (!db)
        QLOG_W("no database connection yet: %s", err.msg);
    while (!api_stopping()) {
        if (FCGX_Accept_r(&req) < 0) {
            if (api_stopping())
                break;
            qsleep_ms(10);
            continue;
        }
        if (!db && qmono_ms() - last_try > 500) {
            qerr_clear(&err);
            db = qdb_open(&err);
            last_try = qmono_ms();
        }
        int64_t t0 = qmono_us();
        qreq r = {0};
        r.fcgi = &req;
        r.arena = arena;
        r.db = db;
        handle(&r);
        /* log and count before FCGX_Finish_r: method and path may point
         * into the request's params, which it frees */
        api_metrics_observe(&r, (double)(qmono_us() - t0) / 1e6);
        if (r.status >= 500)
            QLOG_W("%s %s %d %.1fms %s", r.method ? r.method : "-", r.path ? r.path : "-", r.status,
                   (qmono_us() - t0) / 1000.0, r.err.msg);
        else
            QLOG_D("%s %s %d %.1fms", r.method ? r.method : "-", r.path ? r.path : "-", r.status,
                   (qmono_us() - t0) / 1000.0);
        FCGX_Finish_r(&req);
        qlog_set_context(NULL);
        qarena_reset(arena);
    }
    FCGX_Free(&req, 0);
    qdb_close(db);
    qarena_free(arena);
    return NULL;
}

int main(int argc, char **argv)
{
    qlog_init("api");
    /* Large transient buffers (the 1 MiB windows uploads are hashed in,
     * request bodies) are mapped and go back to the kernel when freed.
     * glibc's sliding threshold would instead keep one of each size in the
     * arena of every request thread that ever used it: RSS that only grows. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    const qconfig *c = qconfig_get();
    const char *sock = argc > 1 ? argv[1] : c->api_socket;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    /* a shell starts background jobs with SIGINT ignored; sigwait needs it
     * delivered */
    signal(SIGINT, SIG_DFL);
    pthread_sigmask(SIG_BLOCK, &set, NULL);     /* inherited by every thread */
    signal(SIGPIPE, SIG_IGN);

    if (mysql_library_init(0, NULL, NULL) != 0 || FCGX_Init() != 0) {
        QLOG_E("library init failed");
        return 1;
    }
    unlink(sock);
    mode_t old = umask(0);
    listen_fd = FCGX_OpenSocket(sock, 1024);
    umask(old);
    if (listen_fd < 0) {
        QLOG_E("cannot listen on %s: %s", sock, strerror(errno));
        return 1;
    }
    chmod(sock, 0666);
    int n = c->api_threads;
    pthread_t *th = calloc((size_t)n, sizeof *th);
    if (!th)
        return 1;
    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, serve, NULL);
    api_notifier_start();       /* webhook deliveries, on a thread of their own */
    if (qconfig_int("QUIRE_UPLOAD_TAP", 1)) {
        char tapdir[4096], stage[4096];
        snprintf(tapdir, sizeof tapdir, "%s/tmp/upload", c->var_dir);
        snprintf(stage, sizeof stage, "%s/.tap", c->storage_dir);
        api_bodytap_start(tapdir, stage);
    }
    QLOG_I("quire-api %s listening on %s with %d threads", API_VERSION, sock, n);

    int sig = 0;
    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP)
            continue;
        break;
    }
    QLOG_I("signal %d: finishing requests in flight", sig);
    api_set_stopping();
    /* wakes every thread blocked in accept(); requests already accepted
     * are answered before their thread returns */
    shutdown(listen_fd, SHUT_RDWR);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    api_notifier_stop();
    api_bodytap_stop();
    close(listen_fd);
    unlink(sock);
    free(th);
    mysql_library_end();
    QLOG_I("quire-api stopped");
    return 0;
}
