/* tus.c - resumable uploads, tus 1.0.0 (core, creation, termination,
 * checksum with sha256) under /api/v1/uploads/{id}/tus: a slot holds bytes
 * [0, offset) of one file in uploads/<upload>/tus/<slot>.part; each PATCH
 * appends nginx's body file to it (copy_file_range, fdatasync before the
 * offset is acknowledged); the last byte turns the slot into an ordinary file
 * of the upload session, but only when its sha256 matches the one announced
 * at creation (metadata key "sha256", hex), if any. The digest is kept
 * running as chunks arrive (run_*), so the last PATCH does not wait for the
 * whole file to be read again. */
#include "api.h"
#include "tus.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define TUS_VERSION "1.0.0"
#define TUS_HDR "Tus-Resumable: " TUS_VERSION "\r\n"

/* Every tus reply, errors included, names the protocol version. */
qerr tus_check_version(qreq *r)
{
    r->err_headers = TUS_HDR;
    const char *v = api_header(r, "Tus-Resumable");
    if (!v || strcmp(v, TUS_VERSION) != 0) {
        r->err_headers = TUS_HDR "Tus-Version: " TUS_VERSION "\r\n";
        return api_fail(r, Q_ERR_PRECONDITION, "Tus-Resumable %.32s is not supported; this server speaks %s",
                        v ? v : "(missing)", TUS_VERSION);
    }
    return Q_OK;
}

qerr h_tus_options(qreq *r)
{
    char *h = qarena_printf(r->arena, TUS_HDR "Tus-Version: " TUS_VERSION "\r\nTus-Extension: creation,termination,checksum\r\n"
                            "Tus-Checksum-Algorithm: sha256\r\nTus-Max-Size: %lld\r\n", (long long)qconfig_get()->max_upload_bytes);
    return api_reply_raw(r, 204, NULL, "", 0, h);
}

static int b64val(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52
         : c == '+' || c == '-' ? 62 : c == '/' || c == '_' ? 63 : -1;
}

/* Decodes base64 [s, s+n) into out (NUL-terminated, cut at outsz - 1);
 * returns the decoded length, or -1 when a byte is not base64 or the output
 * was cut (callers that need exact bytes check it). */
long b64_decode(const char *s, size_t n, char *out, size_t outsz)
{
    int bad = 0;
    uint32_t acc = 0;
    int bits = 0;
    size_t j = 0;
    for (size_t i = 0; i < n && s[i] != '='; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0) {
            bad = 1;
            break;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (j + 1 < outsz)
                out[j++] = (char)((acc >> bits) & 0xFF);
            else
                bad = 1;
        }
    }
    out[j] = '\0';
    return bad ? -1 : (long)j;
}

/* The "filename" (or "name") entry of an Upload-Metadata header into out,
 * and its "sha256" entry (hex, decoded from base64) into sha (empty when
 * absent; "?" when present but unreadable). */
void tus_meta_filename(const char *meta, char *out, size_t outsz, char sha[65])
{
    out[0] = '\0';
    sha[0] = '\0';
    for (const char *p = meta; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *sp = memchr(p, ' ', len);
        size_t klen = sp ? (size_t)(sp - p) : len;
        if ((klen == 8 && !strncmp(p, "filename", 8)) || (klen == 4 && !strncmp(p, "name", 4) && !out[0]))
            if (sp)
                b64_decode(sp + 1, len - klen - 1, out, outsz);
        if (klen == 6 && !strncmp(p, "sha256", 6)) {
            char hex[80];
            long n = sp ? b64_decode(sp + 1, len - klen - 1, hex, sizeof hex) : -1;
            if (n == 64 && api_sha256_hex_ok(hex))
                memcpy(sha, hex, 65);           /* 64 digits and the NUL */
            else
                memcpy(sha, "?", 2);
        }
        p = end;
    }
}

/* The Upload-Checksum header ("sha256 <base64 of the 32-byte digest>") as
 * lowercase hex into want; 0 when absent, 1 when present, or an error. */
qerr tus_chunk_checksum(qreq *r, char want[65], int *given)
{
    *given = 0;
    const char *h = api_header(r, "Upload-Checksum");
    if (!h)
        return Q_OK;
    const char *sp = strchr(h, ' ');
    if (!sp || (size_t)(sp - h) != 6 || strncasecmp(h, "sha256", 6) != 0)
        return api_fail(r, Q_ERR_INVALID, "Upload-Checksum: only sha256 is supported (Tus-Checksum-Algorithm)");
    unsigned char d[40];
    long n = b64_decode(sp + 1, strlen(sp + 1), (char *)d, sizeof d);
    if (n != 32)
        return api_fail(r, Q_ERR_INVALID, "Upload-Checksum: the sha256 digest must be 32 bytes in base64");
    for (int i = 0; i < 32; i++)
        snprintf(want + 2 * i, 3, "%02x", d[i]);
    *given = 1;
    return Q_OK;
}

