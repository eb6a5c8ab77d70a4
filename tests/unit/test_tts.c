/* test_tts.c - speech synthesis: text normalisation and chunking edge cases,
 * every flite voice and espeak-ng (English, Hindi) producing non-silent audio
 * of plausible length, speed, bad voices, odd text, cancellation, and the
 * round trip flite slt -> transcribe with WER <= 0.35. */
#include "t.h"
#include "fixture.h"
#include "wer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asr.h"
#include "audio.h"
#include "tts.h"

/* ---- chunker ------------------------------------------------------------ */

static size_t utf8_len(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

/* Chunk s; check every chunk is <= max code points, starts and ends on a
 * character boundary, and the chunks rejoined equal s modulo spaces. */
static size_t chunk_all(const char *s, size_t max, char out[][600], size_t cap)
{
    size_t pos = 0, st, len, n = 0;
    char rejoined[8192] = "";
    while (q_tts_chunk_next(s, &pos, max, &st, &len)) {
        T_CHECK(len > 0);
        T_CHECK(utf8_len(s + st, len) <= max, "chunk of %zu chars", utf8_len(s + st, len));
        T_CHECK(((unsigned char)s[st] & 0xC0) != 0x80, "chunk starts inside a character");
        T_CHECK(st + len == strlen(s) || ((unsigned char)s[st + len] & 0xC0) != 0x80, "chunk ends inside a character");
        if (n < cap) { memcpy(out[n], s + st, len < 599 ? len : 599); out[n][len < 599 ? len : 599] = 0; }
        if (strlen(rejoined) + len + 2 < sizeof rejoined) {
            if (rejoined[0]) strcat(rejoined, " ");
            strncat(rejoined, s + st, len);
        }
        n++;
        if (n > 10000) break;
    }
    if (strlen(s) < sizeof rejoined - 100) {
        /* Nothing lost or added but the spaces between chunks. */
        char a[8192], b[8192];
        size_t x = 0, y = 0;
        for (const char *p = rejoined; *p; p++) if (*p != ' ') a[x++] = *p;
        for (const char *p = s; *p && y < sizeof b - 1; p++) if (*p != ' ') b[y++] = *p;
        a[x] = b[y] = 0;
        T_EQ_STR(a, b);
    }
    return n;
}

static void test_normalize(void)
{
    char *n = q_tts_normalize("  \xe2\x80\x9cHello,\xe2\x80\x9d  she said\xe2\x80\x94\tquietly\xe2\x80\xa6 \r\n\r\nIt\xe2\x80\x99s late. ", 0);
    T_EQ_STR(n, "");   /* len 0: nothing */
    free(n);
    const char *src = "  \xe2\x80\x9cHello,\xe2\x80\x9d  she said\xe2\x80\x94\tquietly\xe2\x80\xa6 \r\n\r\nIt\xe2\x80\x99s late. ";
    n = q_tts_normalize(src, strlen(src));
    T_EQ_STR(n, "\"Hello,\" she said - quietly... It's late.");
    free(n);
    const char *para = "Chapter One\n\nIt was dark";
    n = q_tts_normalize(para, strlen(para));
    T_EQ_STR(n, "Chapter One. It was dark");
    free(n);
    /* Invalid UTF-8 and control characters become spaces; Devanagari stays. */
    const char *odd = "a\xff\xfe b\x01\x02" "c \xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4\xa4\xe0\xa5\x87\xe0\xa5\xa4 \xc3";
    n = q_tts_normalize(odd, strlen(odd));
    T_EQ_STR(n, "a b c \xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4\xa4\xe0\xa5\x87\xe0\xa5\xa4");
    free(n);
    n = q_tts_normalize(NULL, 10);
    T_EQ_STR(n, "");
    free(n);
}

static void test_chunk_sentences(void)
{
    char out[16][600];
    const char *s = "One two three. Four five six! Seven eight nine? Ten.";
    T_EQ_INT(chunk_all(s, 20, out, 16), 4);
    T_EQ_STR(out[0], "One two three.");
    T_EQ_STR(out[1], "Four five six!");
    T_EQ_STR(out[3], "Ten.");
    /* Whole text fits: one chunk. */
    T_EQ_INT(chunk_all(s, 500, out, 16), 1);
    /* Sentence end inside quotes counts. */
    const char *q = "He said \"Stop.\" Then he left the room quickly.";
    T_EQ_INT(chunk_all(q, 30, out, 16), 2);
    T_EQ_STR(out[0], "He said \"Stop.\"");
}

static void test_chunk_clause_then_word(void)
{
    char out[16][600];
    const char *s = "alpha beta gamma, delta epsilon zeta eta theta iota";
    T_EQ_INT(chunk_all(s, 30, out, 16), 3);
    T_EQ_STR(out[0], "alpha beta gamma,");
    T_EQ_STR(out[1], "delta epsilon zeta eta theta");
    const char *w = "alpha beta gamma delta epsilon zeta eta theta iota";
    size_t n = chunk_all(w, 20, out, 16);
    T_EQ_INT(n, 3);
    T_EQ_STR(out[0], "alpha beta gamma");
    /* Never inside a word: every chunk ends at a word end. */
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(out[i]);
        T_CHECK(l > 0 && out[i][l - 1] != ' ');
    }
}

