/* test_text.c - tokenizer, sentence splitter, document frequencies, hashed
 * TF-IDF, keyphrase tags, windows and embedding blobs. */
#include "t.h"

#include <math.h>
#include <stdlib.h>

#include "text.h"
#include "text_embed.h"
#include "textdata.h"

static td_book book;

static void test_tokenize(void)
{
    const char *s = "Don't STOP--the Emperor's new-fangled hat, 1724 \xE2\x80\x9Cquoted\xE2\x80\x9D caf\xC3\xA9!";
    qtext_tokens t;
    qerrctx err = {0};
    T_REQUIRE(qtext_tokenize(s, strlen(s), &t, &err) == Q_OK);
    const char *want[] = {"don't", "stop", "the", "emperor", "new-fangled", "hat", "1724",
                          "quoted", "caf\xC3\xA9"};
    T_EQ_INT(t.n, 9);
    for (size_t i = 0; i < t.n && i < 9; i++)
        T_EQ_STR(t.word[i], want[i]);
    T_CHECK(t.flags[0] & QTEXT_TOK_STOP, "don't is a stopword");
    T_CHECK(!(t.flags[1] & QTEXT_TOK_STOP));
    T_CHECK(t.flags[2] & QTEXT_TOK_BREAK, "-- breaks a phrase");
    T_CHECK(!(t.flags[3] & QTEXT_TOK_BREAK));
    T_CHECK(t.flags[6] & QTEXT_TOK_BREAK, "comma breaks");
    T_EQ_INT(t.off[3], 16);
    T_EQ_INT(t.hash[5], qtext_hash("hat", 3));
    qtext_tokens_free(&t);

    /* Long words are cut; empty and punctuation-only input gives nothing. */
    char longw[200];
    memset(longw, 'a', sizeof longw);
    T_REQUIRE(qtext_tokenize(longw, sizeof longw, &t, &err) == Q_OK);
    T_EQ_INT(t.n, 1);
    T_EQ_INT(strlen(t.word[0]), QTEXT_MAX_WORD - 1);
    qtext_tokens_free(&t);
    T_REQUIRE(qtext_tokenize("?!  --", 6, &t, &err) == Q_OK);
    T_EQ_INT(t.n, 0);
    qtext_tokens_free(&t);
    T_EQ_INT(qtext_tokenize("x", (size_t)QTEXT_MAX_INPUT + 1, &t, &err), Q_ERR_TOO_LARGE);
    T_CHECK(qtext_is_stopword("the", 3) && qtext_is_stopword("whereof", 7));
    T_CHECK(!qtext_is_stopword("emperor", 7));
}

static void test_sentences(void)
{
    const char *s = "Mr. Bates went home. He slept!  Then?  \"Yes,\" said J. Swift. it goes on. "
                    "End\n\nNew paragraph without a stop\n  \n...\nLast one";
    qtext_span *sp;
    size_t n;
    qerrctx err = {0};
    T_REQUIRE(qtext_split_sentences(s, strlen(s), &sp, &n, &err) == Q_OK);
    const char *want[] = {"Mr. Bates went home.", "He slept!", "Then?",
                          "\"Yes,\" said J. Swift. it goes on.", "End",
                          "New paragraph without a stop", "Last one"};
    T_EQ_INT(n, 7);
    for (size_t i = 0; i < n && i < 7; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "%.*s", (int)(sp[i].end - sp[i].start), s + sp[i].start);
        T_EQ_STR(buf, want[i]);
    }
    free(sp);

    /* A run-on text is cut at spaces below the cap. */
    size_t len = 3 * QTEXT_MAX_SENTENCE;
    char *big = malloc(len);
    for (size_t i = 0; i < len; i++)
        big[i] = i % 7 == 6 ? ' ' : 'w';
    T_REQUIRE(qtext_split_sentences(big, len, &sp, &n, &err) == Q_OK);
    T_CHECK(n >= 3);
    for (size_t i = 0; i < n; i++)
        T_CHECK(sp[i].end - sp[i].start <= QTEXT_MAX_SENTENCE);
    free(sp);
    free(big);
}