qerr h_tus_create(qreq *r)
{
    qerr e = tus_check_version(r);
    int64_t upload_id, total_files;
    if (e || (e = upload_lookup(r, r->params[0], &upload_id, NULL, &total_files)))
        return e;
    if (api_header(r, "Upload-Defer-Length"))
        return api_fail(r, Q_ERR_INVALID, "Upload-Defer-Length is not supported: send Upload-Length");
    const char *ul = api_header(r, "Upload-Length");
    int64_t length;
    if (!ul || qparse_i64(ul, 0, INT64_MAX, &length) != 0)
        return api_fail(r, Q_ERR_INVALID, "Upload-Length is missing or not a whole number");
    int64_t max = qconfig_get()->max_upload_bytes;
    if (length > max) {
        r->err_headers = qarena_printf(r->arena, TUS_HDR "Tus-Max-Size: %lld\r\n", (long long)max);
        return api_fail(r, Q_ERR_TOO_LARGE, "Upload-Length %lld is over the limit of %lld bytes", (long long)length,
                        (long long)max);
    }
    if (length == 0)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "the file is empty");
    char raw[1024], name[STORE_NAME_MAX + 1], want[65];
    const char *meta = api_header(r, "Upload-Metadata");
    tus_meta_filename(meta ? meta : "", raw, sizeof raw, want);
    if (want[0] == '?')
        return api_fail(r, Q_ERR_INVALID, "Upload-Metadata: sha256 must be the file's digest as 64 hex digits,"
                        " base64-encoded like every metadata value");
    store_sanitize_name(raw, name, sizeof name);
    /* a file that cannot fit is refused now, not after the client sent
     * most of it; a PATCH that still hits ENOSPC is handled too */
    struct statvfs vfs;
    if (statvfs(qconfig_get()->storage_dir, &vfs) == 0 && (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize < length)
        return api_fail(r, Q_ERR_NO_SPACE, "storage is full: %lld bytes free, the file has %lld",
                        (long long)vfs.f_bavail * (long long)vfs.f_frsize, (long long)length);
    qrows *rows;
    if ((e = qdb_query(r->db, r->arena, &rows, &r->err,
                       "SELECT (SELECT COUNT(*) FROM upload_files WHERE upload_id = ?)"
                       " + (SELECT COUNT(*) FROM tus_slots WHERE upload_id = ?)", "ii", upload_id, upload_id)))
        return e;
    if (qrows_i64(rows, 0, 0, 0) >= total_files)
        return api_fail(r, Q_ERR_CONFLICT, "the upload already has (or is receiving) all of its %lld files",
                        (long long)total_files);
    char pub[37];
    store_uuid(pub);
    const char *rel = qarena_printf(r->arena, "uploads/%s/tus/%s.part", r->params[0], pub);
    const char *abs = store_abs(r, rel);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/uploads/%s/tus", qconfig_get()->storage_dir, r->params[0]);
    int fd = -1;
    if (qmkdir_p(dir, 0750) != 0 || (fd = open(abs, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640)) < 0)
        return api_fail(r, errno == ENOSPC ? Q_ERR_NO_SPACE : Q_ERR_IO, "cannot create the upload slot");
    close(fd);
    e = qdb_exec(r->db, &r->err,
                 "INSERT INTO tus_slots (public_id, upload_id, file_name, length_bytes, storage_path, expected_sha256)"
                 " VALUES (?, ?, ?, ?, ?, NULLIF(?, ''))", "sisiss", pub, upload_id, name, length, rel, want);
    if (e) {
        unlink(abs);
        return e;
    }
    qdb_exec(r->db, &r->err, "UPDATE uploads SET status = 'uploading', updated_at = NOW(3)"
             " WHERE id = ? AND status = 'pending'", "i", upload_id);
    char *h = qarena_printf(r->arena, TUS_HDR "Location: /api/v1/uploads/%s/tus/%s\r\nUpload-Offset: 0\r\n",
                            r->params[0], pub);
    cJSON *o = api_obj(r);
    cJSON_AddStringToObject(o, "id", pub);
    cJSON_AddStringToObject(o, "url", qarena_printf(r->arena, "/api/v1/uploads/%s/tus/%s", r->params[0], pub));
    cJSON_AddStringToObject(o, "file_name", name);
    cJSON_AddNumberToObject(o, "length", (double)length);
    cJSON_AddNumberToObject(o, "offset", 0);
    return api_reply_json(r, 201, o, h);
}