static void test_chunk_edges(void)
{
    char out[64][600];
    size_t pos = 0, st, len;
    T_EQ_INT(q_tts_chunk_next("", &pos, 500, &st, &len), 0);
    pos = 0;
    T_EQ_INT(q_tts_chunk_next("     ", &pos, 500, &st, &len), 0);
    /* A single word longer than a chunk is cut, at character boundaries. */
    char big[1300];
    for (int i = 0; i < 400; i++) memcpy(big + 3 * i, "\xe0\xa4\x85", 3);   /* 400 x Devanagari A */
    big[1200] = 0;
    T_EQ_INT(chunk_all(big, 150, out, 64), 3);
    /* 500-character limit on a long realistic text, Hindi punctuation. */
    char text[6000] = "";
    for (int i = 0; i < 40; i++)
        strcat(text, "\xe0\xa4\xaf\xe0\xa4\xb9 \xe0\xa4\x8f\xe0\xa4\x95 \xe0\xa4\xb5\xe0\xa4\xbe\xe0\xa4\x95\xe0\xa5\x8d\xe0\xa4\xaf \xe0\xa4\xb9\xe0\xa5\x88\xe0\xa5\xa4 ");
    text[strlen(text) - 1] = 0;
    size_t n = chunk_all(text, 500, out, 64);
    T_CHECK(n >= 2);
    for (size_t i = 0; i < n && i < 64; i++) {
        size_t l = strlen(out[i]);
        T_CHECK(l >= 3 && !memcmp(out[i] + l - 3, "\xe0\xa5\xa4", 3), "chunk %zu ends at a danda", i);
    }
}

/* ---- engines -------------------------------------------------------------- */

typedef struct pcm_acc {
    size_t n;
    double sq;
    int16_t *keep;      /* when non-NULL, samples are kept (cap) */
    size_t cap;
} pcm_acc;

static int acc_sink(void *ud, const int16_t *pcm, size_t n)
{
    pcm_acc *a = ud;
    for (size_t i = 0; i < n; i++) a->sq += (double)pcm[i] * pcm[i];
    if (a->keep) {
        if (a->n + n > a->cap) return 1;
        memcpy(a->keep + a->n, pcm, n * sizeof *pcm);
    }
    a->n += n;
    return 0;
}

static const char *sentence =
    "The quick brown fox jumps over the lazy dog, and then it runs far away into the green forest.";

static double g_pitch = 1.0;       /* pitch for speak(); tests set it back to 1 */
static double g_f0;                /* median F0 (Hz) of the last speak() */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median F0 over loud 40 ms frames, by autocorrelation over 70..400 Hz. */
static double median_f0(const int16_t *x, size_t n, int rate)
{
    size_t win = (size_t)rate / 25, lo = (size_t)rate / 400, hi = (size_t)rate / 70;
    double *f0 = malloc(sizeof *f0 * (n / win + 1));
    size_t m = 0;
    for (size_t s = 0; f0 && s + win + hi < n; s += win) {
        double e = 0;
        for (size_t i = 0; i < win; i++) e += (double)x[s + i] * x[s + i];
        if (e / win < 1500.0 * 1500.0) continue;
        double best = 0;
        size_t lag = 0;
        for (size_t l = lo; l <= hi; l++) {
            double c = 0;
            for (size_t i = 0; i < win; i++) c += (double)x[s + i] * x[s + i + l];
            if (c > best) { best = c; lag = l; }
        }
        if (lag && best > 0.3 * e) f0[m++] = (double)rate / (double)lag;
    }
    double r = 0;
    if (m) { qsort(f0, m, sizeof *f0, cmp_double); r = f0[m / 2]; }
    free(f0);
    return r;
}

