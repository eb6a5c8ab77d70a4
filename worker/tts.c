/* tts.c - text normalisation and chunking for speech, and the driver that
 * speaks a text through a q_tts_engine; see tts.h. */
#include "tts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct q_tts {
    const q_tts_engine *e;
    void *state;
    int rate;
};

/* Decode one UTF-8 sequence at s (n bytes left); returns its length, or 0
 * when invalid (overlong, surrogate, truncated). */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
    if (s[0] < 0x80) { *cp = s[0]; return 1; }
    size_t len;
    unsigned c, min;
    if ((s[0] & 0xE0) == 0xC0) { len = 2; c = s[0] & 0x1F; min = 0x80; }
    else if ((s[0] & 0xF0) == 0xE0) { len = 3; c = s[0] & 0x0F; min = 0x800; }
    else if ((s[0] & 0xF8) == 0xF0) { len = 4; c = s[0] & 0x07; min = 0x10000; }
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return len;
}

static int is_sentence_end(unsigned c)
{
    return c == '.' || c == '!' || c == '?' || c == 0x0964 /* danda */ || c == 0x0965 ||
           c == 0x3002 || c == 0xFF01 || c == 0xFF1F;
}

char *q_tts_normalize(const char *text, size_t len)
{
    if (!text) len = 0;
    if (len > Q_TTS_TEXT_MAX) len = Q_TTS_TEXT_MAX;
    /* Worst case growth: "..." for a 3-byte ellipsis, ". " per blank line. */
    char *out = malloc(len * 2 + 4);
    if (!out) return NULL;
    const unsigned char *s = (const unsigned char *)text;
    size_t o = 0, i = 0;
    int space = 0, newlines = 0;
    unsigned last = 0;   /* last code point written */
    while (i < len) {
        unsigned c;
        size_t n = utf8_decode(s + i, len - i, &c);
        if (n == 0) { c = ' '; n = 1; }
        const char *rep = NULL;
        switch (c) {
        case 0x2018: case 0x2019: case 0x201A: case 0x201B: case 0x2032: case 0x0060:
            rep = "'"; break;
        case 0x201C: case 0x201D: case 0x201E: case 0x201F: case 0x00AB: case 0x00BB: case 0x2033:
            rep = "\""; break;
        case 0x2013: case 0x2014: case 0x2015: case 0x2212:
            rep = " - "; break;
        case 0x2026:
            rep = "..."; break;
        case 0x200B: case 0xFEFF: case 0x00AD:
            rep = ""; break;
        default: break;
        }
        int ws = c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f' ||
                 c == 0x00A0 || c == 0x2028 || c == 0x2029 || (c >= 0x2000 && c <= 0x200A) ||
                 c == 0x3000 || c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0);
        if (ws) {
            if (c == '\n' || c == 0x2029) newlines++;
            space = 1;
            i += n;
            continue;
        }
        if (space && o > 0) {
            /* A blank line ends a sentence (headings, paragraphs). */
            if (newlines >= 2 && !is_sentence_end(last) && last != ',' && last != ';' && last != ':')
                out[o++] = '.';
            out[o++] = ' ';
            last = ' ';
        }
        space = 0;
        newlines = 0;
        if (rep) {
            size_t rl = strlen(rep);
            for (size_t k = 0; k < rl; k++) {
                if (rep[k] == ' ' && (o == 0 || out[o - 1] == ' ')) continue;
                out[o++] = rep[k];
            }
            if (rl) last = (unsigned char)rep[rl - 1];
            if (rl && rep[rl - 1] == ' ') {   /* swallow the spaces after a dash */
                o--;
                space = 1;
            }
        } else {
            memcpy(out + o, s + i, n);
            o += n;
            last = c;
        }
        i += n;
    }
    while (o > 0 && out[o - 1] == ' ') o--;
    out[o] = 0;
    return out;
}

int q_tts_chunk_next(const char *s, size_t *pos, size_t max_chars, size_t *start, size_t *len)
{
    if (max_chars == 0) max_chars = Q_TTS_CHUNK_MAX;
    size_t total = strlen(s), p = *pos;
    while (p < total && s[p] == ' ') p++;
    if (p >= total) { *pos = total; return 0; }
    size_t i = p, chars = 0;
    size_t sent = 0, clause = 0, word = 0;   /* end offsets of candidate cuts; 0 = none */
    while (i < total && chars < max_chars) {
        unsigned c;
        size_t n = utf8_decode((const unsigned char *)s + i, total - i, &c);
        if (n == 0) n = 1;
        i += n;
        chars++;
        if (i >= total) break;
        if (s[i] != ' ') continue;
        /* s[i] is a space: the text before it may end a sentence or clause. */
        size_t k = i;
        while (k > p && strchr("\"')]}", s[k - 1])) k--;
        unsigned lc = 0;
        size_t b = k;
        while (b > p && ((unsigned char)s[b - 1] & 0xC0) == 0x80) b--;
        if (b > p) utf8_decode((const unsigned char *)s + b - 1, k - b + 1, &lc);
        if (k > p && is_sentence_end(lc)) sent = i;
        else if (k > p && (s[k - 1] == ',' || s[k - 1] == ';' || s[k - 1] == ':' || s[k - 1] == '-'))
            clause = i;
        word = i;
    }
    size_t end;
    if (i >= total) end = total;
    else if (sent) end = sent;
    else if (clause) end = clause;
    else if (word) end = word;
    else end = i;                           /* one word longer than a chunk */
    *start = p;
    *len = end - p;
    *pos = end;
    return 1;
}

