/* tts.c - text-to-speech requests: POST /api/v1/tts/queue turns a script
 * or a book into one `tts` job per chapter and one `assemble` job waiting
 * on them (lib/queue.h dependencies), in one transaction; GET reports the
 * request's status aggregated from those jobs (chapters done of total, the
 * current chapter's own progress); DELETE cancels every job; the audio is
 * sent by nginx (X-Accel-Redirect). GET /api/v1/voices lists the engines
 * and voices that running workers reported at registration.
 *
 * Job payloads, in the contract of the engines' job code (worker/job_tts.c);
 * paths are relative to the storage root:
 *   tts:      {"text", "title", "engine", "voice", "language", "speed",
 *              "pitch", "format": "wav", "output": "<dir>/chapter_001.wav",
 *              "request", "chapter", "total_chapters", "output_dir"}
 *   assemble: {"inputs": ["<dir>/chapter_001.wav", ...], "titles": [...],
 *              "format", "output": "<dir>/audio.mp3", "title", "author",
 *              "request", "output_dir"}
 * The jobs' results name the file written ({"path", ...}); until a result
 * says otherwise, output is served. */
#include "api.h"
#include "decode.h"
#include "notify.h"
#include "queue.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define TTS_MAX_CHAPTERS 1000

static int is_admin(const qreq *r)
{
    return r->user.role == QROLE_ADMIN;
}

/* ---- voices ----------------------------------------------------------- */

static const char *const flite_builtin[] = {"slt", "rms", "awb", "kal", NULL};
static const char *const espeak_builtin[] = {"en", "en-us", "en-gb", "de", "fr", "es", "it", "pt", "nl", "hi", "ru",
                                             "pl", "sv", "da", "fi", "no", "cs", "tr", "el", "ja", "zh", "ar", NULL};

/* Online workers' capabilities: {"tts": {"<engine>": [voice, ...]}} where a
 * voice is {"id", "name", "language"} or a plain id. Arena-owned. */
static cJSON *reported_voices(qreq *r, int *nworkers)
{
    qrows *rows = NULL;
    qerrctx e = {0};
    cJSON *engines = qjson_own(r->arena, cJSON_CreateObject());
    *nworkers = 0;
    if (!r->db)            /* only without a server (tests/fuzz): the built-in voices */
        return engines;
    if (qdb_query(r->db, r->arena, &rows, &e,
                  "SELECT capabilities FROM workers WHERE capabilities IS NOT NULL AND status <> 'offline'"
                  " AND last_heartbeat > NOW(3) - INTERVAL 120 SECOND", ""))
        return engines;
    for (int i = 0; i < rows->nrows; i++) {
        cJSON *caps = NULL;
        qerrctx pe = {0};
        const char *t = qrows_get(rows, i, 0);
        if (qjson_parse(r->arena, t, strlen(t), &caps, &pe))
            continue;
        const cJSON *tts = cJSON_GetObjectItemCaseSensitive(caps, "tts"), *eng;
        if (!cJSON_IsObject(tts))
            continue;
        (*nworkers)++;
        cJSON_ArrayForEach(eng, tts) {
            if (!cJSON_IsArray(eng) || !eng->string)
                continue;
            cJSON *have = cJSON_GetObjectItemCaseSensitive(engines, eng->string);
            if (!have)
                have = cJSON_AddArrayToObject(engines, eng->string);
            const cJSON *v;
            cJSON_ArrayForEach(v, eng) {
                const char *id = cJSON_IsString(v) ? v->valuestring
                               : cJSON_IsString(cJSON_GetObjectItemCaseSensitive(v, "id"))
                                   ? cJSON_GetObjectItemCaseSensitive(v, "id")->valuestring : NULL;
                if (!id)
                    continue;
                int dup = 0;
                const cJSON *h;
                cJSON_ArrayForEach(h, have)
                    dup |= !strcmp(cJSON_GetObjectItemCaseSensitive(h, "id")->valuestring, id);
                if (dup)
                    continue;
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "id", id);
                const cJSON *nm = cJSON_GetObjectItemCaseSensitive(v, "name");
                const cJSON *lg = cJSON_GetObjectItemCaseSensitive(v, "language");
                cJSON_AddStringToObject(o, "name", cJSON_IsString(nm) ? nm->valuestring : id);
                qjson_add_str_or_null(o, "language", cJSON_IsString(lg) ? lg->valuestring : NULL);
                cJSON_AddItemToArray(have, o);
            }
        }
    }
    return engines;
}

static int engine_known(const char *engine)
{
    return !strcmp(engine, "flite") || !strcmp(engine, "espeak-ng");
}

/* Is voice one the engine offers: reported by a worker, or built in? */
static int voice_known(qreq *r, const char *engine, const char *voice)
{
    const char *const *b = !strcmp(engine, "flite") ? flite_builtin : espeak_builtin;
    for (; *b; b++)
        if (!strcmp(*b, voice) || (!strcmp(engine, "flite") && !strncmp(voice, "cmu_us_", 7) && !strcmp(*b, voice + 7)))
            return 1;
    int nw;
    cJSON *eng = cJSON_GetObjectItemCaseSensitive(reported_voices(r, &nw), engine);
    const cJSON *v;
    cJSON_ArrayForEach(v, eng)
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(v, "id")->valuestring, voice))
            return 1;
    return 0;
}

/* GET /api/v1/voices -> {"engines": [{"name", "voices": [...]}],
 * "workers_reporting", "source": "workers" | "built-in"}. */