static double speak(const q_tts_engine *e, const char *voice, double speed, const char *text,
                    double *rms, int *rate, qerr *rc, qerrctx *err)
{
    q_tts_params p = { .voice = voice, .speed = speed, .pitch = g_pitch };
    q_tts *t;
    pcm_acc a = { .keep = malloc(sizeof(int16_t) * 22050 * 60), .cap = 22050 * 60 };
    *rc = q_tts_open(e, &p, &t, err);
    if (*rc) { free(a.keep); return 0; }
    *rate = q_tts_rate(t);
    *rc = q_tts_speak(t, text, strlen(text), acc_sink, &a, NULL, NULL, err);
    q_tts_close(t);
    *rms = a.n ? sqrt(a.sq / (double)a.n) : 0;
    g_f0 = *rate ? median_f0(a.keep, a.n, *rate) : 0;
    free(a.keep);
    return *rate > 0 ? (double)a.n / *rate : 0;
}

static void test_flite_voices(void)
{
    q_tts_voice v[8];
    T_EQ_INT(q_tts_flite.list_voices(v, 8), 4);
    const char *ids[] = { "slt", "rms", "awb", "kal" };
    for (int i = 0; i < 4; i++) {
        T_EQ_STR(v[i].id, ids[i]);
        double rms;
        int rate;
        qerr rc;
        qerrctx err = {0};
        double secs = speak(&q_tts_flite, ids[i], 1.0, sentence, &rms, &rate, &rc, &err);
        T_EQ_INT(rc, Q_OK);
        t_note("flite %s: %.2f s at %d Hz, rms %.0f", ids[i], secs, rate, rms);
        /* 19 words at 120-220 words a minute. */
        T_CHECK(secs > 4.0 && secs < 11.0, "%s: %.2f s", ids[i], secs);
        T_CHECK(rms > 300, "%s rms %.0f", ids[i], rms);
        T_CHECK(rate == 8000 || rate == 16000, "%s rate %d", ids[i], rate);
    }
}

static void test_speed(void)
{
    double r1, r2;
    int rate;
    qerr rc;
    qerrctx err = {0};
    double normal = speak(&q_tts_flite, "slt", 1.0, sentence, &r1, &rate, &rc, &err);
    double fast = speak(&q_tts_flite, "slt", 2.0, sentence, &r2, &rate, &rc, &err);
    double slow = speak(&q_tts_espeak, "en-us", 0.5, sentence, &r2, &rate, &rc, &err);
    double enorm = speak(&q_tts_espeak, "en-us", 1.0, sentence, &r2, &rate, &rc, &err);
    T_CHECK(fast < normal * 0.7, "flite speed 2: %.2f s vs %.2f s", fast, normal);
    T_CHECK(slow > enorm * 1.4, "espeak speed 0.5: %.2f s vs %.2f s", slow, enorm);
    /* Higher pitch: higher fundamental frequency. */
    const q_tts_engine *es[] = { &q_tts_flite, &q_tts_espeak };
    for (int k = 0; k < 2; k++) {
        g_pitch = 1.0;
        speak(es[k], NULL, 1.0, sentence, &r1, &rate, &rc, &err);
        double low = g_f0;
        g_pitch = 1.8;
        speak(es[k], NULL, 1.0, sentence, &r1, &rate, &rc, &err);
        double high = g_f0;
        g_pitch = 1.0;
        t_note("%s median F0 at pitch 1.0: %.0f Hz, at pitch 1.8: %.0f Hz", es[k]->name, low, high);
        T_CHECK(high > low * 1.1, "%s pitch has no effect", es[k]->name);
    }
}

