/* bodytap.c - hashes upload bodies while nginx is still receiving them.
 *
 * nginx writes an upload's body to a file and calls quire-api only when the
 * last byte is in; hashing a gigabyte after that would double the time a
 * client waits. So one thread of quire-api watches nginx's upload temp
 * directory (inotify) and follows every body file as it grows, feeding the
 * bytes to SHA-256: a raw body from byte 0, a multipart body from the end of
 * its first part's headers up to the first delimiter after them. When the
 * request arrives, its handler claims the file: it finishes the little that
 * is left and gets the digest of exactly the bytes it is about to store.
 *
 * A multipart body's part is also written, from the buffer it was just
 * hashed from, to a staging file in storage (storage/.tap, the same file
 * system as its destination): the handler then renames that into place
 * instead of copying a gigabyte after the last byte came. (A second thread
 * copying with copy_file_range fell hundreds of megabytes behind on two
 * cores; the bytes in hand are the cheapest to write.) A staging file that
 * cannot be written (a full disk) is dropped and the handler copies as
 * before.
 *
 * The tap is only a head start. The handler names the range it wants; any
 * doubt (no entry, another inode, another start, another delimiter, a queue
 * overflow) and the claim fails, and the handler hashes the stored bytes
 * itself as before. nginx appends to a body file and never rewrites it, so
 * bytes once hashed stay what was hashed.
 *
 * Bytes that will be stored (all of a raw body, the staging copy of a part)
 * are also sent on their way to the disk as they are hashed or copied
 * (sync_file_range), so that making the stored file durable before the
 * reply (store.c) has only the last few megabytes left to wait for.
 *
 * Who owns what: the tap thread owns the table; a claim takes its entry out
 * under tap_mu and then owns it alone. */
#include "api.h"
#include "util.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAP_SLOTS 256
#define TAP_HEAD (64 * 1024)         /* multipart part headers must fit (as in uploads.c) */
#define TAP_STEP (8 << 20)           /* bytes hashed per turn before tap_mu is let go */
#define TAP_WIN (1 << 20)            /* bytes read at a time (>= TAP_HEAD) */
#define TAP_NEEDLE_MAX 80            /* "\r\n--" + a boundary of at most 70 */
/* Writeback is asked for this many bytes at a time: in 1 MiB requests the
 * allocation of each small range (under the inode's lock that nginx's
 * appends take too) made raw uploads slower; 8-32 MiB measured alike. */
#define TAP_FLUSH (16 << 20)

enum { TAP_SNIFF, TAP_RAW, TAP_PART, TAP_DONE, TAP_DEAD };

typedef struct tap {
    char name[NAME_MAX + 1];
    int fd;
    dev_t dev;
    ino_t ino;
    int mode;
    qsha256 h;
    int64_t start;               /* the hashed range starts here            */
    int64_t hashed;              /* bytes [start, hashed) are in h          */
    int64_t end;                 /* TAP_DONE: where the delimiter is, or -1 */
    char needle[TAP_NEEDLE_MAX];
    size_t nlen;
    int tee;                     /* the staging file of a part, or -1       */
    int64_t teed;                /* bytes [start, teed) are in it           */
    int64_t flushed;             /* writeback asked for up to here (body file offset) */
} tap;

static pthread_mutex_t tap_mu = PTHREAD_MUTEX_INITIALIZER;
static tap *taps[TAP_SLOTS];
static char tap_dir[PATH_MAX];
static char tap_stage[PATH_MAX];          /* storage/.tap; "" when none */
static int tap_ifd = -1;
static volatile int tap_quit;
static pthread_t tap_thread;
static int tap_running;
static atomic_llong tap_hits, tap_misses;    /* claims, for /metrics */

static void stage_path(const tap *t, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", tap_stage, t->name);
}

/* Closes the staging file; drop: it is not handed over, remove it. */
static void tee_close(tap *t, int drop)
{
    if (t->tee < 0)
        return;
    close(t->tee);
    t->tee = -1;
    if (drop) {
        char p[PATH_MAX + NAME_MAX + 2];
        stage_path(t, p, sizeof p);
        unlink(p);
    }
}

static void tap_free(tap *t)
{
    if (!t)
        return;
    tee_close(t, 1);
    if (t->fd >= 0)
        close(t->fd);
    if (t->h.ctx) {
        char sink[65];
        qsha256_final(&t->h, sink);
    }
    free(t);
}

