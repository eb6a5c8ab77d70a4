/* tts.h - speech synthesis: the engine interface (flite in tts_flite.c,
 * espeak-ng in tts_espeak.c), the text chunker, and the driver that speaks a
 * whole text chunk by chunk with pauses, progress and cancellation (tts.c). */
#ifndef QUIRE_TTS_H
#define QUIRE_TTS_H

#include <stddef.h>
#include <stdint.h>

#include "audio.h"
#include "engine.h"
#include "err.h"

/* Receives synthesized mono int16 PCM; returns 0 to go on, non-zero to stop
 * (the sink records its own error; the driver then returns Q_ERR_IO unless
 * the sink's error context was filled). */
typedef int (*q_pcm_sink)(void *ud, const int16_t *pcm, size_t n);

typedef struct q_tts_voice {
    char id[64];          /* what q_tts_params.voice takes: "slt", "hi", "en-us" */
    char name[64];        /* human name */
    char language[32];    /* BCP-47-ish: "en-US", "hi" */
} q_tts_voice;

typedef struct q_tts_params {
    const char *voice;    /* NULL: the engine's default (flite "slt", espeak "en-us") */
    double speed;         /* 0.5 .. 2.0, 1 = normal; 0 means 1; clamped */
    double pitch;         /* 0.5 .. 2.0 multiplier of the voice's pitch; 0 means 1 */
} q_tts_params;

typedef struct q_tts_engine {
    const char *name;
    /* Fill up to cap voices; returns how many there are. */
    size_t (*list_voices)(q_tts_voice *out, size_t cap);
    /* Errors: Q_ERR_UNPROCESSABLE "unknown voice 'x' for flite". *rate gets
     * the output sample rate. */
    qerr (*open)(const q_tts_params *p, void **state, int *rate, qerrctx *err);
    /* Speak one chunk (<= Q_TTS_CHUNK_MAX chars, normalised, no newlines).
     * Text the engine cannot pronounce gives little or no audio, not an
     * error. */
    qerr (*synth)(void *state, const char *text, q_pcm_sink sink, void *ud, qerrctx *err);
    void (*close)(void *state);   /* accepts NULL */
} q_tts_engine;

extern const q_tts_engine q_tts_flite;
extern const q_tts_engine q_tts_espeak;

/* "flite", "espeak-ng" (or "espeak") -> engine; NULL when unknown. */
const q_tts_engine *q_tts_engine_by_name(const char *name);

/* The engine for a job's voice_settings: engine when named (NULL if that
 * name is unknown); otherwise flite for its own voice names and for English
 * without a voice, espeak-ng for everything else. *voice_out gets the voice
 * to pass in q_tts_params (voice, or the language for espeak-ng, or NULL
 * for the engine's default); it points into the arguments. */
const q_tts_engine *q_tts_engine_for(const char *engine, const char *voice, const char *language,
                                     const char **voice_out);

/* ---- text chunking ------------------------------------------------------ */

#define Q_TTS_CHUNK_MAX 500        /* characters (code points) per chunk */
#define Q_TTS_PAUSE_MS  250        /* silence between chunks */
#define Q_TTS_TEXT_MAX  (64u << 20) /* bytes of text one call accepts */

/* Normalise text for speech into a malloc'd NUL-terminated string (the
 * caller frees): invalid UTF-8 and control characters become spaces, curly
 * quotes straight, dashes and ellipses plain, runs of whitespace one space,
 * a blank line a sentence end. Returns NULL when out of memory. */
char *q_tts_normalize(const char *text, size_t len);

/* The next chunk of normalised text s from *pos: at most max_chars code
 * points, ending at a sentence end if there is one in reach, else at a
 * clause end (, ; : -), else between words; a single word longer than
 * max_chars is cut at a character boundary. Sets *start and *len (bytes) and
 * advances *pos; returns 0 when nothing is left. */
int q_tts_chunk_next(const char *s, size_t *pos, size_t max_chars, size_t *start, size_t *len);

/* ---- the driver ---------------------------------------------------------- */

typedef struct q_tts q_tts;

qerr q_tts_open(const q_tts_engine *e, const q_tts_params *p, q_tts **out, qerrctx *err);
int q_tts_rate(const q_tts *t);
/* Speak len bytes of text: normalise, chunk, synthesize each chunk to sink
 * with Q_TTS_PAUSE_MS of silence between chunks. cp is called before each
 * chunk (fraction of text done); cancel -> Q_ERR_CANCELLED. Empty text
 * succeeds with no audio. */
qerr q_tts_speak(q_tts *t, const char *text, size_t len, q_pcm_sink sink, void *ud,
                 q_checkpoint_fn cp, void *cp_ud, qerrctx *err);
void q_tts_close(q_tts *t);   /* accepts NULL */

/* ---- the tts job's engine work (tts_render.c) --------------------------- */

/* Speak texts[0..n) (chapter texts, len from strlen) with engine e and p
 * into one file out of format fmt, a chapter marker titled titles[i]
 * (NULL: "Chapter i+1") at the start of each, Q_TTS_PAUSE_MS * 4 of silence
 * between chapters. chapters_out (caller's array of n, may be NULL) gets
 * the chapter times. Progress covers all texts by length; cancel ->
 * Q_ERR_CANCELLED and no output file. */
qerr q_tts_render(const q_tts_engine *e, const q_tts_params *p, const char *const *texts,
                  const char *const *titles, size_t n, const char *out, q_audio_format fmt,
                  const q_audio_meta *meta, q_audio_chapter *chapters_out,
                  q_checkpoint_fn cp, void *cp_ud, qerrctx *err);

#endif
