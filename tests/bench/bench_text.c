/* bench_text.c - the text engines' benchmark (make bench-text): summarize a
 * 100,000-word text made in this run from the shipped Gulliver chapters
 * (sentences repeated in shuffled order), the GFLOP/s of its similarity
 * sgemm against this machine's sgemm peak measured in the same run, and the
 * p50 time of a search over 100,000 stored windows. Run from the repo root.
 * Last line: bench-text: summarize_s=<x> gemm_eff=<r> search_p50_ms=<y> */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"
#include "text.h"
#include "text_search.h"
#include "textdata.h"

#define WORDS 100000
#define WINDOWS 100000
#define QUERIES 200

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long long rs = 88172645463325252ull;
static unsigned long long xr(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

static size_t count_words(const char *s, size_t len)
{
    size_t n = 0;
    int in = 0;
    for (size_t i = 0; i < len; i++) {
        int w = (unsigned char)s[i] > ' ';
        n += w && !in;
        in = w;
    }
    return n;
}

static int cmp_double(const void *a, const void *b);

/* Median GFLOP/s of `reps` square n x n x n sgemm calls on the BLAS layer. */
static double sgemm_peak(int n, int reps)
{
    float *A = malloc(sizeof(float) * n * n), *B = malloc(sizeof(float) * n * n);
    float *C = malloc(sizeof(float) * n * n);
    double g[16];
    for (size_t i = 0; i < (size_t)n * n; i++) {
        A[i] = (float)(xr() % 1000) / 1000.0f;
        B[i] = (float)(xr() % 1000) / 1000.0f;
    }
    qblas_sgemm(QBLAS_N, QBLAS_T, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);   /* warm-up */
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        qblas_sgemm(QBLAS_N, QBLAS_T, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
        g[r] = 2.0 * n * n * (double)n / (now() - t0) / 1e9;
    }
    qsort(g, (size_t)reps, sizeof g[0], cmp_double);
    free(A);
    free(B);
    free(C);
    return g[reps / 2];
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    td_book book;
    qerrctx err = {0};
    if (td_load_gulliver(&book) != 0) {
        fprintf(stderr, "bench-text: cannot read tests/data (run from the repository root)\n");
        return 1;
    }
    qblas_init();
    printf("backend: %s (%s)\n", qblas_backend_name(), qblas_backend_reason());

    /* All sentences of the shipped chapters. */
    qtext_seg *all = NULL;
    size_t nall = 0;
    for (size_t c = 0; c < book.nch; c++) {
        qtext_seg *s;
        size_t n;
        if (qtext_segments_from_text(book.ch[c], book.chlen[c], &s, &n, &err) != Q_OK)
            return 1;
        all = realloc(all, (nall + n) * sizeof *all);
        memcpy(all + nall, s, n * sizeof *s);
        nall += n;
        free(s);
    }

    /* A 100,000-word text: shuffled passes over the sentences. */
    size_t cap = 1 << 20, len = 0, words = 0;
    char *text = malloc(cap);
    size_t *order = malloc(nall * sizeof *order);
    while (words < WORDS) {
        for (size_t i = 0; i < nall; i++)
            order[i] = i;
        for (size_t i = nall - 1; i > 0; i--) {
            size_t j = xr() % (i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (size_t i = 0; i < nall && words < WORDS; i++) {
            const qtext_seg *g = &all[order[i]];
            if (len + g->len + 2 > cap) {
                cap *= 2;
                text = realloc(text, cap);
            }
            memcpy(text + len, g->text, g->len);
            len += g->len;
            text[len++] = ' ';
            words += count_words(g->text, g->len);
        }
    }
    text[len] = 0;

    /* Summarize it (sentence split included), three times; medians. */
    enum { RUNS = 3 };
    double tot[RUNS], rate[RUNS];
    for (int run = 0; run < RUNS; run++) {
        double t0 = now();
        qtext_seg *segs;
        size_t nseg;
        qtext_summary sum;
        qtext_summary_opts so = {.sentences = 20};
        if (qtext_segments_from_text(text, len, &segs, &nseg, &err) != Q_OK ||
            qtext_summarize(segs, nseg, &so, &sum, &err) != Q_OK) {
            fprintf(stderr, "bench-text: summarize failed: %s\n", err.msg);
            return 1;
        }
        tot[run] = now() - t0;
        rate[run] = sum.gemm_flops / sum.secs_gemm / 1e9;
        printf("summarize run %d: %zu words, %zu sentences, %zu picked: total %.3f s "
               "(vectors %.3f, sgemm %.3f = %.1f GFLOP at %.1f GFLOP/s, rank %.3f, select %.3f)\n",
               run + 1, words, nseg, sum.n, tot[run], sum.secs_vectors, sum.secs_gemm,
               sum.gemm_flops / 1e9, rate[run], sum.secs_rank, sum.secs_select);
        qtext_summary_free(&sum);
        free(segs);
    }
    qsort(tot, RUNS, sizeof tot[0], cmp_double);
    qsort(rate, RUNS, sizeof rate[0], cmp_double);
    double summarize_s = tot[RUNS / 2], gemm_gflops = rate[RUNS / 2];
    double peak = sgemm_peak(2048, 5);
    double eff = gemm_gflops / peak;
    printf("sgemm phase (median of %d) %.1f GFLOP/s; sgemm peak (2048^3, median of 5) "
           "%.1f GFLOP/s; efficiency %.2f\n", RUNS, gemm_gflops, peak, eff);

    /* Search: 100,000 windows made from the shipped text's windows with
     * noise, 100 owners, a tenth public. */
    qtext_df df;
    qtext_df_init(&df, 18, &err);
    for (size_t c = 0; c < book.nch; c++) {
        qtext_tokens t;
        qtext_tokenize(book.ch[c], book.chlen[c], &t, &err);
        qtext_df_add(&df, &t, 0, t.n, 1, &err);
        qtext_tokens_free(&t);
    }
    qtext_window *w;
    size_t nw;
    qtext_windows(all, nall, NULL, &w, &nw, &err);
    float *base = malloc(nw * QTEXT_EMBED_DIM * sizeof *base);
    for (size_t i = 0; i < nw; i++)
        qtext_embed_window(all, &w[i], &df, base + i * QTEXT_EMBED_DIM, &err);
    qtext_index *ix = qtext_index_new();
    double tb = now();
    for (size_t r = 0; r < WINDOWS; r++) {
        float v[QTEXT_EMBED_DIM];
        const float *b = base + (r % nw) * QTEXT_EMBED_DIM;
        for (int k = 0; k < QTEXT_EMBED_DIM; k++)
            v[k] = b[k] + ((float)(xr() % 2001) / 1000.0f - 1.0f) * 0.05f;
        qtext_win_meta m = {.id = r + 1, .audiobook_id = r / 500 + 1, .owner_id = (r / 500) % 100 + 1,
                            .chapter = (uint32_t)(r % 50), .is_public = (r / 500) % 10 == 0,
                            .start = (double)(r % 500) * 45, .end = (double)(r % 500) * 45 + 45};
        if (qtext_index_add(ix, &m, v, &err) != Q_OK) {
            fprintf(stderr, "bench-text: index add failed: %s\n", err.msg);
            return 1;
        }
    }
    double load_s = now() - tb;
    double ms[QUERIES];
    qtext_hit hits[10];
    size_t nh;
    qtext_search_filter f = {.viewer_id = 7};
    qtext_search_text(ix, "warm up", 7, &df, &f, 10, hits, &nh, &err);   /* builds the resident */
    for (int q = 0; q < QUERIES; q++) {
        const qtext_seg *g = &all[xr() % nall];
        size_t ql = g->len < 80 ? g->len : 80;
        f.viewer_id = xr() % 100 + 1;
        double a = now();
        qerr e = qtext_search_text(ix, g->text, ql, &df, &f, 10, hits, &nh, &err);
        ms[q] = (now() - a) * 1e3;
        if (e && e != Q_ERR_INVALID) {
            fprintf(stderr, "bench-text: search failed: %s\n", err.msg);
            return 1;
        }
        qerr_clear(&err);
    }
    qsort(ms, QUERIES, sizeof ms[0], cmp_double);
    printf("search: %d windows (loaded in %.2f s), %d queries, k=10: p50 %.2f ms, p90 %.2f ms, "
           "max %.2f ms\n",
           WINDOWS, load_s, QUERIES, ms[QUERIES / 2], ms[QUERIES * 9 / 10], ms[QUERIES - 1]);
    printf("targets: summarize_s <= 3, gemm_eff >= 0.7, search_p50_ms <= 20\n");
    printf("bench-text: summarize_s=%.3f gemm_eff=%.2f search_p50_ms=%.2f\n", summarize_s, eff,
           ms[QUERIES / 2]);

    qtext_index_free(ix);
    qtext_df_free(&df);
    free(base);
    free(w);
    free(order);
    free(text);
    free(all);
    td_free(&book);
    return 0;
}
