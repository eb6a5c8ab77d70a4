/* blas_cuda.c - the cuBLAS backend of the BLAS layer (built with CUDA=1).
 *
 * One cuBLAS handle and one set of device buffers (A, B, C) per process,
 * grown to the largest call so far and reused; a mutex serializes calls, so
 * the backend is thread-safe but runs one operation at a time. Row-major
 * host matrices are passed to column-major cuBLAS as their transposes. If a
 * CUDA call fails at run time the operation is redone on OpenBLAS and the
 * failure is logged once, so a result is always produced. */
#include "blas_impl.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t cu_lock = PTHREAD_MUTEX_INITIALIZER;
static cublasHandle_t cu_handle;
static int cu_ready;
static int cu_warned;

struct devbuf { float *p; size_t cap; };   /* cap in floats */
static struct devbuf cu_a, cu_b, cu_c;

static void cu_warn(const char *what)
{
    if (cu_warned++)
        return;
    fprintf(stderr, "quire blas: cuBLAS %s failed; computing on OpenBLAS instead\n", what);
}

/* Make sure b holds at least n floats; 0 on success. */
static int devbuf_reserve(struct devbuf *b, size_t n)
{
    if (n == 0)
        n = 1;
    if (b->cap >= n)
        return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < n)
        cap *= 2;
    float *p = NULL;
    if (cudaMalloc((void **)&p, cap * sizeof(float)) != cudaSuccess)
        return -1;
    if (b->p)
        cudaFree(b->p);
    b->p = p;
    b->cap = cap;
    return 0;
}

static void devbuf_release(struct devbuf *b)
{
    if (b->p)
        cudaFree(b->p);
    b->p = NULL;
    b->cap = 0;
}

/* Elements spanned by a rows x cols row-major matrix with row stride ld. */
static size_t span(int rows, int cols, int ld)
{
    return rows <= 0 || cols <= 0 ? 0 : (size_t)(rows - 1) * ld + cols;
}

static int up(float *dst, const float *src, size_t n)
{
    return n && cudaMemcpy(dst, src, n * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess;
}

static int down(float *dst, const float *src, size_t n)
{
    return n && cudaMemcpy(dst, src, n * sizeof(float), cudaMemcpyDeviceToHost) != cudaSuccess;
}

static cublasOperation_t op(qblas_trans t) { return t == QBLAS_T ? CUBLAS_OP_T : CUBLAS_OP_N; }

int qblas_cuda_probe(char *why, size_t whylen)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        snprintf(why, whylen, "no CUDA device (cudaGetDeviceCount: %s)", cudaGetErrorString(e));
        return -1;
    }
    if (n <= 0) {
        snprintf(why, whylen, "no CUDA device (cudaGetDeviceCount found 0)");
        return -1;
    }
    pthread_mutex_lock(&cu_lock);
    if (!cu_ready) {
        cublasStatus_t s = cublasCreate(&cu_handle);
        if (s != CUBLAS_STATUS_SUCCESS) {
            pthread_mutex_unlock(&cu_lock);
            snprintf(why, whylen, "cublasCreate failed (status %d)", (int)s);
            return -1;
        }
        cu_ready = 1;
    }
    pthread_mutex_unlock(&cu_lock);
    struct cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
        snprintf(why, whylen, "%d CUDA device(s), using %s", n, prop.name);
    else
        snprintf(why, whylen, "%d CUDA device(s)", n);
    return 0;
}

