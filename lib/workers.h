/* workers.h - the workers table: registration, heartbeats with counters,
 * going offline. Rows are written by each worker about itself (directly or
 * through the API for remote workers). */
#ifndef QUIRE_WORKERS_H
#define QUIRE_WORKERS_H

#include "db.h"

typedef struct qworker_info {
    const char *id;
    const char *hostname;
    const char *types;          /* comma separated                   */
    const char *gpu;            /* "none" or the device name         */
    const char *capabilities;   /* JSON text or NULL                 */
    int concurrency;
} qworker_info;

qerr qworkers_register(qdb *db, const qworker_info *w, qerrctx *err);
/* status: "online" | "draining"; stats: JSON text (average seconds per type) */
qerr qworkers_heartbeat(qdb *db, const char *id, const char *status, int current_jobs, long long completed,
                        long long failed, const char *stats, qerrctx *err);
qerr qworkers_offline(qdb *db, const char *id, qerrctx *err);

#endif