qerr h_voices(qreq *r)
{
    qerr e = api_need_db(r);
    if (e)
        return e;
    int nw;
    cJSON *rep = reported_voices(r, &nw);
    cJSON *o = api_obj(r);
    cJSON *arr = cJSON_AddArrayToObject(o, "engines");
    static const char *const names[] = {"flite", "espeak-ng"};
    for (int k = 0; k < 2; k++) {
        cJSON *eng = cJSON_CreateObject();
        cJSON_AddStringToObject(eng, "name", names[k]);
        cJSON *have = cJSON_GetObjectItemCaseSensitive(rep, names[k]);
        cJSON_AddBoolToObject(eng, "available", have != NULL);
        cJSON *vs;
        if (have) {
            vs = cJSON_Duplicate(have, 1);
        } else {
            vs = cJSON_CreateArray();
            for (const char *const *b = k == 0 ? flite_builtin : espeak_builtin; *b; b++) {
                cJSON *v = cJSON_CreateObject();
                cJSON_AddStringToObject(v, "id", *b);
                cJSON_AddStringToObject(v, "name", *b);
                cJSON_AddItemToArray(vs, v);
            }
        }
        cJSON_AddItemToObject(eng, "voices", vs);
        cJSON_AddItemToArray(arr, eng);
    }
    /* engines a worker reports beyond the two quire knows */
    const cJSON *x;
    cJSON_ArrayForEach(x, rep) {
        if (engine_known(x->string))
            continue;
        cJSON *eng = cJSON_CreateObject();
        cJSON_AddStringToObject(eng, "name", x->string);
        cJSON_AddBoolToObject(eng, "available", 1);
        cJSON_AddItemToObject(eng, "voices", cJSON_Duplicate(x, 1));
        cJSON_AddItemToArray(arr, eng);
    }
    cJSON_AddNumberToObject(o, "workers_reporting", nw);
    cJSON_AddStringToObject(o, "source", nw ? "workers" : "built-in");
    return api_reply_json(r, 200, o, NULL);
}

/* ---- create ----------------------------------------------------------- */

static qerr unprocessable(qreq *r, const char *field, const char *what)
{
    return api_fail(r, Q_ERR_UNPROCESSABLE, "field '%s' %s", field, what);
}

static int blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return 0;
    return 1;
}

/* Code points in UTF-8 text (what "characters" means for the limit). */
static int64_t utf8_chars(const char *s)
{
    int64_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int code_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

static int date_ok(const char *s)
{
    int y, m, d;
    char tail;
    if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
        return 0;
    return y >= 2000 && y <= 2999 && m >= 1 && m <= 12 && d >= 1 && d <= 31 && s[4] == '-' && s[7] == '-';
}

/* Validates voice_settings into a fresh object (arena-owned); decode.h. */
qerr tts_parse_voice(qreq *r, const cJSON *body, cJSON **out)
{
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(body, "voice_settings");
    if (!vs) vs = cJSON_GetObjectItemCaseSensitive(body, "voiceSettings");   /* the seed's spelling */
    if (vs && !cJSON_IsObject(vs) && !cJSON_IsNull(vs))
        return unprocessable(r, "voice_settings", "must be an object");
    const char *engine = NULL, *voice = NULL, *lang = NULL;
    double speed = 1.0, pitch = 1.0;
    qerrctx e = {0};
    if (cJSON_IsObject(vs)) {
        if (qjson_str(vs, "engine", 0, 32, &engine, &e))
            return unprocessable(r, "voice_settings.engine", "must be \"flite\" or \"espeak-ng\"");
        if (qjson_str(vs, "voice", 0, 64, &voice, &e) || (!voice && qjson_str(vs, "voiceId", 0, 64, &voice, &e)))
            return unprocessable(r, "voice_settings.voice", "must be a string of at most 64 bytes");
        if (qjson_str(vs, "language", 0, 32, &lang, &e))
            return unprocessable(r, "voice_settings.language", "must be a string of at most 32 bytes");
        if (qjson_num(vs, "speed", 0, 0.5, 2.0, &speed, &e))
            return unprocessable(r, "voice_settings.speed", "must be a number from 0.5 to 2.0");
        /* pitch 0 means the voice's own, as the engines read it */
        const cJSON *pv = cJSON_GetObjectItemCaseSensitive(vs, "pitch");
        if (cJSON_IsNumber(pv) && pv->valuedouble == 0)
            pitch = 1.0;
        else if (qjson_num(vs, "pitch", 0, 0.5, 2.0, &pitch, &e))
            return unprocessable(r, "voice_settings.pitch", "must be a number from 0.5 to 2.0 (a factor; 0: the voice's own)");
    }
    /* a form's empty choice is no choice */
    if (engine && !*engine)
        engine = NULL;
    if (voice && !*voice)
        voice = NULL;
    if (engine && !strcmp(engine, "espeak"))
        engine = "espeak-ng";
    if (engine && !engine_known(engine))
        return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'voice_settings.engine': unknown engine '%.32s' (flite or espeak-ng)",
                        engine);
    if (voice && !strcmp(voice, "default"))
        voice = NULL;                            /* the seed's {"voiceId": "default"} */
    /* no engine named: the worker picks by voice and language */
    if (voice && (engine ? !voice_known(r, engine, voice)
                         : !voice_known(r, "flite", voice) && !voice_known(r, "espeak-ng", voice)))
        return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'voice_settings.voice': unknown voice '%.64s'%s%s"
                        " (GET /api/v1/voices lists them)", voice, engine ? " for " : "", engine ? engine : "");
    cJSON *o = qjson_own(r->arena, cJSON_CreateObject());
    qjson_add_str_or_null(o, "engine", engine);
    qjson_add_str_or_null(o, "voice", voice);
    if (lang)
        cJSON_AddStringToObject(o, "language", lang);
    cJSON_AddNumberToObject(o, "speed", speed);
    cJSON_AddNumberToObject(o, "pitch", pitch);
    *out = o;
    return Q_OK;
}

