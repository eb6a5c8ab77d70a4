/* apitest.c - fixtures of the API's integration tests (see apitest.h). */
#include "apitest.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static void rm_tmpdir(void)
{
    if (tmpdir[0])
        tsh("rm -rf '%s'", tmpdir);
}

const char *at_tmpdir(void)
{
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/quire-apitest.XXXXXX");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            exit(2);
        }
        atexit(rm_tmpdir);
    }
    return tmpdir;
}

char *at_user(const char *prefix, int admin)
{
    static int n;
    char name[64];
    snprintf(name, sizeof name, "%s-%d-%d", prefix, (int)getpid(), ++n);
    return tuser_token(name, admin ? "--admin" : NULL);
}

char *at_wav(const char *name, double secs)
{
    char *path = malloc(512);
    snprintf(path, 512, "%s/%s", at_tmpdir(), name);
    struct stat st;
    if (stat(path, &st) != 0 &&
        tsh("sox -n -r 16000 -c 1 -b 16 '%s' synth %.2f sine 440 2>/dev/null", path, secs) != 0) {
        free(path);
        return NULL;
    }
    return path;
}

char *at_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = '\0';
        *len = (size_t)n;
    }
    return b;
}

const char *at_sha256_file(const char *path)
{
    static char hex[65];
    if (qsha256_file(path, hex) != 0)
        return "";
    return hex;
}

char *at_upload(const char *tok, const char *type, int total_files)
{
    char body[256];
    snprintf(body, sizeof body, "{\"upload_type\":\"%s\",\"total_files\":%d,\"total_size_bytes\":0}", type, total_files);
    thttp r;
    char *id = NULL;
    if (thttp_json(&r, "POST", "/api/v1/uploads", tok, body) == 0 && r.status == 201 && tjson_str(r.json, "upload_id"))
        id = strdup(tjson_str(r.json, "upload_id"));
    thttp_free(&r);
    return id;
}

char *at_upload_raw(const char *tok, const char *upload_id, const char *path, const char *name, long *status)
{
    size_t len;
    char *data = at_slurp(path, &len);
    if (!data)
        return NULL;
    char url[256], hdr[512];
    snprintf(url, sizeof url, "/api/v1/uploads/%s/files", upload_id);
    snprintf(hdr, sizeof hdr, "X-File-Name: %s", name ? name : "");
    thttp r;
    char *id = NULL;
    if (thttp_req(&r, "POST", url, tok, "application/octet-stream", data, len, name ? hdr : NULL) == 0 &&
        r.status == 201 && tjson_str(r.json, "file_id"))
        id = strdup(tjson_str(r.json, "file_id"));
    if (status)
        *status = r.status;
    thttp_free(&r);
    free(data);
    return id;
}

char *at_book(const char *tok, char **upload_out)
{
    return at_book_ex(tok, upload_out, NULL);
}

char *at_book_ex(const char *tok, char **upload_out, const char *extra)
{
    char *wav = at_wav("book.wav", 0.5);
    char *up = at_upload(tok, "single", 1);
    char *fid = up && wav ? at_upload_raw(tok, up, wav, "book.wav", NULL) : NULL;
    char *id = NULL;
    if (fid) {
        char body[256];
        snprintf(body, sizeof body, "{\"upload_id\":\"%s\",\"title\":\"Fixture\"%s%s}", up, extra ? "," : "",
                 extra ? extra : "");
        thttp r;
        if (thttp_json(&r, "POST", "/api/v1/audiobooks", tok, body) == 0 && r.status == 201 &&
            tjson_str(r.json, "audiobook_id"))
            id = strdup(tjson_str(r.json, "audiobook_id"));
        thttp_free(&r);
    }
    if (upload_out)
        *upload_out = up;
    else
        free(up);
    free(wav);
    free(fid);
    return id;
}

