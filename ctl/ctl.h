/* ctl.h - quirectl's command groups beyond accounts. */
#ifndef QUIRE_CTL_H
#define QUIRE_CTL_H

#include "db.h"

/* stats | workers | failed | retry ID | cancel ID. Returns the exit status;
 * 2 means "not a queue command". */
int ctl_queue_command(qdb *db, int argc, char **argv);

#endif
