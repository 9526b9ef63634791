// Packed-weight SGEMM: see include/cgemm.h for the layout and the contract.
//
// Structure (one call, one thread): K is cut into blocks of at most ~256 (the panel slice
// kc × 32 floats stays in L1), rows into chunks of at most 8 row tiles (the chunk's packed A
// stays in L2 while all panels pass). Each chunk's rows are split into tiles of balanced
// height (e.g. 32 rows → 11 + 11 + 10 on AVX-512) and A is copied tile by tile into
// k-major order (a tile's values for one k are contiguous), so the microkernel reads one
// stream of A and one of B. The first K block writes C (bias, beta); later ones add to it.

#include "cgemm.h"
#include "cgemm_internal.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GRAFT_X86 1
#include <immintrin.h>
#endif

#define PANEL GRAFT_GEMM_PANEL
#define INLINE static inline __attribute__((always_inline))
#define KC_MAX 256
/// How many k steps ahead the vector kernels prefetch B (≈ 4 KB: L3 latency over ~11
/// cycles per step).
#define PREFETCH_STEPS 32
// The row loops of a tile must unroll fully so its accumulators live in registers.
#if defined(__clang__)
#define UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define UNROLL _Pragma("GCC unroll 16")
#else
#define UNROLL
#endif

// MARK: - CPU features

int graft_gemm_variant_supported(int variant) {
    switch (variant) {
    case GRAFT_GEMM_PORTABLE: return 1;
#ifdef GRAFT_X86
    case GRAFT_GEMM_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case GRAFT_GEMM_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#endif
    default: return 0;
    }
}

int graft_gemm_best_variant(void) {
    static int best = -2;
    if (best == -2) {
        int v = GRAFT_GEMM_PORTABLE;
        if (graft_gemm_variant_supported(GRAFT_GEMM_AVX2)) v = GRAFT_GEMM_AVX2;
        if (graft_gemm_variant_supported(GRAFT_GEMM_AVX512)) v = GRAFT_GEMM_AVX512;
        best = v;  // idempotent: a race writes the same value
    }
    return best;
}

// MARK: - Packing

/// K blocks: ceil(K / KC_MAX) of equal size (the last may be shorter).
long graft_gemm_k_block(long k) {
    long kblocks = (k + KC_MAX - 1) / KC_MAX;
    return kblocks > 0 ? (k + kblocks - 1) / kblocks : 0;
}

/// Where the slice (K block starting at pc, panel j) starts: K blocks one after another,
/// each holding every panel's kc × 32 slice, so one call reads B in address order.
size_t graft_gemm_slice_offset(long k, long n, long pc, long j) {
    long panels = (n + PANEL - 1) / PANEL, kc_base = graft_gemm_k_block(k);
    long kc = k - pc < kc_base ? k - pc : kc_base;
    return (size_t)pc * (size_t)panels * PANEL + (size_t)j * (size_t)kc * PANEL;
}

size_t graft_gemm_packed_count(long k, long n) {
    if (k <= 0 || n <= 0) return 0;
    return (size_t)((n + PANEL - 1) / PANEL) * PANEL * (size_t)k;
}

void graft_gemm_pack(const float *b, long ldb, int transposed, long k, long n, float *packed) {
    long panels = (n + PANEL - 1) / PANEL;
    long kc_base = graft_gemm_k_block(k);
    for (long j = 0; j < panels; j++) {
        long first = j * PANEL, width = n - first < PANEL ? n - first : PANEL;
        for (long kk = 0; kk < k; kk++) {
            long pc = kk / kc_base * kc_base;
            float *row = packed + graft_gemm_slice_offset(k, n, pc, j) + (size_t)(kk - pc) * PANEL;
            if (transposed) {
                for (long jj = 0; jj < width; jj++) row[jj] = b[(first + jj) * ldb + kk];
            } else {
                memcpy(row, b + kk * ldb + first, (size_t)width * sizeof(float));
            }
            for (long jj = width; jj < PANEL; jj++) row[jj] = 0;
        }
    }
}

// MARK: - Epilogue shared by the scalar paths

/// c[0..<ncols] = acc + bias + beta·c.
INLINE void store_scalar(float *c, const float *acc, int ncols, const float *bias, float beta) {
    for (int j = 0; j < ncols; j++) {
        float v = acc[j];
        if (bias) v += bias[j];
        if (beta != 0) v += beta * c[j];
        c[j] = v;
    }
}