/* Appends the n bytes just hashed (they begin at t->teed) to t's staging
 * file, and sends them on to the disk; a staging file that fails goes. */
static void tee_write(tap *t, const unsigned char *buf, size_t n)
{
    if (t->tee < 0 || t->teed != t->hashed)
        return;
    for (size_t w = 0; w < n;) {
        ssize_t k = pwrite(t->tee, buf + w, n - w, t->teed - t->start + (int64_t)w);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            tee_close(t, 1);
            return;
        }
        w += (size_t)k;
    }
    t->teed += (int64_t)n;
    if (t->teed - t->flushed >= TAP_FLUSH) {
        qfile_writeback(t->tee, t->flushed - t->start, t->teed - t->flushed);
        t->flushed = t->teed;
    }
}

/* Reads what the file holds past the hashed range into the digest, at most
 * budget bytes. final: the file is complete (a claim), so a short head is
 * all there is. Returns 0 when this entry has nothing more to do, 1 when it
 * has caught up with the file, 2 when the budget ran out first. buf holds
 * TAP_WIN bytes. */
static int tap_advance(tap *t, int final, int64_t budget, unsigned char *buf)
{
    struct stat st;
    if (t->mode == TAP_DONE || t->mode == TAP_DEAD)
        return 0;
    if (fstat(t->fd, &st) != 0) {
        t->mode = TAP_DEAD;
        return 0;
    }
    int64_t size = st.st_size;
    if (t->mode == TAP_SNIFF) {
        size_t want = size < TAP_HEAD ? (size_t)size : TAP_HEAD;
        if (want < 2 && !final)
            return 1;
        ssize_t n = pread(t->fd, buf, want, 0);
        if (n < 0 || (size_t)n != want) {
            t->mode = TAP_DEAD;
            return 0;
        }
        if (n < 2 || buf[0] != '-' || buf[1] != '-') {
            t->mode = TAP_RAW;                  /* a raw body: all of it */
        } else {
            const unsigned char *eol = memmem(buf, (size_t)n, "\r\n", 2);
            const unsigned char *hend = eol ? memmem(eol, (size_t)n - (size_t)(eol - buf), "\r\n\r\n", 4) : NULL;
            if (!hend) {
                if (!final && n < TAP_HEAD)
                    return 1;                   /* the headers are still coming */
                t->mode = TAP_DEAD;
                return 0;
            }
            size_t bl = (size_t)(eol - buf) - 2;
            if (bl == 0 || bl > 70) {
                t->mode = TAP_DEAD;
                return 0;
            }
            memcpy(t->needle, "\r\n--", 4);
            memcpy(t->needle + 4, buf + 2, bl);
            t->nlen = bl + 4;
            t->start = t->hashed = (int64_t)(hend + 4 - buf);
            t->mode = TAP_PART;
            if (tap_stage[0]) {
                char sp[PATH_MAX + NAME_MAX + 2];
                stage_path(t, sp, sizeof sp);
                unlink(sp);                     /* a leftover of a crash */
                t->tee = open(sp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
                t->teed = t->flushed = t->start;
            }
        }
    }
    /* read, not mapped: see store_hash_range */
    while (t->hashed < size && budget > 0) {
        size_t k = size - t->hashed < TAP_WIN ? (size_t)(size - t->hashed) : TAP_WIN;
        ssize_t n = pread(t->fd, buf, k, t->hashed);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            t->mode = TAP_DEAD;
            return 0;
        }
        k = (size_t)n;
        size_t use = k;
        if (t->mode == TAP_PART) {
            const unsigned char *hit = memmem(buf, k, t->needle, t->nlen);
            if (hit) {
                qsha256_update(&t->h, buf, (size_t)(hit - buf));
                tee_write(t, buf, (size_t)(hit - buf));
                t->end = t->hashed + (hit - buf);
                t->hashed = t->end;
                t->mode = TAP_DONE;
                return 0;
            }
            /* a delimiter may begin in the last nlen-1 bytes: they are looked
             * at again with what follows */
            if (t->hashed + (int64_t)k < size || !final)
                use = k >= t->nlen ? k - (t->nlen - 1) : 0;
        }
        qsha256_update(&t->h, buf, use);
        if (use == 0)
            break;
        if (t->mode == TAP_PART)
            tee_write(t, buf, use);
        /* a raw body becomes the stored file itself (a link): its way to the
         * disk starts now, so the fdatasync before the reply waits only for
         * the tail */
        t->hashed += (int64_t)use;
        if (t->mode == TAP_RAW && t->hashed - t->flushed >= TAP_FLUSH) {
            qfile_writeback(t->fd, t->flushed, t->hashed - t->flushed);
            t->flushed = t->hashed;
        }
        budget -= (int64_t)use;
    }
    if (final && t->hashed >= size) {
        t->end = t->mode == TAP_PART ? -1 : size;
        t->mode = TAP_DONE;
        return 0;
    }
    return budget <= 0 ? 2 : 1;
}