static void test_df_and_tfidf(void)
{
    qtext_df df;
    qerrctx err = {0};
    T_REQUIRE(qtext_df_init(&df, 16, &err) == Q_OK);
    const char *docs[] = {"the emperor and the rope dancers", "the emperor's horses",
                          "a hat on the ground", "emperor emperor emperor"};
    for (int i = 0; i < 4; i++) {
        qtext_tokens t;
        T_REQUIRE(qtext_tokenize(docs[i], strlen(docs[i]), &t, &err) == Q_OK);
        T_REQUIRE(qtext_df_add(&df, &t, 0, t.n, 3, &err) == Q_OK);
        qtext_tokens_free(&t);
    }
    T_EQ_INT(df.ndocs, 4);
    float idf_emperor = qtext_df_idf(&df, qtext_hash("emperor", 7));
    float idf_hat = qtext_df_idf(&df, qtext_hash("hat", 3));
    float idf_unseen = qtext_df_idf(&df, qtext_hash("blefuscu", 8));
    T_CHECK(idf_hat > idf_emperor && idf_unseen > idf_hat, "%g %g %g", idf_emperor, idf_hat,
            idf_unseen);
    /* Phrases: "rope dancers" was counted, "emperor rope" (stopword between) not. */
    qtext_tokens t;
    T_REQUIRE(qtext_tokenize("rope dancers", 12, &t, &err) == Q_OK);
    T_CHECK(qtext_df_idf(&df, qtext_phrase_hash(&t, 0, 2)) < idf_unseen);
    qtext_tokens_free(&t);

    /* Round trip through a blob; a bad blob is refused. */
    size_t bl = qtext_df_blob_size(&df);
    uint8_t *blob = malloc(bl);
    qtext_df_serialize(&df, blob);
    qtext_df df2;
    T_REQUIRE(qtext_df_deserialize(&df2, blob, bl, &err) == Q_OK);
    T_EQ_INT(df2.ndocs, 4);
    T_CHECK(qtext_df_idf(&df2, qtext_hash("hat", 3)) == idf_hat);
    qtext_df_free(&df2);
    qerrctx e2 = {0};
    T_EQ_INT(qtext_df_deserialize(&df2, blob, bl - 1, &e2), Q_ERR_INVALID);
    free(blob);

    /* TF-IDF: unit norm, sorted, stopwords out. */
    const char *s = "The emperor, the emperor and his hat";
    T_REQUIRE(qtext_tokenize(s, strlen(s), &t, &err) == Q_OK);
    qtext_svec v;
    T_REQUIRE(qtext_tfidf(&t, 0, t.n, &df, &v, &err) == Q_OK);
    T_EQ_INT(v.n, 2);
    double nn = 0;
    for (size_t i = 0; i < v.n; i++) {
        nn += v.f[i].w * v.f[i].w;
        if (i)
            T_CHECK(v.f[i - 1].hash < v.f[i].hash);
    }
    T_CHECK(fabs(nn - 1.0) < 1e-5);
    float dense[64] = {0};
    qtext_svec_to_dense(&v, dense, 64);
    double dn = 0;
    for (int i = 0; i < 64; i++)
        dn += dense[i] * dense[i];
    T_CHECK(dn > 0.4 && dn < 2.0, "hashed row keeps its mass (%g)", dn);
    qtext_svec_free(&v);
    qtext_tokens_free(&t);
    qtext_df_free(&df);
}

static int has_tag(const qtext_tags *t, size_t top, const char *word)
{
    for (size_t i = 0; i < t->n && i < top; i++)
        if (strstr(t->tags[i].phrase, word))
            return 1;
    return 0;
}

static void print_tags(const char *what, const qtext_tags *t)
{
    char line[1024];
    size_t w = 0;
    for (size_t i = 0; i < t->n && w < sizeof line - 64; i++)
        w += (size_t)snprintf(line + w, sizeof line - w, "%s%s (%.2f)", i ? ", " : "",
                              t->tags[i].phrase, t->tags[i].score);
    line[w < sizeof line ? w : sizeof line - 1] = 0;
    t_note("%s: %s", what, line);
}

