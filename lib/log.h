/* log.h - one line per event on stderr: time, level, program, request or job
 * id, message. */
#ifndef QUIRE_LOG_H
#define QUIRE_LOG_H

enum { QLOG_DEBUG = 0, QLOG_INFO, QLOG_WARN, QLOG_ERROR };

/* Program name printed on every line ("api", "worker", "ctl"). */
void qlog_init(const char *program);
/* The id of what this thread works on now (request or job); NULL clears.
 * The string is copied. */
void qlog_set_context(const char *id);
const char *qlog_context(void);

void qlog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define QLOG_D(...) qlog(QLOG_DEBUG, __VA_ARGS__)
#define QLOG_I(...) qlog(QLOG_INFO, __VA_ARGS__)
#define QLOG_W(...) qlog(QLOG_WARN, __VA_ARGS__)
#define QLOG_E(...) qlog(QLOG_ERROR, __VA_ARGS__)

#endif