typedef struct tus_slot {
    int64_t id, upload_id, length, offset;
    const char *name, *rel;
    const char *want;                       /* expected sha256 hex, or "" */
} tus_slot;

/* Loads the slot of the caller's upload; lock: FOR UPDATE (in a txn). */
static qerr slot_load(qreq *r, int lock, tus_slot *s)
{
    int64_t upload_id;
    qerr e = upload_lookup(r, r->params[0], &upload_id, NULL, NULL);
    if (e)
        return e;
    qrows *rows;
    e = lock ? qdb_query(r->db, r->arena, &rows, &r->err,
                         "SELECT id, length_bytes, offset_bytes, file_name, storage_path, COALESCE(expected_sha256, '')"
                         " FROM tus_slots"
                         " WHERE public_id = ? AND upload_id = ? FOR UPDATE", "si", r->params[1], upload_id)
             : qdb_query(r->db, r->arena, &rows, &r->err,
                         "SELECT id, length_bytes, offset_bytes, file_name, storage_path, COALESCE(expected_sha256, '')"
                         " FROM tus_slots"
                         " WHERE public_id = ? AND upload_id = ?", "si", r->params[1], upload_id);
    if (e)
        return e;
    if (rows->nrows == 0)
        return api_fail(r, Q_ERR_NOT_FOUND, "no upload slot %.40s (finished, terminated or never created)",
                        r->params[1]);
    s->id = qrows_i64(rows, 0, 0, 0);
    s->upload_id = upload_id;
    s->length = qrows_i64(rows, 0, 1, 0);
    s->offset = qrows_i64(rows, 0, 2, 0);
    s->name = qrows_get(rows, 0, 3);
    s->rel = qrows_get(rows, 0, 4);
    s->want = qrows_get(rows, 0, 5);
    return Q_OK;
}

qerr h_tus_head(qreq *r)
{
    tus_slot s;
    qerr e = tus_check_version(r);
    if (e || (e = slot_load(r, 0, &s)))
        return e;
    char *h = qarena_printf(r->arena, TUS_HDR "Upload-Offset: %lld\r\nUpload-Length: %lld\r\n",
                            (long long)s.offset, (long long)s.length);
    return api_reply_raw(r, 200, NULL, "", 0, h);
}

/* Running digests: the SHA-256 state of bytes [0, offset) of a slot's part,
 * fed by each acknowledged chunk of this process. A slot whose chunks did
 * not all pass here in order (a restart, another quire-api, two PATCHes
 * racing past each other) has no usable state and its finished file is
 * hashed whole, so the state is only ever a shortcut. Guarded by run_mu;
 * at most RUN_SLOTS slots, the least recently fed one evicted. */
#define RUN_SLOTS 256
static struct run {
    int64_t slot, offset, used_ms;
    qsha256 h;
} runs[RUN_SLOTS];
static pthread_mutex_t run_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_llong run_used, run_rehashed;     /* finished files, for /metrics */

static void run_drop(struct run *u)
{
    char sink[65];
    if (u->h.ctx)
        qsha256_final(&u->h, sink);
    memset(u, 0, sizeof *u);
}

/* The chunk [0, len) of body, just appended at offset at of slot, goes into
 * the slot's running digest when that digest stands exactly at at. The
 * state is taken out of the table while the chunk is hashed, so other
 * uploads' chunks do not wait for this one. */
