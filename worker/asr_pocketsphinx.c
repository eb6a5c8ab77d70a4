/* asr_pocketsphinx.c - the pocketsphinx (0.8/5prealpha API) recogniser behind
 * q_asr_engine, plus the model lookup and the file-level transcribe helper
 * shared by engines; see asr.h. */
#include "asr.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pocketsphinx.h>

#define DEFAULT_EN_MODEL "/usr/share/pocketsphinx/model/en-us"
#define READ_CHUNK 8000          /* samples pulled from the decoder at a time */

typedef struct ps_state {
    ps_decoder_t *ps;
    cmd_ln_t *config;
    int frate;
} ps_state;

const char *q_asr_lang_code(const char *language, char *buf, size_t cap)
{
    size_t i = 0;
    const char *l = language && *language ? language : "en";
    while (l[i] && l[i] != '-' && l[i] != '_' && i + 1 < cap) {
        buf[i] = (char)tolower((unsigned char)l[i]);
        i++;
    }
    buf[i] = 0;
    if (!strcmp(buf, "eng") || !strcmp(buf, "english")) snprintf(buf, cap, "en");
    return buf;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Keep the alphabetically first candidate, so the choice is stable. */
static void keep_first(char *slot, size_t cap, const char *dir, const char *name)
{
    char p[4096];
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, name) >= sizeof p || strlen(p) >= cap) return;
    if (!slot[0] || strcmp(p, slot) < 0) snprintf(slot, cap, "%s", p);
}

qerr q_asr_find_model(const q_asr_options *opt, char *hmm, char *lm, char *dict,
                      size_t cap, qerrctx *err)
{
    char lang[16], envname[64];
    q_asr_lang_code(opt ? opt->language : NULL, lang, sizeof lang);
    const char *dir = opt && opt->model_dir && *opt->model_dir ? opt->model_dir : NULL;
    if (!dir) {
        char up[16];
        size_t i;
        for (i = 0; lang[i] && i + 1 < sizeof up; i++) up[i] = (char)toupper((unsigned char)lang[i]);
        up[i] = 0;
        snprintf(envname, sizeof envname, "QUIRE_ASR_MODEL_DIR_%s", up);
        dir = getenv(envname);
        if ((!dir || !*dir) && !strcmp(lang, "en")) {
            dir = getenv("QUIRE_ASR_MODEL_DIR");
            if (!dir || !*dir) dir = DEFAULT_EN_MODEL;
        }
    }
    if (!dir || !*dir || !is_dir(dir))
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "no speech model for language '%s'", lang);
    hmm[0] = lm[0] = dict[0] = 0;
    DIR *d = opendir(dir);
    if (!d) return qerr_set(err, Q_ERR_UNPROCESSABLE, "no speech model for language '%s'", lang);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (n[0] == '.') continue;
        char p[4096], mdef[4200];
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, n) >= sizeof p) continue;
        snprintf(mdef, sizeof mdef, "%s/mdef", p);
        if (is_dir(p)) {
            if (is_file(mdef)) keep_first(hmm, cap, dir, n);
        } else if ((ends_with(n, ".lm.bin") || ends_with(n, ".lm") || ends_with(n, ".lm.dmp") ||
                    ends_with(n, ".DMP")) && !strstr(n, "phone")) {
            keep_first(lm, cap, dir, n);
        } else if (ends_with(n, ".dict") || ends_with(n, ".dic")) {
            keep_first(dict, cap, dir, n);
        }
    }
    closedir(d);
    if (!hmm[0] || !lm[0] || !dict[0])
        return qerr_set(err, Q_ERR_UNPROCESSABLE,
                        "no speech model for language '%s' (incomplete model in %s)", lang, dir);
    return Q_OK;
}

static void ps_close(void *state)
{
    ps_state *s = state;
    if (!s) return;
    if (s->ps) ps_free(s->ps);
    if (s->config) cmd_ln_free_r(s->config);
    free(s);
}

static qerr ps_open(const q_asr_options *opt, void **state, qerrctx *err)
{
    char hmm[4096], lm[4096], dict[4096];
    *state = NULL;
    qerr e = q_asr_find_model(opt, hmm, lm, dict, sizeof hmm, err);
    if (e) return e;
    ps_state *s = calloc(1, sizeof *s);
    if (!s) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    s->config = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm, "-lm", lm, "-dict", dict,
                            "-remove_silence", "no", "-logfn", "/dev/null", NULL);
    if (!s->config) {
        ps_close(s);
        return qerr_set(err, Q_ERR_INTERNAL, "pocketsphinx rejected its configuration");
    }
    s->ps = ps_init(s->config);
    if (!s->ps) {
        ps_close(s);
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "cannot load speech model from %s", hmm);
    }
    s->frate = cmd_ln_int32_r(s->config, "-frate");
    if (s->frate <= 0) s->frate = 100;
    *state = s;
    return Q_OK;
}

/* A word worth keeping: not a sentence marker, silence or filler. Copies it
 * without the alternate-pronunciation suffix "(2)" into buf. */
