/* t.c - the test framework's counters and reporting (see t.h). */
#include "t.h"

#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

static int t_passed, t_failed, t_skipped;
static int cur_failed, cur_skipped;
static const char *cur_name;

void t_run(const char *name, void (*fn)(void))
{
    struct timespec a, b;
    cur_name = name;
    cur_failed = cur_skipped = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    fn();
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
    if (cur_failed) {
        t_failed++;
        printf("FAIL %s (%.0f ms)\n", name, ms);
    } else if (cur_skipped) {
        t_skipped++;
    } else {
        t_passed++;
        printf("ok   %s (%.0f ms)\n", name, ms);
    }
    fflush(stdout);
}

void t_fail_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    cur_failed++;
    printf("     %s:%d: [%s] ", file, line, cur_name ? cur_name : "?");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

void t_fail_cond(const char *file, int line, const char *what, const char *cond, const char *fmt, ...)
{
    va_list ap;
    cur_failed++;
    printf("     %s:%d: [%s] %s: %s", file, line, cur_name ? cur_name : "?", what, cond);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

void t_skip(const char *why)
{
    cur_skipped = 1;
    printf("skip %s: skipped: %s\n", cur_name ? cur_name : "?", why);
    fflush(stdout);
}

void t_note(const char *fmt, ...)
{
    va_list ap;
    printf("     # ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

int t_failed_now(void) { return cur_failed; }

int t_done(void)
{
    printf("t: %d passed, %d failed, %d skipped\n", t_passed, t_failed, t_skipped);
    fflush(stdout);
    return t_failed ? 1 : 0;
}
