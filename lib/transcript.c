/* transcript.c - transcript storage, writers (txt/json/srt/vtt), JSON reader
 * and chapter concatenation; see transcript.h. */
#include "transcript.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

void q_transcript_init(q_transcript *t)
{
    memset(t, 0, sizeof *t);
}

static void seg_free(q_segment *s)
{
    for (size_t i = 0; i < s->nwords; i++) free(s->words[i].word);
    free(s->words);
    free(s->text);
}

void q_transcript_free(q_transcript *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->nsegs; i++) seg_free(&t->segs[i]);
    free(t->segs);
    memset(t, 0, sizeof *t);
}

static char *dup_capped(const char *s)
{
    size_t n = strnlen(s, Q_TRANSCRIPT_MAX_TEXT);
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static double clean_time(double x)
{
    if (!isfinite(x) || x < 0) return 0;
    if (x > 1e7) return 1e7;
    return x;
}

qerr q_transcript_add_segment(q_transcript *t, double start, double end,
                              const char *text, qerrctx *err)
{
    if (t->nsegs >= Q_TRANSCRIPT_MAX_SEGS)
        return qerr_set(err, Q_ERR_TOO_LARGE, "transcript has too many segments");
    if (t->nsegs == t->capsegs) {
        size_t cap = t->capsegs ? t->capsegs * 2 : 16;
        q_segment *p = realloc(t->segs, cap * sizeof *p);
        if (!p) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
        t->segs = p;
        t->capsegs = cap;
    }
    q_segment *s = &t->segs[t->nsegs];
    memset(s, 0, sizeof *s);
    s->start = clean_time(start);
    s->end = clean_time(end);
    if (s->end < s->start) s->end = s->start;
    s->text = dup_capped(text ? text : "");
    s->text_from_words = text == NULL;
    if (!s->text) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    t->nsegs++;
    return Q_OK;
}

/* The segment was created without text: its text follows its words. */
static qerr text_append_word(q_segment *s, const char *w, qerrctx *err)
{
    size_t a = strlen(s->text), b = strlen(w);
    if (a + 1 + b > Q_TRANSCRIPT_MAX_TEXT) return Q_OK;   /* capped, words kept */
    char *p = realloc(s->text, a + b + 2);
    if (!p) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    if (a) p[a++] = ' ';
    memcpy(p + a, w, b + 1);
    s->text = p;
    return Q_OK;
}

qerr q_transcript_add_word(q_transcript *t, const char *word, double start,
                           double end, qerrctx *err)
{
    if (t->nsegs == 0) return qerr_set(err, Q_ERR_INTERNAL, "word added before any segment");
    q_segment *s = &t->segs[t->nsegs - 1];
    if (s->nwords == s->capwords) {
        size_t cap = s->capwords ? s->capwords * 2 : 16;
        q_word *p = realloc(s->words, cap * sizeof *p);
        if (!p) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
        s->words = p;
        s->capwords = cap;
    }
    q_word *w = &s->words[s->nwords];
    w->word = dup_capped(word ? word : "");
    if (!w->word) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    w->start = clean_time(start);
    w->end = clean_time(end);
    if (w->end < w->start) w->end = w->start;
    s->nwords++;
    if (s->text_from_words) return text_append_word(s, w->word, err);
    return Q_OK;
}

qerr q_transcript_append(q_transcript *dst, const q_transcript *src, double offset,
                         qerrctx *err)
{
    for (size_t i = 0; i < src->nsegs; i++) {
        const q_segment *s = &src->segs[i];
        qerr e = q_transcript_add_segment(dst, s->start + offset, s->end + offset, s->text, err);
        if (e) return e;
        q_segment *d = &dst->segs[dst->nsegs - 1];
        if (s->nwords) {
            d->words = calloc(s->nwords, sizeof *d->words);
            if (!d->words) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
            d->capwords = s->nwords;
            for (size_t j = 0; j < s->nwords; j++) {
                d->words[j].word = dup_capped(s->words[j].word);
                if (!d->words[j].word) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
                d->words[j].start = clean_time(s->words[j].start + offset);
                d->words[j].end = clean_time(s->words[j].end + offset);
                d->nwords = j + 1;
            }
        }
    }
    return Q_OK;
}

size_t q_transcript_word_count(const q_transcript *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->nsegs; i++) n += t->segs[i].nwords;
    return n;
}

