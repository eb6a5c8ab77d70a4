/* wer.h - word error rate for the speech tests and benchmarks: word-level
 * Levenshtein distance over normalised words (lowercase, letters, digits and
 * apostrophes kept, everything else a separator). */
#ifndef QUIRE_WER_H
#define QUIRE_WER_H

#include <stddef.h>

/* Edit distance between the word sequences of ref and hyp; *ref_words gets
 * the number of reference words. Returns (size_t)-1 on allocation failure. */
size_t wer_distance(const char *ref, const char *hyp, size_t *ref_words);

/* distance / reference words (0 when both are empty, 1 when only ref is). */
double wer(const char *ref, const char *hyp);

/* Run argv (NULL-terminated, no shell) and return its stdout as a malloc'd
 * string (the caller frees), stderr discarded; NULL on failure. *secs gets
 * the wall time when non-NULL. */
char *wer_run_capture(char *const argv[], double *secs);

/* Monotonic seconds. */
double wer_now(void);

#endif
