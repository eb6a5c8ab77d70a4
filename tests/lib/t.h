/* t.h - the tiny test framework every C test uses.
 *
 * A test binary has test functions run with T_RUN(fn); each function makes
 * checks with T_CHECK/T_EQ_*; a function passes when none of its checks
 * failed, or is skipped with t_skip("why"). main() ends with
 * `return t_done();` which prints "<binary>: N passed, N failed, N skipped"
 * and returns non-zero when anything failed. tests/run.sh adds those up. */
#ifndef QUIRE_T_H
#define QUIRE_T_H

#include <stdio.h>
#include <string.h>
#include <stdint.h>

void t_run(const char *name, void (*fn)(void));
void t_fail_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The failure of a check: the condition's text is an argument, never part
 * of the format, so conditions may hold '%'. */
void t_fail_cond(const char *file, int line, const char *what, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void t_skip(const char *why);
void t_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int t_done(void);
int t_failed_now(void);   /* non-zero when the running test already failed */

#define T_RUN(fn) t_run(#fn, fn)
#define T_CHECK(cond, ...) \
    do { if (!(cond)) t_fail_cond(__FILE__, __LINE__, "check failed", #cond, " " __VA_ARGS__); } while (0)
#define T_EQ_INT(a, b) \
    do { long long _a = (long long)(a), _b = (long long)(b); \
         if (_a != _b) t_fail_at(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, _a, _b); } while (0)
#define T_EQ_STR(a, b) \
    do { const char *_a = (a), *_b = (b); \
         if (!_a || !_b || strcmp(_a, _b) != 0) \
             t_fail_at(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)", _b ? _b : "(null)"); } while (0)
/* Stop the current test function when a check it depends on failed. */
#define T_REQUIRE(cond, ...) \
    do { if (!(cond)) { t_fail_cond(__FILE__, __LINE__, "required", #cond, " " __VA_ARGS__); return; } } while (0)

#endif
