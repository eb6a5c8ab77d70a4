/* wer.c - word error rate and a small "run a program, capture stdout"
 * helper for the speech tests; see wer.h. */
#include "wer.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct words {
    char **w;
    size_t n;
    char *store;
} words;

static int split(const char *s, words *out)
{
    size_t len = strlen(s);
    out->store = malloc(len + 1);
    out->w = malloc((len / 2 + 2) * sizeof *out->w);
    out->n = 0;
    if (!out->store || !out->w) return -1;
    char *d = out->store;
    int in = 0;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        int keep = isalnum(c) || c == '\'' || c >= 0x80;
        if (keep) {
            if (!in) { out->w[out->n++] = d; in = 1; }
            *d++ = (char)tolower(c);
        } else if (in) {
            *d++ = 0;
            in = 0;
        }
    }
    *d = 0;
    return 0;
}

size_t wer_distance(const char *ref, const char *hyp, size_t *ref_words)
{
    words a = {0}, b = {0};
    size_t result = (size_t)-1;
    size_t *prev = NULL, *cur = NULL;
    if (split(ref ? ref : "", &a) || split(hyp ? hyp : "", &b)) goto out;
    prev = malloc((b.n + 1) * sizeof *prev);
    cur = malloc((b.n + 1) * sizeof *cur);
    if (!prev || !cur) goto out;
    for (size_t j = 0; j <= b.n; j++) prev[j] = j;
    for (size_t i = 1; i <= a.n; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= b.n; j++) {
            size_t sub = prev[j - 1] + (strcmp(a.w[i - 1], b.w[j - 1]) != 0);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            size_t m = sub < del ? sub : del;
            cur[j] = m < ins ? m : ins;
        }
        size_t *t = prev; prev = cur; cur = t;
    }
    result = prev[b.n];
    if (ref_words) *ref_words = a.n;
out:
    free(prev); free(cur);
    free(a.w); free(a.store); free(b.w); free(b.store);
    return result;
}

double wer(const char *ref, const char *hyp)
{
    size_t n = 0, d = wer_distance(ref, hyp, &n);
    if (d == (size_t)-1) return 1.0;
    if (n == 0) return d ? 1.0 : 0.0;
    return (double)d / (double)n;
}

double wer_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

char *wer_run_capture(char *const argv[], double *secs)
{
    int fd[2];
    if (pipe(fd) < 0) return NULL;
    double t0 = wer_now();
    pid_t pid = fork();
    if (pid < 0) { close(fd[0]); close(fd[1]); return NULL; }
    if (pid == 0) {
        int dn = open("/dev/null", O_WRONLY);
        dup2(fd[1], 1);
        if (dn >= 0) dup2(dn, 2);
        close(fd[0]); close(fd[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        if (len + 1024 > cap) {
            char *p = realloc(buf, cap * 2);
            if (!p) { free(buf); buf = NULL; break; }
            buf = p; cap *= 2;
        }
        ssize_t n = read(fd[0], buf + len, cap - len - 1);
        if (n <= 0) break;
        len += (size_t)n;
    }
    close(fd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (secs) *secs = wer_now() - t0;
    if (!buf) return NULL;
    buf[len] = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { free(buf); return NULL; }
    return buf;
}
