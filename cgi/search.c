/* search.c - GET /api/v1/search?q=&audiobook_id=&limit=: transcript windows
 * ranked by cosine similarity to the query, over what the caller may see.
 * Each quire-api process keeps one index of the stored embeddings in
 * memory, reloaded when the embeddings table changed (checked at most once
 * a second); what the caller may read (own books and public ones) is read
 * from the audiobooks table for each search, not from the index. */
#include "api.h"
#include "text_search.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t search_mu = PTHREAD_MUTEX_INITIALIZER;
static qtext_index *search_ix;         /* guarded by search_mu for swaps */
static int64_t search_count = -1, search_max = -1, search_checked_ms;

/* Loads every stored window into a new index and swaps it in. */
static qerr search_reload(qreq *r, int64_t count, int64_t max)
{
    qrows *rows = NULL;
    qerr e = qdb_query(r->db, r->arena, &rows, &r->err,
                       "SELECT e.id, e.audiobook_id, a.owner_id, e.chapter_seq, a.is_public, e.start_s, e.end_s, e.vec"
                       " FROM embeddings e JOIN audiobooks a ON a.id = e.audiobook_id", "");
    if (e)
        return e;
    qtext_index *ix = qtext_index_new();
    if (!ix)
        return api_fail(r, Q_ERR_NOMEM, "out of memory");
    float v[QTEXT_EMBED_DIM];
    for (int i = 0; i < rows->nrows; i++) {
        qerrctx ignore = {0};
        if (qtext_embed_deserialize((const uint8_t *)qrows_get(rows, i, 7), rows->lens[i * rows->ncols + 7], v,
                                    &ignore))
            continue;
        qtext_win_meta m = {(uint64_t)qrows_i64(rows, i, 0, 0), (uint64_t)qrows_i64(rows, i, 1, 0),
                            (uint64_t)qrows_i64(rows, i, 2, 0), (uint32_t)qrows_i64(rows, i, 3, 0),
                            (uint8_t)qrows_i64(rows, i, 4, 0), qrows_double(rows, i, 5, 0), qrows_double(rows, i, 6, 0)};
        if ((e = qtext_index_add(ix, &m, v, &r->err))) {
            qtext_index_free(ix);
            return e;
        }
    }
    qtext_index *old = search_ix;
    search_ix = ix;
    search_count = count;
    search_max = max;
    qtext_index_free(old);
    return Q_OK;
}

qerr h_search(qreq *r)
{
    qerr e = api_need_db(r);
    if (e)
        return e;
    const char *q = api_query(r, "q");
    if (!q || !*q)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "query parameter 'q' is required");
    if (strlen(q) > QTEXT_QUERY_MAX)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "query 'q' is longer than %d bytes", QTEXT_QUERY_MAX);
    int64_t limit = 10;
    const char *ls = api_query(r, "limit");
    if (ls && qparse_i64(ls, 1, 100, &limit) != 0)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "limit must be 1 to 100");
    int64_t only = 0;
    const char *abs = api_query(r, "audiobook_id");
    if (abs && *abs) {
        qrows *a = NULL;
        /* a book the caller may not read is 404, as on its own endpoints */
        if ((e = qdb_query(r->db, r->arena, &a, &r->err,
                           "SELECT id FROM audiobooks WHERE public_id = ? AND (owner_id = ? OR is_public = 1 OR ? = 1)",
                           "sii", abs, r->user.id, (int64_t)api_is_admin(r))))
            return e;
        if (a->nrows == 0)
            return api_fail(r, Q_ERR_NOT_FOUND, "no audiobook %s", abs);
        only = qrows_i64(a, 0, 0, 0);
    }
    /* The index's copy of owner and is_public is as of its last load (it
     * reloads when the embeddings change, not when a book turns public or
     * private), so it cannot decide what the caller may read: the books
     * the caller may read now are given as the allowed set, and the index's
     * own visibility test is bypassed. */
    qtext_search_filter f = {(uint64_t)r->user.id, 1, (uint64_t)only, NULL, 0, NULL, NULL};
    if (!api_is_admin(r) && !only) {
        qrows *vis = NULL;
        if ((e = qdb_query(r->db, r->arena, &vis, &r->err,
                           "SELECT id FROM audiobooks WHERE owner_id = ? OR is_public = 1 ORDER BY id", "i",
                           r->user.id)))
            return e;
        uint64_t *allowed = qarena_alloc(r->arena, sizeof *allowed * (size_t)(vis->nrows + 1));
        if (!allowed)
            return api_fail(r, Q_ERR_NOMEM, "out of memory");
        for (int i = 0; i < vis->nrows; i++)
            allowed[i] = (uint64_t)qrows_i64(vis, i, 0, 0);
        f.allowed = allowed;
        f.nallowed = (size_t)vis->nrows;
    }

    pthread_mutex_lock(&search_mu);
    if (qmono_ms() - search_checked_ms >= 1000 || !search_ix) {
        qrows *v = NULL;
        e = qdb_query(r->db, r->arena, &v, &r->err, "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM embeddings", "");
        if (!e && (!search_ix || qrows_i64(v, 0, 0, 0) != search_count || qrows_i64(v, 0, 1, 0) != search_max))
            e = search_reload(r, qrows_i64(v, 0, 0, 0), qrows_i64(v, 0, 1, 0));
        if (!e)
            search_checked_ms = qmono_ms();
    }
    /* searching holds the mutex too: a reload never frees an index in use */
    size_t k = (size_t)limit * 2, n = 0;
    qtext_hit *hits = qarena_alloc(r->arena, sizeof *hits * k);
    if (!e && !hits)
        e = api_fail(r, Q_ERR_NOMEM, "out of memory");
    if (!e)
        e = qtext_search_text(search_ix, q, strlen(q), NULL, &f, k, hits, &n, &r->err);
    pthread_mutex_unlock(&search_mu);
    if (e == Q_ERR_INVALID)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "the query has no words to search for");
    if (e)
        return e;

    cJSON *o = api_obj(r);
    cJSON_AddStringToObject(o, "query", q);
    cJSON *arr = cJSON_AddArrayToObject(o, "results");
    int out = 0;
    for (size_t i = 0; i < n && out < limit; i++) {
        qrows *w = NULL;
        /* visibility as it is now, not as it was when the index loaded */
        if ((e = qdb_query(r->db, r->arena, &w, &r->err,
                           "SELECT a.public_id, a.title, e.text FROM embeddings e JOIN audiobooks a ON a.id = e.audiobook_id"
                           " WHERE e.id = ? AND (a.owner_id = ? OR a.is_public = 1 OR ? = 1)", "iii",
                           (int64_t)hits[i].meta.id, r->user.id, (int64_t)(r->user.role == QROLE_ADMIN))))
            return e;
        if (w->nrows == 0)
            continue;
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "audiobook_id", qrows_get(w, 0, 0));
        cJSON_AddStringToObject(x, "title", qrows_get(w, 0, 1));
        cJSON_AddNumberToObject(x, "chapter", hits[i].meta.chapter);
        cJSON_AddNumberToObject(x, "start", hits[i].meta.start);
        cJSON_AddNumberToObject(x, "end", hits[i].meta.end);
        cJSON_AddNumberToObject(x, "score", hits[i].score);
        cJSON_AddStringToObject(x, "text", qrows_get(w, 0, 2));
        cJSON_AddItemToArray(arr, x);
        out++;
    }
    cJSON_AddNumberToObject(o, "count", out);
    return api_reply_json(r, 200, o, NULL);
}
