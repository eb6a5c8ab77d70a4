/* capabilities.c - what this worker reports at registration beyond its job
 * types: the engines and voices it offers, as JSON for workers.capabilities
 * (GET /api/v1/voices lists what running workers report). Shape:
 * {"tts": {"flite": [{"id": "slt", "name": "...", "language": "en-US"}],
 *          "espeak-ng": [...]}}. The engines fill it from their voice lists;
 * QUIRE_WORKER_CAPABILITIES (JSON text) overrides it, for tests and for
 * hosts that offer less than they link. */
#include "worker.h"

#include <stdlib.h>
#include <string.h>

char *worker_capabilities(void)
{
    const char *env = getenv("QUIRE_WORKER_CAPABILITIES");
    if (env && *env) {
        cJSON *j = cJSON_Parse(env);
        int ok = cJSON_IsObject(j);
        cJSON_Delete(j);
        return ok ? strdup(env) : NULL;
    }
    return NULL;
}
