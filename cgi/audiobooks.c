/* audiobooks.c - /api/v1/audiobooks: create one from a finished upload (its
 * files become chapters, linked into audiobooks/<uuid>/chapters/, and its
 * jobs are enqueued in the same transaction), list, get, update, delete, and
 * the seed-shaped job summary GET /api/v1/audiobooks/{id}/jobs.
 *
 * Visibility: a public book is readable by every signed-in user (here, and
 * its transcripts, audio and search hits); only its owner or an admin
 * changes it or sees its jobs (others: 403 on a public book, 404 on a
 * private one, whose existence stays private).
 *
 * Status is computed on read from the audiobook's jobs (nothing has to
 * remember to update it): processing while a job is waiting, pending or
 * running; failed when none is and one failed or was cancelled; ready when
 * every job completed. */
#include "api.h"
#include "decode.h"
#include "notify.h"
#include "queue.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AB_MAX_CHAPTERS 1000

/* The status expression over audiobooks a (a string literal, so statements
 * that use it stay cacheable). */
#define AB_STATUS_SQL \
    "CASE WHEN EXISTS (SELECT 1 FROM jobs j WHERE j.audiobook_id = a.id" \
    " AND j.status IN ('waiting','pending','running')) THEN 'processing'" \
    " WHEN EXISTS (SELECT 1 FROM jobs j WHERE j.audiobook_id = a.id" \
    " AND j.status IN ('failed','cancelled')) THEN 'failed' ELSE 'ready' END"

/* Natural order: digit runs compare as numbers, the rest case-insensitively
 * ("ch2" < "ch10"). */
static int natural_cmp(const char *a, const char *b)
{
    while (*a && *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            while (*a == '0')
                a++;
            while (*b == '0')
                b++;
            size_t na = 0, nb = 0;
            while (isdigit((unsigned char)a[na]))
                na++;
            while (isdigit((unsigned char)b[nb]))
                nb++;
            if (na != nb)
                return na < nb ? -1 : 1;
            int c = strncmp(a, b, na);
            if (c)
                return c;
            a += na;
            b += nb;
            continue;
        }
        int ca = tolower((unsigned char)*a), cb = tolower((unsigned char)*b);
        if (ca != cb)
            return ca < cb ? -1 : 1;
        a++;
        b++;
    }
    return *a ? 1 : *b ? -1 : 0;
}

typedef struct ab_file {
    const char *name, *rel, *sha, *format;
    int64_t size, seq;
} ab_file;

static int file_cmp(const void *x, const void *y)
{
    const ab_file *a = x, *b = y;
    int c = natural_cmp(a->name, b->name);
    return c ? c : (a->seq < b->seq ? -1 : a->seq > b->seq);
}

/* What a handler is about to do with an audiobook. A public book is
 * readable by every signed-in user; only its owner (or an admin) changes it
 * or sees its jobs. */
typedef enum { AB_READ, AB_WRITE } ab_access;

/* Loads an audiobook by public id for the access asked. A book the caller
 * may not even read is 404 (its existence stays private); a public book the
 * caller may read but not change is 403, since its GET already shows it
 * exists. *mine (may be NULL) says whether the caller may change it. */
static qerr ab_lookup(qreq *r, const char *pub, ab_access want, int64_t *id, int *mine)
{
    qerr e = api_need_db(r);
    if (e)
        return e;
    if (strlen(pub) != 36)
        return api_fail(r, Q_ERR_NOT_FOUND, "no audiobook %.40s", pub);
    qrows *rows;
    if ((e = qdb_query(r->db, r->arena, &rows, &r->err,
                       "SELECT id, owner_id, is_public FROM audiobooks WHERE public_id = ?", "s", pub)))
        return e;
    int owns = rows->nrows && (api_is_admin(r) || qrows_i64(rows, 0, 1, 0) == r->user.id);
    int visible = owns || (rows->nrows && qrows_i64(rows, 0, 2, 0) != 0);
    if (!visible)
        return api_fail(r, Q_ERR_NOT_FOUND, "no audiobook %s", pub);
    if (want == AB_WRITE && !owns)
        return api_fail(r, Q_ERR_FORBIDDEN, "audiobook %s is public but not yours: only its owner may change it"
                        " or see its jobs", pub);
    *id = qrows_i64(rows, 0, 0, 0);
    if (mine)
        *mine = owns;
    return Q_OK;
}

