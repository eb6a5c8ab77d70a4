/* migrate.c - numbered migrations: read, split into statements, apply. */
#include "migrate.h"
#include "log.h"
#include "util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIGRATE_MAX_FILES 512
#define MIGRATE_MAX_BYTES (1 << 20)

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Statements end with ';' at the end of a line; comments are passed on. */
static qerr apply_file(qdb *db, char *sql, qerrctx *err)
{
    char *stmt = sql;
    for (char *p = sql; *p; p++) {
        if (*p != ';')
            continue;
        char *q = p + 1;
        while (*q == ' ' || *q == '\t' || *q == '\r')
            q++;
        if (*q != '\n' && *q != '\0')
            continue;
        *p = '\0';
        char *s = stmt;
        while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
            s++;
        /* skip a chunk that is only comments */
        int has_sql = 0;
        for (char *line = s; line && *line;) {
            char *nl = strchr(line, '\n');
            char *t = line;
            while (*t == ' ' || *t == '\t')
                t++;
            if (*t && *t != '\n' && strncmp(t, "--", 2) != 0)
                has_sql = 1;
            line = nl ? nl + 1 : NULL;
        }
        if (has_sql) {
            qerr r = qdb_exec_text(db, err, s);
            if (r)
                return r;
        }
        stmt = q;
        p = q - 1;
        if (!*q)
            break;
    }
    return Q_OK;
}

int qmigrate_version(qdb *db)
{
    qerrctx err = {0};
    qarena *a = qarena_new();
    qrows *r = NULL;
    int v = 0;
    if (a && qdb_query(db, a, &r, &err, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", "") == Q_OK)
        v = (int)qrows_i64(r, 0, 0, 0);
    qarena_free(a);
    return v;
}

qerr qmigrate_run(qdb *db, const char *dir, int *applied, qerrctx *err)
{
    *applied = 0;
    qerr r = qdb_exec_text(db, err,
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL,"
        " applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)) ENGINE=InnoDB");
    if (r)
        return r;
    qarena *a = qarena_new();
    if (!a)
        return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    qrows *lock = NULL;
    r = qdb_query(db, a, &lock, err, "SELECT GET_LOCK('quire_migrate', 60)", "");
    if (r || qrows_i64(lock, 0, 0, 0) != 1) {
        qarena_free(a);
        return r ? r : qerr_set(err, Q_ERR_TIMEOUT, "another migration holds the lock");
    }
    DIR *d = opendir(dir);
    if (!d) {
        qdb_exec(db, err, "DO RELEASE_LOCK('quire_migrate')", "");
        qarena_free(a);
        return qerr_set(err, Q_ERR_IO, "cannot open migrations directory %s", dir);
    }
    char *names[MIGRATE_MAX_FILES];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < MIGRATE_MAX_FILES) {
        size_t len = strlen(de->d_name);
        if (len > 4 && !strcmp(de->d_name + len - 4, ".sql") && de->d_name[0] >= '0' && de->d_name[0] <= '9')
            names[n++] = qarena_strdup(a, de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], name_cmp);
    for (int i = 0; i < n && !r; i++) {
        int version = atoi(names[i]);
        qrows *have = NULL;
        r = qdb_query(db, a, &have, err, "SELECT 1 FROM schema_migrations WHERE version = ?", "i", (int64_t)version);
        if (r || have->nrows)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char *sql = qread_file(path, MIGRATE_MAX_BYTES, NULL);
        if (!sql) {
            r = qerr_set(err, Q_ERR_IO, "cannot read %s", path);
            break;
        }
        r = apply_file(db, sql, err);
        free(sql);
        if (!r)
            r = qdb_exec(db, err, "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", "is",
                         (int64_t)version, names[i]);
        if (!r) {
            QLOG_I("migration %s applied", names[i]);
            (*applied)++;
        } else {
            QLOG_E("migration %s failed: %s", names[i], err->msg);
        }
    }
    qerrctx ignore = {0};
    qdb_exec(db, &ignore, "DO RELEASE_LOCK('quire_migrate')", "");
    qarena_free(a);
    return r;
}
