/* test_upload_restart.c - an upload in progress survives a quire-api
 * restart and an nginx reload: a tus upload of a few MB in chunks; after
 * chunk 1 quire-api stops (a PATCH then is refused by nginx and not
 * acknowledged) and starts again, HEAD gives the acknowledged offset and the
 * upload resumes; a PATCH half sent when nginx reloads finishes on the old
 * nginx worker. The stored file's sha256 is the source's. */
#include "apitest.h"
#include "t.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TUS AT_TUS

static char *tok;

static long tus_patch(const char *slot, long long off, const char *data, size_t len, thttp *out)
{
    char hdr[128];
    snprintf(hdr, sizeof hdr, TUS "\nUpload-Offset: %lld", off);
    thttp_req(out, "PATCH", slot, tok, "application/offset+octet-stream", data, len, hdr);
    return out->status;
}

static int connect_stack(void)
{
    const char *url = tenv("QUIRE_URL");
    const char *colon = strrchr(url, ':');
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t k = send(fd, p + off, n - off, MSG_NOSIGNAL);
        if (k <= 0)
            return -1;
        off += (size_t)k;
    }
    return 0;
}

/* The status of the reply on fd (0 when none came in timeout_ms). */
static int read_status(int fd, int timeout_ms)
{
    char buf[4096];
    size_t got = 0;
    while (got + 1 < sizeof buf) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0)
            break;
        ssize_t k = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (k <= 0)
            break;
        got += (size_t)k;
        buf[got] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    buf[got] = '\0';
    return !strncmp(buf, "HTTP/1.", 7) ? atoi(buf + 9) : 0;
}

static int api_running(void)
{
    thttp r;
    int ok = thttp_json(&r, "GET", "/api/v1/health", NULL, NULL) == 0 && r.status == 200;
    thttp_free(&r);
    return ok;
}

static void test_tus_survives_api_restart_and_nginx_reload(void)
{
    char *wav = at_wav("restart.wav", 100.0);          /* 3.2 MB */
    size_t len;
    char *data = wav ? at_slurp(wav, &len) : NULL;
    T_REQUIRE(data != NULL);
    char *up = at_upload(tok, "single", 1);
    T_REQUIRE(up != NULL);
    char path[128], hdr[256];
    snprintf(path, sizeof path, "/api/v1/uploads/%s/tus", up);
    snprintf(hdr, sizeof hdr, TUS "\nUpload-Length: %zu", len);
    thttp r;
    T_REQUIRE(thttp_req(&r, "POST", path, tok, NULL, NULL, 0, hdr) == 0);
    T_EQ_INT(r.status, 201);
    char slot[256];
    snprintf(slot, sizeof slot, "%s", thttp_header(&r, "Location") ? thttp_header(&r, "Location") : "");
    thttp_free(&r);
    T_REQUIRE(slot[0] == '/');
    size_t c = len / 4;
    long st;

    /* chunk 1, then quire-api goes away */
    T_EQ_INT(tus_patch(slot, 0, data, c, &r), 204);
    thttp_free(&r);
    T_REQUIRE(tsh("\"$QUIRE_ROOT/scripts/stack.sh\" api-stop >/dev/null 2>&1") == 0);
    /* a chunk sent while it is down is refused, not acknowledged */
    long down = tus_patch(slot, (long long)c, data + c, c, &r);
    thttp_free(&r);
    T_CHECK(down == 502 || down == 503 || down == 504, "PATCH with quire-api down: %ld", down);
    T_REQUIRE(tsh("\"$QUIRE_ROOT/scripts/stack.sh\" api-start >/dev/null 2>&1") == 0);
    for (int i = 0; i < 50 && !api_running(); i++)
        usleep(100000);
    T_EQ_INT(at_tus_head(tok, slot, &st), (long long)c);
    T_EQ_INT(st, 200);
    T_EQ_INT(tus_patch(slot, (long long)c, data + c, c, &r), 204);
    thttp_free(&r);
    T_EQ_INT(at_tus_head(tok, slot, &st), (long long)(2 * c));

    /* chunk 3 is half sent when nginx reloads: the old worker finishes it */
    char head[1024];
    int hn = snprintf(head, sizeof head,
                      "PATCH %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n" TUS "\r\n"
                      "Upload-Offset: %zu\r\nContent-Type: application/offset+octet-stream\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n", slot, tok, 2 * c, c);
    int fd = connect_stack();
    T_REQUIRE(fd >= 0);
    T_REQUIRE(send_all(fd, head, (size_t)hn) == 0 && send_all(fd, data + 2 * c, c / 2) == 0);
    usleep(100000);
    T_REQUIRE(tsh("\"$QUIRE_ROOT/scripts/stack.sh\" nginx-reload >/dev/null 2>&1") == 0);
    usleep(300000);
    int sent = send_all(fd, data + 2 * c + c / 2, c - c / 2);
    int status = sent == 0 ? read_status(fd, 10000) : 0;
    close(fd);
    long long at = at_tus_head(tok, slot, &st);
    t_note("PATCH across the reload: %d; offset after it %lld", status, at);
    /* nginx drains a request in flight on reload: acknowledged in full */
    T_EQ_INT(status, 204);
    T_EQ_INT(at, (long long)(3 * c));
    T_REQUIRE(at == (long long)(3 * c));
    /* the last chunk, through the new nginx workers; this quire-api saw
     * only the chunks after its start, so it hashes the finished file */
    long long rehashed = at_metric("quire_tus_digests_total{how=\"rehashed\"}");
    T_EQ_INT(tus_patch(slot, at, data + at, len - (size_t)at, &r), 204);
    T_EQ_INT(at_metric("quire_tus_digests_total{how=\"rehashed\"}"), rehashed + 1);
    T_CHECK(thttp_header(&r, "X-File-Id") != NULL);
    thttp_free(&r);
    snprintf(path, sizeof path, "/api/v1/uploads/%s", up);
    T_REQUIRE(thttp_json(&r, "GET", path, tok, NULL) == 0);
    cJSON *f = cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "files"), 0);
    T_EQ_STR(tjson_str(f, "sha256"), at_sha256_file(wav));
    T_EQ_INT(tjson_num(f, "file_size_bytes", -1), (long long)len);
    thttp_free(&r);
    /* the file in storage is the source, byte for byte */
    char *stored = tsh_out("sha256sum \"$QUIRE_STORAGE\"/uploads/%s/*.wav | cut -c1-64", up);
    T_EQ_STR(stored, at_sha256_file(wav));
    free(stored);
    free(up);
    free(data);
    free(wav);
}

int main(void)
{
    tok = at_user("restart", 0);
    if (!tok)
        return 1;
    T_RUN(test_tus_survives_api_restart_and_nginx_reload);
    free(tok);
    return t_done();
}