static void cu_sgemm(qblas_trans ta, qblas_trans tb, int m, int n, int k,
                     float alpha, const float *A, int lda, const float *B, int ldb,
                     float beta, float *C, int ldc)
{
    size_t na = ta == QBLAS_N ? span(m, k, lda) : span(k, m, lda);
    size_t nb = tb == QBLAS_N ? span(k, n, ldb) : span(n, k, ldb);
    size_t nc = span(m, n, ldc);
    int fail = 0;
    pthread_mutex_lock(&cu_lock);
    fail = !cu_ready || devbuf_reserve(&cu_a, na) || devbuf_reserve(&cu_b, nb) ||
           devbuf_reserve(&cu_c, nc) || up(cu_a.p, A, na) || up(cu_b.p, B, nb) ||
           (beta != 0.0f && up(cu_c.p, C, nc));
    /* Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T. */
    if (!fail)
        fail = cublasSgemm(cu_handle, op(tb), op(ta), n, m, k, &alpha, cu_b.p, ldb,
                           cu_a.p, lda, &beta, cu_c.p, ldc) != CUBLAS_STATUS_SUCCESS ||
               down(C, cu_c.p, nc);
    pthread_mutex_unlock(&cu_lock);
    if (fail) {
        cu_warn("sgemm");
        qblas_openblas_ops.sgemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
    }
}

static void cu_sgemv(qblas_trans ta, int m, int n, float alpha, const float *A, int lda,
                     const float *x, float beta, float *y)
{
    size_t na = span(m, n, lda);
    size_t nx = ta == QBLAS_N ? (size_t)n : (size_t)m;
    size_t ny = ta == QBLAS_N ? (size_t)m : (size_t)n;
    int fail;
    pthread_mutex_lock(&cu_lock);
    fail = !cu_ready || devbuf_reserve(&cu_a, na) || devbuf_reserve(&cu_b, nx) ||
           devbuf_reserve(&cu_c, ny) || up(cu_a.p, A, na) || up(cu_b.p, x, nx) ||
           (beta != 0.0f && up(cu_c.p, y, ny));
    /* Stored row-major A is column-major A^T (n x m). */
    if (!fail)
        fail = cublasSgemv(cu_handle, ta == QBLAS_N ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, &alpha,
                           cu_a.p, lda, cu_b.p, 1, &beta, cu_c.p, 1) != CUBLAS_STATUS_SUCCESS ||
               down(y, cu_c.p, ny);
    pthread_mutex_unlock(&cu_lock);
    if (fail) {
        cu_warn("sgemv");
        qblas_openblas_ops.sgemv(ta, m, n, alpha, A, lda, x, beta, y);
    }
}

static void cu_sgemm_batched(qblas_trans ta, qblas_trans tb, int m, int n, int k,
                             float alpha, const float *A, int lda, size_t strideA,
                             const float *B, int ldb, size_t strideB,
                             float beta, float *C, int ldc, size_t strideC, int count)
{
    size_t na = (count - 1) * strideA + (ta == QBLAS_N ? span(m, k, lda) : span(k, m, lda));
    size_t nb = (count - 1) * strideB + (tb == QBLAS_N ? span(k, n, ldb) : span(n, k, ldb));
    size_t nc = (count - 1) * strideC + span(m, n, ldc);
    int fail;
    pthread_mutex_lock(&cu_lock);
    fail = !cu_ready || devbuf_reserve(&cu_a, na) || devbuf_reserve(&cu_b, nb) ||
           devbuf_reserve(&cu_c, nc) || up(cu_a.p, A, na) || up(cu_b.p, B, nb) ||
           (beta != 0.0f && up(cu_c.p, C, nc));
    if (!fail)
        fail = cublasSgemmStridedBatched(cu_handle, op(tb), op(ta), n, m, k, &alpha,
                                         cu_b.p, ldb, (long long)strideB,
                                         cu_a.p, lda, (long long)strideA, &beta,
                                         cu_c.p, ldc, (long long)strideC, count)
                   != CUBLAS_STATUS_SUCCESS ||
               down(C, cu_c.p, nc);
    pthread_mutex_unlock(&cu_lock);
    if (fail) {
        cu_warn("sgemm_batched");
        qblas_openblas_ops.sgemm_batched(ta, tb, m, n, k, alpha, A, lda, strideA, B, ldb,
                                         strideB, beta, C, ldc, strideC, count);
    }
}

