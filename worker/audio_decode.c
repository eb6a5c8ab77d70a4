/* audio_decode.c - any supported audio file -> mono int16 PCM, streamed in
 * bounded chunks with libavformat/libavcodec/libswresample; see audio.h. */
#include "audio.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

/* A run of this many packets that fail to decode means the file is damaged
 * there; isolated bad packets are skipped, as players do. */
#define MAX_CONSECUTIVE_ERRORS 4
/* Decoded audio shorter than the container's duration by more than this
 * (seconds, or this fraction) means the file ends early. */
#define TRUNC_SLACK_S 1.0
#define TRUNC_SLACK_FRAC 0.02
#define AVIO_BUF 32768

struct q_audio_reader {
    AVFormatContext *fmt;
    AVIOContext *avio;           /* only for memory input; owned */
    const unsigned char *mem;    /* memory input, not owned */
    size_t mem_len, mem_pos;
    AVCodecContext *dec;
    SwrContext *swr;
    AVPacket *pkt;
    AVFrame *frame;
    int stream;
    int out_rate;
    double container_duration;   /* seconds, 0 when unknown or estimated */
    int64_t produced;            /* output samples handed out */
    int16_t *pend;               /* converted samples not yet handed out */
    size_t pend_cap, pend_len, pend_off;
    int in_fmt, in_rate, in_channels;  /* what swr was built for */
    int consecutive_errors;
    double last_pts;             /* seconds, of the last packet read */
    int demux_eof, dec_eof, swr_flushed, failed;
};

static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;   /* process-wide, see audio.h */

/* No single FFmpeg allocation may exceed this: a damaged header can ask
 * libavformat for gigabytes (an 82-byte WAV whose LIST chunk claims 4 GB
 * did, found by the fuzzer). Legitimate buffers, cover art included, are
 * far smaller. */
#define AV_MAX_ALLOC ((size_t)96 << 20)

static void global_init_once(void)
{
    av_log_set_level(AV_LOG_FATAL);
    av_max_alloc(AV_MAX_ALLOC);
}

void q_audio_global_init(void)
{
    pthread_once(&g_init_once, global_init_once);
}

char *q_audio_fmt_time(double s, char *buf, size_t cap)
{
    if (!(s >= 0)) s = 0;
    if (s > 359999) s = 359999;
    long t = (long)s;
    if (t >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
    return buf;
}

static const char *averr(int e, char *buf, size_t cap)
{
    if (av_strerror(e, buf, cap) < 0) snprintf(buf, cap, "error %d", e);
    return buf;
}

static int mem_read(void *opaque, uint8_t *buf, int size)
{
    q_audio_reader *r = opaque;
    size_t left = r->mem_len - r->mem_pos;
    if (left == 0) return AVERROR_EOF;
    size_t n = (size_t)size < left ? (size_t)size : left;
    memcpy(buf, r->mem + r->mem_pos, n);
    r->mem_pos += n;
    return (int)n;
}

static int64_t mem_seek(void *opaque, int64_t off, int whence)
{
    q_audio_reader *r = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return (int64_t)r->mem_len;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)r->mem_pos; break;
    case SEEK_END: base = (int64_t)r->mem_len; break;
    default: return AVERROR(EINVAL);
    }
    if (off > INT64_MAX - base) return AVERROR(EINVAL);
    int64_t p = base + off;
    if (p < 0 || p > (int64_t)r->mem_len) return AVERROR(EINVAL);
    r->mem_pos = (size_t)p;
    return p;
}

void q_audio_reader_close(q_audio_reader *r)
{
    if (!r) return;
    avcodec_free_context(&r->dec);
    swr_free(&r->swr);
    av_packet_free(&r->pkt);
    av_frame_free(&r->frame);
    avformat_close_input(&r->fmt);
    if (r->avio) {
        av_freep(&r->avio->buffer);
        avio_context_free(&r->avio);
    }
    free(r->pend);
    free(r);
}

static uint32_t rd_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* FFmpeg trims a WAV data chunk to the file it finds, which hides a cut-off
 * upload. Read the RIFF header ourselves: the seconds its data chunk
 * promises, or 0 when unknown (streamed WAVs write 0 or ~0 there). */
