/* job_text.c - the summarize, tag and embed jobs: read the chapters'
 * transcripts (pause-delimited segments are the sentences), run the text
 * code on the BLAS layer, and store summaries and tags on the audiobook and
 * window embeddings in the embeddings table. summarize also takes plain text
 * ({"text", "sentences"}) for POST /api/v1/summarize. */
#include "worker.h"
#include "audiobook.h"
#include "text.h"
#include "text_embed.h"
#include "text_tokenize.h"
#include "text_vec.h"
#include "transcript.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MAX_CHAPTERS 2000
#define TRANSCRIPT_MAX_BYTES (256u << 20)

/* The transcripts of the payload's chapters, as segments. */
typedef struct book {
    int nch;
    int64_t chapter_id[TEXT_MAX_CHAPTERS];
    int seq[TEXT_MAX_CHAPTERS];
    q_transcript t[TEXT_MAX_CHAPTERS];
    size_t first[TEXT_MAX_CHAPTERS];      /* index of each chapter's first segment */
    qtext_seg *segs;
    int *seg_chapter;
    size_t nsegs;
} book;

static void book_free(void *p)
{
    book *b = p;
    for (int i = 0; i < b->nch; i++)
        q_transcript_free(&b->t[i]);
    free(b->segs);
    free(b->seg_chapter);
    free(b);
}

static qerr book_load(qjobctx *c, book **out)
{
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(c->payload, "chapters");
    int n = cJSON_GetArraySize(ids);
    if (!cJSON_IsArray(ids) || n < 1 || n > TEXT_MAX_CHAPTERS) {
        c->permanent = 1;
        return qerr_set(&c->err, Q_ERR_INVALID, "payload 'chapters' must list 1 to %d chapter ids", TEXT_MAX_CHAPTERS);
    }
    book *b = calloc(1, sizeof *b);
    if (!b)
        return qerr_set(&c->err, Q_ERR_NOMEM, "out of memory");
    qarena_defer(c->arena, book_free, b);
    *out = b;
    const char *root = qconfig_get()->storage_dir;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        int64_t id = (int64_t)cJSON_GetNumberValue(cJSON_GetArrayItem(ids, i));
        qrows *r = NULL;
        qerr e = qdb_query(c->db, c->arena, &r, &c->err, "SELECT seq, transcript_path FROM chapters WHERE id = ?",
                           "i", id);
        if (e)
            return e;
        if (r->nrows == 0 || !qrows_get(r, 0, 1)) {
            c->permanent = r->nrows == 0;
            return qerr_set(&c->err, Q_ERR_CONFLICT, "chapter %lld has no transcript", (long long)id);
        }
        b->chapter_id[i] = id;
        b->seq[i] = (int)qrows_i64(r, 0, 0, i + 1);
        q_transcript_init(&b->t[i]);
        b->nch = i + 1;
        char *path = qarena_printf(c->arena, "%s/%s", root, qrows_get(r, 0, 1));
        size_t len = 0;
        char *json = qread_file(path, TRANSCRIPT_MAX_BYTES, &len);
        if (!json)
            return qerr_set(&c->err, Q_ERR_IO, "cannot read the transcript of chapter %d", b->seq[i]);
        e = q_transcript_read_json(&b->t[i], json, len, &c->err);
        free(json);
        if (e)
            return e;
        total += b->t[i].nsegs;
    }
    b->segs = calloc(total + 1, sizeof *b->segs);
    b->seg_chapter = calloc(total + 1, sizeof *b->seg_chapter);
    if (!b->segs || !b->seg_chapter)
        return qerr_set(&c->err, Q_ERR_NOMEM, "out of memory");
    for (int i = 0; i < b->nch; i++) {
        b->first[i] = b->nsegs;
        for (size_t k = 0; k < b->t[i].nsegs; k++) {
            q_segment *s = &b->t[i].segs[k];
            b->segs[b->nsegs] = (qtext_seg){s->text ? s->text : "", s->text ? strlen(s->text) : 0, s->start, s->end};
            b->seg_chapter[b->nsegs++] = i;
        }
    }
    return Q_OK;
}

static cJSON *summary_json(const book *b, const qtext_summary *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "text", s->text ? s->text : "");
    cJSON *arr = cJSON_AddArrayToObject(o, "sentences");
    for (size_t i = 0; i < s->n; i++) {
        const qtext_summary_item *it = &s->items[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "text", b->segs[it->index].text);   /* NUL-terminated transcript text */
        cJSON_AddNumberToObject(x, "chapter", b->seq[b->seg_chapter[it->index]]);
        cJSON_AddNumberToObject(x, "start", it->start);
        cJSON_AddNumberToObject(x, "end", it->end);
        cJSON_AddNumberToObject(x, "score", it->score);
        cJSON_AddItemToArray(arr, x);
    }
    return o;
}

