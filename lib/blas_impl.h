/* blas_impl.h - the interface between lib/blas.c (backend choice, dispatch)
 * and the backends lib/blas_openblas.c and lib/blas_cuda.c. Not for other
 * code: everything else includes blas.h. */
#ifndef QUIRE_BLAS_IMPL_H
#define QUIRE_BLAS_IMPL_H

#include "blas.h"

struct qblas_ops;

struct qblas_resident {
    const struct qblas_ops *ops;   /* the backend that made it */
    int rows, cols, lda;
    const float *host;             /* OpenBLAS: the caller's matrix (borrowed) */
    void *dev;                     /* cuBLAS: device copy, rows x cols packed */
};

/* A backend's level-2/3 operations; arguments as in blas.h. */
struct qblas_ops {
    const char *name;
    void (*sgemm)(qblas_trans ta, qblas_trans tb, int m, int n, int k,
                  float alpha, const float *A, int lda, const float *B, int ldb,
                  float beta, float *C, int ldc);
    void (*sgemv)(qblas_trans ta, int m, int n, float alpha, const float *A, int lda,
                  const float *x, float beta, float *y);
    void (*sgemm_batched)(qblas_trans ta, qblas_trans tb, int m, int n, int k,
                          float alpha, const float *A, int lda, size_t strideA,
                          const float *B, int ldb, size_t strideB,
                          float beta, float *C, int ldc, size_t strideC, int count);
    /* Fill r->dev (or borrow r->host); 0 on success. */
    int (*resident_init)(struct qblas_resident *r, const float *A);
    void (*resident_gemv)(const struct qblas_resident *r, const float *x, float *y);
    void (*resident_gemm)(const struct qblas_resident *r, int nq, const float *X, int ldx,
                          float *Y, int ldy);
    void (*resident_fini)(struct qblas_resident *r);
    void (*shutdown)(void);
};

extern const struct qblas_ops qblas_openblas_ops;

#ifdef QUIRE_CUDA
/* 0 when cuBLAS is usable (a device is present and a handle was made); else
 * -1 with the reason written to why. */
int qblas_cuda_probe(char *why, size_t whylen);
extern const struct qblas_ops qblas_cuda_ops;
#endif

#endif
