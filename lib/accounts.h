/* accounts.h - users and API tokens, shared by quire-api (auth, admin
 * endpoints) and quirectl. Tokens are shown once; only their SHA-256 is kept. */
#ifndef QUIRE_ACCOUNTS_H
#define QUIRE_ACCOUNTS_H

#include <stdint.h>

#include "db.h"

enum { QROLE_USER = 0, QROLE_ADMIN = 1, QROLE_WORKER = 2 };

typedef struct quser {
    int64_t id;
    char name[65];
    int role;
    int premium;            /* priority class premium */
    int64_t token_id;
} quser;

/* A token is "qr_" + 64 hex characters (32 random bytes). */
#define QTOKEN_LEN 67
#define QTOKEN_MAX 128      /* longer presented tokens are refused unread */

const char *qrole_name(int role);
int qrole_parse(const char *s);          /* -1 when unknown */

/* Creates a user; *id gets the new id. Q_ERR_CONFLICT when the name exists. */
qerr qaccounts_user_add(qdb *db, const char *name, int role, int premium, int64_t *id, qerrctx *err);
/* Creates a token for user_id into out[QTOKEN_LEN + 1]; *token_id its id. */
qerr qaccounts_token_add(qdb *db, int64_t user_id, const char *label, char out[QTOKEN_LEN + 1],
                         int64_t *token_id, qerrctx *err);
/* Stores a token given by the operator (QUIRE_ADMIN_TOKEN) for user_id. */
qerr qaccounts_token_import(qdb *db, int64_t user_id, const char *token, const char *label, qerrctx *err);
/* Revokes by token id (user_id > 0 restricts to that user's tokens);
 * Q_ERR_NOT_FOUND when nothing was revoked. */
qerr qaccounts_token_revoke(qdb *db, int64_t token_id, int64_t user_id, qerrctx *err);
/* Looks a presented token up. Q_ERR_UNAUTHORIZED when unknown or revoked. */
qerr qaccounts_authenticate(qdb *db, const char *token, quser *out, qerrctx *err);
/* The user's webhook secret (hex) into out[65]. */
qerr qaccounts_webhook_secret(qdb *db, int64_t user_id, char out[65], qerrctx *err);

#endif
