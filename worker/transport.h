/* transport.h - how quire-worker reaches the queue: straight to MariaDB
 * through lib/queue.h and lib/workers.h (transport_db.c), or over HTTP to
 * quire-api's remote worker API (transport_http.c) for hosts that cannot
 * reach the database. The daemon (main.c) and the runner (runner.c) call
 * only this interface, so the job code and the dispatch are the same in
 * both deployments.
 *
 * An instance holds one connection and belongs to one thread at a time:
 * the dispatcher, every slot and the heartbeat thread each open their own.
 * Calls return what the lib/queue.h calls they stand for return; over HTTP
 * a refused attempt token is Q_ERR_LEASE_LOST as well, and network errors
 * are retried with backoff inside the call before Q_ERR_UNAVAILABLE. */
#ifndef QUIRE_TRANSPORT_H
#define QUIRE_TRANSPORT_H

#include <stdatomic.h>
#include <stddef.h>

#include "err.h"
#include "queue.h"
#include "workers.h"

typedef struct qtransport qtransport;

typedef struct qtransport_ops {
    const char *name;                                   /* "db" or "http" */
    /* Claims up to max jobs of the types; wait_s > 0 lets the call wait
     * that long for one (long poll; the database transport ignores it, the
     * daemon parks on its wake-up connection instead). Returns the number
     * claimed or -1 with err set. */
    int (*claim)(qtransport *t, const char *worker_id, const char *const *types, int ntypes, int max, int lease_s,
                 int wait_s, qjob *out, qerrctx *err);
    qerr (*heartbeat)(qtransport *t, const qjob *j, int lease_s, int *cancel, qerrctx *err);
    qerr (*progress)(qtransport *t, const qjob *j, double percent, const char *message, int current, int total,
                     int *cancel, qerrctx *err);
    qerr (*complete)(qtransport *t, const qjob *j, const char *result, qerrctx *err);
    qerr (*fail)(qtransport *t, const qjob *j, const char *error, int retryable, qerrctx *err);
    qerr (*ack_cancel)(qtransport *t, const qjob *j, qerrctx *err);
    qerr (*release)(qtransport *t, const qjob *j, qerrctx *err);
    /* Registers the worker and expires leases a previous run under the
     * same id still holds. */
    qerr (*worker_register)(qtransport *t, const qworker_info *w, qerrctx *err);
    qerr (*worker_heartbeat)(qtransport *t, const char *id, const char *status, int current_jobs, long long completed,
                             long long failed, const char *stats, qerrctx *err);
    qerr (*worker_offline)(qtransport *t, const char *id, qerrctx *err);
    /* Runs the lease reaper; over HTTP quire-api reaps (returns 0). */
    int (*reap)(qtransport *t, qerrctx *err);
    /* Files, by storage-relative path; the local file is always
     * QUIRE_STORAGE/rel. fetch makes the job's input (or earlier output)
     * rel present there: the database transport finds it in place, the
     * HTTP one downloads it (range-resumed after a broken transfer) into
     * the worker's scratch storage. store publishes the local file rel as
     * an output: in place already for the database transport, uploaded
     * with its SHA-256 over HTTP (it appears whole or not at all). */
    qerr (*fetch)(qtransport *t, const qjob *j, const char *rel, qerrctx *err);
    qerr (*store)(qtransport *t, const qjob *j, const char *rel, qerrctx *err);
    int (*ping)(qtransport *t);                         /* 0 when usable */
    void (*close)(qtransport *t);
} qtransport_ops;

struct qtransport {
    const qtransport_ops *ops;
    qdb *db;            /* the connection of the database transport, else NULL */
};

/* From now on qtransport_open opens HTTP transports to url (quire-api's
 * base URL, e.g. http://host:8080) with the worker token. stop: when it
 * becomes non-zero, a long-poll claim under way returns at once. */
void qtransport_use_http(const char *url, const char *token, atomic_int *stop);
/* Non-zero when qtransport_use_http was called. */
int qtransport_is_http(void);
/* A new transport of the configured kind; NULL with err when the database
 * cannot be reached (HTTP transports connect lazily). qtransport_close
 * accepts NULL. */
qtransport *qtransport_open(qerrctx *err);
void qtransport_close(qtransport *t);

/* The implementations. */
qtransport *qtransport_db_open(qerrctx *err);
qtransport *qtransport_http_open(const char *url, const char *token, atomic_int *stop, qerrctx *err);

/* Shared by both: a job's payload field "inputs"[name] or, for outputs,
 * "output_dir" (default "jobs/{id}") + "/" + name, as a storage-relative
 * path into out; Q_ERR_UNPROCESSABLE when unsafe. qtransport_rel_ok: is
 * p a storage-relative path that cannot leave the storage root? */
int qtransport_rel_ok(const char *p);
qerr qtransport_output_rel(const qjob *j, const char *name, char *out, size_t outsz, qerrctx *err);
qerr qtransport_input_rel(const qjob *j, const char *name, char *out, size_t outsz, qerrctx *err);

#endif
