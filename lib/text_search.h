/* text_search.h - an in-memory search index over window embeddings: one
 * matrix of L2-normalized 256-dim rows with their ids, owner and
 * visibility; a query is scored against every row by one sgemv on the BLAS
 * layer (on the GPU the matrix stays in device memory), filtered, and the
 * top k returned. A worker or API process keeps one index, loads it from the
 * stored embeddings, and refreshes an audiobook's rows when they change.
 *
 * Thread safety: any number of threads may search at once; add and remove
 * take an internal write lock (a write waits for the searches under way). */
#ifndef QUIRE_TEXT_SEARCH_H
#define QUIRE_TEXT_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "text_embed.h"

#define QTEXT_INDEX_MAX_ROWS (16u << 20)
#define QTEXT_SEARCH_MAX_K 1000
#define QTEXT_QUERY_MAX 4096          /* bytes of query text */

/* What the index keeps per window (the text stays in the database). */
typedef struct qtext_win_meta {
    uint64_t id;              /* the window's row id */
    uint64_t audiobook_id;
    uint64_t owner_id;        /* user who owns the audiobook */
    uint32_t chapter;         /* chapter number, 0 when none */
    uint8_t is_public;        /* visible to every user */
    double start, end;        /* seconds in the audiobook */
} qtext_win_meta;

/* Extra test on a row: non-zero keeps it. */
typedef int (*qtext_search_pred)(const qtext_win_meta *m, void *arg);

/* Which rows a search may return. Visibility always applies: an admin sees
 * every row, any other viewer rows they own or that are public. On top of
 * that, each set field narrows further. */
typedef struct qtext_search_filter {
    uint64_t viewer_id;
    int viewer_is_admin;
    uint64_t audiobook_id;         /* 0: any audiobook */
    const uint64_t *allowed;       /* non-NULL: only these audiobook ids, */
    size_t nallowed;               /*   sorted ascending                   */
    qtext_search_pred pred;        /* non-NULL: only rows it keeps */
    void *pred_arg;
} qtext_search_filter;

typedef struct qtext_hit {
    qtext_win_meta meta;
    float score;                   /* cosine similarity, -1..1 */
} qtext_hit;

typedef struct qtext_index qtext_index;

qtext_index *qtext_index_new(void);          /* NULL when out of memory */
void qtext_index_free(qtext_index *ix);      /* accepts NULL */

/* Add a window; vec (QTEXT_EMBED_DIM floats) is copied and normalized.
 * Errors: Q_ERR_TOO_LARGE past QTEXT_INDEX_MAX_ROWS, Q_ERR_NOMEM. */
qerr qtext_index_add(qtext_index *ix, const qtext_win_meta *m, const float *vec,
                     qerrctx *err);
/* Drop every row of an audiobook (before re-adding it); returns how many. */
size_t qtext_index_remove_audiobook(qtext_index *ix, uint64_t audiobook_id);
size_t qtext_index_size(qtext_index *ix);

/* The k best rows for query vector q (QTEXT_EMBED_DIM floats; need not be
 * normalized) that pass f, best first, into hits[0..*nhits) (caller's array
 * of k). f is required. Errors: Q_ERR_INVALID for k outside
 * 1..QTEXT_SEARCH_MAX_K or no filter, Q_ERR_NOMEM. */
qerr qtext_index_search(qtext_index *ix, const float *q, const qtext_search_filter *f,
                        size_t k, qtext_hit *hits, size_t *nhits, qerrctx *err);

/* Embed query text (as qtext_embed_text, with the library's df or NULL) and
 * search. Errors: those of both, Q_ERR_TOO_LARGE over QTEXT_QUERY_MAX bytes,
 * Q_ERR_INVALID for a query with no words to search for. */
qerr qtext_search_text(qtext_index *ix, const char *query, size_t len, const qtext_df *df,
                       const qtext_search_filter *f, size_t k, qtext_hit *hits,
                       size_t *nhits, qerrctx *err);

#endif
