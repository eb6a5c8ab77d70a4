/* db.c - MariaDB Connector/C behind prepared statements with a per-connection
 * cache. A qdb belongs to one thread; nothing in it is shared. */
#include "db.h"
#include "config.h"
#include "log.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DB_MAX_PARAMS 48
#define DB_CACHE 96

struct stmt_slot {
    const char *key;        /* the caller's pointer, for the fast lookup     */
    char *sql;              /* our own copy: a caller's string may not live  */
    MYSQL_STMT *stmt;
};

struct qdb {
    MYSQL *my;
    char *dbname;
    int in_txn;
    unsigned last_errno;
    uint64_t affected, insert_id;
    int nstmt;
    struct stmt_slot cache[DB_CACHE];
};

static int gone_error(unsigned e)
{
    return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == CR_CONNECTION_ERROR ||
           e == CR_CONN_HOST_ERROR || e == ER_CONNECTION_KILLED || e == CR_SERVER_LOST_EXTENDED ||
           e == ER_SERVER_SHUTDOWN || e == CR_COMMANDS_OUT_OF_SYNC || e == 1927 /* killed */ ||
           e == ER_UNKNOWN_STMT_HANDLER || e == 4031 /* disconnected for inactivity */;
}

static void cache_clear(qdb *db)
{
    for (int i = 0; i < db->nstmt; i++) {
        mysql_stmt_close(db->cache[i].stmt);
        free(db->cache[i].sql);
    }
    db->nstmt = 0;
}