// MARK: - Portable microkernel: up to 4 rows × 32 columns

#define MR_PORTABLE 4

INLINE void tile_portable(const int MR, long kc, const float *ap, const float *b, float *c, long ldc,
                          int ncols, const float *bias, float beta) {
    float acc[MR_PORTABLE][PANEL];
    UNROLL
    for (int r = 0; r < MR; r++) for (int j = 0; j < PANEL; j++) acc[r][j] = 0;
    for (long p = 0; p < kc; p++) {
        const float *bp = b + p * PANEL;
        UNROLL
        for (int r = 0; r < MR; r++) {
            float av = ap[p * MR + r];
            for (int j = 0; j < PANEL; j++) acc[r][j] += av * bp[j];
        }
    }
    UNROLL
    for (int r = 0; r < MR; r++) store_scalar(c + r * ldc, acc[r], ncols, bias, beta);
}

static void kernel_portable(int mr, long kc, const float *ap, const float *b, float *c, long ldc,
                            int ncols, const float *bias, float beta) {
    switch (mr) {
    case 1: tile_portable(1, kc, ap, b, c, ldc, ncols, bias, beta); break;
    case 2: tile_portable(2, kc, ap, b, c, ldc, ncols, bias, beta); break;
    case 3: tile_portable(3, kc, ap, b, c, ldc, ncols, bias, beta); break;
    default: tile_portable(4, kc, ap, b, c, ldc, ncols, bias, beta); break;
    }
}

#ifdef GRAFT_X86

// MARK: - AVX2 + FMA microkernel: up to 6 rows × 16 columns (half a panel)

#define MR_AVX2 6
#define T256 __attribute__((target("avx2,fma")))

T256 INLINE void store_row_avx2(float *c, __m256 lo, __m256 hi, int ncols, const float *bias, float beta) {
    if (ncols >= 16) {
        if (bias) { lo = _mm256_add_ps(lo, _mm256_loadu_ps(bias)); hi = _mm256_add_ps(hi, _mm256_loadu_ps(bias + 8)); }
        if (beta != 0) {
            __m256 vb = _mm256_set1_ps(beta);
            lo = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), lo);
            hi = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8), hi);
        }
        _mm256_storeu_ps(c, lo);
        _mm256_storeu_ps(c + 8, hi);
    } else {
        float tmp[16];
        _mm256_storeu_ps(tmp, lo);
        _mm256_storeu_ps(tmp + 8, hi);
        store_scalar(c, tmp, ncols, bias, beta);
    }
}

/// b: the half panel (row stride PANEL).
T256 INLINE void tile_avx2(const int MR, long kc, const float *ap, const float *b, float *c, long ldc,
                           int ncols, const float *bias, float beta) {
    __m256 c0[MR_AVX2], c1[MR_AVX2];
    UNROLL
    for (int r = 0; r < MR; r++) { c0[r] = _mm256_setzero_ps(); c1[r] = _mm256_setzero_ps(); }
    for (long p = 0; p < kc; p++) {
        _mm_prefetch((const char *)(b + (p + PREFETCH_STEPS) * PANEL), _MM_HINT_T0);
        __m256 b0 = _mm256_loadu_ps(b + p * PANEL), b1 = _mm256_loadu_ps(b + p * PANEL + 8);
        UNROLL
        for (int r = 0; r < MR; r++) {
            __m256 av = _mm256_broadcast_ss(ap + p * MR + r);
            c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);
            c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);
        }
    }
    UNROLL
    for (int r = 0; r < MR; r++) store_row_avx2(c + r * ldc, c0[r], c1[r], ncols, bias, beta);
}

T256 static void kernel_avx2(int mr, long kc, const float *ap, const float *b, float *c, long ldc,
                             int ncols, const float *bias, float beta) {
    for (int half = 0; half < 2 && ncols > 16 * half; half++) {
        const float *bh = b + 16 * half, *biash = bias ? bias + 16 * half : NULL;
        float *ch = c + 16 * half;
        int nh = ncols - 16 * half;
        switch (mr) {
        case 1: tile_avx2(1, kc, ap, bh, ch, ldc, nh, biash, beta); break;
        case 2: tile_avx2(2, kc, ap, bh, ch, ldc, nh, biash, beta); break;
        case 3: tile_avx2(3, kc, ap, bh, ch, ldc, nh, biash, beta); break;
        case 4: tile_avx2(4, kc, ap, bh, ch, ldc, nh, biash, beta); break;
        case 5: tile_avx2(5, kc, ap, bh, ch, ldc, nh, biash, beta); break;
        default: tile_avx2(6, kc, ap, bh, ch, ldc, nh, biash, beta); break;
        }
    }
}

