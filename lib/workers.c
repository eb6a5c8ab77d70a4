/* workers.c - rows of the workers table. */
#include "workers.h"

qerr qworkers_register(qdb *db, const qworker_info *w, qerrctx *err)
{
    return qdb_exec(db, err,
                    "INSERT INTO workers (id, hostname, types, gpu, capabilities, status, concurrency, current_jobs,"
                    " last_heartbeat, started_at) VALUES (?, ?, ?, ?, ?, 'online', ?, 0, NOW(3), NOW(3))"
                    " ON DUPLICATE KEY UPDATE hostname = VALUES(hostname), types = VALUES(types), gpu = VALUES(gpu),"
                    " capabilities = VALUES(capabilities), status = 'online', concurrency = VALUES(concurrency),"
                    " current_jobs = 0, last_heartbeat = NOW(3), started_at = NOW(3)",
                    "sssssi", w->id, w->hostname, w->types, w->gpu ? w->gpu : "none", w->capabilities,
                    (int64_t)w->concurrency);
}

qerr qworkers_heartbeat(qdb *db, const char *id, const char *status, int current_jobs, long long completed,
                        long long failed, const char *stats, qerrctx *err)
{
    return qdb_exec(db, err,
                    "UPDATE workers SET last_heartbeat = NOW(3), status = ?, current_jobs = ?, jobs_completed = ?,"
                    " jobs_failed = ?, stats = ? WHERE id = ?",
                    "siiiss", status, (int64_t)current_jobs, (int64_t)completed, (int64_t)failed, stats, id);
}

qerr qworkers_offline(qdb *db, const char *id, qerrctx *err)
{
    return qdb_exec(db, err, "UPDATE workers SET status = 'offline', current_jobs = 0, last_heartbeat = NOW(3)"
                    " WHERE id = ?", "s", id);
}
