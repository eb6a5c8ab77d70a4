/* test_pipeline.c - end to end: a LibriVox clip uploaded as a script would
 * (curl -F), an audiobook created, and a real quire-worker transcribing,
 * summarizing, tagging and embedding it; the transcript's word error rate,
 * SRT/VTT that parse, the summary, tags, the book turning ready, search that
 * finds the clip's words, and privacy of search between users (a public
 * book is readable by all, changeable by its owner only). */
#include "apitest.h"
#include "http.h"
#include "t.h"
#include "util.h"
#include "wer.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIBRIVOX "/usr/share/pocketsphinx/test/data/librivox"

static char *owner, *other, *book;
static char query[256];         /* words the transcript holds, for search */

/* The reference transcript of a clip from the package's transcription file. */
static char *reference(const char *clip)
{
    char *line = tsh_out("grep -i '(%s)' " LIBRIVOX "/transcription | sed -E 's/ *\\([^)]*\\) *$//; s#</?s>##g'",
                         clip);
    return line;
}

static void test_upload_and_create(void)
{
    char *up = at_upload(owner, "single", 1);
    T_REQUIRE(up != NULL);
    char *code = tsh_out("curl -s -o /dev/null -w '%%{http_code}' -H 'Authorization: Bearer %s' "
                         "-F file=@" LIBRIVOX "/sense_and_sensibility_01_austen_64kb-0870.wav "
                         "\"$QUIRE_URL/api/v1/admin/uploads/%s/files\"", owner, up);
    T_CHECK(code && !strcmp(code, "201"), "multipart upload answered %s", code ? code : "nothing");
    free(code);
    char body[256];
    snprintf(body, sizeof body, "{\"upload_id\":\"%s\",\"title\":\"Sense and Sensibility\",\"author\":\"Jane Austen\","
             "\"language\":\"en\"}", up);
    thttp r;
    T_REQUIRE(thttp_json(&r, "POST", "/api/v1/audiobooks", owner, body) == 0);
    T_EQ_INT(r.status, 201);
    if (tjson_str(r.json, "audiobook_id"))
        book = strdup(tjson_str(r.json, "audiobook_id"));
    thttp_free(&r);
    free(up);
    T_REQUIRE(book != NULL);
    T_REQUIRE(tsh("\"$QUIRE_ROOT/scripts/stack.sh\" worker-start worker-pipe --types transcribe,summarize,tag,embed"
                  " --concurrency 2") == 0);
}

static void test_jobs_complete_and_book_ready(void)
{
    T_REQUIRE(book != NULL);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/audiobooks/%s", book);
    const char *st = NULL;
    thttp r = {0};
    for (int64_t t0 = qmono_ms(); qmono_ms() - t0 < 240000; qsleep_ms(500)) {
        thttp_free(&r);
        T_REQUIRE(thttp_json(&r, "GET", path, owner, NULL) == 0);
        st = tjson_str(r.json, "status");
        if (st && strcmp(st, "processing"))
            break;
    }
    T_EQ_STR(st, "ready");
    const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "chapters"), 0);
    double dur = tjson_num(ch, "duration_seconds", 0);
    T_CHECK(dur > 1.0, "chapter duration recorded");
    /* the book's duration is its chapters', in the detail and in the list */
    double whole = tjson_num(r.json, "duration_seconds", -1);
    T_CHECK(whole > dur - 0.001 && whole < dur + 0.001, "book duration %g, chapter %g", whole, dur);
    thttp l;
    T_REQUIRE(thttp_json(&l, "GET", "/api/v1/audiobooks?per_page=100", owner, NULL) == 0);
    double listed = -1;
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItem(l.json, "audiobooks"))
        if (tjson_str(x, "audiobook_id") && !strcmp(tjson_str(x, "audiobook_id"), book))
            listed = tjson_num(x, "duration_seconds", -1);
    thttp_free(&l);
    T_CHECK(listed > dur - 0.001 && listed < dur + 0.001, "listed duration %g, chapter %g", listed, dur);
    T_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(ch, "transcribed")));
    const cJSON *sum = cJSON_GetObjectItem(r.json, "summary");
    T_CHECK(cJSON_IsObject(sum) && tjson_str(cJSON_GetObjectItem(sum, "book"), "text"), "summary stored");
    const cJSON *tags = cJSON_GetObjectItem(r.json, "tags");
    T_CHECK(cJSON_IsArray(tags) && cJSON_GetArraySize(tags) > 0, "tags stored");
    if (cJSON_IsArray(tags) && cJSON_GetArraySize(tags) > 0)
        t_note("tags: %s ...", tjson_str(cJSON_GetArrayItem(tags, 0), "tag"));
    /* the final tags counted the book into the library's document frequencies */
    char *n = tsh_out("mariadb --no-defaults -S \"$QUIRE_DB_SOCKET\" -u quire -N quire -e "
                      "\"SELECT COUNT(*) FROM library_df_books b JOIN audiobooks a ON a.id = b.audiobook_id"
                      " WHERE a.public_id = '%s'\"", book);
    T_CHECK(n && !strcmp(n, "1"), "book counted in the library: %s", n ? n : "?");
    free(n);
    n = tsh_out("mariadb --no-defaults -S \"$QUIRE_DB_SOCKET\" -u quire -N quire -e "
                "\"SELECT LENGTH(df) > 1000000 FROM library_df WHERE id = 1\"");
    T_CHECK(n && !strcmp(n, "1"), "library document frequencies stored");
    free(n);
    thttp_free(&r);
}