static int lang_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 16)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
            return 0;
    return 1;
}

/* Enqueues one job of the audiobook with payload object p (consumed). */
static qerr ab_enqueue(qreq *r, const char *type, int64_t ab_id, int64_t owner, int premium, int priority,
                       cJSON *p, const int64_t *deps, int ndeps, int64_t *job_id)
{
    char *payload = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    if (!payload)
        return api_fail(r, Q_ERR_NOMEM, "out of memory");
    qjob_spec s = {.type = type, .payload = payload, .priority = priority, .premium = premium,
                   .owner_id = owner, .audiobook_id = ab_id, .depends_on = deps, .ndeps = ndeps};
    qerr e = qqueue_enqueue(r->db, &s, job_id, NULL, &r->err);
    cJSON_free(payload);
    return e;
}

static cJSON *base_payload(int64_t ab_id, const char *pub, const char *language)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "audiobook_id", (double)ab_id);
    cJSON_AddStringToObject(p, "audiobook", pub);
    cJSON_AddStringToObject(p, "language", language);
    return p;
}

static cJSON *ids_array(const int64_t *ids, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)ids[i]));
    return a;
}

qerr audiobook_create_decode(qreq *r, const cJSON *in, audiobook_in *out)
{
    qerr e;
    const char *upload_pub = NULL, *title = NULL, *author = "", *desc = NULL, *language = "en", *notify = NULL;
    int is_public = 0;
    int64_t priority = 0;
    if ((e = qjson_str(in, "upload_id", 1, 64, &upload_pub, &r->err)) ||
        (e = qjson_str(in, "title", 1, 255, &title, &r->err)) ||
        (e = qjson_str(in, "author", 0, 255, &author, &r->err)) ||
        (e = qjson_str(in, "description", 0, 20000, &desc, &r->err)) ||
        (e = qjson_str(in, "language", 0, 16, &language, &r->err)) ||
        (e = qjson_bool(in, "is_public", 0, &is_public, &r->err)) ||
        (e = qjson_int(in, "priority", 0, -100, 100, &priority, &r->err)) ||
        (e = qjson_str(in, "notify_url", 0, QNOTIFY_URL_MAX, &notify, &r->err)))
        return e;
    if (notify && !qnotify_url_ok(notify))
        return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'notify_url' must be an http:// or https:// URL");
    if (!*title)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'title' must not be empty");
    if (!lang_ok(language))
        return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'language' must be a language code like \"en\" or \"en-US\"");
    *out = (audiobook_in){upload_pub, title, author, desc, language, notify, is_public, priority};
    return Q_OK;
}

