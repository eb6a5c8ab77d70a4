/* arena.c - bump allocation in chained blocks, plus a cleanup list. */
#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK (16 * 1024)

struct block {
    struct block *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

struct cleanup {
    struct cleanup *next;
    void (*fn)(void *);
    void *arg;
};

struct qarena {
    struct block *head;
    struct cleanup *cleanups;
};

static struct block *block_new(size_t size)
{
    struct block *b = malloc(sizeof *b + size);
    if (!b)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

qarena *qarena_new(void)
{
    qarena *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->head = block_new(ARENA_BLOCK);
    if (!a->head) {
        free(a);
        return NULL;
    }
    return a;
}

static void run_cleanups(qarena *a)
{
    while (a->cleanups) {
        struct cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->arg);
    }
}

void qarena_reset(qarena *a)
{
    if (!a)
        return;
    run_cleanups(a);
    struct block *b = a->head;
    while (b && b->next) {
        struct block *n = b->next;
        free(b);
        b = n;
    }
    a->head = b;
    if (b)
        b->used = 0;
}

void qarena_free(qarena *a)
{
    if (!a)
        return;
    run_cleanups(a);
    struct block *b = a->head;
    while (b) {
        struct block *n = b->next;
        free(b);
        b = n;
    }
    free(a);
}

void *qarena_alloc(qarena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    struct block *b = a->head;
    if (!b || b->size - b->used < n) {
        /* Big requests get a block of their own, chained behind the current
         * one so the current block's free space stays usable. */
        size_t size = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
        struct block *nb = block_new(size);
        if (!nb)
            return NULL;
        if (b && size != ARENA_BLOCK) {
            nb->next = b->next;
            b->next = nb;
            nb->used = n;
            return nb->data;
        }
        nb->next = b;
        a->head = b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

void *qarena_calloc(qarena *a, size_t n)
{
    void *p = qarena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *qarena_strndup(qarena *a, const char *s, size_t n)
{
    char *p = qarena_alloc(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *qarena_strdup(qarena *a, const char *s)
{
    return s ? qarena_strndup(a, s, strlen(s)) : NULL;
}

char *qarena_printf(qarena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = qarena_alloc(a, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

int qarena_defer(qarena *a, void (*fn)(void *), void *arg)
{
    struct cleanup *c = qarena_alloc(a, sizeof *c);
    if (!c) {
        fn(arg);
        return -1;
    }
    c->fn = fn;
    c->arg = arg;
    c->next = a->cleanups;
    a->cleanups = c;
    return 0;
}
