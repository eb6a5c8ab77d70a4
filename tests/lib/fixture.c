/* fixture.c - temp dirs, program runs and generated audio for tests; see
 * fixture.h. */
#include "fixture.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_dir[512];   /* the one temp dir of this test process */

const char *fx_tmpdir(void)
{
    if (g_dir[0]) return g_dir;
    const char *t = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/quire-test-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(g_dir)) { g_dir[0] = 0; return NULL; }
    return g_dir;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    remove(p);
    return 0;
}

void fx_cleanup(void)
{
    if (!g_dir[0]) return;
    nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    g_dir[0] = 0;
}

const char *fx_path(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", fx_tmpdir(), name);
    return buf;
}

int fx_run(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int dn = open("/dev/null", O_RDWR);
        if (dn >= 0) { dup2(dn, 0); dup2(dn, 1); dup2(dn, 2); }
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int fx_tone(const char *out, double freq, double secs, int rate, int channels,
            const char *const *extra)
{
    char src[128], ar[16], ac[16];
    snprintf(src, sizeof src, "sine=frequency=%g:duration=%g:sample_rate=%d", freq, secs, rate);
    snprintf(ar, sizeof ar, "%d", rate);
    snprintf(ac, sizeof ac, "%d", channels);
    char *argv[40];
    int n = 0;
    const char *base[] = { "ffmpeg", "-nostdin", "-hide_banner", "-y", "-f", "lavfi", "-i", src,
                           "-ac", ac, "-ar", ar };
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) argv[n++] = (char *)base[i];
    for (int i = 0; extra && extra[i] && n < 36; i++) argv[n++] = (char *)extra[i];
    argv[n++] = (char *)out;
    argv[n] = NULL;
    return fx_run(argv);
}

unsigned char *fx_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
    fclose(f);
    if (b) { b[n] = 0; *len = (size_t)n; }
    return b;
}

int fx_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t k = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && k == len) ? 0 : -1;
}
