/* test_asr.c - the speech recogniser: model lookup, VAD segmentation, word
 * timings, cancellation, and quality against the bare pocketsphinx_continuous
 * on the LibriVox clips of pocketsphinx-testdata (same model, same run). */
#include "t.h"
#include "fixture.h"
#include "wer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asr.h"
#include "audio.h"
#include "transcript.h"

#define LIBRIVOX "/usr/share/pocketsphinx/test/data/librivox"
#define MODEL "/usr/share/pocketsphinx/model/en-us"

static const char *const clips[] = {
    "sense_and_sensibility_01_austen_64kb-0870", "sense_and_sensibility_01_austen_64kb-0880",
    "sense_and_sensibility_01_austen_64kb-0890", "sense_and_sensibility_01_austen_64kb-0920",
    "sense_and_sensibility_01_austen_64kb-0930",
};
#define NCLIPS (sizeof clips / sizeof clips[0])

/* The reference line for id from the `transcription` file, markers removed. */
static int reference(const char *id, char *out, size_t cap)
{
    FILE *f = fopen(LIBRIVOX "/transcription", "r");
    if (!f) return -1;
    char line[2048];
    int found = -1;
    while (fgets(line, sizeof line, f)) {
        char *p = strstr(line, id);
        if (!p) continue;
        p[-1] = 0;                              /* cut at "(" */
        char *s = line;
        if (!strncmp(s, "<s>", 3)) s += 3;
        char *e = strstr(s, "</s>");
        if (e) *e = 0;
        snprintf(out, cap, "%s", s);
        found = 0;
        break;
    }
    fclose(f);
    return found;
}

static void transcript_text(const q_transcript *t, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < t->nsegs; i++) {
        int n = snprintf(out + len, cap - len, "%s%s", len ? " " : "", t->segs[i].text);
        if (n < 0 || (size_t)n >= cap - len) break;
        len += (size_t)n;
    }
}

static void test_model_lookup(void)
{
    char hmm[4096], lm[4096], dict[4096];
    qerrctx err = {0};
    q_asr_options en = { .language = "en-US" };
    T_EQ_INT(q_asr_find_model(&en, hmm, lm, dict, sizeof hmm, &err), Q_OK);
    T_EQ_STR(hmm, MODEL "/en-us");
    T_EQ_STR(lm, MODEL "/en-us.lm.bin");
    T_EQ_STR(dict, MODEL "/cmudict-en-us.dict");
    qerrctx e2 = {0};
    q_asr_options xx = { .language = "xx" };
    unsetenv("QUIRE_ASR_MODEL_DIR_XX");
    T_EQ_INT(q_asr_find_model(&xx, hmm, lm, dict, sizeof hmm, &e2), Q_ERR_UNPROCESSABLE);
    T_EQ_STR(e2.msg, "no speech model for language 'xx'");
    /* Configuration makes a language available. */
    setenv("QUIRE_ASR_MODEL_DIR_XX", MODEL, 1);
    qerrctx e3 = {0};
    T_EQ_INT(q_asr_find_model(&xx, hmm, lm, dict, sizeof hmm, &e3), Q_OK);
    unsetenv("QUIRE_ASR_MODEL_DIR_XX");
    void *st = NULL;
    qerrctx e4 = {0};
    q_asr_options hi = { .language = "hi" };
    T_EQ_INT(q_asr_pocketsphinx.open(&hi, &st, &e4), Q_ERR_UNPROCESSABLE);
    T_EQ_STR(e4.msg, "no speech model for language 'hi'");
    T_CHECK(st == NULL);
    char b[16];
    T_EQ_STR(q_asr_lang_code("EN_gb", b, sizeof b), "en");
    T_EQ_STR(q_asr_lang_code("english", b, sizeof b), "en");
    T_EQ_STR(q_asr_lang_code(NULL, b, sizeof b), "en");
}

/* 1 s tone bursts separated by 1 s of silence: the VAD must cut in the
 * silences and drop silence-only stretches. */
