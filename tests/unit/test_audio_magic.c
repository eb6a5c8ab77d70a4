/* test_audio_magic.c - container detection from magic bytes, which
 * quire-api uses to answer 415 to non-audio uploads. */
#include "t.h"

#include <string.h>

#include "audio_magic.h"

static void test_known_headers(void)
{
    const unsigned char wav[] = "RIFF\x24\x00\x00\x00WAVEfmt ";
    const unsigned char flac[] = "fLaC\x00\x00\x00\x22";
    const unsigned char ogg[] = "OggS\x00\x02\x00\x00";
    const unsigned char m4b[] = "\x00\x00\x00\x20" "ftypM4B \x00\x00\x02\x00";
    const unsigned char m4a[] = "\x00\x00\x00\x1c" "ftypM4A \x00\x00\x00\x00";
    const unsigned char mp3[] = "\xff\xfb\x90\x64\x00\x00";
    T_EQ_STR(q_audio_magic(wav, sizeof wav - 1), "wav");
    T_EQ_STR(q_audio_magic(flac, sizeof flac - 1), "flac");
    T_EQ_STR(q_audio_magic(ogg, sizeof ogg - 1), "ogg");
    T_EQ_STR(q_audio_magic(m4b, sizeof m4b - 1), "mp4");
    T_EQ_STR(q_audio_magic(m4a, sizeof m4a - 1), "mp4");
    T_EQ_STR(q_audio_magic(mp3, sizeof mp3 - 1), "mp3");
    T_EQ_STR(q_audio_magic_mime("mp4"), "audio/mp4");
    T_EQ_STR(q_audio_magic_mime(NULL), "application/octet-stream");
}

static void test_id3(void)
{
    unsigned char b[64] = { 'I', 'D', '3', 4, 0, 0, 0, 0, 0, 10 };   /* 10-byte tag body */
    memset(b + 10, 0, 10);
    memcpy(b + 20, "\xff\xfb\x90\x64", 4);
    T_EQ_STR(q_audio_magic(b, 30), "mp3");
    memcpy(b + 20, "fLaC", 4);
    T_EQ_STR(q_audio_magic(b, 30), "flac");
    memcpy(b + 20, "%PDF", 4);
    T_CHECK(q_audio_magic(b, 30) == NULL, "ID3 in front of a PDF is not audio");
    /* A big tag that runs past what we see: trust the ID3 header. */
    unsigned char big[10] = { 'I', 'D', '3', 3, 0, 0, 0, 1, 0, 0 };
    T_EQ_STR(q_audio_magic(big, 10), "mp3");
    unsigned char badsize[10] = { 'I', 'D', '3', 3, 0, 0, 0x80, 0, 0, 0 };
    T_CHECK(q_audio_magic(badsize, 10) == NULL);
}

static void test_not_audio(void)
{
    const char *samples[] = { "%PDF-1.7\n", "\x89PNG\r\n\x1a\n", "PK\x03\x04", "<html><body>", "{\"a\":1}",
                              "RIFF\x24\x00\x00\x00" "AVI LIST", "\x00\x00\x00\x18" "ftypheic",
                              "\xff\xd8\xff\xe0", "\xff\xff\xff\xff" };
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
        T_CHECK(q_audio_magic((const unsigned char *)samples[i], strlen(samples[i]) + 1) == NULL,
                "sample %zu", i);
    T_CHECK(q_audio_magic(NULL, 10) == NULL);
    T_CHECK(q_audio_magic((const unsigned char *)"RI", 2) == NULL);
    T_CHECK(q_audio_magic((const unsigned char *)"", 0) == NULL);
    T_CHECK(q_audio_magic((const unsigned char *)"\xff\xfb", 2) == NULL);
}

int main(void)
{
    T_RUN(test_known_headers);
    T_RUN(test_id3);
    T_RUN(test_not_audio);
    return t_done();
}
