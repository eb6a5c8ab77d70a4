/* test_api_store.c - the API's storage helpers without servers: file name
 * sanitizing, type sniffing, and the mmap range hash with a delimiter that
 * straddles two mapped windows. */
#include "api.h"
#include "t.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_sanitize(void)
{
    static const struct { const char *in, *out; } cases[] = {
        {"../../etc/passwd", "passwd"}, {"a\\b\\c.mp3", "c.mp3"}, {"..", "file"}, {"", "file"},
        {"...hidden", "hidden"}, {"x\x01y\x7fz.wav", "xyz.wav"}, {"trail. . ", "trail"},
        {"caf\xc3\xa9.mp3", "caf\xc3\xa9.mp3"}, {"\xff\xfe.mp3", "mp3"}, {"a:b*c?.ogg", "abc.ogg"},
        /* unicode tricks: RTL override dropped, look-alike slashes '_',
         * overlong '/' (C0 AF, E0 80 AF) and surrogates dropped */
        {"evil\xe2\x80\xae" "gpj.mp3", "evilgpj.mp3"}, {"a\xef\xbc\x8f..\xef\xbc\x8f" "b.mp3", "a_.._b.mp3"},
        {"x\xe2\x88\x95y.wav", "x_y.wav"}, {"..\xc0\xaf..\xc0\xaf" "etc.mp3", "etc.mp3"},
        {"a\xe0\x80\xaf" "b.wav", "ab.wav"}, {"s\xed\xa0\x80t.wav", "st.wav"}, {"z\xe2\x80\x8bw\xc2\x85.mp3", "zw.mp3"},
        {"\xef\xbb\xbf.hidden", "hidden"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[STORE_NAME_MAX + 1];
        store_sanitize_name(cases[i].in, out, sizeof out);
        T_EQ_STR(out, cases[i].out);
    }
    /* long names are cut on a character boundary */
    char in[1000], out[STORE_NAME_MAX + 1];
    for (int i = 0; i < 998; i += 2)
        memcpy(in + i, "\xc3\xa9", 2);
    in[998] = '\0';
    store_sanitize_name(in, out, sizeof out);
    size_t ol = strlen(out);
    T_CHECK(ol <= STORE_NAME_MAX);
    T_EQ_INT(ol & 1, 0);
}

static void test_sniff(void)
{
    int a;
    T_EQ_STR(store_sniff((const unsigned char *)"ID3\x04\x00\x00\x00\x00\x01\x00", 10, &a), "mp3");
    T_CHECK(a);
    T_EQ_STR(store_sniff((const unsigned char *)"\xff\xfb\x90\x64", 4, &a), "mp3");
    T_EQ_STR(store_sniff((const unsigned char *)"\0\0\0\x20" "ftypM4B ", 12, &a), "mp4");
    T_EQ_STR(store_sniff((const unsigned char *)"fLaC\0\0\0\x22", 8, &a), "flac");
    T_EQ_STR(store_sniff((const unsigned char *)"OggS\0\x02", 6, &a), "ogg");
    T_EQ_STR(store_sniff((const unsigned char *)"RIFF\x24\0\0\0WAVEfmt ", 16, &a), "wav");
    T_CHECK(a);
    T_EQ_STR(store_sniff((const unsigned char *)"RIFF\x24\0\0\0AVI LIST", 16, &a), "avi");
    T_CHECK(!a);
    T_EQ_STR(store_sniff((const unsigned char *)"%PDF-1.4", 8, &a), "pdf");
    T_EQ_STR(store_sniff((const unsigned char *)"hello\n", 6, &a), "text");
    T_EQ_STR(store_sniff((const unsigned char *)"{\"a\":1}", 7, &a), "json text");
    T_EQ_STR(store_sniff((const unsigned char *)"\xff\xd8\xff\xe0", 4, &a), "jpeg");
    T_EQ_STR(store_sniff((const unsigned char *)"", 0, &a), "empty file");
    T_EQ_STR(store_sniff((const unsigned char *)"\x01\x02\x03\x00\x9f", 5, &a), "unknown binary data");
    T_CHECK(!a);
}

static void test_hash_range_across_windows(void)
{
    char path[] = "/tmp/quire-store-XXXXXX";
    int fd = mkstemp(path);
    T_REQUIRE(fd >= 0);
    const size_t n = (64u << 20) + 4096;
    char *buf = malloc(n);
    T_REQUIRE(buf != NULL);
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('a' + i % 23);
    const char needle[] = "\r\n--boundary42";
    size_t at = (64u << 20) - 5;                /* straddles the first 64 MiB window */
    memcpy(buf + at, needle, sizeof needle - 1);
    T_REQUIRE(write(fd, buf, n) == (ssize_t)n);
    close(fd);
    char sha[65], want[65];
    int64_t hit = 0;
    T_EQ_INT(store_hash_range(path, 100, (int64_t)n + 999, needle, sizeof needle - 1, &hit, sha), 0);
    T_EQ_INT(hit, (long long)at);
    qsha256_hex(buf + 100, at - 100, want);
    T_EQ_STR(sha, want);
    /* no needle: the whole range; a limit past the end is cut */
    T_EQ_INT(store_hash_range(path, 0, (int64_t)n + 999, NULL, 0, NULL, sha), 0);
    qsha256_hex(buf, n, want);
    T_EQ_STR(sha, want);
    unlink(path);
    free(buf);
}

int main(void)
{
    T_RUN(test_sanitize);
    T_RUN(test_sniff);
    T_RUN(test_hash_range_across_windows);
    return t_done();
}
