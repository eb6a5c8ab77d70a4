/* tts_flite.c - the flite engine behind q_tts_engine: CMU US voices slt,
 * rms, awb and kal linked in. flite voices are process-global objects, so
 * every use of them is serialised by g_flite_lock (synthesis of one chunk at
 * a time per process; audio is handed to the sink outside the lock). */
#include "tts.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flite.h>

/* Registration functions of the voice libraries (no public header). */
cst_voice *register_cmu_us_slt(const char *voxdir);
cst_voice *register_cmu_us_rms(const char *voxdir);
cst_voice *register_cmu_us_awb(const char *voxdir);
cst_voice *register_cmu_us_kal(const char *voxdir);

typedef struct fvoice {
    const char *id, *name;
    cst_voice *(*reg)(const char *);
    cst_voice *voice;      /* registered on first use; lives for the process */
    float f0_mean;         /* the voice's own int_f0_target_mean */
    int rate;
} fvoice;

/* Guarded by g_flite_lock. */
static fvoice g_voices[] = {
    { "slt", "CMU US SLT (female)", register_cmu_us_slt, NULL, 0, 0 },
    { "rms", "CMU US RMS (male)", register_cmu_us_rms, NULL, 0, 0 },
    { "awb", "CMU US AWB (male, Scottish)", register_cmu_us_awb, NULL, 0, 0 },
    { "kal", "CMU US KAL (male, diphone)", register_cmu_us_kal, NULL, 0, 0 },
};
#define NVOICES (sizeof g_voices / sizeof g_voices[0])
static pthread_mutex_t g_flite_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_flite_ready;

typedef struct fstate {
    fvoice *v;
    float stretch, f0;
} fstate;

static size_t fl_list(q_tts_voice *out, size_t cap)
{
    for (size_t i = 0; i < NVOICES && i < cap; i++) {
        memset(&out[i], 0, sizeof out[i]);
        snprintf(out[i].id, sizeof out[i].id, "%s", g_voices[i].id);
        snprintf(out[i].name, sizeof out[i].name, "%s", g_voices[i].name);
        snprintf(out[i].language, sizeof out[i].language, "en-US");
    }
    return NVOICES;
}

static double clampd(double x, double lo, double hi)
{
    if (!(x == x) || x == 0) return 1.0;
    return x < lo ? lo : x > hi ? hi : x;
}

static qerr fl_open(const q_tts_params *p, void **state, int *rate, qerrctx *err)
{
    const char *id = p->voice && *p->voice ? p->voice : "slt";
    if (!strncmp(id, "cmu_us_", 7)) id += 7;
    fvoice *v = NULL;
    for (size_t i = 0; i < NVOICES; i++)
        if (!strcmp(g_voices[i].id, id)) v = &g_voices[i];
    if (!v) return qerr_set(err, Q_ERR_UNPROCESSABLE, "unknown voice '%s' for flite", id);
    fstate *s = calloc(1, sizeof *s);
    if (!s) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&g_flite_lock);
    if (!g_flite_ready) {
        flite_init();
        g_flite_ready = 1;
    }
    if (!v->voice) {
        v->voice = v->reg(NULL);
        if (v->voice) {
            v->f0_mean = flite_get_param_float(v->voice->features, "int_f0_target_mean", 100.0f);
            /* The rate is a property of the voice's data: learn it once. */
            cst_wave *w = flite_text_to_wave("a", v->voice);
            v->rate = w ? w->sample_rate : 16000;
            if (w) delete_wave(w);
        }
    }
    int ok = v->voice != NULL;
    *rate = v->rate;
    pthread_mutex_unlock(&g_flite_lock);
    if (!ok) {
        free(s);
        return qerr_set(err, Q_ERR_INTERNAL, "flite voice '%s' failed to load", id);
    }
    s->v = v;
    s->stretch = (float)(1.0 / clampd(p->speed, 0.5, 2.0));
    s->f0 = (float)(v->f0_mean * clampd(p->pitch, 0.5, 2.0));
    *state = s;
    return Q_OK;
}

static qerr fl_synth(void *state, const char *text, q_pcm_sink sink, void *ud, qerrctx *err)
{
    fstate *s = state;
    pthread_mutex_lock(&g_flite_lock);
    cst_voice *v = s->v->voice;
    flite_feat_set_float(v->features, "duration_stretch", s->stretch);
    flite_feat_set_float(v->features, "int_f0_target_mean", s->f0);
    cst_wave *w = flite_text_to_wave(text, v);
    pthread_mutex_unlock(&g_flite_lock);
    if (!w) return Q_OK;   /* nothing it could say */
    qerr rc = Q_OK;
    size_t n = (size_t)w->num_samples * (size_t)(w->num_channels > 0 ? w->num_channels : 1);
    if (n > 0 && w->num_channels <= 1 && sink(ud, w->samples, n))
        rc = qerr_set(err, Q_ERR_IO, "cannot write synthesized audio");
    delete_wave(w);
    return rc;
}

static void fl_close(void *state)
{
    free(state);
}

const q_tts_engine q_tts_flite = {
    .name = "flite",
    .list_voices = fl_list,
    .open = fl_open,
    .synth = fl_synth,
    .close = fl_close,
};