qerr h_audiobook_create(qreq *r)
{
    cJSON *body;
    audiobook_in in;
    qerr e = api_json_body(r, &body);
    if (e || (e = audiobook_create_decode(r, body, &in)))
        return e;
    const char *upload_pub = in.upload_pub, *title = in.title, *author = in.author, *desc = in.desc,
               *language = in.language, *notify = in.notify;
    int is_public = in.is_public;
    int64_t priority = in.priority;
    int64_t upload_id, owner, total_files;
    if ((e = upload_lookup(r, upload_pub, &upload_id, &owner, &total_files)))
        return e;
    qrows *f, *u;
    if ((e = qdb_query(r->db, r->arena, &f, &r->err,
                       "SELECT file_name, storage_path, sha256, format, size_bytes, seq FROM upload_files"
                       " WHERE upload_id = ? ORDER BY seq", "i", upload_id)) ||
        (e = qdb_query(r->db, r->arena, &u, &r->err,
                       "SELECT u.upload_type, us.priority_class FROM uploads u JOIN users us ON us.id = u.owner_id"
                       " WHERE u.id = ?", "i", upload_id)))
        return e;
    if (f->nrows == 0)
        return api_fail(r, Q_ERR_CONFLICT, "the upload has no files yet");
    if (f->nrows < total_files)
        return api_fail(r, Q_ERR_CONFLICT, "the upload has %d of its %lld files; upload the rest first", f->nrows,
                        (long long)total_files);
    if (f->nrows > AB_MAX_CHAPTERS)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "at most %d chapters", AB_MAX_CHAPTERS);
    int premium = u->nrows && !strcmp(qrows_get(u, 0, 1), "premium");
    int n = f->nrows;
    ab_file *files = qarena_alloc(r->arena, sizeof *files * (size_t)n);
    int64_t *chapter_ids = qarena_alloc(r->arena, sizeof(int64_t) * (size_t)n);
    int64_t *transcribe_ids = qarena_alloc(r->arena, sizeof(int64_t) * (size_t)n);
    if (!files || !chapter_ids || !transcribe_ids)
        return api_fail(r, Q_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        files[i] = (ab_file){qrows_get(f, i, 0), qrows_get(f, i, 1), qrows_get(f, i, 2), qrows_get(f, i, 3),
                             qrows_i64(f, i, 4, 0), qrows_i64(f, i, 5, 0)};
    if (u->nrows && !strcmp(qrows_get(u, 0, 0), "multi"))
        qsort(files, (size_t)n, sizeof *files, file_cmp);

    char pub[37];
    store_uuid(pub);
    const char *dir = qarena_printf(r->arena, "audiobooks/%s", pub);
    const char **rels = qarena_alloc(r->arena, sizeof(char *) * (size_t)n);
    if (!rels)
        return api_fail(r, Q_ERR_NOMEM, "out of memory");
    /* chapters are hard links: deleting the upload later keeps them */
    for (int i = 0; i < n; i++) {
        rels[i] = qarena_printf(r->arena, "%s/chapters/%03d%s", dir, i + 1, store_ext(files[i].format));
        if ((e = store_link(r, files[i].rel, rels[i]))) {
            store_remove(r, dir);
            return e;
        }
    }
    int64_t ab_id = 0, njobs = 0;
    if ((e = qdb_begin(r->db, &r->err)))
        goto fail;
    if ((e = qdb_exec(r->db, &r->err,
                      "INSERT INTO audiobooks (public_id, owner_id, upload_id, title, author, description, language,"
                      " is_public, storage_dir) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      "siissssis", pub, owner, upload_id, title, author, desc, language, (int64_t)is_public, dir)))
        goto fail;
    ab_id = (int64_t)qdb_insert_id(r->db);
    for (int i = 0; i < n; i++) {
        char ctitle[STORE_NAME_MAX + 1];
        snprintf(ctitle, sizeof ctitle, "%s", files[i].name);
        char *dot = strrchr(ctitle, '.');
        if (dot && dot != ctitle)
            *dot = '\0';
        if ((e = qdb_exec(r->db, &r->err,
                          "INSERT INTO chapters (audiobook_id, seq, title, file_name, storage_path, format, size_bytes,"
                          " sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", "iissssis", ab_id, (int64_t)(i + 1), ctitle,
                          files[i].name, rels[i], files[i].format, files[i].size, files[i].sha)))
            goto fail;
        chapter_ids[i] = (int64_t)qdb_insert_id(r->db);
    }
    for (int i = 0; i < n; i++) {
        cJSON *p = base_payload(ab_id, pub, language);
        cJSON_AddNumberToObject(p, "chapter_id", (double)chapter_ids[i]);
        cJSON_AddNumberToObject(p, "chapter", i + 1);
        cJSON_AddStringToObject(p, "path", rels[i]);
        cJSON_AddStringToObject(p, "format", files[i].format);
        if ((e = ab_enqueue(r, "transcribe", ab_id, owner, premium, (int)priority, p, NULL, 0, &transcribe_ids[i])))
            goto fail;
        njobs++;
    }
    /* summarize and tag: early on chapter 1, final on all (one pair when the
     * book has one chapter); embed on all */
    static const char *const text_types[] = {"summarize", "tag"};
    for (int stage = n > 1 ? 0 : 1; stage < 2; stage++) {
        for (int t = 0; t < 2; t++) {
            cJSON *p = base_payload(ab_id, pub, language);
            cJSON_AddStringToObject(p, "stage", stage == 0 ? "early" : "final");
            int nd = stage == 0 ? 1 : n;
            cJSON_AddItemToObject(p, "chapters", ids_array(chapter_ids, nd));
            int64_t jid;
            if ((e = ab_enqueue(r, text_types[t], ab_id, owner, premium, (int)priority, p, transcribe_ids, nd, &jid)))
                goto fail;
            njobs++;
        }
    }
    cJSON *p = base_payload(ab_id, pub, language);
    cJSON_AddItemToObject(p, "chapters", ids_array(chapter_ids, n));
    int64_t jid;
    if ((e = ab_enqueue(r, "embed", ab_id, owner, premium, (int)priority, p, transcribe_ids, n, &jid)))
        goto fail;
    njobs++;
    /* webhook when every job of the book has ended (lib/notify.h) */
    if (notify && (e = qnotify_watch(r->db, owner, "audiobook", ab_id, 0, notify, &r->err)))
        goto fail;
    if ((e = qdb_commit(r->db, &r->err)))
        goto fail;
    qqueue_wake(r->db, "transcribe");

    cJSON *o = api_obj(r);
    cJSON_AddStringToObject(o, "audiobook_id", pub);
    cJSON_AddStringToObject(o, "status", "processing");
    cJSON_AddStringToObject(o, "message", "Audio book created successfully");
    cJSON_AddNumberToObject(o, "jobs_created", (double)njobs);
    cJSON_AddNumberToObject(o, "total_jobs", (double)njobs);
    cJSON_AddNumberToObject(o, "chapters", n);
    char *loc = qarena_printf(r->arena, "Location: /api/v1/audiobooks/%s\r\n", pub);
    return api_reply_json(r, 201, o, loc);
fail:
    qdb_rollback(r->db);
    store_remove(r, dir);
    return e;
}

/* One audiobook as JSON (the shape of GET /api/v1/audiobooks/{id}). mine:
 * the caller may change it; a reader of someone else's public book is not
 * shown the owner's upload or the failed jobs' ids and errors (jobs stay
 * private to the owner). */
static qerr ab_render(qreq *r, int64_t id, int mine, cJSON **out)
{
    qrows *a, *c, *j;
    qerr e;
    if ((e = qdb_query(r->db, r->arena, &a, &r->err,
                       "SELECT a.public_id, a.title, a.author, a.description, a.language, a.is_public,"
                       " a.summary, a.summary_stage, a.tags, a.tags_stage, a.created_at,"
                       " a.updated_at, " AB_STATUS_SQL ", up.public_id, us.name"
                       " FROM audiobooks a LEFT JOIN uploads up ON up.id = a.upload_id"
                       " JOIN users us ON us.id = a.owner_id WHERE a.id = ?", "i", id)) ||
        (e = qdb_query(r->db, r->arena, &c, &r->err,
                       "SELECT seq, title, file_name, format, size_bytes, sha256, duration_seconds, codec, bitrate,"
                       " sample_rate, channels, transcript_path IS NOT NULL, transcript_words FROM chapters"
                       " WHERE audiobook_id = ? ORDER BY seq", "i", id)) ||
        (e = qdb_query(r->db, r->arena, &j, &r->err,
                       "SELECT COUNT(*), COALESCE(SUM(status = 'completed'), 0),"
                       " COALESCE(SUM(status IN ('failed','cancelled')), 0) FROM jobs WHERE audiobook_id = ?",
                       "i", id)))
        return e;
    if (a->nrows == 0)
        return api_fail(r, Q_ERR_NOT_FOUND, "the audiobook was deleted");
    cJSON *o = api_obj(r);
    const char *status = qrows_get(a, 0, 12);
    cJSON_AddStringToObject(o, "audiobook_id", qrows_get(a, 0, 0));
    cJSON_AddStringToObject(o, "id", qrows_get(a, 0, 0));
    cJSON_AddStringToObject(o, "title", qrows_get(a, 0, 1));
    cJSON_AddStringToObject(o, "author", qrows_get(a, 0, 2));
    qjson_add_str_or_null(o, "description", qrows_get(a, 0, 3));
    cJSON_AddStringToObject(o, "language", qrows_get(a, 0, 4));
    cJSON_AddBoolToObject(o, "is_public", qrows_i64(a, 0, 5, 0) != 0);
    cJSON_AddStringToObject(o, "status", status);
    /* the book's duration is the sum of the chapters' known durations
     * (engines record them per chapter as they transcribe); null while none
     * is known */
    double total_dur = 0;
    int any_dur = 0;
    cJSON *chs = cJSON_CreateArray();
    for (int i = 0; i < c->nrows; i++) {
        cJSON *x = cJSON_CreateObject();
        qjson_add_int_text(x, "number", qrows_get(c, i, 0));
        cJSON_AddStringToObject(x, "title", qrows_get(c, i, 1));
        cJSON_AddStringToObject(x, "file_name", qrows_get(c, i, 2));
        cJSON_AddStringToObject(x, "format", qrows_get(c, i, 3));
        qjson_add_int_text(x, "size_bytes", qrows_get(c, i, 4));
        cJSON_AddStringToObject(x, "sha256", qrows_get(c, i, 5));
        if (qrows_get(c, i, 6)) {
            double d = qrows_double(c, i, 6, 0);
            cJSON_AddNumberToObject(x, "duration_seconds", d);
            total_dur += d;
            any_dur = 1;
        } else {
            cJSON_AddNullToObject(x, "duration_seconds");
        }
        qjson_add_str_or_null(x, "codec", qrows_get(c, i, 7));
        qjson_add_int_text(x, "bitrate", qrows_get(c, i, 8));
        qjson_add_int_text(x, "sample_rate", qrows_get(c, i, 9));
        qjson_add_int_text(x, "channels", qrows_get(c, i, 10));
        cJSON_AddBoolToObject(x, "transcribed", qrows_i64(c, i, 11, 0) != 0);
        qjson_add_int_text(x, "transcript_words", qrows_get(c, i, 12));
        cJSON_AddItemToArray(chs, x);
    }
    if (any_dur)
        cJSON_AddNumberToObject(o, "duration_seconds", total_dur);
    else
        cJSON_AddNullToObject(o, "duration_seconds");
    cJSON_AddNumberToObject(o, "total_chapters", c->nrows);
    cJSON_AddItemToObject(o, "chapters", chs);
    qjson_add_raw(o, "summary", qrows_get(a, 0, 6));
    qjson_add_str_or_null(o, "summary_stage", qrows_get(a, 0, 7));
    qjson_add_raw(o, "tags", qrows_get(a, 0, 8));
    qjson_add_str_or_null(o, "tags_stage", qrows_get(a, 0, 9));
    qjson_add_int_text(o, "total_jobs", qrows_get(j, 0, 0));
    qjson_add_int_text(o, "completed_jobs", qrows_get(j, 0, 1));
    qjson_add_int_text(o, "failed_jobs", qrows_get(j, 0, 2));
    if (!strcmp(status, "failed") && mine) {
        qrows *fj;
        if ((e = qdb_query(r->db, r->arena, &fj, &r->err,
                           "SELECT id, type, status, last_error FROM jobs WHERE audiobook_id = ?"
                           " AND status IN ('failed','cancelled') ORDER BY id", "i", id)))
            return e;
        cJSON *arr = cJSON_AddArrayToObject(o, "failed");
        char msg[512] = "";
        size_t ml = 0;
        for (int i = 0; i < fj->nrows; i++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "id", qrows_get(fj, i, 0));
            cJSON_AddStringToObject(x, "job_type", qrows_get(fj, i, 1));
            cJSON_AddStringToObject(x, "status", qrows_get(fj, i, 2));
            qjson_add_str_or_null(x, "error", qrows_get(fj, i, 3));
            cJSON_AddItemToArray(arr, x);
            if (ml < sizeof msg - 1)
                ml += (size_t)snprintf(msg + ml, sizeof msg - ml, "%s%s job %s %s", i ? "; " : "",
                                       qrows_get(fj, i, 1), qrows_get(fj, i, 0), qrows_get(fj, i, 2));
        }
        cJSON_AddStringToObject(o, "error", msg);
    }
    qjson_add_str_or_null(o, "upload_id", mine ? qrows_get(a, 0, 13) : NULL);
    cJSON_AddBoolToObject(o, "can_edit", mine);
    if (api_is_admin(r))
        cJSON_AddStringToObject(o, "owner", qrows_get(a, 0, 14));
    qjson_add_time(o, "created_at", qrows_get(a, 0, 10));
    qjson_add_time(o, "updated_at", qrows_get(a, 0, 11));
    *out = o;
    return Q_OK;
}

qerr h_audiobook_get(qreq *r)
{
    int64_t id;
    int mine;
    cJSON *o;
    qerr e = ab_lookup(r, r->params[0], AB_READ, &id, &mine);
    if (e || (e = ab_render(r, id, mine, &o)))
        return e;
    return api_reply_json(r, 200, o, NULL);
}

/* GET /api/v1/audiobooks: the caller's own books (admins: every book), or
 * with ?public=1 the public books of every user, the caller's included. */
qerr h_audiobook_list(qreq *r)
{
    int64_t page, per;
    qerr e = api_need_db(r);
    if (e || (e = api_paging(r, &page, &per)))
        return e;
    const char *status = api_query(r, "status");
    if (status && *status && strcmp(status, "processing") && strcmp(status, "ready") && strcmp(status, "failed"))
        return api_fail(r, Q_ERR_UNPROCESSABLE, "status must be processing, ready or failed");
    if (!status)
        status = "";
    const char *pubq = api_query(r, "public");
    int64_t public_only = 0;
    if (pubq && (!strcmp(pubq, "1") || !strcmp(pubq, "true")))
        public_only = 1;
    else if (pubq && *pubq && strcmp(pubq, "0") && strcmp(pubq, "false"))
        return api_fail(r, Q_ERR_UNPROCESSABLE, "public must be 1, 0, true or false");
    int64_t admin = api_is_admin(r);
    qrows *rows, *cnt;
    if ((e = qdb_query(r->db, r->arena, &rows, &r->err,
                       "SELECT * FROM (SELECT a.id, a.public_id, a.title, a.author, a.language, a.is_public,"
                       " (SELECT SUM(c.duration_seconds) FROM chapters c WHERE c.audiobook_id = a.id) AS dur,"
                       " a.created_at, a.updated_at, " AB_STATUS_SQL " AS status,"
                       " (SELECT COUNT(*) FROM chapters c WHERE c.audiobook_id = a.id) AS nch,"
                       " (a.owner_id = ? OR ? = 1) AS mine"
                       " FROM audiobooks a WHERE IF(? = 1, a.is_public = 1, a.owner_id = ? OR ? = 1)) x"
                       " WHERE (? = '' OR x.status = ?) ORDER BY x.id DESC LIMIT ? OFFSET ?",
                       "iiiiissii", r->user.id, admin, public_only, r->user.id, admin, status, status, per,
                       (page - 1) * per)) ||
        (e = qdb_query(r->db, r->arena, &cnt, &r->err,
                       "SELECT COUNT(*) FROM (SELECT " AB_STATUS_SQL " AS status FROM audiobooks a"
                       " WHERE IF(? = 1, a.is_public = 1, a.owner_id = ? OR ? = 1)) x WHERE (? = '' OR x.status = ?)",
                       "iiiss", public_only, r->user.id, admin, status, status)))
        return e;
    cJSON *o = api_obj(r);
    cJSON *arr = cJSON_AddArrayToObject(o, "audiobooks");
    for (int i = 0; i < rows->nrows; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "audiobook_id", qrows_get(rows, i, 1));
        cJSON_AddStringToObject(x, "id", qrows_get(rows, i, 1));
        cJSON_AddStringToObject(x, "title", qrows_get(rows, i, 2));
        cJSON_AddStringToObject(x, "author", qrows_get(rows, i, 3));
        cJSON_AddStringToObject(x, "language", qrows_get(rows, i, 4));
        cJSON_AddBoolToObject(x, "is_public", qrows_i64(rows, i, 5, 0) != 0);
        /* SUM skips chapters not measured yet and is NULL when none is */
        if (qrows_get(rows, i, 6))
            cJSON_AddNumberToObject(x, "duration_seconds", qrows_double(rows, i, 6, 0));
        else
            cJSON_AddNullToObject(x, "duration_seconds");
        cJSON_AddStringToObject(x, "status", qrows_get(rows, i, 9));
        qjson_add_int_text(x, "total_chapters", qrows_get(rows, i, 10));
        cJSON_AddBoolToObject(x, "can_edit", qrows_i64(rows, i, 11, 0) != 0);
        qjson_add_time(x, "created_at", qrows_get(rows, i, 7));
        qjson_add_time(x, "updated_at", qrows_get(rows, i, 8));
        cJSON_AddItemToArray(arr, x);
    }
    cJSON_AddNumberToObject(o, "page", (double)page);
    cJSON_AddNumberToObject(o, "per_page", (double)per);
    cJSON_AddNumberToObject(o, "total", (double)qrows_i64(cnt, 0, 0, 0));
    return api_reply_json(r, 200, o, NULL);
}

qerr audiobook_update_decode(qreq *r, const cJSON *in, audiobook_in *out)
{
    qerr e;
    const char *title = NULL, *author = NULL, *desc = NULL, *language = NULL;
    int is_public = -1;
    if ((e = qjson_str(in, "title", 0, 255, &title, &r->err)) ||
        (e = qjson_str(in, "author", 0, 255, &author, &r->err)) ||
        (e = qjson_str(in, "description", 0, 20000, &desc, &r->err)) ||
        (e = qjson_str(in, "language", 0, 16, &language, &r->err)) ||
        (e = qjson_bool(in, "is_public", 0, &is_public, &r->err)))
        return e;
    if (!title && !author && !desc && !language && is_public < 0)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "nothing to update: give title, author, description, language"
                        " or is_public");
    if (title && !*title)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'title' must not be empty");
    if (language && !lang_ok(language))
        return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'language' must be a language code like \"en\" or \"en-US\"");
    *out = (audiobook_in){NULL, title, author, desc, language, NULL, is_public, 0};
    return Q_OK;
}