static void test_espeak_english_and_hindi(void)
{
    q_tts_voice *v = calloc(512, sizeof *v);
    T_REQUIRE(v != NULL);
    size_t n = q_tts_espeak.list_voices(v, 512);
    int has_hi = 0;
    for (size_t i = 0; i < n && i < 512; i++) if (!strcmp(v[i].id, "hi")) has_hi = 1;
    free(v);
    T_CHECK(n > 50, "%zu espeak voices", n);
    T_CHECK(has_hi, "Hindi voice listed");
    double rms;
    int rate;
    qerr rc;
    qerrctx err = {0};
    double secs = speak(&q_tts_espeak, "en-us", 1.0, sentence, &rms, &rate, &rc, &err);
    T_EQ_INT(rc, Q_OK);
    t_note("espeak en-us: %.2f s at %d Hz, rms %.0f", secs, rate, rms);
    T_CHECK(secs > 4.0 && secs < 11.0 && rms > 300, "%.2f s rms %.0f", secs, rms);
    /* "This is a test sentence in Hindi, and it is spoken well." */
    const char *hi = "\xe0\xa4\xaf\xe0\xa4\xb9 \xe0\xa4\xb9\xe0\xa4\xbf\xe0\xa4\x82\xe0\xa4\xa6\xe0\xa5\x80 "
                     "\xe0\xa4\xae\xe0\xa5\x87\xe0\xa4\x82 \xe0\xa4\x8f\xe0\xa4\x95 \xe0\xa4\xaa\xe0\xa4\xb0"
                     "\xe0\xa5\x80\xe0\xa4\x95\xe0\xa5\x8d\xe0\xa4\xb7\xe0\xa4\xa3 \xe0\xa4\xb5\xe0\xa4\xbe"
                     "\xe0\xa4\x95\xe0\xa5\x8d\xe0\xa4\xaf \xe0\xa4\xb9\xe0\xa5\x88\xe0\xa5\xa4";
    qerrctx e2 = {0};
    secs = speak(&q_tts_espeak, "hi", 1.0, hi, &rms, &rate, &rc, &e2);
    T_EQ_INT(rc, Q_OK);
    t_note("espeak hi: %.2f s, rms %.0f", secs, rms);
    T_CHECK(secs > 1.0 && secs < 8.0 && rms > 300, "%.2f s rms %.0f", secs, rms);
}

static void test_bad_voice_and_odd_text(void)
{
    q_tts *t;
    qerrctx err = {0};
    q_tts_params p = { .voice = "nobody" };
    T_EQ_INT(q_tts_open(&q_tts_flite, &p, &t, &err), Q_ERR_UNPROCESSABLE);
    T_EQ_STR(err.msg, "unknown voice 'nobody' for flite");
    qerrctx e2 = {0};
    q_tts_params p2 = { .voice = "zz-nowhere" };
    T_EQ_INT(q_tts_open(&q_tts_espeak, &p2, &t, &e2), Q_ERR_UNPROCESSABLE);
    T_CHECK(q_tts_engine_by_name("espeak-ng") == &q_tts_espeak && q_tts_engine_by_name("x") == NULL);
    const char *v = "unset";
    T_CHECK(q_tts_engine_for(NULL, "rms", "en", &v) == &q_tts_flite);
    T_EQ_STR(v, "rms");
    T_CHECK(q_tts_engine_for(NULL, NULL, "hi", &v) == &q_tts_espeak);
    T_EQ_STR(v, "hi");
    T_CHECK(q_tts_engine_for(NULL, NULL, "en-GB", &v) == &q_tts_flite && v == NULL);
    T_CHECK(q_tts_engine_for(NULL, "de", NULL, &v) == &q_tts_espeak);
    T_CHECK(q_tts_engine_for("nope", NULL, NULL, &v) == NULL);
    const char *odd[] = { "", "   ", "...", "\xf0\x9f\x98\x80\xf0\x9f\x8e\x89", "#@$%^&*()", "\x01\x02\xff",
                          "1234567890 $3.50 3:45pm", "\xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4\xa4\xe0\xa5\x87" };
    const q_tts_engine *es[] = { &q_tts_flite, &q_tts_espeak };
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
            double rms;
            int rate;
            qerr rc;
            qerrctx e3 = {0};
            speak(es[k], NULL, 1.0, odd[i], &rms, &rate, &rc, &e3);
            T_CHECK(rc == Q_OK, "%s on text %zu: %s", es[k]->name, i, e3.msg);
        }
}

typedef struct cps { int calls, stop_at; double last; int backwards; } cps;

static int cp_fn(void *ud, double f, const char *m)
{
    cps *c = ud;
    (void)m;
    if (f < c->last) c->backwards = 1;
    c->last = f;
    return ++c->calls == c->stop_at;
}

