/* text_search.c - the in-memory window index and its top-k search by sgemv
 * (see text_search.h). */
#include "text_search.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"

#define DIM QTEXT_EMBED_DIM

struct qtext_index {
    pthread_rwlock_t lock;      /* read: search; write: add/remove */
    pthread_mutex_t res_lock;   /* guards building res under a read lock */
    size_t n, cap;
    float *mat;                 /* n rows of DIM floats (cap allocated) */
    qtext_win_meta *meta;
    qblas_resident *res;        /* mat on the BLAS backend; NULL when stale */
};

qtext_index *qtext_index_new(void)
{
    qtext_index *ix = calloc(1, sizeof *ix);
    if (!ix)
        return NULL;
    if (pthread_rwlock_init(&ix->lock, NULL) != 0) {
        free(ix);
        return NULL;
    }
    pthread_mutex_init(&ix->res_lock, NULL);
    return ix;
}

void qtext_index_free(qtext_index *ix)
{
    if (!ix)
        return;
    qblas_resident_free(ix->res);
    free(ix->mat);
    free(ix->meta);
    pthread_rwlock_destroy(&ix->lock);
    pthread_mutex_destroy(&ix->res_lock);
    free(ix);
}

qerr qtext_index_add(qtext_index *ix, const qtext_win_meta *m, const float *vec,
                     qerrctx *err)
{
    qerr e = Q_OK;
    pthread_rwlock_wrlock(&ix->lock);
    if (ix->n >= QTEXT_INDEX_MAX_ROWS) {
        e = qerr_set(err, Q_ERR_TOO_LARGE, "search index is full (%u windows)",
                     QTEXT_INDEX_MAX_ROWS);
        goto out;
    }
    if (ix->n == ix->cap) {
        size_t cap = ix->cap ? ix->cap * 2 : 1024;
        float *mat = realloc(ix->mat, cap * DIM * sizeof *mat);
        if (mat)
            ix->mat = mat;
        qtext_win_meta *meta = mat ? realloc(ix->meta, cap * sizeof *meta) : NULL;
        if (!mat || !meta) {
            e = qerr_set(err, Q_ERR_NOMEM, "search index: out of memory at %zu windows", ix->n);
            goto out;
        }
        ix->meta = meta;
        ix->cap = cap;
    }
    float *row = ix->mat + ix->n * DIM;
    memcpy(row, vec, DIM * sizeof *row);
    for (int i = 0; i < DIM; i++)
        if (!isfinite(row[i]))
            row[i] = 0.0f;
    qblas_normalize_rows(1, DIM, row, DIM);
    ix->meta[ix->n++] = *m;
    qblas_resident_free(ix->res);
    ix->res = NULL;
out:
    pthread_rwlock_unlock(&ix->lock);
    return e;
}

size_t qtext_index_remove_audiobook(qtext_index *ix, uint64_t audiobook_id)
{
    size_t w = 0, removed;
    pthread_rwlock_wrlock(&ix->lock);
    for (size_t r = 0; r < ix->n; r++) {
        if (ix->meta[r].audiobook_id == audiobook_id)
            continue;
        if (w != r) {
            ix->meta[w] = ix->meta[r];
            memcpy(ix->mat + w * DIM, ix->mat + r * DIM, DIM * sizeof(float));
        }
        w++;
    }
    removed = ix->n - w;
    ix->n = w;
    if (removed) {
        qblas_resident_free(ix->res);
        ix->res = NULL;
    }
    pthread_rwlock_unlock(&ix->lock);
    return removed;
}