static void test_tags(void)
{
    /* A text about bees: the bee words must lead. */
    const char *bees =
        "Honey bees live in a hive. The queen bee lays the eggs, and the worker bees gather "
        "nectar and pollen from flowers. In the hive the worker bees turn nectar into honey "
        "and store the honey in wax combs. A beekeeper opens the hive in summer and takes "
        "some honey, leaving enough honey for the bees in winter. When the hive grows too "
        "full, the old queen bee leaves with a swarm of bees to find a new home. The weather "
        "was fine that year, and the village market sold bread, cheese and honey.";
    qtext_tags t;
    qerrctx err = {0};
    T_REQUIRE(qtext_tags_extract(bees, strlen(bees), NULL, &t, &err) == Q_OK);
    print_tags("bees", &t);
    T_CHECK(t.n > 3 && t.n <= 10);
    T_CHECK(has_tag(&t, 3, "honey") || has_tag(&t, 3, "bee") || has_tag(&t, 3, "hive"),
            "top tags of a text about bees");
    T_CHECK(!has_tag(&t, 5, "cheese"));
    for (size_t i = 1; i < t.n; i++)
        T_CHECK(t.tags[i - 1].score >= t.tags[i].score, "best first");
    for (size_t i = 0; i < t.n; i++)
        for (size_t j = 0; j < i; j++)
            T_CHECK(strcmp(t.tags[i].phrase, t.tags[j].phrase) != 0, "distinct");
    qtext_tags_free(&t);

    /* Chapter III of Gulliver (rope-dancing, the liberty articles), scored
     * against document frequencies of the three chapters. */
    qtext_df df;
    T_REQUIRE(qtext_df_init(&df, 18, &err) == Q_OK);
    for (size_t c = 0; c < book.nch; c++) {
        qtext_tokens tk;
        T_REQUIRE(qtext_tokenize(book.ch[c], book.chlen[c], &tk, &err) == Q_OK);
        T_REQUIRE(qtext_df_add(&df, &tk, 0, tk.n, 3, &err) == Q_OK);
        qtext_tokens_free(&tk);
    }
    qtext_tag_opts o = {.max_tags = 10, .df = &df};
    T_REQUIRE(qtext_tags_extract(book.ch[2], book.chlen[2], &o, &t, &err) == Q_OK);
    print_tags("Gulliver ch. III", &t);
    T_EQ_INT(t.n, 10);
    T_CHECK(has_tag(&t, 10, "man-mountain") || has_tag(&t, 10, "rope") ||
                has_tag(&t, 10, "liberty") || has_tag(&t, 10, "horses") ||
                has_tag(&t, 10, "sticks") || has_tag(&t, 10, "articles"),
            "chapter III tags name what it is about");
    qtext_tags_free(&t);
    qtext_df_free(&df);
    T_REQUIRE(qtext_tags_extract("", 0, NULL, &t, &err) == Q_OK);
    T_EQ_INT(t.n, 0);
    qtext_tags_free(&t);
    qerrctx e2 = {0};
    T_EQ_INT(qtext_tags_extract("x", (size_t)QTEXT_TAGS_MAX_INPUT + 1, NULL, &t, &e2),
             Q_ERR_TOO_LARGE);
    T_EQ_INT(t.n, 0);
}