int at_book_jobs(const char *tok, const char *book, long long *ids, int max)
{
    char url[256];
    snprintf(url, sizeof url, "/api/v1/audiobooks/%s/jobs", book);
    thttp r;
    int n = 0;
    if (thttp_json(&r, "GET", url, tok, NULL) == 0 && r.status == 200) {
        const cJSON *j;
        cJSON_ArrayForEach(j, cJSON_GetObjectItem(r.json, "jobs"))
            if (n < max)
                ids[n++] = atoll(cJSON_GetObjectItem(j, "id")->valuestring);
    }
    thttp_free(&r);
    return n;
}

int at_storage_files(const char *rel)
{
    char *out = tsh_out("find '%s/%s' -type f 2>/dev/null | wc -l", tenv("QUIRE_STORAGE"), rel);
    int n = out ? atoi(out) : 0;
    free(out);
    return n;
}

int at_raw_http(const void *req, size_t len, size_t cut, int timeout_ms, char *reply, size_t replysz)
{
    const char *url = tenv("QUIRE_URL");
    const char *colon = strrchr(url, ':');
    int port = colon ? atoi(colon + 1) : 80;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    size_t send_n = cut > 0 && cut < len ? cut : len;
    for (size_t off = 0; off < send_n;) {
        ssize_t k = send(fd, (const char *)req + off, send_n - off, MSG_NOSIGNAL);
        if (k <= 0)
            break;
        off += (size_t)k;
    }
    if (cut > 0 && cut < len) {
        close(fd);                       /* the client "lost its network" */
        if (reply && replysz)
            reply[0] = '\0';
        return 0;
    }
    size_t got = 0;
    char tmp[4096];
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0)
            break;
        ssize_t k = recv(fd, tmp, sizeof tmp, 0);
        if (k <= 0)
            break;
        if (reply && got + 1 < replysz) {
            size_t c = (size_t)k < replysz - 1 - got ? (size_t)k : replysz - 1 - got;
            memcpy(reply + got, tmp, c);
            got += c;
            reply[got] = '\0';
        }
        if (reply && strstr(reply, "\r\n\r\n"))
            break;
    }
    if (reply && replysz)
        reply[got < replysz ? got : replysz - 1] = '\0';
    close(fd);
    int status = 0;
    if (reply && !strncmp(reply, "HTTP/1.", 7))
        status = atoi(reply + 9);
    return status;
}

long long at_tus_head(const char *tok, const char *slot, long *status)
{
    thttp r;
    long long off = -1;
    thttp_req(&r, "HEAD", slot, tok, NULL, NULL, 0, AT_TUS);
    if (status)
        *status = r.status;
    if (r.status == 200 && thttp_header(&r, "Upload-Offset"))
        off = atoll(thttp_header(&r, "Upload-Offset"));
    thttp_free(&r);
    return off;
}

long long at_metric(const char *series)
{
    thttp h;
    long long v = -1;
    if (thttp_req(&h, "GET", "/metrics", NULL, NULL, NULL, 0, NULL) == 0 && h.body) {
        size_t n = strlen(series);
        for (const char *p = h.body; (p = strstr(p, series)); p += n)
            if ((p == h.body || p[-1] == '\n') && p[n] == ' ') {
                v = atoll(p + n + 1);
                break;
            }
    }
    thttp_free(&h);
    return v;
}

char *at_tus_create(const char *tok, const char *up, long long length, const char *meta, long *status)
{
    char path[256], hdr[512];
    snprintf(path, sizeof path, "/api/v1/uploads/%s/tus", up);
    snprintf(hdr, sizeof hdr, AT_TUS "\nUpload-Length: %lld%s%s", length, meta ? "\nUpload-Metadata: " : "",
             meta ? meta : "");
    thttp r;
    char *loc = NULL;
    *status = 0;
    if (thttp_req(&r, "POST", path, tok, NULL, NULL, 0, hdr) == 0) {
        *status = r.status;
        if (r.status == 201 && thttp_header(&r, "Location"))
            loc = strdup(thttp_header(&r, "Location"));
    }
    thttp_free(&r);
    return loc;
}
