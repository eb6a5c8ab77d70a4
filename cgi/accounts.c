/* accounts.c - users and tokens over HTTP: GET /api/v1/me for anyone with a
 * token; GET/POST /api/v1/admin/users, GET/POST .../users/{id}/tokens and
 * DELETE /api/v1/admin/tokens/{id} for admins (the same operations as
 * `quirectl user` and `quirectl token`, through lib/accounts). A new token is
 * in the reply once and never again. */
#include "api.h"
#include "decode.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

qerr h_me(qreq *r)
{
    cJSON *o = api_obj(r);
    cJSON_AddNumberToObject(o, "id", (double)r->user.id);
    cJSON_AddStringToObject(o, "name", r->user.name);
    cJSON_AddStringToObject(o, "role", qrole_name(r->user.role));
    cJSON_AddStringToObject(o, "priority_class", r->user.premium ? "premium" : "standard");
    cJSON_AddNumberToObject(o, "token_id", (double)r->user.token_id);
    return api_reply_json(r, 200, o, NULL);
}

qerr h_admin_users(qreq *r)
{
    qrows *u;
    qerr e = qdb_query(r->db, r->arena, &u, &r->err,
                       "SELECT u.id, u.name, u.role, u.priority_class, u.created_at,"
                       " (SELECT COUNT(*) FROM api_tokens t WHERE t.user_id = u.id AND t.revoked_at IS NULL)"
                       " FROM users u ORDER BY u.id", "");
    if (e)
        return e;
    cJSON *o = api_obj(r);
    cJSON *arr = cJSON_AddArrayToObject(o, "users");
    for (int i = 0; i < u->nrows; i++) {
        cJSON *x = cJSON_CreateObject();
        qjson_add_int_text(x, "id", qrows_get(u, i, 0));
        cJSON_AddStringToObject(x, "name", qrows_get(u, i, 1));
        cJSON_AddStringToObject(x, "role", qrows_get(u, i, 2));
        cJSON_AddStringToObject(x, "priority_class", qrows_get(u, i, 3));
        qjson_add_int_text(x, "active_tokens", qrows_get(u, i, 5));
        qjson_add_time(x, "created_at", qrows_get(u, i, 4));
        cJSON_AddItemToArray(arr, x);
    }
    cJSON_AddNumberToObject(o, "total", u->nrows);
    return api_reply_json(r, 200, o, NULL);
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._@-", s[i]))
            return 0;
    return 1;
}

/* {"name", "role": "user"|"admin"|"worker", "priority": "standard"|"premium",
 * "label"} -> 201 with the user and its first token. */
qerr user_create_decode(qreq *r, const cJSON *in, user_create_in *out)
{
    qerr e;
    const char *name = NULL, *role = "user", *prio = "standard", *label = "api";
    if ((e = qjson_str(in, "name", 1, 64, &name, &r->err)) || (e = qjson_str(in, "role", 0, 16, &role, &r->err)) ||
        (e = qjson_str(in, "priority", 0, 16, &prio, &r->err)) ||
        (e = qjson_str(in, "priority_class", 0, 16, &prio, &r->err)) ||
        (e = qjson_str(in, "label", 0, 64, &label, &r->err)))
        return e;
    if (!name_ok(name))
        return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'name' must be 1 to 64 of letters, digits and . _ @ -");
    int rl = qrole_parse(role);
    if (rl < 0)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'role' must be user, admin or worker");
    if (strcmp(prio, "standard") && strcmp(prio, "premium"))
        return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'priority' must be standard or premium");
    *out = (user_create_in){name, prio, label, rl};
    return Q_OK;
}

qerr h_admin_user_create(qreq *r)
{
    cJSON *body;
    user_create_in in;
    qerr e = api_json_body(r, &body);
    if (e || (e = user_create_decode(r, body, &in)))
        return e;
    const char *name = in.name, *prio = in.prio, *label = in.label;
    int rl = in.role;
    int64_t uid, tid;
    char tok[QTOKEN_LEN + 1];
    if ((e = qdb_begin(r->db, &r->err)) ||
        (e = qaccounts_user_add(r->db, name, rl, !strcmp(prio, "premium"), &uid, &r->err)) ||
        (e = qaccounts_token_add(r->db, uid, label, tok, &tid, &r->err)) || (e = qdb_commit(r->db, &r->err))) {
        qdb_rollback(r->db);
        return e;
    }
    cJSON *o = api_obj(r);
    cJSON_AddNumberToObject(o, "id", (double)uid);
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "role", qrole_name(rl));
    cJSON_AddStringToObject(o, "priority_class", prio);
    cJSON_AddStringToObject(o, "token", tok);
    cJSON_AddNumberToObject(o, "token_id", (double)tid);
    cJSON_AddStringToObject(o, "message", "User created; the token is shown only once");
    return api_reply_json(r, 201, o, NULL);
}