static double wav_promised_seconds(const unsigned char *h, size_t n)
{
    if (n < 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4)) return 0;
    size_t off = 12;
    uint32_t byte_rate = 0;
    while (off + 8 <= n) {
        uint32_t sz = rd_le32(h + off + 4);
        if (!memcmp(h + off, "fmt ", 4) && off + 20 <= n) byte_rate = rd_le32(h + off + 16);
        if (!memcmp(h + off, "data", 4)) {
            if (sz == 0 || sz >= 0xFFFFFF00u || byte_rate == 0) return 0;
            return (double)sz / byte_rate;
        }
        if (sz > n) return 0;
        off += 8 + sz + (sz & 1);
    }
    return 0;
}

static double wav_promised(q_audio_reader *r, const char *path)
{
    unsigned char h[4096];
    size_t n = 0;
    if (r->mem) {
        n = r->mem_len < sizeof h ? r->mem_len : sizeof h;
        memcpy(h, r->mem, n);
    } else if (path) {
        FILE *f = fopen(path, "rb");
        if (!f) return 0;
        n = fread(h, 1, sizeof h, f);
        fclose(f);
    }
    return wav_promised_seconds(h, n);
}

/* Everything after avformat_open_input: stream, decoder, resampler. */
static qerr setup_decoder(q_audio_reader *r, int out_rate, q_audio_info *info, qerrctx *err)
{
    char eb[128];
    int rc = avformat_find_stream_info(r->fmt, NULL);
    if (rc < 0)
        return qerr_set(err, Q_ERR_UNSUPPORTED, "unsupported audio: %s", averr(rc, eb, sizeof eb));
    rc = av_find_best_stream(r->fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (rc < 0)
        return qerr_set(err, Q_ERR_UNSUPPORTED, "unsupported audio: no audio stream in %s file",
                        r->fmt->iformat->name);
    r->stream = rc;
    AVStream *st = r->fmt->streams[r->stream];
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec)
        return qerr_set(err, Q_ERR_UNSUPPORTED, "unsupported audio: no decoder for codec '%s'",
                        avcodec_get_name(st->codecpar->codec_id));
    r->dec = avcodec_alloc_context3(codec);
    if (!r->dec) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    rc = avcodec_parameters_to_context(r->dec, st->codecpar);
    if (rc >= 0) rc = avcodec_open2(r->dec, codec, NULL);
    if (rc < 0)
        return qerr_set(err, Q_ERR_UNSUPPORTED, "unsupported audio: cannot open %s decoder: %s",
                        codec->name, averr(rc, eb, sizeof eb));
    if (r->dec->sample_rate <= 0 || r->dec->sample_rate > 768000 ||
        r->dec->ch_layout.nb_channels <= 0 || r->dec->ch_layout.nb_channels > 64)
        return qerr_set(err, Q_ERR_UNSUPPORTED,
                        "unsupported audio: %s stream with %d Hz, %d channels",
                        codec->name, r->dec->sample_rate, r->dec->ch_layout.nb_channels);
    r->out_rate = out_rate > 0 ? out_rate : r->dec->sample_rate;
    if (r->out_rate > 768000)
        return qerr_set(err, Q_ERR_INVALID, "output rate %d Hz out of range", out_rate);

    r->pkt = av_packet_alloc();
    r->frame = av_frame_alloc();
    if (!r->pkt || !r->frame) return qerr_set(err, Q_ERR_NOMEM, "out of memory");

    /* Duration from the container, unless it is a guess from the bitrate. */
    double dur = 0;
    if (st->duration > 0 && st->duration != AV_NOPTS_VALUE)
        dur = (double)st->duration * av_q2d(st->time_base);
    else if (r->fmt->duration > 0)
        dur = (double)r->fmt->duration / AV_TIME_BASE;
    if (r->fmt->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE)
        r->container_duration = dur;

    if (info) {
        memset(info, 0, sizeof *info);
        info->duration = dur;
        snprintf(info->format, sizeof info->format, "%s", r->fmt->iformat->name);
        snprintf(info->codec, sizeof info->codec, "%s", avcodec_get_name(st->codecpar->codec_id));
        info->bitrate = st->codecpar->bit_rate > 0 ? (long)st->codecpar->bit_rate
                                                   : (long)(r->fmt->bit_rate > 0 ? r->fmt->bit_rate : 0);
        info->sample_rate = r->dec->sample_rate;
        info->channels = r->dec->ch_layout.nb_channels;
    }
    return Q_OK;
}