/* Plain text: {"text", "sentences"} -> result {"summary", "sentences"}. */
static qerr summarize_text(qjobctx *c, const char *text)
{
    int64_t want = 5;
    if (qjson_int(c->payload, "sentences", 0, 1, 200, &want, &c->err)) {
        c->permanent = 1;
        return c->err.code;
    }
    qtext_seg *segs = NULL;
    size_t n = 0;
    qerr e = qtext_segments_from_text(text, strlen(text), &segs, &n, &c->err);
    if (e)
        return e;
    qtext_summary_opts o = {0};
    o.sentences = (size_t)want;
    qtext_summary s = {0};
    e = qtext_summarize(segs, n, &o, &s, &c->err);
    if (!e) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "summary", s.text ? s.text : "");
        cJSON *arr = cJSON_AddArrayToObject(r, "sentences");
        for (size_t i = 0; i < s.n; i++) {
            cJSON *x = cJSON_CreateObject();
            char *t = strndup(segs[s.items[i].index].text, segs[s.items[i].index].len);
            cJSON_AddStringToObject(x, "text", t ? t : "");
            free(t);
            cJSON_AddNumberToObject(x, "position", (double)s.items[i].index);
            cJSON_AddNumberToObject(x, "score", s.items[i].score);
            cJSON_AddItemToArray(arr, x);
        }
        char *js = cJSON_PrintUnformatted(r);
        c->result = qarena_strdup(c->arena, js);
        cJSON_free(js);
        cJSON_Delete(r);
        qtext_summary_free(&s);
    }
    free(segs);
    return e;
}

qerr job_summarize(qjobctx *c)
{
    const char *text = NULL;
    qjson_str(c->payload, "text", 0, 8u << 20, &text, &c->err);
    if (c->err.code) {
        c->permanent = 1;
        return c->err.code;
    }
    if (text)
        return summarize_text(c, text);
    book *b = NULL;
    qerr e = book_load(c, &b);
    if (e)
        return e;
    if (qjob_checkpoint(c, 30, "transcripts read", 0, 0))
        return Q_ERR_CANCELLED;
    qtext_summary *chs = calloc((size_t)b->nch, sizeof *chs);
    qtext_summary book_sum = {0};
    qtext_summary_opts chapter_opts = {0}, book_opts = {0};
    chapter_opts.sentences = 3;
    book_opts.sentences = (size_t)(b->nch > 5 ? b->nch : 5);
    if (!chs)
        return qerr_set(&c->err, Q_ERR_NOMEM, "out of memory");
    if (b->nsegs == 0) {
        free(chs);
        c->result = "{\"book\":{\"text\":\"\",\"sentences\":[]},\"chapters\":[]}";
        return Q_OK;
    }
    e = qtext_summarize_book(b->segs, b->nsegs, b->first, (size_t)b->nch, &chapter_opts, &book_opts, chs, &book_sum,
                             &c->err);
    if (e) {
        free(chs);
        return e;
    }
    cJSON *r = cJSON_CreateObject();
    const char *stage = "final";
    qjson_str(c->payload, "stage", 0, 16, &stage, &c->err);
    cJSON_AddStringToObject(r, "stage", stage);
    cJSON_AddItemToObject(r, "book", summary_json(b, &book_sum));
    cJSON *arr = cJSON_AddArrayToObject(r, "chapters");
    for (int i = 0; i < b->nch; i++) {
        cJSON *x = summary_json(b, &chs[i]);
        cJSON_AddNumberToObject(x, "chapter", b->seq[i]);
        cJSON_AddItemToArray(arr, x);
        qtext_summary_free(&chs[i]);
    }
    qtext_summary_free(&book_sum);
    free(chs);
    char *js = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    c->result = qarena_strdup(c->arena, js);
    cJSON_free(js);
    return c->result ? Q_OK : qerr_set(&c->err, Q_ERR_NOMEM, "out of memory");
}

/* The stage of this summarize or tag job ("early" or "final"). */
static qbook_stage job_stage(qjobctx *c)
{
    const char *stage = "final";
    qerrctx e = {0};
    qjson_str(c->payload, "stage", 0, 16, &stage, &e);
    return strcmp(stage, "early") ? QBOOK_FINAL : QBOOK_EARLY;
}

