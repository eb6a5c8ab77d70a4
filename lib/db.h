/* db.h - the MariaDB layer: one connection per thread, every statement
 * prepared (and cached per connection), reconnect and re-prepare when the
 * server went away. Connector/C's auto-reconnect is never used: a silent
 * reconnect inside a transaction would lose the transaction's locks. */
#ifndef QUIRE_DB_H
#define QUIRE_DB_H

#include <stdint.h>
#include <mysql.h>

#include "arena.h"
#include "err.h"

typedef struct qdb qdb;

/* Connects with the settings of qconfig (socket or host:port). Returns NULL
 * with err set when the server cannot be reached. The connection runs in
 * READ COMMITTED, UTC, utf8mb4. The caller owns it: qdb_close. */
qdb *qdb_open(qerrctx *err);
/* Same, to another database name (tests, quirectl create). NULL name: none. */
qdb *qdb_open_db(const char *dbname, qerrctx *err);
void qdb_close(qdb *db);                  /* accepts NULL */
MYSQL *qdb_mysql(qdb *db);                /* for raw use by tools and benches */
/* Pings; reconnects when the server went away. 0 when usable. */
int qdb_ping(qdb *db);

/* Parameters are described by `types`, one letter each, followed by the
 * values in the variadic list:
 *   'i' int64_t     'I' int64_t id, 0 binds SQL NULL     'd' double      's' const char * (NULL binds SQL NULL)
 *   'b' const void *, size_t (a blob)   'n' SQL NULL (no argument)
 * Outside a transaction a statement whose connection was lost is retried
 * once after a reconnect; inside one, Q_ERR_DB_GONE is returned and the
 * caller retries the whole transaction. */
qerr qdb_exec(qdb *db, qerrctx *err, const char *sql, const char *types, ...);
uint64_t qdb_affected(const qdb *db);    /* rows matched by the last exec */
uint64_t qdb_insert_id(const qdb *db);
unsigned qdb_errno(const qdb *db);       /* server error of the last failure */

/* A result set, every value as text (NULL for SQL NULL) with its length
 * (blobs are raw bytes). Allocated on the arena given to qdb_query. */
typedef struct qrows {
    int nrows, ncols;
    const char **names;
    char **vals;            /* nrows * ncols, row-major */
    unsigned long *lens;
} qrows;

qerr qdb_query(qdb *db, qarena *a, qrows **out, qerrctx *err, const char *sql, const char *types, ...);

static inline const char *qrows_get(const qrows *r, int row, int col)
{
    return (row < r->nrows && col < r->ncols) ? r->vals[row * r->ncols + col] : NULL;
}
int64_t qrows_i64(const qrows *r, int row, int col, int64_t dflt);
double qrows_double(const qrows *r, int row, int col, double dflt);
int qrows_col(const qrows *r, const char *name);     /* -1 when absent */

qerr qdb_begin(qdb *db, qerrctx *err);
qerr qdb_commit(qdb *db, qerrctx *err);
void qdb_rollback(qdb *db);               /* never fails the caller */
int qdb_in_txn(const qdb *db);

/* Non-prepared text SQL with no values in it: migrations and DDL only. */
qerr qdb_exec_text(qdb *db, qerrctx *err, const char *sql);

#endif