/* The resampler is built from the first decoded frame, whose layout and
 * format are the truth (some codecs change them after the header). */
static qerr setup_swr(q_audio_reader *r, const AVFrame *f, qerrctx *err)
{
    AVChannelLayout in = {0}, out = AV_CHANNEL_LAYOUT_MONO;
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || f->ch_layout.nb_channels <= 0)
        av_channel_layout_default(&in, f->ch_layout.nb_channels > 0 ? f->ch_layout.nb_channels
                                                                   : r->dec->ch_layout.nb_channels);
    else if (av_channel_layout_copy(&in, &f->ch_layout) < 0)
        return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    int rate = f->sample_rate > 0 ? f->sample_rate : r->dec->sample_rate;
    r->in_fmt = f->format;
    r->in_rate = f->sample_rate;
    r->in_channels = f->ch_layout.nb_channels;
    swr_free(&r->swr);
    int rc = swr_alloc_set_opts2(&r->swr, &out, AV_SAMPLE_FMT_S16, r->out_rate,
                                 &in, (enum AVSampleFormat)f->format, rate, 0, NULL);
    av_channel_layout_uninit(&in);
    if (rc >= 0) rc = swr_init(r->swr);
    if (rc < 0) {
        char eb[128];
        return qerr_set(err, Q_ERR_UNSUPPORTED, "unsupported audio: cannot convert %s: %s",
                        r->dec->codec->name, averr(rc, eb, sizeof eb));
    }
    return Q_OK;
}

static qerr open_common(q_audio_reader *r, const char *url, const char *path, int out_rate,
                        q_audio_reader **out, q_audio_info *info, qerrctx *err)
{
    char eb[128];
    int rc = avformat_open_input(&r->fmt, url, NULL, NULL);
    if (rc < 0) {
        q_audio_reader_close(r);
        if (rc == AVERROR(ENOENT))
            return qerr_set(err, Q_ERR_NOT_FOUND, "audio file not found: %s", url);
        if (rc == AVERROR(EACCES) || rc == AVERROR(EIO))
            return qerr_set(err, Q_ERR_IO, "cannot read audio: %s", averr(rc, eb, sizeof eb));
        return qerr_set(err, Q_ERR_UNSUPPORTED, "unsupported audio: %s", averr(rc, eb, sizeof eb));
    }
    qerr e = setup_decoder(r, out_rate, info, err);
    if (e) {
        q_audio_reader_close(r);
        return e;
    }
    if (!strcmp(r->fmt->iformat->name, "wav")) {
        double promised = wav_promised(r, path);
        if (promised > r->container_duration) r->container_duration = promised;
    }
    *out = r;
    return Q_OK;
}

qerr q_audio_reader_open(const char *path, int out_rate, q_audio_reader **out,
                         q_audio_info *info, qerrctx *err)
{
    q_audio_global_init();
    *out = NULL;
    if (!path || !*path) return qerr_set(err, Q_ERR_INVALID, "no audio path");
    q_audio_reader *r = calloc(1, sizeof *r);
    if (!r) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    /* Only plain files: no protocols (http:, concat:, ...) from a path. */
    char url[4200];
    if ((size_t)snprintf(url, sizeof url, "file:%s", path) >= sizeof url) {
        free(r);
        return qerr_set(err, Q_ERR_INVALID, "audio path too long");
    }
    r->fmt = avformat_alloc_context();
    if (!r->fmt) { free(r); return qerr_set(err, Q_ERR_NOMEM, "out of memory"); }
    r->fmt->protocol_whitelist = av_strdup("file");
    qerr e = open_common(r, url, path, out_rate, out, info, err);
    if (e == Q_ERR_NOT_FOUND) {
        qerr_clear(err);
        return qerr_set(err, Q_ERR_NOT_FOUND, "audio file not found: %s", path);
    }
    return e;
}

