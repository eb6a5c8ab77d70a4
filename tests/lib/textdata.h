/* textdata.h - loads the shipped test texts (tests/data): the Gulliver
 * chapters and their author-written synopses. */
#ifndef QUIRE_TEST_TEXTDATA_H
#define QUIRE_TEST_TEXTDATA_H

#include <stddef.h>

#define TD_MAX_CHAPTERS 16

typedef struct td_book {
    char *buf;                          /* the whole file, NUL-terminated */
    size_t nch;
    const char *ch[TD_MAX_CHAPTERS];    /* chapter texts, into buf */
    size_t chlen[TD_MAX_CHAPTERS];
    char *syn[TD_MAX_CHAPTERS];         /* synopses (own strings) */
} td_book;

/* Read tests/data/gulliver_lilliput*.txt (run from the repo root); 0 on
 * success. Free with td_free. */
int td_load_gulliver(td_book *b);
void td_free(td_book *b);

/* Read a whole file (at most max bytes) into a NUL-terminated string the
 * caller frees; NULL on error. */
char *td_read_file(const char *path, size_t max, size_t *len);

#endif
