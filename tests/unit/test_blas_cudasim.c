/* test_blas_cudasim.c - runs the cuBLAS backend (lib/blas_cuda.c) on a host
 * test double of CUDA and cuBLAS (tests/lib/cuda_runtime.h, cublas_v2.h), so
 * its row-major to column-major mapping, device buffer reuse, resident
 * packing and OpenBLAS fallback are checked on machines without a GPU. A
 * CUDA=1 build links the real backend instead and skips this test. */
#include "t.h"

#ifndef QUIRE_CUDA
#define QUIRE_CUDA 1
#define CUDASIM 1
#include "../../lib/blas_cuda.c"
#endif

#include <math.h>
#include <stdlib.h>

#include "blas_impl.h"

#ifdef CUDASIM
static unsigned rng = 99;
static float frand(void)
{
    rng = rng * 1103515245u + 12345u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *rnd(size_t n)
{
    float *a = malloc(n * sizeof *a);
    for (size_t i = 0; i < n; i++)
        a[i] = frand();
    return a;
}

static float maxdiff(const float *a, const float *b, size_t n)
{
    float d = 0;
    for (size_t i = 0; i < n; i++)
        if (fabsf(a[i] - b[i]) > d)
            d = fabsf(a[i] - b[i]);
    return d;
}

static const struct qblas_ops *gpu = &qblas_cuda_ops, *cpu = &qblas_openblas_ops;

static void test_probe(void)
{
    char why[200];
    fake_cuda_devices = 0;
    T_EQ_INT(qblas_cuda_probe(why, sizeof why), -1);
    T_CHECK(strstr(why, "no CUDA device") != NULL, "%s", why);
    fake_cuda_devices = 1;
    T_EQ_INT(qblas_cuda_probe(why, sizeof why), 0);
    T_CHECK(strstr(why, "fake device") != NULL, "%s", why);
}

/* Every sgemm transpose pair with padded strides, against OpenBLAS. */
static void check_sgemm(void)
{
    const int m = 33, n = 21, k = 47, pad = 5;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
            size_t na = (size_t)(ta ? k : m) * lda, nb = (size_t)(tb ? n : k) * ldb;
            size_t nc = (size_t)m * ldc;
            float *A = rnd(na), *B = rnd(nb), *C1 = rnd(nc), *C2 = malloc(nc * sizeof *C2);
            memcpy(C2, C1, nc * sizeof *C2);
            gpu->sgemm((qblas_trans)ta, (qblas_trans)tb, m, n, k, 0.5f, A, lda, B, ldb, 2.0f,
                       C1, ldc);
            cpu->sgemm((qblas_trans)ta, (qblas_trans)tb, m, n, k, 0.5f, A, lda, B, ldb, 2.0f,
                       C2, ldc);
            T_CHECK(maxdiff(C1, C2, nc) < 1e-4f, "sgemm ta=%d tb=%d", ta, tb);
            free(A);
            free(B);
            free(C1);
            free(C2);
        }
}

static void check_sgemv(void)
{
    const int m = 40, n = 17, lda = 19;
    float *A = rnd((size_t)m * lda);
    for (int t = 0; t < 2; t++) {
        int nx = t ? m : n, ny = t ? n : m;
        float *x = rnd((size_t)nx), *y1 = rnd((size_t)ny), *y2 = malloc(ny * sizeof *y2);
        memcpy(y2, y1, ny * sizeof *y2);
        gpu->sgemv((qblas_trans)t, m, n, 1.5f, A, lda, x, -1.0f, y1);
        cpu->sgemv((qblas_trans)t, m, n, 1.5f, A, lda, x, -1.0f, y2);
        T_CHECK(maxdiff(y1, y2, (size_t)ny) < 1e-4f, "sgemv t=%d", t);
        free(x);
        free(y1);
        free(y2);
    }
    free(A);
}

