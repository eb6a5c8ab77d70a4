/* test_audio.c - the audio engine: decoding every supported format (fixtures
 * made with ffmpeg at test time), corrupt/truncated/unsupported input, flat
 * memory on a long file, WAV/MP3/M4B output with chapters checked by
 * ffprobe, and assembling a book. */
#include "t.h"
#include "fixture.h"
#include "wer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "audio.h"
#include "audio_magic.h"

typedef struct decoded {
    double secs;
    double crossings_per_s;   /* zero crossings a second: 2x the tone's frequency */
    double rms;
} decoded;

/* Decode the whole file at 16 kHz. */
static qerr decode_all(const char *path, q_audio_info *info, decoded *d, qerrctx *err)
{
    q_audio_reader *r;
    qerr e = q_audio_reader_open(path, 16000, &r, info, err);
    if (e) return e;
    int16_t buf[3001];   /* odd size: exercises partial frames */
    size_t got, total = 0, cross = 0;
    double sq = 0;
    int16_t prev = 0;
    for (;;) {
        e = q_audio_reader_read(r, buf, sizeof buf / sizeof buf[0], &got, err);
        if (e || got == 0) break;
        for (size_t i = 0; i < got; i++) {
            if ((prev < 0) != (buf[i] < 0)) cross++;
            prev = buf[i];
            sq += (double)buf[i] * buf[i];
        }
        total += got;
    }
    if (d) {
        d->secs = total / 16000.0;
        d->crossings_per_s = total ? cross / (total / 16000.0) : 0;
        d->rms = total ? sqrt(sq / total) : 0;
    }
    q_audio_reader_close(r);
    return e;
}

typedef struct fmtcase {
    const char *file;
    const char *extra[8];
    const char *codec;
    const char *magic;
    int rate, channels;
} fmtcase;

static const fmtcase cases[] = {
    { "t.mp3", { "-c:a", "libmp3lame", "-b:a", "64k", NULL }, "mp3", "mp3", 44100, 2 },
    { "t.m4a", { "-c:a", "aac", "-b:a", "64k", NULL }, "aac", "mp4", 44100, 2 },
    { "t.m4b", { "-c:a", "aac", "-f", "ipod", NULL }, "aac", "mp4", 22050, 1 },
    { "t.flac", { NULL }, "flac", "flac", 48000, 2 },
    { "t.ogg", { "-c:a", "libvorbis", NULL }, "vorbis", "ogg", 44100, 2 },
    { "t.opus", { "-c:a", "libopus", NULL }, "opus", "ogg", 48000, 2 },
    { "t.wav", { NULL }, "pcm_s16le", "wav", 8000, 1 },
    { "t6.wav", { NULL }, "pcm_s16le", "wav", 44100, 6 },
};
#define NCASES (sizeof cases / sizeof cases[0])

static void test_decode_formats(void)
{
    for (size_t i = 0; i < NCASES; i++) {
        const fmtcase *c = &cases[i];
        char p[600];
        fx_path(c->file, p, sizeof p);
        T_REQUIRE(fx_tone(p, 440, 3.0, c->rate, c->channels, c->extra) == 0, "ffmpeg made %s", c->file);
        q_audio_info info;
        decoded d;
        qerrctx err = {0};
        T_EQ_INT(decode_all(p, &info, &d, &err), Q_OK);
        if (err.code) t_note("%s: %s", c->file, err.msg);
        T_EQ_STR(info.codec, c->codec);
        T_EQ_INT(info.sample_rate, c->rate);
        T_EQ_INT(info.channels, c->channels);
        T_CHECK(fabs(info.duration - 3.0) < 0.1, "%s container duration %.3f", c->file, info.duration);
        T_CHECK(fabs(d.secs - 3.0) < 0.1, "%s decoded %.3f s", c->file, d.secs);
        T_CHECK(fabs(d.crossings_per_s - 880) < 30, "%s: %.0f crossings/s", c->file, d.crossings_per_s);
        T_CHECK(d.rms > 500, "%s rms %.0f", c->file, d.rms);
        if (strcmp(c->codec, "pcm_s16le")) T_CHECK(info.bitrate > 0, "%s bitrate", c->file);
        /* The magic detector agrees with the container. */
        size_t len;
        unsigned char *b = fx_slurp(p, &len);
        T_REQUIRE(b != NULL);
        T_EQ_STR(q_audio_magic(b, len < 64 ? len : 64), c->magic);
        /* And the in-memory entry point decodes the same bytes. */
        q_audio_reader *r;
        qerrctx e2 = {0};
        T_EQ_INT(q_audio_reader_open_mem(b, len, 16000, &r, NULL, &e2), Q_OK);
        if (!e2.code) {
            int16_t pcm[4096];
            size_t got, total = 0;
            while (q_audio_reader_read(r, pcm, 4096, &got, &e2) == Q_OK && got) total += got;
            T_CHECK(fabs(total / 16000.0 - 3.0) < 0.1, "%s from memory: %zu samples", c->file, total);
            q_audio_reader_close(r);
        }
        free(b);
    }
}