static qerr io_check(FILE *f, qerrctx *err)
{
    /* a full disk is its own error: the job is retried, the message says why */
    if (ferror(f))
        return errno == ENOSPC || errno == EDQUOT ? qerr_set(err, Q_ERR_NO_SPACE, "no space left on the storage device:"
                                                             " cannot write the transcript")
                                                  : qerr_set(err, Q_ERR_IO, "cannot write transcript");
    return Q_OK;
}

qerr q_transcript_write_txt(const q_transcript *t, FILE *f, qerrctx *err)
{
    for (size_t i = 0; i < t->nsegs; i++)
        if (t->segs[i].text[0]) fprintf(f, "%s\n", t->segs[i].text);
    return io_check(f, err);
}

static double ms3(double x)
{
    return round(x * 1000.0) / 1000.0;
}

qerr q_transcript_write_json(const q_transcript *t, FILE *f, qerrctx *err)
{
    /* One segment object at a time, so memory stays bounded by a segment. */
    fputs("{\"segments\":[", f);
    for (size_t i = 0; i < t->nsegs; i++) {
        const q_segment *s = &t->segs[i];
        cJSON *o = cJSON_CreateObject();
        cJSON *ws = o ? cJSON_CreateArray() : NULL;
        if (!o || !ws) {
            cJSON_Delete(o);
            return qerr_set(err, Q_ERR_NOMEM, "out of memory");
        }
        int oom = !cJSON_AddNumberToObject(o, "start", ms3(s->start)) ||
                  !cJSON_AddNumberToObject(o, "end", ms3(s->end)) ||
                  !cJSON_AddStringToObject(o, "text", s->text);
        cJSON_AddItemToObject(o, "words", ws);   /* o owns ws from here */
        for (size_t j = 0; j < s->nwords && !oom; j++) {
            cJSON *w = cJSON_CreateObject();
            if (!w) { oom = 1; break; }
            cJSON_AddItemToArray(ws, w);
            oom = !cJSON_AddStringToObject(w, "word", s->words[j].word) ||
                  !cJSON_AddNumberToObject(w, "start", ms3(s->words[j].start)) ||
                  !cJSON_AddNumberToObject(w, "end", ms3(s->words[j].end));
        }
        char *txt = oom ? NULL : cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!txt) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
        if (i) fputc(',', f);
        fputs(txt, f);
        free(txt);
    }
    fputs("]}\n", f);
    return io_check(f, err);
}

/* A subtitle cue under construction. */
typedef struct cue {
    double start, end;
    char text[Q_CUE_MAX_CHARS * 4 + 8];   /* UTF-8: up to 4 bytes a char */
    size_t len, chars;
} cue;

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

static void fmt_ts(double s, char sep, char *buf, size_t cap)
{
    long long ms = llround(clean_time(s) * 1000.0);
    snprintf(buf, cap, "%02lld:%02lld:%02lld%c%03lld", ms / 3600000, (ms / 60000) % 60,
             (ms / 1000) % 60, sep, ms % 1000);
}

static void emit_cue(FILE *f, int vtt, size_t *num, const cue *c)
{
    if (c->len == 0) return;
    char a[32], b[32];
    double end = c->end > c->start ? c->end : c->start + 0.5;
    fmt_ts(c->start, vtt ? '.' : ',', a, sizeof a);
    fmt_ts(end, vtt ? '.' : ',', b, sizeof b);
    ++*num;
    if (vtt) fprintf(f, "%zu\n%s --> %s\n", *num, a, b);
    else fprintf(f, "%zu\n%s --> %s\n", *num, a, b);
    for (const char *p = c->text; *p; p++) {
        char ch = *p;
        if (ch == '\n' || ch == '\r') ch = ' ';
        if (vtt && ch == '&') fputs("&amp;", f);
        else if (vtt && ch == '<') fputs("&lt;", f);
        else if (vtt && ch == '>') fputs("&gt;", f);
        else fputc(ch, f);
    }
    fputs("\n\n", f);
}

/* Add text to c; when c has text and adding would pass the caps, returns 0
 * and leaves c alone. */
