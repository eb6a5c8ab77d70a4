/* text_tokenize.c - word tokenizer, stopwords and sentence splitter (see
 * text_tokenize.h). */
#include "text_tokenize.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* English function words, plus the archaic ones of older books. */
static const char *stopword_list[] = {
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and",
    "any", "are", "aren't", "as", "at", "be", "because", "been", "before", "being", "below",
    "between", "both", "but", "by", "can", "can't", "cannot", "could", "couldn't", "did",
    "didn't", "do", "does", "doesn't", "doing", "don't", "down", "during", "each", "either",
    "else", "ever", "every", "few", "for", "from", "further", "had", "hadn't", "has",
    "hasn't", "hath", "have", "haven't", "having", "he", "he'd", "he'll", "her", "here",
    "hers", "herself", "him", "himself", "his", "how", "however", "i", "i'd", "i'll", "i'm",
    "i've", "if", "in", "into", "is", "isn't", "it", "it's", "its", "itself", "just", "let",
    "let's", "may", "me", "might", "mine", "more", "most", "much", "must", "my", "myself",
    "neither", "no", "nor", "not", "now", "o", "of", "off", "often", "on", "once", "one",
    "only", "or", "other", "ought", "our", "ours", "ourselves", "out", "over", "own", "s",
    "said", "same", "shall", "she", "she'd", "she'll", "should", "shouldn't", "since", "so",
    "some", "such", "than", "that", "that's", "the", "thee", "their", "theirs", "them",
    "themselves", "then", "there", "there's", "thereby", "therefore", "these", "they",
    "they'd", "they'll", "they're", "they've", "thine", "this", "those", "thou", "though",
    "through", "thus", "thy", "till", "to", "too", "under", "until", "unto", "up", "upon",
    "us", "very", "was", "wasn't", "we", "we'd", "we'll", "we're", "we've", "well", "were",
    "weren't", "what", "when", "whence", "where", "whereby", "wherein", "whereof", "whether",
    "which", "while", "whilst", "who", "whom", "whose", "why", "will", "with", "within",
    "without", "won't", "would", "wouldn't", "ye", "yet", "you", "you'd", "you'll",
    "you're", "you've", "your", "yours", "yourself", "yourselves",
};
#define NSTOP (sizeof stopword_list / sizeof stopword_list[0])

static const char *abbrev_list[] = {
    "capt", "co", "col", "dr", "e.g", "etc", "fig", "gen", "i.e", "jr", "lt", "messrs", "mr",
    "mrs", "ms", "mt", "no", "prof", "rev", "sr", "st", "vol", "vs",
};

static const char *stop_sorted[NSTOP];
static pthread_once_t stop_once = PTHREAD_ONCE_INIT;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void stop_init(void)
{
    memcpy(stop_sorted, stopword_list, sizeof stop_sorted);
    qsort(stop_sorted, NSTOP, sizeof stop_sorted[0], cmp_str);
}

int qtext_is_stopword(const char *w, size_t len)
{
    char key[QTEXT_MAX_WORD];
    if (len == 0 || len >= sizeof key)
        return len == 0;
    memcpy(key, w, len);
    key[len] = 0;
    pthread_once(&stop_once, stop_init);
    const char *k = key;
    return bsearch(&k, stop_sorted, NSTOP, sizeof stop_sorted[0], cmp_str) != NULL;
}

uint32_t qtext_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

/* Bytes of the UTF-8 sequence at p that is punctuation or a space (general
 * punctuation U+2000-U+206F, NBSP, guillemets, inverted marks), else 0. */
static size_t utf8_punct(const unsigned char *p, size_t left)
{
    if (left >= 3 && p[0] == 0xE2 && (p[1] == 0x80 || p[1] == 0x81))
        return 3;
    if (left >= 2 && p[0] == 0xC2 && (p[1] == 0xA0 || p[1] == 0xAB || p[1] == 0xBB ||
                                      p[1] == 0xA1 || p[1] == 0xBF))
        return 2;
    return 0;
}

/* Right single quotation mark U+2019, used as an apostrophe. */
static int utf8_apos(const unsigned char *p, size_t left)
{
    return left >= 3 && p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0x99;
}

static int word_byte(const unsigned char *p, size_t left)
{
    if (*p < 0x80)
        return isalnum(*p);
    return utf8_punct(p, left) == 0;
}

/* Scan one token starting at text[i] (a word byte). Writes the lowercased
 * token to dst (may be NULL) up to QTEXT_MAX_WORD-1 bytes, returns the index
 * after the token, sets *wlen to the written length. */
