/* text_tags.c - keyphrases: candidate phrases are stopword- and
 * punctuation-free runs of up to max_ngram words; each is scored by TF-IDF
 * (against the library's document frequencies when given) and by TextRank
 * over the word co-occurrence graph, and the best distinct ones are kept
 * (see text.h). Phrases and words are identified by their 32-bit hash. */
#include "text.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Open-addressing map from a 32-bit hash to a slot number. */
struct hmap {
    uint32_t *key;
    uint32_t *val;     /* slot + 1; 0 = empty */
    size_t mask;
};

static int hmap_init(struct hmap *m, size_t want)
{
    size_t cap = 64;
    while (cap < want * 2)
        cap *= 2;
    m->key = malloc(cap * sizeof *m->key);
    m->val = calloc(cap, sizeof *m->val);
    m->mask = cap - 1;
    return m->key && m->val ? 0 : -1;
}

static void hmap_free(struct hmap *m)
{
    free(m->key);
    free(m->val);
}

/* Slot of key, inserting `next` when absent (*added set). */
static uint32_t hmap_get(struct hmap *m, uint32_t key, uint32_t next, int *added)
{
    size_t i = (key * 2654435761u) & m->mask;
    while (m->val[i]) {
        if (m->key[i] == key) {
            *added = 0;
            return m->val[i] - 1;
        }
        i = (i + 1) & m->mask;
    }
    m->key[i] = key;
    m->val[i] = next + 1;
    *added = 1;
    return next;
}

struct cand {
    uint32_t hash;
    uint32_t first;    /* token index of the first occurrence */
    uint8_t n;         /* words */
    uint32_t count;
    double tfidf, tr, score;
};

/* Words too generic to make a tag or to be part of one: number words and
 * the commonest adjectives and verbs of narration. Sorted for bsearch. */
static const char *weak_words[] = {
    "came", "come", "eight", "first", "five", "four", "gave", "get", "give", "go", "good",
    "got", "great", "hundred", "knew", "know", "last", "like", "little", "made", "make",
    "many", "next", "nine", "put", "saw", "say", "see", "seven", "several", "six", "take",
    "ten", "thing", "things", "think", "thousand", "three", "told", "took", "twenty", "two",
    "went",
};

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A word that may be part of a tag: not a stopword or weak word, 3+ bytes,
 * not a number. */
static int taggable(const qtext_tokens *t, size_t i)
{
    if (t->flags[i] & QTEXT_TOK_STOP)
        return 0;
    const char *w = t->word[i];
    size_t len = strlen(w);
    if (len < 3)
        return 0;
    if (bsearch(&w, weak_words, sizeof weak_words / sizeof weak_words[0], sizeof weak_words[0],
                cmp_cstr))
        return 0;
    for (size_t j = 0; j < len; j++)
        if (!isdigit((unsigned char)w[j]))
            return 1;
    return 0;
}

static int cmp_cand(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Non-zero when phrase a (na words from token ia) occurs inside phrase b. */
static int inside(const qtext_tokens *t, size_t ia, size_t na, size_t ib, size_t nb)
{
    for (size_t s = 0; s + na <= nb; s++) {
        size_t j = 0;
        while (j < na && t->hash[ia + j] == t->hash[ib + s + j])
            j++;
        if (j == na)
            return 1;
    }
    return 0;
}

void qtext_tags_free(qtext_tags *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->tags[i].phrase);
    free(t->tags);
    t->tags = NULL;
    t->n = 0;
}