qerr q_audio_reader_open_mem(const void *data, size_t len, int out_rate,
                             q_audio_reader **out, q_audio_info *info, qerrctx *err)
{
    q_audio_global_init();
    *out = NULL;
    q_audio_reader *r = calloc(1, sizeof *r);
    if (!r) return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    r->mem = data;
    r->mem_len = data ? len : 0;
    unsigned char *buf = av_malloc(AVIO_BUF);
    r->fmt = avformat_alloc_context();
    if (buf) r->avio = avio_alloc_context(buf, AVIO_BUF, 0, r, mem_read, NULL, mem_seek);
    if (!buf || !r->fmt || !r->avio) {
        if (!r->avio) av_free(buf);
        q_audio_reader_close(r);
        return qerr_set(err, Q_ERR_NOMEM, "out of memory");
    }
    r->fmt->pb = r->avio;
    r->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    return open_common(r, "", NULL, out_rate, out, info, err);
}

int q_audio_reader_rate(const q_audio_reader *r) { return r->out_rate; }

double q_audio_reader_position(const q_audio_reader *r)
{
    return r->out_rate > 0 ? (double)r->produced / r->out_rate : 0;
}

static qerr corrupt(q_audio_reader *r, double at, const char *why, qerrctx *err)
{
    char tb[16];
    r->failed = 1;
    return qerr_set(err, Q_ERR_UNPROCESSABLE, "corrupt audio at %s: %s",
                    q_audio_fmt_time(at, tb, sizeof tb), why);
}

static double out_pos(const q_audio_reader *r)
{
    return r->out_rate > 0 ? (double)(r->produced + (int64_t)(r->pend_len - r->pend_off)) / r->out_rate : 0;
}

/* Convert frame (or flush the resampler when f is NULL) into r->pend. */
static qerr convert(q_audio_reader *r, const AVFrame *f, qerrctx *err)
{
    if (f && (f->nb_samples <= 0 || !f->extended_data || !f->extended_data[0])) return Q_OK;
    if (!r->swr && !f) return Q_OK;
    /* A stream may change layout, rate or format mid-way (legitimately, or
     * because it is damaged): rebuild the resampler for the new shape. */
    if (f && (!r->swr || f->format != r->in_fmt || f->sample_rate != r->in_rate ||
              f->ch_layout.nb_channels != r->in_channels)) {
        if (f->sample_rate <= 0 || f->sample_rate > 768000 || f->ch_layout.nb_channels <= 0 ||
            f->ch_layout.nb_channels > 64)
            return corrupt(r, out_pos(r), "invalid frame parameters", err);
        qerr e = setup_swr(r, f, err);
        if (e) { r->failed = 1; return e; }
    }
    if (f && av_sample_fmt_is_planar((enum AVSampleFormat)f->format))
        for (int i = 0; i < f->ch_layout.nb_channels; i++)
            if (!f->extended_data[i]) return corrupt(r, out_pos(r), "missing channel data", err);
    int want = swr_get_out_samples(r->swr, f ? f->nb_samples : 0);
    if (want < 0) return corrupt(r, out_pos(r), "resampler failed", err);
    if (want == 0) return Q_OK;
    if ((size_t)want > (size_t)1 << 24) return corrupt(r, out_pos(r), "frame too large", err);
    if ((size_t)want > r->pend_cap) {
        int16_t *p = realloc(r->pend, (size_t)want * sizeof *p);
        if (!p) { r->failed = 1; return qerr_set(err, Q_ERR_NOMEM, "out of memory"); }
        r->pend = p;
        r->pend_cap = (size_t)want;
    }
    uint8_t *outp[1] = { (uint8_t *)r->pend };
    int n = swr_convert(r->swr, outp, want,
                        f ? (const uint8_t **)f->extended_data : NULL, f ? f->nb_samples : 0);
    if (n < 0) return corrupt(r, out_pos(r), "cannot convert samples", err);
    r->pend_off = 0;
    r->pend_len = (size_t)n;
    return Q_OK;
}

/* At the end of the stream: did we get about as much audio as promised? */
static qerr check_complete(q_audio_reader *r, qerrctx *err)
{
    double got = (double)r->produced / r->out_rate;
    double want = r->container_duration;
    if (want > 0 && got + TRUNC_SLACK_S < want && got < want * (1 - TRUNC_SLACK_FRAC)) {
        char tb[16], why[64];
        snprintf(why, sizeof why, "file ends early (expected %s)", q_audio_fmt_time(want, tb, sizeof tb));
        return corrupt(r, got, why, err);
    }
    if (r->produced == 0) return corrupt(r, 0, "no decodable audio", err);
    return Q_OK;
}