size_t qtext_index_size(qtext_index *ix)
{
    pthread_rwlock_rdlock(&ix->lock);
    size_t n = ix->n;
    pthread_rwlock_unlock(&ix->lock);
    return n;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int passes(const qtext_win_meta *m, const qtext_search_filter *f)
{
    if (!f->viewer_is_admin && m->owner_id != f->viewer_id && !m->is_public)
        return 0;
    if (f->audiobook_id && m->audiobook_id != f->audiobook_id)
        return 0;
    if (f->allowed && !bsearch(&m->audiobook_id, f->allowed, f->nallowed,
                               sizeof *f->allowed, cmp_u64))
        return 0;
    if (f->pred && !f->pred(m, f->pred_arg))
        return 0;
    return 1;
}

struct hent {
    float s;
    size_t row;
};

/* Min-heap on score: the root is the worst of the best k so far. */
static void sift_down(struct hent *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].s < h[m].s)
            m = l;
        if (r < n && h[r].s < h[m].s)
            m = r;
        if (m == i)
            return;
        struct hent t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void sift_up(struct hent *h, size_t i)
{
    while (i > 0 && h[(i - 1) / 2].s > h[i].s) {
        struct hent t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static int cmp_hent_desc(const void *a, const void *b)
{
    const struct hent *x = a, *y = b;
    if (x->s != y->s)
        return x->s < y->s ? 1 : -1;
    return x->row < y->row ? -1 : x->row > y->row;
}

qerr qtext_index_search(qtext_index *ix, const float *q, const qtext_search_filter *f,
                        size_t k, qtext_hit *hits, size_t *nhits, qerrctx *err)
{
    *nhits = 0;
    if (!f)
        return qerr_set(err, Q_ERR_INVALID, "search: a visibility filter is required");
    if (k < 1 || k > QTEXT_SEARCH_MAX_K)
        return qerr_set(err, Q_ERR_INVALID, "search: limit %zu is not within 1..%u", k,
                        QTEXT_SEARCH_MAX_K);
    float qn[DIM];
    memcpy(qn, q, sizeof qn);
    qblas_normalize_rows(1, DIM, qn, DIM);

    qerr e = Q_OK;
    float *score = NULL;
    struct hent *heap = NULL;
    pthread_rwlock_rdlock(&ix->lock);
    size_t n = ix->n;
    if (n == 0)
        goto out;
    pthread_mutex_lock(&ix->res_lock);
    if (!ix->res)
        ix->res = qblas_resident_new(ix->mat, (int)n, DIM, DIM);
    qblas_resident *res = ix->res;
    pthread_mutex_unlock(&ix->res_lock);
    score = malloc(n * sizeof *score);
    heap = malloc(k * sizeof *heap);
    if (!res || !score || !heap) {
        e = qerr_set(err, Q_ERR_NOMEM, "search: out of memory for %zu windows", n);
        goto out;
    }
    qblas_resident_gemv(res, qn, score);
    size_t nh = 0;
    for (size_t r = 0; r < n; r++) {
        float s = score[r];
        if (!(s == s))
            continue;   /* NaN */
        if (nh == k && s <= heap[0].s)
            continue;
        if (!passes(&ix->meta[r], f))
            continue;
        if (nh < k) {
            heap[nh].s = s;
            heap[nh].row = r;
            sift_up(heap, nh++);
        } else {
            heap[0].s = s;
            heap[0].row = r;
            sift_down(heap, nh, 0);
        }
    }
    qsort(heap, nh, sizeof *heap, cmp_hent_desc);
    for (size_t i = 0; i < nh; i++) {
        hits[i].meta = ix->meta[heap[i].row];
        hits[i].score = heap[i].s;
    }
    *nhits = nh;
out:
    pthread_rwlock_unlock(&ix->lock);
    free(score);
    free(heap);
    return e;
}

qerr qtext_search_text(qtext_index *ix, const char *query, size_t len, const qtext_df *df,
                       const qtext_search_filter *f, size_t k, qtext_hit *hits,
                       size_t *nhits, qerrctx *err)
{
    float q[DIM];
    *nhits = 0;
    if (len > QTEXT_QUERY_MAX)
        return qerr_set(err, Q_ERR_TOO_LARGE, "search: the query is over %d bytes",
                        QTEXT_QUERY_MAX);
    qerr e = qtext_embed_text(query, len, df, q, err);
    if (e)
        return e;
    if (qblas_snrm2(DIM, q) == 0.0f)
        return qerr_set(err, Q_ERR_INVALID, "search: the query has no words to search for");
    return qtext_index_search(ix, q, f, k, hits, nhits, err);
}