qerr h_audiobook_update(qreq *r)
{
    int64_t id;
    cJSON *body, *o;
    audiobook_in in;
    qerr e = ab_lookup(r, r->params[0], AB_WRITE, &id, NULL);
    if (e || (e = api_json_body(r, &body)) || (e = audiobook_update_decode(r, body, &in)))
        return e;
    const char *title = in.title, *author = in.author, *desc = in.desc, *language = in.language;
    int is_public = in.is_public;
    if ((e = qdb_exec(r->db, &r->err,
                      "UPDATE audiobooks SET title = COALESCE(?, title), author = COALESCE(?, author),"
                      " description = COALESCE(?, description), language = COALESCE(?, language),"
                      " is_public = IF(? < 0, is_public, ?), updated_at = NOW(3) WHERE id = ?",
                      "ssssiii", title, author, desc, language, (int64_t)is_public, (int64_t)(is_public > 0), id)) ||
        (e = ab_render(r, id, 1, &o)))
        return e;
    cJSON_AddStringToObject(o, "message", "Audio book updated successfully");
    return api_reply_json(r, 200, o, NULL);
}

qerr h_audiobook_delete(qreq *r)
{
    int64_t id;
    qrows *jobs;
    qerr e = ab_lookup(r, r->params[0], AB_WRITE, &id, NULL);
    if (e || (e = qdb_query(r->db, r->arena, &jobs, &r->err,
                            "SELECT id FROM jobs WHERE audiobook_id = ? AND status IN ('waiting','pending','running')"
                            " ORDER BY id DESC", "i", id)))
        return e;
    int cancelled = 0;
    for (int i = 0; i < jobs->nrows; i++) {
        int running = 0;
        qerrctx ce = {0};
        /* dependents first (newest first), so cancelling one does not fail
         * the others before they are cancelled themselves */
        if (qqueue_cancel(r->db, qrows_i64(jobs, i, 0, 0), 0, &running, &ce) == Q_OK)
            cancelled++;
    }
    qrows *dir;
    if ((e = qdb_query(r->db, r->arena, &dir, &r->err, "SELECT storage_dir FROM audiobooks WHERE id = ?", "i", id)) ||
        (e = qdb_exec(r->db, &r->err, "DELETE FROM audiobooks WHERE id = ?", "i", id)))
        return e;
    if (dir->nrows)
        store_remove(r, qrows_get(dir, 0, 0));
    cJSON *o = api_obj(r);
    cJSON_AddStringToObject(o, "audiobook_id", r->params[0]);
    cJSON_AddBoolToObject(o, "deleted", 1);
    cJSON_AddNumberToObject(o, "jobs_cancelled", cancelled);
    cJSON_AddStringToObject(o, "message", "Audio book deleted");
    return api_reply_json(r, 200, o, NULL);
}

