/* audio_magic.c - container detection from magic bytes; see audio_magic.h. */
#include "audio_magic.h"

#include <string.h>

/* An MPEG audio frame header: 11 sync bits, a valid version, layer,
 * bitrate index and sample rate index. */
static int is_mpa_frame(const unsigned char *p, size_t len)
{
    if (len < 4) return 0;
    if (p[0] != 0xFF || (p[1] & 0xE0) != 0xE0) return 0;
    if (((p[1] >> 3) & 3) == 1) return 0;     /* reserved version */
    if (((p[1] >> 1) & 3) == 0) return 0;     /* reserved layer */
    if ((p[2] >> 4) == 15) return 0;          /* bad bitrate */
    if (((p[2] >> 2) & 3) == 3) return 0;     /* reserved sample rate */
    return 1;
}

static const char *detect_plain(const unsigned char *b, size_t len)
{
    if (len >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WAVE", 4)) return "wav";
    if (len >= 12 && !memcmp(b, "RF64", 4) && !memcmp(b + 8, "WAVE", 4)) return "wav";
    if (len >= 4 && !memcmp(b, "fLaC", 4)) return "flac";
    if (len >= 4 && !memcmp(b, "OggS", 4)) return "ogg";
    if (len >= 12 && !memcmp(b + 4, "ftyp", 4)) {
        /* Major brands of audio-capable ISO media files. */
        static const char *const brands[] = {
            "M4A ", "M4B ", "M4P ", "mp41", "mp42", "isom", "iso2", "iso4",
            "iso5", "iso6", "dash", "3gp4", "3gp5", "3gp6", "3g2a", "qt  ",
            "MSNV", "avc1", "f4a ", "f4b ", NULL };
        for (int i = 0; brands[i]; i++)
            if (!memcmp(b + 8, brands[i], 4)) return "mp4";
        return NULL;
    }
    if (is_mpa_frame(b, len)) return "mp3";
    return NULL;
}

const char *q_audio_magic(const unsigned char *buf, size_t len)
{
    if (!buf) return NULL;
    if (len >= 10 && !memcmp(buf, "ID3", 3) && buf[3] < 0xFF && buf[4] < 0xFF &&
        !((buf[6] | buf[7] | buf[8] | buf[9]) & 0x80)) {
        size_t tag = ((size_t)buf[6] << 21) | ((size_t)buf[7] << 14) |
                     ((size_t)buf[8] << 7) | (size_t)buf[9];
        tag += 10;
        if (buf[5] & 0x10) tag += 10;                  /* footer present */
        if (tag < len) {
            const char *inner = detect_plain(buf + tag, len - tag);
            if (inner && (!strcmp(inner, "flac") || !strcmp(inner, "mp3"))) return inner;
            return NULL;
        }
        return "mp3";   /* the tag runs past what we were shown */
    }
    return detect_plain(buf, len);
}

const char *q_audio_magic_mime(const char *name)
{
    if (!name) return "application/octet-stream";
    if (!strcmp(name, "mp3")) return "audio/mpeg";
    if (!strcmp(name, "mp4")) return "audio/mp4";
    if (!strcmp(name, "flac")) return "audio/flac";
    if (!strcmp(name, "ogg")) return "audio/ogg";
    if (!strcmp(name, "wav")) return "audio/wav";
    return "application/octet-stream";
}
