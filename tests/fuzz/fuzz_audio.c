/* fuzz_audio.c - libFuzzer target for the decoder entry point: any bytes
 * through q_audio_reader_open_mem and a full decode must end in Q_OK or a
 * clean error, never a crash, leak or sanitizer report. Build and run with
 * scripts/fuzz.sh. */
#include <stddef.h>
#include <stdint.h>

#include "audio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stop after this much output so a tiny file claiming hours cannot time out. */
#define MAX_SAMPLES (16000 * 120)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    q_audio_reader *r;
    q_audio_info info;
    qerrctx err = {0};
    if (q_audio_reader_open_mem(data, size, 16000, &r, &info, &err) != Q_OK) return 0;
    int16_t pcm[4096];
    size_t got, total = 0;
    while (total < MAX_SAMPLES && q_audio_reader_read(r, pcm, 4096, &got, &err) == Q_OK && got)
        total += got;
    q_audio_reader_close(r);
    return 0;
}
