/* fuzz_text.c - libFuzzer target for the text tokenizer and the sentence
 * splitter (lib/text_tokenize.c) that search queries and summaries run on:
 * any bytes must give tokens and spans inside the input, never a crash,
 * leak or sanitizer report. Build and run with `scripts/fuzz.sh text`. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text_tokenize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    qerrctx err = {0};
    qtext_tokens t = {0};
    if (qtext_tokenize(text, size, &t, &err) == Q_OK) {
        for (size_t i = 0; i < t.n; i++) {
            size_t wl = strlen(t.word[i]);
            if (wl == 0 || wl >= QTEXT_MAX_WORD || t.off[i] >= size || t.hash[i] != qtext_hash(t.word[i], wl))
                abort();
            qtext_is_stopword(t.word[i], wl);
        }
    }
    qtext_tokens_free(&t);

    qtext_span *spans = NULL;
    size_t n = 0;
    if (qtext_split_sentences(text, size, &spans, &n, &err) == Q_OK) {
        for (size_t i = 0; i < n; i++)
            if (spans[i].start >= spans[i].end || spans[i].end > size || (i && spans[i].start < spans[i - 1].end))
                abort();
    }
    free(spans);

    qtext_seg *segs = NULL;
    if (qtext_segments_from_text(text, size, &segs, &n, &err) == Q_OK) {
        for (size_t i = 0; i < n; i++)
            if (segs[i].text < text || segs[i].text + segs[i].len > text + size)
                abort();
    }
    free(segs);
    return 0;
}