static void test_keep_source_rate(void)
{
    char p[600];
    fx_path("t.flac", p, sizeof p);   /* made by test_decode_formats: 48 kHz */
    q_audio_reader *r;
    qerrctx err = {0};
    T_REQUIRE(q_audio_reader_open(p, 0, &r, NULL, &err) == Q_OK, "%s", err.msg);
    T_EQ_INT(q_audio_reader_rate(r), 48000);
    int16_t pcm[4096];
    size_t got, total = 0;
    while (q_audio_reader_read(r, pcm, 4096, &got, &err) == Q_OK && got) total += got;
    T_CHECK(labs((long)total - 144000) < 100, "%zu samples", total);
    T_CHECK(fabs(q_audio_reader_position(r) - 3.0) < 0.01);
    q_audio_reader_close(r);
}

static void test_unsupported_input(void)
{
    char p[600];
    qerrctx err = {0};
    q_audio_info info;
    /* Text */
    fx_path("notes.txt", p, sizeof p);
    const char *txt = "This is not audio at all, just some words in a file.\n";
    T_REQUIRE(fx_write(p, txt, strlen(txt)) == 0);
    T_EQ_INT(decode_all(p, &info, NULL, &err), Q_ERR_UNSUPPORTED);
    T_CHECK(!strncmp(err.msg, "unsupported audio: ", 19), "%s", err.msg);
    /* Empty */
    qerrctx e2 = {0};
    fx_path("empty.mp3", p, sizeof p);
    T_REQUIRE(fx_write(p, "", 0) == 0);
    T_EQ_INT(decode_all(p, &info, NULL, &e2), Q_ERR_UNSUPPORTED);
    T_CHECK(!strncmp(e2.msg, "unsupported audio: ", 19), "%s", e2.msg);
    /* Random bytes */
    unsigned char junk[8192];
    unsigned s = 12345;
    for (size_t i = 0; i < sizeof junk; i++) { s = s * 1103515245u + 12345u; junk[i] = (unsigned char)(s >> 16); }
    qerrctx e3 = {0};
    fx_path("junk.bin", p, sizeof p);
    T_REQUIRE(fx_write(p, junk, sizeof junk) == 0);
    qerr rc = decode_all(p, &info, NULL, &e3);
    T_CHECK(rc == Q_ERR_UNSUPPORTED || rc == Q_ERR_UNPROCESSABLE, "rc %d: %s", rc, e3.msg);
    /* A video-less, audio-less container: an image */
    qerrctx e4 = {0};
    fx_path("missing.wav", p, sizeof p);
    T_EQ_INT(decode_all(p, &info, NULL, &e4), Q_ERR_NOT_FOUND);
    T_CHECK(strstr(e4.msg, "not found") != NULL, "%s", e4.msg);
    /* A well-formed WAV with no samples is not a chapter. */
    qerrctx e6 = {0};
    fx_path("header_only.wav", p, sizeof p);
    const unsigned char hdr[44] = { 'R', 'I', 'F', 'F', 36, 0, 0, 0, 'W', 'A', 'V', 'E', 'f', 'm', 't', ' ',
                                    16, 0, 0, 0, 1, 0, 1, 0, 0x80, 0x3e, 0, 0, 0, 0x7d, 0, 0, 2, 0, 16, 0,
                                    'd', 'a', 't', 'a', 0, 0, 0, 0 };
    T_REQUIRE(fx_write(p, hdr, sizeof hdr) == 0);
    rc = decode_all(p, &info, NULL, &e6);
    T_CHECK(rc == Q_ERR_UNPROCESSABLE || rc == Q_ERR_UNSUPPORTED, "rc %d", rc);
    T_CHECK(!strncmp(e6.msg, "corrupt audio at 0:00", 21) || !strncmp(e6.msg, "unsupported audio: ", 19), "%s", e6.msg);
    t_note("header-only wav: %s", e6.msg);
    /* No protocols through a path. */
    qerrctx e5 = {0};
    T_CHECK(decode_all("http://127.0.0.1:1/x.mp3", &info, NULL, &e5) != Q_OK);
}

