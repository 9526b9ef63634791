// Vectorised exp / sigmoid / tanh, the same arithmetic as VectorMath.swift (see cvmath.h).
// Multiplies and adds stay separate (no contraction), so every lane rounds as the scalar
// Swift code does.

#include "cvmath.h"
#include "cgemm.h"

#pragma clang fp contract(off)

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include "vmath_simd.h"

#define T512 VM_T512
#define T256 VM_T256

#define LOOP512(name, f)                                                               \
    T512 static void name(float *x, long n) {                                          \
        long i = 0;                                                                    \
        for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, f(_mm512_loadu_ps(x + i))); \
        if (i < n) {                                                                   \
            __mmask16 m = (__mmask16)((1u << (n - i)) - 1);                            \
            _mm512_mask_storeu_ps(x + i, m, f(_mm512_maskz_loadu_ps(m, x + i)));       \
        }                                                                              \
    }
LOOP512(vexp512, exp512)
LOOP512(vsigmoid512, sigmoid512)
LOOP512(vtanh512, tanh512)

#define LOOP256(name, f, tail)                                                         \
    T256 static void name(float *x, long n) {                                          \
        long i = 0;                                                                    \
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, f(_mm256_loadu_ps(x + i))); \
        for (; i < n; i++) x[i] = tail(x[i]);                                          \
    }
LOOP256(vexp256, exp256, exp_scalar)
LOOP256(vsigmoid256, sigmoid256, sigmoid_scalar)
LOOP256(vtanh256, tanh256, tanh_scalar)

#define DISPATCH(name, v512, v256)                                                     \
    int name(float *x, long n) {                                                       \
        int v = graft_gemm_best_variant();                                             \
        if (v == GRAFT_GEMM_AVX512) { v512(x, n); return 1; }                          \
        if (v == GRAFT_GEMM_AVX2) { v256(x, n); return 1; }                            \
        return 0;                                                                      \
    }
DISPATCH(graft_vexp, vexp512, vexp256)
DISPATCH(graft_vsigmoid, vsigmoid512, vsigmoid256)
DISPATCH(graft_vtanh, vtanh512, vtanh256)

#else

int graft_vexp(float *x, long n) { (void)x; (void)n; return 0; }
int graft_vsigmoid(float *x, long n) { (void)x; (void)n; return 0; }
int graft_vtanh(float *x, long n) { (void)x; (void)n; return 0; }

#endif