/* The body of POST /api/v1/tts/queue up to voice_settings (tts_parse_voice
 * checks voices against the database): a script or chapters, within the
 * character limit. */
qerr tts_decode(qreq *r, const cJSON *body, tts_in *out)
{
    const qconfig *cfg = qconfig_get();
    qerrctx fe = {0};
    const char *script = NULL, *work_id = NULL, *title = "", *format = "mp3", *notify = NULL, *channel = NULL,
               *date = NULL;
    int64_t prio = 0, video = 0;
    if (qjson_str(body, "script_text", 0, (size_t)cfg->max_tts_chars * 4, &script, &fe))
        return unprocessable(r, "script_text", "must be a string (at most the character limit)");
    if (qjson_str(body, "work_id", 0, 128, &work_id, &fe) ||
        (!work_id && qjson_str(body, "workId", 0, 128, &work_id, &fe)))      /* the seed's spelling */
        return unprocessable(r, "work_id", "must be a string of at most 128 bytes");
    if (qjson_str(body, "title", 0, 255, &title, &fe))
        return unprocessable(r, "title", "must be a string of at most 255 bytes");
    const char *author = NULL;
    if (qjson_str(body, "author", 0, 255, &author, &fe))
        return unprocessable(r, "author", "must be a string of at most 255 bytes");
    if (qjson_str(body, "format", 0, 8, &format, &fe) ||
        (strcmp(format, "mp3") && strcmp(format, "m4b") && strcmp(format, "wav")))
        return unprocessable(r, "format", "must be \"mp3\", \"m4b\" or \"wav\"");
    if (qjson_int(body, "priority", 0, -100, 100, &prio, &fe))
        return unprocessable(r, "priority", "must be a whole number from -100 to 100");
    if (qjson_str(body, "notify_url", 0, QNOTIFY_URL_MAX, &notify, &fe) || (notify && !qnotify_url_ok(notify)))
        return unprocessable(r, "notify_url", "must be an http:// or https:// URL of at most 2048 bytes");
    if (qjson_str(body, "channel_code", 0, 32, &channel, &fe) || (channel && !code_ok(channel)))
        return unprocessable(r, "channel_code", "must be 1-32 letters, digits, _ or -");
    if (qjson_int(body, "video_number", 0, 1, 100000, &video, &fe))
        return unprocessable(r, "video_number", "must be a whole number from 1");
    if (qjson_str(body, "date", 0, 10, &date, &fe) || (date && !date_ok(date)))
        return unprocessable(r, "date", "must be a date YYYY-MM-DD");
    if (channel && !video)
        return unprocessable(r, "video_number", "is required with channel_code");
    if (video && !channel)
        return unprocessable(r, "channel_code", "is required with video_number");

    /* the text: a script, or chapters */
    const cJSON *chs = cJSON_GetObjectItemCaseSensitive(body, "chapters");
    tts_chapter_in *ch;
    int n = 0;
    int64_t total = 0;
    if (script && chs)
        return unprocessable(r, "chapters", "cannot be given together with script_text");
    if (script) {
        if (blank(script))
            return unprocessable(r, "script_text", "must not be empty");
        ch = qarena_calloc(r->arena, sizeof *ch);
        ch[0] = (tts_chapter_in){NULL, title, script, utf8_chars(script)};
        total = ch[0].chars;
        n = 1;
    } else {
        if (!chs)
            return unprocessable(r, "script_text", "is required (or chapters)");
        if (!cJSON_IsArray(chs) || cJSON_GetArraySize(chs) == 0)
            return unprocessable(r, "chapters", "must be a non-empty array");
        if (cJSON_GetArraySize(chs) > TTS_MAX_CHAPTERS)
            return unprocessable(r, "chapters", "may hold at most 1000 chapters");
        ch = qarena_calloc(r->arena, sizeof *ch * (size_t)cJSON_GetArraySize(chs));
        const cJSON *c;
        cJSON_ArrayForEach(c, chs) {
            char f[48];
            if (!cJSON_IsObject(c)) {
                snprintf(f, sizeof f, "chapters[%d]", n);
                return unprocessable(r, f, "must be an object {\"id\", \"title\", \"text\"}");
            }
            tts_chapter_in *x = &ch[n];
            x->title = "";
            const cJSON *idv = cJSON_GetObjectItemCaseSensitive(c, "id");
            if (cJSON_IsString(idv) && strlen(idv->valuestring) <= 128)
                x->id = idv->valuestring;
            else if (cJSON_IsNumber(idv) && fabs(idv->valuedouble) <= QJSON_MAX_EXACT_INT)
                x->id = qarena_printf(r->arena, "%lld", (long long)idv->valuedouble);  /* others: no id, as a bad string */
            snprintf(f, sizeof f, "chapters[%d].title", n);
            if (qjson_str(c, "title", 0, 255, &x->title, &fe))
                return unprocessable(r, f, "must be a string of at most 255 bytes");
            snprintf(f, sizeof f, "chapters[%d].text", n);
            if (qjson_str(c, "text", 1, (size_t)cfg->max_tts_chars * 4, &x->text, &fe))
                return unprocessable(r, f, "is required and must be a string");
            if (blank(x->text))
                return unprocessable(r, f, "must not be empty");
            x->chars = utf8_chars(x->text);
            total += x->chars;
            n++;
        }
    }
    if (total > cfg->max_tts_chars)
        return api_fail(r, Q_ERR_UNPROCESSABLE, "field '%s': %lld characters is over the limit of %lld per request",
                        script ? "script_text" : "chapters", (long long)total, (long long)cfg->max_tts_chars);
    *out = (tts_in){script, work_id, title, author, format, notify, channel, date, prio, video, total, ch, n};
    return Q_OK;
}