/* Write the first frac of src to dst. */
static int truncate_copy(const char *src, const char *dst, double frac)
{
    size_t len;
    unsigned char *b = fx_slurp(src, &len);
    if (!b) return -1;
    int rc = fx_write(dst, b, (size_t)(len * frac));
    free(b);
    return rc;
}

static void test_truncated_and_corrupt(void)
{
    char src[600], dst[600];
    /* 20 s FLAC cut in half: its header promises 20 s. */
    fx_path("long.flac", src, sizeof src);
    T_REQUIRE(fx_tone(src, 300, 20.0, 16000, 1, NULL) == 0);
    fx_path("half.flac", dst, sizeof dst);
    T_REQUIRE(truncate_copy(src, dst, 0.5) == 0);
    qerrctx err = {0};
    q_audio_info info;
    T_EQ_INT(decode_all(dst, &info, NULL, &err), Q_ERR_UNPROCESSABLE);
    T_CHECK(!strncmp(err.msg, "corrupt audio at 0:", 19), "%s", err.msg);
    t_note("truncated flac: %s", err.msg);
    /* WAV whose data chunk runs past the end of the file. */
    fx_path("long.wav", src, sizeof src);
    T_REQUIRE(fx_tone(src, 300, 20.0, 16000, 1, NULL) == 0);
    fx_path("half.wav", dst, sizeof dst);
    T_REQUIRE(truncate_copy(src, dst, 0.4) == 0);
    qerrctx e2 = {0};
    T_EQ_INT(decode_all(dst, &info, NULL, &e2), Q_ERR_UNPROCESSABLE);
    T_CHECK(!strncmp(e2.msg, "corrupt audio at 0:0", 20), "%s", e2.msg);
    /* M4A with its index (at the end) cut off. */
    const char *aac[] = { "-c:a", "aac", NULL };
    fx_path("long.m4a", src, sizeof src);
    T_REQUIRE(fx_tone(src, 300, 20.0, 16000, 1, aac) == 0);
    fx_path("half.m4a", dst, sizeof dst);
    T_REQUIRE(truncate_copy(src, dst, 0.5) == 0);
    qerrctx e3 = {0};
    qerr rc = decode_all(dst, &info, NULL, &e3);
    T_CHECK(rc == Q_ERR_UNSUPPORTED || rc == Q_ERR_UNPROCESSABLE, "rc %d", rc);
    T_CHECK(!strncmp(e3.msg, "unsupported audio: ", 19) || !strncmp(e3.msg, "corrupt audio at ", 17), "%s", e3.msg);
    /* An MP3 with a stretch of garbage in the middle never crashes; either
     * the damage is skipped or reported with its position. */
    fx_path("long.mp3", src, sizeof src);
    const char *mp3[] = { "-c:a", "libmp3lame", NULL };
    T_REQUIRE(fx_tone(src, 300, 20.0, 16000, 1, mp3) == 0);
    size_t len;
    unsigned char *b = fx_slurp(src, &len);
    T_REQUIRE(b != NULL);
    unsigned s = 7;
    for (size_t i = len / 2; i < len / 2 + 4000 && i < len; i++) { s = s * 1103515245u + 12345u; b[i] = (unsigned char)(s >> 16); }
    fx_path("garbled.mp3", dst, sizeof dst);
    T_REQUIRE(fx_write(dst, b, len) == 0);
    free(b);
    qerrctx e4 = {0};
    decoded d;
    rc = decode_all(dst, &info, &d, &e4);
    T_CHECK(rc == Q_OK || (rc == Q_ERR_UNPROCESSABLE && !strncmp(e4.msg, "corrupt audio at 0:", 19)),
            "rc %d %s", rc, e4.msg);
    if (rc == Q_OK) T_CHECK(d.secs > 15, "decoded %.1f s", d.secs);
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &rss) != 2) rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void test_long_file_memory_is_flat(void)
{
    char p[600];
    fx_path("ten_min.mp3", p, sizeof p);
    const char *mp3[] = { "-c:a", "libmp3lame", "-b:a", "16k", NULL };
    T_REQUIRE(fx_tone(p, 200, 600.0, 8000, 1, mp3) == 0);
    q_audio_reader *r;
    qerrctx err = {0};
    T_REQUIRE(q_audio_reader_open(p, 16000, &r, NULL, &err) == Q_OK, "%s", err.msg);
    int16_t pcm[4096];
    size_t got, total = 0, reads = 0;
    long base = 0, peak = 0;
    while (q_audio_reader_read(r, pcm, 4096, &got, &err) == Q_OK && got) {
        total += got;
        if (++reads == 50) base = rss_kb();          /* after warm-up */
        if (reads % 50 == 0) { long k = rss_kb(); if (k > peak) peak = k; }
    }
    q_audio_reader_close(r);
    T_EQ_INT(err.code, Q_OK);
    T_CHECK(fabs(total / 16000.0 - 600) < 1, "decoded %zu samples", total);
    /* 10 minutes at 16 kHz would be 19 MB if held; streaming holds frames. */
    t_note("RSS %ld kB after warm-up, peak %ld kB over 10 minutes of audio", base, peak);
#if defined(__SANITIZE_ADDRESS__)
    /* ASan keeps freed blocks in quarantine: allow for it. */
    long slack_kb = 64 * 1024;
#else
    long slack_kb = 2048;
#endif
    T_CHECK(base > 0 && peak - base < slack_kb, "RSS grew %ld kB", peak - base);
}

