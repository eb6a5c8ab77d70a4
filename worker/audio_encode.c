/* audio_encode.c - streamed mono int16 PCM -> WAV, MP3 (LAME + ID3v2.4 with
 * CHAP/CTOC chapter frames) or M4B (FFmpeg AAC in an ipod-branded MP4 with
 * chapters); and assembling several files into one book. See audio.h.
 *
 * Every format writes "<path>.part" and renames it to path on a successful
 * close, so a half-written file is never mistaken for output. MP3 frames and
 * AAC packets are staged in "<path>.tmp" while the chapters are still being
 * marked, and laid out behind the tag / into the container at close. */
#include "audio.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lame.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>

#define MP3BUF_FOR(n) ((size_t)(n) * 5 / 4 + 7200)
#define MAX_PACKET (1 << 20)
#define COPY_BUF 65536

struct q_audio_writer {
    q_audio_format fmt;
    int rate, kbps;
    char *path, *part, *tmp;
    char *title, *author;
    uint64_t samples;
    q_audio_chapter *ch;
    size_t nch, capch;
    FILE *out;                 /* WAV: the .part file */
    FILE *stage;               /* MP3/M4B: the .tmp file */
    /* MP3 */
    lame_global_flags *lame;
    unsigned char *mp3buf;
    size_t mp3cap;
    /* M4B */
    AVCodecContext *aac;
    AVFrame *frame;
    AVPacket *pkt;
    int fill;                  /* samples in frame */
    int64_t next_pts;
};

q_audio_format q_audio_format_from_name(const char *name)
{
    if (!name) return 0;
    if (!strcmp(name, "wav")) return Q_AUDIO_WAV;
    if (!strcmp(name, "mp3")) return Q_AUDIO_MP3;
    if (!strcmp(name, "m4b") || !strcmp(name, "m4a")) return Q_AUDIO_M4B;
    return 0;
}

const char *q_audio_format_ext(q_audio_format f)
{
    switch (f) {
    case Q_AUDIO_WAV: return "wav";
    case Q_AUDIO_MP3: return "mp3";
    case Q_AUDIO_M4B: return "m4b";
    }
    return "bin";
}

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

static void put_le16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

static void put_syncsafe(unsigned char *p, uint32_t v)
{
    p[0] = (v >> 21) & 0x7F; p[1] = (v >> 14) & 0x7F; p[2] = (v >> 7) & 0x7F; p[3] = v & 0x7F;
}

static char *strdup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void writer_free(q_audio_writer *w)
{
    if (w->out) fclose(w->out);
    if (w->stage) fclose(w->stage);
    if (w->lame) lame_close(w->lame);
    avcodec_free_context(&w->aac);
    av_frame_free(&w->frame);
    av_packet_free(&w->pkt);
    free(w->mp3buf);
    free(w->path); free(w->part); free(w->tmp);
    free(w->title); free(w->author);
    free(w->ch);
    free(w);
}

void q_audio_writer_abort(q_audio_writer *w)
{
    if (!w) return;
    if (w->part) unlink(w->part);
    if (w->tmp) unlink(w->tmp);
    writer_free(w);
}

/* A failed create, write or flush (errno from it): a full disk has its own
 * code, which the runner reports as retryable and callers can tell apart;
 * anything else is Q_ERR_IO. */
static qerr wr_fail(qerrctx *err, const char *what, const char *path)
{
    int e = errno;
    if (qerr_of_errno(e) == Q_ERR_NO_SPACE)
        return qerr_set(err, Q_ERR_NO_SPACE, "no space left on the storage device: cannot %s %s", what, path);
    return qerr_set(err, Q_ERR_IO, "cannot %s %s: %s", what, path, strerror(e ? e : EIO));
}

static qerr wav_header(FILE *f, int rate, uint32_t data_bytes)
{
    unsigned char h[44];
    memcpy(h, "RIFF", 4);
    put_le32(h + 4, 36 + data_bytes);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_le32(h + 16, 16);
    put_le16(h + 20, 1);                 /* PCM */
    put_le16(h + 22, 1);                 /* mono */
    put_le32(h + 24, (uint32_t)rate);
    put_le32(h + 28, (uint32_t)rate * 2);
    put_le16(h + 32, 2);
    put_le16(h + 34, 16);
    memcpy(h + 36, "data", 4);
    put_le32(h + 40, data_bytes);
    return fwrite(h, 1, sizeof h, f) == sizeof h ? Q_OK : Q_ERR_IO;
}