static int tap_find(const char *name)
{
    for (int i = 0; i < TAP_SLOTS; i++)
        if (taps[i] && !strcmp(taps[i]->name, name))
            return i;
    return -1;
}

/* With tap_mu held. */
static void tap_drop_all(void)
{
    for (int i = 0; i < TAP_SLOTS; i++) {
        tap_free(taps[i]);
        taps[i] = NULL;
    }
}

static void tap_open(const char *name)
{
    int slot = -1;
    for (int i = 0; i < TAP_SLOTS && slot < 0; i++)
        if (!taps[i])
            slot = i;
    if (slot < 0 || strlen(name) > NAME_MAX)
        return;                             /* full: those requests hash for themselves */
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", tap_dir, name) >= (int)sizeof path)
        return;
    tap *t = calloc(1, sizeof *t);
    if (!t)
        return;
    t->tee = -1;
    t->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (t->fd < 0 || fstat(t->fd, &st) != 0 || !S_ISREG(st.st_mode) || qsha256_init(&t->h) != 0) {
        tap_free(t);
        return;
    }
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dev = st.st_dev;
    t->ino = st.st_ino;
    t->end = -1;
    t->tee = -1;
    taps[slot] = t;
}

static void tap_event(const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        tap_drop_all();                     /* what happened is unknown */
        return;
    }
    if (!ev->len)
        return;
    int i = tap_find(ev->name);
    if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
        if (i >= 0) {
            tap_free(taps[i]);
            taps[i] = NULL;
        }
        return;
    }
    if ((ev->mask & IN_CREATE) && i < 0)
        tap_open(ev->name);
}

/* Each turn: read the events (a body file appeared, grew, went), then hash
 * at most a step of every growing body, so one large upload does not keep
 * the others (or a claim) waiting. */
static void *tap_main(void *arg)
{
    (void)arg;
    _Alignas(struct inotify_event) char evbuf[16 * 1024];
    unsigned char *buf = malloc(TAP_WIN);
    int backlog = 0;
    if (!buf) {
        QLOG_W("upload tap: out of memory; uploads are hashed after they arrive");
        return NULL;
    }
    while (!tap_quit) {
        struct pollfd p = {.fd = tap_ifd, .events = POLLIN};
        int pr = poll(&p, 1, backlog ? 0 : 200);
        pthread_mutex_lock(&tap_mu);
        if (pr > 0) {
            ssize_t n = read(tap_ifd, evbuf, sizeof evbuf);
            for (char *q = evbuf; n > 0 && q < evbuf + n;) {
                const struct inotify_event *ev = (const struct inotify_event *)q;
                tap_event(ev);
                q += sizeof *ev + ev->len;
            }
        }
        pthread_mutex_unlock(&tap_mu);
        /* the lock is let go between bodies: a claim waits for one step at
         * most, never for a whole round */
        backlog = 0;
        for (int i = 0; i < TAP_SLOTS; i++) {
            pthread_mutex_lock(&tap_mu);
            if (taps[i] && tap_advance(taps[i], 0, TAP_STEP, buf) == 2)
                backlog = 1;
            pthread_mutex_unlock(&tap_mu);
        }
    }
    free(buf);
    return NULL;
}

/* Empties the staging directory: what a crashed quire-api left there. */
static void stage_clean(void)
{
    DIR *d = opendir(tap_stage);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.')
            unlinkat(dirfd(d), e->d_name, 0);
    if (d)
        closedir(d);
}