// MARK: - AVX-512 microkernel: up to 12 rows × 32 columns

#define MR_AVX512 12
#define T512 __attribute__((target("avx512f,fma")))

T512 INLINE void tile_avx512(const int MR, long kc, const float *ap, const float *b, float *c, long ldc,
                             int ncols, const float *bias, float beta) {
    __m512 c0[MR_AVX512], c1[MR_AVX512];
    UNROLL
    for (int r = 0; r < MR; r++) { c0[r] = _mm512_setzero_ps(); c1[r] = _mm512_setzero_ps(); }
    for (long p = 0; p < kc; p++) {
        // B streams from L3 on a slice's first tile: fetch ahead (past the slice's end lies
        // the next slice, which the next call reads; prefetches never fault).
        _mm_prefetch((const char *)(b + (p + PREFETCH_STEPS) * PANEL), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + (p + PREFETCH_STEPS) * PANEL + 16), _MM_HINT_T0);
        __m512 b0 = _mm512_loadu_ps(b + p * PANEL), b1 = _mm512_loadu_ps(b + p * PANEL + 16);
        UNROLL
        for (int r = 0; r < MR; r++) {
            __m512 av = _mm512_set1_ps(ap[p * MR + r]);
            c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
        }
    }
    __mmask16 m0 = ncols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << ncols) - 1);
    __mmask16 m1 = ncols >= 32 ? (__mmask16)0xFFFF : ncols > 16 ? (__mmask16)((1u << (ncols - 16)) - 1) : 0;
    __m512 bias0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
    __m512 bias1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
    __m512 vb = _mm512_set1_ps(beta);
    UNROLL
    for (int r = 0; r < MR; r++) {
        float *cr = c + r * ldc;
        __m512 v0 = _mm512_add_ps(c0[r], bias0), v1 = _mm512_add_ps(c1[r], bias1);
        if (beta != 0) {
            v0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cr), v0);
            v1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16), v1);
        }
        _mm512_mask_storeu_ps(cr, m0, v0);
        _mm512_mask_storeu_ps(cr + 16, m1, v1);
    }
}

T512 static void kernel_avx512(int mr, long kc, const float *ap, const float *b, float *c, long ldc,
                               int ncols, const float *bias, float beta) {
    switch (mr) {
    case 1: tile_avx512(1, kc, ap, b, c, ldc, ncols, bias, beta); break;
    case 2: tile_avx512(2, kc, ap, b, c, ldc, ncols, bias, beta); break;
    case 3: tile_avx512(3, kc, ap, b, c, ldc, ncols, bias, beta); break;
    case 4: tile_avx512(4, kc, ap, b, c, ldc, ncols, bias, beta); break;
    case 5: tile_avx512(5, kc, ap, b, c, ldc, ncols, bias, beta); break;
    case 6: tile_avx512(6, kc, ap, b, c, ldc, ncols, bias, beta); break;
    case 7: tile_avx512(7, kc, ap, b, c, ldc, ncols, bias, beta); break;
    case 8: tile_avx512(8, kc, ap, b, c, ldc, ncols, bias, beta); break;
    case 9: tile_avx512(9, kc, ap, b, c, ldc, ncols, bias, beta); break;
    case 10: tile_avx512(10, kc, ap, b, c, ldc, ncols, bias, beta); break;
    case 11: tile_avx512(11, kc, ap, b, c, ldc, ncols, bias, beta); break;
    default: tile_avx512(12, kc, ap, b, c, ldc, ncols, bias, beta); break;
    }
}

#endif  // GRAFT_X86

// MARK: - Driver

typedef void (*kernel_fn)(int mr, long kc, const float *ap, const float *b, float *c, long ldc,
                          int ncols, const float *bias, float beta);

