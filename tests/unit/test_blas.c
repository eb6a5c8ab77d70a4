/* test_blas.c - the BLAS layer against naive loops, backend choice by
 * QUIRE_BLAS, and (on a machine with a GPU) cuBLAS against OpenBLAS. */
#include "t.h"

#include <math.h>
#include <stdlib.h>

#include "blas.h"

static unsigned rng = 12345;
static float frand(void)
{
    rng = rng * 1103515245u + 12345u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void fill(float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = frand();
}

static float at(const float *A, int lda, qblas_trans t, int i, int j)
{
    return t == QBLAS_N ? A[(size_t)i * lda + j] : A[(size_t)j * lda + i];
}

static float maxdiff(const float *a, const float *b, size_t n)
{
    float d = 0;
    for (size_t i = 0; i < n; i++)
        if (fabsf(a[i] - b[i]) > d)
            d = fabsf(a[i] - b[i]);
    return d;
}

/* Every transpose combination, padded leading dimensions, alpha and beta. */
static void check_sgemm_all(void)
{
    const int m = 37, n = 29, k = 53, pad = 3;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
            int arows = ta ? k : m, brows = tb ? n : k;
            float *A = malloc(sizeof(float) * arows * lda), *B = malloc(sizeof(float) * brows * ldb);
            float *C = malloc(sizeof(float) * m * ldc), *R = malloc(sizeof(float) * m * ldc);
            fill(A, (size_t)arows * lda);
            fill(B, (size_t)brows * ldb);
            fill(C, (size_t)m * ldc);
            for (int i = 0; i < m * ldc; i++)
                R[i] = C[i];
            float alpha = 0.75f, beta = -0.5f;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++)
                        s += (double)at(A, lda, (qblas_trans)ta, i, p) *
                             at(B, ldb, (qblas_trans)tb, p, j);
                    R[i * ldc + j] = (float)(alpha * s + beta * R[i * ldc + j]);
                }
            qblas_sgemm((qblas_trans)ta, (qblas_trans)tb, m, n, k, alpha, A, lda, B, ldb, beta,
                        C, ldc);
            float d = maxdiff(C, R, (size_t)m * ldc);
            T_CHECK(d < 1e-4f, "sgemm ta=%d tb=%d differs by %g", ta, tb, d);
            free(A);
            free(B);
            free(C);
            free(R);
        }
}

static void test_sgemm(void) { check_sgemm_all(); }

static void check_sgemv_all(void)
{
    const int m = 41, n = 23, lda = 27;
    float A[41 * 27], x[41], y[41], r[41];
    fill(A, sizeof A / sizeof A[0]);
    for (int t = 0; t < 2; t++) {
        int nx = t ? m : n, ny = t ? n : m;
        fill(x, (size_t)nx);
        fill(y, (size_t)ny);
        for (int i = 0; i < ny; i++) {
            double s = 0;
            for (int j = 0; j < nx; j++)
                s += (double)(t ? A[j * lda + i] : A[i * lda + j]) * x[j];
            r[i] = (float)(2.0 * s + 0.25 * y[i]);
        }
        qblas_sgemv((qblas_trans)t, m, n, 2.0f, A, lda, x, 0.25f, y);
        float d = maxdiff(y, r, (size_t)ny);
        T_CHECK(d < 1e-4f, "sgemv t=%d differs by %g", t, d);
    }
}

static void test_sgemv(void) { check_sgemv_all(); }

static void test_sgemm_batched(void)
{
    enum { M = 5, N = 7, K = 3, CNT = 4 };
    float A[CNT * M * K], B[CNT * K * N], C[CNT * M * N], R[CNT * M * N];
    fill(A, sizeof A / sizeof A[0]);
    fill(B, sizeof B / sizeof B[0]);
    for (int b = 0; b < CNT; b++)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double s = 0;
                for (int p = 0; p < K; p++)
                    s += (double)A[b * M * K + i * K + p] * B[b * K * N + p * N + j];
                R[b * M * N + i * N + j] = (float)s;
            }
    qblas_sgemm_batched(QBLAS_N, QBLAS_N, M, N, K, 1.0f, A, K, M * K, B, N, K * N, 0.0f, C, N,
                        M * N, CNT);
    T_CHECK(maxdiff(C, R, CNT * M * N) < 1e-5f);
}

static void test_level1(void)
{
    float x[100], y[100], y0[100];
    fill(x, 100);
    fill(y, 100);
    double dot = 0, nn = 0;
    for (int i = 0; i < 100; i++) {
        dot += (double)x[i] * y[i];
        nn += (double)x[i] * x[i];
        y0[i] = y[i];
    }
    T_CHECK(fabs(qblas_sdot(100, x, y) - dot) < 1e-4);
    T_CHECK(fabs(qblas_snrm2(100, x) - sqrt(nn)) < 1e-4);
    qblas_saxpy(100, 3.0f, x, y);
    for (int i = 0; i < 100; i++)
        T_CHECK(fabsf(y[i] - (y0[i] + 3.0f * x[i])) < 1e-5f, "axpy at %d", i);
    qblas_sscal(100, -2.0f, y0);
    T_CHECK(fabsf(y0[7] + 2.0f * (y[7] - 3.0f * x[7])) < 1e-5f);
    T_CHECK(qblas_sdot(0, x, y) == 0.0f);

    float M[3 * 4] = {3, 4, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1};
    qblas_normalize_rows(3, 3, M, 4);
    T_CHECK(fabsf(M[0] - 0.6f) < 1e-6f && fabsf(M[1] - 0.8f) < 1e-6f);
    T_CHECK(M[4] == 0.0f && M[5] == 0.0f, "zero row stays zero");
    T_CHECK(fabsf(M[8] - 1.0f / sqrtf(3.0f)) < 1e-6f && M[11] == 1.0f, "padding untouched");
}

