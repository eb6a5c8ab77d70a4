/* migrate.h - applies sql/NNN_name.sql files in order, once each, recording
 * them in schema_migrations. Safe when several processes run it at once. */
#ifndef QUIRE_MIGRATE_H
#define QUIRE_MIGRATE_H

#include "db.h"

/* Applies what is missing from dir (QUIRE_SQL_DIR, default "sql"); *applied
 * gets how many were applied now. */
qerr qmigrate_run(qdb *db, const char *dir, int *applied, qerrctx *err);
/* The highest applied version, or 0 (also when the table is missing). */
int qmigrate_version(qdb *db);

#endif