static size_t scan_word(const unsigned char *t, size_t len, size_t i, char *dst, size_t *wlen)
{
    size_t w = 0;
    while (i < len) {
        if (word_byte(t + i, len - i)) {
            if (w < QTEXT_MAX_WORD - 1) {
                if (dst)
                    dst[w] = (char)(t[i] < 0x80 ? tolower(t[i]) : t[i]);
                w++;
            }
            i++;
            continue;
        }
        /* Inner apostrophe or hyphen: keep when a word byte follows. */
        size_t skip = 0;
        char as = 0;
        if (t[i] == '\'' || t[i] == '-') {
            skip = 1;
            as = (char)t[i];
        } else if (utf8_apos(t + i, len - i)) {
            skip = 3;
            as = '\'';
        }
        if (skip && i + skip < len && t[i + skip] < 0x80 && isalnum(t[i + skip])) {
            /* Drop a possessive 's at the end of the word. */
            if (as == '\'' && (t[i + skip] == 's' || t[i + skip] == 'S') &&
                (i + skip + 1 >= len || !word_byte(t + i + skip + 1, len - i - skip - 1))) {
                i += skip + 1;
                break;
            }
            if (w < QTEXT_MAX_WORD - 1) {
                if (dst)
                    dst[w] = as;
                w++;
            }
            i += skip;
            continue;
        }
        break;
    }
    *wlen = w;
    return i;
}

void qtext_tokens_free(qtext_tokens *t)
{
    if (!t)
        return;
    free(t->word);
    free(t->hash);
    free(t->off);
    free(t->flags);
    free(t->buf);
    memset(t, 0, sizeof *t);
}

qerr qtext_tokenize(const char *text, size_t len, qtext_tokens *out, qerrctx *err)
{
    const unsigned char *t = (const unsigned char *)text;
    memset(out, 0, sizeof *out);
    if (len > QTEXT_MAX_INPUT)
        return qerr_set(err, Q_ERR_TOO_LARGE, "text of %zu bytes is over the %u byte limit",
                        len, QTEXT_MAX_INPUT);
    /* Pass 1: count tokens and bytes. */
    size_t ntok = 0, nbytes = 0;
    for (size_t i = 0; i < len;) {
        if (!word_byte(t + i, len - i)) {
            size_t p = t[i] >= 0x80 ? utf8_punct(t + i, len - i) : 1;
            i += p ? p : 1;
            continue;
        }
        size_t w;
        i = scan_word(t, len, i, NULL, &w);
        ntok++;
        nbytes += w + 1;
    }
    if (ntok == 0)
        return Q_OK;
    out->word = malloc(ntok * sizeof *out->word);
    out->hash = malloc(ntok * sizeof *out->hash);
    out->off = malloc(ntok * sizeof *out->off);
    out->flags = malloc(ntok);
    out->buf = malloc(nbytes);
    if (!out->word || !out->hash || !out->off || !out->flags || !out->buf) {
        qtext_tokens_free(out);
        return qerr_set(err, Q_ERR_NOMEM, "tokenizer: out of memory for %zu tokens", ntok);
    }
    /* Pass 2: fill. */
    char *dst = out->buf;
    int brk = 1;
    size_t k = 0;
    for (size_t i = 0; i < len && k < ntok;) {
        if (!word_byte(t + i, len - i)) {
            if (!isspace(t[i]))
                brk = 1;
            size_t p = t[i] >= 0x80 ? utf8_punct(t + i, len - i) : 1;
            i += p ? p : 1;
            continue;
        }
        size_t w, start = i;
        i = scan_word(t, len, i, dst, &w);
        dst[w] = 0;
        out->word[k] = dst;
        out->hash[k] = qtext_hash(dst, w);
        out->off[k] = start;
        out->flags[k] = (uint8_t)((brk ? QTEXT_TOK_BREAK : 0) |
                                  (qtext_is_stopword(dst, w) ? QTEXT_TOK_STOP : 0));
        dst += w + 1;
        brk = 0;
        k++;
    }
    out->n = k;
    return Q_OK;
}

/* Sentences. */

static int is_abbrev(const unsigned char *t, size_t dot)
{
    /* The word before the dot, lowercased, letters and inner dots only. */
    size_t b = dot;
    while (b > 0 && (isalpha(t[b - 1]) || (t[b - 1] == '.' && b >= 2 && isalpha(t[b - 2]))))
        b--;
    size_t wl = dot - b;
    if (wl == 0 || wl > 7)
        return 0;
    if (wl == 1 && isupper(t[b]))
        return 1;   /* an initial: "J. Swift" */
    char w[8];
    for (size_t i = 0; i < wl; i++)
        w[i] = (char)tolower(t[b + i]);
    w[wl] = 0;
    for (size_t i = 0; i < sizeof abbrev_list / sizeof abbrev_list[0]; i++)
        if (strcmp(w, abbrev_list[i]) == 0)
            return 1;
    return 0;
}