static void test_resident(void)
{
    enum { R = 300, C = 16, LDA = 20, Q = 3 };
    float *A = malloc(sizeof(float) * R * LDA), X[Q * C], Y[Q * R], y[R];
    fill(A, R * LDA);
    fill(X, Q * C);
    qblas_resident *res = qblas_resident_new(A, R, C, LDA);
    T_REQUIRE(res != NULL);
    qblas_resident_gemv(res, X, y);
    qblas_resident_gemm(res, Q, X, C, Y, R);
    float worst = 0;
    for (int q = 0; q < Q; q++)
        for (int i = 0; i < R; i++) {
            double s = 0;
            for (int j = 0; j < C; j++)
                s += (double)A[i * LDA + j] * X[q * C + j];
            float d = fabsf(Y[q * R + i] - (float)s);
            if (d > worst)
                worst = d;
            if (q == 0)
                T_CHECK(fabsf(y[i] - (float)s) < 1e-4f, "gemv row %d", i);
        }
    T_CHECK(worst < 1e-4f, "resident gemm differs by %g", worst);
    qblas_resident_free(res);
    qblas_resident_free(NULL);
    free(A);
}

/* QUIRE_BLAS decides; without a device every choice ends on OpenBLAS with a
 * reason. The layer re-initializes after qblas_shutdown. */
static void test_backend_choice(void)
{
    setenv("QUIRE_BLAS", "cpu", 1);
    qblas_shutdown();
    qblas_init();
    T_EQ_INT(qblas_backend_in_use(), QBLAS_CPU);
    T_EQ_STR(qblas_backend_name(), "openblas");
    T_CHECK(strstr(qblas_backend_reason(), "QUIRE_BLAS=cpu") != NULL);

    setenv("QUIRE_BLAS", "fast-please", 1);
    qblas_shutdown();
    T_EQ_INT(qblas_backend_in_use(), QBLAS_CPU);
    T_CHECK(strstr(qblas_backend_reason(), "not cpu, cuda or auto") != NULL);

    setenv("QUIRE_BLAS", "auto", 1);
    qblas_shutdown();
    qblas_init();
    t_note("QUIRE_BLAS=auto: %s (%s)", qblas_backend_name(), qblas_backend_reason());
    if (!qblas_built_with_cuda()) {
        T_EQ_INT(qblas_backend_in_use(), QBLAS_CPU);
        T_CHECK(strstr(qblas_backend_reason(), "without CUDA") != NULL);
    } else if (qblas_backend_in_use() == QBLAS_CPU) {
        T_CHECK(strstr(qblas_backend_reason(), "no CUDA device") != NULL ||
                strstr(qblas_backend_reason(), "cublasCreate") != NULL,
                "fallback reason: %s", qblas_backend_reason());
    }
    setenv("QUIRE_BLAS", "cuda", 1);
    qblas_shutdown();
    qblas_init();
    if (qblas_backend_in_use() == QBLAS_CPU)
        T_CHECK(strstr(qblas_backend_reason(), "QUIRE_BLAS=cuda but") != NULL);
    /* Whatever was chosen computes the same results. */
    check_sgemm_all();
    check_sgemv_all();
    unsetenv("QUIRE_BLAS");
    qblas_shutdown();
}

/* cuBLAS against OpenBLAS on the same inputs; needs a device. */
static void test_cuda_matches_cpu(void)
{
    unsetenv("QUIRE_BLAS");
    qblas_shutdown();
    if (!qblas_built_with_cuda()) {
        t_skip("no CUDA device (this build has no cuBLAS backend; make CUDA=1)");
        return;
    }
    if (qblas_backend_in_use() != QBLAS_CUDA) {
        t_skip("no CUDA device");
        return;
    }
    enum { M = 300, N = 200, K = 256 };
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * N * K);
    float *Cg = malloc(sizeof(float) * M * N), *Cc = malloc(sizeof(float) * M * N);
    fill(A, M * K);
    fill(B, N * K);
    qblas_sgemm(QBLAS_N, QBLAS_T, M, N, K, 1.0f, A, K, B, K, 0.0f, Cg, N);
    setenv("QUIRE_BLAS", "cpu", 1);
    qblas_shutdown();
    qblas_sgemm(QBLAS_N, QBLAS_T, M, N, K, 1.0f, A, K, B, K, 0.0f, Cc, N);
    T_CHECK(maxdiff(Cg, Cc, M * N) < 1e-3f);
    unsetenv("QUIRE_BLAS");
    qblas_shutdown();
    free(A);
    free(B);
    free(Cg);
    free(Cc);
}

int main(void)
{
    T_RUN(test_sgemm);
    T_RUN(test_sgemv);
    T_RUN(test_sgemm_batched);
    T_RUN(test_level1);
    T_RUN(test_resident);
    T_RUN(test_backend_choice);
    T_RUN(test_cuda_matches_cpu);
    return t_done();
}