void job_summarize_after(qjobctx *c)
{
    qerrctx e = {0};
    if (c->job->audiobook_id && c->result)
        qbook_summary(c->db, c->job->audiobook_id, c->result, job_stage(c), NULL, &e);
}

/* The library's document frequencies into *df (initialised empty when none
 * are stored yet). With lock, inside the caller's transaction, the row stays
 * locked until it commits. */
static qerr library_df_load(qjobctx *c, qtext_df *df, int lock)
{
    qrows *r = NULL;
    qerr e = lock ? qdb_query(c->db, c->arena, &r, &c->err, "SELECT df FROM library_df WHERE id = 1 FOR UPDATE", "")
                  : qdb_query(c->db, c->arena, &r, &c->err, "SELECT df FROM library_df WHERE id = 1", "");
    if (e)
        return e;
    if (r->nrows == 0)
        return qtext_df_init(df, 0, &c->err);
    return qtext_df_deserialize(df, (const uint8_t *)qrows_get(r, 0, 0), r->lens[0], &c->err);
}

/* Counts the book as one document of the library, once per book (a retry
 * or the final job after the early one finds it counted). */
static qerr library_df_count(qjobctx *c, const char *text, size_t len)
{
    qerr e = qdb_begin(c->db, &c->err);
    if (e)
        return e;
    e = qdb_exec(c->db, &c->err, "INSERT IGNORE INTO library_df_books (audiobook_id) VALUES (?)", "i",
                 c->job->audiobook_id);
    if (e || qdb_affected(c->db) == 0) {
        if (qdb_in_txn(c->db))
            e ? qdb_rollback(c->db) : (void)qdb_commit(c->db, &c->err);
        return e;
    }
    qtext_df df = {0};
    qtext_tokens tok = {0};
    e = library_df_load(c, &df, 1);
    if (!e)
        e = qtext_tokenize(text, len, &tok, &c->err);
    if (!e)
        e = qtext_df_add(&df, &tok, 0, tok.n, 3, &c->err);
    uint8_t *blob = e ? NULL : malloc(qtext_df_blob_size(&df));
    if (!e && !blob)
        e = qerr_set(&c->err, Q_ERR_NOMEM, "out of memory");
    if (!e) {
        qtext_df_serialize(&df, blob);
        e = qdb_exec(c->db, &c->err, "REPLACE INTO library_df (id, df, updated_at) VALUES (1, ?, NOW(3))", "b", blob,
                     qtext_df_blob_size(&df));
    }
    free(blob);
    qtext_tokens_free(&tok);
    qtext_df_free(&df);
    if (!e)
        e = qdb_commit(c->db, &c->err);
    if (e && qdb_in_txn(c->db))
        qdb_rollback(c->db);
    return e;
}

qerr job_tag(qjobctx *c)
{
    book *b = NULL;
    qerr e = book_load(c, &b);
    if (e)
        return e;
    size_t len = 0;
    for (size_t i = 0; i < b->nsegs; i++)
        len += b->segs[i].len + 1;
    char *all = qarena_alloc(c->arena, len + 1);
    if (!all)
        return qerr_set(&c->err, Q_ERR_NOMEM, "out of memory");
    size_t at = 0;
    for (size_t i = 0; i < b->nsegs; i++) {
        memcpy(all + at, b->segs[i].text, b->segs[i].len);
        at += b->segs[i].len;
        all[at++] = '\n';
    }
    all[at] = '\0';
    /* the final tags count the book into the library first, then score its
     * phrases against the library (rare across books scores higher) */
    if (job_stage(c) == QBOOK_FINAL && c->job->audiobook_id && (e = library_df_count(c, all, at)))
        return e;
    qtext_df df = {0};
    if ((e = library_df_load(c, &df, 0)))
        return e;
    qtext_tags tags = {0};
    qtext_tag_opts o = {0};
    o.df = df.ndocs >= 2 ? &df : NULL;     /* one book alone: its own statistics */
    e = qtext_tags_extract(all, at, &o, &tags, &c->err);
    int library = o.df != NULL;
    uint64_t ndocs = df.ndocs;
    qtext_df_free(&df);
    if (e)
        return e;
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < tags.n; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "tag", tags.tags[i].phrase);
        cJSON_AddNumberToObject(x, "score", tags.tags[i].score);
        cJSON_AddNumberToObject(x, "count", tags.tags[i].count);
        cJSON_AddItemToArray(arr, x);
    }
    qtext_tags_free(&tags);
    char *js = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    c->result = qarena_strdup(c->arena, js);
    cJSON_free(js);
    QLOG_D("tags scored against %s (%llu books)", library ? "the library" : "the book alone",
           (unsigned long long)ndocs);
    return Q_OK;
}