static void test_vad_cuts_at_pauses(void)
{
    q_vad *v;
    qerrctx err = {0};
    T_REQUIRE(q_vad_new(&v, &err) == Q_OK);
    size_t total = 16000 * 20;
    int16_t *pcm = calloc(total, sizeof *pcm);
    T_REQUIRE(pcm != NULL);
    /* 2 s silence, then pattern: 4 s tone / 1 s silence, x3, then 3 s silence */
    size_t pos = 2 * 16000;
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < 4 * 16000; i++)
            pcm[pos + i] = (int16_t)(8000 * sin(2 * M_PI * 440 * (double)i / 16000));
        pos += 5 * 16000;
    }
    double starts[8];
    size_t lens[8], nseg = 0, off = 0;
    for (;;) {
        size_t used;
        int ready;
        size_t n = off < total ? (total - off < 4000 ? total - off : 4000) : 0;
        T_REQUIRE(q_vad_feed(v, pcm + off, n, &used, &ready, &err) == Q_OK);
        off += used;
        if (ready && nseg < 8) {
            const int16_t *s = q_vad_segment(v, &lens[nseg], &starts[nseg]);
            (void)s;
            nseg++;
        }
        if (n == 0) break;
    }
    T_EQ_INT(nseg, 3);
    for (size_t i = 0; i < nseg && i < 3; i++) {
        double tone_start = 2.0 + 5.0 * (double)i;
        T_CHECK(starts[i] <= tone_start && starts[i] >= tone_start - 1.0, "seg %zu starts %.2f", i, starts[i]);
        double len = (double)lens[i] / 16000;
        T_CHECK(len >= 4.0 && len <= 5.0, "seg %zu is %.2f s", i, len);
    }
    free(pcm);
    q_vad_free(v);
}

/* Speech without a pause is still cut, at most Q_VAD_MAX_MS long, and no
 * sample is lost or duplicated. */
static void test_vad_caps_segment_length(void)
{
    q_vad *v;
    qerrctx err = {0};
    T_REQUIRE(q_vad_new(&v, &err) == Q_OK);
    size_t total = 16000 * 70;
    int16_t *pcm = malloc(total * sizeof *pcm);
    T_REQUIRE(pcm != NULL);
    for (size_t i = 0; i < total; i++)   /* a warbling tone, never quiet */
        pcm[i] = (int16_t)(6000 * sin(2 * M_PI * (300 + 100 * sin((double)i / 8000)) * (double)i / 16000));
    size_t off = 0, covered = 0, nseg = 0;
    double expect_start = 0;
    for (;;) {
        size_t used, n = off < total ? (total - off < 3000 ? total - off : 3000) : 0;
        int ready;
        T_REQUIRE(q_vad_feed(v, pcm + off, n, &used, &ready, &err) == Q_OK);
        off += used;
        if (ready) {
            size_t len;
            double start;
            q_vad_segment(v, &len, &start);
            T_CHECK(len <= (size_t)Q_VAD_MAX_MS * 16, "segment of %zu samples", len);
            T_CHECK(fabs(start - expect_start) < 1e-9, "segment %zu starts at %.3f, not %.3f", nseg, start, expect_start);
            expect_start = start + (double)len / 16000;
            covered += len;
            nseg++;
        }
        if (n == 0) break;
    }
    T_EQ_INT(covered, total);
    T_EQ_INT(nseg, 3);
    free(pcm);
    q_vad_free(v);
}

/* Any supported format at any rate goes through the same decoder: the clip
 * as 44.1 kHz stereo MP3 is recognised as well as the WAV. */