static int cu_resident_init(struct qblas_resident *r, const float *A)
{
    size_t n = (size_t)r->rows * r->cols;
    float *d = NULL;
    if (n == 0)
        return 0;
    if (cudaMalloc((void **)&d, n * sizeof(float)) != cudaSuccess)
        return -1;
    /* Pack rows (stride lda) into rows x cols. */
    if (cudaMemcpy2D(d, r->cols * sizeof(float), A, r->lda * sizeof(float),
                     r->cols * sizeof(float), r->rows, cudaMemcpyHostToDevice) != cudaSuccess) {
        cudaFree(d);
        return -1;
    }
    r->dev = d;
    return 0;
}

static void cu_resident_gemv(const struct qblas_resident *r, const float *x, float *y)
{
    const float one = 1.0f, zero = 0.0f;
    int fail;
    pthread_mutex_lock(&cu_lock);
    fail = !cu_ready || devbuf_reserve(&cu_b, r->cols) || devbuf_reserve(&cu_c, r->rows) ||
           up(cu_b.p, x, r->cols);
    if (!fail)
        fail = cublasSgemv(cu_handle, CUBLAS_OP_T, r->cols, r->rows, &one, r->dev, r->cols,
                           cu_b.p, 1, &zero, cu_c.p, 1) != CUBLAS_STATUS_SUCCESS ||
               down(y, cu_c.p, r->rows);
    pthread_mutex_unlock(&cu_lock);
    if (fail) {
        /* The host matrix may be gone: fetch the device copy row by row. */
        cu_warn("resident sgemv");
        float row[4096];
        for (int i = 0; i < r->rows; i++) {
            y[i] = 0.0f;
            for (int c0 = 0; c0 < r->cols; c0 += 4096) {
                int c = r->cols - c0 < 4096 ? r->cols - c0 : 4096;
                if (down(row, (const float *)r->dev + (size_t)i * r->cols + c0, c))
                    break;
                y[i] += qblas_sdot(c, row, x + c0);
            }
        }
    }
}

static void cu_resident_gemm(const struct qblas_resident *r, int nq, const float *X, int ldx,
                             float *Y, int ldy)
{
    const float one = 1.0f, zero = 0.0f;
    size_t nx = span(nq, r->cols, ldx), ny = span(nq, r->rows, ldy);
    int fail;
    pthread_mutex_lock(&cu_lock);
    fail = !cu_ready || devbuf_reserve(&cu_b, nx) || devbuf_reserve(&cu_c, ny) ||
           up(cu_b.p, X, nx);
    /* Column-major Y^T (rows x nq) = A X^T, device A is column-major A^T. */
    if (!fail)
        fail = cublasSgemm(cu_handle, CUBLAS_OP_T, CUBLAS_OP_N, r->rows, nq, r->cols, &one,
                           r->dev, r->cols, cu_b.p, ldx, &zero, cu_c.p, ldy)
                   != CUBLAS_STATUS_SUCCESS ||
               down(Y, cu_c.p, ny);
    pthread_mutex_unlock(&cu_lock);
    if (fail) {
        cu_warn("resident sgemm");
        for (int q = 0; q < nq; q++)
            cu_resident_gemv(r, X + (size_t)q * ldx, Y + (size_t)q * ldy);
    }
}

static void cu_resident_fini(struct qblas_resident *r)
{
    if (r->dev)
        cudaFree(r->dev);
    r->dev = NULL;
}

static void cu_shutdown(void)
{
    pthread_mutex_lock(&cu_lock);
    devbuf_release(&cu_a);
    devbuf_release(&cu_b);
    devbuf_release(&cu_c);
    if (cu_ready)
        cublasDestroy(cu_handle);
    cu_ready = 0;
    pthread_mutex_unlock(&cu_lock);
}

const struct qblas_ops qblas_cuda_ops = {
    .name = "cublas",
    .sgemm = cu_sgemm,
    .sgemv = cu_sgemv,
    .sgemm_batched = cu_sgemm_batched,
    .resident_init = cu_resident_init,
    .resident_gemv = cu_resident_gemv,
    .resident_gemm = cu_resident_gemm,
    .resident_fini = cu_resident_fini,
    .shutdown = cu_shutdown,
};