static void test_transcript_quality_and_formats(void)
{
    T_REQUIRE(book != NULL);
    char path[256];
    thttp r;
    snprintf(path, sizeof path, "/api/v1/audiobooks/%s/transcript?format=txt", book);
    T_REQUIRE(thttp_json(&r, "GET", path, owner, NULL) == 0);
    T_EQ_INT(r.status, 200);
    char *ref = reference("sense_and_sensibility_01_austen_64kb-0870");
    T_REQUIRE(ref != NULL && *ref);
    double w = wer(ref, r.body);
    /* the first few words recognized make the search query below */
    size_t q = 0;
    int words = 0;
    for (const char *s = r.body; *s && words < 6 && q < sizeof query - 2; s++) {
        if (*s == ' ' || *s == '\n') {
            if (q && query[q - 1] != '+')
                query[q++] = '+', words++;
        } else {
            query[q++] = *s;
        }
    }
    query[q] = '\0';
    /* the engine's own figure on this clip, same model, same run */
    char *argv[] = {"pocketsphinx_continuous", "-infile", LIBRIVOX "/sense_and_sensibility_01_austen_64kb-0870.wav",
                    "-logfn", "/dev/null", NULL};
    double secs = 0;
    char *engine = wer_run_capture(argv, &secs);
    double we = engine ? wer(ref, engine) : 1.0;
    t_note("WER quire %.3f, pocketsphinx_continuous %.3f", w, we);
    T_CHECK(w <= we + 0.02, "quire's WER %.3f is worse than the engine's %.3f", w, we);
    free(engine);
    free(ref);
    thttp_free(&r);

    regex_t srt, vtt;
    regcomp(&srt, "^1\r?\n[0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{3} --> [0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{3}", REG_EXTENDED);
    regcomp(&vtt, "^WEBVTT\r?\n\r?\n([^\n]*\n)?[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} --> ", REG_EXTENDED);
    snprintf(path, sizeof path, "/api/v1/audiobooks/%s/transcript?format=srt", book);
    T_REQUIRE(thttp_json(&r, "GET", path, owner, NULL) == 0);
    T_EQ_INT(r.status, 200);
    T_CHECK(regexec(&srt, r.body, 0, NULL, 0) == 0, "SRT: %.80s", r.body);
    thttp_free(&r);
    snprintf(path, sizeof path, "/api/v1/audiobooks/%s/transcript?format=vtt", book);
    T_REQUIRE(thttp_json(&r, "GET", path, owner, NULL) == 0);
    T_EQ_INT(r.status, 200);
    T_CHECK(regexec(&vtt, r.body, 0, NULL, 0) == 0, "VTT: %.80s", r.body);
    thttp_free(&r);
    regfree(&srt);
    regfree(&vtt);
    /* json: words with times inside the chapter */
    snprintf(path, sizeof path, "/api/v1/audiobooks/%s/transcript?format=json", book);
    T_REQUIRE(thttp_json(&r, "GET", path, owner, NULL) == 0);
    const cJSON *seg = cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "segments"), 0);
    const cJSON *word = cJSON_GetArrayItem(cJSON_GetObjectItem(seg, "words"), 0);
    T_CHECK(word && tjson_num(word, "end", -1) > tjson_num(word, "start", 0), "word timings");
    thttp_free(&r);
    /* the chapter's audio through nginx, with Range */
    snprintf(path, sizeof path, "/api/v1/audiobooks/%s/chapters/1/audio", book);
    T_REQUIRE(thttp_req(&r, "GET", path, owner, NULL, NULL, 0, "Range: bytes=0-99") == 0);
    T_EQ_INT(r.status, 206);
    T_EQ_INT(r.len, 100);
    T_CHECK(r.len >= 4 && !memcmp(r.body, "RIFF", 4), "the clip's WAV header");
    thttp_free(&r);
    T_REQUIRE(thttp_req(&r, "GET", path, other, NULL, NULL, 0, NULL) == 0);
    T_EQ_INT(r.status, 404);
    thttp_free(&r);
    /* another user: 404 */
    snprintf(path, sizeof path, "/api/v1/audiobooks/%s/transcript?format=txt", book);
    T_REQUIRE(thttp_json(&r, "GET", path, other, NULL) == 0);
    T_EQ_INT(r.status, 404);
    thttp_free(&r);
}

