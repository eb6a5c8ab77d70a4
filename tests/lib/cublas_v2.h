/* cublas_v2.h - a host test double of the cuBLAS calls lib/blas_cuda.c
 * makes, computed by OpenBLAS in column-major order exactly as cuBLAS
 * defines them (see cuda_runtime.h beside it for where it is used). */
#ifndef QUIRE_FAKE_CUBLAS_V2_H
#define QUIRE_FAKE_CUBLAS_V2_H

#include <cblas.h>

#include "cuda_runtime.h"

typedef void *cublasHandle_t;
typedef enum { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_EXECUTION_FAILED = 13 } cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 } cublasOperation_t;

static int fake_cublas_fail;   /* non-zero: every operation fails */

static inline enum CBLAS_TRANSPOSE fake_op(cublasOperation_t o)
{
    return o == CUBLAS_OP_T ? CblasTrans : CblasNoTrans;
}

static inline cublasStatus_t cublasCreate(cublasHandle_t *h)
{
    static int token;
    *h = &token;
    return CUBLAS_STATUS_SUCCESS;
}

static inline cublasStatus_t cublasDestroy(cublasHandle_t h)
{
    (void)h;
    return CUBLAS_STATUS_SUCCESS;
}

static inline cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta,
                                         cublasOperation_t tb, int m, int n, int k,
                                         const float *alpha, const float *A, int lda,
                                         const float *B, int ldb, const float *beta, float *C,
                                         int ldc)
{
    (void)h;
    if (fake_cublas_fail)
        return CUBLAS_STATUS_EXECUTION_FAILED;
    cblas_sgemm(CblasColMajor, fake_op(ta), fake_op(tb), m, n, k, *alpha, A, lda, B, ldb, *beta,
                C, ldc);
    return CUBLAS_STATUS_SUCCESS;
}

static inline cublasStatus_t cublasSgemv(cublasHandle_t h, cublasOperation_t t, int m, int n,
                                         const float *alpha, const float *A, int lda,
                                         const float *x, int incx, const float *beta, float *y,
                                         int incy)
{
    (void)h;
    if (fake_cublas_fail)
        return CUBLAS_STATUS_EXECUTION_FAILED;
    cblas_sgemv(CblasColMajor, fake_op(t), m, n, *alpha, A, lda, x, incx, *beta, y, incy);
    return CUBLAS_STATUS_SUCCESS;
}

static inline cublasStatus_t cublasSgemmStridedBatched(
    cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
    const float *alpha, const float *A, int lda, long long sa, const float *B, int ldb,
    long long sb, const float *beta, float *C, int ldc, long long sc, int count)
{
    for (int i = 0; i < count; i++) {
        cublasStatus_t s = cublasSgemm(h, ta, tb, m, n, k, alpha, A + i * sa, lda, B + i * sb,
                                       ldb, beta, C + i * sc, ldc);
        if (s)
            return s;
    }
    return CUBLAS_STATUS_SUCCESS;
}

#endif