/* QUIRE_TEST_LONG=1 (make test-long): a 10-hour MP3 decodes with RSS flat
 * and well under the 200 MB a worker slot may use. */
static void test_ten_hours_streams(void)
{
    const char *lt = getenv("QUIRE_TEST_LONG");
    if (!lt || strcmp(lt, "1")) { t_skip("long test: set QUIRE_TEST_LONG=1"); return; }
    char p[600];
    fx_path("ten_hours.mp3", p, sizeof p);
    const char *mp3[] = { "-c:a", "libmp3lame", "-b:a", "8k", NULL };
    T_REQUIRE(fx_tone(p, 200, 36000.0, 8000, 1, mp3) == 0);
    q_audio_reader *r;
    qerrctx err = {0};
    q_audio_info info;
    T_REQUIRE(q_audio_reader_open(p, 16000, &r, &info, &err) == Q_OK, "%s", err.msg);
    int16_t pcm[8000];
    size_t got, reads = 0;
    long base = 0, peak = 0;
    uint64_t total = 0;
    while (q_audio_reader_read(r, pcm, 8000, &got, &err) == Q_OK && got) {
        total += got;
        if (++reads == 100) base = rss_kb();
        if (reads % 1000 == 0) { long k = rss_kb(); if (k > peak) peak = k; }
    }
    q_audio_reader_close(r);
    T_EQ_INT(err.code, Q_OK);
    t_note("10 h: %.0f s decoded, RSS %ld kB after warm-up, peak %ld kB", total / 16000.0, base, peak);
    T_CHECK(fabs(total / 16000.0 - 36000) < 5, "decoded %.1f s", total / 16000.0);
    T_CHECK(peak < 200 * 1024, "peak RSS %ld kB", peak);
#if !defined(__SANITIZE_ADDRESS__)
    T_CHECK(peak - base < 4096, "RSS grew %ld kB", peak - base);
#endif
}

/* ---- output ------------------------------------------------------------ */

static void tone(int16_t *pcm, size_t n, double freq, int rate)
{
    for (size_t i = 0; i < n; i++) pcm[i] = (int16_t)(6000 * sin(2 * M_PI * freq * (double)i / rate));
}

