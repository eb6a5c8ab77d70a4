/* blas.h - quire's BLAS layer: the few dense float32 operations the text code
 * needs, on OpenBLAS (always built) or cuBLAS (built with CUDA=1, used when a
 * device is present). Nothing outside lib/blas*.c calls OpenBLAS or cuBLAS.
 *
 * Conventions: all matrices are row-major float32 in host memory; leading
 * dimensions (lda...) are row strides in elements. The caller owns every
 * buffer it passes; no function keeps a pointer to one after it returns,
 * except qblas_resident_new (see there).
 *
 * Backend choice: qblas_init() reads QUIRE_BLAS = cpu | cuda | auto (default
 * auto). cuda and auto pick cuBLAS when the program was built with CUDA=1 and
 * cudaGetDeviceCount() reports a device; otherwise OpenBLAS is used and one
 * line on stderr says why. Every operation calls qblas_init() itself on first
 * use, so calling it explicitly only moves the log line to start-up.
 *
 * Level-1 operations (dot, nrm2, scal, axpy and the row helpers) always run
 * on the CPU: moving a vector to a GPU costs more than the operation.
 * sgemm, sgemv and the resident-matrix operations run on the chosen backend.
 *
 * Thread safety: every function may be called from any thread. The cuBLAS
 * backend keeps one set of device buffers, grown as needed and reused across
 * calls, and serializes its calls with a mutex. */
#ifndef QUIRE_BLAS_H
#define QUIRE_BLAS_H

#include <stddef.h>

typedef enum {
    QBLAS_CPU = 0,   /* OpenBLAS */
    QBLAS_CUDA = 1   /* cuBLAS */
} qblas_backend;

typedef enum {
    QBLAS_N = 0,     /* use the matrix as stored */
    QBLAS_T = 1      /* use its transpose */
} qblas_trans;

/* Choose the backend (once; later calls return at once). Never fails: any
 * problem with CUDA falls back to OpenBLAS with a logged reason. */
void qblas_init(void);

/* Release backend resources (device buffers, cuBLAS handle). Later calls to
 * any operation re-initialize. Not to be called while other threads use the
 * layer. */
void qblas_shutdown(void);

qblas_backend qblas_backend_in_use(void);
const char *qblas_backend_name(void);   /* "openblas" or "cublas" */
/* Why that backend was chosen (static string, e.g. "QUIRE_BLAS=cpu" or
 * "no CUDA device: cudaGetDeviceCount: no CUDA-capable device is detected"). */
const char *qblas_backend_reason(void);
/* Non-zero when this binary contains the cuBLAS backend (built with CUDA=1). */
int qblas_built_with_cuda(void);

/* C = alpha * op(A) * op(B) + beta * C, where op(A) is m x k, op(B) is k x n
 * and C is m x n. */
void qblas_sgemm(qblas_trans ta, qblas_trans tb, int m, int n, int k,
                 float alpha, const float *A, int lda, const float *B, int ldb,
                 float beta, float *C, int ldc);

/* y = alpha * op(A) * x + beta * y, A is m x n as stored. */
void qblas_sgemv(qblas_trans ta, int m, int n, float alpha, const float *A, int lda,
                 const float *x, float beta, float *y);

/* Batched sgemm: for i in [0, count): C_i = alpha * op(A_i) op(B_i) + beta C_i,
 * all with the same shapes; A_i = A + i*strideA (and so on). */
void qblas_sgemm_batched(qblas_trans ta, qblas_trans tb, int m, int n, int k,
                         float alpha, const float *A, int lda, size_t strideA,
                         const float *B, int ldb, size_t strideB,
                         float beta, float *C, int ldc, size_t strideC, int count);

float qblas_sdot(int n, const float *x, const float *y);
float qblas_snrm2(int n, const float *x);
void qblas_sscal(int n, float alpha, float *x);
void qblas_saxpy(int n, float alpha, const float *x, float *y);   /* y += alpha x */

/* Scale each of the m rows of A (n columns) to unit L2 norm; rows whose norm
 * is 0 stay 0. */
void qblas_normalize_rows(int m, int n, float *A, int lda);

/* A matrix kept where the backend computes (device memory for cuBLAS), for
 * many products against one large matrix (search). On OpenBLAS the resident
 * borrows A: the caller keeps A alive and unchanged until
 * qblas_resident_free. On cuBLAS A is copied once and may be freed at once.
 * After changing A, free the resident and make a new one. */
typedef struct qblas_resident qblas_resident;

/* NULL when out of (device or host) memory. rows x cols, row stride lda. */
qblas_resident *qblas_resident_new(const float *A, int rows, int cols, int lda);
/* y[rows] = A x[cols]. */
void qblas_resident_gemv(const qblas_resident *r, const float *x, float *y);
/* Y (nq x rows, row stride ldy) = X (nq x cols, row stride ldx) A^T. */
void qblas_resident_gemm(const qblas_resident *r, int nq, const float *X, int ldx,
                         float *Y, int ldy);
void qblas_resident_free(qblas_resident *r);   /* accepts NULL */

#endif