static int aac_rate_ok(int rate)
{
    static const int ok[] = { 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000,
                              64000, 88200, 96000 };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (ok[i] == rate) return 1;
    return 0;
}

static qerr open_mp3(q_audio_writer *w, qerrctx *err)
{
    w->lame = lame_init();
    if (!w->lame) return qerr_set(err, Q_ERR_NOMEM, "cannot start the MP3 encoder");
    lame_set_in_samplerate(w->lame, w->rate);
    lame_set_num_channels(w->lame, 1);
    lame_set_mode(w->lame, MONO);
    lame_set_brate(w->lame, w->kbps);
    lame_set_quality(w->lame, 5);
    lame_set_bWriteVbrTag(w->lame, 1);   /* Info frame: exact length, gapless */
    if (lame_init_params(w->lame) < 0)
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "MP3 encoder rejects %d Hz at %d kbps", w->rate, w->kbps);
    return Q_OK;
}

static qerr open_aac(q_audio_writer *w, qerrctx *err)
{
    if (!aac_rate_ok(w->rate))
        return qerr_set(err, Q_ERR_UNPROCESSABLE, "M4B output cannot be %d Hz", w->rate);
    const AVCodec *c = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!c) return qerr_set(err, Q_ERR_UNAVAILABLE, "no AAC encoder in this FFmpeg");
    w->aac = avcodec_alloc_context3(c);
    w->frame = av_frame_alloc();
    w->pkt = av_packet_alloc();
    if (!w->aac || !w->frame || !w->pkt) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    w->aac->sample_fmt = AV_SAMPLE_FMT_FLTP;
    w->aac->sample_rate = w->rate;
    w->aac->bit_rate = (int64_t)w->kbps * 1000;
    w->aac->time_base = (AVRational){ 1, w->rate };
    w->aac->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    av_channel_layout_copy(&w->aac->ch_layout, &mono);
    int rc = avcodec_open2(w->aac, c, NULL);
    if (rc < 0) return qerr_set(err, Q_ERR_UNPROCESSABLE, "AAC encoder rejects %d Hz mono", w->rate);
    w->frame->format = AV_SAMPLE_FMT_FLTP;
    w->frame->sample_rate = w->rate;
    w->frame->nb_samples = w->aac->frame_size > 0 ? w->aac->frame_size : 1024;
    av_channel_layout_copy(&w->frame->ch_layout, &mono);
    if (av_frame_get_buffer(w->frame, 0) < 0) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    return Q_OK;
}

qerr q_audio_writer_open(const char *path, q_audio_format fmt, int sample_rate,
                         const q_audio_meta *meta, q_audio_writer **out, qerrctx *err)
{
    q_audio_global_init();
    *out = NULL;
    if (fmt != Q_AUDIO_WAV && fmt != Q_AUDIO_MP3 && fmt != Q_AUDIO_M4B)
        return qerr_set(err, Q_ERR_INVALID, "unknown output format");
    if (sample_rate < 8000 || sample_rate > 96000)
        return qerr_set(err, Q_ERR_INVALID, "output rate %d Hz out of range", sample_rate);
    q_audio_writer *w = calloc(1, sizeof *w);
    if (!w) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    w->fmt = fmt;
    w->rate = sample_rate;
    w->kbps = meta && meta->bitrate_kbps > 0 ? meta->bitrate_kbps : 64;
    w->path = strdup(path);
    if (w->path && asprintf(&w->part, "%s.part", path) < 0) w->part = NULL;
    if (w->path && asprintf(&w->tmp, "%s.tmp", path) < 0) w->tmp = NULL;
    w->title = strdup_or_null(meta ? meta->title : NULL);
    w->author = strdup_or_null(meta ? meta->author : NULL);
    if (!w->path || !w->part || !w->tmp || (meta && meta->title && !w->title) ||
        (meta && meta->author && !w->author)) {
        writer_free(w);
        return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    }
    qerr rc = Q_OK;
    if (fmt == Q_AUDIO_WAV) {
        w->out = fopen(w->part, "wb");
        if (!w->out) rc = wr_fail(err, "create", w->part);
        else if (wav_header(w->out, w->rate, 0)) rc = wr_fail(err, "write", w->part);
    } else {
        w->stage = fopen(w->tmp, "w+b");
        if (!w->stage) rc = wr_fail(err, "create", w->tmp);
        else rc = fmt == Q_AUDIO_MP3 ? open_mp3(w, err) : open_aac(w, err);
    }
    if (rc) {
        q_audio_writer_abort(w);
        return rc;
    }
    *out = w;
    return Q_OK;
}

