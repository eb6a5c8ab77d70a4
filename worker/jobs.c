/* jobs.c - the job types quire-worker knows; add a row to add a type. */
#include "worker.h"

#include <string.h>

static const qjob_type job_types[] = {
    {"noop", job_noop, job_noop_after},
    {"transcribe", job_transcribe, job_transcribe_after},
    {"summarize", job_summarize, job_summarize_after},
    {"tag", job_tag, job_tag_after},
    {"embed", job_embed, job_embed_after},
    {"tts", job_tts, NULL},
    {"assemble", job_assemble, NULL},
};

const qjob_type *worker_job_type(const char *name)
{
    for (size_t i = 0; i < sizeof job_types / sizeof job_types[0]; i++)
        if (!strcmp(job_types[i].name, name))
            return &job_types[i];
    /* noop.* types: the noop job under other names, so tests and benchmarks
     * get queues of their own */
    if (!strncmp(name, "noop.", 5))
        return &job_types[0];
    return NULL;
}

const char *worker_all_types(void)
{
    return "noop,transcribe,summarize,tag,embed,tts,assemble";
}
