/* job_noop.c - the noop job: sleeps, optionally fails, and can record its
 * accepted completions in noop_completions, so the queue can be tested and
 * measured on its own. Payload: {"sleep_ms": N, "fail_times": N,
 * "permanent": bool, "record": bool, "steps": N}. */
#include "worker.h"
#include "util.h"

qerr job_noop(qjobctx *c)
{
    int64_t sleep_ms = 0, fail_times = 0, steps = 1;
    int permanent = 0;
    qjson_int(c->payload, "sleep_ms", 0, 0, 3600000, &sleep_ms, &c->err);
    qjson_int(c->payload, "fail_times", 0, 0, 1000, &fail_times, &c->err);
    qjson_int(c->payload, "steps", 0, 1, 1000, &steps, &c->err);
    qjson_bool(c->payload, "permanent", 0, &permanent, &c->err);
    if (c->err.code)
        return c->err.code;
    for (int64_t i = 0; i < steps; i++) {
        if (sleep_ms)
            qsleep_ms(sleep_ms / steps);
        qerr e = qjob_checkpoint(c, 100.0 * (double)(i + 1) / (double)steps, "sleeping", (int)(i + 1), (int)steps);
        if (e)
            return e;
    }
    if (c->job->attempt <= fail_times) {
        c->permanent = permanent;
        return qerr_set(&c->err, Q_ERR_INTERNAL, "noop: failing on purpose (attempt %d of %lld planned failures)",
                        c->job->attempt, (long long)fail_times);
    }
    c->result = qarena_printf(c->arena, "{\"slept_ms\":%lld,\"attempt\":%d}", (long long)sleep_ms, c->job->attempt);
    return Q_OK;
}

void job_noop_after(qjobctx *c)
{
    int record = 0;
    qerrctx e = {0};
    qjson_bool(c->payload, "record", 0, &record, &e);
    if (record)
        qdb_exec(c->db, &e, "INSERT INTO noop_completions (job_id, worker_id) VALUES (?, ?)", "is", c->job->id,
                 c->worker_id);
}