void job_tag_after(qjobctx *c)
{
    qerrctx e = {0};
    if (c->job->audiobook_id && c->result)
        qbook_tags(c->db, c->job->audiobook_id, c->result, job_stage(c), NULL, &e);
}

/* embed: the windows are computed in run and written in the completion's
 * transaction (after), replacing the book's earlier ones. */
typedef struct embed_out {
    size_t n;
    qtext_window *w;
    float *vecs;
    book *b;
} embed_out;

static _Thread_local embed_out *embed_pending;

static void embed_free(void *p)
{
    embed_out *o = p;
    free(o->w);
    free(o->vecs);
    free(o);
    embed_pending = NULL;
}

qerr job_embed(qjobctx *c)
{
    book *b = NULL;
    qerr e = book_load(c, &b);
    if (e)
        return e;
    embed_out *o = calloc(1, sizeof *o);
    if (!o)
        return qerr_set(&c->err, Q_ERR_NOMEM, "out of memory");
    qarena_defer(c->arena, embed_free, o);
    o->b = b;
    /* windows never straddle chapters: cut each chapter on its own */
    size_t cap = 0;
    for (int ch = 0; ch < b->nch; ch++) {
        size_t first = b->first[ch], end = ch + 1 < b->nch ? b->first[ch + 1] : b->nsegs;
        qtext_window *w = NULL;
        size_t nw = 0;
        if (end > first && (e = qtext_windows(b->segs + first, end - first, NULL, &w, &nw, &c->err)))
            return e;
        if (o->n + nw > cap) {
            cap = (o->n + nw) * 2;
            qtext_window *nwv = realloc(o->w, cap * sizeof *nwv);
            if (!nwv) {
                free(w);
                return qerr_set(&c->err, Q_ERR_NOMEM, "out of memory");
            }
            o->w = nwv;
        }
        for (size_t k = 0; k < nw; k++) {
            w[k].first += first;
            o->w[o->n++] = w[k];
        }
        free(w);
    }
    o->vecs = calloc(o->n ? o->n : 1, sizeof(float) * QTEXT_EMBED_DIM);
    if (!o->vecs)
        return qerr_set(&c->err, Q_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < o->n; i++) {
        if ((e = qtext_embed_window(b->segs, &o->w[i], NULL, o->vecs + i * QTEXT_EMBED_DIM, &c->err)))
            return e;
        if (i % 64 == 0 && qjob_checkpoint(c, 100.0 * (double)i / (double)o->n, "embedding", (int)i, (int)o->n))
            return Q_ERR_CANCELLED;
    }
    embed_pending = o;
    c->result = qarena_printf(c->arena, "{\"windows\":%zu,\"dim\":%d}", o->n, QTEXT_EMBED_DIM);
    return Q_OK;
}

void job_embed_after(qjobctx *c)
{
    embed_out *o = embed_pending;
    int64_t ab = c->job->audiobook_id;
    qerrctx e = {0};
    if (!o || !ab)
        return;
    qdb_exec(c->db, &e, "DELETE FROM embeddings WHERE audiobook_id = ?", "i", ab);
    uint8_t blob[QTEXT_EMBED_BLOB_SIZE];
    for (size_t i = 0; i < o->n && !e.code; i++) {
        const qtext_window *w = &o->w[i];
        size_t len = 0;
        for (size_t k = w->first; k < w->first + w->count; k++)
            len += o->b->segs[k].len + 1;
        char *text = qarena_alloc(c->arena, len + 1);
        size_t at = 0;
        for (size_t k = w->first; text && k < w->first + w->count; k++) {
            memcpy(text + at, o->b->segs[k].text, o->b->segs[k].len);
            at += o->b->segs[k].len;
            text[at++] = ' ';
        }
        if (text)
            text[at ? at - 1 : 0] = '\0';
        int ch = o->b->seg_chapter[w->first];
        qtext_embed_serialize(o->vecs + i * QTEXT_EMBED_DIM, blob);
        qdb_exec(c->db, &e,
                 "INSERT INTO embeddings (audiobook_id, chapter_id, chapter_seq, start_s, end_s, text, vec)"
                 " VALUES (?, ?, ?, ?, ?, ?, ?)", "iiiddsb", ab, o->b->chapter_id[ch], (int64_t)o->b->seq[ch],
                 w->start, w->end, text ? text : "", blob, sizeof blob);
    }
}
