/* audio_magic.h - recognise an audio container from its first bytes (pure C,
 * no FFmpeg): quire-api uses it to answer 415 to non-audio uploads, the
 * worker to name the container in error messages. */
#ifndef QUIRE_AUDIO_MAGIC_H
#define QUIRE_AUDIO_MAGIC_H

#include <stddef.h>

/* How many leading bytes q_audio_magic() wants to see for a sure answer
 * (an ID3v2 tag is skipped only when it fits, see below). */
#define Q_AUDIO_MAGIC_WANT 64

/* Returns a static name: "mp3", "mp4" (m4a/m4b/mp4 audio), "flac", "ogg",
 * "wav", or NULL when the bytes are none of these. Handles an ID3v2 tag in
 * front of MP3 or FLAC data when the bytes after the tag are in buf; a buffer
 * that holds only a complete-looking ID3v2 header is reported as "mp3".
 * Never reads past buf[len-1]. */
const char *q_audio_magic(const unsigned char *buf, size_t len);

/* The MIME type for a name returned above ("audio/mpeg", ...), or
 * "application/octet-stream" for anything else. */
const char *q_audio_magic_mime(const char *name);

#endif
