/* test_summarize.c - the extractive summarizer on Gulliver's Travels
 * chapters I-III against Swift's own chapter synopses (tests/data): size,
 * no duplicates, order, times, options, and ROUGE beside Lead-N and random
 * baselines. */
#include "t.h"

#include <math.h>
#include <stdlib.h>

#include "rouge.h"
#include "text.h"
#include "textdata.h"

#define K 3   /* sentences per chapter summary: Swift's synopses are 3-5 clauses */

static td_book book;

/* The text of segments idx[0..n), joined. */
static char *join_idx(const qtext_seg *s, const size_t *idx, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += s[idx[i]].len + 1;
    char *out = malloc(len), *w = out;
    for (size_t i = 0; i < n; i++) {
        memcpy(w, s[idx[i]].text, s[idx[i]].len);
        w += s[idx[i]].len;
        *w++ = ' ';
    }
    *w = 0;
    return out;
}

static void test_size_and_duplicates(void)
{
    for (size_t c = 0; c < book.nch; c++) {
        qtext_seg *segs;
        size_t n;
        qerrctx err = {0};
        T_REQUIRE(qtext_segments_from_text(book.ch[c], book.chlen[c], &segs, &n, &err) == Q_OK);
        T_CHECK(n > 50, "chapter %zu has %zu sentences", c + 1, n);
        for (size_t want = 1; want <= 12; want += 5) {
            qtext_summary_opts o = {.sentences = want};
            qtext_summary s;
            T_REQUIRE(qtext_summarize(segs, n, &o, &s, &err) == Q_OK, "%s", err.msg);
            T_EQ_INT(s.n, want);
            for (size_t i = 0; i < s.n; i++) {
                T_CHECK(s.items[i].index < n);
                T_CHECK(s.items[i].score > 0 && s.items[i].score <= 1.0f);
                T_CHECK(s.items[i].start < 0, "untimed text keeps no time");
                if (i > 0)
                    T_CHECK(s.items[i - 1].index < s.items[i].index, "in order, no repeats");
                for (size_t j = 0; j < i; j++) {
                    const qtext_seg *a = &segs[s.items[i].index], *b = &segs[s.items[j].index];
                    T_CHECK(a->len != b->len || memcmp(a->text, b->text, a->len) != 0,
                            "duplicate sentence text");
                }
            }
            T_CHECK(s.text && strlen(s.text) > 0 && !strchr(s.text, '\n'));
            qtext_summary_free(&s);
        }
        /* Ratio: ceil(ratio * n) sentences. */
        qtext_summary_opts o = {.ratio = 0.05};
        qtext_summary s;
        T_REQUIRE(qtext_summarize(segs, n, &o, &s, &err) == Q_OK);
        T_EQ_INT(s.n, (size_t)ceil(0.05 * n));
        qtext_summary_free(&s);
        free(segs);
    }
}

/* The same sentence many times must not fill the summary. */
static void test_repeated_input(void)
{
    qtext_seg segs[40];
    const char *a = "The emperor of Lilliput came to see the man-mountain in the temple.";
    const char *b = "Six hundred beds were sewn together to make one bed for the prisoner.";
    const char *c = "The officers searched his pockets and wrote an inventory of everything.";
    for (int i = 0; i < 40; i++) {
        const char *t = i % 4 == 3 ? (i % 8 == 3 ? b : c) : a;
        segs[i].text = t;
        segs[i].len = strlen(t);
        segs[i].start = i * 10.0;
        segs[i].end = i * 10.0 + 9.5;
    }
    qtext_summary_opts o = {.sentences = 3};
    qtext_summary s;
    qerrctx err = {0};
    T_REQUIRE(qtext_summarize(segs, 40, &o, &s, &err) == Q_OK);
    T_EQ_INT(s.n, 3);
    for (size_t i = 0; i < s.n; i++) {
        T_CHECK(s.items[i].start == segs[s.items[i].index].start, "keeps source start");
        T_CHECK(s.items[i].end == s.items[i].start + 9.5, "keeps source end");
        for (size_t j = 0; j < i; j++)
            T_CHECK(segs[s.items[i].index].text != segs[s.items[j].index].text,
                    "picked the same sentence twice");
    }
    qtext_summary_free(&s);
}

static void test_edges(void)
{
    qtext_summary s;
    qerrctx err = {0};
    T_EQ_INT(qtext_summarize(NULL, 0, NULL, &s, &err), Q_OK);
    T_EQ_INT(s.n, 0);
    qtext_seg one = {"Only one sentence here.", 23, -1, -1};
    qtext_summary_opts o = {.sentences = 5};
    T_EQ_INT(qtext_summarize(&one, 1, &o, &s, &err), Q_OK);
    T_EQ_INT(s.n, 1);
    T_EQ_STR(s.text, "Only one sentence here.");
    qtext_summary_free(&s);
    qtext_summary_opts bad = {.dim = 1000};
    T_EQ_INT(qtext_summarize(&one, 1, &bad, &s, &err), Q_ERR_INVALID);
    qtext_summary_free(NULL);
}

/* Inputs longer than a block go through the block stage. */
static void test_blocks(void)
{
    qtext_seg *segs;
    size_t n;
    qerrctx err = {0};
    T_REQUIRE(qtext_segments_from_text(book.ch[0], book.chlen[0], &segs, &n, &err) == Q_OK);
    qtext_summary_opts o = {.sentences = 4, .block = 32};
    qtext_summary s;
    T_REQUIRE(qtext_summarize(segs, n, &o, &s, &err) == Q_OK);
    T_EQ_INT(s.n, 4);
    for (size_t i = 1; i < s.n; i++)
        T_CHECK(s.items[i - 1].index < s.items[i].index);
    qtext_summary_free(&s);
    free(segs);
}