static void test_search_finds_the_clip_and_respects_privacy(void)
{
    T_REQUIRE(book != NULL);
    thttp r;
    char path[400];
    T_REQUIRE(query[0] != '\0');
    snprintf(path, sizeof path, "/api/v1/search?q=%s&limit=5", query);
    T_REQUIRE(thttp_json(&r, "GET", path, owner, NULL) == 0);
    T_EQ_INT(r.status, 200);
    const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "results"), 0);
    T_EQ_STR(tjson_str(first, "audiobook_id"), book);
    T_CHECK(tjson_num(first, "end", 0) > tjson_num(first, "start", 0));
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", path, other, NULL) == 0);
    T_EQ_INT(r.status, 200);
    T_EQ_INT(tjson_num(r.json, "count", -1), 0);
    thttp_free(&r);
    /* made public, the book is the other user's to read everywhere (search,
     * the book, its transcript), not to change; private again, gone */
    char bp[128], tp[160];
    snprintf(bp, sizeof bp, "/api/v1/audiobooks/%s", book);
    snprintf(tp, sizeof tp, "/api/v1/audiobooks/%s/transcript?format=txt", book);
    T_REQUIRE(thttp_json(&r, "PUT", bp, owner, "{\"is_public\":true}") == 0);
    T_EQ_INT(r.status, 200);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", path, other, NULL) == 0);
    T_EQ_STR(tjson_str(cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "results"), 0), "audiobook_id"), book);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", bp, other, NULL) == 0);
    T_EQ_INT(r.status, 200);
    T_CHECK(tjson_num(r.json, "duration_seconds", 0) > 1.0);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", tp, other, NULL) == 0);
    T_EQ_INT(r.status, 200);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "PUT", bp, other, "{\"is_public\":false}") == 0);
    T_EQ_INT(r.status, 403);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "PUT", bp, owner, "{\"is_public\":false}") == 0);
    T_EQ_INT(r.status, 200);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", path, other, NULL) == 0);
    T_EQ_INT(tjson_num(r.json, "count", -1), 0);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", bp, other, NULL) == 0);
    T_EQ_INT(r.status, 404);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "GET", "/api/v1/search?q=", owner, NULL) == 0);
    T_EQ_INT(r.status, 422);
    thttp_free(&r);
}

/* POST /api/v1/summarize on a plain text: the job's result has the asked
 * number of sentences, each with its text and position. */
static void test_summarize_plain_text(void)
{
    size_t len = 0;
    char *text = at_slurp("tests/data/gulliver_lilliput.txt", &len);
    T_REQUIRE(text != NULL && len > 1000);
    if (len > 20000)
        text[20000] = '\0';
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "text", text);
    cJSON_AddNumberToObject(b, "sentences", 4);
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    free(text);
    thttp r;
    T_REQUIRE(thttp_json(&r, "POST", "/api/v1/summarize", owner, body) == 0);
    free(body);
    T_EQ_INT(r.status, 202);
    char path[96];
    snprintf(path, sizeof path, "/api/v1/jobs/%s", tjson_str(r.json, "job_id") ? tjson_str(r.json, "job_id") : "0");
    thttp_free(&r);
    const char *st = NULL;
    for (int64_t t0 = qmono_ms(); qmono_ms() - t0 < 60000; qsleep_ms(200)) {
        T_REQUIRE(thttp_json(&r, "GET", path, owner, NULL) == 0);
        st = tjson_str(r.json, "status");
        if (st && (!strcmp(st, "completed") || !strcmp(st, "failed")))
            break;
        thttp_free(&r);
    }
    T_EQ_STR(st, "completed");
    const cJSON *res = cJSON_GetObjectItem(r.json, "result");
    T_CHECK(tjson_str(res, "summary") && strlen(tjson_str(res, "summary")) > 50);
    const cJSON *sents = cJSON_GetObjectItem(res, "sentences");
    T_EQ_INT(cJSON_GetArraySize(sents), 4);
    T_CHECK(tjson_str(cJSON_GetArrayItem(sents, 0), "text") != NULL);
    T_CHECK(tjson_num(cJSON_GetArrayItem(sents, 0), "position", -1) >= 0);
    thttp_free(&r);
    T_REQUIRE(thttp_json(&r, "POST", "/api/v1/summarize", owner, "{\"text\":\"   \"}") == 0);
    T_EQ_INT(r.status, 422);
    thttp_free(&r);
}

