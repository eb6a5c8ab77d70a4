/* quirectl.c - the admin command line: migrations, users and tokens, the
 * first admin of a new stack, and the queue (stats, workers, failed jobs,
 * retry, cancel). Talks to MariaDB with the same settings as the servers. */
#include "accounts.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "util.h"
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(void)
{
    fprintf(stderr,
            "usage: quirectl COMMAND ...\n"
            "  migrate                          apply sql/ migrations not applied yet\n"
            "  create-db NAME                   create a database (tests)\n"
            "  ensure-admin                     create the first admin if there is none; print its token file\n"
            "  user add NAME [--admin|--worker] [--priority premium]   print a new token\n"
            "  user list\n"
            "  token add USER [LABEL]           print a new token for USER\n"
            "  token revoke TOKEN_ID\n"
            "  stats | workers | failed | reap | retry JOB_ID | cancel JOB_ID   (the queue)\n");
}

static int die(const qerrctx *e)
{
    fprintf(stderr, "quirectl: %s\n", e->msg[0] ? e->msg : qerr_code(e->code));
    return e->code == Q_ERR_NOT_FOUND ? 3 : 1;
}

static int cmd_user_add(qdb *db, int argc, char **argv)
{
    if (argc < 1) {
        usage();
        return 2;
    }
    int role = QROLE_USER, premium = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--admin"))
            role = QROLE_ADMIN;
        else if (!strcmp(argv[i], "--worker"))
            role = QROLE_WORKER;
        else if (!strcmp(argv[i], "--priority") && i + 1 < argc)
            premium = !strcmp(argv[++i], "premium");
        else {
            usage();
            return 2;
        }
    }
    qerrctx e = {0};
    int64_t uid;
    char tok[QTOKEN_LEN + 1];
    if (qaccounts_user_add(db, argv[0], role, premium, &uid, &e) ||
        qaccounts_token_add(db, uid, "cli", tok, NULL, &e))
        return die(&e);
    printf("%s\n", tok);
    return 0;
}

static int cmd_user_list(qdb *db)
{
    qerrctx e = {0};
    qarena *a = qarena_new();
    qrows *r = NULL;
    if (qdb_query(db, a, &r, &e,
                  "SELECT u.id, u.name, u.role, u.priority_class, u.created_at,"
                  " (SELECT COUNT(*) FROM api_tokens t WHERE t.user_id = u.id AND t.revoked_at IS NULL)"
                  " FROM users u ORDER BY u.id", "")) {
        qarena_free(a);
        return die(&e);
    }
    printf("%-6s %-24s %-7s %-9s %-6s %s\n", "id", "name", "role", "priority", "tokens", "created");
    for (int i = 0; i < r->nrows; i++)
        printf("%-6s %-24s %-7s %-9s %-6s %s\n", qrows_get(r, i, 0), qrows_get(r, i, 1), qrows_get(r, i, 2),
               qrows_get(r, i, 3), qrows_get(r, i, 5), qrows_get(r, i, 4));
    qarena_free(a);
    return 0;
}

static int cmd_token_add(qdb *db, int argc, char **argv)
{
    if (argc < 1) {
        usage();
        return 2;
    }
    qerrctx e = {0};
    qarena *a = qarena_new();
    qrows *r = NULL;
    if (qdb_query(db, a, &r, &e, "SELECT id FROM users WHERE name = ?", "s", argv[0])) {
        qarena_free(a);
        return die(&e);
    }
    if (r->nrows == 0) {
        fprintf(stderr, "quirectl: no user '%s'\n", argv[0]);
        qarena_free(a);
        return 3;
    }
    char tok[QTOKEN_LEN + 1];
    int64_t tid;
    qerr x = qaccounts_token_add(db, qrows_i64(r, 0, 0, 0), argc > 1 ? argv[1] : "cli", tok, &tid, &e);
    qarena_free(a);
    if (x)
        return die(&e);
    printf("%s\n", tok);
    return 0;
}

/* The first admin: named "admin", its token from QUIRE_ADMIN_TOKEN or new,
 * written to $QUIRE_VAR/admin-token (0600). A no-op when an admin exists. */