static void test_progress_and_cancel(void)
{
    char text[4000] = "";
    for (int i = 0; i < 20; i++) strcat(text, "This sentence is here to make the text longer than one chunk. ");
    q_tts *t;
    qerrctx err = {0};
    T_REQUIRE(q_tts_open(&q_tts_flite, NULL, &t, &err) == Q_OK);
    pcm_acc a = {0};
    cps c = {0};
    T_EQ_INT(q_tts_speak(t, text, strlen(text), acc_sink, &a, cp_fn, &c, &err), Q_OK);
    T_CHECK(c.calls >= 4, "%d checkpoints", c.calls);
    T_CHECK(!c.backwards && c.last == 1.0);
    size_t full = a.n;
    pcm_acc b = {0};
    cps c2 = { .stop_at = 2 };
    qerrctx e2 = {0};
    T_EQ_INT(q_tts_speak(t, text, strlen(text), acc_sink, &b, cp_fn, &c2, &e2), Q_ERR_CANCELLED);
    T_CHECK(b.n > 0 && b.n < full / 2, "%zu of %zu samples before cancel", b.n, full);
    q_tts_close(t);
}

/* ---- a two-chapter book ---------------------------------------------------- */

static int cp_count(void *ud, double f, const char *m)
{
    (void)m;
    double *last = ud;
    if (f < *last) return 1;   /* progress must not go back: cancel to fail */
    *last = f;
    return 0;
}

static void render_book(q_audio_format fmt, const char *name)
{
    const char *texts[] = { "Chapter one. The sun rose over the quiet hills, and the village woke.",
                            "Chapter two. By evening the rain had come, and everyone stayed inside." };
    const char *titles[] = { "One", "Two" };
    q_audio_chapter ch[2];
    char out[600];
    qerrctx err = {0};
    double last = 0;
    q_tts_params p = { .voice = "slt" };
    q_audio_meta meta = { .title = "Two Days", .author = "Nobody" };
    T_REQUIRE(q_tts_render(&q_tts_flite, &p, texts, titles, 2, fx_path(name, out, sizeof out), fmt,
                           &meta, ch, cp_count, &last, &err) == Q_OK, "%s", err.msg);
    T_CHECK(last == 1.0);
    T_CHECK(ch[0].start_ms == 0 && ch[1].start_ms > 3000 && ch[1].end_ms > ch[1].start_ms + 3000,
            "chapters %lld %lld-%lld", (long long)ch[0].start_ms, (long long)ch[1].start_ms, (long long)ch[1].end_ms);
    char *argv[] = { "ffprobe", "-v", "error", "-show_chapters", "-of", "compact=p=0:nk=1",
                     "-show_entries", "chapter=start_time:chapter_tags=title", out, NULL };
    char *txt = wer_run_capture(argv, NULL);
    T_REQUIRE(txt != NULL);
    /* compact output: "start|title" per chapter */
    double s1 = -1;
    char t1[32] = "";
    const char *second = strchr(txt, '\n');
    T_REQUIRE(second != NULL, "%s", txt);
    T_CHECK(!strncmp(txt, "0.000000|One", 12), "%s", txt);
    int fields = sscanf(second + 1, "%lf|%31s", &s1, t1);
    T_CHECK(fields == 2, "%s", txt);
    T_CHECK(fabs(s1 - ch[1].start_ms / 1000.0) < 0.01, "ffprobe %.3f vs %.3f", s1, ch[1].start_ms / 1000.0);
    T_EQ_STR(t1, "Two");
    free(txt);
}

static int cancel_midway(void *ud, double f, const char *m)
{
    (void)ud; (void)m;
    return f >= 0.5;
}

/* Cancelled half way through a Hindi book: Q_ERR_CANCELLED, no file. */
static void test_render_cancel_leaves_nothing(void)
{
    const char *hi = "\xe0\xa4\xaf\xe0\xa4\xb9 \xe0\xa4\x8f\xe0\xa4\x95 \xe0\xa4\xb5\xe0\xa4\xbe"
                     "\xe0\xa4\x95\xe0\xa5\x8d\xe0\xa4\xaf \xe0\xa4\xb9\xe0\xa5\x88\xe0\xa5\xa4";
    const char *texts[] = { hi, hi, hi };
    char out[600];
    qerrctx err = {0};
    q_tts_params p = { .voice = "hi" };
    T_EQ_INT(q_tts_render(&q_tts_espeak, &p, texts, NULL, 3, fx_path("hi.mp3", out, sizeof out), Q_AUDIO_MP3,
                          NULL, NULL, cancel_midway, NULL, &err), Q_ERR_CANCELLED);
    T_CHECK(access(out, F_OK) != 0);
    char part[700];
    snprintf(part, sizeof part, "%s.tmp", out);
    T_CHECK(access(part, F_OK) != 0);
    /* And uncancelled it is a real file. */
    qerrctx e2 = {0};
    q_audio_chapter ch[3];
    T_EQ_INT(q_tts_render(&q_tts_espeak, &p, texts, NULL, 3, out, Q_AUDIO_MP3, NULL, ch, NULL, NULL, &e2), Q_OK);
    T_CHECK(access(out, F_OK) == 0);
    T_EQ_STR(ch[2].title, "Chapter 3");
    T_CHECK(ch[2].start_ms > ch[1].start_ms && ch[1].start_ms > 1000);
}