/* A book of two chapters through POST /api/v1/tts/queue, as M4B and as
 * MP3: each completes, and its chapter markers (ffprobe) start where the
 * chapters start (chapter 1's own audio, fetched alone, gives its length). */
static void tts_book(const char *format)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"title\":\"Two chapters\",\"format\":\"%s\",\"voice_settings\":{\"engine\":\"flite\",\"voice\":\"slt\"},"
             "\"chapters\":[{\"id\":\"c1\",\"title\":\"One\",\"text\":\"It was the best of times, it was the worst of"
             " times. It was the age of wisdom.\"},{\"id\":\"c2\",\"title\":\"Two\",\"text\":\"Call me Ishmael. Some"
             " years ago I thought I would sail about a little.\"}]}", format);
    thttp r;
    T_REQUIRE(thttp_json(&r, "POST", "/api/v1/tts/queue", owner, body) == 0);
    T_EQ_INT(r.status, 202);
    char id[64] = "";
    if (tjson_str(r.json, "job_id"))
        snprintf(id, sizeof id, "%s", tjson_str(r.json, "job_id"));
    thttp_free(&r);
    T_REQUIRE(id[0]);
    char path[160];
    snprintf(path, sizeof path, "/api/v1/tts/queue/%s", id);
    const char *st = NULL;
    for (int64_t t0 = qmono_ms(); qmono_ms() - t0 < 120000; qsleep_ms(300)) {
        T_REQUIRE(thttp_json(&r, "GET", path, owner, NULL) == 0);
        st = tjson_str(r.json, "status");
        if (st && (!strcmp(st, "completed") || !strcmp(st, "failed") || !strcmp(st, "cancelled")))
            break;
        thttp_free(&r);
    }
    T_EQ_STR(st, "completed");
    thttp_free(&r);
    T_REQUIRE(tsh("curl -sf -o \"$QUIRE_VAR/tts-book.%s\" -H 'Authorization: Bearer %s' \"$QUIRE_URL%s/audio\"",
                  format, owner, path) == 0);
    T_REQUIRE(tsh("curl -sf -o \"$QUIRE_VAR/tts-ch1.wav\" -H 'Authorization: Bearer %s' \"$QUIRE_URL%s/chapters/1/audio\"",
                  owner, path) == 0);
    char *d1 = tsh_out("ffprobe -v error -show_entries format=duration -of csv=p=0 \"$QUIRE_VAR/tts-ch1.wav\"");
    double ch1 = d1 ? strtod(d1, NULL) : -1;
    free(d1);
    char *starts = tsh_out("ffprobe -v error -show_chapters -of csv=p=0 \"$QUIRE_VAR/tts-book.%s\" | cut -d, -f4"
                           " | paste -sd' '", format);
    double a = -1, b = -1;
    int got = starts ? sscanf(starts, "%lf %lf", &a, &b) : 0;
    T_CHECK(got == 2, "%s chapters: %s", format, starts ? starts : "none");
    T_CHECK(a >= 0 && a < 0.05, "%s: chapter 1 starts at %.3f s", format, a);
    T_CHECK(b > ch1 - 0.1 && b < ch1 + 2.5, "%s: chapter 2 at %.3f s, chapter 1 lasts %.3f s", format, b, ch1);
    t_note("%s: chapters at %.2f and %.2f s; chapter 1 alone lasts %.2f s", format, a, b, ch1);
    free(starts);
}

static void test_tts_book_m4b_and_mp3_with_chapter_markers(void)
{
    T_REQUIRE(tsh("\"$QUIRE_ROOT/scripts/stack.sh\" worker-start worker-pipetts --types tts,assemble --concurrency 2") == 0);
    tts_book("m4b");
    tts_book("mp3");
    tsh("\"$QUIRE_ROOT/scripts/stack.sh\" worker-stop worker-pipetts >/dev/null 2>&1");
}

int main(void)
{
    owner = at_user("pipe-owner", 0);
    other = at_user("pipe-other", 0);
    if (!owner || !other)
        return 1;
    T_RUN(test_upload_and_create);
    T_RUN(test_jobs_complete_and_book_ready);
    T_RUN(test_transcript_quality_and_formats);
    T_RUN(test_search_finds_the_clip_and_respects_privacy);
    T_RUN(test_summarize_plain_text);
    T_RUN(test_tts_book_m4b_and_mp3_with_chapter_markers);
    tsh("\"$QUIRE_ROOT/scripts/stack.sh\" worker-stop worker-pipe >/dev/null 2>&1");
    return t_done();
}
