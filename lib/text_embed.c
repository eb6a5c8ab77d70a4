/* text_embed.c - windows and random-projection embeddings (see
 * text_embed.h). */
#include "text_embed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"

qerr qtext_windows(const qtext_seg *segs, size_t n, const qtext_window_opts *opts,
                   qtext_window **out, size_t *nout, qerrctx *err)
{
    static const qtext_window_opts defaults;
    const qtext_window_opts *o = opts ? opts : &defaults;
    double min_s = o->min_s > 0 ? o->min_s : 30, target = o->target_s > 0 ? o->target_s : 45;
    double max_s = o->max_s > 0 ? o->max_s : 60, wps = o->words_per_s > 0 ? o->words_per_s : 2.5;
    *out = NULL;
    *nout = 0;
    if (n == 0)
        return Q_OK;
    double *st = malloc(n * sizeof *st), *en = malloc(n * sizeof *en);
    qtext_window *w = malloc(n * sizeof *w);
    if (!st || !en || !w) {
        free(st);
        free(en);
        free(w);
        return qerr_set(err, Q_ERR_NOMEM, "windows: out of memory");
    }
    int timed = 1;
    for (size_t i = 0; i < n; i++)
        timed &= segs[i].start >= 0 && segs[i].end >= segs[i].start;
    double clock = 0;
    for (size_t i = 0; i < n; i++) {
        if (timed) {
            st[i] = segs[i].start;
            en[i] = segs[i].end;
            continue;
        }
        size_t words = 0;
        int inword = 0;
        for (size_t j = 0; j < segs[i].len; j++) {
            unsigned char c = (unsigned char)segs[i].text[j];
            int wc = c > ' ';
            words += wc && !inword;
            inword = wc;
        }
        st[i] = clock;
        clock += (double)words / wps;
        en[i] = clock;
    }
    size_t nw = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n) {
            double cur = en[j] - st[i], next = en[j + 1] - st[i];
            if (cur >= target || (next > max_s && cur >= min_s))
                break;
            j++;
        }
        w[nw].first = i;
        w[nw].count = j - i + 1;
        w[nw].start = st[i];
        w[nw].end = en[j];
        nw++;
        i = j + 1;
    }
    if (nw >= 2 && w[nw - 1].end - w[nw - 1].start < min_s / 2) {
        w[nw - 2].count += w[nw - 1].count;
        w[nw - 2].end = w[nw - 1].end;
        nw--;
    }
    free(st);
    free(en);
    *out = w;
    *nout = nw;
    return Q_OK;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The fixed random vector of feature hash h: entries +-1/sqrt(dim). */
static void feature_vector(uint32_t h, float *r)
{
    uint64_t s = QTEXT_EMBED_SEED ^ ((uint64_t)h * 0xd6e8feb86659fd93ull);
    const float a = 1.0f / 16.0f;   /* 1/sqrt(256) */
    for (int b = 0; b < QTEXT_EMBED_DIM; b += 64) {
        uint64_t bits = splitmix64(&s);
        for (int i = 0; i < 64; i++)
            r[b + i] = (bits >> i) & 1 ? a : -a;
    }
}

static void project(const qtext_svec *v, float *out)
{
    float r[QTEXT_EMBED_DIM];
    memset(out, 0, QTEXT_EMBED_DIM * sizeof *out);
    for (size_t i = 0; i < v->n; i++) {
        feature_vector(v->f[i].hash, r);
        qblas_saxpy(QTEXT_EMBED_DIM, v->f[i].w, r, out);
    }
    qblas_normalize_rows(1, QTEXT_EMBED_DIM, out, QTEXT_EMBED_DIM);
}

qerr qtext_embed_text(const char *text, size_t len, const qtext_df *df, float *out,
                      qerrctx *err)
{
    qtext_tokens t;
    qtext_svec v = {0};
    qerr e = qtext_tokenize(text, len, &t, err);
    if (!e)
        e = qtext_tfidf(&t, 0, t.n, df, &v, err);
    if (!e)
        project(&v, out);
    qtext_svec_free(&v);
    qtext_tokens_free(&t);
    return e;
}

qerr qtext_embed_window(const qtext_seg *segs, const qtext_window *w, const qtext_df *df,
                        float *out, qerrctx *err)
{
    size_t len = 0;
    for (size_t i = 0; i < w->count; i++)
        len += segs[w->first + i].len + 1;
    char *buf = malloc(len + 1), *p = buf;
    if (!buf)
        return qerr_set(err, Q_ERR_NOMEM, "embed: out of memory");
    for (size_t i = 0; i < w->count; i++) {
        memcpy(p, segs[w->first + i].text, segs[w->first + i].len);
        p += segs[w->first + i].len;
        *p++ = '\n';
    }
    qerr e = qtext_embed_text(buf, (size_t)(p - buf), df, out, err);
    free(buf);
    return e;
}

void qtext_embed_serialize(const float *v, uint8_t *out)
{
    out[0] = 'Q';
    out[1] = 'E';
    out[2] = QTEXT_EMBED_MODEL;
    out[3] = 0;
    uint32_t d = QTEXT_EMBED_DIM;
    for (int i = 0; i < 4; i++)
        out[4 + i] = (uint8_t)(d >> (8 * i));
    for (int k = 0; k < QTEXT_EMBED_DIM; k++) {
        uint32_t u;
        memcpy(&u, &v[k], 4);
        for (int i = 0; i < 4; i++)
            out[8 + 4 * k + i] = (uint8_t)(u >> (8 * i));
    }
}

qerr qtext_embed_deserialize(const uint8_t *blob, size_t len, float *v, qerrctx *err)
{
    if (len != QTEXT_EMBED_BLOB_SIZE || blob[0] != 'Q' || blob[1] != 'E')
        return qerr_set(err, Q_ERR_INVALID, "embedding blob: %zu bytes, not a QE vector", len);
    uint32_t d = (uint32_t)blob[4] | (uint32_t)blob[5] << 8 | (uint32_t)blob[6] << 16 |
                 (uint32_t)blob[7] << 24;
    if (blob[2] != QTEXT_EMBED_MODEL || d != QTEXT_EMBED_DIM)
        return qerr_set(err, Q_ERR_INVALID, "embedding blob: model %u dim %u, want %u/%u",
                        blob[2], d, QTEXT_EMBED_MODEL, QTEXT_EMBED_DIM);
    for (int k = 0; k < QTEXT_EMBED_DIM; k++) {
        const uint8_t *p = blob + 8 + 4 * k;
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24;
        memcpy(&v[k], &u, 4);
        if (!isfinite(v[k]))
            return qerr_set(err, Q_ERR_INVALID, "embedding blob: value %d is not finite", k);
    }
    return Q_OK;
}