qerr h_audiobook_jobs(qreq *r)
{
    int64_t id;
    qrows *j;
    qerr e = ab_lookup(r, r->params[0], AB_WRITE, &id, NULL);
    if (e || (e = qdb_query(r->db, r->arena, &j, &r->err,
                            "SELECT id, type, status, progress_percent, started_at, finished_at, last_error, created_at,"
                            " JSON_VALUE(payload, '$.stage'), JSON_VALUE(payload, '$.chapter'), attempts"
                            " FROM jobs WHERE audiobook_id = ? ORDER BY id", "i", id)))
        return e;
    cJSON *o = api_obj(r);
    cJSON_AddStringToObject(o, "audiobook_id", r->params[0]);
    cJSON *arr = cJSON_AddArrayToObject(o, "jobs");
    int total = j->nrows, done = 0, failed = 0, open = 0;
    double progress = 0;
    for (int i = 0; i < total; i++) {
        const char *st = qrows_get(j, i, 2);
        double pct = qrows_double(j, i, 3, 0) / 100.0;
        if (!strcmp(st, "completed"))
            done++, pct = 1;
        else if (!strcmp(st, "failed") || !strcmp(st, "cancelled"))
            failed++;
        else
            open++;
        progress += pct;
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "id", qrows_get(j, i, 0));
        cJSON_AddStringToObject(x, "audiobook_id", r->params[0]);
        cJSON_AddStringToObject(x, "job_type", qrows_get(j, i, 1));
        cJSON_AddStringToObject(x, "status", st);
        cJSON_AddNumberToObject(x, "progress", (double)(int64_t)(pct * 1000 + 0.5) / 1000);
        qjson_add_str_or_null(x, "stage", qrows_get(j, i, 8));
        qjson_add_int_text(x, "chapter", qrows_get(j, i, 9));
        qjson_add_int_text(x, "attempts", qrows_get(j, i, 10));
        qjson_add_time(x, "created_at", qrows_get(j, i, 7));
        qjson_add_time(x, "started_at", qrows_get(j, i, 4));
        qjson_add_time(x, "completed_at", qrows_get(j, i, 5));
        qjson_add_str_or_null(x, "error", qrows_get(j, i, 6));
        cJSON_AddItemToArray(arr, x);
    }
    cJSON_AddStringToObject(o, "overall_status", open ? "processing" : failed ? "failed" : "ready");
    cJSON_AddNumberToObject(o, "progress", total ? (double)(int64_t)(progress / total * 1000 + 0.5) / 1000 : 0);
    cJSON_AddNumberToObject(o, "total_jobs", total);
    cJSON_AddNumberToObject(o, "completed_jobs", done);
    cJSON_AddNumberToObject(o, "failed_jobs", failed);
    return api_reply_json(r, 200, o, NULL);
}
