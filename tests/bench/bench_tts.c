/* bench_tts.c - `make bench-tts`: a 20,000-word text through the whole tts
 * path, q_tts_render (normalise, chunk, flite slt, pauses, LAME MP3 with
 * chapter tag), against the bare `flite` program making a WAV from the same
 * text, same run. Speed is "times faster than real time" (audio seconds / wall
 * seconds). Last line:
 *   bench-tts: xrt=<x> flite_xrt=<y> ratio=<r>
 * QUIRE_BENCH_WORDS overrides the word count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "audio.h"
#include "fixture.h"
#include "tts.h"
#include "wer.h"

static const char *const sentences[] = {
    "It was a bright cold day in April, and the clocks were striking thirteen.",
    "The old man walked slowly down the road to the market, where he bought bread and cheese.",
    "His daughter was waiting at the door when he came home in the evening.",
    "She asked him about the weather, the price of apples, and the news from the town.",
    "He told her that the morning had been cold but the sun was warm in the afternoon.",
    "Then they sat down at the table and ate their dinner together by the fire.",
    "Outside, the wind moved through the trees and the river ran quickly toward the sea.",
    "Nobody in the village could remember a spring that had come so late, or gone so fast.",
};

/* CPU seconds (user + system) of this process or of its waited-for children. */
static double cpu_s(int who)
{
    struct rusage ru;
    getrusage(who, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

int main(void)
{
    const char *wv = getenv("QUIRE_BENCH_WORDS");
    size_t want = wv ? (size_t)atol(wv) : 20000, words = 0;
    size_t cap = want * 12 + 1024, len = 0;
    char *text = malloc(cap);
    if (!text || !fx_tmpdir()) return 1;
    for (size_t i = 0; words < want; i++) {
        const char *s = sentences[i % (sizeof sentences / sizeof sentences[0])];
        size_t sl = strlen(s);
        if (len + sl + 4 >= cap) break;
        memcpy(text + len, s, sl);
        len += sl;
        text[len++] = (i % 6 == 5) ? '\n' : ' ';
        if (i % 6 == 5) text[len++] = '\n';
        for (const char *p = s; *p; p++) if (*p == ' ') words++;
        words++;
    }
    text[len] = 0;
    char txt[600], mp3[600], wav[600];
    fx_path("text.txt", txt, sizeof txt);
    fx_path("out.mp3", mp3, sizeof mp3);
    fx_path("flite.wav", wav, sizeof wav);
    if (fx_write(txt, text, len)) return 1;

    /* quire: the tts job's engine work, q_tts_render. */
    qerrctx err = {0};
    double t0 = wer_now(), c0 = cpu_s(RUSAGE_SELF);
    q_tts_params p = { .voice = "slt", .speed = 1.0, .pitch = 1.0 };
    q_audio_meta meta = { .title = "Bench", .author = "quire" };
    const char *texts[] = { text }, *titles[] = { "Chapter 1" };
    q_audio_chapter ch[1];
    if (q_tts_render(&q_tts_flite, &p, texts, titles, 1, mp3, Q_AUDIO_MP3, &meta, ch, NULL, NULL, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double tq = wer_now() - t0, cq = cpu_s(RUSAGE_SELF) - c0;
    double audio = ch[0].end_ms / 1000.0;

    /* The bare flite program. */
    char *argv[] = { "flite", "-voice", "slt", "-f", txt, "-o", wav, NULL };
    double tf = 0, cf0 = cpu_s(RUSAGE_CHILDREN);
    char *out = wer_run_capture(argv, &tf);
    double cf = cpu_s(RUSAGE_CHILDREN) - cf0;
    if (!out) { fprintf(stderr, "flite failed\n"); return 1; }
    free(out);
    q_audio_info info;
    if (q_audio_probe(wav, &info, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    double xrt = audio / tq, fxrt = info.duration / tf;
    printf("text: %zu words, %zu bytes\n", words, len);
    printf("quire: %.1f s of MP3 audio in %.2f s (%.2f s CPU)\n", audio, tq, cq);
    printf("flite: %.1f s of WAV audio in %.2f s (%.2f s CPU)\n", info.duration, tf, cf);
    printf("by CPU time: xrt=%.2f flite_xrt=%.2f ratio=%.3f\n", audio / cq, info.duration / cf,
           (audio / cq) / (info.duration / cf));
    printf("target ratio >= 0.5: %s\n", xrt / fxrt >= 0.5 ? "met" : "MISSED");
    printf("bench-tts: xrt=%.2f flite_xrt=%.2f ratio=%.3f\n", xrt, fxrt, xrt / fxrt);
    free(text);
    fx_cleanup();
    return 0;
}