static int clean_word(const char *w, char *buf, size_t cap)
{
    if (!w || !*w || w[0] == '<' || w[0] == '[' || w[0] == '+') return 0;
    size_t n = strcspn(w, "(");
    if (n == 0) return 0;
    if (n >= cap) n = cap - 1;
    memcpy(buf, w, n);
    buf[n] = 0;
    return 1;
}

static qerr decode_segment(ps_state *s, const int16_t *pcm, size_t n, double offset,
                           q_transcript *out, qerrctx *err)
{
    if (ps_start_utt(s->ps) < 0) return qerr_set(err, Q_ERR_INTERNAL, "pocketsphinx: cannot start utterance");
    if (ps_process_raw(s->ps, pcm, n, FALSE, TRUE) < 0) {
        ps_end_utt(s->ps);
        return qerr_set(err, Q_ERR_INTERNAL, "pocketsphinx: decoding failed");
    }
    if (ps_end_utt(s->ps) < 0) return qerr_set(err, Q_ERR_INTERNAL, "pocketsphinx: cannot end utterance");
    int32 score;
    const char *hyp = ps_get_hyp(s->ps, &score);
    if (!hyp || !*hyp) return Q_OK;
    int added = 0;
    double seg_end = offset + (double)n / Q_ASR_RATE;
    for (ps_seg_t *it = ps_seg_iter(s->ps); it; it = ps_seg_next(it)) {
        char w[256];
        if (!clean_word(ps_seg_word(it), w, sizeof w)) continue;
        int sf, ef;
        ps_seg_frames(it, &sf, &ef);
        double a = offset + (double)sf / s->frate, b = offset + (double)(ef + 1) / s->frate;
        if (!added) {
            qerr e = q_transcript_add_segment(out, a, seg_end, NULL, err);
            if (e) { ps_seg_free(it); return e; }
            added = 1;
        }
        qerr e = q_transcript_add_word(out, w, a, b, err);
        if (e) { ps_seg_free(it); return e; }
        out->segs[out->nsegs - 1].end = b;
    }
    return Q_OK;
}

static qerr ps_transcribe(void *state, q_audio_reader *in, double total_s, q_transcript *out,
                          q_checkpoint_fn cp, void *cp_ud, qerrctx *err)
{
    ps_state *s = state;
    if (q_audio_reader_rate(in) != Q_ASR_RATE)
        return qerr_set(err, Q_ERR_INTERNAL, "pocketsphinx needs %d Hz input, got %d",
                        Q_ASR_RATE, q_audio_reader_rate(in));
    q_vad *vad;
    qerr e = q_vad_new(&vad, err);
    if (e) return e;
    int16_t *chunk = malloc(READ_CHUNK * sizeof *chunk);
    if (!chunk) { q_vad_free(vad); return qerr_set(err, Q_ERR_NOMEM, "out of memory"); }
    size_t nseg = 0;
    int eof = 0;
    while (!e) {
        size_t got = 0;
        e = q_audio_reader_read(in, chunk, READ_CHUNK, &got, err);
        if (e) break;
        if (got == 0) eof = 1;
        size_t off = 0;
        do {
            size_t used;
            int ready;
            e = q_vad_feed(vad, chunk + off, got - off, &used, &ready, err);
            if (e) break;
            off += used;
            if (!ready) continue;
            size_t n;
            double start;
            const int16_t *seg = q_vad_segment(vad, &n, &start);
            if (cp) {
                char msg[96], tb[16];
                snprintf(msg, sizeof msg, "segment %zu at %s", nseg + 1, q_audio_fmt_time(start, tb, sizeof tb));
                double frac = total_s > 0 ? start / total_s : 0;
                if (cp(cp_ud, frac > 1 ? 1 : frac, msg)) {
                    e = qerr_set(err, Q_ERR_CANCELLED, "cancelled");
                    break;
                }
            }
            e = decode_segment(s, seg, n, start, out, err);
            nseg++;
        } while (!e && off < got);
        if (eof) break;
    }
    free(chunk);
    q_vad_free(vad);
    if (!e && cp && cp(cp_ud, 1.0, "transcribed")) e = qerr_set(err, Q_ERR_CANCELLED, "cancelled");
    return e;
}

const q_asr_engine q_asr_pocketsphinx = {
    .name = "pocketsphinx",
    .open = ps_open,
    .transcribe = ps_transcribe,
    .close = ps_close,
};

const q_asr_engine *q_asr_engine_by_name(const char *name)
{
    if (!name || !*name || !strcmp(name, "pocketsphinx")) return &q_asr_pocketsphinx;
    return NULL;
}

qerr q_asr_transcribe_file(const q_asr_engine *e, const q_asr_options *opt, const char *path,
                           q_transcript *out, q_checkpoint_fn cp, void *cp_ud, qerrctx *err)
{
    void *st;
    qerr rc = e->open(opt, &st, err);
    if (rc) return rc;
    q_audio_reader *r;
    q_audio_info info;
    rc = q_audio_reader_open(path, Q_ASR_RATE, &r, &info, err);
    if (!rc) {
        rc = e->transcribe(st, r, info.duration, out, cp, cp_ud, err);
        q_audio_reader_close(r);
    }
    e->close(st);
    return rc;
}
