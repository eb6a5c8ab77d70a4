/* test_sql_params.c - "only parameterized SQL anywhere", checked on the
 * sources: no SQL statement is built with a printf-family call (snprintf,
 * sprintf, asprintf, qarena_printf, ...). Values go through bound
 * parameters (lib/db.h); the two statements that cannot take one (an
 * identifier, KILL QUERY of a server-given id) are allowed by name. */
#include "t.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const keywords[] = {
    "SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM", "REPLACE INTO", "KILL ", "CREATE ", "ALTER TABLE", "DROP ",
};

/* Statements that cannot take a bound parameter; each is validated where built. */
static const char *const allowed[] = {
    "KILL QUERY %llu",                                           /* lib/queue.c: an integer */
    "CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4",  /* ctl/quirectl.c: [a-z0-9_] */
};

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b)
        b[n] = '\0';
    fclose(f);
    return b;
}

static int checked;

static void check_file(const char *path)
{
    char *src = slurp(path);
    if (!src)
        return;
    checked++;
    for (char *p = src; (p = strstr(p, "printf(")); p += 7) {
        char *end = strchr(p, ';');
        if (!end)
            break;
        char save = *end;
        *end = '\0';
        /* the format: the first string literal and those adjacent to it
         * (a SQL text passed as a later argument is no format) */
        char fmt[4096];
        size_t fl = 0;
        char *q = strchr(p, '"');
        while (q && *q == '"') {
            for (q++; *q && *q != '"' && fl + 1 < sizeof fmt; q++) {
                if (*q == '\\' && q[1])
                    fmt[fl++] = *q++;
                fmt[fl++] = *q;
            }
            if (*q == '"')
                q++;
            while (*q == ' ' || *q == '\n' || *q == '\t')
                q++;
        }
        fmt[fl] = '\0';
        int bad = 0;
        for (size_t k = 0; k < sizeof keywords / sizeof keywords[0] && !bad; k++) {
            const char *kw = strstr(fmt, keywords[k]);
            /* a keyword that starts the text or follows a space */
            if (kw && (kw == fmt || kw[-1] == ' '))
                bad = 1;
        }
        for (size_t k = 0; k < sizeof allowed / sizeof allowed[0] && bad; k++)
            if (!strcmp(fmt, allowed[k]))
                bad = 0;
        if (bad) {
            int line = 1;
            for (const char *c = src; c < p; c++)
                line += *c == '\n';
            t_fail_at(path, line, "SQL built with printf; bind the values (lib/db.h): %.120s", p);
        }
        *end = save;
    }
    free(src);
}

static void check_dir(const char *root, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, dir);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 3 || strcmp(de->d_name + n - 2, ".c") || !strcmp(de->d_name, "test_sql_params.c"))
            continue;
        snprintf(path, sizeof path, "%s/%s/%s", root, dir, de->d_name);
        check_file(path);
    }
    closedir(d);
}

static void test_no_sql_built_with_printf(void)
{
    const char *root = getenv("QUIRE_ROOT") ? getenv("QUIRE_ROOT") : ".";
    static const char *const dirs[] = {"cgi", "lib", "worker", "ctl", "tests/lib", "tests/unit", "tests/integration",
                                       "tests/bench", "tests/fuzz"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        check_dir(root, dirs[i]);
    T_CHECK(checked > 50, "only %d source files found under %s", checked, root);
}

int main(void)
{
    T_RUN(test_no_sql_built_with_printf);
    return t_done();
}