static qerr user_exists(qreq *r, int64_t uid)
{
    qrows *u;
    qerr e = qdb_query(r->db, r->arena, &u, &r->err, "SELECT id FROM users WHERE id = ?", "i", uid);
    if (!e && u->nrows == 0)
        e = api_fail(r, Q_ERR_NOT_FOUND, "no user %lld", (long long)uid);
    return e;
}

qerr h_admin_user_tokens(qreq *r)
{
    int64_t uid;
    qrows *t;
    qerr e = api_param_id(r, 0, &uid);
    if (e || (e = user_exists(r, uid)) ||
        (e = qdb_query(r->db, r->arena, &t, &r->err,
                       "SELECT id, prefix, label, created_at, last_used_at, revoked_at FROM api_tokens"
                       " WHERE user_id = ? ORDER BY id", "i", uid)))
        return e;
    cJSON *o = api_obj(r);
    cJSON_AddNumberToObject(o, "user_id", (double)uid);
    cJSON *arr = cJSON_AddArrayToObject(o, "tokens");
    for (int i = 0; i < t->nrows; i++) {
        cJSON *x = cJSON_CreateObject();
        qjson_add_int_text(x, "id", qrows_get(t, i, 0));
        cJSON_AddStringToObject(x, "prefix", qrows_get(t, i, 1));
        cJSON_AddStringToObject(x, "label", qrows_get(t, i, 2));
        cJSON_AddBoolToObject(x, "revoked", qrows_get(t, i, 5) != NULL);
        qjson_add_time(x, "created_at", qrows_get(t, i, 3));
        qjson_add_time(x, "last_used_at", qrows_get(t, i, 4));
        qjson_add_time(x, "revoked_at", qrows_get(t, i, 5));
        cJSON_AddItemToArray(arr, x);
    }
    return api_reply_json(r, 200, o, NULL);
}

qerr token_create_decode(qreq *r, const cJSON *in, const char **label)
{
    return qjson_str(in, "label", 0, 64, label, &r->err);
}

/* {"label"} (optional body) -> 201 {"token", "token_id", "user_id"}. */
qerr h_admin_token_create(qreq *r)
{
    int64_t uid, tid;
    qerr e = api_param_id(r, 0, &uid);
    if (e || (e = user_exists(r, uid)))
        return e;
    const char *label = "api";
    const char *cl = api_param(r, "CONTENT_LENGTH");
    if (cl && *cl && strcmp(cl, "0")) {
        cJSON *in;
        if ((e = api_json_body(r, &in)) || (e = token_create_decode(r, in, &label)))
            return e;
    }
    char tok[QTOKEN_LEN + 1];
    if ((e = qaccounts_token_add(r->db, uid, label, tok, &tid, &r->err)))
        return e;
    cJSON *o = api_obj(r);
    cJSON_AddStringToObject(o, "token", tok);
    cJSON_AddNumberToObject(o, "token_id", (double)tid);
    cJSON_AddNumberToObject(o, "user_id", (double)uid);
    cJSON_AddStringToObject(o, "label", label);
    cJSON_AddStringToObject(o, "message", "Token created; it is shown only once");
    return api_reply_json(r, 201, o, NULL);
}

qerr h_admin_token_revoke(qreq *r)
{
    int64_t tid;
    qerr e = api_param_id(r, 0, &tid);
    if (e || (e = qaccounts_token_revoke(r->db, tid, 0, &r->err)))
        return e;
    api_auth_forget(tid);
    cJSON *o = api_obj(r);
    cJSON_AddNumberToObject(o, "token_id", (double)tid);
    cJSON_AddBoolToObject(o, "revoked", 1);
    return api_reply_json(r, 200, o, NULL);
}
