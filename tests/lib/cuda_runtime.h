/* cuda_runtime.h - a host-memory test double of the few CUDA runtime calls
 * lib/blas_cuda.c makes, so tests/unit/test_blas_cudasim.c can run that
 * backend without a GPU. Found only by test objects of builds without
 * CUDA=1 (the real CUDA include directory comes first otherwise). */
#ifndef QUIRE_FAKE_CUDA_RUNTIME_H
#define QUIRE_FAKE_CUDA_RUNTIME_H

#include <stdlib.h>
#include <string.h>

typedef enum { cudaSuccess = 0, cudaErrorMemoryAllocation = 2, cudaErrorNoDevice = 100 } cudaError_t;
enum cudaMemcpyKind { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2 };
struct cudaDeviceProp {
    char name[256];
};

/* Knobs and counters of the double. */
static int fake_cuda_devices = 1;
static int fake_cuda_mallocs;          /* cudaMalloc calls so far */
static int fake_cuda_live;             /* blocks not freed */

static inline cudaError_t cudaGetDeviceCount(int *n)
{
    *n = fake_cuda_devices;
    return fake_cuda_devices ? cudaSuccess : cudaErrorNoDevice;
}

static inline const char *cudaGetErrorString(cudaError_t e)
{
    return e == cudaErrorNoDevice ? "no CUDA-capable device is detected (fake)" : "fake error";
}

static inline cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int dev)
{
    (void)dev;
    strcpy(p->name, "fake device");
    return cudaSuccess;
}

static inline cudaError_t cudaMalloc(void **p, size_t n)
{
    fake_cuda_mallocs++;
    *p = malloc(n);
    if (!*p)
        return cudaErrorMemoryAllocation;
    fake_cuda_live++;
    return cudaSuccess;
}

static inline cudaError_t cudaFree(void *p)
{
    if (p)
        fake_cuda_live--;
    free(p);
    return cudaSuccess;
}

static inline cudaError_t cudaMemcpy(void *d, const void *s, size_t n, enum cudaMemcpyKind k)
{
    (void)k;
    memcpy(d, s, n);
    return cudaSuccess;
}

static inline cudaError_t cudaMemcpy2D(void *d, size_t dpitch, const void *s, size_t spitch,
                                       size_t width, size_t height, enum cudaMemcpyKind k)
{
    (void)k;
    for (size_t r = 0; r < height; r++)
        memcpy((char *)d + r * dpitch, (const char *)s + r * spitch, width);
    return cudaSuccess;
}

#endif
