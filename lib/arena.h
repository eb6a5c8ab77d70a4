/* arena.h - a per-request (quire-api) or per-job (quire-worker) memory pool:
 * allocations are freed together by qarena_free, and cleanups registered on
 * the arena (close a file, free a cJSON tree) run then, newest first. */
#ifndef QUIRE_ARENA_H
#define QUIRE_ARENA_H

#include <stddef.h>

typedef struct qarena qarena;

/* A fresh arena; returns NULL only when memory is exhausted. */
qarena *qarena_new(void);
/* Runs the cleanups and frees every block; accepts NULL. */
void qarena_free(qarena *a);
/* Frees everything but keeps the first block for reuse. */
void qarena_reset(qarena *a);

/* Memory that lives until the arena is freed or reset; aligned to 16.
 * Returns NULL when memory is exhausted. */
void *qarena_alloc(qarena *a, size_t n);
void *qarena_calloc(qarena *a, size_t n);
char *qarena_strdup(qarena *a, const char *s);
char *qarena_strndup(qarena *a, const char *s, size_t n);
char *qarena_printf(qarena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* fn(arg) runs when the arena is freed or reset. Returns 0, -1 on OOM (in
 * which case fn has been run at once, so nothing leaks). */
int qarena_defer(qarena *a, void (*fn)(void *), void *arg);

#endif
