/* job_transcribe.c - the transcribe job: probe one chapter's audio (its
 * duration, codec, bitrate and rates go on the chapter), recognise it with
 * the ASR engine, and store the transcript as txt, json, srt and vtt next to
 * the audiobook. Payload (from cgi/audiobooks.c): {"chapter_id", "chapter",
 * "audiobook", "path" (relative to the storage root), "language"}. */
#include "worker.h"
#include "audiobook.h"
#include "asr.h"
#include "audio.h"
#include "transcript.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct cp_bridge {
    qjobctx *c;
};

static int on_checkpoint(void *ud, double fraction, const char *message)
{
    struct cp_bridge *b = ud;
    return qjob_checkpoint(b->c, fraction * 100.0, message, 0, 0) != Q_OK;
}

static void remove_outputs(const char *prefix)
{
    static const char *ext[] = {"txt", "json", "srt", "vtt"};
    char p[4200];
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s.%s", prefix, ext[i]);
        unlink(p);
        snprintf(p, sizeof p, "%s.%s.part", prefix, ext[i]);
        unlink(p);
    }
}

qerr job_transcribe(qjobctx *c)
{
    const char *rel = NULL, *pub = NULL, *language = "en";
    int64_t chapter_id = 0, seq = 0;
    if (qjson_str(c->payload, "path", 1, 1024, &rel, &c->err) ||
        qjson_str(c->payload, "audiobook", 1, 64, &pub, &c->err) ||
        qjson_str(c->payload, "language", 0, 16, &language, &c->err) ||
        qjson_int(c->payload, "chapter_id", 1, 1, INT64_MAX, &chapter_id, &c->err) ||
        qjson_int(c->payload, "chapter", 1, 1, 100000, &seq, &c->err)) {
        c->permanent = 1;
        return c->err.code;
    }
    if (!qrel_path_ok(rel) || !qrel_path_ok(pub)) {
        c->permanent = 1;
        return qerr_set(&c->err, Q_ERR_INVALID, "payload path is not a storage path");
    }
    const char *root = qconfig_get()->storage_dir;
    char *path = qarena_printf(c->arena, "%s/%s", root, rel);
    char *rel_prefix = qarena_printf(c->arena, "audiobooks/%s/transcripts/%03lld", pub, (long long)seq);
    char *prefix = qarena_printf(c->arena, "%s/%s", root, rel_prefix);
    char *dir = qarena_printf(c->arena, "%s/audiobooks/%s/transcripts", root, pub);

    /* the headers give duration, codec and rates at once; the decode below
     * finds any corruption */
    q_audio_info info;
    memset(&info, 0, sizeof info);
    q_audio_reader *rd = NULL;
    qerr e = q_audio_reader_open(path, 0, &rd, &info, &c->err);
    q_audio_reader_close(rd);
    if (e) {
        c->permanent = e != Q_ERR_IO;
        return e;
    }
    qerrctx ignore = {0};
    if (qbook_chapter_media(c->db, chapter_id, info.duration, info.codec, (int)info.bitrate, info.sample_rate,
                            info.channels, &ignore) == Q_ERR_NOT_FOUND) {
        c->permanent = 1;       /* the book was deleted meanwhile */
        return qerr_set(&c->err, Q_ERR_NOT_FOUND, "chapter %lld no longer exists", (long long)chapter_id);
    }

    q_asr_options opt = {.language = language, .model_dir = NULL};
    q_transcript t;
    q_transcript_init(&t);
    struct cp_bridge b = {c};
    e = q_asr_transcribe_file(&q_asr_pocketsphinx, &opt, path, &t, on_checkpoint, &b, &c->err);
    if (e == Q_ERR_CANCELLED) {
        q_transcript_free(&t);
        return e;
    }
    if (e) {
        /* unsupported or corrupt audio, or no model: trying again will not help */
        c->permanent = e == Q_ERR_UNSUPPORTED || e == Q_ERR_UNPROCESSABLE || e == Q_ERR_INVALID;
        q_transcript_free(&t);
        return e;
    }
    if (qmkdir_p(dir, 0755) != 0) {
        q_transcript_free(&t);
        return qerr_set(&c->err, errno == ENOSPC ? Q_ERR_NO_SPACE : Q_ERR_IO, "cannot create %s: %s", dir,
                        strerror(errno));
    }
    e = q_transcript_save(&t, prefix, &c->err);
    size_t words = q_transcript_word_count(&t);
    size_t segs = t.nsegs;
    q_transcript_free(&t);
    if (e) {
        remove_outputs(prefix);
        return e;
    }
    if (qjob_checkpoint(c, 100, "transcribed", 0, 0) == Q_ERR_CANCELLED && atomic_load(&c->cancel)) {
        remove_outputs(prefix);
        return Q_ERR_CANCELLED;
    }
    c->result = qarena_printf(c->arena,
                              "{\"chapter_id\":%lld,\"chapter\":%lld,\"words\":%zu,\"segments\":%zu,"
                              "\"duration\":%.3f,\"codec\":\"%s\",\"transcript\":\"%s.json\"}",
                              (long long)chapter_id, (long long)seq, words, segs, info.duration, info.codec,
                              rel_prefix);
    return Q_OK;
}

/* In the completion's transaction: the chapter points at its transcript. */
void job_transcribe_after(qjobctx *c)
{
    const char *pub = NULL;
    int64_t chapter_id = 0, seq = 0;
    qerrctx e = {0};
    qjson_str(c->payload, "audiobook", 1, 64, &pub, &e);
    qjson_int(c->payload, "chapter_id", 1, 1, INT64_MAX, &chapter_id, &e);
    qjson_int(c->payload, "chapter", 1, 1, 100000, &seq, &e);
    cJSON *res = cJSON_Parse(c->result);
    int64_t words = res ? (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(res, "words")) : 0;
    cJSON_Delete(res);
    char rel[512];
    snprintf(rel, sizeof rel, "audiobooks/%s/transcripts/%03lld.json", pub ? pub : "", (long long)seq);
    qbook_chapter_transcript(c->db, chapter_id, rel, (int)words, &e);
}