static int cmd_ensure_admin(qdb *db)
{
    const qconfig *c = qconfig_get();
    qerrctx e = {0};
    qarena *a = qarena_new();
    qrows *r = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/admin-token", c->var_dir);
    if (qdb_query(db, a, &r, &e, "SELECT id FROM users WHERE role = 'admin' ORDER BY id LIMIT 1", "")) {
        qarena_free(a);
        return die(&e);
    }
    const char *given = getenv("QUIRE_ADMIN_TOKEN");
    if (r->nrows > 0) {
        int64_t uid = qrows_i64(r, 0, 0, 0);
        /* a token given in the environment is honoured on every start */
        if (given && *given && qaccounts_token_import(db, uid, given, "env", &e) && e.code != Q_ERR_DB) {
            qarena_free(a);
            return die(&e);
        }
        qarena_free(a);
        if (given && *given) {
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd >= 0) {
                dprintf(fd, "%s\n", given);
                close(fd);
            }
        }
        printf("%s\n", path);
        return 0;
    }
    qarena_free(a);
    int64_t uid;
    char tok[QTOKEN_MAX + 1];
    if (qaccounts_user_add(db, "admin", QROLE_ADMIN, 1, &uid, &e))
        return die(&e);
    if (given && *given) {
        if (qaccounts_token_import(db, uid, given, "env", &e))
            return die(&e);
        snprintf(tok, sizeof tok, "%s", given);
    } else if (qaccounts_token_add(db, uid, "first admin", tok, NULL, &e)) {
        return die(&e);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || dprintf(fd, "%s\n", tok) < 0) {
        fprintf(stderr, "quirectl: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    fchmod(fd, 0600);
    close(fd);
    printf("%s\n", path);
    return 0;
}

int main(int argc, char **argv)
{
    qlog_init("ctl");
    if (argc < 2) {
        usage();
        return 2;
    }
    const char *cmd = argv[1];
    qerrctx e = {0};
    if (!strcmp(cmd, "create-db")) {
        if (argc < 3) {
            usage();
            return 2;
        }
        qdb *db = qdb_open_db(NULL, &e);
        if (!db)
            return die(&e);
        char sql[256];
        for (const char *p = argv[2]; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
                fprintf(stderr, "quirectl: database names are [a-z0-9_]\n");
                return 2;
            }
        /* an identifier cannot be a bound parameter: the name was checked
         * against [a-z0-9_] above, so it cannot leave its quotes */
        snprintf(sql, sizeof sql, "CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4", argv[2]);
        int rc = qdb_exec_text(db, &e, sql) ? die(&e) : 0;
        qdb_close(db);
        return rc;
    }
    qdb *db = qdb_open(&e);
    if (!db)
        return die(&e);
    int rc = 2;
    if (!strcmp(cmd, "migrate")) {
        int n = 0;
        if (qmigrate_run(db, qconfig_str("QUIRE_SQL_DIR", "sql"), &n, &e))
            rc = die(&e);
        else {
            printf("migrations applied: %d, schema version: %d\n", n, qmigrate_version(db));
            rc = 0;
        }
    } else if (!strcmp(cmd, "ensure-admin")) {
        rc = cmd_ensure_admin(db);
    } else if (!strcmp(cmd, "user") && argc >= 3 && !strcmp(argv[2], "add")) {
        rc = cmd_user_add(db, argc - 3, argv + 3);
    } else if (!strcmp(cmd, "user") && argc >= 3 && !strcmp(argv[2], "list")) {
        rc = cmd_user_list(db);
    } else if (!strcmp(cmd, "token") && argc >= 3 && !strcmp(argv[2], "add")) {
        rc = cmd_token_add(db, argc - 3, argv + 3);
    } else if (!strcmp(cmd, "token") && argc >= 4 && !strcmp(argv[2], "revoke")) {
        int64_t id;
        if (qparse_i64(argv[3], 1, INT64_MAX, &id) != 0) {
            fprintf(stderr, "quirectl: token id must be a number\n");
            rc = 2;
        } else {
            rc = qaccounts_token_revoke(db, id, 0, &e) ? die(&e) : 0;
            if (!rc)
                printf("revoked token %lld\n", (long long)id);
        }
    } else {
        rc = ctl_queue_command(db, argc - 1, argv + 1);
        if (rc == 2)
            usage();
    }
    qdb_close(db);
    return rc;
}