/* Closing quote or bracket bytes at p (ASCII or UTF-8 right quotes). */
static size_t closer(const unsigned char *p, size_t left)
{
    if (*p == '"' || *p == '\'' || *p == ')' || *p == ']' || *p == '_')
        return 1;
    if (left >= 3 && p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0x9D || p[2] == 0x99))
        return 3;
    return 0;
}

struct span_list {
    qtext_span *v;
    size_t n, cap;
};

static int emit(struct span_list *l, const unsigned char *t, size_t s, size_t e)
{
    while (s < e && isspace(t[s]))
        s++;
    while (e > s && isspace(t[e - 1]))
        e--;
    int any = 0;
    for (size_t i = s; i < e && !any; i++)
        any = t[i] < 0x80 ? isalnum(t[i]) : 1;
    if (!any)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        qtext_span *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].start = s;
    l->v[l->n].end = e;
    l->n++;
    return 0;
}

qerr qtext_split_sentences(const char *text, size_t len, qtext_span **spans, size_t *n,
                           qerrctx *err)
{
    const unsigned char *t = (const unsigned char *)text;
    struct span_list l = {0};
    *spans = NULL;
    *n = 0;
    if (len > QTEXT_MAX_INPUT)
        return qerr_set(err, Q_ERR_TOO_LARGE, "text of %zu bytes is over the %u byte limit",
                        len, QTEXT_MAX_INPUT);
    size_t s = 0, last_space = 0;
    for (size_t i = 0; i < len; i++) {
        size_t cut = 0;   /* end of a sentence found: its end offset */
        if (t[i] == '.' || t[i] == '!' || t[i] == '?') {
            size_t j = i + 1;
            while (j < len && (t[j] == '.' || t[j] == '!' || t[j] == '?'))
                j++;
            size_t c;
            while (j < len && (c = closer(t + j, len - j)) > 0)
                j += c;
            if (j >= len || isspace(t[j])) {
                /* Next word: a lowercase start means the sentence goes on. */
                size_t k = j;
                while (k < len && isspace(t[k]))
                    k++;
                int lower_next = k < len && islower(t[k]);
                int abbrev = t[i] == '.' && is_abbrev(t, i);
                if (!abbrev && !(lower_next && t[i] == '.'))
                    cut = j;
            }
        } else if (t[i] == '\n') {
            size_t k = i + 1;
            while (k < len && (t[k] == ' ' || t[k] == '\t' || t[k] == '\r'))
                k++;
            if (k < len && t[k] == '\n')
                cut = i;   /* blank line: paragraph end */
        }
        if (isspace(t[i]))
            last_space = i;
        if (!cut && i - s >= QTEXT_MAX_SENTENCE)
            cut = last_space > s ? last_space : i;
        if (cut) {
            if (emit(&l, t, s, cut) != 0) {
                free(l.v);
                return qerr_set(err, Q_ERR_NOMEM, "sentence splitter: out of memory");
            }
            s = cut;
            if (i < cut)
                i = cut - 1;   /* continue after the cut (loop adds 1) */
        }
    }
    if (emit(&l, t, s, len) != 0) {
        free(l.v);
        return qerr_set(err, Q_ERR_NOMEM, "sentence splitter: out of memory");
    }
    *spans = l.v;
    *n = l.n;
    return Q_OK;
}

qerr qtext_segments_from_text(const char *text, size_t len, qtext_seg **segs, size_t *n,
                              qerrctx *err)
{
    qtext_span *sp;
    size_t ns;
    *segs = NULL;
    *n = 0;
    qerr e = qtext_split_sentences(text, len, &sp, &ns, err);
    if (e)
        return e;
    qtext_seg *v = malloc((ns ? ns : 1) * sizeof *v);
    if (!v) {
        free(sp);
        return qerr_set(err, Q_ERR_NOMEM, "segments: out of memory");
    }
    for (size_t i = 0; i < ns; i++) {
        v[i].text = text + sp[i].start;
        v[i].len = sp[i].end - sp[i].start;
        v[i].start = v[i].end = -1.0;
    }
    free(sp);
    *segs = v;
    *n = ns;
    return Q_OK;
}