static int64_t pos_ms(const q_audio_writer *w)
{
    return (int64_t)(w->samples * 1000 / (uint64_t)w->rate);
}

qerr q_audio_writer_chapter(q_audio_writer *w, const char *title, qerrctx *err)
{
    if (w->nch >= Q_WRITER_MAX_CHAPTERS)
        return qerr_set(err, Q_ERR_TOO_LARGE, "more than %d chapters", Q_WRITER_MAX_CHAPTERS);
    if (w->nch == w->capch) {
        size_t cap = w->capch ? w->capch * 2 : 16;
        q_audio_chapter *p = realloc(w->ch, cap * sizeof *p);
        if (!p) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
        w->ch = p;
        w->capch = cap;
    }
    q_audio_chapter *c = &w->ch[w->nch++];
    memset(c, 0, sizeof *c);
    if (title && *title) snprintf(c->title, sizeof c->title, "%s", title);
    else snprintf(c->title, sizeof c->title, "Chapter %zu", w->nch);
    c->start_ms = c->end_ms = pos_ms(w);
    return Q_OK;
}

const q_audio_chapter *q_audio_writer_chapters(q_audio_writer *w, size_t *n)
{
    int64_t now = pos_ms(w);
    for (size_t i = 0; i < w->nch; i++)
        w->ch[i].end_ms = i + 1 < w->nch ? w->ch[i + 1].start_ms : now;
    *n = w->nch;
    return w->ch;
}

double q_audio_writer_position(const q_audio_writer *w)
{
    return (double)w->samples / w->rate;
}

/* Write one length-prefixed AAC packet record to the stage file. */
static qerr stage_packet(q_audio_writer *w, const AVPacket *p, qerrctx *err)
{
    unsigned char h[24];
    if (p->size <= 0 || p->size > MAX_PACKET) return qerr_set(err, Q_ERR_INTERNAL, "AAC packet of %d bytes", p->size);
    put_le32(h, (uint32_t)p->size);
    put_le32(h + 4, (uint32_t)(p->flags & AV_PKT_FLAG_KEY));
    uint64_t pts = (uint64_t)p->pts, dur = (uint64_t)p->duration;
    put_le32(h + 8, (uint32_t)pts); put_le32(h + 12, (uint32_t)(pts >> 32));
    put_le32(h + 16, (uint32_t)dur); put_le32(h + 20, (uint32_t)(dur >> 32));
    if (fwrite(h, 1, sizeof h, w->stage) != sizeof h || fwrite(p->data, 1, (size_t)p->size, w->stage) != (size_t)p->size)
        return wr_fail(err, "write", w->tmp);
    return Q_OK;
}

static qerr aac_send(q_audio_writer *w, AVFrame *f, qerrctx *err)
{
    int rc = avcodec_send_frame(w->aac, f);
    if (rc < 0) return qerr_set(err, Q_ERR_INTERNAL, "AAC encoder refused a frame");
    for (;;) {
        rc = avcodec_receive_packet(w->aac, w->pkt);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return Q_OK;
        if (rc < 0) return qerr_set(err, Q_ERR_INTERNAL, "AAC encoding failed");
        qerr e = stage_packet(w, w->pkt, err);
        av_packet_unref(w->pkt);
        if (e) return e;
    }
}

static qerr write_aac(q_audio_writer *w, const int16_t *pcm, size_t n, qerrctx *err)
{
    while (n > 0) {
        if (av_frame_make_writable(w->frame) < 0) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
        float *d = (float *)w->frame->data[0];
        size_t room = (size_t)(w->frame->nb_samples - w->fill), k = n < room ? n : room;
        for (size_t i = 0; i < k; i++) d[w->fill + (int)i] = pcm ? pcm[i] / 32768.0f : 0.0f;
        w->fill += (int)k;
        if (pcm) pcm += k;
        n -= k;
        if (w->fill == w->frame->nb_samples) {
            w->frame->pts = w->next_pts;
            w->next_pts += w->fill;
            w->fill = 0;
            qerr e = aac_send(w, w->frame, err);
            if (e) return e;
        }
    }
    return Q_OK;
}

