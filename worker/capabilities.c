/* capabilities.c - what this worker reports at registration beyond its job
 * types: the engines and voices it offers, as JSON for workers.capabilities
 * (GET /api/v1/voices lists what running workers report, and TTS requests
 * are validated against it). Shape:
 * {"tts": {"flite": [{"id": "slt", "name": "...", "language": "en-US"}],
 *          "espeak-ng": [...]}}. A worker serving tts lists its engines'
 * voices; QUIRE_WORKER_CAPABILITIES (JSON text) overrides it, for tests and
 * for hosts that offer less than they link. */
#include "worker.h"
#include "tts.h"

#include <stdlib.h>
#include <string.h>

#define MAX_VOICES 512

static void add_engine(cJSON *tts, const q_tts_engine *e)
{
    q_tts_voice *v = calloc(MAX_VOICES, sizeof *v);
    if (!v)
        return;
    size_t n = e->list_voices(v, MAX_VOICES);
    if (n > MAX_VOICES)
        n = MAX_VOICES;
    cJSON *arr = cJSON_AddArrayToObject(tts, e->name);
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", v[i].id);
        cJSON_AddStringToObject(o, "name", v[i].name);
        cJSON_AddStringToObject(o, "language", v[i].language);
        cJSON_AddItemToArray(arr, o);
    }
    free(v);
}

char *worker_capabilities(const char *types_csv)
{
    const char *env = getenv("QUIRE_WORKER_CAPABILITIES");
    if (env && *env) {
        cJSON *j = cJSON_Parse(env);
        int ok = cJSON_IsObject(j);
        cJSON_Delete(j);
        return ok ? strdup(env) : NULL;
    }
    /* only a worker that serves tts (by its own name) speaks */
    int tts = 0;
    for (const char *p = types_csv; p && *p;) {
        size_t k = strcspn(p, ",");
        tts |= k == 3 && !strncmp(p, "tts", 3);
        p += k + (p[k] == ',');
    }
    if (!tts || worker_stand_in_active())
        return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON *t = cJSON_AddObjectToObject(o, "tts");
    add_engine(t, &q_tts_flite);
    add_engine(t, &q_tts_espeak);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}
