/* summarize.c - POST /api/v1/summarize {"text", "sentences"}: queues a
 * summarize job on any text (a book before it becomes speech) and answers
 * 202 with its id; the finished job's result holds "summary" and
 * "sentences" (each with its text and position). */
#include "api.h"
#include "decode.h"
#include "queue.h"

#include <stdio.h>
#include <string.h>

#define SUMMARIZE_MAX_TEXT (8u << 20)

qerr summarize_decode(qreq *r, const cJSON *in, summarize_in *out)
{
    qerr e;
    const char *text = NULL;
    int64_t sentences = 5, priority = 0;
    if ((e = qjson_str(in, "text", 1, SUMMARIZE_MAX_TEXT, &text, &r->err)) ||
        (e = qjson_int(in, "sentences", 0, 1, 200, &sentences, &r->err)) ||
        (e = qjson_int(in, "priority", 0, -100, 100, &priority, &r->err)))
        return e;
    if (strspn(text, " \t\r\n") == strlen(text))
        return api_fail(r, Q_ERR_UNPROCESSABLE, "field 'text' must not be empty");
    *out = (summarize_in){text, sentences, priority};
    return Q_OK;
}

qerr h_summarize(qreq *r)
{
    cJSON *body;
    summarize_in in;
    qerr e = api_json_body(r, &body);
    if (e || (e = summarize_decode(r, body, &in)))
        return e;
    const char *text = in.text;
    int64_t sentences = in.sentences, priority = in.priority;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "text", text);
    cJSON_AddNumberToObject(p, "sentences", (double)sentences);
    char *payload = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    if (!payload)
        return api_fail(r, Q_ERR_NOMEM, "out of memory");
    qjob_spec s = {.type = "summarize", .payload = payload, .priority = (int)priority, .premium = r->user.premium,
                   .owner_id = r->user.id};
    int64_t id = 0;
    e = qqueue_enqueue(r->db, &s, &id, NULL, &r->err);
    cJSON_free(payload);
    if (e)
        return e;
    cJSON *o = api_obj(r);
    char ids[32], url[64];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    snprintf(url, sizeof url, "/api/v1/jobs/%lld", (long long)id);
    cJSON_AddStringToObject(o, "job_id", ids);
    cJSON_AddStringToObject(o, "status", "pending");
    cJSON_AddStringToObject(o, "status_url", url);
    return api_reply_json(r, 202, o, NULL);
}
