/* test_transcript.c - transcript building, the txt/json/srt/vtt writers
 * (formats checked exactly), JSON read-back and chapter concatenation. */
#include "t.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transcript.h"

/* Run a writer into a string (caller frees). */
static char *render(q_transcript_writer fn, const q_transcript *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    qerrctx err = {0};
    qerr e = fn(t, f, &err);
    fclose(f);
    if (e) { free(buf); return NULL; }
    return buf;
}

static void sample(q_transcript *t)
{
    qerrctx err = {0};
    q_transcript_init(t);
    q_transcript_add_segment(t, 0.5, 2.25, NULL, &err);
    q_transcript_add_word(t, "hello", 0.5, 0.9, &err);
    q_transcript_add_word(t, "world", 1.0, 2.25, &err);
    q_transcript_add_segment(t, 3661.0, 3663.5, NULL, &err);
    q_transcript_add_word(t, "fish", 3661.0, 3661.4, &err);
    q_transcript_add_word(t, "&", 3661.5, 3661.6, &err);
    q_transcript_add_word(t, "<chips>", 3661.7, 3663.5, &err);
}

static void test_build_and_txt(void)
{
    q_transcript t;
    sample(&t);
    T_EQ_INT(t.nsegs, 2);
    T_EQ_STR(t.segs[0].text, "hello world");
    T_EQ_INT(q_transcript_word_count(&t), 5);
    char *s = render(q_transcript_write_txt, &t);
    T_EQ_STR(s, "hello world\nfish & <chips>\n");
    free(s);
    q_transcript_free(&t);
    q_transcript_free(&t);   /* idempotent */
    q_transcript empty;
    q_transcript_init(&empty);
    qerrctx err = {0};
    T_EQ_INT(q_transcript_add_word(&empty, "x", 0, 1, &err), Q_ERR_INTERNAL);
    s = render(q_transcript_write_json, &empty);
    T_EQ_STR(s, "{\"segments\":[]}\n");
    free(s);
}

static void test_srt_format(void)
{
    q_transcript t;
    sample(&t);
    char *s = render(q_transcript_write_srt, &t);
    T_EQ_STR(s,
             "1\n00:00:00,500 --> 00:00:02,250\nhello world\n\n"
             "2\n01:01:01,000 --> 01:01:03,500\nfish & <chips>\n\n");
    free(s);
    q_transcript_free(&t);
}

static void test_vtt_format(void)
{
    q_transcript t;
    sample(&t);
    char *s = render(q_transcript_write_vtt, &t);
    T_EQ_STR(s,
             "WEBVTT\n\n"
             "1\n00:00:00.500 --> 00:00:02.250\nhello world\n\n"
             "2\n01:01:01.000 --> 01:01:03.500\nfish &amp; &lt;chips&gt;\n\n");
    free(s);
    q_transcript_free(&t);
}

static void test_long_segment_splits_into_cues(void)
{
    q_transcript t;
    q_transcript_init(&t);
    qerrctx err = {0};
    q_transcript_add_segment(&t, 0, 30, NULL, &err);
    for (int i = 0; i < 60; i++) q_transcript_add_word(&t, "word", i * 0.5, i * 0.5 + 0.4, &err);
    char *s = render(q_transcript_write_srt, &t);
    T_REQUIRE(s != NULL);
    int cues = 0;
    for (char *p = s; (p = strstr(p, " --> ")) != NULL; p += 5) cues++;
    T_CHECK(cues >= 5, "%d cues", cues);
    /* Every cue line stays within the cap. */
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n"))
        T_CHECK(strlen(line) <= Q_CUE_MAX_CHARS, "line of %zu", strlen(line));
    free(s);
    /* A segment without words is spread over its time. */
    q_transcript u;
    q_transcript_init(&u);
    q_transcript_add_segment(&u, 10, 12, "only text here", &err);
    s = render(q_transcript_write_vtt, &u);
    T_EQ_STR(s, "WEBVTT\n\n1\n00:00:10.000 --> 00:00:12.000\nonly text here\n\n");
    free(s);
    q_transcript_free(&u);
    q_transcript_free(&t);
}

