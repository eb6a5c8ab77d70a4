/* textdata.c - loading the shipped test texts (see textdata.h). */
#include "textdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *td_read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max, f) : 0;
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

int td_load_gulliver(td_book *b)
{
    memset(b, 0, sizeof *b);
    b->buf = td_read_file("tests/data/gulliver_lilliput.txt", 1 << 20, NULL);
    char *syn = td_read_file("tests/data/gulliver_lilliput_synopses.txt", 1 << 16, NULL);
    if (!b->buf || !syn) {
        free(syn);
        td_free(b);
        return -1;
    }
    char *p = b->buf;
    while ((p = strstr(p, "# CHAPTER ")) != NULL && b->nch < TD_MAX_CHAPTERS) {
        if (b->nch)
            b->chlen[b->nch - 1] = (size_t)(p - b->ch[b->nch - 1]);
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        b->ch[b->nch++] = nl + 1;
        p = nl + 1;
    }
    if (b->nch)
        b->chlen[b->nch - 1] = strlen(b->ch[b->nch - 1]);
    size_t ns = 0;
    for (char *line = strtok(syn, "\n"); line && ns < TD_MAX_CHAPTERS; line = strtok(NULL, "\n"))
        b->syn[ns++] = strdup(line);
    free(syn);
    return b->nch > 0 && ns == b->nch ? 0 : -1;
}

void td_free(td_book *b)
{
    free(b->buf);
    for (size_t i = 0; i < TD_MAX_CHAPTERS; i++)
        free(b->syn[i]);
    memset(b, 0, sizeof *b);
}