static qerr write_mp3(q_audio_writer *w, const int16_t *pcm, size_t n, qerrctx *err)
{
    static const int16_t zeros[4096];   /* read-only */
    while (n > 0) {
        size_t k = n < 4096 ? n : 4096;
        size_t need = MP3BUF_FOR(k);
        if (need > w->mp3cap) {
            unsigned char *p = realloc(w->mp3buf, need);
            if (!p) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
            w->mp3buf = p;
            w->mp3cap = need;
        }
        const int16_t *src = pcm ? pcm : zeros;
        int got = lame_encode_buffer(w->lame, src, NULL, (int)k, w->mp3buf, (int)w->mp3cap);
        if (got < 0) return qerr_set(err, Q_ERR_INTERNAL, "MP3 encoding failed (%d)", got);
        if (got > 0 && fwrite(w->mp3buf, 1, (size_t)got, w->stage) != (size_t)got)
            return wr_fail(err, "write", w->tmp);
        if (pcm) pcm += k;
        n -= k;
    }
    return Q_OK;
}

/* pcm NULL: silence. */
static qerr write_any(q_audio_writer *w, const int16_t *pcm, size_t n, qerrctx *err)
{
    qerr e = Q_OK;
    if (w->fmt == Q_AUDIO_WAV) {
        static const int16_t zeros[4096];   /* read-only */
        if ((w->samples + n) * 2 > 0xFFFFFFFFull - 64)
            return qerr_set(err, Q_ERR_TOO_LARGE, "WAV output over 4 GB");
        size_t left = n;
        while (left > 0 && !e) {
            size_t k = pcm ? left : (left < 4096 ? left : 4096);
            if (fwrite(pcm ? pcm : zeros, 2, k, w->out) != k) e = wr_fail(err, "write", w->part);
            if (pcm) pcm += k;
            left -= k;
        }
    } else if (w->fmt == Q_AUDIO_MP3) {
        e = write_mp3(w, pcm, n, err);
    } else {
        e = write_aac(w, pcm, n, err);
    }
    if (!e) w->samples += n;
    return e;
}

qerr q_audio_writer_write(q_audio_writer *w, const int16_t *pcm, size_t n, qerrctx *err)
{
    return pcm ? write_any(w, pcm, n, err) : Q_OK;
}

qerr q_audio_writer_silence(q_audio_writer *w, size_t n, qerrctx *err)
{
    return write_any(w, NULL, n, err);
}

/* ---- MP3 finishing: ID3v2.4 tag, then the staged frames ---------------- */

typedef struct buf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} buf;

static void buf_add(buf *b, const void *d, size_t n)
{
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 1024);
        while (cap < b->len + n) cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

/* A frame: header with a placeholder size; returns where the size goes. */
static size_t frame_begin(buf *b, const char *id)
{
    unsigned char h[10] = {0};
    memcpy(h, id, 4);
    size_t at = b->len;
    buf_add(b, h, 10);
    return at;
}

static void frame_end(buf *b, size_t at)
{
    if (b->oom) return;
    put_syncsafe(b->p + at + 4, (uint32_t)(b->len - at - 10));
}

static void text_frame(buf *b, const char *id, const char *text)
{
    size_t at = frame_begin(b, id);
    unsigned char enc = 3;   /* UTF-8 */
    buf_add(b, &enc, 1);
    buf_add(b, text, strnlen(text, 1024));
    frame_end(b, at);
}