static int cue_add(cue *c, const char *w, double start, double end, int force)
{
    size_t wl = strlen(w), wc = utf8_chars(w);
    if (wl == 0) return 1;
    if (c->len > 0 && !force &&
        (c->chars + 1 + wc > Q_CUE_MAX_CHARS || end - c->start > Q_CUE_MAX_S))
        return 0;
    if (c->len == 0) c->start = start;
    if (c->len + 1 + wl >= sizeof c->text) {
        /* One very long word: cut it at a character boundary. */
        size_t room = sizeof c->text - 1 - c->len - (c->len ? 1 : 0);
        while (room > 0 && ((unsigned char)w[room] & 0xC0) == 0x80) room--;
        wl = room;
    }
    if (c->len) c->text[c->len++] = ' ';
    memcpy(c->text + c->len, w, wl);
    c->len += wl;
    c->text[c->len] = 0;
    c->chars += wc + 1;
    if (end > c->end) c->end = end;
    return 1;
}

static qerr write_cues(const q_transcript *t, FILE *f, int vtt, qerrctx *err)
{
    size_t num = 0;
    if (vtt) fputs("WEBVTT\n\n", f);
    for (size_t i = 0; i < t->nsegs; i++) {
        const q_segment *s = &t->segs[i];
        cue c = {0};
        if (s->nwords == 0) {
            /* No word times: the segment text, split evenly by length. */
            const char *p = s->text;
            size_t total = utf8_chars(s->text);
            size_t done = 0;
            double dur = s->end - s->start;
            while (*p) {
                while (*p == ' ') p++;
                if (!*p) break;
                const char *q = p;
                while (*q && *q != ' ') q++;
                char w[Q_CUE_MAX_CHARS * 4];
                size_t wl = (size_t)(q - p) < sizeof w - 1 ? (size_t)(q - p) : sizeof w - 1;
                memcpy(w, p, wl);
                w[wl] = 0;
                double ws = s->start + (total ? dur * done / total : 0);
                double we = s->start + (total ? dur * (done + utf8_chars(w)) / total : 0);
                if (!cue_add(&c, w, ws, we, 0)) {
                    emit_cue(f, vtt, &num, &c);
                    memset(&c, 0, sizeof c);
                    cue_add(&c, w, ws, we, 1);
                }
                done += utf8_chars(w) + 1;
                p = q;
            }
            if (c.len && c.end < s->end && c.end >= c.start) c.end = s->end;
            emit_cue(f, vtt, &num, &c);
            continue;
        }
        for (size_t j = 0; j < s->nwords; j++) {
            const q_word *w = &s->words[j];
            if (!cue_add(&c, w->word, w->start, w->end, 0)) {
                emit_cue(f, vtt, &num, &c);
                memset(&c, 0, sizeof c);
                cue_add(&c, w->word, w->start, w->end, 1);
            }
        }
        emit_cue(f, vtt, &num, &c);
    }
    return io_check(f, err);
}

qerr q_transcript_write_srt(const q_transcript *t, FILE *f, qerrctx *err)
{
    return write_cues(t, f, 0, err);
}

qerr q_transcript_write_vtt(const q_transcript *t, FILE *f, qerrctx *err)
{
    return write_cues(t, f, 1, err);
}

q_transcript_writer q_transcript_writer_for(const char *format)
{
    if (!format) return NULL;
    if (!strcmp(format, "txt")) return q_transcript_write_txt;
    if (!strcmp(format, "json")) return q_transcript_write_json;
    if (!strcmp(format, "srt")) return q_transcript_write_srt;
    if (!strcmp(format, "vtt")) return q_transcript_write_vtt;
    return NULL;
}

const char *q_transcript_mime(const char *format)
{
    if (format && !strcmp(format, "json")) return "application/json";
    if (format && !strcmp(format, "srt")) return "application/x-subrip; charset=utf-8";
    if (format && !strcmp(format, "vtt")) return "text/vtt; charset=utf-8";
    return "text/plain; charset=utf-8";
}