/* POST /api/v1/tts/queue -> 202 {"job_id", "status": "queued", "status_url"}. */
qerr h_tts_create(qreq *r)
{
    cJSON *body;
    const qconfig *cfg = qconfig_get();
    qerr e = api_need_db(r);
    if (e)
        return e;
    /* a book is bigger than other JSON bodies: up to the character limit
     * in \uXXXX escapes, plus room for the rest */
    const char *ct = api_param(r, "CONTENT_TYPE");
    if (ct && *ct && strncasecmp(ct, "application/json", 16) != 0)
        return api_fail(r, Q_ERR_UNSUPPORTED, "expected Content-Type application/json, got %.64s", ct);
    char *raw;
    size_t rawlen;
    size_t limit = (size_t)cfg->max_tts_chars * 6 + (1u << 20);
    if ((size_t)cfg->max_json_bytes > limit)
        limit = (size_t)cfg->max_json_bytes;
    e = api_body(r, limit, &raw, &rawlen);
    if (!e)
        e = qjson_parse(r->arena, raw, rawlen, &body, &r->err);
    if (e)
        return e;
    if (!cJSON_IsObject(body))
        return api_fail(r, Q_ERR_INVALID, "the request body must be a JSON object");
    tts_in in;
    if ((e = tts_decode(r, body, &in)))
        return e;
    const char *work_id = in.work_id, *title = in.title, *format = in.format, *notify = in.notify,
               *channel = in.channel, *date = in.date, *script = in.script, *author = in.author;
    int64_t prio = in.prio, video = in.video, total = in.total;
    tts_chapter_in *ch = in.ch;
    int n = in.n;
    cJSON *voice = NULL;
    e = tts_parse_voice(r, body, &voice);
    if (e)
        return e;
    char *voice_text = cJSON_PrintUnformatted(voice);
    qarena_defer(r->arena, free, voice_text);

    char pub[33];
    qrandom_hex(pub, 16);
    char today[11];
    if (channel && !date) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(today, sizeof today, "%Y-%m-%d", &tm);
        date = today;
    }
    const char *dir = channel ? qarena_printf(r->arena, "tts/%s/%s/video_%lld", date, channel, (long long)video)
                              : qarena_printf(r->arena, "tts/%lld/%s", (long long)r->user.id, pub);

    int64_t rid = 0, asm_id = 0, counter = 0;
    e = qdb_begin(r->db, &r->err);
    /* daily videos are numbered by the seed's audio counter */
    if (!e && channel)
        e = qqueue_counter_add(r->db, "audio_counter", 1, &counter, &r->err);
    if (!e)
        e = qdb_exec(r->db, &r->err,
                     "INSERT INTO tts_requests (public_id, owner_id, kind, work_id, title, voice_settings, format, priority,"
                     " notify_url, channel_code, video_number, video_date, audio_counter, output_dir, total_chapters,"
                     " total_chars) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     "sisssssissIsIsii", pub, r->user.id, script ? "script" : "book", work_id, title, voice_text, format,
                     prio, notify, channel, video, channel ? date : NULL, counter, dir, (int64_t)n, total);
    if (!e)
        rid = (int64_t)qdb_insert_id(r->db);
    int64_t *ids = qarena_calloc(r->arena, sizeof *ids * (size_t)n);
    cJSON *titles = qjson_own(r->arena, cJSON_CreateArray());
    cJSON *inputs = qjson_own(r->arena, cJSON_CreateArray());
    for (int i = 0; !e && i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "chapter_%03d.wav", i + 1);
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "text", ch[i].text);
        cJSON_AddStringToObject(p, "title", ch[i].title ? ch[i].title : "");
        const cJSON *v;
        cJSON_ArrayForEach(v, voice)          /* engine, voice, language, speed, pitch */
            if (!cJSON_IsNull(v))
                cJSON_AddItemToObject(p, v->string, cJSON_Duplicate(v, 1));
        cJSON_AddStringToObject(p, "format", "wav");
        cJSON_AddStringToObject(p, "output", qarena_printf(r->arena, "%s/%s", dir, name));
        cJSON_AddStringToObject(p, "request", pub);
        cJSON_AddNumberToObject(p, "chapter", i + 1);
        cJSON_AddNumberToObject(p, "total_chapters", n);
        cJSON_AddStringToObject(p, "output_dir", dir);
        char *pt = cJSON_PrintUnformatted(p);
        cJSON_Delete(p);
        if (!pt) {
            e = api_fail(r, Q_ERR_NOMEM, "out of memory");
            break;
        }
        qjob_spec s = {.type = "tts", .payload = pt, .priority = (int)prio, .premium = r->user.premium,
                       .owner_id = r->user.id, .parent_id = rid};
        e = qqueue_enqueue(r->db, &s, &ids[i], NULL, &r->err);
        free(pt);
        if (!e)
            e = qdb_exec(r->db, &r->err,
                         "INSERT INTO tts_chapters (request_id, seq, chapter_id, title, chars, job_id, output_name)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?)", "iissiis", rid, (int64_t)(i + 1), ch[i].id,
                         ch[i].title ? ch[i].title : "", ch[i].chars, ids[i], name);
        cJSON_AddItemToArray(titles, cJSON_CreateString(ch[i].title && *ch[i].title ? ch[i].title
                                                        : qarena_printf(r->arena, "Chapter %d", i + 1)));
        cJSON_AddItemToArray(inputs, cJSON_CreateString(qarena_printf(r->arena, "%s/%s", dir, name)));
    }
    if (!e) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddItemToObject(p, "inputs", cJSON_Duplicate(inputs, 1));
        cJSON_AddItemToObject(p, "titles", cJSON_Duplicate(titles, 1));
        cJSON_AddStringToObject(p, "format", format);
        cJSON_AddStringToObject(p, "output", qarena_printf(r->arena, "%s/audio.%s", dir, format));
        cJSON_AddStringToObject(p, "title", title);
        if (author)
            cJSON_AddStringToObject(p, "author", author);
        cJSON_AddStringToObject(p, "request", pub);
        cJSON_AddStringToObject(p, "output_dir", dir);
        char *pt = cJSON_PrintUnformatted(p);
        cJSON_Delete(p);
        qjob_spec s = {.type = "assemble", .payload = pt ? pt : "{}", .priority = (int)prio,
                       .premium = r->user.premium, .owner_id = r->user.id, .parent_id = rid,
                       .depends_on = ids, .ndeps = n};
        e = qqueue_enqueue(r->db, &s, &asm_id, NULL, &r->err);
        free(pt);
    }
    if (!e)
        e = qdb_exec(r->db, &r->err, "UPDATE tts_requests SET assemble_job_id = ? WHERE id = ?", "ii", asm_id, rid);
    if (!e && notify)
        e = qnotify_watch(r->db, r->user.id, "tts", rid, asm_id, notify, &r->err);
    if (!e)
        e = qdb_commit(r->db, &r->err);
    if (e) {
        if (qdb_in_txn(r->db))
            qdb_rollback(r->db);
        return e;
    }
    qqueue_wake(r->db, "tts");
    cJSON *o = api_obj(r);
    cJSON_AddStringToObject(o, "job_id", pub);
    cJSON_AddStringToObject(o, "status", "queued");
    cJSON_AddStringToObject(o, "status_url", qarena_printf(r->arena, "/api/v1/tts/queue/%s", pub));
    cJSON_AddNumberToObject(o, "total_chapters", n);
    cJSON_AddNumberToObject(o, "total_characters", (double)total);
    cJSON_AddStringToObject(o, "organized_path", dir);
    if (counter)
        cJSON_AddNumberToObject(o, "audio_counter", (double)counter);
    const char *loc = qarena_printf(r->arena, "Location: /api/v1/tts/queue/%s\r\n", pub);
    return api_reply_json(r, 202, o, loc);
}

