// The fused LSTM step (see include/clstm.h). For each tile of up to MR rows, the tile's
// rows of h are copied k-major (as graft_gemm_packed does), then for each group of W units
// the four gates' accumulators (MR × 4 vectors) run over K, receive pre (z = pre + h·U, with
// the K-block rounding of graft_gemm_packed), and the gate functions and the cell/hidden
// update happen in registers before c' and h' are stored.

#include "cgemm.h"
#include "cgemm_internal.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include "vmath_simd.h"  // sets fp contract(off) for the rest of this file
#define LSTM_X86 1
#endif

#define INLINE static inline __attribute__((always_inline))
#if defined(__clang__)
#define UNROLL _Pragma("clang loop unroll(full)")
#else
#define UNROLL
#endif

/// Units per group for a resolved variant.
static long group_units(int variant) { return variant == GRAFT_GEMM_AVX512 ? 16 : 8; }

int graft_lstm_variant(int variant) {
    if (variant == GRAFT_GEMM_AUTO || !graft_gemm_variant_supported(variant)) variant = graft_gemm_best_variant();
#ifdef LSTM_X86
    if (variant == GRAFT_GEMM_AVX512 || variant == GRAFT_GEMM_AVX2) return variant;
#endif
    return 0;
}

/// Columns of the regrouped kernel: groups × 4 gates × W.
static long fused_columns(long w, long u) { return (u + w - 1) / w * 4 * w; }

size_t graft_lstm_packed_count(int variant, long u) {
    int v = graft_lstm_variant(variant);
    if (v == 0 || u <= 0) return 0;
    return graft_gemm_packed_count(u, fused_columns(group_units(v), u));
}

void graft_lstm_pack(int variant, const float *recurrent, long ldu, long u, float *packed) {
    int v = graft_lstm_variant(variant);
    if (v == 0 || u <= 0) return;
    long w = group_units(v), n = fused_columns(w, u);
    float *regrouped = calloc((size_t)u * (size_t)n, sizeof(float));
    if (!regrouped) {
        // Column by column through a one-column buffer would also do; packing a few hundred KB
        // failing means the process is out of memory anyway: leave zeros (caller checks).
        memset(packed, 0, graft_gemm_packed_count(u, n) * sizeof(float));
        return;
    }
    for (long k = 0; k < u; k++) {
        for (long s = 0; s * w < u; s++) {
            long width = u - s * w < w ? u - s * w : w;
            for (int g = 0; g < 4; g++) {
                memcpy(regrouped + k * n + (s * 4 + g) * w, recurrent + k * ldu + g * u + s * w, (size_t)width * sizeof(float));
            }
        }
    }
    graft_gemm_pack(regrouped, n, 0, u, n, packed);
    free(regrouped);
}

#ifdef LSTM_X86

// MARK: - AVX-512: tiles of up to 6 rows × 16 units × 4 gates (24 accumulators)

#define MR512 6
#define T512 __attribute__((target("avx512f,fma")))