/* Fill r->pend with the next converted frame; sets pend_len 0 at the end. */
static qerr next_frame(q_audio_reader *r, qerrctx *err)
{
    char eb[128];
    for (;;) {
        int rc = avcodec_receive_frame(r->dec, r->frame);
        if (rc >= 0) {
            qerr e = convert(r, r->frame, err);
            av_frame_unref(r->frame);
            if (e) return e;
            if (r->pend_len > 0) return Q_OK;
            continue;
        }
        if (rc == AVERROR_EOF) {
            r->dec_eof = 1;
            if (!r->swr_flushed) {
                r->swr_flushed = 1;
                qerr e = convert(r, NULL, err);
                if (e) return e;
                if (r->pend_len > 0) return Q_OK;
            }
            r->pend_len = r->pend_off = 0;
            return Q_OK;
        }
        if (rc != AVERROR(EAGAIN)) {
            /* A broken frame: count it like a bad packet. */
            if (++r->consecutive_errors > MAX_CONSECUTIVE_ERRORS)
                return corrupt(r, r->last_pts > 0 ? r->last_pts : out_pos(r),
                               averr(rc, eb, sizeof eb), err);
        }
        /* The decoder wants input. */
        if (r->demux_eof) {
            rc = avcodec_send_packet(r->dec, NULL);
            if (rc < 0 && rc != AVERROR_EOF) {
                r->dec_eof = 1;
                r->pend_len = r->pend_off = 0;
                return Q_OK;
            }
            continue;
        }
        rc = av_read_frame(r->fmt, r->pkt);
        if (rc == AVERROR_EOF || (rc < 0 && r->fmt->pb && avio_feof(r->fmt->pb))) {
            r->demux_eof = 1;
            continue;
        }
        if (rc < 0)
            return corrupt(r, r->last_pts > 0 ? r->last_pts : out_pos(r), averr(rc, eb, sizeof eb), err);
        if (r->pkt->stream_index != r->stream) {
            av_packet_unref(r->pkt);
            continue;
        }
        AVStream *st = r->fmt->streams[r->stream];
        if (r->pkt->pts != AV_NOPTS_VALUE) {
            double t = (double)(r->pkt->pts - (st->start_time != AV_NOPTS_VALUE ? st->start_time : 0)) *
                       av_q2d(st->time_base);
            if (t >= 0 && t < 1e7) r->last_pts = t;
        }
        rc = avcodec_send_packet(r->dec, r->pkt);
        av_packet_unref(r->pkt);
        if (rc < 0 && rc != AVERROR(EAGAIN)) {
            if (++r->consecutive_errors > MAX_CONSECUTIVE_ERRORS)
                return corrupt(r, r->last_pts > 0 ? r->last_pts : out_pos(r),
                               averr(rc, eb, sizeof eb), err);
        } else if (rc >= 0) {
            r->consecutive_errors = 0;
        }
    }
}

qerr q_audio_reader_read(q_audio_reader *r, int16_t *pcm, size_t cap, size_t *got, qerrctx *err)
{
    *got = 0;
    if (r->failed) return qerr_set(err, Q_ERR_INTERNAL, "audio reader used after an error");
    while (*got < cap) {
        if (r->pend_off >= r->pend_len) {
            if (r->dec_eof && r->swr_flushed) break;
            qerr e = next_frame(r, err);
            if (e) return e;
            if (r->pend_len == 0) break;
        }
        size_t n = r->pend_len - r->pend_off;
        if (n > cap - *got) n = cap - *got;
        memcpy(pcm + *got, r->pend + r->pend_off, n * sizeof *pcm);
        r->pend_off += n;
        *got += n;
        r->produced += (int64_t)n;
    }
    if (*got == 0) return check_complete(r, err);
    return Q_OK;
}

qerr q_audio_probe(const char *path, q_audio_info *info, qerrctx *err)
{
    q_audio_reader *r;
    qerr e = q_audio_reader_open(path, 0, &r, info, err);
    if (e) return e;
    int16_t buf[8192];
    size_t got;
    do {
        e = q_audio_reader_read(r, buf, sizeof buf / sizeof buf[0], &got, err);
    } while (!e && got > 0);
    if (!e && info && info->duration <= 0) info->duration = q_audio_reader_position(r);
    q_audio_reader_close(r);
    return e;
}
