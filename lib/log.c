/* log.c - the event log: one formatted line written with a single write(2)
 * so lines from threads never interleave. */
#include "log.h"
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_program = "quire";
static _Thread_local char log_ctx[48];

void qlog_init(const char *program) { log_program = program; }

void qlog_set_context(const char *id)
{
    if (!id)
        log_ctx[0] = '\0';
    else
        snprintf(log_ctx, sizeof log_ctx, "%s", id);
}

const char *qlog_context(void) { return log_ctx; }

void qlog(int level, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < qconfig_get()->log_level)
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s[%d]%s%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, names[level & 3], log_program, (int)getpid(),
                     log_ctx[0] ? " id=" : "", log_ctx);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        n += vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line - 1)
        n = sizeof line - 2;
    for (int i = 0; i < n; i++)     /* one event, one line: no injected newlines */
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