static int db_connect(qdb *db, qerrctx *err)
{
    const qconfig *c = qconfig_get();
    MYSQL *my = mysql_init(NULL);
    if (!my) {
        qerr_set(err, Q_ERR_NOMEM, "mysql_init failed");
        return -1;
    }
    unsigned timeout = 3;
    mysql_options(my, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(my, MYSQL_INIT_COMMAND, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
    mysql_options(my, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
    if (!mysql_real_connect(my, c->db_socket ? NULL : c->db_host, c->db_user, c->db_password,
                            db->dbname, (unsigned)c->db_port, c->db_socket, CLIENT_FOUND_ROWS)) {
        qerr_set(err, Q_ERR_DB_GONE, "cannot connect to the database: %s", mysql_error(my));
        db->last_errno = mysql_errno(my);
        mysql_close(my);
        return -1;
    }
    db->my = my;
    db->in_txn = 0;
    return 0;
}

static int db_reconnect(qdb *db)
{
    qerrctx e = {0};
    cache_clear(db);
    if (db->my)
        mysql_close(db->my);
    db->my = NULL;
    if (db_connect(db, &e) != 0) {
        QLOG_W("database reconnect failed: %s", e.msg);
        return -1;
    }
    QLOG_I("database reconnected");
    return 0;
}

qdb *qdb_open_db(const char *dbname, qerrctx *err)
{
    qdb *db = calloc(1, sizeof *db);
    if (!db) {
        qerr_set(err, Q_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (dbname && !(db->dbname = strdup(dbname))) {
        free(db);
        qerr_set(err, Q_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (db_connect(db, err) != 0) {
        free(db->dbname);
        free(db);
        return NULL;
    }
    return db;
}

qdb *qdb_open(qerrctx *err)
{
    return qdb_open_db(qconfig_get()->db_name, err);
}

void qdb_close(qdb *db)
{
    if (!db)
        return;
    cache_clear(db);
    if (db->my)
        mysql_close(db->my);
    free(db->dbname);
    free(db);
}

MYSQL *qdb_mysql(qdb *db) { return db->my; }
uint64_t qdb_affected(const qdb *db) { return db->affected; }
uint64_t qdb_insert_id(const qdb *db) { return db->insert_id; }
unsigned qdb_errno(const qdb *db) { return db->last_errno; }
int qdb_in_txn(const qdb *db) { return db->in_txn; }

int qdb_ping(qdb *db)
{
    if (db->my && mysql_ping(db->my) == 0)
        return 0;
    if (db->in_txn)
        return -1;
    return db_reconnect(db);
}

/* The cached statement for sql, prepared on first use. */
static MYSQL_STMT *stmt_get(qdb *db, const char *sql, unsigned *errnum, const char **errmsg)
{
    /* the pointer is only a hint (a string built per request may reuse an
     * address): the text decides */
    for (int i = 0; i < db->nstmt; i++)
        if (db->cache[i].key == sql && strcmp(db->cache[i].sql, sql) == 0)
            return db->cache[i].stmt;
    for (int i = 0; i < db->nstmt; i++)
        if (strcmp(db->cache[i].sql, sql) == 0) {
            db->cache[i].key = sql;
            return db->cache[i].stmt;
        }
    if (!db->my) {
        *errnum = CR_SERVER_GONE_ERROR;
        *errmsg = "not connected";
        return NULL;
    }
    MYSQL_STMT *st = mysql_stmt_init(db->my);
    if (!st) {
        *errnum = mysql_errno(db->my);
        *errmsg = mysql_error(db->my);
        return NULL;
    }
    if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
        static _Thread_local char msg[512];
        *errnum = mysql_stmt_errno(st);
        snprintf(msg, sizeof msg, "%s", mysql_stmt_error(st));
        *errmsg = msg;
        mysql_stmt_close(st);
        return NULL;
    }
    char *copy = strdup(sql);
    if (!copy) {
        mysql_stmt_close(st);
        *errnum = CR_OUT_OF_MEMORY;
        *errmsg = "out of memory";
        return NULL;
    }
    if (db->nstmt == DB_CACHE) {        /* full: drop the oldest */
        mysql_stmt_close(db->cache[0].stmt);
        free(db->cache[0].sql);
        memmove(db->cache, db->cache + 1, sizeof db->cache[0] * (DB_CACHE - 1));
        db->nstmt--;
    }
    db->cache[db->nstmt].key = sql;
    db->cache[db->nstmt].sql = copy;
    db->cache[db->nstmt].stmt = st;
    db->nstmt++;
    return st;
}

struct params {
    int n;
    MYSQL_BIND bind[DB_MAX_PARAMS];
    long long ints[DB_MAX_PARAMS];
    double dbls[DB_MAX_PARAMS];
    unsigned long lens[DB_MAX_PARAMS];
    my_bool nulls[DB_MAX_PARAMS];
};

static int params_build(struct params *p, const char *types, va_list ap)
{
    memset(p, 0, sizeof *p);
    for (const char *t = types ? types : ""; *t; t++) {
        if (p->n == DB_MAX_PARAMS)
            return -1;
        MYSQL_BIND *b = &p->bind[p->n];
        int i = p->n++;
        switch (*t) {
        case 'i':
            p->ints[i] = va_arg(ap, int64_t);
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = &p->ints[i];
            break;
        case 'I':       /* an id where 0 means none: SQL NULL */
            p->ints[i] = va_arg(ap, int64_t);
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = &p->ints[i];
            if (p->ints[i] == 0) {
                p->nulls[i] = 1;
                b->is_null = &p->nulls[i];
            }
            break;
        case 'd':
            p->dbls[i] = va_arg(ap, double);
            b->buffer_type = MYSQL_TYPE_DOUBLE;
            b->buffer = &p->dbls[i];
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            b->buffer_type = MYSQL_TYPE_STRING;
            if (!s) {
                p->nulls[i] = 1;
                b->is_null = &p->nulls[i];
            } else {
                b->buffer = (void *)s;
                p->lens[i] = strlen(s);
                b->buffer_length = p->lens[i];
                b->length = &p->lens[i];
            }
            break;
        }
        case 'b': {
            const void *v = va_arg(ap, const void *);
            size_t n = va_arg(ap, size_t);
            b->buffer_type = MYSQL_TYPE_BLOB;
            b->buffer = (void *)v;
            p->lens[i] = n;
            b->buffer_length = n;
            b->length = &p->lens[i];
            break;
        }
        case 'n':
            b->buffer_type = MYSQL_TYPE_NULL;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

/* Prepares (cached), binds and executes once. Returns 0, or the error number
 * with msg describing it. */
static unsigned stmt_run(qdb *db, const char *sql, struct params *p, MYSQL_STMT **out, const char **msg)
{
    unsigned e = 0;
    MYSQL_STMT *st = stmt_get(db, sql, &e, msg);
    if (!st)
        return e ? e : CR_UNKNOWN_ERROR;
    if (mysql_stmt_param_count(st) != (unsigned long)p->n) {
        *msg = "parameter count does not match the statement";
        return CR_UNKNOWN_ERROR;
    }
    if ((p->n && mysql_stmt_bind_param(st, p->bind)) || mysql_stmt_execute(st)) {
        static _Thread_local char buf[512];
        e = mysql_stmt_errno(st);
        snprintf(buf, sizeof buf, "%s", mysql_stmt_error(st));
        *msg = buf;
        if (e == ER_UNKNOWN_STMT_HANDLER || e == ER_NEED_REPREPARE) {
            /* the server forgot the statement: drop it from the cache */
            for (int i = 0; i < db->nstmt; i++)
                if (db->cache[i].stmt == st) {
                    mysql_stmt_close(st);
                    free(db->cache[i].sql);
                    db->cache[i] = db->cache[--db->nstmt];
                    break;
                }
        }
        return e ? e : CR_UNKNOWN_ERROR;
    }
    *out = st;
    return 0;
}

static int busy_error(unsigned e)
{
    return e == ER_LOCK_DEADLOCK || e == ER_LOCK_WAIT_TIMEOUT;
}

static qerr db_fail(qdb *db, qerrctx *err, unsigned e, const char *msg, const char *sql)
{
    db->last_errno = e;
    if (busy_error(e) && db->in_txn) {
        /* InnoDB rolled the transaction back (deadlock) or the statement
         * (lock wait): either way the caller retries the transaction */
        qdb_rollback(db);
        return qerr_set(err, Q_ERR_DB_GONE, "database busy (%u): %s; retry", e, msg);
    }
    if (gone_error(e)) {
        if (db->in_txn)
            db->in_txn = 0;     /* the server rolled it back when the link died */
        return qerr_set(err, Q_ERR_DB_GONE, "database unavailable: %s", msg);
    }
    /* a KILL QUERY that wakes a parked waiter (lib/queue.c) is no error */
    if (e != 1317 /* ER_QUERY_INTERRUPTED */)
        QLOG_E("sql error %u: %s [%.120s]", e, msg, sql);
    return qerr_set(err, Q_ERR_DB, "database error %u: %s", e, msg);
}

static qerr run_with_retry(qdb *db, qerrctx *err, const char *sql, struct params *p, MYSQL_STMT **st)
{
    const char *msg = "";
    db->last_errno = 0;
    unsigned e = db->my ? stmt_run(db, sql, p, st, &msg) : CR_SERVER_GONE_ERROR;
    if (e && (gone_error(e) || e == ER_NEED_REPREPARE) && !db->in_txn) {
        if (e == ER_NEED_REPREPARE || db_reconnect(db) == 0)
            e = stmt_run(db, sql, p, st, &msg);
        else
            msg = "reconnect failed";
    }
    /* a statement of its own that lost a deadlock is safe to run again */
    for (int tries = 0; e && busy_error(e) && !db->in_txn && tries < 5; tries++) {
        struct timespec ts = {0, (long)(1 + tries * 5) * 1000000L};
        nanosleep(&ts, NULL);
        e = stmt_run(db, sql, p, st, &msg);
    }
    if (e)
        return db_fail(db, err, e, msg, sql);
    return Q_OK;
}

qerr qdb_exec(qdb *db, qerrctx *err, const char *sql, const char *types, ...)
{
    struct params p;
    va_list ap;
    va_start(ap, types);
    int bad = params_build(&p, types, ap);
    va_end(ap);
    if (bad)
        return qerr_set(err, Q_ERR_INTERNAL, "bad parameter types '%s'", types);
    MYSQL_STMT *st = NULL;
    qerr r = run_with_retry(db, err, sql, &p, &st);
    if (r)
        return r;
    db->affected = mysql_stmt_affected_rows(st);
    db->insert_id = mysql_stmt_insert_id(st);
    mysql_stmt_free_result(st);
    return Q_OK;
}

qerr qdb_query(qdb *db, qarena *a, qrows **out, qerrctx *err, const char *sql, const char *types, ...)
{
    struct params p;
    va_list ap;
    va_start(ap, types);
    int bad = params_build(&p, types, ap);
    va_end(ap);
    if (bad)
        return qerr_set(err, Q_ERR_INTERNAL, "bad parameter types '%s'", types);
    MYSQL_STMT *st = NULL;
    qerr r = run_with_retry(db, err, sql, &p, &st);
    if (r)
        return r;

    qrows *rows = qarena_calloc(a, sizeof *rows);
    MYSQL_RES *meta = mysql_stmt_result_metadata(st);
    if (!rows || !meta) {
        if (meta)
            mysql_free_result(meta);
        mysql_stmt_free_result(st);
        return rows ? qerr_set(err, Q_ERR_INTERNAL, "statement returns no rows") : qerr_set(err, Q_ERR_NOMEM, "out of memory");
    }
    my_bool update_max = 1;
    mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &update_max);
    if (mysql_stmt_store_result(st) != 0) {
        unsigned e = mysql_stmt_errno(st);
        const char *m = mysql_stmt_error(st);
        mysql_free_result(meta);
        return db_fail(db, err, e, m, sql);
    }
    int nc = (int)mysql_num_fields(meta);
    int nr = (int)mysql_stmt_num_rows(st);
    MYSQL_FIELD *f = mysql_fetch_fields(meta);
    rows->ncols = nc;
    rows->names = qarena_alloc(a, sizeof(char *) * (nc ? nc : 1));
    rows->vals = qarena_calloc(a, sizeof(char *) * ((size_t)nr * nc + 1));
    rows->lens = qarena_calloc(a, sizeof(unsigned long) * ((size_t)nr * nc + 1));
    MYSQL_BIND *b = qarena_calloc(a, sizeof *b * (nc ? nc : 1));
    unsigned long *len = qarena_calloc(a, sizeof *len * (nc ? nc : 1));
    my_bool *isnull = qarena_calloc(a, sizeof *isnull * (nc ? nc : 1));
    char **buf = qarena_alloc(a, sizeof(char *) * (nc ? nc : 1));
    if (!rows->names || !rows->vals || !rows->lens || !b || !len || !isnull || !buf) {
        mysql_free_result(meta);
        mysql_stmt_free_result(st);
        return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    }
    for (int c = 0; c < nc; c++) {
        rows->names[c] = qarena_strdup(a, f[c].name);
        unsigned long cap = f[c].max_length > 64 ? f[c].max_length + 1 : 65;
        buf[c] = qarena_alloc(a, cap);
        if (!buf[c] || !rows->names[c]) {
            mysql_free_result(meta);
            mysql_stmt_free_result(st);
            return qerr_set(err, Q_ERR_NOMEM, "out of memory");
        }
        b[c].buffer_type = MYSQL_TYPE_STRING;
        b[c].buffer = buf[c];
        b[c].buffer_length = cap - 1;
        b[c].length = &len[c];
        b[c].is_null = &isnull[c];
    }
    mysql_free_result(meta);
    if (nc && mysql_stmt_bind_result(st, b) != 0) {
        unsigned e = mysql_stmt_errno(st);
        mysql_stmt_free_result(st);
        return db_fail(db, err, e, "bind result", sql);
    }
    int row = 0, rc;
    while (row < nr && ((rc = mysql_stmt_fetch(st)) == 0 || rc == MYSQL_DATA_TRUNCATED)) {
        for (int c = 0; c < nc; c++) {
            size_t i = (size_t)row * nc + c;
            if (isnull[c]) {
                rows->vals[i] = NULL;
                continue;
            }
            char *v = qarena_alloc(a, len[c] + 1);
            if (!v) {
                mysql_stmt_free_result(st);
                return qerr_set(err, Q_ERR_NOMEM, "out of memory");
            }
            if (len[c] <= b[c].buffer_length) {
                memcpy(v, buf[c], len[c]);
            } else {
                MYSQL_BIND one = {0};
                unsigned long l2 = 0;
                one.buffer_type = MYSQL_TYPE_STRING;
                one.buffer = v;
                one.buffer_length = len[c];
                one.length = &l2;
                mysql_stmt_fetch_column(st, &one, (unsigned)c, 0);
            }
            v[len[c]] = '\0';
            rows->vals[i] = v;
            rows->lens[i] = len[c];
        }
        row++;
    }
    rows->nrows = row;
    mysql_stmt_free_result(st);
    *out = rows;
    return Q_OK;
}

int64_t qrows_i64(const qrows *r, int row, int col, int64_t dflt)
{
    const char *v = qrows_get(r, row, col);
    return v ? strtoll(v, NULL, 10) : dflt;
}

double qrows_double(const qrows *r, int row, int col, double dflt)
{
    const char *v = qrows_get(r, row, col);
    return v ? strtod(v, NULL) : dflt;
}

int qrows_col(const qrows *r, const char *name)
{
    for (int c = 0; c < r->ncols; c++)
        if (strcmp(r->names[c], name) == 0)
            return c;
    return -1;
}

qerr qdb_begin(qdb *db, qerrctx *err)
{
    if ((!db->my || mysql_query(db->my, "BEGIN") != 0)) {
        unsigned e = db->my ? mysql_errno(db->my) : CR_SERVER_GONE_ERROR;
        if (gone_error(e) && db_reconnect(db) == 0 && mysql_query(db->my, "BEGIN") == 0)
            goto ok;
        return db_fail(db, err, e, db->my ? mysql_error(db->my) : "not connected", "BEGIN");
    }
ok:
    db->in_txn = 1;
    return Q_OK;
}

qerr qdb_commit(qdb *db, qerrctx *err)
{
    int was = db->in_txn;
    db->in_txn = 0;
    if (!db->my || mysql_commit(db->my) != 0) {
        unsigned e = db->my ? mysql_errno(db->my) : CR_SERVER_GONE_ERROR;
        (void)was;
        return db_fail(db, err, e, db->my ? mysql_error(db->my) : "not connected", "COMMIT");
    }
    return Q_OK;
}

void qdb_rollback(qdb *db)
{
    db->in_txn = 0;
    if (db->my && mysql_rollback(db->my) != 0) {
        QLOG_W("rollback failed: %s; reconnecting", mysql_error(db->my));
        db_reconnect(db);
    }
}

qerr qdb_exec_text(qdb *db, qerrctx *err, const char *sql)
{
    if (!db->my && db_reconnect(db) != 0)
        return qerr_set(err, Q_ERR_DB_GONE, "database unavailable");
    if (mysql_real_query(db->my, sql, strlen(sql)) != 0)
        return db_fail(db, err, mysql_errno(db->my), mysql_error(db->my), sql);
    /* drain every result of a multi-statement text */
    do {
        MYSQL_RES *res = mysql_store_result(db->my);
        if (res)
            mysql_free_result(res);
    } while (mysql_next_result(db->my) == 0);
    if (mysql_errno(db->my))
        return db_fail(db, err, mysql_errno(db->my), mysql_error(db->my), sql);
    return Q_OK;
}
