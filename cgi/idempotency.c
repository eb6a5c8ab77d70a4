/* idempotency.c - Idempotency-Key on POSTs: the first response (status,
 * extra headers, body) to a key is stored per user, and a repeat of the key
 * gets that response again, marked "Idempotent-Replayed: true", without the
 * handler running. A key still in progress answers 409; a key reused for
 * another path answers 422. 5xx responses are not kept, so a retry after a
 * server error runs again. Keys are kept for 24 hours. */
#include "api.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

#define IDEM_KEY_MAX 128

static const char *idem_key(qreq *r)
{
    if (!r->method || strcmp(r->method, "POST") != 0 || !r->authed)
        return NULL;
    const char *k = api_header(r, "Idempotency-Key");
    return k && *k ? k : NULL;
}

qerr api_idem_begin(qreq *r, int *replayed)
{
    *replayed = 0;
    const char *key = idem_key(r);
    if (!key)
        return Q_OK;
    size_t n = strlen(key);
    if (n > IDEM_KEY_MAX)
        return api_fail(r, Q_ERR_INVALID, "Idempotency-Key is longer than %d characters", IDEM_KEY_MAX);
    for (size_t i = 0; i < n; i++)
        if (key[i] < 0x21 || key[i] > 0x7E)
            return api_fail(r, Q_ERR_INVALID, "Idempotency-Key must be printable ASCII without spaces");
    qerr e = api_need_db(r);
    if (e)
        return e;
    if ((qrandom_u64() & 255) == 0) {       /* now and then, forget old keys */
        qerrctx ig = {0};
        qdb_exec(r->db, &ig, "DELETE FROM idempotency_keys WHERE created_at < NOW(3) - INTERVAL 24 HOUR LIMIT 1000", "");
    }
    if ((e = qdb_exec(r->db, &r->err,
                      "INSERT IGNORE INTO idempotency_keys (user_id, idem_key, method, path) VALUES (?, ?, ?, ?)",
                      "isss", r->user.id, key, r->method, r->path)))
        return e;
    if (qdb_affected(r->db) == 1) {
        r->capture = 1;
        return Q_OK;
    }
    qrows *row;
    if ((e = qdb_query(r->db, r->arena, &row, &r->err,
                       "SELECT status, headers, body, path FROM idempotency_keys WHERE user_id = ? AND idem_key = ?",
                       "is", r->user.id, key)))
        return e;
    if (row->nrows == 0)
        return api_fail(r, Q_ERR_CONFLICT, "a request with this Idempotency-Key just failed; retry");
    if (strcmp(qrows_get(row, 0, 3), r->path) != 0)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "this Idempotency-Key was used for POST %s", qrows_get(row, 0, 3));
    int status = (int)qrows_i64(row, 0, 0, 0);
    if (status == 0)
        return api_fail(r, Q_ERR_CONFLICT, "a request with this Idempotency-Key is still in progress");
    const char *body = qrows_get(row, 0, 2);
    const char *hdr = qarena_printf(r->arena, "%sIdempotent-Replayed: true\r\n", qrows_get(row, 0, 1) ? qrows_get(row, 0, 1) : "");
    *replayed = 1;
    return api_reply_raw(r, status, "application/json", body ? body : "", body ? row->lens[2] : 0, hdr);
}

void api_idem_finish(qreq *r)
{
    if (!r->capture)
        return;
    r->capture = 0;
    const char *key = idem_key(r);
    if (!key || !r->db)
        return;
    qerrctx e = {0};
    if (qdb_in_txn(r->db))
        qdb_rollback(r->db);
    if (r->status >= 500 || r->status == 0 || !r->cap_body)
        qdb_exec(r->db, &e, "DELETE FROM idempotency_keys WHERE user_id = ? AND idem_key = ?", "is", r->user.id, key);
    else
        qdb_exec(r->db, &e, "UPDATE idempotency_keys SET status = ?, headers = ?, body = ? WHERE user_id = ?"
                 " AND idem_key = ?", "issis", (int64_t)r->status, r->cap_headers, r->cap_body, r->user.id, key);
    if (e.code)
        QLOG_W("idempotency record for key %.64s: %s", key, e.msg);
}