static void test_transcribe_mp3_stereo(void)
{
    const char *clip = LIBRIVOX "/sense_and_sensibility_01_austen_64kb-0920.wav";
    if (access(clip, R_OK) != 0) { t_skip("pocketsphinx-testdata not installed"); return; }
    char mp3[600];
    T_REQUIRE(fx_tmpdir() != NULL);
    fx_path("clip.mp3", mp3, sizeof mp3);
    char *argv[] = { "ffmpeg", "-nostdin", "-y", "-i", (char *)clip, "-ac", "2", "-ar", "44100",
                     "-c:a", "libmp3lame", "-b:a", "128k", mp3, NULL };
    T_REQUIRE(fx_run(argv) == 0);
    char ref[2048], hyp[4096];
    T_REQUIRE(reference("sense_and_sensibility_01_austen_64kb-0920", ref, sizeof ref) == 0);
    q_transcript t;
    q_transcript_init(&t);
    qerrctx err = {0};
    q_asr_options opt = { .language = "en" };
    T_EQ_INT(q_asr_transcribe_file(&q_asr_pocketsphinx, &opt, mp3, &t, NULL, NULL, &err), Q_OK);
    transcript_text(&t, hyp, sizeof hyp);
    double w = wer(ref, hyp);
    t_note("mp3 44.1 kHz stereo: WER %.3f: %s", w, hyp);
    T_CHECK(w < 0.35, "WER %.3f", w);
    q_transcript_free(&t);
    fx_cleanup();
}

typedef struct cancel_ctx { int calls; int cancel_at; double last; } cancel_ctx;

static int checkpoint(void *ud, double frac, const char *msg)
{
    cancel_ctx *c = ud;
    c->calls++;
    if (frac < c->last - 1e-9) return 1;       /* progress must not go back */
    c->last = frac;
    (void)msg;
    return c->cancel_at && c->calls >= c->cancel_at;
}

static void test_librivox_quality(void)
{
    if (access(LIBRIVOX "/transcription", R_OK) != 0) { t_skip("pocketsphinx-testdata not installed"); return; }
    double q_err = 0, e_err = 0;
    size_t words = 0;
    for (size_t i = 0; i < NCLIPS; i++) {
        char ref[2048], wav[512], ours[4096];
        T_REQUIRE(reference(clips[i], ref, sizeof ref) == 0);
        snprintf(wav, sizeof wav, LIBRIVOX "/%s.wav", clips[i]);
        q_transcript t;
        q_transcript_init(&t);
        qerrctx err = {0};
        cancel_ctx cc = {0};
        q_asr_options opt = { .language = "en" };
        T_EQ_INT(q_asr_transcribe_file(&q_asr_pocketsphinx, &opt, wav, &t, checkpoint, &cc, &err), Q_OK);
        T_CHECK(cc.calls >= 2, "checkpoint called %d times", cc.calls);
        transcript_text(&t, ours, sizeof ours);
        /* Word timings lie inside the clip and are ordered. */
        double prev = 0;
        for (size_t s = 0; s < t.nsegs; s++)
            for (size_t w = 0; w < t.segs[s].nwords; w++) {
                const q_word *qw = &t.segs[s].words[w];
                T_CHECK(qw->start >= prev - 0.02 && qw->end >= qw->start && qw->end <= 10.0,
                        "word %s %.2f-%.2f", qw->word, qw->start, qw->end);
                prev = qw->start;
            }
        q_transcript_free(&t);
        char *argv[] = { "pocketsphinx_continuous", "-infile", wav, "-hmm", MODEL "/en-us",
                         "-lm", MODEL "/en-us.lm.bin", "-dict", MODEL "/cmudict-en-us.dict", NULL };
        char *theirs = wer_run_capture(argv, NULL);
        T_REQUIRE(theirs != NULL, "pocketsphinx_continuous did not run");
        size_t n = 0;
        size_t dq = wer_distance(ref, ours, &n), de = wer_distance(ref, theirs, NULL);
        t_note("%s\n       ref:    %s\n       quire:  %s\n       engine: %s", clips[i], ref, ours, theirs);
        free(theirs);
        q_err += (double)dq;
        e_err += (double)de;
        words += n;
    }
    T_REQUIRE(words > 0);
    double wq = q_err / (double)words, we = e_err / (double)words;
    t_note("LibriVox WER: quire %.3f, pocketsphinx_continuous %.3f (%zu words)", wq, we, words);
    T_CHECK(wq <= we + 1e-9, "quire WER %.3f worse than the engine's %.3f", wq, we);
    T_CHECK(wq < 0.5, "quire WER %.3f", wq);
}

