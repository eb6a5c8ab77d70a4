/* rouge.c - ROUGE-1 and ROUGE-L scorers for the summary tests (see
 * rouge.h). Inputs are capped at ROUGE_MAX_WORDS words each. */
#include "rouge.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define ROUGE_MAX_WORDS 20000
#define ROUGE_WORD 32

typedef struct {
    int n;
    char (*w)[ROUGE_WORD];
} words;

static words split(const char *s)
{
    words v = {0, calloc(ROUGE_MAX_WORDS, ROUGE_WORD)};
    if (!v.w)
        return v;
    while (*s && v.n < ROUGE_MAX_WORDS) {
        while (*s && !isalnum((unsigned char)*s))
            s++;
        if (!*s)
            break;
        int l = 0;
        while (isalnum((unsigned char)*s)) {
            if (l < ROUGE_WORD - 1)
                v.w[v.n][l++] = (char)tolower((unsigned char)*s);
            s++;
        }
        v.w[v.n][l] = 0;
        v.n++;
    }
    return v;
}

static int cmp_word(const void *a, const void *b) { return strcmp(a, b); }

static rouge_score prf(double hits, int nc, int nr)
{
    rouge_score s = {0, 0, 0};
    s.p = nc ? hits / nc : 0;
    s.r = nr ? hits / nr : 0;
    s.f = s.p + s.r > 0 ? 2 * s.p * s.r / (s.p + s.r) : 0;
    return s;
}

rouge_score rouge_1(const char *candidate, const char *reference)
{
    words c = split(candidate), r = split(reference);
    rouge_score s = {0, 0, 0};
    if (c.w && r.w) {
        qsort(c.w, c.n, ROUGE_WORD, cmp_word);
        qsort(r.w, r.n, ROUGE_WORD, cmp_word);
        int i = 0, j = 0, hits = 0;
        while (i < c.n && j < r.n) {
            int d = strcmp(c.w[i], r.w[j]);
            if (d == 0) {
                hits++;
                i++;
                j++;
            } else if (d < 0) {
                i++;
            } else {
                j++;
            }
        }
        s = prf(hits, c.n, r.n);
    }
    free(c.w);
    free(r.w);
    return s;
}

rouge_score rouge_l(const char *candidate, const char *reference)
{
    words c = split(candidate), r = split(reference);
    rouge_score s = {0, 0, 0};
    int *prev = calloc((size_t)r.n + 1, sizeof *prev), *cur = calloc((size_t)r.n + 1, sizeof *cur);
    if (c.w && r.w && prev && cur) {
        for (int i = 1; i <= c.n; i++) {
            for (int j = 1; j <= r.n; j++)
                cur[j] = strcmp(c.w[i - 1], r.w[j - 1]) == 0
                             ? prev[j - 1] + 1
                             : (prev[j] > cur[j - 1] ? prev[j] : cur[j - 1]);
            int *t = prev;
            prev = cur;
            cur = t;
        }
        s = prf(prev[r.n], c.n, r.n);
    }
    free(prev);
    free(cur);
    free(c.w);
    free(r.w);
    return s;
}
