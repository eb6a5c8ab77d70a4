/* blas.c - the BLAS layer's backend choice (QUIRE_BLAS) and dispatch of the
 * level-2/3 operations to OpenBLAS or cuBLAS (see blas.h). */
#include "blas_impl.h"
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t blas_lock = PTHREAD_MUTEX_INITIALIZER;
static const struct qblas_ops *volatile blas_ops;   /* NULL until chosen */
static char blas_reason[256];

/* The layer's only log output: which backend and why, once per process. */
static void blas_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void blas_log(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    qlog(QLOG_INFO, "blas: %s", msg);
}

static void choose_locked(void)
{
    const char *want = getenv("QUIRE_BLAS");
    if (!want || !*want)
        want = "auto";
    const struct qblas_ops *ops = &qblas_openblas_ops;

    if (strcmp(want, "cpu") == 0) {
        snprintf(blas_reason, sizeof blas_reason, "QUIRE_BLAS=cpu");
    } else if (strcmp(want, "cuda") == 0 || strcmp(want, "auto") == 0) {
#ifdef QUIRE_CUDA
        char why[200];
        if (qblas_cuda_probe(why, sizeof why) == 0) {
            ops = &qblas_cuda_ops;
            snprintf(blas_reason, sizeof blas_reason, "QUIRE_BLAS=%s, %s", want, why);
        } else {
            snprintf(blas_reason, sizeof blas_reason, "QUIRE_BLAS=%s but %s", want, why);
        }
#else
        snprintf(blas_reason, sizeof blas_reason,
                 "QUIRE_BLAS=%s but this binary was built without CUDA (make CUDA=1)", want);
#endif
    } else {
        snprintf(blas_reason, sizeof blas_reason,
                 "QUIRE_BLAS=%.40s is not cpu, cuda or auto", want);
    }
    if (ops == &qblas_openblas_ops)
        blas_log("using OpenBLAS: %s", blas_reason);
    else
        blas_log("using cuBLAS: %s", blas_reason);
    __atomic_store_n(&blas_ops, ops, __ATOMIC_RELEASE);
}

static const struct qblas_ops *ops_get(void)
{
    const struct qblas_ops *ops = __atomic_load_n(&blas_ops, __ATOMIC_ACQUIRE);
    if (ops)
        return ops;
    pthread_mutex_lock(&blas_lock);
    if (!blas_ops)
        choose_locked();
    ops = blas_ops;
    pthread_mutex_unlock(&blas_lock);
    return ops;
}

void qblas_init(void) { (void)ops_get(); }

void qblas_shutdown(void)
{
    pthread_mutex_lock(&blas_lock);
    if (blas_ops && blas_ops->shutdown)
        blas_ops->shutdown();
    __atomic_store_n(&blas_ops, NULL, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&blas_lock);
}

qblas_backend qblas_backend_in_use(void)
{
    return ops_get() == &qblas_openblas_ops ? QBLAS_CPU : QBLAS_CUDA;
}

const char *qblas_backend_name(void) { return ops_get()->name; }

const char *qblas_backend_reason(void)
{
    (void)ops_get();
    return blas_reason;
}

int qblas_built_with_cuda(void)
{
#ifdef QUIRE_CUDA
    return 1;
#else
    return 0;
#endif
}

void qblas_sgemm(qblas_trans ta, qblas_trans tb, int m, int n, int k,
                 float alpha, const float *A, int lda, const float *B, int ldb,
                 float beta, float *C, int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    ops_get()->sgemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

void qblas_sgemv(qblas_trans ta, int m, int n, float alpha, const float *A, int lda,
                 const float *x, float beta, float *y)
{
    if (m <= 0 || n <= 0)
        return;
    ops_get()->sgemv(ta, m, n, alpha, A, lda, x, beta, y);
}

void qblas_sgemm_batched(qblas_trans ta, qblas_trans tb, int m, int n, int k,
                         float alpha, const float *A, int lda, size_t strideA,
                         const float *B, int ldb, size_t strideB,
                         float beta, float *C, int ldc, size_t strideC, int count)
{
    if (m <= 0 || n <= 0 || count <= 0)
        return;
    ops_get()->sgemm_batched(ta, tb, m, n, k, alpha, A, lda, strideA, B, ldb, strideB,
                             beta, C, ldc, strideC, count);
}

qblas_resident *qblas_resident_new(const float *A, int rows, int cols, int lda)
{
    const struct qblas_ops *ops = ops_get();
    if (rows < 0 || cols <= 0 || lda < cols)
        return NULL;
    qblas_resident *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->ops = ops;
    r->rows = rows;
    r->cols = cols;
    r->lda = lda;
    if (ops->resident_init(r, A) != 0) {
        free(r);
        return NULL;
    }
    return r;
}

void qblas_resident_gemv(const qblas_resident *r, const float *x, float *y)
{
    if (r->rows > 0)
        r->ops->resident_gemv(r, x, y);
}

void qblas_resident_gemm(const qblas_resident *r, int nq, const float *X, int ldx,
                         float *Y, int ldy)
{
    if (r->rows > 0 && nq > 0)
        r->ops->resident_gemm(r, nq, X, ldx, Y, ldy);
}

void qblas_resident_free(qblas_resident *r)
{
    if (!r)
        return;
    r->ops->resident_fini(r);
    free(r);
}