qerr q_transcript_save(const q_transcript *t, const char *prefix, qerrctx *err)
{
    static const char *const fmts[] = { "txt", "json", "srt", "vtt" };
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        char path[4096], part[4200];
        if ((size_t)snprintf(path, sizeof path, "%s.%s", prefix, fmts[i]) >= sizeof path)
            return qerr_set(err, Q_ERR_INVALID, "transcript path too long");
        snprintf(part, sizeof part, "%s.part", path);
        FILE *f = fopen(part, "w");
        int full;
        if (!f) {
            full = errno == ENOSPC || errno == EDQUOT;
            return qerr_set(err, full ? Q_ERR_NO_SPACE : Q_ERR_IO, "cannot create %s: %s", part, strerror(errno));
        }
        qerr e = q_transcript_writer_for(fmts[i])(t, f, err);
        if (fclose(f) && !e) {
            full = errno == ENOSPC || errno == EDQUOT;
            e = qerr_set(err, full ? Q_ERR_NO_SPACE : Q_ERR_IO, "cannot write %s: %s", part, strerror(errno));
        }
        if (!e && rename(part, path) != 0) e = qerr_set(err, Q_ERR_IO, "cannot rename %s: %s", part, strerror(errno));
        if (!e && qfile_durable(path) != 0) {
            int en = errno;
            e = qerr_set(err, qerr_of_errno(en), "cannot write %s to disk: %s", path, strerror(en));
            unlink(path);
        }
        if (e) {
            unlink(part);
            return e;
        }
    }
    return Q_OK;
}

static int get_num(const cJSON *o, const char *k, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v)) return 0;
    *out = v->valuedouble;
    return 1;
}

qerr q_transcript_read_json(q_transcript *t, const char *json, size_t len, qerrctx *err)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) return qerr_set(err, Q_ERR_UNPROCESSABLE, "transcript JSON does not parse");
    qerr e = Q_OK;
    const cJSON *segs = cJSON_GetObjectItemCaseSensitive(root, "segments");
    if (!cJSON_IsArray(segs)) {
        e = qerr_set(err, Q_ERR_UNPROCESSABLE, "transcript JSON has no \"segments\" array");
        goto out;
    }
    const cJSON *s;
    size_t words = q_transcript_word_count(t);
    cJSON_ArrayForEach(s, segs) {
        double st, en;
        const cJSON *tx = cJSON_GetObjectItemCaseSensitive(s, "text");
        if (!cJSON_IsObject(s) || !get_num(s, "start", &st) || !get_num(s, "end", &en) ||
            (tx && !cJSON_IsString(tx))) {
            e = qerr_set(err, Q_ERR_UNPROCESSABLE, "transcript segment %zu is malformed", t->nsegs);
            goto out;
        }
        e = q_transcript_add_segment(t, st, en, tx ? tx->valuestring : "", err);
        if (e) goto out;
        const cJSON *ws = cJSON_GetObjectItemCaseSensitive(s, "words"), *w;
        if (ws && !cJSON_IsArray(ws)) {
            e = qerr_set(err, Q_ERR_UNPROCESSABLE, "transcript segment %zu: words is not an array",
                         t->nsegs - 1);
            goto out;
        }
        q_segment *seg = &t->segs[t->nsegs - 1];
        cJSON_ArrayForEach(w, ws) {
            const cJSON *wt = cJSON_GetObjectItemCaseSensitive(w, "word");
            double a, b;
            if (!cJSON_IsString(wt) || !get_num(w, "start", &a) || !get_num(w, "end", &b)) {
                e = qerr_set(err, Q_ERR_UNPROCESSABLE, "transcript segment %zu: malformed word",
                             t->nsegs - 1);
                goto out;
            }
            if (++words > Q_TRANSCRIPT_MAX_WORDS) {
                e = qerr_set(err, Q_ERR_TOO_LARGE, "transcript has too many words");
                goto out;
            }
            /* Text is given: add the word without touching it. */
            if (seg->nwords == seg->capwords) {
                size_t cap = seg->capwords ? seg->capwords * 2 : 16;
                q_word *p = realloc(seg->words, cap * sizeof *p);
                if (!p) { e = qerr_set(err, Q_ERR_NOMEM, "out of memory"); goto out; }
                seg->words = p;
                seg->capwords = cap;
            }
            q_word *qw = &seg->words[seg->nwords];
            qw->word = dup_capped(wt->valuestring);
            if (!qw->word) { e = qerr_set(err, Q_ERR_NOMEM, "out of memory"); goto out; }
            qw->start = clean_time(a);
            qw->end = clean_time(b) < qw->start ? qw->start : clean_time(b);
            seg->nwords++;
        }
    }
out:
    cJSON_Delete(root);
    return e;
}