/// One row tile, one group: z over all K blocks, then the update. ap: the tile's h, k-major
/// over all u (ap[p·mr + r]). b0/b1: the group's two panels ([i f] and [c o]) per K block
/// are found from `packed`.
T512 INLINE void group512(const int MR, long u, long n, long s, const float *ap, const float *packed,
                          float *pre, long ldpre, const float *c_in, float *c_out, long ldc,
                          float *h_out, long ldho, float *h_out2, long ldho2) {
    long kc_base = graft_gemm_k_block(u);
    long first = s * 16;
    int width = (int)(u - first < 16 ? u - first : 16);
    __mmask16 m = width >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << width) - 1);
    const __m512 zero = _mm512_setzero_ps();
    for (long pc = 0; pc < u; pc += kc_base) {
        long kc = u - pc < kc_base ? u - pc : kc_base;
        const float *b0 = packed + graft_gemm_slice_offset(u, n, pc, 2 * s);
        const float *b1 = packed + graft_gemm_slice_offset(u, n, pc, 2 * s + 1);
        const float *a = ap + pc * MR;
        __m512 acc[MR512][4];
        UNROLL
        for (int r = 0; r < MR; r++) for (int g = 0; g < 4; g++) acc[r][g] = zero;
        for (long p = 0; p < kc; p++) {
            __m512 bi = _mm512_loadu_ps(b0 + p * 32), bf = _mm512_loadu_ps(b0 + p * 32 + 16);
            __m512 bc = _mm512_loadu_ps(b1 + p * 32), bo = _mm512_loadu_ps(b1 + p * 32 + 16);
            UNROLL
            for (int r = 0; r < MR; r++) {
                __m512 av = _mm512_set1_ps(a[p * MR + r]);
                acc[r][0] = _mm512_fmadd_ps(av, bi, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(av, bf, acc[r][1]);
                acc[r][2] = _mm512_fmadd_ps(av, bc, acc[r][2]);
                acc[r][3] = _mm512_fmadd_ps(av, bo, acc[r][3]);
            }
        }
        int last = pc + kc >= u;
        UNROLL
        for (int r = 0; r < MR; r++) {
            float *z = pre + r * ldpre + first;
            // As graft_gemm_packed's epilogue with no bias and beta 1: (acc + 0) + pre.
            __m512 zi = _mm512_add_ps(_mm512_add_ps(acc[r][0], zero), _mm512_maskz_loadu_ps(m, z));
            __m512 zf = _mm512_add_ps(_mm512_add_ps(acc[r][1], zero), _mm512_maskz_loadu_ps(m, z + u));
            __m512 zc = _mm512_add_ps(_mm512_add_ps(acc[r][2], zero), _mm512_maskz_loadu_ps(m, z + 2 * u));
            __m512 zo = _mm512_add_ps(_mm512_add_ps(acc[r][3], zero), _mm512_maskz_loadu_ps(m, z + 3 * u));
            if (!last) {
                _mm512_mask_storeu_ps(z, m, zi);
                _mm512_mask_storeu_ps(z + u, m, zf);
                _mm512_mask_storeu_ps(z + 2 * u, m, zc);
                _mm512_mask_storeu_ps(z + 3 * u, m, zo);
                continue;
            }
            __m512 gi = sigmoid512(zi), gf = sigmoid512(zf), gc = tanh512(zc), go = sigmoid512(zo);
            __m512 cold = _mm512_maskz_loadu_ps(m, c_in + r * ldc + first);
            __m512 cnew = _mm512_add_ps(_mm512_mul_ps(gf, cold), _mm512_mul_ps(gi, gc));
            __m512 hnew = _mm512_mul_ps(tanh512(cnew), go);
            _mm512_mask_storeu_ps(c_out + r * ldc + first, m, cnew);
            _mm512_mask_storeu_ps(h_out + r * ldho + first, m, hnew);
            if (h_out2) _mm512_mask_storeu_ps(h_out2 + r * ldho2 + first, m, hnew);
        }
    }
}

T512 static void tile512(int mr, long u, long n, long s, const float *ap, const float *packed,
                         float *pre, long ldpre, const float *c_in, float *c_out, long ldc,
                         float *h_out, long ldho, float *h_out2, long ldho2) {
#define G512(R) group512(R, u, n, s, ap, packed, pre, ldpre, c_in, c_out, ldc, h_out, ldho, h_out2, ldho2)
    switch (mr) {
    case 1: G512(1); break;
    case 2: G512(2); break;
    case 3: G512(3); break;
    case 4: G512(4); break;
    case 5: G512(5); break;
    default: G512(6); break;
    }
#undef G512
}

// MARK: - AVX2: tiles of up to 2 rows × 8 units × 4 gates (8 accumulators of 16 registers)

#define MR256 2
#define T256F __attribute__((target("avx2,fma")))

T256F INLINE __m256i tail_mask256(int width) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(width), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

