/* ctl_queue.c - quirectl's queue commands (filled in with lib/queue). */
#include "ctl.h"

int ctl_queue_command(qdb *db, int argc, char **argv)
{
    (void)db;
    (void)argc;
    (void)argv;
    return 2;
}
