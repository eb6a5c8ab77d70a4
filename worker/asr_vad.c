/* asr_vad.c - energy-based voice activity segmentation of a 16 kHz stream
 * into pieces a recogniser decodes one at a time; see asr.h. */
#include "asr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FRAME 160                                   /* 10 ms at 16 kHz */
#define MS_FRAMES(ms) ((ms) / 10)
#define CAP_SAMPLES ((size_t)Q_VAD_MAX_MS * 16)     /* 16 samples a ms */
#define CAP_FRAMES (CAP_SAMPLES / FRAME)
#define SPEECH_OVER_NOISE_DB 12.0f
#define SPEECH_MIN_DB (-55.0f)                      /* dBFS: quieter is never speech */
#define NOISE_MAX_DB (-30.0f)
#define NOISE_RISE 0.001f                           /* per frame: ~10 s time constant */
#define SEARCH_FRAMES MS_FRAMES(10000)              /* forced cut: look back 10 s */

struct q_vad {
    int16_t *buf;          /* CAP_SAMPLES; buf[0] is stream sample buf_start */
    size_t len;
    uint64_t buf_start;
    float *energy;         /* dB per complete frame in buf */
    unsigned char *speech; /* 1 when that frame is speech */
    float noise;           /* running noise floor estimate, dB */
    int noise_set;
    int had_speech;        /* some frame in buf is speech */
    size_t silence_run;    /* frames of quiet at the end of buf */
    size_t seg_len;        /* > 0: buf[0..seg_len) is the ready segment */
};

qerr q_vad_new(q_vad **out, qerrctx *err)
{
    q_vad *v = calloc(1, sizeof *v);
    if (v) {
        v->buf = malloc(CAP_SAMPLES * sizeof *v->buf);
        v->energy = malloc(CAP_FRAMES * sizeof *v->energy);
        v->speech = malloc(CAP_FRAMES);
    }
    if (!v || !v->buf || !v->energy || !v->speech) {
        q_vad_free(v);
        *out = NULL;
        return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    }
    *out = v;
    return Q_OK;
}

void q_vad_free(q_vad *v)
{
    if (!v) return;
    free(v->buf);
    free(v->energy);
    free(v->speech);
    free(v);
}

/* Drop buf[0..n) (n a multiple of FRAME or all of buf) and recompute the
 * speech state of what stays. */
static void shift(q_vad *v, size_t n)
{
    if (n > v->len) n = v->len;
    size_t nf = n / FRAME, keep_f = v->len / FRAME - nf;
    memmove(v->buf, v->buf + n, (v->len - n) * sizeof *v->buf);
    memmove(v->energy, v->energy + nf, keep_f * sizeof *v->energy);
    memmove(v->speech, v->speech + nf, keep_f);
    v->len -= n;
    v->buf_start += n;
    v->had_speech = 0;
    v->silence_run = 0;
    for (size_t f = 0; f < keep_f; f++) {
        if (v->speech[f]) { v->had_speech = 1; v->silence_run = 0; }
        else v->silence_run++;
    }
}

static void frame_done(q_vad *v)
{
    size_t f = v->len / FRAME - 1;
    const int16_t *p = v->buf + f * FRAME;
    double sum = 0;
    for (int i = 0; i < FRAME; i++) sum += (double)p[i] * p[i];
    float e = (float)(10.0 * log10(sum / FRAME / (32768.0 * 32768.0) + 1e-10));
    if (!v->noise_set || e < v->noise) {
        v->noise = e;
        v->noise_set = 1;
    } else {
        v->noise += NOISE_RISE * (e - v->noise);
    }
    if (v->noise > NOISE_MAX_DB) v->noise = NOISE_MAX_DB;
    int sp = e > v->noise + SPEECH_OVER_NOISE_DB && e > SPEECH_MIN_DB;
    v->energy[f] = e;
    v->speech[f] = (unsigned char)sp;
    if (sp) { v->had_speech = 1; v->silence_run = 0; }
    else v->silence_run++;
}

qerr q_vad_feed(q_vad *v, const int16_t *pcm, size_t n, size_t *used, int *ready, qerrctx *err)
{
    *used = 0;
    *ready = 0;
    if (v->seg_len) {
        shift(v, v->seg_len);
        v->seg_len = 0;
    }
    if (n == 0) {                                  /* end of stream */
        if (v->had_speech && v->len > 0) {
            v->seg_len = v->len;
            *ready = 1;
        } else {
            shift(v, v->len);
        }
        return Q_OK;
    }
    const size_t pad = MS_FRAMES(Q_VAD_PAD_MS), pause = MS_FRAMES(Q_VAD_PAUSE_MS);
    for (size_t i = 0; i < n; i++) {
        v->buf[v->len++] = pcm[i];
        if (v->len % FRAME) continue;
        frame_done(v);
        size_t nf = v->len / FRAME;
        if (!v->had_speech) {
            /* Only quiet so far: keep the last pad of it. */
            if (nf >= 4 * pad) shift(v, (nf - pad) * FRAME);
            continue;
        }
        if (v->silence_run >= pause && v->len >= (size_t)Q_VAD_MIN_MS * 16) {
            size_t cut = (nf - v->silence_run + pad) * FRAME;
            v->seg_len = cut < v->len ? cut : v->len;
        } else if (v->len >= CAP_SAMPLES) {
            size_t lo = nf > SEARCH_FRAMES ? nf - SEARCH_FRAMES : 1, best = nf - 1;
            for (size_t f = lo; f < nf; f++)
                if (v->energy[f] < v->energy[best]) best = f;
            v->seg_len = (best + 1) * FRAME;
        }
        if (v->seg_len) {
            *used = i + 1;
            *ready = 1;
            return Q_OK;
        }
    }
    *used = n;
    (void)err;
    return Q_OK;
}

const int16_t *q_vad_segment(const q_vad *v, size_t *n, double *start_s)
{
    *n = v->seg_len;
    *start_s = (double)v->buf_start / Q_ASR_RATE;
    return v->buf;
}
