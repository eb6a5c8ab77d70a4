/* tts_render.c - the tts job's engine work: chapter texts -> one audio file
 * (WAV/MP3/M4B) with chapter markers, through a q_tts_engine; see tts.h. */
#include "tts.h"

#include <stdio.h>
#include <string.h>

typedef struct render_ctx {
    q_audio_writer *w;
    qerrctx *err;
} render_ctx;

static int to_writer(void *ud, const int16_t *pcm, size_t n)
{
    render_ctx *c = ud;
    return q_audio_writer_write(c->w, pcm, n, c->err) != Q_OK;
}

/* Progress of one text mapped into the whole book's range. */
typedef struct range_ctx {
    q_checkpoint_fn cp;
    void *ud;
    double base, span;
} range_ctx;

static int in_range(void *ud, double f, const char *msg)
{
    range_ctx *r = ud;
    return r->cp(r->ud, r->base + r->span * f, msg);
}

qerr q_tts_render(const q_tts_engine *e, const q_tts_params *p, const char *const *texts,
                  const char *const *titles, size_t n, const char *out, q_audio_format fmt,
                  const q_audio_meta *meta, q_audio_chapter *chapters_out,
                  q_checkpoint_fn cp, void *cp_ud, qerrctx *err)
{
    if (n == 0) return qerr_set(err, Q_ERR_INVALID, "nothing to synthesize");
    q_tts *t;
    qerr rc = q_tts_open(e, p, &t, err);
    if (rc) return rc;
    q_audio_writer *w;
    rc = q_audio_writer_open(out, fmt, q_tts_rate(t), meta, &w, err);
    if (rc) { q_tts_close(t); return rc; }
    size_t total = 0, done = 0;
    for (size_t i = 0; i < n; i++) total += texts[i] ? strlen(texts[i]) : 0;
    render_ctx rc_ctx = { w, err };
    for (size_t i = 0; i < n && !rc; i++) {
        size_t len = texts[i] ? strlen(texts[i]) : 0;
        if (i > 0) rc = q_audio_writer_silence(w, (size_t)q_tts_rate(t) * Q_TTS_PAUSE_MS * 4 / 1000, err);
        if (!rc) rc = q_audio_writer_chapter(w, titles ? titles[i] : NULL, err);
        range_ctx rg = { cp, cp_ud, total ? (double)done / (double)total : 0,
                         total ? (double)len / (double)total : 0 };
        if (!rc) rc = q_tts_speak(t, texts[i] ? texts[i] : "", len, to_writer, &rc_ctx,
                                  cp ? in_range : NULL, &rg, err);
        done += len;
    }
    q_tts_close(t);
    if (rc) {
        q_audio_writer_abort(w);
        return rc;
    }
    if (chapters_out) {
        size_t nc;
        const q_audio_chapter *c = q_audio_writer_chapters(w, &nc);
        memcpy(chapters_out, c, nc * sizeof *c);
    }
    return q_audio_writer_close(w, err);
}
