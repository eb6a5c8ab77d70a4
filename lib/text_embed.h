/* text_embed.h - transcript windows of about 30-60 s and their 256-dim
 * float32 embeddings (hashed TF-IDF through a fixed seeded random
 * projection, L2-normalized), with a byte form for a MariaDB BLOB.
 *
 * Why a random projection and not LSA: the projection is a pure function of
 * the words (seed and hash fixed forever), so a vector stored today stays
 * comparable with every vector and query made later, on any worker or API
 * process, with no shared model to train, store, version and roll out, and
 * it works from the first audiobook. LSA would need the whole library's text
 * to fit, and each refit changes the basis, which forces re-embedding every
 * stored window. The blob carries a model number so an LSA model can be
 * added later beside this one. */
#ifndef QUIRE_TEXT_EMBED_H
#define QUIRE_TEXT_EMBED_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "text_tokenize.h"
#include "text_vec.h"

#define QTEXT_EMBED_DIM 256
#define QTEXT_EMBED_MODEL 1               /* random projection, FNV-1a, seed below */
#define QTEXT_EMBED_SEED 0x71756972655f7270ull
#define QTEXT_EMBED_BLOB_SIZE (8 + 4 * QTEXT_EMBED_DIM)

/* A window: segments [first, first+count) of the input, from start to end
 * seconds (estimated from word counts when the input has no times). */
typedef struct qtext_window {
    size_t first, count;
    double start, end;
} qtext_window;

typedef struct qtext_window_opts {
    double min_s;            /* 0 means 30 */
    double target_s;         /* close a window once it is this long; 0 means 45 */
    double max_s;            /* do not grow past this (unless one segment is
                                longer); 0 means 60 */
    double words_per_s;      /* speaking rate for untimed text; 0 means 2.5 */
} qtext_window_opts;

/* Cut segs[0..n) into windows in order. Timed input: every segment has
 * start >= 0; otherwise times are estimated from word counts. A last window
 * shorter than min_s/2 is merged into the one before. *out (caller frees with
 * free()) holds *nout windows. Errors: Q_ERR_NOMEM. */
qerr qtext_windows(const qtext_seg *segs, size_t n, const qtext_window_opts *opts,
                   qtext_window **out, size_t *nout, qerrctx *err);

/* The embedding of text[0..len) (a window's text or a search query) into
 * out[QTEXT_EMBED_DIM]: TF-IDF of its words (IDF from df, or 1 when df is
 * NULL), each word's weight times its fixed random +-1/16 vector, summed and
 * L2-normalized. Text without content words gives the zero vector. Errors:
 * as qtext_tokenize. */
qerr qtext_embed_text(const char *text, size_t len, const qtext_df *df, float *out,
                      qerrctx *err);

/* The same for the segments of one window, treated as one text. */
qerr qtext_embed_window(const qtext_seg *segs, const qtext_window *w, const qtext_df *df,
                        float *out, qerrctx *err);

/* Blob: "QE", model (u8), 0 (u8), dim (u32), then dim float32, all
 * little-endian; QTEXT_EMBED_BLOB_SIZE bytes. */
void qtext_embed_serialize(const float *v, uint8_t *out);
/* Errors: Q_ERR_INVALID when blob is not a model-1, 256-dim vector. */
qerr qtext_embed_deserialize(const uint8_t *blob, size_t len, float *v, qerrctx *err);

#endif