int api_bodytap_start(const char *dir, const char *stage)
{
    tap_stage[0] = '\0';
    if (stage && *stage && strlen(stage) < sizeof tap_stage && (mkdir(stage, 0750) == 0 || errno == EEXIST)) {
        snprintf(tap_stage, sizeof tap_stage, "%s", stage);
        stage_clean();
    }
    /* nginx names body files by the path in its configuration, quire-api
     * knows the directory by QUIRE_VAR: both are compared resolved */
    if (!dir || !*dir || !realpath(dir, tap_dir)) {
        QLOG_W("upload tap off (%s: %s): uploads are hashed after they arrive", dir ? dir : "", strerror(errno));
        return -1;
    }
    tap_ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (tap_ifd < 0 || inotify_add_watch(tap_ifd, tap_dir, IN_CREATE | IN_MODIFY | IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR) < 0) {
        QLOG_W("upload tap off (%s: %s): uploads are hashed after they arrive", tap_dir, strerror(errno));
        if (tap_ifd >= 0)
            close(tap_ifd);
        tap_ifd = -1;
        return -1;
    }
    tap_quit = 0;
    if (pthread_create(&tap_thread, NULL, tap_main, NULL) != 0) {
        close(tap_ifd);
        tap_ifd = -1;
        return -1;
    }
    tap_running = 1;
    QLOG_I("upload tap on %s: bodies are hashed while they arrive", tap_dir);
    return 0;
}

void api_bodytap_stop(void)
{
    if (!tap_running)
        return;
    tap_quit = 1;
    pthread_join(tap_thread, NULL);
    tap_running = 0;
    pthread_mutex_lock(&tap_mu);
    tap_drop_all();
    pthread_mutex_unlock(&tap_mu);
    close(tap_ifd);
    tap_ifd = -1;
}

/* The tap's entry for the body file at path, taken out of the table (the
 * caller owns it then), or NULL. */
static tap *tap_take(const char *path, struct stat *st)
{
    const char *base = strrchr(path, '/');
    char dir[PATH_MAX], real[PATH_MAX];
    if (!base || base - path >= (ptrdiff_t)sizeof dir)
        return NULL;
    memcpy(dir, path, (size_t)(base - path));
    dir[base - path] = '\0';
    if (!realpath(dir, real) || strcmp(real, tap_dir) != 0 || stat(path, st) != 0)
        return NULL;
    pthread_mutex_lock(&tap_mu);
    int i = tap_find(base + 1);
    tap *t = i >= 0 ? taps[i] : NULL;
    if (t)
        taps[i] = NULL;                     /* ours now: the tap thread lets go */
    pthread_mutex_unlock(&tap_mu);
    return t;
}

void api_bodytap_forget(const char *path)
{
    struct stat st;
    if (tap_running && path)
        tap_free(tap_take(path, &st));
}

int api_bodytap_claim(const char *path, int64_t start, const char *needle, size_t nlen, int64_t *end, char sha[65],
                      char *staged, size_t stagedsz)
{
    if (staged && stagedsz)
        staged[0] = '\0';
    if (!tap_running || !path)
        return -1;
    struct stat st;
    tap *t = tap_take(path, &st);
    if (!t) {
        atomic_fetch_add(&tap_misses, 1);
        return -1;
    }
    unsigned char *buf = malloc(TAP_WIN);
    int ok = buf && t->dev == st.st_dev && t->ino == st.st_ino;
    int64_t t0 = qmono_us(), hash_left = st.st_size - t->hashed;
    while (ok && tap_advance(t, 1, INT64_MAX, buf) != 0)
        ;
    free(buf);
    int64_t t1 = qmono_us();
    ok = ok && t->mode == TAP_DONE && t->start == start && t->end >= start &&
         (needle ? t->nlen == nlen && !memcmp(t->needle, needle, nlen) : t->nlen == 0);
    if (ok) {
        qsha256_final(&t->h, sha);
        t->h.ctx = NULL;
        *end = t->end;
        /* the staging file holds what was hashed, or it is not handed over */
        if (t->tee >= 0 && t->teed != t->end)
            tee_close(t, 1);
        QLOG_D("upload tap: claimed with %lld bytes to hash (%.1f ms)%s", (long long)hash_left, (t1 - t0) / 1000.0,
               t->tee >= 0 ? ", part staged" : "");
        if (t->tee >= 0 && staged && stagedsz > strlen(tap_stage) + strlen(t->name) + 1) {
            stage_path(t, staged, stagedsz);    /* the caller renames it into place */
            tee_close(t, 0);
        }
    }
    tap_free(t);
    atomic_fetch_add(ok ? &tap_hits : &tap_misses, 1);
    return ok ? 0 : -1;
}

void api_bodytap_counts(long long *hits, long long *misses)
{
    *hits = atomic_load(&tap_hits);
    *misses = atomic_load(&tap_misses);
}