static void check_batched(void)
{
    enum { M = 6, N = 5, K = 4, CNT = 3 };
    float *A = rnd(CNT * M * K), *B = rnd(CNT * N * K), C1[CNT * M * N], C2[CNT * M * N];
    gpu->sgemm_batched(QBLAS_N, QBLAS_T, M, N, K, 1.0f, A, K, M * K, B, K, N * K, 0.0f, C1, N,
                       M * N, CNT);
    cpu->sgemm_batched(QBLAS_N, QBLAS_T, M, N, K, 1.0f, A, K, M * K, B, K, N * K, 0.0f, C2, N,
                       M * N, CNT);
    T_CHECK(maxdiff(C1, C2, CNT * M * N) < 1e-5f);
    free(A);
    free(B);
}

static void check_resident(void)
{
    enum { R = 123, C = 32, LDA = 40, Q = 4 };
    float *A = rnd(R * LDA), *X = rnd(Q * C), y1[R], y2[R], Y1[Q * R], Y2[Q * R];
    struct qblas_resident rg = {.ops = gpu, .rows = R, .cols = C, .lda = LDA};
    struct qblas_resident rc = {.ops = cpu, .rows = R, .cols = C, .lda = LDA};
    T_REQUIRE(gpu->resident_init(&rg, A) == 0);
    T_REQUIRE(cpu->resident_init(&rc, A) == 0);
    float *A2 = malloc(R * LDA * sizeof *A2);
    memcpy(A2, A, R * LDA * sizeof *A2);
    memset(A, 0, R * LDA * sizeof *A);   /* the device copy must not depend on it */
    rc.host = A2;
    gpu->resident_gemv(&rg, X, y1);
    cpu->resident_gemv(&rc, X, y2);
    T_CHECK(maxdiff(y1, y2, R) < 1e-4f, "resident gemv");
    gpu->resident_gemm(&rg, Q, X, C, Y1, R);
    cpu->resident_gemm(&rc, Q, X, C, Y2, R);
    T_CHECK(maxdiff(Y1, Y2, Q * R) < 1e-4f, "resident gemm");
    /* A failing cuBLAS: the device copy is read back row by row. */
    fake_cublas_fail = 1;
    memset(y1, 0, sizeof y1);
    gpu->resident_gemv(&rg, X, y1);
    T_CHECK(maxdiff(y1, y2, R) < 1e-4f, "resident gemv fallback");
    gpu->resident_gemm(&rg, Q, X, C, Y1, R);
    T_CHECK(maxdiff(Y1, Y2, Q * R) < 1e-4f, "resident gemm fallback");
    fake_cublas_fail = 0;
    gpu->resident_fini(&rg);
    cpu->resident_fini(&rc);
    free(A);
    free(A2);
    free(X);
}

static void test_operations(void)
{
    check_sgemm();
    check_sgemv();
    check_batched();
    check_resident();
}

/* Device buffers grow to the largest call and are then reused. */
static void test_buffer_reuse(void)
{
    check_sgemm();
    int before = fake_cuda_mallocs;
    for (int i = 0; i < 5; i++) {
        check_sgemm();
        check_sgemv();
    }
    T_EQ_INT(fake_cuda_mallocs, before);
}

/* Failing cuBLAS calls are redone on OpenBLAS: same results. */
static void test_fallback(void)
{
    fake_cublas_fail = 1;
    check_sgemm();
    check_sgemv();
    check_batched();
    fake_cublas_fail = 0;
    T_CHECK(cu_warned > 0, "the failure was logged");
}

static void test_shutdown_frees(void)
{
    gpu->shutdown();
    T_EQ_INT(fake_cuda_live, 0);
    char why[200];
    T_EQ_INT(qblas_cuda_probe(why, sizeof why), 0);   /* usable again */
    check_sgemm();
    gpu->shutdown();
    T_EQ_INT(fake_cuda_live, 0);
}
#else
static void test_cudasim(void)
{
    t_skip("CUDA=1 build: the real cuBLAS backend is linked (see test_blas)");
}
#endif

int main(void)
{
#ifdef CUDASIM
    T_RUN(test_probe);
    T_RUN(test_operations);
    T_RUN(test_buffer_reuse);
    T_RUN(test_fallback);
    T_RUN(test_shutdown_frees);
#else
    T_RUN(test_cudasim);
#endif
    return t_done();
}