/// C = bias + beta·C over the given columns (K = 0: no product).
static void no_product(long m, long n, const float *bias, float beta, float *c, long ldc, long col0, long col1) {
    for (long i = 0; i < m; i++) {
        for (long j = col0; j < col1 && j < n; j++) {
            float v = bias ? bias[j] : 0;
            if (beta != 0) v += beta * c[i * ldc + j];
            c[i * ldc + j] = v;
        }
    }
}

void graft_gemm_packed(int variant, long m, long n, long k,
                       const float *a, long lda, const float *packed,
                       const float *bias, float beta, float *c, long ldc,
                       long panel_begin, long panel_end) {
    long panels = (n + PANEL - 1) / PANEL;
    if (panel_begin < 0) panel_begin = 0;
    if (panel_end > panels) panel_end = panels;
    if (m <= 0 || n <= 0 || panel_begin >= panel_end) return;
    if (k <= 0) { no_product(m, n, bias, beta, c, ldc, panel_begin * PANEL, panel_end * PANEL); return; }

    if (variant == GRAFT_GEMM_AUTO || !graft_gemm_variant_supported(variant)) variant = graft_gemm_best_variant();
    kernel_fn kernel = kernel_portable;
    int mr_max = MR_PORTABLE;
#ifdef GRAFT_X86
    if (variant == GRAFT_GEMM_AVX512) { kernel = kernel_avx512; mr_max = MR_AVX512; }
    else if (variant == GRAFT_GEMM_AVX2) { kernel = kernel_avx2; mr_max = MR_AVX2; }
#endif

    long kc_base = graft_gemm_k_block(k);
    long mc_max = 8L * mr_max;
    long chunk_rows = m < mc_max ? m : mc_max;
    float *ap = NULL;
    if (posix_memalign((void **)&ap, 64, (size_t)chunk_rows * (size_t)kc_base * sizeof(float)) != 0 || !ap) {
        // Out of memory for a few hundred KB: compute the plain way, row by row.
        for (long i = 0; i < m; i++) {
            for (long j = panel_begin * PANEL; j < panel_end * PANEL && j < n; j++) {
                long kc_base = graft_gemm_k_block(k);
                float s = 0;
                for (long p = 0; p < k; p++) {
                    long pc = p / kc_base * kc_base;
                    s += a[i * lda + p] * packed[graft_gemm_slice_offset(k, n, pc, j / PANEL) + (size_t)(p - pc) * PANEL + j % PANEL];
                }
                if (bias) s += bias[j];
                if (beta != 0) s += beta * c[i * ldc + j];
                c[i * ldc + j] = s;
            }
        }
        return;
    }

    for (long pc = 0; pc < k; pc += kc_base) {
        long kc = k - pc < kc_base ? k - pc : kc_base;
        int first = pc == 0;
        const float *bias_k = first ? bias : NULL;
        float beta_k = first ? beta : 1.0f;
        for (long ic = 0; ic < m; ic += chunk_rows) {
            long mc = m - ic < chunk_rows ? m - ic : chunk_rows;
            long tiles = (mc + mr_max - 1) / mr_max;
            long base = mc / tiles, extra = mc % tiles;
            // Pack the chunk's A tile by tile: tile t has rows base(+1), k-major.
            long row = 0;
            float *dst = ap;
            for (long t = 0; t < tiles; t++) {
                int mr = (int)(base + (t < extra ? 1 : 0));
                for (int r = 0; r < mr; r++) {
                    const float *src = a + (ic + row + r) * lda + pc;
                    for (long p = 0; p < kc; p++) dst[p * mr + r] = src[p];
                }
                dst += (size_t)mr * (size_t)kc;
                row += mr;
            }
            for (long jp = panel_begin; jp < panel_end; jp++) {
                const float *b = packed + graft_gemm_slice_offset(k, n, pc, jp);
                long col = jp * PANEL;
                int ncols = (int)(n - col < PANEL ? n - col : PANEL);
                const float *bias_j = bias_k ? bias_k + col : NULL;
                row = 0;
                const float *src = ap;
                for (long t = 0; t < tiles; t++) {
                    int mr = (int)(base + (t < extra ? 1 : 0));
                    kernel(mr, kc, src, b, c + (ic + row) * ldc + col, ldc, ncols, bias_j, beta_k);
                    src += (size_t)mr * (size_t)kc;
                    row += mr;
                }
            }
        }
    }
    free(ap);
}