static void test_render_book_m4b(void) { render_book(Q_AUDIO_M4B, "book.m4b"); }
static void test_render_book_mp3(void) { render_book(Q_AUDIO_MP3, "book.mp3"); }

/* ---- round trip ------------------------------------------------------------ */

static const char *passage =
    "It was a bright cold day in April, and the clocks were striking thirteen. "
    "The old man walked slowly down the road to the market, where he bought bread, "
    "cheese and a basket of red apples for his family. His daughter was waiting at "
    "the door when he came home. She asked him about the weather and the price of "
    "the apples. He told her that the morning had been cold but the sun was warm in "
    "the afternoon. Then they sat down at the table and ate their dinner together, "
    "talking about the work that they would do in the garden the next day.";

static void test_round_trip_flite_to_asr(void)
{
    char wav[600];
    fx_path("roundtrip.wav", wav, sizeof wav);
    q_tts *t;
    qerrctx err = {0};
    q_tts_params p = { .voice = "slt" };
    T_REQUIRE(q_tts_open(&q_tts_flite, &p, &t, &err) == Q_OK, "%s", err.msg);
    q_audio_writer *w;
    T_REQUIRE(q_audio_writer_open(wav, Q_AUDIO_WAV, q_tts_rate(t), NULL, &w, &err) == Q_OK, "%s", err.msg);
    pcm_acc a = { .keep = malloc(sizeof(int16_t) * 16000 * 120), .cap = 16000 * 120 };
    T_REQUIRE(a.keep != NULL);
    T_EQ_INT(q_tts_speak(t, passage, strlen(passage), acc_sink, &a, NULL, NULL, &err), Q_OK);
    T_EQ_INT(q_audio_writer_write(w, a.keep, a.n, &err), Q_OK);
    free(a.keep);
    q_tts_close(t);
    T_REQUIRE(q_audio_writer_close(w, &err) == Q_OK, "%s", err.msg);
    q_transcript tr;
    q_transcript_init(&tr);
    q_asr_options opt = { .language = "en" };
    T_REQUIRE(q_asr_transcribe_file(&q_asr_pocketsphinx, &opt, wav, &tr, NULL, NULL, &err) == Q_OK, "%s", err.msg);
    char hyp[8192] = "";
    for (size_t i = 0; i < tr.nsegs; i++) {
        if (strlen(hyp) + strlen(tr.segs[i].text) + 2 >= sizeof hyp) break;
        strcat(hyp, tr.segs[i].text);
        strcat(hyp, " ");
    }
    size_t words = 0;
    size_t d = wer_distance(passage, hyp, &words);
    double w_ = (double)d / (double)words;
    t_note("round trip: %zu words, %zu segments, WER %.3f\n       heard: %s", words, tr.nsegs, w_, hyp);
    T_CHECK(words >= 95 && words <= 110, "%zu words", words);
    T_CHECK(w_ <= 0.35, "WER %.3f", w_);
    T_CHECK(tr.nsegs >= 2, "split at pauses: %zu segments", tr.nsegs);
    q_transcript_free(&tr);
}

int main(void)
{
    if (!fx_tmpdir()) return 1;
    T_RUN(test_normalize);
    T_RUN(test_chunk_sentences);
    T_RUN(test_chunk_clause_then_word);
    T_RUN(test_chunk_edges);
    T_RUN(test_flite_voices);
    T_RUN(test_speed);
    T_RUN(test_espeak_english_and_hindi);
    T_RUN(test_bad_voice_and_odd_text);
    T_RUN(test_progress_and_cancel);
    T_RUN(test_render_book_m4b);
    T_RUN(test_render_book_mp3);
    T_RUN(test_render_cancel_leaves_nothing);
    T_RUN(test_round_trip_flite_to_asr);
    fx_cleanup();
    return t_done();
}
