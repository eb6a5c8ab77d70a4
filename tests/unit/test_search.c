/* test_search.c - windows of the Gulliver chapters embedded and searched:
 * a phrase from a chapter finds that chapter's window first; visibility,
 * audiobook, allowed-set and predicate filters; removal; blobs. */
#include "t.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "text_search.h"
#include "textdata.h"

static td_book book;
static qtext_index *ix;

/* Window texts by id (whitespace folded), to check what a hit contains. */
#define MAXWIN 512
static char *wintext[MAXWIN];
static uint64_t nextid = 1;

static char *fold(const qtext_seg *segs, const qtext_window *w)
{
    size_t len = 1;
    for (size_t i = 0; i < w->count; i++)
        len += segs[w->first + i].len + 1;
    char *s = malloc(len), *o = s;
    int sp = 0;
    for (size_t i = 0; i < w->count; i++) {
        const qtext_seg *g = &segs[w->first + i];
        for (size_t j = 0; j <= g->len; j++) {
            char c = j < g->len ? g->text[j] : ' ';
            if (isspace((unsigned char)c)) {
                sp = 1;
                continue;
            }
            if (sp && o > s)
                *o++ = ' ';
            sp = 0;
            *o++ = c;
        }
    }
    *o = 0;
    return s;
}

/* Add the three chapters as one audiobook. */
static void add_book(uint64_t audiobook, uint64_t owner, int is_public, const qtext_df *df)
{
    qerrctx err = {0};
    for (size_t c = 0; c < book.nch; c++) {
        qtext_seg *segs;
        size_t n, nw;
        qtext_window *w;
        T_REQUIRE(qtext_segments_from_text(book.ch[c], book.chlen[c], &segs, &n, &err) == Q_OK);
        T_REQUIRE(qtext_windows(segs, n, NULL, &w, &nw, &err) == Q_OK);
        for (size_t i = 0; i < nw; i++) {
            float v[QTEXT_EMBED_DIM];
            T_REQUIRE(qtext_embed_window(segs, &w[i], df, v, &err) == Q_OK);
            /* Through the blob form, as from MariaDB. */
            uint8_t blob[QTEXT_EMBED_BLOB_SIZE];
            qtext_embed_serialize(v, blob);
            T_REQUIRE(qtext_embed_deserialize(blob, sizeof blob, v, &err) == Q_OK);
            qtext_win_meta m = {.id = nextid, .audiobook_id = audiobook, .owner_id = owner,
                                .chapter = (uint32_t)(c + 1), .is_public = (uint8_t)is_public,
                                .start = w[i].start, .end = w[i].end};
            if (nextid < MAXWIN && audiobook == 1)
                wintext[nextid] = fold(segs, &w[i]);
            nextid++;
            T_REQUIRE(qtext_index_add(ix, &m, v, &err) == Q_OK);
        }
        free(w);
        free(segs);
    }
}

static const struct {
    const char *phrase;
    uint32_t chapter;
} queries[] = {
    {"driven by a violent storm to the north-west of Van Diemen's Land", 1},
    {"fifteen hundred of the emperor's largest horses", 1},
    {"a huge silver chest, with a cover of the same metal", 2},
    {"six hundred beds of the common measure", 2},
    {"Flimnap, the treasurer, is allowed to cut a caper on the straight rope", 3},
    {"my hat had been lost at sea", 3},
};

static qtext_df libdf;   /* document frequencies of the "library" */

static void test_phrase_finds_its_chapter(void)
{
    qtext_search_filter f = {.viewer_id = 1, .audiobook_id = 1};
    qerrctx err = {0};
    for (size_t q = 0; q < sizeof queries / sizeof queries[0]; q++) {
        qtext_hit hits[5];
        size_t nh;
        T_REQUIRE(qtext_search_text(ix, queries[q].phrase, strlen(queries[q].phrase), &libdf, &f,
                                    5, hits, &nh, &err) == Q_OK, "%s", err.msg);
        T_REQUIRE(nh == 5);
        T_EQ_INT(hits[0].meta.chapter, queries[q].chapter);
        T_CHECK(hits[0].meta.audiobook_id == 1);
        T_CHECK(hits[0].meta.id < MAXWIN && wintext[hits[0].meta.id] &&
                    strcasestr(wintext[hits[0].meta.id], queries[q].phrase),
                "the first hit's window holds \"%s\"", queries[q].phrase);
        T_CHECK(hits[0].score > hits[1].score, "score %.2f, next %.2f", hits[0].score,
                hits[1].score);
        t_note("\"%.40s...\": chapter %u, %.0f-%.0f s, score %.2f (next %.2f)",
               queries[q].phrase, hits[0].meta.chapter, hits[0].meta.start, hits[0].meta.end,
               hits[0].score, hits[1].score);
    }
}

