/* asr.h - speech recognition engines behind one interface, and the VAD
 * segmenter they share. The pocketsphinx engine is in asr_pocketsphinx.c;
 * another engine is a second q_asr_engine value beside it. */
#ifndef QUIRE_ASR_H
#define QUIRE_ASR_H

#include <stddef.h>
#include <stdint.h>

#include "audio.h"
#include "engine.h"
#include "err.h"
#include "transcript.h"

/* Engines decode 16 kHz mono int16. */
#define Q_ASR_RATE 16000

typedef struct q_asr_options {
    const char *language;    /* "en", "en-US", ...; NULL = "en" */
    const char *model_dir;   /* NULL: from the environment, see below */
} q_asr_options;

/* An engine: open a recogniser for a language, transcribe audio with it
 * (any number of times, one at a time), close it. A recogniser is not
 * thread-safe: one per job/thread. */
typedef struct q_asr_engine {
    const char *name;
    /* Errors: Q_ERR_UNPROCESSABLE "no speech model for language 'xx'". */
    qerr (*open)(const q_asr_options *opt, void **state, qerrctx *err);
    /* Transcribe the 16 kHz stream in (until it ends) into out (appended).
     * total_s (0 if unknown) scales progress. cp is called between segments;
     * cancel -> Q_ERR_CANCELLED (out then holds the segments so far). */
    qerr (*transcribe)(void *state, q_audio_reader *in, double total_s, q_transcript *out,
                       q_checkpoint_fn cp, void *cp_ud, qerrctx *err);
    void (*close)(void *state);   /* accepts NULL */
} q_asr_engine;

extern const q_asr_engine q_asr_pocketsphinx;

/* The engine named name ("pocketsphinx"), or NULL. */
const q_asr_engine *q_asr_engine_by_name(const char *name);

/* Where the model for a language lives. Configuration, in order:
 * opt->model_dir; QUIRE_ASR_MODEL_DIR_<LANG> (e.g. QUIRE_ASR_MODEL_DIR_DE);
 * for English only, QUIRE_ASR_MODEL_DIR, then the Debian model
 * /usr/share/pocketsphinx/model/en-us. A model directory holds an acoustic
 * model directory (with "mdef"), a language model (*.lm.bin, *.lm or
 * *.lm.dmp; not *phone*) and a dictionary (*.dict). Fills the three paths
 * (each cap bytes). */
qerr q_asr_find_model(const q_asr_options *opt, char *hmm, char *lm, char *dict,
                      size_t cap, qerrctx *err);

/* The language's primary subtag, lowercased, into buf ("en-US" -> "en",
 * "eng"/"english" -> "en"). */
const char *q_asr_lang_code(const char *language, char *buf, size_t cap);

/* Open the file, transcribe it with engine e, close it: the whole transcribe
 * job's engine work. out must be initialised by the caller, who frees it. */
qerr q_asr_transcribe_file(const q_asr_engine *e, const q_asr_options *opt, const char *path,
                           q_transcript *out, q_checkpoint_fn cp, void *cp_ud, qerrctx *err);

/* ---- voice activity segmentation (energy based) ------------------------ */

/* Splits a 16 kHz stream into speech segments at pauses: a segment ends
 * after Q_VAD_PAUSE_MS of quiet once it is at least Q_VAD_MIN_MS long, or
 * at the quietest 10 ms frame of its last seconds when it reaches
 * Q_VAD_MAX_MS. Stretches with no speech are dropped, keeping a little
 * quiet around speech. Memory: one segment buffer of Q_VAD_MAX_MS. */
#define Q_VAD_PAUSE_MS 300
#define Q_VAD_MIN_MS   3000
#define Q_VAD_MAX_MS   30000
#define Q_VAD_PAD_MS   250

typedef struct q_vad q_vad;

qerr q_vad_new(q_vad **out, qerrctx *err);
void q_vad_free(q_vad *v);   /* accepts NULL */
/* Feed n samples. When a segment is complete, *ready is set to 1 and the
 * segment is available through q_vad_segment() until the next call; the
 * samples not yet consumed are counted in *used (call again with the rest).
 * At the end of the stream call with n == 0 to flush the last segment. */
qerr q_vad_feed(q_vad *v, const int16_t *pcm, size_t n, size_t *used, int *ready, qerrctx *err);
/* The completed segment: samples, count, and its start in the stream. */
const int16_t *q_vad_segment(const q_vad *v, size_t *n, double *start_s);

#endif