/* ROUGE against Swift's synopses: ours above the random baseline. */
static void test_rouge(void)
{
    double ours1 = 0, oursl = 0, lead1 = 0, leadl = 0, rnd1 = 0, rndl = 0;
    unsigned seed = 7;
    for (size_t c = 0; c < book.nch; c++) {
        qtext_seg *segs;
        size_t n;
        qerrctx err = {0};
        T_REQUIRE(qtext_segments_from_text(book.ch[c], book.chlen[c], &segs, &n, &err) == Q_OK);
        qtext_summary_opts o = {.sentences = K};
        qtext_summary s;
        T_REQUIRE(qtext_summarize(segs, n, &o, &s, &err) == Q_OK);
        rouge_score r1 = rouge_1(s.text, book.syn[c]), rl = rouge_l(s.text, book.syn[c]);
        size_t lead_idx[K] = {0, 1, 2};
        char *lead = join_idx(segs, lead_idx, K);
        rouge_score l1 = rouge_1(lead, book.syn[c]), ll = rouge_l(lead, book.syn[c]);
        /* Random: K distinct sentences, 200 draws. */
        double a1 = 0, al = 0;
        for (int d = 0; d < 200; d++) {
            size_t idx[K];
            for (int i = 0; i < K; i++) {
                int again;
                do {
                    seed = seed * 1103515245u + 12345u;
                    idx[i] = (seed >> 8) % n;
                    again = 0;
                    for (int j = 0; j < i; j++)
                        again |= idx[j] == idx[i];
                } while (again);
            }
            char *rt = join_idx(segs, idx, K);
            a1 += rouge_1(rt, book.syn[c]).f / 200;
            al += rouge_l(rt, book.syn[c]).f / 200;
            free(rt);
        }
        t_note("chapter %zu: ROUGE-1 F %.3f (R %.3f) ROUGE-L F %.3f | Lead-%d %.3f / %.3f | "
               "random %.3f / %.3f",
               c + 1, r1.f, r1.r, rl.f, K, l1.f, ll.f, a1, al);
        ours1 += r1.f / book.nch;
        oursl += rl.f / book.nch;
        lead1 += l1.f / book.nch;
        leadl += ll.f / book.nch;
        rnd1 += a1 / book.nch;
        rndl += al / book.nch;
        free(lead);
        qtext_summary_free(&s);
        free(segs);
    }
    t_note("mean over %zu chapters: ROUGE-1 F ours %.3f, Lead-%d %.3f, random %.3f", book.nch,
           ours1, K, lead1, rnd1);
    t_note("mean over %zu chapters: ROUGE-L F ours %.3f, Lead-%d %.3f, random %.3f", book.nch,
           oursl, K, leadl, rndl);
    T_CHECK(ours1 > rnd1, "ROUGE-1 %.3f not above random %.3f", ours1, rnd1);
    T_CHECK(oursl > rndl, "ROUGE-L %.3f not above random %.3f", oursl, rndl);
}

/* Chapter summaries and a book summary from them, indexes into the book. */
static void test_book(void)
{
    qtext_seg *segs = NULL;
    size_t n = 0, first[TD_MAX_CHAPTERS];
    qerrctx err = {0};
    for (size_t c = 0; c < book.nch; c++) {
        qtext_seg *s;
        size_t m;
        T_REQUIRE(qtext_segments_from_text(book.ch[c], book.chlen[c], &s, &m, &err) == Q_OK);
        segs = realloc(segs, (n + m) * sizeof *segs);
        memcpy(segs + n, s, m * sizeof *s);
        first[c] = n;
        n += m;
        free(s);
    }
    qtext_summary ch[TD_MAX_CHAPTERS], whole;
    qtext_summary_opts co = {.sentences = 4}, bo = {.sentences = 5};
    T_REQUIRE(qtext_summarize_book(segs, n, first, book.nch, &co, &bo, ch, &whole, &err) == Q_OK,
              "%s", err.msg);
    for (size_t c = 0; c < book.nch; c++) {
        size_t end = c + 1 < book.nch ? first[c + 1] : n;
        T_EQ_INT(ch[c].n, 4);
        for (size_t i = 0; i < ch[c].n; i++)
            T_CHECK(ch[c].items[i].index >= first[c] && ch[c].items[i].index < end,
                    "chapter %zu item outside its chapter", c + 1);
    }
    T_EQ_INT(whole.n, 5);
    for (size_t i = 0; i < whole.n; i++) {
        int found = 0;
        for (size_t c = 0; c < book.nch; c++)
            for (size_t j = 0; j < ch[c].n; j++)
                found |= ch[c].items[j].index == whole.items[i].index;
        T_CHECK(found, "book summary sentence %zu is a chapter summary sentence", i);
        if (i)
            T_CHECK(whole.items[i - 1].index < whole.items[i].index);
    }
    t_note("book summary: %.200s...", whole.text);
    for (size_t c = 0; c < book.nch; c++)
        qtext_summary_free(&ch[c]);
    qtext_summary_free(&whole);
    size_t bad[2] = {1, 0};
    qerrctx e2 = {0};
    T_EQ_INT(qtext_summarize_book(segs, n, bad, 2, NULL, NULL, ch, &whole, &e2), Q_ERR_INVALID);
    free(segs);
}

int main(void)
{
    if (td_load_gulliver(&book) != 0) {
        printf("cannot read tests/data (run from the repository root)\n");
        return 1;
    }
    T_RUN(test_size_and_duplicates);
    T_RUN(test_repeated_input);
    T_RUN(test_edges);
    T_RUN(test_blocks);
    T_RUN(test_rouge);
    T_RUN(test_book);
    td_free(&book);
    return t_done();
}