static int only_chapter_2(const qtext_win_meta *m, void *arg)
{
    (void)arg;
    return m->chapter == 2;
}

static void test_visibility(void)
{
    qerrctx err = {0};
    const char *q = "a huge silver chest";
    qtext_hit hits[QTEXT_SEARCH_MAX_K];
    size_t nh;
    size_t total = qtext_index_size(ix), per_book = total / 3;

    /* User 1 owns book 1 (private); book 2 is user 2's private copy; book 3
     * is user 3's public copy. */
    qtext_search_filter f1 = {.viewer_id = 1};
    T_REQUIRE(qtext_search_text(ix, q, strlen(q), NULL, &f1, QTEXT_SEARCH_MAX_K, hits, &nh,
                                &err) == Q_OK);
    T_EQ_INT(nh, 2 * per_book);
    for (size_t i = 0; i < nh; i++)
        T_CHECK(hits[i].meta.audiobook_id != 2, "user 1 got user 2's private window");

    qtext_search_filter f2 = {.viewer_id = 2};
    T_REQUIRE(qtext_search_text(ix, q, strlen(q), NULL, &f2, QTEXT_SEARCH_MAX_K, hits, &nh,
                                &err) == Q_OK);
    for (size_t i = 0; i < nh; i++)
        T_CHECK(hits[i].meta.audiobook_id != 1, "user 2 got user 1's private window");
    T_EQ_INT(nh, 2 * per_book);

    qtext_search_filter fa = {.viewer_id = 99, .viewer_is_admin = 1};
    T_REQUIRE(qtext_search_text(ix, q, strlen(q), NULL, &fa, QTEXT_SEARCH_MAX_K, hits, &nh,
                                &err) == Q_OK);
    T_EQ_INT(nh, total);

    /* A stranger sees only the public book. */
    qtext_search_filter fs = {.viewer_id = 42};
    T_REQUIRE(qtext_search_text(ix, q, strlen(q), NULL, &fs, 10, hits, &nh, &err) == Q_OK);
    for (size_t i = 0; i < nh; i++)
        T_EQ_INT(hits[i].meta.audiobook_id, 3);

    /* audiobook_id, allowed set and predicate narrow further. */
    qtext_search_filter fb = {.viewer_is_admin = 1, .audiobook_id = 3};
    T_REQUIRE(qtext_search_text(ix, q, strlen(q), NULL, &fb, 10, hits, &nh, &err) == Q_OK);
    T_EQ_INT(nh, 10);
    for (size_t i = 0; i < nh; i++)
        T_EQ_INT(hits[i].meta.audiobook_id, 3);
    uint64_t allowed[] = {2, 3};
    qtext_search_filter fl = {.viewer_is_admin = 1, .allowed = allowed, .nallowed = 2,
                              .pred = only_chapter_2};
    T_REQUIRE(qtext_search_text(ix, q, strlen(q), NULL, &fl, QTEXT_SEARCH_MAX_K, hits, &nh,
                                &err) == Q_OK);
    T_CHECK(nh > 0);
    for (size_t i = 0; i < nh; i++)
        T_CHECK(hits[i].meta.audiobook_id != 1 && hits[i].meta.chapter == 2);

    /* Bad requests. */
    qerrctx e2 = {0};
    T_EQ_INT(qtext_search_text(ix, q, strlen(q), NULL, NULL, 10, hits, &nh, &e2), Q_ERR_INVALID);
    qerrctx e3 = {0};
    T_EQ_INT(qtext_search_text(ix, q, strlen(q), NULL, &f1, 0, hits, &nh, &e3), Q_ERR_INVALID);
    qerrctx e4 = {0};
    T_EQ_INT(qtext_search_text(ix, "the of", 6, NULL, &f1, 5, hits, &nh, &e4), Q_ERR_INVALID);
    char big[QTEXT_QUERY_MAX + 1];
    memset(big, 'a', sizeof big);
    qerrctx e5 = {0};
    T_EQ_INT(qtext_search_text(ix, big, sizeof big, NULL, &f1, 5, hits, &nh, &e5),
             Q_ERR_TOO_LARGE);
}