static void id3_tag(q_audio_writer *w, const q_audio_chapter *ch, size_t n, buf *b)
{
    unsigned char h[10] = { 'I', 'D', '3', 4, 0, 0, 0, 0, 0, 0 };
    buf_add(b, h, 10);
    if (w->title) { text_frame(b, "TIT2", w->title); text_frame(b, "TALB", w->title); }
    if (w->author) text_frame(b, "TPE1", w->author);
    text_frame(b, "TCON", "Audiobook");
    if (n > 0) {
        /* CTOC: top-level, ordered; the entry count is one byte. */
        size_t at = frame_begin(b, "CTOC");
        unsigned char flags = 0x03, cnt = (unsigned char)(n > 255 ? 255 : n);
        buf_add(b, "toc", 4);
        buf_add(b, &flags, 1);
        buf_add(b, &cnt, 1);
        for (size_t i = 0; i < cnt; i++) {
            char id[16];
            int l = snprintf(id, sizeof id, "ch%zu", i);
            buf_add(b, id, (size_t)l + 1);
        }
        frame_end(b, at);
        for (size_t i = 0; i < n; i++) {
            char id[16];
            int l = snprintf(id, sizeof id, "ch%zu", i);
            unsigned char t[16];
            at = frame_begin(b, "CHAP");
            buf_add(b, id, (size_t)l + 1);
            put_be32(t, (uint32_t)ch[i].start_ms);
            put_be32(t + 4, (uint32_t)ch[i].end_ms);
            put_be32(t + 8, 0xFFFFFFFFu);
            put_be32(t + 12, 0xFFFFFFFFu);
            buf_add(b, t, 16);
            text_frame(b, "TIT2", ch[i].title);
            frame_end(b, at);
        }
    }
    if (!b->oom) put_syncsafe(b->p + 6, (uint32_t)(b->len - 10));
}

static qerr close_mp3(q_audio_writer *w, const q_audio_chapter *ch, size_t n, qerrctx *err)
{
    if (w->mp3cap < 7200) {
        unsigned char *p = realloc(w->mp3buf, 7200);
        if (!p) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
        w->mp3buf = p;
        w->mp3cap = 7200;
    }
    int got = lame_encode_flush(w->lame, w->mp3buf, (int)w->mp3cap);
    if (got < 0) return qerr_set(err, Q_ERR_INTERNAL, "MP3 encoding failed at the end");
    if (got > 0 && fwrite(w->mp3buf, 1, (size_t)got, w->stage) != (size_t)got)
        return wr_fail(err, "write", w->tmp);
    unsigned char tag[2880];
    size_t taglen = lame_get_lametag_frame(w->lame, tag, sizeof tag);
    if (taglen > sizeof tag) taglen = 0;
    if (fflush(w->stage) || fseek(w->stage, 0, SEEK_SET))
        return qerr_set(err, Q_ERR_IO, "cannot read back %s", w->tmp);

    buf b = {0};
    id3_tag(w, ch, n, &b);
    if (b.oom) { free(b.p); return qerr_set(err, Q_ERR_NOMEM, "out of memory"); }
    FILE *o = fopen(w->part, "wb");
    if (!o) { free(b.p); return wr_fail(err, "create", w->part); }
    qerr e = Q_OK;
    if (fwrite(b.p, 1, b.len, o) != b.len) e = wr_fail(err, "write", w->part);
    free(b.p);
    /* The Info frame LAME left as a placeholder is replaced by the real one. */
    unsigned char *cb = malloc(COPY_BUF);
    if (!cb && !e) e = qerr_set(err, Q_ERR_NOMEM, "out of memory");
    int first = 1;
    while (!e) {
        size_t k = fread(cb, 1, COPY_BUF, w->stage);
        if (k == 0) break;
        if (first && taglen > 0 && k >= taglen) memcpy(cb, tag, taglen);
        first = 0;
        if (fwrite(cb, 1, k, o) != k) e = wr_fail(err, "write", w->part);
    }
    if (!e && ferror(w->stage)) e = qerr_set(err, Q_ERR_IO, "cannot read back %s", w->tmp);
    free(cb);
    if (fclose(o) && !e) e = wr_fail(err, "write", w->part);
    return e;
}

