/* text_vec.c - document frequencies and hashed TF-IDF vectors (see
 * text_vec.h). */
#include "text_vec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

qerr qtext_df_init(qtext_df *df, unsigned bits, qerrctx *err)
{
    memset(df, 0, sizeof *df);
    if (bits == 0)
        bits = QTEXT_DF_BITS_DEFAULT;
    if (bits > QTEXT_DF_BITS_MAX)
        return qerr_set(err, Q_ERR_INVALID, "document frequency table of 2^%u is too big", bits);
    df->count = calloc((size_t)1 << bits, sizeof *df->count);
    if (!df->count)
        return qerr_set(err, Q_ERR_NOMEM, "document frequency table: out of memory");
    df->bits = bits;
    return Q_OK;
}

void qtext_df_free(qtext_df *df)
{
    if (!df)
        return;
    free(df->count);
    memset(df, 0, sizeof *df);
}

uint32_t qtext_phrase_hash(const qtext_tokens *t, size_t i, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t k = 0; k < n; k++) {
        if (k) {
            h ^= ' ';
            h *= 16777619u;
        }
        for (const unsigned char *p = (const unsigned char *)t->word[i + k]; *p; p++) {
            h ^= *p;
            h *= 16777619u;
        }
    }
    return h;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

qerr qtext_df_add(qtext_df *df, const qtext_tokens *t, size_t first, size_t count,
                  unsigned max_ngram, qerrctx *err)
{
    if (first > t->n)
        first = t->n;
    if (count > t->n - first)
        count = t->n - first;
    if (max_ngram < 1)
        max_ngram = 1;
    if (max_ngram > QTEXT_NGRAM_MAX)
        max_ngram = QTEXT_NGRAM_MAX;
    df->ndocs++;
    if (count == 0)
        return Q_OK;
    uint32_t *h = malloc(count * max_ngram * sizeof *h);
    if (!h)
        return qerr_set(err, Q_ERR_NOMEM, "document frequencies: out of memory");
    size_t nh = 0;
    for (size_t i = first; i < first + count; i++) {
        if (t->flags[i] & QTEXT_TOK_STOP)
            continue;
        h[nh++] = t->hash[i];
        for (size_t n = 2; n <= max_ngram && i + n <= first + count; n++) {
            size_t j = i + n - 1;
            if (t->flags[j] & (QTEXT_TOK_STOP | QTEXT_TOK_BREAK))
                break;
            h[nh++] = qtext_phrase_hash(t, i, n);
        }
    }
    qsort(h, nh, sizeof *h, cmp_u32);
    uint32_t mask = ((uint32_t)1 << df->bits) - 1;
    for (size_t i = 0; i < nh; i++)
        if (i == 0 || h[i] != h[i - 1])
            if (df->count[h[i] & mask] != UINT32_MAX)
                df->count[h[i] & mask]++;
    free(h);
    return Q_OK;
}

float qtext_df_idf(const qtext_df *df, uint32_t hash)
{
    if (!df || !df->count || df->ndocs == 0)
        return 1.0f;
    uint32_t c = df->count[hash & (((uint32_t)1 << df->bits) - 1)];
    return (float)(log((1.0 + (double)df->ndocs) / (1.0 + c)) + 1.0);
}

size_t qtext_df_blob_size(const qtext_df *df)
{
    return 16 + ((size_t)4 << df->bits);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void qtext_df_serialize(const qtext_df *df, uint8_t *out)
{
    memcpy(out, "QDF1", 4);
    put32(out + 4, df->bits);
    put32(out + 8, (uint32_t)df->ndocs);
    put32(out + 12, (uint32_t)(df->ndocs >> 32));
    for (size_t i = 0; i < (size_t)1 << df->bits; i++)
        put32(out + 16 + 4 * i, df->count[i]);
}

qerr qtext_df_deserialize(qtext_df *df, const uint8_t *blob, size_t len, qerrctx *err)
{
    memset(df, 0, sizeof *df);
    if (len < 16 || memcmp(blob, "QDF1", 4) != 0)
        return qerr_set(err, Q_ERR_INVALID, "document frequencies: not a QDF1 blob");
    uint32_t bits = get32(blob + 4);
    if (bits < 1 || bits > QTEXT_DF_BITS_MAX || len != 16 + ((size_t)4 << bits))
        return qerr_set(err, Q_ERR_INVALID, "document frequencies: bad size (%zu bytes, 2^%u)",
                        len, bits);
    qerr e = qtext_df_init(df, bits, err);
    if (e)
        return e;
    df->ndocs = (uint64_t)get32(blob + 8) | (uint64_t)get32(blob + 12) << 32;
    for (size_t i = 0; i < (size_t)1 << bits; i++)
        df->count[i] = get32(blob + 16 + 4 * i);
    return Q_OK;
}

void qtext_svec_free(qtext_svec *v)
{
    if (!v)
        return;
    free(v->f);
    v->f = NULL;
    v->n = 0;
}

qerr qtext_tfidf(const qtext_tokens *t, size_t first, size_t count, const qtext_df *df,
                 qtext_svec *out, qerrctx *err)
{
    out->n = 0;
    out->f = NULL;
    if (first > t->n)
        first = t->n;
    if (count > t->n - first)
        count = t->n - first;
    size_t m = 0;
    for (size_t i = first; i < first + count; i++)
        m += !(t->flags[i] & QTEXT_TOK_STOP);
    if (m == 0)
        return Q_OK;
    uint32_t *h = malloc(m * sizeof *h);
    qtext_feat *f = malloc(m * sizeof *f);
    if (!h || !f) {
        free(h);
        free(f);
        return qerr_set(err, Q_ERR_NOMEM, "tf-idf: out of memory");
    }
    m = 0;
    for (size_t i = first; i < first + count; i++)
        if (!(t->flags[i] & QTEXT_TOK_STOP))
            h[m++] = t->hash[i];
    qsort(h, m, sizeof *h, cmp_u32);
    size_t n = 0;
    double ss = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && h[j] == h[i])
            j++;
        float w = (1.0f + logf((float)(j - i))) * qtext_df_idf(df, h[i]);
        f[n].hash = h[i];
        f[n].w = w;
        ss += (double)w * w;
        n++;
        i = j;
    }
    free(h);
    float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
    for (size_t i = 0; i < n; i++)
        f[i].w *= inv;
    out->n = n;
    out->f = f;
    return Q_OK;
}

void qtext_svec_to_dense(const qtext_svec *v, float *row, uint32_t dim)
{
    uint32_t mask = dim - 1;
    for (size_t i = 0; i < v->n; i++) {
        uint32_t h = v->f[i].hash;
        row[h & mask] += (h >> 31) ? -v->f[i].w : v->f[i].w;
    }
}