static void test_cancel_between_segments(void)
{
    q_transcript t;
    q_transcript_init(&t);
    qerrctx err = {0};
    cancel_ctx cc = { .cancel_at = 1 };
    q_asr_options opt = { .language = "en" };
    qerr e = q_asr_transcribe_file(&q_asr_pocketsphinx, &opt,
                                   LIBRIVOX "/sense_and_sensibility_01_austen_64kb-0870.wav",
                                   &t, checkpoint, &cc, &err);
    T_EQ_INT(e, Q_ERR_CANCELLED);
    T_EQ_INT(t.nsegs, 0);
    q_transcript_free(&t);
}

/* Word times are real positions in the audio: the same clip behind 5 s of
 * silence has every word 5 s later (the decoder must not drop silent frames
 * from its frame count, and the VAD offset must be right). */
static void test_word_times_follow_the_audio(void)
{
    const char *clip = LIBRIVOX "/sense_and_sensibility_01_austen_64kb-0880.wav";
    if (access(clip, R_OK) != 0) { t_skip("pocketsphinx-testdata not installed"); return; }
    char padded[600];
    qerrctx err = {0};
    T_REQUIRE(fx_tmpdir() != NULL);
    fx_path("padded.wav", padded, sizeof padded);
    q_audio_writer *w;
    T_REQUIRE(q_audio_writer_open(padded, Q_AUDIO_WAV, 16000, NULL, &w, &err) == Q_OK);
    T_EQ_INT(q_audio_writer_silence(w, 5 * 16000, &err), Q_OK);
    q_audio_reader *r;
    T_REQUIRE(q_audio_reader_open(clip, 16000, &r, NULL, &err) == Q_OK);
    int16_t pcm[4096];
    size_t got;
    while (q_audio_reader_read(r, pcm, 4096, &got, &err) == Q_OK && got) q_audio_writer_write(w, pcm, got, &err);
    q_audio_reader_close(r);
    T_REQUIRE(q_audio_writer_close(w, &err) == Q_OK);
    q_transcript a, b;
    q_transcript_init(&a);
    q_transcript_init(&b);
    q_asr_options opt = { .language = "en" };
    T_EQ_INT(q_asr_transcribe_file(&q_asr_pocketsphinx, &opt, clip, &a, NULL, NULL, &err), Q_OK);
    T_EQ_INT(q_asr_transcribe_file(&q_asr_pocketsphinx, &opt, padded, &b, NULL, NULL, &err), Q_OK);
    T_REQUIRE(a.nsegs == 1 && b.nsegs == 1, "%zu and %zu segments", a.nsegs, b.nsegs);
    T_REQUIRE(a.segs[0].nwords == b.segs[0].nwords && a.segs[0].nwords >= 6);
    for (size_t i = 0; i < a.segs[0].nwords; i++) {
        double d = b.segs[0].words[i].start - a.segs[0].words[i].start;
        T_CHECK(fabs(d - 5.0) < 0.05, "word %zu moved %.3f s", i, d);
    }
    /* The clip is 2.99 s: the last word ends near its end. */
    const q_word *last = &a.segs[0].words[a.segs[0].nwords - 1];
    T_CHECK(last->end > 2.3 && last->end <= 3.0, "last word ends at %.2f", last->end);
    q_transcript_free(&a);
    q_transcript_free(&b);
    fx_cleanup();
}

int main(void)
{
    T_RUN(test_model_lookup);
    T_RUN(test_vad_cuts_at_pauses);
    T_RUN(test_vad_caps_segment_length);
    T_RUN(test_librivox_quality);
    T_RUN(test_cancel_between_segments);
    T_RUN(test_word_times_follow_the_audio);
    T_RUN(test_transcribe_mp3_stereo);
    return t_done();
}
