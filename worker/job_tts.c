/* job_tts.c - the tts and assemble jobs. tts speaks one text (a script, or
 * one chapter of a book) into a file; assemble joins the chapter files of a
 * book into one file with chapter markers. Output paths are chosen by the
 * API when it creates the jobs (relative to the storage root), so assemble
 * knows its inputs before they exist.
 *   tts:      {"text", "title", "engine", "voice", "language", "speed",
 *              "pitch", "format", "output"}
 *   assemble: {"inputs": [paths], "titles": [..], "format", "output",
 *              "title", "author"} */
#include "worker.h"
#include "audio.h"
#include "tts.h"
#include "util.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ASSEMBLE_MAX_INPUTS 2000

static int tts_checkpoint(void *ud, double fraction, const char *message)
{
    return qjob_checkpoint(ud, fraction * 100.0, message, 0, 0) != Q_OK;
}

/* Absolute path of rel with its directory created; NULL with c->err set. */
static char *output_path(qjobctx *c, const char *rel)
{
    if (!qrel_path_ok(rel)) {
        c->permanent = 1;
        qerr_set(&c->err, Q_ERR_INVALID, "output path is not a storage path");
        return NULL;
    }
    char *path = qarena_printf(c->arena, "%s/%s", qconfig_get()->storage_dir, rel);
    char *dir = qarena_strdup(c->arena, path);
    if (qmkdir_p(dirname(dir), 0755) != 0) {
        qerr_set(&c->err, errno == ENOSPC ? Q_ERR_NO_SPACE : Q_ERR_IO, "cannot create the output directory: %s",
                 strerror(errno));
        return NULL;
    }
    return path;
}

static void result_file(qjobctx *c, const char *rel, const char *path, const q_audio_chapter *ch, size_t n)
{
    char sha[65] = "";
    qsha256_file(path, sha);
    FILE *f = fopen(path, "rb");
    long size = 0;
    if (f) {
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        fclose(f);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", rel);
    cJSON_AddNumberToObject(o, "size_bytes", (double)size);
    cJSON_AddStringToObject(o, "sha256", sha);
    double dur = n ? ch[n - 1].end_ms / 1000.0 : 0;
    cJSON_AddNumberToObject(o, "duration_seconds", dur);
    cJSON *arr = cJSON_AddArrayToObject(o, "chapters");
    for (size_t i = 0; i < n; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "title", ch[i].title);
        cJSON_AddNumberToObject(x, "start_ms", (double)ch[i].start_ms);
        cJSON_AddNumberToObject(x, "end_ms", (double)ch[i].end_ms);
        cJSON_AddItemToArray(arr, x);
    }
    char *js = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    c->result = qarena_strdup(c->arena, js);
    cJSON_free(js);
}

qerr job_tts(qjobctx *c)
{
    const char *text = NULL, *title = NULL, *engine = NULL, *voice = NULL, *language = "en", *format = "mp3",
               *out = NULL;
    double speed = 1.0, pitch = 1.0;
    if (qjson_str(c->payload, "text", 1, 8u << 20, &text, &c->err) ||
        qjson_str(c->payload, "title", 0, 255, &title, &c->err) ||
        qjson_str(c->payload, "engine", 0, 32, &engine, &c->err) ||
        qjson_str(c->payload, "voice", 0, 64, &voice, &c->err) ||
        qjson_str(c->payload, "language", 0, 16, &language, &c->err) ||
        qjson_str(c->payload, "format", 0, 8, &format, &c->err) ||
        qjson_str(c->payload, "output", 1, 1024, &out, &c->err) ||
        qjson_num(c->payload, "speed", 0, 0.5, 2.0, &speed, &c->err) ||
        qjson_num(c->payload, "pitch", 0, 0.5, 2.0, &pitch, &c->err)) {
        c->permanent = 1;
        return c->err.code;
    }
    const char *v = NULL;
    const q_tts_engine *e = q_tts_engine_for(engine, voice, language, &v);
    q_audio_format fmt = q_audio_format_from_name(format);
    if (!e || !fmt) {
        c->permanent = 1;
        return qerr_set(&c->err, Q_ERR_UNPROCESSABLE, !e ? "unknown speech engine '%s'" : "unknown format '%s'",
                        !e ? (engine ? engine : "") : format);
    }
    char *path = output_path(c, out);
    if (!path)
        return c->err.code;
    q_tts_params p = {v, speed, pitch};
    const char *texts[1] = {text};
    const char *titles[1] = {title};
    q_audio_meta meta = {title, NULL, 0};
    q_audio_chapter ch[1];
    qerr r = q_tts_render(e, &p, texts, titles, 1, path, fmt, &meta, ch, tts_checkpoint, c, &c->err);
    if (r) {
        unlink(path);
        if (r == Q_ERR_UNPROCESSABLE)
            c->permanent = 1;
        return r;
    }
    result_file(c, out, path, ch, 1);
    return Q_OK;
}

qerr job_assemble(qjobctx *c)
{
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(c->payload, "inputs");
    const cJSON *titles = cJSON_GetObjectItemCaseSensitive(c->payload, "titles");
    const char *format = "m4b", *out = NULL, *title = NULL, *author = NULL;
    int n = cJSON_GetArraySize(inputs);
    if (!cJSON_IsArray(inputs) || n < 1 || n > ASSEMBLE_MAX_INPUTS ||
        qjson_str(c->payload, "format", 0, 8, &format, &c->err) ||
        qjson_str(c->payload, "output", 1, 1024, &out, &c->err) ||
        qjson_str(c->payload, "title", 0, 255, &title, &c->err) ||
        qjson_str(c->payload, "author", 0, 255, &author, &c->err)) {
        c->permanent = 1;
        return c->err.code ? c->err.code : qerr_set(&c->err, Q_ERR_INVALID, "payload 'inputs' must list 1 to %d files",
                                                    ASSEMBLE_MAX_INPUTS);
    }
    q_audio_format fmt = q_audio_format_from_name(format);
    if (!fmt) {
        c->permanent = 1;
        return qerr_set(&c->err, Q_ERR_UNPROCESSABLE, "unknown format '%s'", format);
    }
    const char **in = qarena_calloc(c->arena, sizeof(char *) * (size_t)n);
    const char **tt = qarena_calloc(c->arena, sizeof(char *) * (size_t)n);
    q_audio_chapter *ch = qarena_calloc(c->arena, sizeof *ch * (size_t)n);
    if (!in || !tt || !ch)
        return qerr_set(&c->err, Q_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        const char *rel = cJSON_GetStringValue(cJSON_GetArrayItem(inputs, i));
        if (!qrel_path_ok(rel)) {
            c->permanent = 1;
            return qerr_set(&c->err, Q_ERR_INVALID, "input %d is not a storage path", i + 1);
        }
        in[i] = qarena_printf(c->arena, "%s/%s", qconfig_get()->storage_dir, rel);
        tt[i] = cJSON_GetStringValue(cJSON_GetArrayItem(titles, i));
    }
    char *path = output_path(c, out);
    if (!path)
        return c->err.code;
    q_audio_meta meta = {title, author, 0};
    qerr r = q_audio_assemble(in, tt, (size_t)n, path, fmt, 0, &meta, ch, tts_checkpoint, c, &c->err);
    if (r) {
        unlink(path);
        return r;
    }
    result_file(c, out, path, ch, (size_t)n);
    return Q_OK;
}
