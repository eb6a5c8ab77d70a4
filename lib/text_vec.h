/* text_vec.h - TF-IDF with feature hashing: document frequencies over the
 * hashed feature space, sparse L2-normalized TF-IDF vectors, and their dense
 * (signed, hashed) form for the BLAS layer. Features are words that are not
 * stopwords, and (for keyphrases) stopword-free n-grams, named by hash. */
#ifndef QUIRE_TEXT_VEC_H
#define QUIRE_TEXT_VEC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "text_tokenize.h"

#define QTEXT_DF_BITS_DEFAULT 20      /* 1M counters, 4 MiB */
#define QTEXT_DF_BITS_MAX 26
#define QTEXT_NGRAM_MAX 4

/* Document frequencies: count[h & mask] is how many documents held a
 * feature with hash h (collisions add up, which only lowers IDF). A library
 * keeps one of these over all its transcripts; a single text may build one
 * over its own sentences. Owns count; free with qtext_df_free. */
typedef struct qtext_df {
    unsigned bits;
    uint32_t *count;
    uint64_t ndocs;
} qtext_df;

/* bits 0 means QTEXT_DF_BITS_DEFAULT; at most QTEXT_DF_BITS_MAX. */
qerr qtext_df_init(qtext_df *df, unsigned bits, qerrctx *err);
void qtext_df_free(qtext_df *df);   /* accepts NULL */

/* Count tokens [first, first+count) of t as one document: each distinct
 * non-stopword word once, and each distinct phrase of 2..max_ngram words
 * that has no stopword and no punctuation inside once (max_ngram <= 1: words
 * only). Errors: Q_ERR_NOMEM. */
qerr qtext_df_add(qtext_df *df, const qtext_tokens *t, size_t first, size_t count,
                  unsigned max_ngram, qerrctx *err);

/* Smoothed IDF of a feature: ln((1 + N) / (1 + df)) + 1; 1 when df is NULL
 * or empty. */
float qtext_df_idf(const qtext_df *df, uint32_t hash);

/* Serialized form for a database BLOB: "QDF1", bits (u32), ndocs (u64),
 * then 1<<bits u32 counts, all little-endian. */
size_t qtext_df_blob_size(const qtext_df *df);
void qtext_df_serialize(const qtext_df *df, uint8_t *out);   /* out: blob_size bytes */
/* Errors: Q_ERR_INVALID for a malformed blob, Q_ERR_NOMEM. */
qerr qtext_df_deserialize(qtext_df *df, const uint8_t *blob, size_t len, qerrctx *err);

/* Hash of the phrase of n words starting at token i, as if its words were
 * joined by single spaces. */
uint32_t qtext_phrase_hash(const qtext_tokens *t, size_t i, size_t n);

typedef struct qtext_feat {
    uint32_t hash;
    float w;
} qtext_feat;

/* A sparse vector sorted by hash, no duplicates. Owns f. */
typedef struct qtext_svec {
    size_t n;
    qtext_feat *f;
} qtext_svec;

/* TF-IDF of the non-stopword words among tokens [first, first+count):
 * weight (1 + ln tf) * idf, then L2-normalized (an empty range gives n = 0).
 * Errors: Q_ERR_NOMEM. */
qerr qtext_tfidf(const qtext_tokens *t, size_t first, size_t count, const qtext_df *df,
                 qtext_svec *out, qerrctx *err);
void qtext_svec_free(qtext_svec *v);   /* accepts NULL */

/* Add v into the dense row[dim] (dim a power of two, at most 2^30) by signed
 * feature hashing: row[h & (dim-1)] += (bit 31 of h ? -w : w). The expected
 * dot product of two such rows is the dot product of the sparse vectors. */
void qtext_svec_to_dense(const qtext_svec *v, float *row, uint32_t dim);

#endif