T256F INLINE void group256(const int MR, long u, long n, long s, const float *ap, const float *packed,
                           float *pre, long ldpre, const float *c_in, float *c_out, long ldc,
                           float *h_out, long ldho, float *h_out2, long ldho2) {
    long kc_base = graft_gemm_k_block(u);
    long first = s * 8;
    int width = (int)(u - first < 8 ? u - first : 8);
    __m256i m = tail_mask256(width);
    const __m256 zero = _mm256_setzero_ps();
    for (long pc = 0; pc < u; pc += kc_base) {
        long kc = u - pc < kc_base ? u - pc : kc_base;
        const float *b = packed + graft_gemm_slice_offset(u, n, pc, s);
        const float *a = ap + pc * MR;
        __m256 acc[MR256][4];
        UNROLL
        for (int r = 0; r < MR; r++) for (int g = 0; g < 4; g++) acc[r][g] = zero;
        for (long p = 0; p < kc; p++) {
            __m256 bi = _mm256_loadu_ps(b + p * 32), bf = _mm256_loadu_ps(b + p * 32 + 8);
            __m256 bc = _mm256_loadu_ps(b + p * 32 + 16), bo = _mm256_loadu_ps(b + p * 32 + 24);
            UNROLL
            for (int r = 0; r < MR; r++) {
                __m256 av = _mm256_broadcast_ss(a + p * MR + r);
                acc[r][0] = _mm256_fmadd_ps(av, bi, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(av, bf, acc[r][1]);
                acc[r][2] = _mm256_fmadd_ps(av, bc, acc[r][2]);
                acc[r][3] = _mm256_fmadd_ps(av, bo, acc[r][3]);
            }
        }
        int last = pc + kc >= u;
        UNROLL
        for (int r = 0; r < MR; r++) {
            float *z = pre + r * ldpre + first;
            __m256 zi = _mm256_add_ps(_mm256_add_ps(acc[r][0], zero), _mm256_maskload_ps(z, m));
            __m256 zf = _mm256_add_ps(_mm256_add_ps(acc[r][1], zero), _mm256_maskload_ps(z + u, m));
            __m256 zc = _mm256_add_ps(_mm256_add_ps(acc[r][2], zero), _mm256_maskload_ps(z + 2 * u, m));
            __m256 zo = _mm256_add_ps(_mm256_add_ps(acc[r][3], zero), _mm256_maskload_ps(z + 3 * u, m));
            if (!last) {
                _mm256_maskstore_ps(z, m, zi);
                _mm256_maskstore_ps(z + u, m, zf);
                _mm256_maskstore_ps(z + 2 * u, m, zc);
                _mm256_maskstore_ps(z + 3 * u, m, zo);
                continue;
            }
            __m256 gi = sigmoid256(zi), gf = sigmoid256(zf), gc = tanh256(zc), go = sigmoid256(zo);
            __m256 cold = _mm256_maskload_ps(c_in + r * ldc + first, m);
            __m256 cnew = _mm256_add_ps(_mm256_mul_ps(gf, cold), _mm256_mul_ps(gi, gc));
            __m256 hnew = _mm256_mul_ps(tanh256(cnew), go);
            _mm256_maskstore_ps(c_out + r * ldc + first, m, cnew);
            _mm256_maskstore_ps(h_out + r * ldho + first, m, hnew);
            if (h_out2) _mm256_maskstore_ps(h_out2 + r * ldho2 + first, m, hnew);
        }
    }
}

T256F static void tile256(int mr, long u, long n, long s, const float *ap, const float *packed,
                          float *pre, long ldpre, const float *c_in, float *c_out, long ldc,
                          float *h_out, long ldho, float *h_out2, long ldho2) {
    if (mr == 1) group256(1, u, n, s, ap, packed, pre, ldpre, c_in, c_out, ldc, h_out, ldho, h_out2, ldho2);
    else group256(2, u, n, s, ap, packed, pre, ldpre, c_in, c_out, ldc, h_out, ldho, h_out2, ldho2);
}

#endif  // LSTM_X86

int graft_lstm_step(int variant, long m, long u, const float *h, long ldh, const float *packed,
                    float *pre, long ldpre, const float *c_in, float *c_out, long ldc,
                    float *h_out, long ldho, float *h_out2, long ldho2) {
    int v = graft_lstm_variant(variant);
    if (v == 0) return 0;
    if (m <= 0 || u <= 0) return 1;
#ifdef LSTM_X86
    long w = group_units(v), n = fused_columns(w, u), groups = (u + w - 1) / w;
    int mr_max = v == GRAFT_GEMM_AVX512 ? MR512 : MR256;
    // The tile's h, k-major: MR × u floats, on the stack up to 12,288 floats (48 KB).
    float stack[MR512 * 2048];
    float *ap = (size_t)mr_max * (size_t)u <= sizeof(stack) / sizeof(float) ? stack
        : malloc((size_t)mr_max * (size_t)u * sizeof(float));
    if (!ap) return 0;
    long tiles = (m + mr_max - 1) / mr_max, base = m / tiles, extra = m % tiles;
    long row = 0;
    for (long t = 0; t < tiles; t++) {
        int mr = (int)(base + (t < extra ? 1 : 0));
        for (int r = 0; r < mr; r++) {
            const float *src = h + (row + r) * ldh;
            for (long p = 0; p < u; p++) ap[p * mr + r] = src[p];
        }
        float *pre_t = pre + row * ldpre, *c_out_t = c_out + row * ldc, *h_out_t = h_out + row * ldho;
        const float *c_in_t = c_in + row * ldc;
        float *h_out2_t = h_out2 ? h_out2 + row * ldho2 : NULL;
        for (long s = 0; s < groups; s++) {
            if (v == GRAFT_GEMM_AVX512) tile512(mr, u, n, s, ap, packed, pre_t, ldpre, c_in_t, c_out_t, ldc, h_out_t, ldho, h_out2_t, ldho2);
            else tile256(mr, u, n, s, ap, packed, pre_t, ldpre, c_in_t, c_out_t, ldc, h_out_t, ldho, h_out2_t, ldho2);
        }
        row += mr;
    }
    if (ap != stack) free(ap);
    return 1;
#else
    (void)h; (void)ldh; (void)packed; (void)pre; (void)ldpre; (void)c_in; (void)c_out; (void)ldc;
    (void)h_out; (void)ldho; (void)h_out2; (void)ldho2;
    return 0;
#endif
}
