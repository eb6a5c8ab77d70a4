/* fixture.h - temporary directories and generated audio for the engine
 * tests: fixtures are made at test time with the ffmpeg program. */
#ifndef QUIRE_FIXTURE_H
#define QUIRE_FIXTURE_H

#include <stddef.h>

/* mkdtemp under $TMPDIR (or /tmp); returns a static path, NULL on failure.
 * fx_cleanup() removes it with everything in it. */
const char *fx_tmpdir(void);
void fx_cleanup(void);

/* "<tmpdir>/<name>" into buf. */
const char *fx_path(const char *name, char *buf, size_t cap);

/* Run a program (argv NULL-terminated, no shell), stdout and stderr to
 * /dev/null; returns its exit status (-1 when it could not run). */
int fx_run(char *const argv[]);

/* ffmpeg -f lavfi sine: a tone of freq Hz, secs long, at rate Hz with
 * channels channels, encoded by ffmpeg's choice for the extension of out
 * plus any extra arguments (NULL-terminated list, may be NULL). */
int fx_tone(const char *out, double freq, double secs, int rate, int channels,
            const char *const *extra);

/* Whole file into a malloc'd buffer (caller frees); NULL on failure. */
unsigned char *fx_slurp(const char *path, size_t *len);
int fx_write(const char *path, const void *data, size_t len);

#endif