/* ffprobe's chapters of path: starts/ends in seconds and titles. */
static int probe_chapters(const char *path, double *start, double *end, char titles[][64], int cap)
{
    char *argv[] = { "ffprobe", "-v", "error", "-show_chapters", "-of", "json", (char *)path, NULL };
    char *out = wer_run_capture(argv, NULL);
    if (!out) return -1;
    cJSON *j = cJSON_Parse(out);
    free(out);
    if (!j) return -1;
    int n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "chapters")) {
        if (n >= cap) break;
        const cJSON *s = cJSON_GetObjectItem(c, "start_time"), *e = cJSON_GetObjectItem(c, "end_time");
        const cJSON *t = cJSON_GetObjectItem(cJSON_GetObjectItem(c, "tags"), "title");
        start[n] = cJSON_IsString(s) ? atof(s->valuestring) : -1;
        end[n] = cJSON_IsString(e) ? atof(e->valuestring) : -1;
        snprintf(titles[n], 64, "%s", cJSON_IsString(t) ? t->valuestring : "");
        n++;
    }
    cJSON_Delete(j);
    return n;
}

static char *probe_tag(const char *path, const char *tag)
{
    char entry[64];
    snprintf(entry, sizeof entry, "format_tags=%s", tag);
    char *argv[] = { "ffprobe", "-v", "error", "-show_entries", entry, "-of",
                     "default=noprint_wrappers=1:nokey=1", (char *)path, NULL };
    char *out = wer_run_capture(argv, NULL);
    if (out) out[strcspn(out, "\n")] = 0;
    return out;
}

static void write_two_chapters(q_audio_format fmt, const char *name, int rate)
{
    char p[600];
    fx_path(name, p, sizeof p);
    q_audio_meta meta = { .title = "A Tale of Two Tones", .author = "Quire Tester" };
    q_audio_writer *w;
    qerrctx err = {0};
    T_REQUIRE(q_audio_writer_open(p, fmt, rate, &meta, &w, &err) == Q_OK, "%s", err.msg);
    int16_t *pcm = malloc(sizeof *pcm * (size_t)rate * 3);
    T_REQUIRE(pcm != NULL);
    tone(pcm, (size_t)rate * 2, 440, rate);
    T_EQ_INT(q_audio_writer_chapter(w, "One", &err), Q_OK);
    T_EQ_INT(q_audio_writer_write(w, pcm, (size_t)rate * 2, &err), Q_OK);
    T_EQ_INT(q_audio_writer_chapter(w, "Two: \xc3\xa9t\xc3\xa9", &err), Q_OK);
    T_EQ_INT(q_audio_writer_silence(w, (size_t)rate / 2, &err), Q_OK);
    tone(pcm, (size_t)rate * 3, 660, rate);
    T_EQ_INT(q_audio_writer_write(w, pcm, (size_t)rate * 5 / 2, &err), Q_OK);
    free(pcm);
    size_t nch;
    const q_audio_chapter *ch = q_audio_writer_chapters(w, &nch);
    T_EQ_INT(nch, 2);
    T_EQ_INT(ch[1].start_ms, 2000);
    T_EQ_INT(ch[1].end_ms, 5000);
    T_CHECK(access(p, F_OK) != 0, "output appears only at close");
    T_EQ_INT(q_audio_writer_close(w, &err), Q_OK);
    T_REQUIRE(access(p, F_OK) == 0);
    char part[700];
    snprintf(part, sizeof part, "%s.part", p);
    T_CHECK(access(part, F_OK) != 0);
    snprintf(part, sizeof part, "%s.tmp", p);
    T_CHECK(access(part, F_OK) != 0);

    q_audio_info info;
    decoded d;
    T_EQ_INT(decode_all(p, &info, &d, &err), Q_OK);
    T_CHECK(fabs(d.secs - 5.0) < 0.06, "%s decodes to %.3f s", name, d.secs);
    T_CHECK(fabs(info.duration - 5.0) < 0.1, "%s container says %.3f s", name, info.duration);
    if (fmt == Q_AUDIO_WAV) return;

    double st[4], en[4];
    char titles[4][64];
    int n = probe_chapters(p, st, en, titles, 4);
    T_EQ_INT(n, 2);
    if (n == 2) {
        T_CHECK(fabs(st[0]) < 0.01 && fabs(en[0] - 2.0) < 0.01, "%s ch1 %.3f-%.3f", name, st[0], en[0]);
        T_CHECK(fabs(st[1] - 2.0) < 0.01 && fabs(en[1] - 5.0) < 0.06, "%s ch2 %.3f-%.3f", name, st[1], en[1]);
        T_EQ_STR(titles[0], "One");
        T_EQ_STR(titles[1], "Two: \xc3\xa9t\xc3\xa9");
    }
    char *t = probe_tag(p, "title"), *a = probe_tag(p, "artist");
    T_EQ_STR(t, "A Tale of Two Tones");
    T_EQ_STR(a, "Quire Tester");
    free(t);
    free(a);
}

