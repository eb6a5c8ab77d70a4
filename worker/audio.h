/* audio.h - audio in and out for the worker: decode any supported file to
 * mono int16 PCM in bounded chunks (audio_decode.c), write WAV / MP3 / M4B
 * with chapter markers from streamed PCM, and assemble several files into one
 * book (audio_encode.c). Every call reports failure through a qerrctx whose
 * message is fit for a job's last_error. */
#ifndef QUIRE_AUDIO_H
#define QUIRE_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "err.h"

/* ---- decoding ---------------------------------------------------------- */

/* What a file holds, as recorded on a chapter. */
typedef struct q_audio_info {
    double duration;      /* seconds; from the container, or decoded length */
    char   format[32];    /* container: "mp3", "mov,mp4,m4a,3gp,3g2,mj2", "ogg", ... */
    char   codec[32];     /* "mp3", "aac", "flac", "vorbis", "opus", "pcm_s16le" */
    long   bitrate;       /* bits per second, 0 when unknown */
    int    sample_rate;   /* of the source stream */
    int    channels;      /* of the source stream */
} q_audio_info;

/* An open decoder. Not thread-safe; one per job. Memory is bounded by the
 * codec's frame size, whatever the length of the file. */
typedef struct q_audio_reader q_audio_reader;

/* Open path for decoding to mono int16 at out_rate Hz (0 keeps the source
 * rate). Fills *info when info is non-NULL. Errors: Q_ERR_NOT_FOUND/Q_ERR_IO
 * (cannot open), Q_ERR_UNSUPPORTED ("unsupported audio: ..."). On success
 * the caller owns *out and frees it with q_audio_reader_close(). */
qerr q_audio_reader_open(const char *path, int out_rate, q_audio_reader **out,
                         q_audio_info *info, qerrctx *err);

/* The same over bytes in memory (the fuzz target, small uploads). data must
 * stay valid until the reader is closed; it is never written. */
qerr q_audio_reader_open_mem(const void *data, size_t len, int out_rate,
                             q_audio_reader **out, q_audio_info *info, qerrctx *err);

/* Decode up to cap samples into pcm; *got is set to the number written, and
 * is 0 only at the end of the audio. Errors: Q_ERR_UNPROCESSABLE with
 * "corrupt audio at M:SS: ..." (position of the damage, also for a file that
 * ends early or holds no audio at all), Q_ERR_NOMEM. After an error the
 * reader can only be closed. */
qerr q_audio_reader_read(q_audio_reader *r, int16_t *pcm, size_t cap, size_t *got,
                         qerrctx *err);

/* Output sample rate of the reader (out_rate, or the source rate). */
int q_audio_reader_rate(const q_audio_reader *r);
/* Seconds of output produced so far. */
double q_audio_reader_position(const q_audio_reader *r);

/* Accepts NULL. */
void q_audio_reader_close(q_audio_reader *r);

/* Open, read the whole stream (checking it decodes) and close: fills info
 * with the decoded duration when the container had none. */
qerr q_audio_probe(const char *path, q_audio_info *info, qerrctx *err);

/* Format seconds as "M:SS" or "H:MM:SS" into buf (cap >= 16). Returns buf. */
char *q_audio_fmt_time(double seconds, char *buf, size_t cap);

/* ---- encoding ---------------------------------------------------------- */

typedef enum {
    Q_AUDIO_WAV = 1,   /* 16-bit PCM RIFF; chapters are not stored */
    Q_AUDIO_MP3,       /* LAME CBR, ID3v2.4 with TIT2/TPE1, CHAP frames and a CTOC
                          (the CTOC lists the first 255; every chapter gets a CHAP) */
    Q_AUDIO_M4B        /* AAC-LC in MP4 (ipod brand), chapter track + chpl */
} q_audio_format;

/* "wav", "mp3", "m4b" (also "m4a") -> format; 0 when unknown. */
q_audio_format q_audio_format_from_name(const char *name);
const char *q_audio_format_ext(q_audio_format f);

typedef struct q_audio_meta {
    const char *title;     /* may be NULL */
    const char *author;    /* may be NULL */
    int bitrate_kbps;      /* 0 = 64 (mono speech) */
} q_audio_meta;

#define Q_CHAPTER_TITLE_MAX 256

typedef struct q_audio_chapter {
    char    title[Q_CHAPTER_TITLE_MAX];
    int64_t start_ms;
    int64_t end_ms;
} q_audio_chapter;

/* A streaming writer of mono int16 PCM. */
typedef struct q_audio_writer q_audio_writer;

/* Create path (replacing it) for sample_rate Hz mono audio. MP3 and M4B
 * output is staged in "<path>.part" and only appears at path on a
 * successful close. The caller owns *out until close or abort. */
qerr q_audio_writer_open(const char *path, q_audio_format fmt, int sample_rate,
                         const q_audio_meta *meta, q_audio_writer **out, qerrctx *err);

/* Start a chapter at the current position (the previous one ends here).
 * Audio written before the first mark belongs to no chapter; at most
 * Q_WRITER_MAX_CHAPTERS. */
#define Q_WRITER_MAX_CHAPTERS 4096
qerr q_audio_writer_chapter(q_audio_writer *w, const char *title, qerrctx *err);

qerr q_audio_writer_write(q_audio_writer *w, const int16_t *pcm, size_t n, qerrctx *err);
/* n samples of silence. */
qerr q_audio_writer_silence(q_audio_writer *w, size_t n, qerrctx *err);

/* Seconds written so far. */
double q_audio_writer_position(const q_audio_writer *w);

/* The chapters marked so far (the last one ending at the current position);
 * the array belongs to w and is valid until the next call on w. */
const q_audio_chapter *q_audio_writer_chapters(q_audio_writer *w, size_t *n);

/* Finish the file (flush encoders, write tags and chapters) and free w.
 * On error the partial output is removed. w is freed in every case. */
qerr q_audio_writer_close(q_audio_writer *w, qerrctx *err);
/* Drop the output and free w. Accepts NULL. */
void q_audio_writer_abort(q_audio_writer *w);

/* Join inputs[0..n) (any decodable audio) into out as one book, each input
 * one chapter titled titles[i] (NULL or a NULL entry: "Chapter i+1"), with
 * a chapter marker at each input's start. The output rate is sample_rate
 * (0: the first input's rate, capped to 48000). When chapters_out is
 * non-NULL it receives n entries (caller's array). Checkpoint after each
 * input; cancel -> Q_ERR_CANCELLED and no output. */
qerr q_audio_assemble(const char *const *inputs, const char *const *titles, size_t n,
                      const char *out, q_audio_format fmt, int sample_rate,
                      const q_audio_meta *meta, q_audio_chapter *chapters_out,
                      q_checkpoint_fn cp, void *cp_ud, qerrctx *err);

/* libav* settings are process-global: this sets logging to fatal errors
 * only and caps any single FFmpeg allocation at 96 MB, once. Called by the
 * open functions; harmless to call again. */
void q_audio_global_init(void);

#endif