const q_tts_engine *q_tts_engine_by_name(const char *name)
{
    if (!name || !*name || !strcmp(name, "flite")) return &q_tts_flite;
    if (!strcmp(name, "espeak-ng") || !strcmp(name, "espeak")) return &q_tts_espeak;
    return NULL;
}

const q_tts_engine *q_tts_engine_for(const char *engine, const char *voice, const char *language,
                                     const char **voice_out)
{
    static const char *const flite_voices[] = { "slt", "rms", "awb", "kal", NULL };
    *voice_out = voice && *voice ? voice : NULL;
    if (engine && *engine) return q_tts_engine_by_name(engine);
    if (voice && *voice) {
        for (int i = 0; flite_voices[i]; i++)
            if (!strcmp(voice, flite_voices[i]) || (!strncmp(voice, "cmu_us_", 7) && !strcmp(voice + 7, flite_voices[i])))
                return &q_tts_flite;
        return &q_tts_espeak;
    }
    if (!language || !*language || !strncmp(language, "en", 2)) return &q_tts_flite;
    *voice_out = language;
    return &q_tts_espeak;
}

qerr q_tts_open(const q_tts_engine *e, const q_tts_params *p, q_tts **out, qerrctx *err)
{
    *out = NULL;
    q_tts *t = calloc(1, sizeof *t);
    if (!t) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    q_tts_params def = {0};
    t->e = e;
    qerr rc = e->open(p ? p : &def, &t->state, &t->rate, err);
    if (rc) { free(t); return rc; }
    *out = t;
    return Q_OK;
}

int q_tts_rate(const q_tts *t) { return t->rate; }

void q_tts_close(q_tts *t)
{
    if (!t) return;
    t->e->close(t->state);
    free(t);
}

static qerr pause(q_tts *t, q_pcm_sink sink, void *ud, qerrctx *err)
{
    static const int16_t zeros[1024];   /* read-only */
    size_t n = (size_t)t->rate * Q_TTS_PAUSE_MS / 1000;
    while (n > 0) {
        size_t k = n < 1024 ? n : 1024;
        if (sink(ud, zeros, k)) return qerr_set(err, Q_ERR_IO, "cannot write synthesized audio");
        n -= k;
    }
    return Q_OK;
}

qerr q_tts_speak(q_tts *t, const char *text, size_t len, q_pcm_sink sink, void *ud,
                 q_checkpoint_fn cp, void *cp_ud, qerrctx *err)
{
    if (len > Q_TTS_TEXT_MAX)
        return qerr_set(err, Q_ERR_TOO_LARGE, "text too long for synthesis (%zu bytes)", len);
    char *norm = q_tts_normalize(text, len);
    if (!norm) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    size_t total = strlen(norm), pos = 0, start, clen, n = 0;
    char chunk[Q_TTS_CHUNK_MAX * 4 + 1];
    qerr rc = Q_OK;
    while (!rc && q_tts_chunk_next(norm, &pos, Q_TTS_CHUNK_MAX, &start, &clen)) {
        if (cp) {
            char msg[64];
            snprintf(msg, sizeof msg, "chunk %zu", n + 1);
            if (cp(cp_ud, total ? (double)start / (double)total : 0, msg)) {
                rc = qerr_set(err, Q_ERR_CANCELLED, "cancelled");
                break;
            }
        }
        if (clen >= sizeof chunk) clen = sizeof chunk - 1;   /* cannot happen: <= 500 code points */
        memcpy(chunk, norm + start, clen);
        chunk[clen] = 0;
        if (n > 0) rc = pause(t, sink, ud, err);
        if (!rc) rc = t->e->synth(t->state, chunk, sink, ud, err);
        n++;
    }
    free(norm);
    if (!rc && cp && cp(cp_ud, 1.0, "synthesized")) rc = qerr_set(err, Q_ERR_CANCELLED, "cancelled");
    return rc;
}