static void test_write_wav(void) { write_two_chapters(Q_AUDIO_WAV, "out.wav", 22050); }
static void test_write_mp3_chapters(void) { write_two_chapters(Q_AUDIO_MP3, "out.mp3", 16000); }
static void test_write_mp3_chapters_44k(void) { write_two_chapters(Q_AUDIO_MP3, "out44.mp3", 44100); }
static void test_write_m4b_chapters(void) { write_two_chapters(Q_AUDIO_M4B, "out.m4b", 22050); }

static void test_writer_errors(void)
{
    q_audio_writer *w;
    qerrctx err = {0};
    T_EQ_INT(q_audio_writer_open("/nonexistent-dir/x.mp3", Q_AUDIO_MP3, 16000, NULL, &w, &err), Q_ERR_IO);
    qerrctx e2 = {0};
    char p[600];
    T_EQ_INT(q_audio_writer_open(fx_path("bad.m4b", p, sizeof p), Q_AUDIO_M4B, 17000, NULL, &w, &e2),
             Q_ERR_UNPROCESSABLE);
    T_EQ_INT(q_audio_format_from_name("m4b"), Q_AUDIO_M4B);
    T_EQ_INT(q_audio_format_from_name("ogg"), 0);
    /* Abort leaves nothing behind. */
    qerrctx e3 = {0};
    T_REQUIRE(q_audio_writer_open(fx_path("gone.mp3", p, sizeof p), Q_AUDIO_MP3, 16000, NULL, &w, &e3) == Q_OK);
    T_EQ_INT(q_audio_writer_silence(w, 16000, &e3), Q_OK);
    q_audio_writer_abort(w);
    T_CHECK(access(p, F_OK) != 0);
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    T_CHECK(access(tmp, F_OK) != 0);
}

/* Nothing written: each format closes cleanly or fails cleanly. */
static void test_writer_empty(void)
{
    const q_audio_format f[] = { Q_AUDIO_WAV, Q_AUDIO_MP3, Q_AUDIO_M4B };
    for (int i = 0; i < 3; i++) {
        char p[600], name[32];
        snprintf(name, sizeof name, "empty.%s", q_audio_format_ext(f[i]));
        q_audio_writer *w;
        qerrctx err = {0};
        T_REQUIRE(q_audio_writer_open(fx_path(name, p, sizeof p), f[i], 22050, NULL, &w, &err) == Q_OK);
        T_EQ_INT(q_audio_writer_chapter(w, "Nothing", &err), Q_OK);
        qerr rc = q_audio_writer_close(w, &err);
        t_note("%s: %s", name, rc ? err.msg : "ok");
        T_CHECK(rc == Q_OK ? access(p, F_OK) == 0 : access(p, F_OK) != 0);
    }
}

static int count_cp(void *ud, double frac, const char *msg)
{
    (void)frac; (void)msg;
    int *n = ud;
    return ++*n > 100;
}