/* ---- status ----------------------------------------------------------- */

typedef struct tts_req {
    int64_t id, owner, assemble_id;
    const char *pub, *kind, *work_id, *title, *voice, *format, *dir, *channel, *date, *created, *notify;
    int64_t video, total, chars, counter;
    int cancelled;
} tts_req;

static qerr tts_load(qreq *r, const char *pub, tts_req *t)
{
    qerr e = api_need_db(r);
    if (e)
        return e;
    if (!pub || strlen(pub) != 32)
        return api_fail(r, Q_ERR_NOT_FOUND, "no TTS request %.40s", pub ? pub : "");
    qrows *rows = NULL;
    e = qdb_query(r->db, r->arena, &rows, &r->err,
                  "SELECT id, owner_id, COALESCE(assemble_job_id, 0), public_id, kind, work_id, title, voice_settings,"
                  " format, output_dir, channel_code, video_date, created_at, notify_url, COALESCE(video_number, 0),"
                  " total_chapters, total_chars, cancelled_at IS NOT NULL, COALESCE(audio_counter, 0)"
                  " FROM tts_requests WHERE public_id = ?",
                  "s", pub);
    if (e)
        return e;
    if (rows->nrows == 0 || (qrows_i64(rows, 0, 1, 0) != r->user.id && !is_admin(r)))
        return api_fail(r, Q_ERR_NOT_FOUND, "no TTS request %s", pub);
    t->id = qrows_i64(rows, 0, 0, 0);
    t->owner = qrows_i64(rows, 0, 1, 0);
    t->assemble_id = qrows_i64(rows, 0, 2, 0);
    t->pub = qrows_get(rows, 0, 3);
    t->kind = qrows_get(rows, 0, 4);
    t->work_id = qrows_get(rows, 0, 5);
    t->title = qrows_get(rows, 0, 6);
    t->voice = qrows_get(rows, 0, 7);
    t->format = qrows_get(rows, 0, 8);
    t->dir = qrows_get(rows, 0, 9);
    t->channel = qrows_get(rows, 0, 10);
    t->date = qrows_get(rows, 0, 11);
    t->created = qrows_get(rows, 0, 12);
    t->notify = qrows_get(rows, 0, 13);
    t->video = qrows_i64(rows, 0, 14, 0);
    t->total = qrows_i64(rows, 0, 15, 0);
    t->chars = qrows_i64(rows, 0, 16, 0);
    t->cancelled = (int)qrows_i64(rows, 0, 17, 0);
    t->counter = qrows_i64(rows, 0, 18, 0);
    return Q_OK;
}