static void run_feed(int64_t slot, int64_t at, const char *body, int64_t len)
{
    qsha256 h = {0};
    pthread_mutex_lock(&run_mu);
    for (int i = 0; i < RUN_SLOTS; i++)
        if (runs[i].slot == slot) {
            if (runs[i].offset == at) {
                h = runs[i].h;                  /* ours while we hash */
                runs[i].h.ctx = NULL;
            }
            run_drop(&runs[i]);
            break;
        }
    pthread_mutex_unlock(&run_mu);
    if (!h.ctx && (at != 0 || qsha256_init(&h) != 0))
        return;                                 /* a chunk went by elsewhere */
    int fd = len > 0 ? open(body, O_RDONLY | O_CLOEXEC) : -1;
    static _Thread_local char buf[1 << 16];
    int64_t done = 0;
    while (fd >= 0 && done < len) {
        ssize_t k = pread(fd, buf, len - done < (int64_t)sizeof buf ? (size_t)(len - done) : sizeof buf, done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        qsha256_update(&h, buf, (size_t)k);
        done += k;
    }
    if (fd >= 0)
        close(fd);
    pthread_mutex_lock(&run_mu);
    struct run *lru = &runs[0];
    for (int i = 1; i < RUN_SLOTS; i++)
        if (runs[i].used_ms < lru->used_ms)
            lru = &runs[i];
    run_drop(lru);
    if (done == len) {
        *lru = (struct run){.slot = slot, .offset = at + len, .used_ms = qmono_ms(), .h = h};
        h.ctx = NULL;
    }
    pthread_mutex_unlock(&run_mu);
    if (h.ctx) {
        char sink[65];
        qsha256_final(&h, sink);
    }
}

/* The finished slot's digest from its running state: 0, or -1 when there
 * is none standing at length (the caller hashes the file). The state goes
 * either way. */
static int run_take(int64_t slot, int64_t length, char sha[65])
{
    int rc = -1;
    pthread_mutex_lock(&run_mu);
    for (int i = 0; i < RUN_SLOTS; i++)
        if (runs[i].slot == slot) {
            if (runs[i].offset == length) {
                qsha256_final(&runs[i].h, sha);
                rc = 0;
            }
            run_drop(&runs[i]);
            break;
        }
    pthread_mutex_unlock(&run_mu);
    atomic_fetch_add(rc == 0 ? &run_used : &run_rehashed, 1);
    return rc;
}

static void run_forget(int64_t slot)
{
    pthread_mutex_lock(&run_mu);
    for (int i = 0; i < RUN_SLOTS; i++)
        if (runs[i].slot == slot)
            run_drop(&runs[i]);
    pthread_mutex_unlock(&run_mu);
}

void api_tus_digest_counts(long long *running, long long *rehashed)
{
    *running = atomic_load(&run_used);
    *rehashed = atomic_load(&run_rehashed);
}

/* The slot is complete: its part file becomes a file of the upload. */
static qerr slot_finish(qreq *r, const tus_slot *s, char file_pub[37], const char **format_out)
{
    const char *part = store_abs(r, s->rel);
    unsigned char magic[64];
    ssize_t mn = store_pread(part, 0, magic, sizeof magic);
    int is_audio = 0;
    const char *format = mn >= 0 ? store_sniff(magic, (size_t)mn, &is_audio) : "unreadable";
    if (!is_audio) {
        qerrctx ig = {0};
        qdb_exec(r->db, &ig, "DELETE FROM tus_slots WHERE id = ?", "i", s->id);
        store_remove(r, s->rel);
        return api_fail(r, Q_ERR_UNSUPPORTED, "the file is not audio: detected %s; the upload slot was removed",
                        format);
    }
    char sha[65];
    if (run_take(s->id, s->length, sha) != 0 && qsha256_file(part, sha) != 0)
        return api_fail(r, Q_ERR_IO, "cannot hash the finished upload");
    /* the announced digest is the client's proof of what it sent: a file
     * that differs is never recorded, and its bytes are of no use */
    if (s->want && s->want[0] && strcasecmp(sha, s->want) != 0) {
        qerrctx ig = {0};
        qdb_exec(r->db, &ig, "DELETE FROM tus_slots WHERE id = ?", "i", s->id);
        store_remove(r, s->rel);
        return api_fail(r, Q_ERR_CHECKSUM, "the finished file's sha256 is %s, not %s as announced in"
                        " Upload-Metadata; the upload slot was removed", sha, s->want);
    }
    store_uuid(file_pub);
    const char *rel = qarena_printf(r->arena, "uploads/%s/%s%s", r->params[0], file_pub, store_ext(format));
    /* the chunks were synced as they were acknowledged; the new name too */
    if (rename(part, store_abs(r, rel)) != 0)
        return api_fail(r, Q_ERR_IO, "cannot move the finished upload into place");
    if (qfile_durable(store_abs(r, rel)) != 0) {
        rename(store_abs(r, rel), part);
        return api_fail(r, Q_ERR_IO, "cannot move the finished upload into place");
    }
    qerr e = upload_add_file(r, s->upload_id, r->params[0], file_pub, s->name, rel, s->length, sha, format, NULL);
    if (e) {
        rename(store_abs(r, rel), part);
        return e;
    }
    qdb_exec(r->db, &r->err, "DELETE FROM tus_slots WHERE id = ?", "i", s->id);
    *format_out = format;
    return Q_OK;
}

qerr h_tus_patch(qreq *r)
{
    qerr e = tus_check_version(r);
    if (e)
        return e;
    const char *ct = api_param(r, "CONTENT_TYPE");
    if (!ct || strcasecmp(ct, "application/offset+octet-stream") != 0)
        return api_fail(r, Q_ERR_UNSUPPORTED, "PATCH needs Content-Type application/offset+octet-stream");
    const char *uo = api_header(r, "Upload-Offset");
    int64_t at;
    if (!uo || qparse_i64(uo, 0, INT64_MAX, &at) != 0)
        return api_fail(r, Q_ERR_INVALID, "Upload-Offset is missing or not a whole number");
    const char *body = api_param(r, "REQUEST_BODY_FILE");
    struct stat st;
    int64_t len = 0;
    if (body && *body && stat(body, &st) == 0)
        len = st.st_size;
    /* the checksum extension: a chunk whose digest differs is refused
     * before anything is appended, so the offset stays where it was */
    char want[65], have[65];
    int given;
    if ((e = tus_chunk_checksum(r, want, &given)))
        return e;
    if (given) {
        if (len > 0 ? qsha256_file(body, have) != 0 : (qsha256_hex("", 0, have), 0))
            return api_fail(r, Q_ERR_IO, "cannot read the request body");
        if (strcmp(want, have) != 0)
            return api_fail(r, Q_ERR_CHECKSUM, "Upload-Checksum: the chunk's sha256 is %s, not %s; nothing was"
                            " appended", have, want);
    }
    if ((e = api_need_db(r)) || (e = qdb_begin(r->db, &r->err)))
        return e;
    tus_slot s;
    if ((e = slot_load(r, 1, &s)))
        goto fail;
    if (at != s.offset) {
        r->err_headers = qarena_printf(r->arena, TUS_HDR "Upload-Offset: %lld\r\n", (long long)s.offset);
        e = api_fail(r, Q_ERR_CONFLICT, "Upload-Offset %lld does not match the offset %lld of the upload",
                     (long long)at, (long long)s.offset);
        goto fail;
    }
    if (at + len > s.length) {
        e = api_fail(r, Q_ERR_TOO_LARGE, "the chunk ends at %lld, past Upload-Length %lld", (long long)(at + len),
                     (long long)s.length);
        goto fail;
    }
    /* refuse non-audio at the first chunk when it is long enough to tell;
     * a tiny first chunk is checked when the file is complete */
    if (at == 0 && (len >= 16 || len == s.length) && len > 0) {
        unsigned char magic[64];
        ssize_t mn = store_pread(body, 0, magic, len < 64 ? (size_t)len : sizeof magic);
        int is_audio = 0;
        const char *what = mn >= 0 ? store_sniff(magic, (size_t)mn, &is_audio) : "unreadable";
        if (!is_audio) {
            qdb_exec(r->db, &r->err, "DELETE FROM tus_slots WHERE id = ?", "i", s.id);
            qdb_commit(r->db, &r->err);
            store_remove(r, s.rel);
            return api_fail(r, Q_ERR_UNSUPPORTED, "the file is not audio: detected %s; the upload slot was removed",
                            what);
        }
    }
    if (len > 0) {
        if ((e = store_append(r, body, len, s.rel, at)) ||
            (e = qdb_exec(r->db, &r->err, "UPDATE tus_slots SET offset_bytes = ?, updated_at = NOW(3) WHERE id = ?",
                          "ii", at + len, s.id))) {
            /* bytes past the acknowledged offset (a write cut by ENOSPC)
             * would hold space on a full disk: give it back now */
            const char *part = store_abs(r, s.rel);
            if (part && truncate(part, (off_t)at) != 0)
                QLOG_W("cannot cut %s back to %lld bytes: %s", s.rel, (long long)at, strerror(errno));
            goto fail;
        }
    }
    if ((e = qdb_commit(r->db, &r->err)))
        goto fail;
    run_feed(s.id, at, body, len);
    s.offset = at + len;
    const char *extra = "";
    if (s.offset == s.length) {
        char file_pub[37];
        const char *format = "";
        if ((e = slot_finish(r, &s, file_pub, &format)))
            return e;
        extra = qarena_printf(r->arena, "X-File-Id: %s\r\n", file_pub);
    }
    char *h = qarena_printf(r->arena, TUS_HDR "Upload-Offset: %lld\r\n%s", (long long)s.offset, extra);
    return api_reply_raw(r, 204, NULL, "", 0, h);
fail:
    qdb_rollback(r->db);
    return e;
}

qerr h_tus_delete(qreq *r)
{
    qerr e = tus_check_version(r);
    tus_slot s;
    if (e || (e = slot_load(r, 0, &s)) ||
        (e = qdb_exec(r->db, &r->err, "DELETE FROM tus_slots WHERE id = ?", "i", s.id)))
        return e;
    run_forget(s.id);
    store_remove(r, s.rel);
    return api_reply_raw(r, 204, NULL, "", 0, TUS_HDR);
}