static void assemble_into(q_audio_format fmt, const char *name)
{
    char a[600], b[600], c[600], out[600];
    fx_path("part1.wav", a, sizeof a);
    fx_path("part2.mp3", b, sizeof b);
    fx_path("part3.ogg", c, sizeof c);
    if (access(a, F_OK) != 0) {
        T_REQUIRE(fx_tone(a, 300, 1.0, 22050, 1, NULL) == 0);
        const char *mp3[] = { "-c:a", "libmp3lame", NULL };
        T_REQUIRE(fx_tone(b, 400, 2.0, 44100, 2, mp3) == 0);
        const char *ogg[] = { "-c:a", "libvorbis", NULL };
        T_REQUIRE(fx_tone(c, 500, 1.5, 48000, 1, ogg) == 0);
    }
    const char *ins[] = { a, b, c };
    const char *titles[] = { "Prologue", NULL, "Epilogue" };
    q_audio_chapter ch[3];
    qerrctx err = {0};
    int calls = 0;
    q_audio_meta meta = { .title = "Assembled", .author = "Someone" };
    T_REQUIRE(q_audio_assemble(ins, titles, 3, fx_path(name, out, sizeof out), fmt, 0, &meta, ch,
                               count_cp, &calls, &err) == Q_OK, "%s", err.msg);
    T_CHECK(calls >= 3);
    T_EQ_STR(ch[1].title, "Chapter 2");
    T_CHECK(labs((long)ch[1].start_ms - 1000) <= 5 && labs((long)ch[2].start_ms - 3000) <= 30,
            "starts %lld %lld", (long long)ch[1].start_ms, (long long)ch[2].start_ms);
    double st[4], en[4];
    char t[4][64];
    int n = probe_chapters(out, st, en, t, 4);
    T_EQ_INT(n, 3);
    if (n == 3) {
        T_CHECK(fabs(st[1] - ch[1].start_ms / 1000.0) < 0.01 && fabs(st[2] - ch[2].start_ms / 1000.0) < 0.01,
                "ffprobe starts %.3f %.3f", st[1], st[2]);
        T_CHECK(fabs(en[2] - 4.5) < 0.1, "ends %.3f", en[2]);
        T_EQ_STR(t[0], "Prologue");
        T_EQ_STR(t[2], "Epilogue");
    }
    decoded d;
    T_EQ_INT(decode_all(out, NULL, &d, &err), Q_OK);
    T_CHECK(fabs(d.secs - 4.5) < 0.1, "assembled %.3f s", d.secs);
}

static void test_assemble_mp3(void) { assemble_into(Q_AUDIO_MP3, "book.mp3"); }
static void test_assemble_m4b(void) { assemble_into(Q_AUDIO_M4B, "book.m4b"); }

static int cancel_now(void *ud, double frac, const char *msg)
{
    (void)ud; (void)frac; (void)msg;
    return 1;
}

static void test_assemble_cancel_and_bad_input(void)
{
    char a[600], bad[600], out[600];
    fx_path("part1.wav", a, sizeof a);
    fx_path("notes.txt", bad, sizeof bad);
    const char *ins[] = { a, bad };
    qerrctx err = {0};
    fx_path("cancelled.mp3", out, sizeof out);
    T_EQ_INT(q_audio_assemble(ins, NULL, 2, out, Q_AUDIO_MP3, 0, NULL, NULL, cancel_now, NULL, &err),
             Q_ERR_CANCELLED);
    T_CHECK(access(out, F_OK) != 0);
    qerrctx e2 = {0};
    T_EQ_INT(q_audio_assemble(ins, NULL, 2, out, Q_AUDIO_MP3, 0, NULL, NULL, NULL, NULL, &e2),
             Q_ERR_UNSUPPORTED);
    T_CHECK(access(out, F_OK) != 0);
}

static void test_fmt_time(void)
{
    char b[16];
    T_EQ_STR(q_audio_fmt_time(754.9, b, sizeof b), "12:34");
    T_EQ_STR(q_audio_fmt_time(3725, b, sizeof b), "1:02:05");
    T_EQ_STR(q_audio_fmt_time(-3, b, sizeof b), "0:00");
}

int main(void)
{
    if (!fx_tmpdir()) { printf("cannot make a temp dir\n"); return 1; }
    T_RUN(test_fmt_time);
    T_RUN(test_decode_formats);
    T_RUN(test_keep_source_rate);
    T_RUN(test_unsupported_input);
    T_RUN(test_truncated_and_corrupt);
    T_RUN(test_long_file_memory_is_flat);
    T_RUN(test_ten_hours_streams);
    T_RUN(test_write_wav);
    T_RUN(test_write_mp3_chapters);
    T_RUN(test_write_mp3_chapters_44k);
    T_RUN(test_write_m4b_chapters);
    T_RUN(test_writer_errors);
    T_RUN(test_writer_empty);
    T_RUN(test_assemble_mp3);
    T_RUN(test_assemble_m4b);
    T_RUN(test_assemble_cancel_and_bad_input);
    fx_cleanup();
    return t_done();
}