static void test_json_round_trip_and_offsets(void)
{
    q_transcript t;
    sample(&t);
    char *js = render(q_transcript_write_json, &t);
    T_REQUIRE(js != NULL);
    T_CHECK(strstr(js, "{\"segments\":[{\"start\":0.5,\"end\":2.25,\"text\":\"hello world\",\"words\":[{\"word\":\"hello\",\"start\":0.5,\"end\":0.9}") == js,
            "%s", js);
    q_transcript back;
    q_transcript_init(&back);
    qerrctx err = {0};
    T_EQ_INT(q_transcript_read_json(&back, js, strlen(js), &err), Q_OK);
    T_EQ_INT(back.nsegs, 2);
    T_EQ_STR(back.segs[1].text, "fish & <chips>");
    T_EQ_INT(back.segs[1].nwords, 3);
    T_EQ_STR(back.segs[1].words[2].word, "<chips>");
    /* The book: chapter 1 then chapter 2 starting at 100 s. */
    q_transcript book;
    q_transcript_init(&book);
    T_EQ_INT(q_transcript_append(&book, &back, 0, &err), Q_OK);
    T_EQ_INT(q_transcript_append(&book, &back, 100, &err), Q_OK);
    T_EQ_INT(book.nsegs, 4);
    T_CHECK(book.segs[2].start == 100.5 && book.segs[2].words[1].start == 101.0,
            "%f %f", book.segs[2].start, book.segs[2].words[1].start);
    char *srt = render(q_transcript_write_srt, &book);
    T_CHECK(strstr(srt, "3\n00:01:40,500 --> 00:01:42,250\nhello world\n") != NULL, "%s", srt);
    free(srt);
    free(js);
    q_transcript_free(&book);
    q_transcript_free(&back);
    q_transcript_free(&t);
}

static void test_json_rejects_bad_input(void)
{
    const char *bad[] = { "", "{", "[]", "{\"segments\":{}}", "{\"segments\":[{\"start\":\"a\",\"end\":1}]}",
                          "{\"segments\":[{\"start\":0,\"end\":1,\"words\":[{\"word\":3}]}]}",
                          "{\"segments\":[{\"start\":0,\"end\":1,\"words\":7}]}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        q_transcript t;
        q_transcript_init(&t);
        qerrctx err = {0};
        T_EQ_INT(q_transcript_read_json(&t, bad[i], strlen(bad[i]), &err), Q_ERR_UNPROCESSABLE);
        T_CHECK(err.msg[0] != 0);
        q_transcript_free(&t);
    }
    /* Negative and absurd times are clamped, not trusted. */
    const char *odd = "{\"segments\":[{\"start\":-5,\"end\":-1,\"text\":\"x\"}]}";
    q_transcript t;
    q_transcript_init(&t);
    qerrctx err = {0};
    T_EQ_INT(q_transcript_read_json(&t, odd, strlen(odd), &err), Q_OK);
    T_CHECK(t.segs[0].start == 0 && t.segs[0].end == 0);
    q_transcript_free(&t);
    T_CHECK(q_transcript_writer_for("srt") == q_transcript_write_srt);
    T_CHECK(q_transcript_writer_for("doc") == NULL);
    T_EQ_STR(q_transcript_mime("vtt"), "text/vtt; charset=utf-8");
}

static void test_save_files(void)
{
    char dir[] = "/tmp/quire-tr-XXXXXX";
    T_REQUIRE(mkdtemp(dir) != NULL);
    char prefix[128], p[160];
    snprintf(prefix, sizeof prefix, "%s/ch1", dir);
    q_transcript t;
    sample(&t);
    qerrctx err = {0};
    T_EQ_INT(q_transcript_save(&t, prefix, &err), Q_OK);
    const char *ext[] = { "txt", "json", "srt", "vtt" };
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s.%s", prefix, ext[i]);
        FILE *f = fopen(p, "r");
        T_CHECK(f != NULL, "%s", p);
        if (f) {
            char line[64] = "";
            T_CHECK(fgets(line, sizeof line, f) != NULL);
            if (i == 3) T_EQ_STR(line, "WEBVTT\n");
            fclose(f);
        }
        unlink(p);
    }
    qerrctx e2 = {0};
    T_EQ_INT(q_transcript_save(&t, "/nonexistent-dir/x", &e2), Q_ERR_IO);
    rmdir(dir);
    q_transcript_free(&t);
}

int main(void)
{
    T_RUN(test_build_and_txt);
    T_RUN(test_srt_format);
    T_RUN(test_vtt_format);
    T_RUN(test_long_segment_splits_into_cues);
    T_RUN(test_json_round_trip_and_offsets);
    T_RUN(test_json_rejects_bad_input);
    T_RUN(test_save_files);
    return t_done();
}
