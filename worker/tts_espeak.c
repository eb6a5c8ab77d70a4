/* tts_espeak.c - the espeak-ng engine behind q_tts_engine: every language
 * espeak-ng ships (Hindi included). espeak-ng is a process-global
 * synthesiser: it is initialised once and every call is serialised by
 * g_espeak_lock; the sink runs inside the lock (espeak's callback). */
#include "tts.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <espeak-ng/espeak_ng.h>
#include <espeak-ng/speak_lib.h>

#define ESPEAK_DEFAULT_WPM 175
#define ESPEAK_DEFAULT_PITCH 50

static pthread_mutex_t g_espeak_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_espeak_state;   /* 0 not tried, 1 ready, -1 failed; under the lock */
static int g_espeak_rate;

typedef struct estate {
    char voice[64];
    int wpm, pitch;
} estate;

/* What the synthesis callback passes on; lives on q_synth's stack. */
typedef struct cb_ctx {
    q_pcm_sink sink;
    void *ud;
    int failed;
} cb_ctx;

static int synth_cb(short *wav, int n, espeak_EVENT *ev)
{
    cb_ctx *c = ev ? ev->user_data : NULL;
    if (!c) return 0;
    if (wav && n > 0 && !c->failed && c->sink(c->ud, wav, (size_t)n)) c->failed = 1;
    return c->failed;
}

/* Call with the lock held. */
static int ensure_init(void)
{
    if (g_espeak_state == 0) {
        espeak_ng_InitializePath(NULL);
        if (espeak_ng_Initialize(NULL) == ENS_OK &&
            espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, 0, NULL) == ENS_OK) {
            espeak_SetSynthCallback(synth_cb);
            g_espeak_rate = espeak_ng_GetSampleRate();
            g_espeak_state = 1;
        } else {
            g_espeak_state = -1;
        }
    }
    return g_espeak_state == 1;
}

static size_t es_list(q_tts_voice *out, size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&g_espeak_lock);
    if (ensure_init()) {
        const espeak_VOICE **vs = espeak_ListVoices(NULL);
        for (; vs && vs[n]; n++) {
            if (n >= cap) continue;
            const espeak_VOICE *v = vs[n];
            const char *lang = v->languages && v->languages[0] ? v->languages + 1 : "";
            memset(&out[n], 0, sizeof out[n]);
            snprintf(out[n].id, sizeof out[n].id, "%s", lang);
            snprintf(out[n].name, sizeof out[n].name, "%s", v->name ? v->name : lang);
            snprintf(out[n].language, sizeof out[n].language, "%s", lang);
        }
    }
    pthread_mutex_unlock(&g_espeak_lock);
    return n;
}

static int clampi(double x, double def, double lo, double hi)
{
    if (!(x == x) || x == 0) x = 1.0;
    double v = def * x;
    return (int)(v < lo ? lo : v > hi ? hi : v);
}

static qerr es_open(const q_tts_params *p, void **state, int *rate, qerrctx *err)
{
    const char *voice = p->voice && *p->voice ? p->voice : "en-us";
    if (strlen(voice) >= sizeof ((estate *)0)->voice)
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "unknown voice for espeak-ng (name too long)");
    pthread_mutex_lock(&g_espeak_lock);
    int ok = ensure_init();
    espeak_ng_STATUS st = ok ? espeak_ng_SetVoiceByName(voice) : ENS_NOT_SUPPORTED;
    *rate = g_espeak_rate;
    pthread_mutex_unlock(&g_espeak_lock);
    if (!ok) return qerr_set(err, Q_ERR_UNAVAILABLE, "espeak-ng failed to initialise (no espeak-ng-data?)");
    if (st != ENS_OK) return qerr_set(err, Q_ERR_UNPROCESSABLE, "unknown voice '%s' for espeak-ng", voice);
    estate *s = calloc(1, sizeof *s);
    if (!s) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    snprintf(s->voice, sizeof s->voice, "%s", voice);
    s->wpm = clampi(p->speed > 2.0 ? 2.0 : p->speed < 0.5 && p->speed != 0 ? 0.5 : p->speed,
                    ESPEAK_DEFAULT_WPM, 80, 450);
    s->pitch = clampi(p->pitch > 2.0 ? 2.0 : p->pitch < 0.5 && p->pitch != 0 ? 0.5 : p->pitch,
                      ESPEAK_DEFAULT_PITCH, 0, 100);
    *state = s;
    return Q_OK;
}

static qerr es_synth(void *state, const char *text, q_pcm_sink sink, void *ud, qerrctx *err)
{
    estate *s = state;
    cb_ctx c = { sink, ud, 0 };
    pthread_mutex_lock(&g_espeak_lock);
    espeak_ng_STATUS st = espeak_ng_SetVoiceByName(s->voice);
    if (st == ENS_OK) {
        espeak_ng_SetParameter(espeakRATE, s->wpm, 0);
        espeak_ng_SetParameter(espeakPITCH, s->pitch, 0);
        st = espeak_ng_Synthesize(text, strlen(text) + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8,
                                  NULL, &c);
    }
    pthread_mutex_unlock(&g_espeak_lock);
    if (c.failed) return qerr_set(err, Q_ERR_IO, "cannot write synthesized audio");
    if (st != ENS_OK) {
        char msg[256];
        espeak_ng_GetStatusCodeMessage(st, msg, sizeof msg);
        return qerr_set(err, Q_ERR_INTERNAL, "espeak-ng: %s", msg);
    }
    return Q_OK;
}

static void es_close(void *state)
{
    free(state);
}

const q_tts_engine q_tts_espeak = {
    .name = "espeak-ng",
    .list_voices = es_list,
    .open = es_open,
    .synth = es_synth,
    .close = es_close,
};
