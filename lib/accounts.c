/* accounts.c - user and token rows; token hashing. */
#include "accounts.h"
#include "util.h"

#include <mysqld_error.h>
#include <stdio.h>
#include <string.h>

const char *qrole_name(int role)
{
    return role == QROLE_ADMIN ? "admin" : role == QROLE_WORKER ? "worker" : "user";
}

int qrole_parse(const char *s)
{
    if (!s)
        return -1;
    if (!strcmp(s, "admin"))
        return QROLE_ADMIN;
    if (!strcmp(s, "user"))
        return QROLE_USER;
    if (!strcmp(s, "worker"))
        return QROLE_WORKER;
    return -1;
}

qerr qaccounts_user_add(qdb *db, const char *name, int role, int premium, int64_t *id, qerrctx *err)
{
    char secret[65];
    if (qrandom_hex(secret, 32) != 0)
        return qerr_set(err, Q_ERR_INTERNAL, "no randomness");
    qerrctx e = {0};
    qerr r = qdb_exec(db, &e, "INSERT INTO users (name, role, priority_class, webhook_secret) VALUES (?, ?, ?, ?)",
                      "ssss", name, qrole_name(role), premium ? "premium" : "standard", secret);
    if (r) {
        if (qdb_errno(db) == ER_DUP_ENTRY)
            return qerr_set(err, Q_ERR_CONFLICT, "a user named '%s' exists", name);
        return qerr_set(err, r, "%s", e.msg);
    }
    *id = (int64_t)qdb_insert_id(db);
    return Q_OK;
}

static qerr token_store(qdb *db, int64_t user_id, const char *token, const char *label, int64_t *token_id,
                        qerrctx *err)
{
    char hash[65], prefix[9];
    qsha256_hex(token, strlen(token), hash);
    snprintf(prefix, sizeof prefix, "%.8s", token);
    qerr r = qdb_exec(db, err, "INSERT INTO api_tokens (user_id, token_hash, prefix, label) VALUES (?, ?, ?, ?)",
                      "isss", user_id, hash, prefix, label ? label : "");
    if (r)
        return r;
    if (token_id)
        *token_id = (int64_t)qdb_insert_id(db);
    return Q_OK;
}

qerr qaccounts_token_add(qdb *db, int64_t user_id, const char *label, char out[QTOKEN_LEN + 1],
                         int64_t *token_id, qerrctx *err)
{
    memcpy(out, "qr_", 3);
    if (qrandom_hex(out + 3, 32) != 0)
        return qerr_set(err, Q_ERR_INTERNAL, "no randomness");
    return token_store(db, user_id, out, label, token_id, err);
}

qerr qaccounts_token_import(qdb *db, int64_t user_id, const char *token, const char *label, qerrctx *err)
{
    size_t n = strlen(token);
    if (n < 16 || n > QTOKEN_MAX)
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "a token must be 16 to %d characters", QTOKEN_MAX);
    return token_store(db, user_id, token, label, NULL, err);
}

qerr qaccounts_token_revoke(qdb *db, int64_t token_id, int64_t user_id, qerrctx *err)
{
    qerr r = user_id > 0
        ? qdb_exec(db, err, "UPDATE api_tokens SET revoked_at = NOW(3) WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
                   "ii", token_id, user_id)
        : qdb_exec(db, err, "UPDATE api_tokens SET revoked_at = NOW(3) WHERE id = ? AND revoked_at IS NULL", "i", token_id);
    if (r)
        return r;
    if (qdb_affected(db) == 0)
        return qerr_set(err, Q_ERR_NOT_FOUND, "no active token %lld", (long long)token_id);
    return Q_OK;
}

qerr qaccounts_authenticate(qdb *db, const char *token, quser *out, qerrctx *err)
{
    size_t n = strlen(token);
    if (n == 0 || n > QTOKEN_MAX)
        return qerr_set(err, Q_ERR_UNAUTHORIZED, "invalid API token");
    char hash[65];
    qsha256_hex(token, n, hash);
    qarena *a = qarena_new();
    if (!a)
        return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    qrows *r = NULL;
    qerr e = qdb_query(db, a, &r, err,
                       "SELECT u.id, u.name, u.role, u.priority_class, t.id FROM api_tokens t"
                       " JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.revoked_at IS NULL",
                       "s", hash);
    if (!e && r->nrows == 0)
        e = qerr_set(err, Q_ERR_UNAUTHORIZED, "invalid or revoked API token");
    if (!e) {
        out->id = qrows_i64(r, 0, 0, 0);
        snprintf(out->name, sizeof out->name, "%s", qrows_get(r, 0, 1));
        out->role = qrole_parse(qrows_get(r, 0, 2));
        out->premium = !strcmp(qrows_get(r, 0, 3), "premium");
        out->token_id = qrows_i64(r, 0, 4, 0);
    }
    qarena_free(a);
    return e;
}

qerr qaccounts_webhook_secret(qdb *db, int64_t user_id, char out[65], qerrctx *err)
{
    qarena *a = qarena_new();
    if (!a)
        return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    qrows *r = NULL;
    qerr e = qdb_query(db, a, &r, err, "SELECT webhook_secret FROM users WHERE id = ?", "i", user_id);
    if (!e && r->nrows == 0)
        e = qerr_set(err, Q_ERR_NOT_FOUND, "no user %lld", (long long)user_id);
    if (!e)
        snprintf(out, 65, "%s", qrows_get(r, 0, 0));
    qarena_free(a);
    return e;
}
