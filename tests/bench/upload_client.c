/* upload_client.c - the client of `make bench-upload` (driven by
 * tests/bench/upload.sh): one HTTP/1.1 upload of a file to quire through
 * nginx, the file's bytes sent with sendfile(2) so the client costs little.
 *   upload_client raw|multipart HOST PORT PATH TOKEN FILE
 * Prints "<status> <seconds>" then the response body on the next line. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: upload_client raw|multipart HOST PORT PATH TOKEN FILE\n");
        return 2;
    }
    int multipart = !strcmp(argv[1], "multipart");
    int file = open(argv[6], O_RDONLY);
    struct stat st;
    if (file < 0 || fstat(file, &st) != 0) {
        perror(argv[6]);
        return 1;
    }
    const char *b = "benchBoundary8d2f0c1e9a7b6c5d";
    char pre[512], post[128], head[1024];
    int npre = 0, npost = 0;
    if (multipart) {
        npre = snprintf(pre, sizeof pre, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bench.wav\"\r\n"
                        "Content-Type: audio/wav\r\n\r\n", b);
        npost = snprintf(post, sizeof post, "\r\n--%s--\r\n", b);
    }
    long long total = (long long)st.st_size + npre + npost;
    int nh = snprintf(head, sizeof head, "POST %s HTTP/1.1\r\nHost: %s:%s\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: %s%s\r\nX-File-Name: bench.wav\r\nContent-Length: %lld\r\n"
                      "Connection: close\r\n\r\n", argv[4], argv[2], argv[3], argv[5],
                      multipart ? "multipart/form-data; boundary=" : "application/octet-stream", multipart ? b : "",
                      total);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[3]))};
    inet_pton(AF_INET, argv[2], &a.sin_addr);
    double t0 = now();
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("connect");
        return 1;
    }
    if (send_all(fd, head, (size_t)nh) || send_all(fd, pre, (size_t)npre))
        return 1;
    off_t off = 0;
    while (off < st.st_size) {
        ssize_t k = sendfile(fd, file, &off, (size_t)(st.st_size - off));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            perror("sendfile");
            return 1;
        }
    }
    if (send_all(fd, post, (size_t)npost))
        return 1;
    static char reply[1 << 16];
    size_t got = 0;
    for (;;) {
        ssize_t k = recv(fd, reply + got, sizeof reply - 1 - got, 0);
        if (k <= 0)
            break;
        got += (size_t)k;
        if (got == sizeof reply - 1)
            break;
    }
    double t1 = now();
    reply[got] = '\0';
    close(fd);
    int status = got > 12 ? atoi(reply + 9) : 0;
    const char *body = strstr(reply, "\r\n\r\n");
    printf("%d %.6f\n%s\n", status, t1 - t0, body ? body + 4 : "");
    return status >= 200 && status < 300 ? 0 : 1;
}