static void test_remove(void)
{
    size_t before = qtext_index_size(ix);
    size_t removed = qtext_index_remove_audiobook(ix, 3);
    T_CHECK(removed > 0 && removed == before / 3);
    T_EQ_INT(qtext_index_size(ix), before - removed);
    qtext_hit hits[20];
    size_t nh;
    qerrctx err = {0};
    qtext_search_filter fs = {.viewer_id = 42};
    T_REQUIRE(qtext_search_text(ix, "silver chest", 12, NULL, &fs, 20, hits, &nh, &err) == Q_OK);
    T_EQ_INT(nh, 0);
    T_EQ_INT(qtext_index_remove_audiobook(ix, 3), 0);
}

/* Without document frequencies (a library of one book) common words weigh
 * as much as rare ones; most phrases still find their chapter. */
static void test_without_df(void)
{
    qtext_index *saved = ix;
    ix = qtext_index_new();
    T_REQUIRE(ix != NULL);
    add_book(7, 7, 0, NULL);
    qtext_search_filter f = {.viewer_id = 7};
    size_t right = 0, nq = sizeof queries / sizeof queries[0];
    qerrctx err = {0};
    for (size_t q = 0; q < nq; q++) {
        qtext_hit hits[3];
        size_t nh;
        T_REQUIRE(qtext_search_text(ix, queries[q].phrase, strlen(queries[q].phrase), NULL, &f, 3,
                                    hits, &nh, &err) == Q_OK);
        T_REQUIRE(nh > 0);
        right += hits[0].meta.chapter == queries[q].chapter;
    }
    t_note("without document frequencies: %zu of %zu phrases find their chapter first", right,
           nq);
    T_CHECK(right * 2 > nq);
    qtext_index_free(ix);
    ix = saved;
}

/* Searches from several threads while another thread adds and removes an
 * audiobook: every search succeeds and sees user 1's window first. */
struct conc {
    int stop;
    int bad;
};

static void *searcher(void *arg)
{
    struct conc *c = arg;
    qtext_search_filter f = {.viewer_id = 1, .audiobook_id = 1};
    const char *q = queries[2].phrase;
    for (int i = 0; i < 200 && !__atomic_load_n(&c->stop, __ATOMIC_RELAXED); i++) {
        qtext_hit hits[3];
        size_t nh;
        qerrctx err = {0};
        if (qtext_search_text(ix, q, strlen(q), &libdf, &f, 3, hits, &nh, &err) != Q_OK ||
            nh != 3 || hits[0].meta.chapter != queries[2].chapter)
            __atomic_add_fetch(&c->bad, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_concurrent(void)
{
    struct conc c = {0, 0};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        T_REQUIRE(pthread_create(&th[i], NULL, searcher, &c) == 0);
    size_t before = qtext_index_size(ix);
    for (int round = 0; round < 5; round++) {
        float v[QTEXT_EMBED_DIM];
        qerrctx err = {0};
        for (int k = 0; k < QTEXT_EMBED_DIM; k++)
            v[k] = (float)((k * 7 + round) % 11) - 5.0f;
        for (int r = 0; r < 50; r++) {
            qtext_win_meta m = {.id = 900000 + (uint64_t)r, .audiobook_id = 55, .owner_id = 1};
            T_CHECK(qtext_index_add(ix, &m, v, &err) == Q_OK);
        }
        T_EQ_INT(qtext_index_remove_audiobook(ix, 55), 50);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    T_EQ_INT(c.bad, 0);
    T_EQ_INT(qtext_index_size(ix), before);
}

int main(void)
{
    if (td_load_gulliver(&book) != 0) {
        printf("cannot read tests/data (run from the repository root)\n");
        return 1;
    }
    qerrctx err = {0};
    if (qtext_df_init(&libdf, 18, &err) != Q_OK)
        return 1;
    for (size_t c = 0; c < book.nch; c++) {
        qtext_tokens t;
        if (qtext_tokenize(book.ch[c], book.chlen[c], &t, &err) != Q_OK ||
            qtext_df_add(&libdf, &t, 0, t.n, 1, &err) != Q_OK)
            return 1;
        qtext_tokens_free(&t);
    }
    ix = qtext_index_new();
    add_book(1, 1, 0, &libdf);
    add_book(2, 2, 0, &libdf);
    add_book(3, 3, 1, &libdf);
    T_RUN(test_phrase_finds_its_chapter);
    T_RUN(test_visibility);
    T_RUN(test_remove);
    T_RUN(test_concurrent);
    T_RUN(test_without_df);
    qtext_index_free(ix);
    qtext_df_free(&libdf);
    for (size_t i = 0; i < MAXWIN; i++)
        free(wintext[i]);
    td_free(&book);
    return t_done();
}