static const char *chapter_status(const char *s)
{
    if (!strcmp(s, "pending") || !strcmp(s, "waiting"))
        return "queued";
    if (!strcmp(s, "running"))
        return "processing";
    return s;
}

/* The path a completed job's file has: result.path when safe, else
 * dir/name. Arena-owned. */
static const char *result_path(qreq *r, const char *result, const char *dir, const char *name)
{
    cJSON *res = NULL;
    qerrctx e = {0};
    if (result && qjson_parse(r->arena, result, strlen(result), &res, &e) == Q_OK) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(res, "path");
        if (cJSON_IsString(p) && api_safe_rel_path(p->valuestring))
            return p->valuestring;
    }
    return qarena_printf(r->arena, "%s/%s", dir, name);
}

/* Builds the status object; *status_out gets the status. */
static qerr tts_status(qreq *r, const tts_req *t, int with_chapters, cJSON **out)
{
    qrows *c = NULL, *a = NULL;
    qerr e = qdb_query(r->db, r->arena, &c, &r->err,
                       "SELECT c.seq, c.chapter_id, c.title, c.output_name, j.id, j.status, j.progress_percent,"
                       " j.progress_message, j.last_error, c.chars, j.attempts, j.started_at, j.finished_at"
                       " FROM tts_chapters c JOIN jobs j ON j.id = c.job_id WHERE c.request_id = ? ORDER BY c.seq",
                       "i", t->id);
    if (!e)
        e = qdb_query(r->db, r->arena, &a, &r->err,
                      "SELECT status, progress_percent, progress_message, last_error, finished_at FROM jobs WHERE id = ?",
                      "i", t->assemble_id);
    if (e)
        return e;
    int n = c->nrows, done = 0, running = 0, failed = 0, cancelled = 0, current = 0;
    double sum = 0;
    const char *cur_msg = NULL, *err = NULL;
    for (int i = 0; i < n; i++) {
        const char *st = qrows_get(c, i, 5);
        if (!strcmp(st, "completed")) {
            done++;
            sum += 100;
        } else if (!strcmp(st, "running")) {
            running++;
            sum += qrows_double(c, i, 6, 0);
            if (!current) {
                current = (int)qrows_i64(c, i, 0, 0);
                cur_msg = qrows_get(c, i, 7);
            }
        } else if (!strcmp(st, "failed")) {
            failed++;
            if (!err)
                err = qarena_printf(r->arena, "chapter %s: %s", qrows_get(c, i, 0),
                                    qrows_get(c, i, 8) ? qrows_get(c, i, 8) : "failed");
        } else if (!strcmp(st, "cancelled")) {
            cancelled++;
        }
    }
    const char *ast = a->nrows ? qrows_get(a, 0, 0) : "waiting";
    double apct = a->nrows ? qrows_double(a, 0, 1, 0) : 0;
    const char *status;
    if (!strcmp(ast, "completed"))
        status = "completed";
    else if (t->cancelled || cancelled || !strcmp(ast, "cancelled"))
        status = "cancelled";
    else if (failed || !strcmp(ast, "failed"))
        status = "failed";
    else if (running || done || !strcmp(ast, "running"))
        status = "processing";
    else
        status = "queued";
    if (!strcmp(status, "failed") && !err)
        err = a->nrows && qrows_get(a, 0, 3) ? qrows_get(a, 0, 3) : "failed";
    if (!strcmp(status, "cancelled"))
        err = "cancelled at the owner's request";
    if (!current)
        current = done < n ? done + 1 : n;
    double pct = !strcmp(status, "completed") ? 100
               : (n ? sum / n : 0) * 0.95 + (!strcmp(ast, "running") ? apct : 0) * 0.05;
    const char *msg;
    if (!strcmp(status, "completed"))
        msg = "completed";
    else if (!strcmp(status, "queued"))
        msg = "queued";
    else if (!strcmp(status, "processing") && done == n)
        msg = qarena_printf(r->arena, "assembling %d chapter%s%s%s", n, n == 1 ? "" : "s",
                            a->nrows && qrows_get(a, 0, 2) ? ": " : "", a->nrows && qrows_get(a, 0, 2) ? qrows_get(a, 0, 2) : "");
    else if (!strcmp(status, "processing"))
        msg = qarena_printf(r->arena, "chapter %d of %d%s%s", current, n, cur_msg ? ": " : "", cur_msg ? cur_msg : "");
    else
        msg = status;
    cJSON *o = api_obj(r);
    cJSON_AddStringToObject(o, "job_id", t->pub);
    cJSON_AddStringToObject(o, "status", status);
    cJSON_AddNumberToObject(o, "progress_percent", (double)(int)(pct * 10 + 0.5) / 10);
    cJSON_AddStringToObject(o, "progress_message", msg);
    cJSON_AddNumberToObject(o, "current_chapter", current);
    cJSON_AddNumberToObject(o, "total_chapters", n);
    cJSON_AddNumberToObject(o, "chapters_done", done);
    qjson_add_str_or_null(o, "error", strcmp(status, "completed") && strcmp(status, "processing") && strcmp(status, "queued") ? err : NULL);
    qjson_add_str_or_null(o, "audio_url", !strcmp(status, "completed")
                          ? qarena_printf(r->arena, "/api/v1/tts/queue/%s/audio", t->pub) : NULL);
    cJSON_AddStringToObject(o, "status_url", qarena_printf(r->arena, "/api/v1/tts/queue/%s", t->pub));
    cJSON_AddStringToObject(o, "kind", t->kind);
    cJSON_AddStringToObject(o, "title", t->title ? t->title : "");
    qjson_add_str_or_null(o, "work_id", t->work_id);
    cJSON_AddStringToObject(o, "format", t->format);
    qjson_add_raw(o, "voice_settings", t->voice);
    cJSON_AddStringToObject(o, "organized_path", t->dir);
    qjson_add_str_or_null(o, "channel_code", t->channel);
    if (t->video)
        cJSON_AddNumberToObject(o, "video_number", (double)t->video);
    if (t->counter)
        cJSON_AddNumberToObject(o, "audio_counter", (double)t->counter);
    qjson_add_str_or_null(o, "date", t->date);
    cJSON_AddNumberToObject(o, "total_characters", (double)t->chars);
    cJSON_AddBoolToObject(o, "notify", t->notify != NULL);
    qjson_add_time(o, "created_at", t->created);
    qjson_add_time(o, "completed_at", !strcmp(status, "completed") && a->nrows ? qrows_get(a, 0, 4) : NULL);
    if (with_chapters) {
        cJSON *arr = cJSON_AddArrayToObject(o, "chapters");
        for (int i = 0; i < n; i++) {
            cJSON *x = cJSON_CreateObject();
            const char *st = qrows_get(c, i, 5);
            cJSON_AddNumberToObject(x, "number", (double)qrows_i64(c, i, 0, 0));
            qjson_add_str_or_null(x, "id", qrows_get(c, i, 1));
            cJSON_AddStringToObject(x, "title", qrows_get(c, i, 2));
            cJSON_AddStringToObject(x, "status", chapter_status(st));
            cJSON_AddNumberToObject(x, "progress_percent", !strcmp(st, "completed") ? 100 : qrows_double(c, i, 6, 0));
            qjson_add_str_or_null(x, "progress_message", qrows_get(c, i, 7));
            qjson_add_str_or_null(x, "error", strcmp(st, "completed") ? qrows_get(c, i, 8) : NULL);
            qjson_add_int_text(x, "characters", qrows_get(c, i, 9));
            qjson_add_int_text(x, "attempts", qrows_get(c, i, 10));
            qjson_add_int_text(x, "queue_job_id", qrows_get(c, i, 4));
            qjson_add_time(x, "started_at", qrows_get(c, i, 11));
            qjson_add_time(x, "finished_at", qrows_get(c, i, 12));
            qjson_add_str_or_null(x, "audio_url", !strcmp(st, "completed")
                                  ? qarena_printf(r->arena, "/api/v1/tts/queue/%s/chapters/%s/audio", t->pub,
                                                  qrows_get(c, i, 0)) : NULL);
            cJSON_AddItemToArray(arr, x);
        }
        cJSON *as = cJSON_AddObjectToObject(o, "assemble");
        cJSON_AddNumberToObject(as, "queue_job_id", (double)t->assemble_id);
        cJSON_AddStringToObject(as, "status", chapter_status(ast));
        cJSON_AddNumberToObject(as, "progress_percent", apct);
    }
    *out = o;
    return Q_OK;
}

