/* text_tokenize.h - words and sentences out of raw text: lowercase word
 * tokens with stopword and phrase-break marks, and a sentence splitter.
 * Shared by quire-api (search queries) and quire-worker (summaries, tags,
 * embeddings). Input is UTF-8 or ASCII bytes; it need not be NUL-terminated. */
#ifndef QUIRE_TEXT_TOKENIZE_H
#define QUIRE_TEXT_TOKENIZE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define QTEXT_MAX_WORD 48                 /* longer words are cut to 47 bytes */
#define QTEXT_MAX_INPUT (64u << 20)       /* bytes accepted by one call */
#define QTEXT_MAX_SENTENCE 2000           /* longer sentences are cut at a space */

/* Per-token flags. */
#define QTEXT_TOK_STOP  1u   /* a stopword ("the", "of", ...) */
#define QTEXT_TOK_BREAK 2u   /* punctuation (or a sentence end) stands between
                                this token and the one before it */

/* A token list. Word i is the NUL-terminated lowercase string word[i]; all
 * words live in one block owned by the list. off[i] is the byte offset of
 * the word in the input. Free with qtext_tokens_free. */
typedef struct qtext_tokens {
    size_t n;
    char **word;
    uint32_t *hash;      /* qtext_hash of each word */
    size_t *off;
    uint8_t *flags;
    char *buf;           /* the words' bytes */
} qtext_tokens;

/* Words are runs of letters, digits and bytes >= 0x80 (UTF-8), with an inner
 * apostrophe or hyphen kept ("don't", "new-fangled"); ASCII is lowercased.
 * Possessive "'s" is dropped. On success *out owns its memory. Errors:
 * Q_ERR_TOO_LARGE over QTEXT_MAX_INPUT, Q_ERR_NOMEM. */
qerr qtext_tokenize(const char *text, size_t len, qtext_tokens *out, qerrctx *err);
void qtext_tokens_free(qtext_tokens *t);   /* accepts NULL and zeroed lists */

/* Non-zero when the lowercase word w (len bytes) is an English stopword. */
int qtext_is_stopword(const char *w, size_t len);

/* 32-bit FNV-1a of len bytes: the feature hash used by text_vec and
 * text_embed. Stable across versions: stored vectors depend on it. */
uint32_t qtext_hash(const char *s, size_t len);

/* A sentence: bytes [start, end) of the input, trimmed of white space. */
typedef struct qtext_span {
    size_t start, end;
} qtext_span;

/* Split text into sentences: at . ! ? (followed by space and not after a
 * known abbreviation such as "Mr." or a single capital), at blank lines, and
 * at a space when a sentence would pass QTEXT_MAX_SENTENCE bytes. Spans with
 * no letter or digit are dropped. On success *spans (caller frees with
 * free()) holds *n spans in order. */
qerr qtext_split_sentences(const char *text, size_t len, qtext_span **spans, size_t *n,
                           qerrctx *err);

/* A piece of text with its place in the source audio: a transcript segment
 * (pause-delimited, so it stands for a sentence) or a sentence of a book.
 * text is borrowed: whoever fills the array keeps the bytes alive. start and
 * end are seconds; negative when the text has no timing. */
typedef struct qtext_seg {
    const char *text;
    size_t len;
    double start, end;
} qtext_seg;

/* The sentences of a plain text as segments (start = end = -1) whose text
 * points into `text` (which must outlive them). *segs is the caller's to
 * free() (one block). Errors as qtext_split_sentences. */
qerr qtext_segments_from_text(const char *text, size_t len, qtext_seg **segs, size_t *n,
                              qerrctx *err);

#endif