/* ---- M4B finishing: mux the staged AAC packets with chapters ----------- */

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static qerr close_m4b(q_audio_writer *w, const q_audio_chapter *ch, size_t n, qerrctx *err)
{
    qerr e = Q_OK;
    /* Flush: the partial last frame, then the encoder. */
    if (w->fill > 0) {
        int caps = w->aac->codec->capabilities;
        if (caps & (AV_CODEC_CAP_SMALL_LAST_FRAME | AV_CODEC_CAP_VARIABLE_FRAME_SIZE)) {
            int full = w->frame->nb_samples;
            w->frame->nb_samples = w->fill;
            w->frame->pts = w->next_pts;
            e = aac_send(w, w->frame, err);
            w->frame->nb_samples = full;
        } else {
            e = write_aac(w, NULL, (size_t)(w->frame->nb_samples - w->fill), err);
        }
    }
    if (!e) e = aac_send(w, NULL, err);
    if (e) return e;
    if (fflush(w->stage) || fseek(w->stage, 0, SEEK_SET))
        return qerr_set(err, Q_ERR_IO, "cannot read back %s", w->tmp);

    AVFormatContext *oc = NULL;
    AVDictionary *opts = NULL;
    unsigned char *data = NULL;
    if (avformat_alloc_output_context2(&oc, NULL, "ipod", w->part) < 0 || !oc)
        return qerr_set(err, Q_ERR_UNAVAILABLE, "no MP4 muxer in this FFmpeg");
    AVStream *st = avformat_new_stream(oc, NULL);
    if (!st || avcodec_parameters_from_context(st->codecpar, w->aac) < 0) {
        e = qerr_set(err, Q_ERR_NOMEM, "out of memory");
        goto out;
    }
    st->time_base = (AVRational){ 1, w->rate };
    if (w->title) {
        av_dict_set(&oc->metadata, "title", w->title, 0);
        av_dict_set(&oc->metadata, "album", w->title, 0);
    }
    if (w->author) av_dict_set(&oc->metadata, "artist", w->author, 0);
    av_dict_set(&oc->metadata, "genre", "Audiobook", 0);
    if (n > 0) {
        oc->chapters = av_calloc(n, sizeof *oc->chapters);
        if (!oc->chapters) { e = qerr_set(err, Q_ERR_NOMEM, "out of memory"); goto out; }
        for (size_t i = 0; i < n; i++) {
            AVChapter *c = av_mallocz(sizeof *c);
            if (!c) { e = qerr_set(err, Q_ERR_NOMEM, "out of memory"); goto out; }
            oc->chapters[oc->nb_chapters++] = c;   /* freed with oc */
            c->id = (int64_t)i + 1;
            c->time_base = (AVRational){ 1, 1000 };
            c->start = ch[i].start_ms;
            c->end = ch[i].end_ms;
            av_dict_set(&c->metadata, "title", ch[i].title, 0);
        }
    }
    if (avio_open(&oc->pb, w->part, AVIO_FLAG_WRITE) < 0) {
        e = qerr_set(err, Q_ERR_IO, "cannot create %s", w->part);
        goto out;
    }
    av_dict_set(&opts, "movflags", "+faststart", 0);
    av_dict_set(&opts, "brand", "M4B ", 0);   /* audiobook players look for it */
    if (avformat_write_header(oc, &opts) < 0) {
        e = qerr_set(err, Q_ERR_INTERNAL, "cannot write the M4B header");
        goto out;
    }
    data = malloc(MAX_PACKET);
    if (!data) { e = qerr_set(err, Q_ERR_NOMEM, "out of memory"); goto out; }
    for (;;) {
        unsigned char h[24];
        size_t k = fread(h, 1, sizeof h, w->stage);
        if (k == 0) break;
        uint32_t size = get_le32(h);
        if (k != sizeof h || size == 0 || size > MAX_PACKET || fread(data, 1, size, w->stage) != size) {
            e = qerr_set(err, Q_ERR_IO, "cannot read back %s", w->tmp);
            break;
        }
        AVPacket *p = w->pkt;
        if (av_new_packet(p, (int)size) < 0) { e = qerr_set(err, Q_ERR_NOMEM, "out of memory"); break; }
        memcpy(p->data, data, size);
        p->flags = (int)get_le32(h + 4);
        p->pts = p->dts = (int64_t)get_le64(h + 8);
        p->duration = (int64_t)get_le64(h + 16);
        p->stream_index = st->index;
        av_packet_rescale_ts(p, (AVRational){ 1, w->rate }, st->time_base);
        int rc = av_write_frame(oc, p);
        av_packet_unref(p);
        if (rc < 0) { errno = rc == AVERROR(ENOSPC) ? ENOSPC : EIO; e = wr_fail(err, "write", w->part); break; }
    }
    int trc;
    if (!e && (trc = av_write_trailer(oc)) < 0) {
        errno = trc == AVERROR(ENOSPC) ? ENOSPC : EIO;
        e = wr_fail(err, "finish", w->part);
    }
out:
    free(data);
    av_dict_free(&opts);
    if (oc && oc->pb) avio_closep(&oc->pb);
    avformat_free_context(oc);
    return e;
}

