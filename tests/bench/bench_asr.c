/* bench_asr.c - `make bench-asr`: real-time factor and word error rate of
 * quire's transcription (model load, decode, VAD, segments, word timings)
 * against the bare pocketsphinx_continuous program with the same model, on
 * the five LibriVox clips of pocketsphinx-testdata and on a ~10-minute file
 * made by concatenating them, in the same run. WER is measured on the clips
 * (the ones with reference transcripts). Last line:
 *   bench-asr: rtf=<x> engine_rtf=<y> ratio=<r> wer=<w> engine_wer=<v>
 * QUIRE_BENCH_LONG_S sets the length of the long file (default 600). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asr.h"
#include "audio.h"
#include "fixture.h"
#include "transcript.h"
#include "wer.h"

#define LIBRIVOX "/usr/share/pocketsphinx/test/data/librivox"
#define MODEL "/usr/share/pocketsphinx/model/en-us"

static const char *const clips[] = {
    "sense_and_sensibility_01_austen_64kb-0870", "sense_and_sensibility_01_austen_64kb-0880",
    "sense_and_sensibility_01_austen_64kb-0890", "sense_and_sensibility_01_austen_64kb-0920",
    "sense_and_sensibility_01_austen_64kb-0930",
};
#define NCLIPS (sizeof clips / sizeof clips[0])

static int reference(const char *id, char *out, size_t cap)
{
    FILE *f = fopen(LIBRIVOX "/transcription", "r");
    if (!f) return -1;
    char line[2048];
    int rc = -1;
    while (fgets(line, sizeof line, f)) {
        char *p = strstr(line, id);
        if (!p) continue;
        p[-1] = 0;
        char *s = !strncmp(line, "<s>", 3) ? line + 3 : line, *e = strstr(s, "</s>");
        if (e) *e = 0;
        snprintf(out, cap, "%s", s);
        rc = 0;
        break;
    }
    fclose(f);
    return rc;
}

/* quire on one file: seconds taken; text into hyp. */
static double run_quire(const char *wav, char *hyp, size_t cap)
{
    q_transcript t;
    q_transcript_init(&t);
    qerrctx err = {0};
    q_asr_options opt = { .language = "en" };
    double t0 = wer_now();
    qerr e = q_asr_transcribe_file(&q_asr_pocketsphinx, &opt, wav, &t, NULL, NULL, &err);
    double dt = wer_now() - t0;
    if (e) { fprintf(stderr, "quire failed on %s: %s\n", wav, err.msg); exit(1); }
    size_t len = 0;
    hyp[0] = 0;
    for (size_t i = 0; i < t.nsegs; i++) {
        int n = snprintf(hyp + len, cap - len, "%s ", t.segs[i].text);
        if (n < 0 || (size_t)n >= cap - len) break;
        len += (size_t)n;
    }
    q_transcript_free(&t);
    return dt;
}

static double run_engine(const char *wav, char **hyp)
{
    char *argv[] = { "pocketsphinx_continuous", "-infile", (char *)wav, "-hmm", MODEL "/en-us",
                     "-lm", MODEL "/en-us.lm.bin", "-dict", MODEL "/cmudict-en-us.dict", NULL };
    double dt = 0;
    *hyp = wer_run_capture(argv, &dt);
    if (!*hyp) { fprintf(stderr, "pocketsphinx_continuous failed on %s\n", wav); exit(1); }
    return dt;
}

/* Concatenate the clips (16 kHz mono) into a WAV of about secs seconds. */
static int make_long(const char *out, double secs)
{
    q_audio_writer *w;
    qerrctx err = {0};
    if (q_audio_writer_open(out, Q_AUDIO_WAV, 16000, NULL, &w, &err)) return -1;
    int16_t pcm[8192];
    while (q_audio_writer_position(w) < secs) {
        for (size_t i = 0; i < NCLIPS; i++) {
            char wav[512];
            snprintf(wav, sizeof wav, LIBRIVOX "/%s.wav", clips[i]);
            q_audio_reader *r;
            if (q_audio_reader_open(wav, 16000, &r, NULL, &err)) { q_audio_writer_abort(w); return -1; }
            size_t got;
            while (!q_audio_reader_read(r, pcm, 8192, &got, &err) && got)
                q_audio_writer_write(w, pcm, got, &err);
            q_audio_reader_close(r);
        }
    }
    return q_audio_writer_close(w, &err) ? -1 : 0;
}

int main(void)
{
    if (access(LIBRIVOX "/transcription", R_OK) != 0) {
        fprintf(stderr, "bench-asr: pocketsphinx-testdata is not installed\n");
        return 1;
    }
    const char *ls = getenv("QUIRE_BENCH_LONG_S");
    double long_s = ls ? atof(ls) : 600;
    double q_time = 0, e_time = 0, audio = 0, q_err = 0, e_err = 0;
    size_t words = 0;
    for (size_t i = 0; i < NCLIPS; i++) {
        char wav[512], ref[2048], hyp[8192];
        snprintf(wav, sizeof wav, LIBRIVOX "/%s.wav", clips[i]);
        if (reference(clips[i], ref, sizeof ref)) return 1;
        q_audio_info info;
        qerrctx err = {0};
        if (q_audio_probe(wav, &info, &err)) return 1;
        double tq = run_quire(wav, hyp, sizeof hyp);
        char *eh;
        double te = run_engine(wav, &eh);
        size_t n = 0;
        q_err += (double)wer_distance(ref, hyp, &n);
        e_err += (double)wer_distance(ref, eh, NULL);
        words += n;
        free(eh);
        audio += info.duration;
        q_time += tq;
        e_time += te;
        printf("clip %s: %.2f s audio, quire %.2f s, engine %.2f s\n", clips[i], info.duration, tq, te);
    }
    printf("clips: %.1f s audio, quire rtf %.3f, engine rtf %.3f, quire wer %.3f, engine wer %.3f\n",
           audio, q_time / audio, e_time / audio, q_err / (double)words, e_err / (double)words);
    if (long_s > 0) {
        char path[600];
        if (!fx_tmpdir() || make_long(fx_path("long.wav", path, sizeof path), long_s)) {
            fprintf(stderr, "cannot make the long file\n");
            return 1;
        }
        q_audio_info info;
        qerrctx err = {0};
        if (q_audio_probe(path, &info, &err)) return 1;
        char *hyp = malloc(1 << 20), *eh;
        if (!hyp) return 1;
        double tq = run_quire(path, hyp, 1 << 20);
        double te = run_engine(path, &eh);
        printf("long: %.1f s audio, quire %.2f s (rtf %.3f), engine %.2f s (rtf %.3f)\n",
               info.duration, tq, tq / info.duration, te, te / info.duration);
        free(hyp);
        free(eh);
        audio += info.duration;
        q_time += tq;
        e_time += te;
        fx_cleanup();
    }
    double rtf = q_time / audio, ertf = e_time / audio;
    double ratio = rtf / ertf;
    printf("target ratio <= 1.1: %s\n", ratio <= 1.1 ? "met" : "MISSED");
    printf("bench-asr: rtf=%.3f engine_rtf=%.3f ratio=%.3f wer=%.3f engine_wer=%.3f\n", rtf, ertf, ratio,
           q_err / (double)words, e_err / (double)words);
    return 0;
}
