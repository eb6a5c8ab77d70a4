/* text_summarize.c - extractive summaries: segments as hashed TF-IDF rows,
 * their cosine similarity matrix by one sgemm, LexRank centrality by power
 * iteration (sgemv), then MMR picks central sentences that do not repeat
 * each other (see text.h). */
#include "text.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"

struct sopts {
    double lambda, damping, threshold;
    unsigned dim;
    size_t min_words, block;
    const qtext_df *df;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Rank segs[idx[0..m)] and pick up to k of them. Writes the picks (indexes
 * into idx) to pick[] and their centrality (1 = the most central) to score[],
 * *npick their count. Adds timings to st. */
static qerr core(const qtext_seg *segs, const size_t *idx, size_t m, size_t k,
                 const struct sopts *o, size_t *pick, float *score, size_t *npick,
                 qtext_summary *st, qerrctx *err)
{
    qerr e = Q_OK;
    size_t D = o->dim;
    qtext_tokens *tok = calloc(m, sizeof *tok);
    size_t *words = calloc(m, sizeof *words);
    float *X = NULL, *S = NULL, *M = NULL, *p = NULL, *q = NULL, *maxsim = NULL;
    unsigned char *taken = NULL;
    qtext_df local = {0};
    const qtext_df *df = o->df;
    *npick = 0;
    if (!tok || !words) {
        e = qerr_set(err, Q_ERR_NOMEM, "summarize: out of memory");
        goto out;
    }

    /* Vectors: one L2-normalized hashed TF-IDF row per segment. */
    double t0 = now();
    for (size_t i = 0; i < m && !e; i++) {
        const qtext_seg *s = &segs[idx[i]];
        e = qtext_tokenize(s->text, s->len, &tok[i], err);
        for (size_t j = 0; !e && j < tok[i].n; j++)
            words[i] += !(tok[i].flags[j] & QTEXT_TOK_STOP);
    }
    if (!e && !df) {
        e = qtext_df_init(&local, 18, err);
        for (size_t i = 0; i < m && !e; i++)
            e = qtext_df_add(&local, &tok[i], 0, tok[i].n, 1, err);
        df = &local;
    }
    if (e)
        goto out;
    X = calloc(m * D, sizeof *X);
    S = malloc(m * m * sizeof *S);
    M = malloc(m * m * sizeof *M);
    p = malloc(m * sizeof *p);
    q = malloc(m * sizeof *q);
    maxsim = calloc(m, sizeof *maxsim);
    taken = calloc(m, 1);
    if (!X || !S || !M || !p || !q || !maxsim || !taken) {
        e = qerr_set(err, Q_ERR_NOMEM, "summarize: out of memory for %zu segments", m);
        goto out;
    }
    for (size_t i = 0; i < m && !e; i++) {
        qtext_svec v;
        e = qtext_tfidf(&tok[i], 0, tok[i].n, df, &v, err);
        if (!e)
            qtext_svec_to_dense(&v, X + i * D, (uint32_t)D);
        qtext_svec_free(&v);
    }
    if (e)
        goto out;
    qblas_normalize_rows((int)m, (int)D, X, (int)D);
    double t1 = now();
    st->secs_vectors += t1 - t0;

    /* Similarity: S = X X^T. */
    qblas_sgemm(QBLAS_N, QBLAS_T, (int)m, (int)m, (int)D, 1.0f, X, (int)D, X, (int)D,
                0.0f, S, (int)m);
    double t2 = now();
    st->secs_gemm += t2 - t1;
    st->gemm_flops += 2.0 * m * m * D;
    free(X);
    X = NULL;

    /* LexRank: row-stochastic M from thresholded similarities, then the
     * stationary p = (1-d)/m + d M^T p by power iteration. */
    for (size_t i = 0; i < m; i++) {
        double sum = 0;
        float *row = M + i * m;
        const float *srow = S + i * m;
        for (size_t j = 0; j < m; j++) {
            float w = srow[j];
            if (j == i || w <= 0.0f || (o->threshold >= 0 && w < o->threshold))
                w = 0.0f;
            row[j] = w;
            sum += w;
        }
        if (sum > 0) {
            float inv = (float)(1.0 / sum);
            for (size_t j = 0; j < m; j++)
                row[j] *= inv;
        } else {
            for (size_t j = 0; j < m; j++)
                row[j] = 1.0f / (float)m;
        }
    }
    for (size_t i = 0; i < m; i++)
        p[i] = 1.0f / (float)m;
    float d = (float)o->damping, base = (float)((1.0 - o->damping) / m);
    for (int it = 0; it < 200; it++) {
        qblas_sgemv(QBLAS_T, (int)m, (int)m, d, M, (int)m, p, 0.0f, q);
        double diff = 0, sum = 0;
        for (size_t i = 0; i < m; i++) {
            q[i] += base;
            sum += q[i];
        }
        for (size_t i = 0; i < m; i++) {
            q[i] = (float)(q[i] / sum);
            diff += fabs(q[i] - p[i]);
        }
        float *tmp = p;
        p = q;
        q = tmp;
        if (diff < 1e-6)
            break;
    }
    double t3 = now();
    st->secs_rank += t3 - t2;

    /* MMR over the segments with enough words (relaxed when too few). */
    size_t minw = o->min_words, eligible = 0;
    for (size_t i = 0; i < m; i++)
        eligible += words[i] >= minw;
    if (eligible < k)
        minw = 1;
    float cmax = 0;
    for (size_t i = 0; i < m; i++)
        if (p[i] > cmax)
            cmax = p[i];
    if (cmax <= 0)
        cmax = 1;
    for (size_t r = 0; r < k; r++) {
        size_t best = m;
        double bestv = -1e30;
        for (size_t i = 0; i < m; i++) {
            if (taken[i] || words[i] < minw || words[i] == 0)
                continue;
            if (r > 0 && maxsim[i] >= 0.95f)
                continue;   /* (near) duplicate of a picked segment */
            double v = o->lambda * (p[i] / cmax) - (1.0 - o->lambda) * (r ? maxsim[i] : 0.0f);
            if (v > bestv) {
                bestv = v;
                best = i;
            }
        }
        if (best == m)
            break;
        taken[best] = 1;
        pick[r] = best;
        score[r] = p[best] / cmax;
        *npick = r + 1;
        const float *col = S + best * m;   /* S is symmetric */
        for (size_t i = 0; i < m; i++)
            if (col[i] > maxsim[i])
                maxsim[i] = col[i];
    }
    st->secs_select += now() - t3;

out:
    if (tok)
        for (size_t i = 0; i < m; i++)
            qtext_tokens_free(&tok[i]);
    free(tok);
    free(words);
    free(X);
    free(S);
    free(M);
    free(p);
    free(q);
    free(maxsim);
    free(taken);
    qtext_df_free(&local);
    return e;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

void qtext_summary_free(qtext_summary *s)
{
    if (!s)
        return;
    free(s->items);
    free(s->text);
    s->items = NULL;
    s->text = NULL;
    s->n = 0;
}

/* Join the chosen segments, white space runs folded to one space. */
static char *join(const qtext_seg *segs, const qtext_summary_item *it, size_t n)
{
    size_t cap = 1;
    for (size_t i = 0; i < n; i++)
        cap += segs[it[i].index].len + 1;
    char *s = malloc(cap), *w = s;
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const qtext_seg *g = &segs[it[i].index];
        if (i)
            *w++ = ' ';
        int sp = 0;
        for (size_t j = 0; j < g->len; j++) {
            unsigned char c = (unsigned char)g->text[j];
            if (isspace(c)) {
                sp = 1;
                continue;
            }
            if (sp && w > s && w[-1] != ' ')
                *w++ = ' ';
            sp = 0;
            *w++ = (char)c;
        }
    }
    *w = 0;
    return s;
}

qerr qtext_summarize(const qtext_seg *segs, size_t n, const qtext_summary_opts *opts,
                     qtext_summary *out, qerrctx *err)
{
    static const qtext_summary_opts defaults;
    const qtext_summary_opts *uo = opts ? opts : &defaults;
    struct sopts o = {
        .lambda = uo->mmr_lambda > 0 ? uo->mmr_lambda : 0.7,
        .damping = uo->damping > 0 ? uo->damping : 0.85,
        .threshold = uo->threshold != 0 ? uo->threshold : 0.1,
        .dim = uo->dim ? uo->dim : 1024,
        .min_words = uo->min_words ? uo->min_words : 4,
        .df = uo->df,
        .block = uo->block ? (uo->block < 16 ? 16 : uo->block) : QTEXT_SUMMARY_BLOCK,
    };
    memset(out, 0, sizeof *out);
    double t0 = now();
    if (n > QTEXT_SUMMARY_MAX_SEGS)
        return qerr_set(err, Q_ERR_TOO_LARGE, "summarize: %zu segments is over the limit of %u",
                        n, QTEXT_SUMMARY_MAX_SEGS);
    if ((o.dim & (o.dim - 1)) || o.dim > (1u << 16) || o.lambda > 1 || o.damping >= 1 ||
        uo->ratio < 0 || uo->ratio > 1)
        return qerr_set(err, Q_ERR_INVALID, "summarize: bad options (dim %u must be a power "
                        "of two <= 65536, lambda <= 1, damping < 1, ratio 0..1)", o.dim);
    if (n == 0)
        return Q_OK;
    size_t k = uo->sentences;
    if (k == 0) {
        double r = uo->ratio > 0 ? uo->ratio : 0.1;
        k = (size_t)ceil(r * (double)n);
    }
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;

    qerr e = Q_OK;
    size_t m = n;
    size_t *idx = malloc(n * sizeof *idx), *next = malloc(n * sizeof *next);
    size_t *pick = malloc(n * sizeof *pick);
    float *score = malloc(n * sizeof *score);
    if (!idx || !next || !pick || !score) {
        e = qerr_set(err, Q_ERR_NOMEM, "summarize: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = i;

    /* Long inputs: keep the best of each block until one block is left. */
    while (m > o.block && !e) {
        size_t target = 3 * k < m / 2 ? 3 * k : m / 2, nn = 0;
        for (size_t b = 0; b < m && !e; b += o.block) {
            size_t bl = m - b < o.block ? m - b : o.block;
            size_t kb = (size_t)ceil((double)target * bl / m), np = 0;
            if (kb < 1)
                kb = 1;
            e = core(segs, idx + b, bl, kb, &o, pick, score, &np, out, err);
            for (size_t i = 0; i < np; i++)
                next[nn++] = idx[b + pick[i]];
        }
        if (e)
            goto out;
        qsort(next, nn, sizeof *next, cmp_size);
        if (nn >= m)
            break;   /* no progress: cannot happen with target <= m/2 */
        memcpy(idx, next, nn * sizeof *idx);
        m = nn;
    }
    size_t np = 0;
    e = core(segs, idx, m, k, &o, pick, score, &np, out, err);
    if (e)
        goto out;
    out->items = calloc(np ? np : 1, sizeof *out->items);
    if (!out->items) {
        e = qerr_set(err, Q_ERR_NOMEM, "summarize: out of memory");
        goto out;
    }
    for (size_t i = 0; i < np; i++) {
        size_t g = idx[pick[i]];
        out->items[i].index = g;
        out->items[i].start = segs[g].start;
        out->items[i].end = segs[g].end;
        out->items[i].score = score[i];
    }
    out->n = np;
    /* Input order: sort by index (np is small). */
    for (size_t i = 1; i < np; i++)
        for (size_t j = i; j > 0 && out->items[j - 1].index > out->items[j].index; j--) {
            qtext_summary_item t = out->items[j];
            out->items[j] = out->items[j - 1];
            out->items[j - 1] = t;
        }
    out->text = join(segs, out->items, np);
    if (!out->text)
        e = qerr_set(err, Q_ERR_NOMEM, "summarize: out of memory");
out:
    free(idx);
    free(next);
    free(pick);
    free(score);
    if (e)
        qtext_summary_free(out);
    out->secs_total = now() - t0;
    return e;
}

qerr qtext_summarize_book(const qtext_seg *segs, size_t n, const size_t *chapter_first,
                          size_t nch, const qtext_summary_opts *chapter_opts,
                          const qtext_summary_opts *book_opts, qtext_summary *chapters,
                          qtext_summary *book, qerrctx *err)
{
    memset(book, 0, sizeof *book);
    for (size_t c = 0; c < nch; c++)
        memset(&chapters[c], 0, sizeof chapters[c]);
    if (nch == 0 || chapter_first[0] != 0)
        return qerr_set(err, Q_ERR_INVALID, "summarize: the first chapter must start at 0");
    for (size_t c = 1; c < nch; c++)
        if (chapter_first[c] < chapter_first[c - 1] || chapter_first[c] > n)
            return qerr_set(err, Q_ERR_INVALID, "summarize: chapter %zu starts at %zu, out of "
                            "order or past %zu segments", c, chapter_first[c], n);
    qerr e = Q_OK;
    size_t total = 0;
    for (size_t c = 0; c < nch && !e; c++) {
        size_t first = chapter_first[c], end = c + 1 < nch ? chapter_first[c + 1] : n;
        e = qtext_summarize(segs + first, end - first, chapter_opts, &chapters[c], err);
        for (size_t i = 0; !e && i < chapters[c].n; i++)
            chapters[c].items[i].index += first;
        total += chapters[c].n;
    }
    qtext_seg *u = NULL;
    size_t *map = NULL;
    if (!e && total) {
        u = malloc(total * sizeof *u);
        map = malloc(total * sizeof *map);
        if (!u || !map)
            e = qerr_set(err, Q_ERR_NOMEM, "summarize: out of memory");
    }
    if (!e && total) {
        size_t k = 0;
        for (size_t c = 0; c < nch; c++)
            for (size_t i = 0; i < chapters[c].n; i++) {
                map[k] = chapters[c].items[i].index;
                u[k] = segs[map[k]];
                k++;
            }
        qtext_summary_opts bo = {.sentences = nch > 5 ? nch : 5};
        e = qtext_summarize(u, total, book_opts ? book_opts : &bo, book, err);
        for (size_t i = 0; !e && i < book->n; i++)
            book->items[i].index = map[book->items[i].index];
    }
    free(u);
    free(map);
    if (e) {
        for (size_t c = 0; c < nch; c++)
            qtext_summary_free(&chapters[c]);
        qtext_summary_free(book);
    }
    return e;
}