/* GET /api/v1/tts/queue/{job_id} */
qerr h_tts_get(qreq *r)
{
    tts_req t;
    cJSON *o;
    qerr e = tts_load(r, r->params[0], &t);
    if (!e)
        e = tts_status(r, &t, 1, &o);
    return e ? e : api_reply_json(r, 200, o, NULL);
}

/* GET /api/v1/tts/queue?page=&per_page= -> {"items", "page", "per_page",
 * "total"}: the caller's requests, newest first (admins: ?all=1 for
 * everyone's). */
qerr h_tts_list(qreq *r)
{
    qerr e = api_need_db(r);
    if (e)
        return e;
    int64_t page = 1, per = 20;
    const char *p = api_query(r, "page"), *pp = api_query(r, "per_page");
    if ((p && qparse_i64(p, 1, 1000000, &page)) || (pp && qparse_i64(pp, 1, 100, &per)))
        return api_fail(r, Q_ERR_INVALID, "page must be >= 1 and per_page 1-100");
    const char *all = api_query(r, "all");
    int64_t owner = all && is_admin(r) ? 0 : r->user.id;
    qrows *rows = NULL, *cnt = NULL;
    e = qdb_query(r->db, r->arena, &rows, &r->err,
                  "SELECT public_id FROM tts_requests WHERE (? = 0 OR owner_id = ?) ORDER BY id DESC LIMIT ? OFFSET ?",
                  "iiii", owner, owner, per, (page - 1) * per);
    if (!e)
        e = qdb_query(r->db, r->arena, &cnt, &r->err, "SELECT COUNT(*) FROM tts_requests WHERE (? = 0 OR owner_id = ?)",
                      "ii", owner, owner);
    if (e)
        return e;
    cJSON *o = api_obj(r);
    cJSON *items = cJSON_AddArrayToObject(o, "items");
    for (int i = 0; i < rows->nrows; i++) {
        tts_req t;
        cJSON *x;
        e = tts_load(r, qrows_get(rows, i, 0), &t);
        if (!e)
            e = tts_status(r, &t, 0, &x);
        if (e)
            return e;
        cJSON_AddItemReferenceToArray(items, x);
    }
    cJSON_AddNumberToObject(o, "page", (double)page);
    cJSON_AddNumberToObject(o, "per_page", (double)per);
    cJSON_AddNumberToObject(o, "total", (double)qrows_i64(cnt, 0, 0, 0));
    return api_reply_json(r, 200, o, NULL);
}