qerr qtext_tags_extract(const char *text, size_t len, const qtext_tag_opts *opts,
                        qtext_tags *out, qerrctx *err)
{
    static const qtext_tag_opts defaults;
    const qtext_tag_opts *o = opts ? opts : &defaults;
    size_t max_tags = o->max_tags ? o->max_tags : 10;
    unsigned max_ngram = o->max_ngram ? o->max_ngram : 3;
    unsigned window = o->window ? o->window : 4;
    double wt = o->tfidf_weight > 0 ? (o->tfidf_weight > 1 ? 1 : o->tfidf_weight)
                                    : (o->tfidf_weight < 0 ? 0 : 0.5);
    if (max_ngram > QTEXT_NGRAM_MAX)
        max_ngram = QTEXT_NGRAM_MAX;
    memset(out, 0, sizeof *out);
    if (len > QTEXT_TAGS_MAX_INPUT)
        return qerr_set(err, Q_ERR_TOO_LARGE, "tags: text of %zu bytes is over the %u byte limit",
                        len, QTEXT_TAGS_MAX_INPUT);

    qtext_tokens t;
    qerr e = qtext_tokenize(text, len, &t, err);
    if (e)
        return e;
    struct hmap words = {0}, phr = {0};
    struct cand *c = NULL;
    uint32_t *seq = NULL, *deg_off = NULL, *adj = NULL, (*edges)[2] = NULL;
    double *wsc = NULL, *wnew = NULL;
    size_t nw = 0, nc = 0, nseq = 0, ne = 0;
    if (t.n == 0)
        goto done;
    if (hmap_init(&words, t.n) || hmap_init(&phr, t.n * max_ngram) ||
        !(c = malloc(t.n * max_ngram * sizeof *c)) || !(seq = malloc(t.n * sizeof *seq)) ||
        !(edges = malloc(t.n * window * sizeof *edges))) {
        e = qerr_set(err, Q_ERR_NOMEM, "tags: out of memory");
        goto done;
    }

    /* Candidates, and the word sequence for the co-occurrence graph. */
    for (size_t i = 0; i < t.n; i++) {
        if (!taggable(&t, i))
            continue;
        int added;
        uint32_t wid = hmap_get(&words, t.hash[i], (uint32_t)nw, &added);
        nw += added;
        seq[nseq++] = wid;
        for (size_t n = 1; n <= max_ngram && i + n <= t.n; n++) {
            size_t j = i + n - 1;
            if (n > 1 && (!taggable(&t, j) || (t.flags[j] & QTEXT_TOK_BREAK)))
                break;
            uint32_t h = n == 1 ? t.hash[i] : qtext_phrase_hash(&t, i, n);
            uint32_t id = hmap_get(&phr, h, (uint32_t)nc, &added);
            if (added) {
                memset(&c[id], 0, sizeof c[id]);
                c[id].hash = h;
                c[id].first = (uint32_t)i;
                c[id].n = (uint8_t)n;
                nc++;
            }
            c[id].count++;
        }
    }

    /* TextRank over words: undirected edges between words at most `window`
     * apart in the content-word sequence, weighted by how often. */
    for (size_t i = 0; i < nseq; i++)
        for (size_t j = i + 1; j < nseq && j <= i + window - 1; j++)
            if (seq[i] != seq[j]) {
                edges[ne][0] = seq[i];
                edges[ne][1] = seq[j];
                ne++;
            }
    deg_off = calloc(nw + 1, sizeof *deg_off);
    adj = malloc((2 * ne + 1) * sizeof *adj);
    wsc = malloc((nw + 1) * sizeof *wsc);
    wnew = malloc((nw + 1) * sizeof *wnew);
    if (!deg_off || !adj || !wsc || !wnew) {
        e = qerr_set(err, Q_ERR_NOMEM, "tags: out of memory");
        goto done;
    }
    for (size_t i = 0; i < ne; i++) {
        deg_off[edges[i][0] + 1]++;
        deg_off[edges[i][1] + 1]++;
    }
    for (size_t v = 0; v < nw; v++)
        deg_off[v + 1] += deg_off[v];
    {
        uint32_t *fill = calloc(nw + 1, sizeof *fill);
        if (!fill) {
            e = qerr_set(err, Q_ERR_NOMEM, "tags: out of memory");
            goto done;
        }
        for (size_t i = 0; i < ne; i++) {
            uint32_t a = edges[i][0], b = edges[i][1];
            adj[deg_off[a] + fill[a]++] = b;
            adj[deg_off[b] + fill[b]++] = a;
        }
        free(fill);
    }
    for (size_t v = 0; v < nw; v++)
        wsc[v] = 1.0;
    for (int it = 0; it < 50; it++) {
        double diff = 0;
        for (size_t v = 0; v < nw; v++) {
            double s = 0;
            for (uint32_t k = deg_off[v]; k < deg_off[v + 1]; k++) {
                uint32_t u = adj[k];
                s += wsc[u] / (double)(deg_off[u + 1] - deg_off[u]);
            }
            wnew[v] = 0.15 + 0.85 * s;
            diff += fabs(wnew[v] - wsc[v]);
        }
        double *tmp = wsc;
        wsc = wnew;
        wnew = tmp;
        if (diff < 1e-4 * (double)nw)
            break;
    }

    /* Scores. A phrase of several words must recur; so must a single word
     * unless the text is short. */
    uint32_t min_count = t.n >= 200 ? 2 : 1;
    double max_tf = 0, max_tr = 0;
    size_t keep = 0;
    for (size_t i = 0; i < nc; i++) {
        if (c[i].count < (c[i].n > 1 ? 2 : min_count))
            continue;
        double tr = 0;
        for (size_t j = 0; j < c[i].n; j++) {
            int added;
            tr += wsc[hmap_get(&words, t.hash[c[i].first + j], 0, &added)];
        }
        c[i].tr = tr / sqrt((double)c[i].n);
        c[i].tfidf = (1.0 + log((double)c[i].count)) * qtext_df_idf(o->df, c[i].hash) *
                     sqrt((double)c[i].n);
        if (c[i].tr > max_tr)
            max_tr = c[i].tr;
        if (c[i].tfidf > max_tf)
            max_tf = c[i].tfidf;
        c[keep++] = c[i];
    }
    for (size_t i = 0; i < keep; i++)
        c[i].score = wt * (max_tf > 0 ? c[i].tfidf / max_tf : 0) +
                     (1 - wt) * (max_tr > 0 ? c[i].tr / max_tr : 0);
    qsort(c, keep, sizeof *c, cmp_cand);

    out->tags = calloc(max_tags, sizeof *out->tags);
    size_t *chosen = malloc(max_tags * sizeof *chosen);
    if (!out->tags || !chosen) {
        free(chosen);
        e = qerr_set(err, Q_ERR_NOMEM, "tags: out of memory");
        goto done;
    }
    for (size_t i = 0; i < keep && out->n < max_tags; i++) {
        int dup = 0;
        for (size_t k = 0; k < out->n && !dup; k++) {
            const struct cand *a = &c[i], *b = &c[chosen[k]];
            dup = inside(&t, a->first, a->n, b->first, b->n) ||
                  inside(&t, b->first, b->n, a->first, a->n);
        }
        if (dup)
            continue;
        size_t plen = 0;
        for (size_t j = 0; j < c[i].n; j++)
            plen += strlen(t.word[c[i].first + j]) + 1;
        char *s = malloc(plen), *w = s;
        if (!s) {
            e = qerr_set(err, Q_ERR_NOMEM, "tags: out of memory");
            break;
        }
        for (size_t j = 0; j < c[i].n; j++) {
            size_t l = strlen(t.word[c[i].first + j]);
            if (j)
                *w++ = ' ';
            memcpy(w, t.word[c[i].first + j], l);
            w += l;
        }
        *w = 0;
        out->tags[out->n].phrase = s;
        out->tags[out->n].score = (float)c[i].score;
        out->tags[out->n].count = c[i].count;
        chosen[out->n++] = i;
    }
    free(chosen);

done:
    if (e)
        qtext_tags_free(out);
    hmap_free(&words);
    hmap_free(&phr);
    free(c);
    free(seq);
    free(edges);
    free(deg_off);
    free(adj);
    free(wsc);
    free(wnew);
    qtext_tokens_free(&t);
    return e;
}
