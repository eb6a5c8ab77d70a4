/* blas_openblas.c - the OpenBLAS backend of the BLAS layer, and the level-1
 * operations, which always run on the CPU (see blas.h). */
#include "blas_impl.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>

/* One OpenBLAS call at a time per process: OpenBLAS's own threads already use
 * the cores, and its threaded builds have had races when several
 * application threads call it at once (worker slots summarizing, tagging
 * and embedding together; quire-api threads searching). */
static pthread_mutex_t ob_lock = PTHREAD_MUTEX_INITIALIZER;
#define OB_LOCKED(call) do { pthread_mutex_lock(&ob_lock); call; pthread_mutex_unlock(&ob_lock); } while (0)

static enum CBLAS_TRANSPOSE tr(qblas_trans t) { return t == QBLAS_T ? CblasTrans : CblasNoTrans; }

static void ob_sgemm(qblas_trans ta, qblas_trans tb, int m, int n, int k,
                     float alpha, const float *A, int lda, const float *B, int ldb,
                     float beta, float *C, int ldc)
{
    OB_LOCKED(cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), m, n, k, alpha, A, lda, B, ldb, beta, C, ldc));
}

static void ob_sgemv(qblas_trans ta, int m, int n, float alpha, const float *A, int lda,
                     const float *x, float beta, float *y)
{
    OB_LOCKED(cblas_sgemv(CblasRowMajor, tr(ta), m, n, alpha, A, lda, x, 1, beta, y, 1));
}

static void ob_sgemm_batched(qblas_trans ta, qblas_trans tb, int m, int n, int k,
                             float alpha, const float *A, int lda, size_t strideA,
                             const float *B, int ldb, size_t strideB,
                             float beta, float *C, int ldc, size_t strideC, int count)
{
    pthread_mutex_lock(&ob_lock);
    for (int i = 0; i < count; i++)
        cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), m, n, k, alpha, A + i * strideA, lda,
                    B + i * strideB, ldb, beta, C + i * strideC, ldc);
    pthread_mutex_unlock(&ob_lock);
}

static int ob_resident_init(struct qblas_resident *r, const float *A)
{
    r->host = A;
    return 0;
}

static void ob_resident_gemv(const struct qblas_resident *r, const float *x, float *y)
{
    OB_LOCKED(cblas_sgemv(CblasRowMajor, CblasNoTrans, r->rows, r->cols, 1.0f, r->host, r->lda,
                          x, 1, 0.0f, y, 1));
}

static void ob_resident_gemm(const struct qblas_resident *r, int nq, const float *X, int ldx,
                             float *Y, int ldy)
{
    OB_LOCKED(cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, r->rows, r->cols, 1.0f,
                          X, ldx, r->host, r->lda, 0.0f, Y, ldy));
}

static void ob_resident_fini(struct qblas_resident *r) { r->host = NULL; }

const struct qblas_ops qblas_openblas_ops = {
    .name = "openblas",
    .sgemm = ob_sgemm,
    .sgemv = ob_sgemv,
    .sgemm_batched = ob_sgemm_batched,
    .resident_init = ob_resident_init,
    .resident_gemv = ob_resident_gemv,
    .resident_gemm = ob_resident_gemm,
    .resident_fini = ob_resident_fini,
    .shutdown = NULL,
};

float qblas_sdot(int n, const float *x, const float *y)
{
    if (n <= 0)
        return 0.0f;
    float v;
    OB_LOCKED(v = cblas_sdot(n, x, 1, y, 1));
    return v;
}

float qblas_snrm2(int n, const float *x)
{
    if (n <= 0)
        return 0.0f;
    float v;
    OB_LOCKED(v = cblas_snrm2(n, x, 1));
    return v;
}

void qblas_sscal(int n, float alpha, float *x)
{
    if (n > 0)
        OB_LOCKED(cblas_sscal(n, alpha, x, 1));
}

void qblas_saxpy(int n, float alpha, const float *x, float *y)
{
    if (n > 0)
        OB_LOCKED(cblas_saxpy(n, alpha, x, 1, y, 1));
}

void qblas_normalize_rows(int m, int n, float *A, int lda)
{
    for (int i = 0; i < m; i++) {
        float *row = A + (size_t)i * lda;
        float nrm = qblas_snrm2(n, row);
        if (nrm > 0.0f && isfinite(nrm))
            qblas_sscal(n, 1.0f / nrm, row);
    }
}