/* DELETE /api/v1/tts/queue/{job_id}: cancels every job of the request
 * (running ones at their next checkpoint). 409 when it already ended. */
qerr h_tts_cancel(qreq *r)
{
    tts_req t;
    cJSON *o;
    qerr e = tts_load(r, r->params[0], &t);
    if (!e)
        e = tts_status(r, &t, 0, &o);
    if (e)
        return e;
    const char *st = cJSON_GetObjectItemCaseSensitive(o, "status")->valuestring;
    if (!strcmp(st, "completed") || !strcmp(st, "failed") || (!strcmp(st, "cancelled") && t.cancelled))
        return api_fail(r, Q_ERR_CONFLICT, "TTS request %s is already %s", t.pub, st);
    e = qdb_exec(r->db, &r->err, "UPDATE tts_requests SET cancelled_at = NOW(3) WHERE id = ? AND cancelled_at IS NULL",
                 "i", t.id);
    if (e)
        return e;
    /* the assemble job first, so the chapters' cancellation does not fail it */
    qrows *rows = NULL;
    e = qdb_query(r->db, r->arena, &rows, &r->err,
                  "SELECT ? UNION ALL SELECT job_id FROM (SELECT job_id FROM tts_chapters WHERE request_id = ? ORDER BY seq) c",
                  "ii", t.assemble_id, t.id);
    if (e)
        return e;
    int running = 0, stopped = 0;
    for (int i = 0; i < rows->nrows; i++) {
        qerrctx ce = {0};
        int run = 0;
        if (qqueue_cancel(r->db, qrows_i64(rows, i, 0, 0), 0, &run, &ce) == Q_OK) {
            running += run;
            stopped += !run;
        }
    }
    cJSON *x = api_obj(r);
    cJSON_AddStringToObject(x, "job_id", t.pub);
    cJSON_AddStringToObject(x, "status", "cancelled");
    cJSON_AddNumberToObject(x, "jobs_cancelled", stopped);
    cJSON_AddNumberToObject(x, "jobs_stopping", running);
    return api_reply_json(r, 200, x, NULL);
}

static const char *mime(const char *format)
{
    return !strcmp(format, "mp3") ? "audio/mpeg" : !strcmp(format, "m4b") ? "audio/mp4" : "audio/wav";
}

/* Answers with the stored file by X-Accel-Redirect; 404 when it is gone. */
static qerr send_file(qreq *r, const char *rel, const char *ctype, const char *filename)
{
    if (!api_safe_rel_path(rel))
        return api_fail(r, Q_ERR_INTERNAL, "unsafe stored path");
    struct stat st;
    const char *abs = qarena_printf(r->arena, "%s/%s", qconfig_get()->storage_dir, rel);
    if (stat(abs, &st) != 0 || !S_ISREG(st.st_mode))
        return api_fail(r, Q_ERR_NOT_FOUND, "the audio file is missing from storage");
    const char *h = qarena_printf(r->arena, "X-Accel-Redirect: /_storage/%s\r\n"
                                  "Content-Disposition: inline; filename=\"%s\"\r\n", rel,
                                  api_header_value(r, filename, 1));
    return api_reply_raw(r, 200, ctype, "", 0, h);
}

/* GET /api/v1/tts/queue/{job_id}/audio: 409 until the request completed. */
qerr h_tts_audio(qreq *r)
{
    tts_req t;
    qerr e = tts_load(r, r->params[0], &t);
    if (e)
        return e;
    qrows *a = NULL;
    e = qdb_query(r->db, r->arena, &a, &r->err, "SELECT status, result FROM jobs WHERE id = ?", "i", t.assemble_id);
    if (e)
        return e;
    if (a->nrows == 0 || strcmp(qrows_get(a, 0, 0), "completed") != 0)
        return api_fail(r, Q_ERR_CONFLICT, "the audio of %s is not ready yet", t.pub);
    const char *name = qarena_printf(r->arena, "audio.%s", t.format);
    return send_file(r, result_path(r, qrows_get(a, 0, 1), t.dir, name), mime(t.format),
                     qarena_printf(r->arena, "%s.%s", t.pub, t.format));
}

/* GET /api/v1/tts/queue/{job_id}/chapters/{n}/audio (a WAV per chapter). */
qerr h_tts_chapter_audio(qreq *r)
{
    tts_req t;
    qerr e = tts_load(r, r->params[0], &t);
    if (e)
        return e;
    int64_t n;
    if (qparse_i64(r->params[1], 1, TTS_MAX_CHAPTERS, &n) != 0)
        return api_fail(r, Q_ERR_NOT_FOUND, "no chapter %.16s", r->params[1]);
    qrows *c = NULL;
    e = qdb_query(r->db, r->arena, &c, &r->err,
                  "SELECT j.status, j.result, c.output_name FROM tts_chapters c JOIN jobs j ON j.id = c.job_id"
                  " WHERE c.request_id = ? AND c.seq = ?", "ii", t.id, n);
    if (e)
        return e;
    if (c->nrows == 0)
        return api_fail(r, Q_ERR_NOT_FOUND, "%s has no chapter %lld", t.pub, (long long)n);
    if (strcmp(qrows_get(c, 0, 0), "completed") != 0)
        return api_fail(r, Q_ERR_CONFLICT, "chapter %lld of %s is not ready yet", (long long)n, t.pub);
    return send_file(r, result_path(r, qrows_get(c, 0, 1), t.dir, qrows_get(c, 0, 2)), "audio/wav",
                     qarena_printf(r->arena, "%s-%03lld.wav", t.pub, (long long)n));
}