static void test_windows(void)
{
    /* Timed: 10 s segments make 45-60 s windows. */
    qtext_seg segs[20];
    for (int i = 0; i < 20; i++) {
        segs[i].text = "some words here";
        segs[i].len = 15;
        segs[i].start = i * 10.0;
        segs[i].end = i * 10.0 + 10.0;
    }
    qtext_window *w;
    size_t nw;
    qerrctx err = {0};
    T_REQUIRE(qtext_windows(segs, 20, NULL, &w, &nw, &err) == Q_OK);
    T_EQ_INT(nw, 4);
    size_t covered = 0;
    for (size_t i = 0; i < nw; i++) {
        T_EQ_INT(w[i].first, covered);
        covered += w[i].count;
        T_CHECK(w[i].end - w[i].start >= 30 && w[i].end - w[i].start <= 60,
                "window %zu is %g s", i, w[i].end - w[i].start);
        T_CHECK(w[i].start == segs[w[i].first].start);
    }
    T_EQ_INT(covered, 20);
    free(w);

    /* Untimed text: times from word counts. */
    qtext_seg *ts;
    size_t n;
    T_REQUIRE(qtext_segments_from_text(book.ch[0], book.chlen[0], &ts, &n, &err) == Q_OK);
    T_REQUIRE(qtext_windows(ts, n, NULL, &w, &nw, &err) == Q_OK);
    T_CHECK(nw > 20, "%zu windows", nw);
    for (size_t i = 0; i + 1 < nw; i++)
        T_CHECK(w[i].end <= w[i + 1].start + 1e-9);
    t_note("chapter I: %zu sentences, %zu windows, %.0f s estimated", n, nw, w[nw - 1].end);
    free(w);
    free(ts);
}

static void test_embed_blob(void)
{
    float v[QTEXT_EMBED_DIM], v2[QTEXT_EMBED_DIM];
    qerrctx err = {0};
    const char *s = "The emperor of Lilliput and his court";
    T_REQUIRE(qtext_embed_text(s, strlen(s), NULL, v, &err) == Q_OK);
    double nn = 0;
    for (int i = 0; i < QTEXT_EMBED_DIM; i++)
        nn += v[i] * v[i];
    T_CHECK(fabs(nn - 1) < 1e-5);
    T_REQUIRE(qtext_embed_text(s, strlen(s), NULL, v2, &err) == Q_OK);
    T_CHECK(memcmp(v, v2, sizeof v) == 0, "deterministic");
    uint8_t blob[QTEXT_EMBED_BLOB_SIZE];
    qtext_embed_serialize(v, blob);
    T_REQUIRE(qtext_embed_deserialize(blob, sizeof blob, v2, &err) == Q_OK);
    T_CHECK(memcmp(v, v2, sizeof v) == 0, "round trip");
    blob[2] = 9;
    qerrctx e2 = {0};
    T_EQ_INT(qtext_embed_deserialize(blob, sizeof blob, v2, &e2), Q_ERR_INVALID);
    T_EQ_INT(qtext_embed_deserialize(blob, 10, v2, &e2), Q_ERR_INVALID);
    /* Similar texts are closer than unrelated ones. */
    float a[QTEXT_EMBED_DIM], b[QTEXT_EMBED_DIM], c[QTEXT_EMBED_DIM];
    const char *ta = "the emperor rode his horse to the temple";
    const char *tb = "his majesty the emperor came on horseback to the temple gate";
    const char *tc = "a huge silver chest full of dust made the searchers sneeze";
    qtext_embed_text(ta, strlen(ta), NULL, a, &err);
    qtext_embed_text(tb, strlen(tb), NULL, b, &err);
    qtext_embed_text(tc, strlen(tc), NULL, c, &err);
    float ab = 0, ac = 0;
    for (int i = 0; i < QTEXT_EMBED_DIM; i++) {
        ab += a[i] * b[i];
        ac += a[i] * c[i];
    }
    T_CHECK(ab > ac + 0.2f, "related %.2f vs unrelated %.2f", ab, ac);
    /* No content words: the zero vector. */
    T_REQUIRE(qtext_embed_text("the of and", 10, NULL, v, &err) == Q_OK);
    for (int i = 0; i < QTEXT_EMBED_DIM; i++)
        T_CHECK(v[i] == 0.0f);
}

int main(void)
{
    if (td_load_gulliver(&book) != 0) {
        printf("cannot read tests/data (run from the repository root)\n");
        return 1;
    }
    T_RUN(test_tokenize);
    T_RUN(test_sentences);
    T_RUN(test_df_and_tfidf);
    T_RUN(test_tags);
    T_RUN(test_windows);
    T_RUN(test_embed_blob);
    td_free(&book);
    return t_done();
}
