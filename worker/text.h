/* text.h - the worker's text engines: extractive summaries
 * (text_summarize.c) and keyphrase tags (text_tags.c). Plain C data in and
 * out; the summarize and tag jobs turn them into JSON and rows. Embeddings
 * and search live in lib/ (text_embed.h, text_search.h) because quire-api
 * uses them too. */
#ifndef QUIRE_WORKER_TEXT_H
#define QUIRE_WORKER_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "text_tokenize.h"
#include "text_vec.h"

/* Inputs longer than this many segments are summarized in blocks of
 * QTEXT_SUMMARY_BLOCK whose best sentences are then ranked together. */
#define QTEXT_SUMMARY_BLOCK 4096
#define QTEXT_SUMMARY_MAX_SEGS (1u << 20)

typedef struct qtext_summary_opts {
    size_t sentences;     /* how many sentences; 0: use ratio */
    double ratio;         /* share of the input's sentences when sentences is 0
                             (0 means 0.1); the result has at least one */
    double mmr_lambda;    /* MMR: weight of centrality against redundancy,
                             0..1 (0 means 0.7) */
    double damping;       /* PageRank damping (0 means 0.85) */
    double threshold;     /* similarities below this are no graph edge
                             (0 means 0.1; negative: keep all) */
    unsigned dim;         /* hashed feature dimensions, a power of two
                             (0 means 1024) */
    size_t min_words;     /* only segments with at least this many non-stopword
                             words are picked (0 means 4; relaxed when too few) */
    const qtext_df *df;   /* library document frequencies, or NULL to compute
                             IDF over the input's own segments */
    size_t block;         /* block size for long inputs (0 means
                             QTEXT_SUMMARY_BLOCK; at least 16) */
} qtext_summary_opts;

typedef struct qtext_summary_item {
    size_t index;         /* position of the segment in the input array */
    double start, end;    /* the segment's source times (copied; <0: none) */
    float score;          /* centrality, 1 for the most central segment */
} qtext_summary_item;

typedef struct qtext_summary {
    size_t n;
    qtext_summary_item *items;   /* n items in input order */
    char *text;                  /* the chosen segments joined by one space */
    /* Where the time went (seconds) and the work of the similarity sgemm. */
    double secs_total, secs_vectors, secs_gemm, secs_rank, secs_select;
    double gemm_flops;
} qtext_summary;

/* Summarize segs[0..n) (sentences of a text or pause-delimited transcript
 * segments). opts may be NULL for the defaults. On success *out owns items
 * and text; free with qtext_summary_free. An empty input gives n = 0.
 * Errors: Q_ERR_TOO_LARGE over QTEXT_SUMMARY_MAX_SEGS, Q_ERR_INVALID for bad
 * options, Q_ERR_NOMEM. */
qerr qtext_summarize(const qtext_seg *segs, size_t n, const qtext_summary_opts *opts,
                     qtext_summary *out, qerrctx *err);
void qtext_summary_free(qtext_summary *s);   /* accepts NULL */

/* Chapter summaries and a book summary in one call. chapter_first[c] is the
 * index of chapter c's first segment (ascending, the first one 0); a chapter
 * ends where the next begins, the last at n. Each chapter is summarized with
 * chapter_opts (NULL: defaults); the book summary then ranks the union of
 * the chapters' picks with book_opts (NULL: max(5, nch) sentences). All item
 * indexes are into segs. chapters is the caller's array of nch summaries;
 * on success the caller frees each and *book with qtext_summary_free; on
 * error all are freed. Errors: Q_ERR_INVALID for bad chapter bounds, and
 * those of qtext_summarize. */
qerr qtext_summarize_book(const qtext_seg *segs, size_t n, const size_t *chapter_first,
                          size_t nch, const qtext_summary_opts *chapter_opts,
                          const qtext_summary_opts *book_opts, qtext_summary *chapters,
                          qtext_summary *book, qerrctx *err);

typedef struct qtext_tag_opts {
    size_t max_tags;      /* 0 means 10 */
    unsigned max_ngram;   /* longest phrase in words (0 means 3, at most
                             QTEXT_NGRAM_MAX) */
    unsigned window;      /* co-occurrence window in words (0 means 4) */
    double tfidf_weight;  /* score = w * tfidf + (1 - w) * textrank, both scaled
                             to 1 at their maximum (0 means 0.5; negative: 0) */
    const qtext_df *df;   /* library document frequencies (words and phrases,
                             counted with max_ngram >= this max_ngram), or NULL */
} qtext_tag_opts;

typedef struct qtext_tag {
    char *phrase;         /* lowercase words joined by one space */
    float score;          /* 0..1, the best tag has the highest */
    uint32_t count;       /* occurrences in the text */
} qtext_tag;

typedef struct qtext_tags {
    size_t n;
    qtext_tag *tags;      /* best first */
} qtext_tags;

#define QTEXT_TAGS_MAX_INPUT (8u << 20)   /* bytes; about 80 hours of speech */

/* Keyphrases of text[0..len). On success *out owns the tags and their
 * phrases; free with qtext_tags_free. Errors: Q_ERR_TOO_LARGE over
 * QTEXT_TAGS_MAX_INPUT, Q_ERR_NOMEM. */
qerr qtext_tags_extract(const char *text, size_t len, const qtext_tag_opts *opts,
                        qtext_tags *out, qerrctx *err);
void qtext_tags_free(qtext_tags *t);   /* accepts NULL */

#endif
