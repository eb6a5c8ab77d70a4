/* fuzz_transcript.c - libFuzzer target for the transcript JSON reader and
 * the subtitle writers that run on what it read (quire-api serves stored
 * chapter transcripts through them). Build and run with
 * `scripts/fuzz.sh transcript`. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "transcript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    q_transcript t, book;
    qerrctx err = {0};
    q_transcript_init(&t);
    q_transcript_init(&book);
    if (q_transcript_read_json(&t, (const char *)data, size, &err) == Q_OK &&
        q_transcript_append(&book, &t, 3600.5, &err) == Q_OK) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (f) {
            q_transcript_write_txt(&book, f, &err);
            q_transcript_write_json(&book, f, &err);
            q_transcript_write_srt(&book, f, &err);
            q_transcript_write_vtt(&book, f, &err);
            fclose(f);
        }
        free(buf);
    }
    q_transcript_free(&book);
    q_transcript_free(&t);
    return 0;
}