qerr q_audio_writer_close(q_audio_writer *w, qerrctx *err)
{
    size_t n;
    const q_audio_chapter *ch = q_audio_writer_chapters(w, &n);
    qerr e = Q_OK;
    if (w->fmt == Q_AUDIO_WAV) {
        uint32_t bytes = (uint32_t)(w->samples * 2);
        if (fflush(w->out) || fseek(w->out, 0, SEEK_SET) || wav_header(w->out, w->rate, bytes))
            e = wr_fail(err, "finish", w->part);
        if (fclose(w->out) && !e) e = wr_fail(err, "finish", w->part);
        w->out = NULL;
    } else if (w->fmt == Q_AUDIO_MP3) {
        e = close_mp3(w, ch, n, err);
    } else {
        e = close_m4b(w, ch, n, err);
    }
    if (!e && rename(w->part, w->path) != 0)
        e = qerr_set(err, Q_ERR_IO, "cannot rename %s: %s", w->part, strerror(errno));
    /* the job is reported done only once its output would survive a crash */
    if (!e && qfile_durable(w->path) != 0) {
        e = wr_fail(err, "sync", w->path);
        unlink(w->path);
    }
    if (e) {
        q_audio_writer_abort(w);
        return e;
    }
    if (w->tmp) unlink(w->tmp);
    writer_free(w);
    return Q_OK;
}

/* ---- assembling a book ------------------------------------------------- */

qerr q_audio_assemble(const char *const *inputs, const char *const *titles, size_t n,
                      const char *out, q_audio_format fmt, int sample_rate,
                      const q_audio_meta *meta, q_audio_chapter *chapters_out,
                      q_checkpoint_fn cp, void *cp_ud, qerrctx *err)
{
    if (n == 0) return qerr_set(err, Q_ERR_INVALID, "nothing to assemble");
    int rate = sample_rate;
    qerr e;
    if (rate <= 0) {
        q_audio_reader *r;
        q_audio_info info;
        e = q_audio_reader_open(inputs[0], 0, &r, &info, err);
        if (e) return e;
        q_audio_reader_close(r);
        rate = info.sample_rate > 48000 ? 48000 : info.sample_rate;
        if (fmt == Q_AUDIO_M4B && !aac_rate_ok(rate)) rate = 44100;
        if (rate < 8000) rate = 8000;
    }
    q_audio_writer *w;
    e = q_audio_writer_open(out, fmt, rate, meta, &w, err);
    if (e) return e;
    int16_t *pcm = malloc(16384 * sizeof *pcm);
    if (!pcm) { q_audio_writer_abort(w); return qerr_set(err, Q_ERR_NOMEM, "out of memory"); }
    for (size_t i = 0; i < n && !e; i++) {
        if (cp) {
            char msg[64];
            snprintf(msg, sizeof msg, "file %zu/%zu", i + 1, n);
            if (cp(cp_ud, (double)i / (double)n, msg)) { e = qerr_set(err, Q_ERR_CANCELLED, "cancelled"); break; }
        }
        q_audio_reader *r;
        e = q_audio_reader_open(inputs[i], rate, &r, NULL, err);
        if (e) break;
        e = q_audio_writer_chapter(w, titles ? titles[i] : NULL, err);
        size_t got = 0;
        while (!e) {
            e = q_audio_reader_read(r, pcm, 16384, &got, err);
            if (e || got == 0) break;
            e = q_audio_writer_write(w, pcm, got, err);
        }
        q_audio_reader_close(r);
    }
    free(pcm);
    if (e) {
        q_audio_writer_abort(w);
        return e;
    }
    if (chapters_out) {
        size_t nc;
        const q_audio_chapter *c = q_audio_writer_chapters(w, &nc);
        memcpy(chapters_out, c, nc * sizeof *c);
    }
    e = q_audio_writer_close(w, err);
    if (!e && cp && cp(cp_ud, 1.0, "assembled")) {
        unlink(out);
        e = qerr_set(err, Q_ERR_CANCELLED, "cancelled");
    }
    return e;
}
