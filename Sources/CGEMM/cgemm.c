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
#include <stdint.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GRAFT_X86 1
#include <immintrin.h>
#endif

#define PANEL GRAFT_GEMM_PANEL
#define INLINE static inline __attribute__((always_inline))
#define KC_MAX 256
/// The row stride of a row-major A tile (the convolutions' and the AVX-512 GEMM's): KC_MAX plus one cache line, so
/// a tile's rows fall in different L1 sets (at exactly 1 KB apart, 12 rows share 4 sets).
#define ROW_LD (KC_MAX + 16)
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

/// c[0..<ncols] = acc + bias + beta·c, then max(0, ·) when relu (NaN stays NaN).
INLINE void store_scalar(float *c, const float *acc, int ncols, const float *bias, float beta, int relu) {
    for (int j = 0; j < ncols; j++) {
        float v = acc[j];
        if (bias) v += bias[j];
        if (beta != 0) v += beta * c[j];
        if (relu && v < 0) v = 0;
        c[j] = v;
    }
}

// MARK: - Portable microkernel: up to 4 rows × 32 columns

#define MR_PORTABLE 4

INLINE void tile_portable(const int MR, long kc, const float *ap, const float *b, float *c, long ldc,
                          int ncols, const float *bias, float beta, int relu) {
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
    for (int r = 0; r < MR; r++) store_scalar(c + r * ldc, acc[r], ncols, bias, beta, relu);
}

static void kernel_portable(int mr, long kc, const float *ap, const float *b, float *c, long ldc,
                            int ncols, const float *bias, float beta, int relu) {
    switch (mr) {
    case 1: tile_portable(1, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 2: tile_portable(2, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 3: tile_portable(3, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    default: tile_portable(4, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    }
}

#ifdef GRAFT_X86

// MARK: - AVX2 + FMA microkernel: up to 6 rows × 16 columns (half a panel)

#define MR_AVX2 6
#define T256 __attribute__((target("avx2,fma")))

T256 INLINE void store_row_avx2(float *c, __m256 lo, __m256 hi, int ncols, const float *bias, float beta, int relu) {
    if (ncols >= 16) {
        if (bias) { lo = _mm256_add_ps(lo, _mm256_loadu_ps(bias)); hi = _mm256_add_ps(hi, _mm256_loadu_ps(bias + 8)); }
        if (beta != 0) {
            __m256 vb = _mm256_set1_ps(beta);
            lo = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), lo);
            hi = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8), hi);
        }
        if (relu) {
            // max(0, v): NaN stays NaN (the second operand is returned on unordered).
            lo = _mm256_max_ps(_mm256_setzero_ps(), lo);
            hi = _mm256_max_ps(_mm256_setzero_ps(), hi);
        }
        _mm256_storeu_ps(c, lo);
        _mm256_storeu_ps(c + 8, hi);
    } else {
        float tmp[16];
        _mm256_storeu_ps(tmp, lo);
        _mm256_storeu_ps(tmp + 8, hi);
        store_scalar(c, tmp, ncols, bias, beta, relu);
    }
}

/// b: the half panel (row stride PANEL).
T256 INLINE void tile_avx2(const int MR, long kc, const float *ap, const float *b, float *c, long ldc,
                           int ncols, const float *bias, float beta, int relu) {
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
    for (int r = 0; r < MR; r++) store_row_avx2(c + r * ldc, c0[r], c1[r], ncols, bias, beta, relu);
}

T256 static void kernel_avx2(int mr, long kc, const float *ap, const float *b, float *c, long ldc,
                             int ncols, const float *bias, float beta, int relu) {
    for (int half = 0; half < 2 && ncols > 16 * half; half++) {
        const float *bh = b + 16 * half, *biash = bias ? bias + 16 * half : NULL;
        float *ch = c + 16 * half;
        int nh = ncols - 16 * half;
        switch (mr) {
        case 1: tile_avx2(1, kc, ap, bh, ch, ldc, nh, biash, beta, relu); break;
        case 2: tile_avx2(2, kc, ap, bh, ch, ldc, nh, biash, beta, relu); break;
        case 3: tile_avx2(3, kc, ap, bh, ch, ldc, nh, biash, beta, relu); break;
        case 4: tile_avx2(4, kc, ap, bh, ch, ldc, nh, biash, beta, relu); break;
        case 5: tile_avx2(5, kc, ap, bh, ch, ldc, nh, biash, beta, relu); break;
        default: tile_avx2(6, kc, ap, bh, ch, ldc, nh, biash, beta, relu); break;
        }
    }
}

// MARK: - AVX-512 microkernel: up to 12 rows × 32 columns

#define MR_AVX512 12
#define T512 __attribute__((target("avx512f,fma")))

/// ROWS = 0: A packed k-major (ap[p·MR + r]); ROWS = 1: A row-major with the fixed leading
/// dimension ROW_LD (ap[r·ROW_LD + p]: a tile of im2col rows, no transposition needed; a
/// constant stride lets every broadcast address be a displacement off one pointer, where a
/// run-time stride cost ~12 integer operations a k step).
T512 INLINE void tile_avx512(const int MR, const int ROWS, long kc, const float *ap, const float *b, float *c,
                             long ldc, int ncols, const float *bias, float beta, int relu) {
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
            __m512 av = _mm512_set1_ps(ROWS ? ap[r * ROW_LD + p] : ap[p * MR + r]);
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
        if (relu) {
            // max(0, v): NaN stays NaN (the second operand is returned on unordered).
            v0 = _mm512_max_ps(_mm512_setzero_ps(), v0);
            v1 = _mm512_max_ps(_mm512_setzero_ps(), v1);
        }
        _mm512_mask_storeu_ps(cr, m0, v0);
        _mm512_mask_storeu_ps(cr + 16, m1, v1);
    }
}

T512 static void kernel_avx512(int mr, long kc, const float *ap, const float *b, float *c, long ldc,
                               int ncols, const float *bias, float beta, int relu) {
    switch (mr) {
    case 1: tile_avx512(1, 0, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 2: tile_avx512(2, 0, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 3: tile_avx512(3, 0, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 4: tile_avx512(4, 0, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 5: tile_avx512(5, 0, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 6: tile_avx512(6, 0, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 7: tile_avx512(7, 0, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 8: tile_avx512(8, 0, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 9: tile_avx512(9, 0, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 10: tile_avx512(10, 0, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 11: tile_avx512(11, 0, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    default: tile_avx512(12, 0, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    }
}

/// The row-major-A kernel of the convolutions (see tile_avx512).
T512 static void kernel_avx512_rows(int mr, long kc, const float *ap, const float *b, float *c, long ldc,
                                    int ncols, const float *bias, float beta, int relu) {
    switch (mr) {
    case 1: tile_avx512(1, 1, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 2: tile_avx512(2, 1, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 3: tile_avx512(3, 1, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 4: tile_avx512(4, 1, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 5: tile_avx512(5, 1, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 6: tile_avx512(6, 1, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 7: tile_avx512(7, 1, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 8: tile_avx512(8, 1, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 9: tile_avx512(9, 1, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 10: tile_avx512(10, 1, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    case 11: tile_avx512(11, 1, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    default: tile_avx512(12, 1, kc, ap, b, c, ldc, ncols, bias, beta, relu); break;
    }
}

#endif  // GRAFT_X86

// MARK: - Driver

typedef void (*kernel_fn)(int mr, long kc, const float *ap, const float *b, float *c, long ldc,
                          int ncols, const float *bias, float beta, int relu);

/// The microkernel of `variant` (AUTO or unsupported: the best supported) and its tile height.
static kernel_fn select_kernel(int variant, int *mr_max) {
    if (variant == GRAFT_GEMM_AUTO || !graft_gemm_variant_supported(variant)) variant = graft_gemm_best_variant();
#ifdef GRAFT_X86
    if (variant == GRAFT_GEMM_AVX512) { *mr_max = MR_AVX512; return kernel_avx512; }
    if (variant == GRAFT_GEMM_AVX2) { *mr_max = MR_AVX2; return kernel_avx2; }
#endif
    *mr_max = MR_PORTABLE;
    return kernel_portable;
}

/// Whether `kernel` is the AVX-512 one (the CPU then also runs AVX-512 gathers).
static int kernel_is_avx512(kernel_fn kernel) {
#ifdef GRAFT_X86
    return kernel == kernel_avx512;
#else
    (void)kernel;
    return 0;
#endif
}

/// C = bias + beta·C over the given columns (K = 0: no product), then max(0, ·) when relu.
static void no_product(long m, long n, const float *bias, float beta, int relu, float *c, long ldc, long col0, long col1) {
    for (long i = 0; i < m; i++) {
        for (long j = col0; j < col1 && j < n; j++) {
            float v = bias ? bias[j] : 0;
            if (beta != 0) v += beta * c[i * ldc + j];
            if (relu && v < 0) v = 0;
            c[i * ldc + j] = v;
        }
    }
}

void graft_gemm_packed(int variant, long m, long n, long k,
                       const float *a, long lda, const float *packed,
                       const float *bias, float beta, int relu, float *c, long ldc,
                       long panel_begin, long panel_end) {
    long panels = (n + PANEL - 1) / PANEL;
    if (panel_begin < 0) panel_begin = 0;
    if (panel_end > panels) panel_end = panels;
    if (m <= 0 || n <= 0 || panel_begin >= panel_end) return;
    if (k <= 0) { no_product(m, n, bias, beta, relu, c, ldc, panel_begin * PANEL, panel_end * PANEL); return; }

    int mr_max;
    kernel_fn kernel = select_kernel(variant, &mr_max);

    long kc_base = graft_gemm_k_block(k);
    long mc_max = 8L * mr_max;
    long chunk_rows = m < mc_max ? m : mc_max;
    // The AVX-512 kernel reads A's rows as they are (row-major at the stride ROW_LD): packing
    // a chunk is then one copy per row, where the k-major order of the other kernels is a
    // transposition, one scalar store per element (measured ~4 % of an MLP's forward pass).
    const int row_major = kernel_is_avx512(kernel);
    kernel_fn tile_kernel = kernel;
#ifdef GRAFT_X86
    if (row_major) tile_kernel = kernel_avx512_rows;
#endif
    float *ap = NULL;
    if (posix_memalign((void **)&ap, 64, (size_t)chunk_rows * (size_t)(row_major ? ROW_LD : kc_base) * sizeof(float)) != 0 || !ap) {
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
                if (relu && s < 0) s = 0;
                c[i * ldc + j] = s;
            }
        }
        return;
    }

    for (long pc = 0; pc < k; pc += kc_base) {
        long kc = k - pc < kc_base ? k - pc : kc_base;
        int first = pc == 0;
        // A tile: mr rows at the stride ROW_LD (row_major), or mr × kc k-major.
        const long tile_ld = row_major ? ROW_LD : kc;
        const float *bias_k = first ? bias : NULL;
        float beta_k = first ? beta : 1.0f;
        // The activation on the finished sums only: with the last K block's store.
        int relu_k = relu && pc + kc >= k;
        for (long ic = 0; ic < m; ic += chunk_rows) {
            long mc = m - ic < chunk_rows ? m - ic : chunk_rows;
            long tiles = (mc + mr_max - 1) / mr_max;
            long base = mc / tiles, extra = mc % tiles;
            // Pack the chunk's A tile by tile: tile t has rows base(+1), row-major or k-major.
            long row = 0;
            float *dst = ap;
            for (long t = 0; t < tiles; t++) {
                int mr = (int)(base + (t < extra ? 1 : 0));
                for (int r = 0; r < mr; r++) {
                    const float *src = a + (ic + row + r) * lda + pc;
                    if (row_major) memcpy(dst + (size_t)r * ROW_LD, src, (size_t)kc * sizeof(float));
                    else for (long p = 0; p < kc; p++) dst[p * mr + r] = src[p];
                }
                dst += (size_t)mr * (size_t)tile_ld;
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
                    tile_kernel(mr, kc, src, b, c + (ic + row) * ldc + col, ldc, ncols, bias_j, beta_k, relu_k);
                    src += (size_t)mr * (size_t)tile_ld;
                    row += mr;
                }
            }
        }
    }
    free(ap);
}

// MARK: - Convolution (implicit im2col)

/// dst[0..<len] = src[0..<len], or zeros when src is NULL.
INLINE void copy_run(float *dst, const float *src, long len) {
    if (!src) { memset(dst, 0, (size_t)len * sizeof(float)); return; }
    if (len >= 16) { memcpy(dst, src, (size_t)len * sizeof(float)); return; }
    for (long i = 0; i < len; i++) dst[i] = src[i];
}

/// dst[p·mr + r] = rows[r·kc + p]: a tile's rows (row-major) into the microkernel's k-major order.
static void transpose_tile_scalar(const float *rows, long kc, int mr, float *dst) {
    for (int r = 0; r < mr; r++)
        for (long p = 0; p < kc; p++) dst[p * mr + r] = rows[r * kc + p];
}

#ifdef GRAFT_X86
/// The same with one masked 16-lane gather and one masked store per k (mr ≤ 16).
T512 static void transpose_tile_avx512(const float *rows, long kc, int mr, float *dst) {
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32((int)kc));
    const __mmask16 m = (__mmask16)((1u << mr) - 1);
    for (long p = 0; p < kc; p++) {
        __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, rows + p, 4);
        _mm512_mask_storeu_ps(dst + p * mr, m, v);
    }
}
#endif

/// The im2col rows of output rows row0 ..< row0 + mr for the K block pc ..< pc + kc, row r at
/// rows[r·ld ..< r·ld + kc], read straight from the channels-last input (zeros where the
/// window reaches into padding). k = tap·C + channel, taps in kernel order (z, y, x), so the
/// packed weights are the kernel [kd, kh, kw, C, N] read as a matrix. When a window row lies
/// inside the input along x and x is not dilated, its kw·C values are consecutive in the
/// input and copied as one run.
static void conv_pack_rows(const graft_conv_geometry *g, const float *x, long row0, int mr, long pc, long kc,
                           float *rows, long ld) {
    const long C = g->c, od = g->od, oh = g->oh, ow = g->ow;
    const long run = g->kw * C, xspan = (g->kw - 1) * g->dw;
    long b = row0 / (od * oh * ow), pos = row0 % (od * oh * ow);
    long oz = pos / (oh * ow), oy = (pos / ow) % oh, ox = pos % ow;
    // Where the block starts, per tap and per kernel row (the same for every row of the tile).
    const long t0 = pc / C, ch0 = pc % C;
    const long kx0 = t0 % g->kw, ky0 = (t0 / g->kw) % g->kh, kz0 = t0 / (g->kw * g->kh);
    const long q0 = pc / run, off0 = pc % run;
    const long qy0 = q0 % g->kh, qz0 = q0 / g->kh;
    const size_t image = (size_t)(g->d * g->h * g->w * C);
    for (int r = 0; r < mr; r++) {
        const float *xb = x + (size_t)b * image;
        const long iz0 = oz * g->sd - g->pd, iy0 = oy * g->sh - g->ph, ix0 = ox * g->sw - g->pw;
        float *out = rows + r * ld;
        long p = 0;
        if (g->dw == 1 && ix0 >= 0 && ix0 + xspan < g->w) {
            long ky = qy0, kz = qz0, off = off0;
            while (p < kc) {
                long len = run - off < kc - p ? run - off : kc - p;
                long iz = iz0 + kz * g->dd, iy = iy0 + ky * g->dh;
                const float *src = iz >= 0 && iz < g->d && iy >= 0 && iy < g->h
                    ? xb + ((iz * g->h + iy) * g->w + ix0) * C + off : NULL;
                copy_run(out + p, src, len);
                p += len;
                off = 0;
                if (++ky == g->kh) { ky = 0; kz++; }
            }
        } else {
            long kx = kx0, ky = ky0, kz = kz0, ch = ch0;
            while (p < kc) {
                long len = C - ch < kc - p ? C - ch : kc - p;
                long iz = iz0 + kz * g->dd, iy = iy0 + ky * g->dh, ix = ix0 + kx * g->dw;
                const float *src = iz >= 0 && iz < g->d && iy >= 0 && iy < g->h && ix >= 0 && ix < g->w
                    ? xb + ((iz * g->h + iy) * g->w + ix) * C + ch : NULL;
                copy_run(out + p, src, len);
                p += len;
                ch = 0;
                if (++kx == g->kw) { kx = 0; if (++ky == g->kh) { ky = 0; kz++; } }
            }
        }
        if (++ox == ow) { ox = 0; if (++oy == oh) { oy = 0; if (++oz == od) { oz = 0; b++; } } }
    }
}

/// The tile packed k-major: conv_pack_rows into `rows`, then transposed into dst.
static void conv_pack_tile(const graft_conv_geometry *g, const float *x, long row0, int mr, long pc, long kc,
                           float *dst, float *rows, int gather) {
    conv_pack_rows(g, x, row0, mr, pc, kc, rows, kc);
#ifdef GRAFT_X86
    if (gather) { transpose_tile_avx512(rows, kc, mr, dst); return; }
#endif
    (void)gather;
    transpose_tile_scalar(rows, kc, mr, dst);
}

#ifdef GRAFT_X86
/// conv_pack_tile on AVX-512 without the row-major pass: for each k, one masked gather of
/// the tile's mr values straight from the input (32-bit offsets from x: the caller checks
/// that the input holds fewer than 2³¹ values) and one masked store. Lanes whose window
/// reaches into padding at that tap are masked off and read as zeros.
T512 static void conv_pack_tile_gather(const graft_conv_geometry *g, const float *x, long row0, int mr, long pc, long kc,
                                       float *dst) {
    const long C = g->c, od = g->od, oh = g->oh, ow = g->ow;
    long b = row0 / (od * oh * ow), pos = row0 % (od * oh * ow);
    long oz = pos / (oh * ow), oy = (pos / ow) % oh, ox = pos % ow;
    int base[16], zs[16], ys[16], xs[16];
    for (int r = 0; r < 16; r++) {
        if (r < mr) {
            long iz0 = oz * g->sd - g->pd, iy0 = oy * g->sh - g->ph, ix0 = ox * g->sw - g->pw;
            base[r] = (int)(b * g->d * g->h * g->w * C + ((iz0 * g->h + iy0) * g->w + ix0) * C);
            zs[r] = (int)iz0; ys[r] = (int)iy0; xs[r] = (int)ix0;
            if (++ox == ow) { ox = 0; if (++oy == oh) { oy = 0; if (++oz == od) { oz = 0; b++; } } }
        } else {
            base[r] = 0; zs[r] = -1; ys[r] = -1; xs[r] = -1;
        }
    }
    const __mmask16 rows = (__mmask16)((1u << mr) - 1);
    const __m512i vbase = _mm512_loadu_si512(base), vz = _mm512_loadu_si512(zs), vy = _mm512_loadu_si512(ys),
                  vx = _mm512_loadu_si512(xs), zero = _mm512_setzero_si512(), one = _mm512_set1_epi32(1);
    const __m512i vd = _mm512_set1_epi32((int)g->d), vh = _mm512_set1_epi32((int)g->h), vw = _mm512_set1_epi32((int)g->w);
    const long t0 = pc / C;
    long ch = pc % C, kx = t0 % g->kw, ky = (t0 / g->kw) % g->kh, kz = t0 / (g->kw * g->kh), p = 0;
    while (p < kc) {
        long len = C - ch < kc - p ? C - ch : kc - p;
        __m512i iz = _mm512_add_epi32(vz, _mm512_set1_epi32((int)(kz * g->dd)));
        __m512i iy = _mm512_add_epi32(vy, _mm512_set1_epi32((int)(ky * g->dh)));
        __m512i ix = _mm512_add_epi32(vx, _mm512_set1_epi32((int)(kx * g->dw)));
        __mmask16 inside = rows & _mm512_cmpge_epi32_mask(iz, zero) & _mm512_cmplt_epi32_mask(iz, vd)
                         & _mm512_cmpge_epi32_mask(iy, zero) & _mm512_cmplt_epi32_mask(iy, vh)
                         & _mm512_cmpge_epi32_mask(ix, zero) & _mm512_cmplt_epi32_mask(ix, vw);
        long tap = ((kz * g->dd * g->h + ky * g->dh) * g->w + kx * g->dw) * C + ch;
        __m512i idx = _mm512_add_epi32(vbase, _mm512_set1_epi32((int)tap));
        float *out = dst + p * mr;
        for (long i = 0; i < len; i++) {
            __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), inside, idx, x, 4);
            _mm512_mask_storeu_ps(out, rows, v);
            idx = _mm512_add_epi32(idx, one);
            out += mr;
        }
        p += len;
        ch = 0;
        if (++kx == g->kw) { kx = 0; if (++ky == g->kh) { ky = 0; kz++; } }
    }
}

/// conv_pack_tile_gather for one input channel and stride 1 along x (a first layer on a grey
/// image): the tile's pixels fall in runs of consecutive pixels of one output row, and at each
/// tap a run reads consecutive input values. Each k's tile is then one masked load per run
/// (the run's values inside the input, in its lanes; lanes in padding stay zero) instead of a
/// gather, which costs several times more.
T512 static void conv_pack_tile_c1(const graft_conv_geometry *g, const float *x, long row0, int mr, long pc, long kc,
                                   float *dst) {
    const long od = g->od, oh = g->oh, ow = g->ow;
    long b = row0 / (od * oh * ow), pos = row0 % (od * oh * ow);
    long oz = pos / (oh * ow), oy = (pos / ow) % oh, ox = pos % ow;
    // Run r: lanes first[r] ..< first[r] + len[r] are output pixels ox[r] ... of the row
    // (example b[r], oz[r], oy[r]).
    long first[16], len[16], rb[16], rz[16], ry[16], rx[16];
    int runs = 0;
    for (long lane = 0; lane < mr; runs++) {
        long n = ow - ox < mr - lane ? ow - ox : mr - lane;
        first[runs] = lane; len[runs] = n; rb[runs] = b; rz[runs] = oz; ry[runs] = oy; rx[runs] = ox;
        lane += n;
        ox += n;
        if (ox == ow) { ox = 0; if (++oy == oh) { oy = 0; if (++oz == od) { oz = 0; b++; } } }
    }
    // Each tap's offset from a window's first input value (C = 1: k is the tap).
    long tap[KC_MAX];
    {
        long kx = pc % g->kw, ky = (pc / g->kw) % g->kh, kz = pc / (g->kw * g->kh);
        for (long p = 0; p < kc; p++) {
            tap[p] = ((kz * g->dd) * g->h + ky * g->dh) * g->w + kx * g->dw;
            if (++kx == g->kw) { kx = 0; if (++ky == g->kh) { ky = 0; kz++; } }
        }
    }
    // Each run's lanes of each k's tile: one masked load (lanes whose column is in padding
    // read as zeros) and one masked store. Runs and k steps are independent.
    for (int r = 0; r < runs; r++) {
        const __mmask16 run_lanes = (__mmask16)(((1u << len[r]) - 1) << first[r]);
        const float *image = x + rb[r] * g->d * g->h * g->w;
        const long iz0 = rz[r] * g->sd - g->pd, iy0 = ry[r] * g->sh - g->ph, ix00 = rx[r] - g->pw;
        if (iz0 >= 0 && iz0 + (g->kd - 1) * g->dd < g->d && iy0 >= 0 && iy0 + (g->kh - 1) * g->dh < g->h &&
            ix00 >= 0 && ix00 + len[r] - 1 + (g->kw - 1) * g->dw < g->w) {
            // Every tap of the run's windows inside the input: the same lanes at each k,
            // loaded from the address lane 0 would read (masked-off lanes are never read).
            const float *origin = (const float *)((uintptr_t)(image + (iz0 * g->h + iy0) * g->w + ix00) -
                                                  (uintptr_t)first[r] * sizeof(float));
            for (long p = 0; p < kc; p++)
                _mm512_mask_storeu_ps(dst + p * mr, run_lanes, _mm512_maskz_loadu_ps(run_lanes, origin + tap[p]));
            continue;
        }
        long kx = pc % g->kw, ky = (pc / g->kw) % g->kh, kz = pc / (g->kw * g->kh);
        for (long p = 0; p < kc; p++) {
            const long iz = iz0 + kz * g->dd, iy = iy0 + ky * g->dh, ix0 = ix00 + kx * g->dw;
            // Lane first + i reads input column ix0 + i; only columns in [0, w) are loaded.
            const long lo = ix0 < 0 ? -ix0 : 0, hi = g->w - ix0 < len[r] ? g->w - ix0 : len[r];
            __mmask16 lanes = 0;
            const float *from = image;
            if (iz >= 0 && iz < g->d && iy >= 0 && iy < g->h && lo < hi) {
                lanes = (__mmask16)(((1u << (hi - lo)) - 1) << (first[r] + lo));
                // The address lane 0 would read (before the first loaded value when the run
                // starts past lane 0: masked-off lanes are never read).
                from = (const float *)((uintptr_t)(image + (iz * g->h + iy) * g->w + ix0 + lo) -
                                       (uintptr_t)(first[r] + lo) * sizeof(float));
            }
            _mm512_mask_storeu_ps(dst + p * mr, run_lanes, _mm512_maskz_loadu_ps(lanes, from));
            if (++kx == g->kw) { kx = 0; if (++ky == g->kh) { ky = 0; kz++; } }
        }
    }
}
#endif


void graft_conv_packed(int variant, const graft_conv_geometry *g, const float *x, const float *packed, long n,
                       const float *bias, int relu, float *out, long ldo, long row_begin, long row_end) {
    if (row_begin < 0) row_begin = 0;
    if (n <= 0 || row_end <= row_begin) return;
    graft_conv_packed_rows(variant, g, x, packed, n, bias, relu, out + row_begin * ldo, ldo, row_begin, row_end, NULL);
}

// The workspace holds the largest chunk: 8 tiles + 1 of the tallest tile (MR_AVX512 ≥ MR_AVX2 ≥ MR_PORTABLE).
#ifdef GRAFT_X86
_Static_assert(GRAFT_CONV_WORKSPACE >= (8 * MR_AVX512 + MR_AVX512) * ROW_LD, "workspace of graft_conv_packed_rows");
#else
_Static_assert(GRAFT_CONV_WORKSPACE >= (8 * MR_PORTABLE + MR_PORTABLE) * ROW_LD, "workspace of graft_conv_packed_rows");
#endif

void graft_conv_packed_rows(int variant, const graft_conv_geometry *g, const float *x, const float *packed, long n,
                            const float *bias, int relu, float *c, long ldo, long row_begin, long row_end,
                            float *workspace) {
    const long k = g->kd * g->kh * g->kw * g->c;
    if (row_begin < 0 || n <= 0 || row_end <= row_begin) return;
    const long m = row_end - row_begin;
    if (k <= 0) {
        no_product(m, n, bias, 0, relu, c, ldo, 0, n);
        return;
    }
    int mr_max;
    kernel_fn kernel = select_kernel(variant, &mr_max);
    const long panels = (n + PANEL - 1) / PANEL, kc_base = graft_gemm_k_block(k);
    const long chunk_rows = 8L * mr_max;
    float *ap = workspace;
    // Aligned scratch for one chunk's packed A (≤ 96 × 272 floats): the caller's, else
    // allocated here. Should even that fail, the rows are computed one value at a time
    // through a small stack buffer.
    float fallback[2 * 64];
    float *rows = NULL;
    int chunked = ap || (posix_memalign((void **)&ap, 64, (size_t)(chunk_rows + mr_max) * ROW_LD * sizeof(float)) == 0 && ap);
    if (chunked) rows = ap + (size_t)chunk_rows * ROW_LD;
    const int gather = kernel_is_avx512(kernel);
    // The one-pass gather addresses the input with 32-bit offsets.
    const int direct = gather && g->batch * g->d * g->h * g->w * g->c < (1L << 31) - 1;
    // Long channel runs (C ≥ 16): the tile's rows are copied as they are (memcpy runs) and
    // the row-major kernel reads them without a transposition; short runs (a first layer's
    // C = 1 or 3) are gathered k-major in one pass.
    const int row_major = gather && g->c >= 16;
    // One channel with stride 1 along x: contiguous loads instead of gathers.
    const int one_channel = gather && g->c == 1 && g->sw == 1;
    const long tile_ld = row_major ? ROW_LD : kc_base;  // a tile: mr × ROW_LD row-major, or mr × kc k-major
    (void)direct;
    (void)one_channel;
    if (!chunked) {
        // One row at a time through the stack buffer, K in blocks of 64.
        for (long i = 0; i < m; i++) {
            for (long j = 0; j < n; j++) {
                float s = bias ? bias[j] : 0;
                for (long pc = 0; pc < k; pc += 64) {
                    long kc = k - pc < 64 ? k - pc : 64;
                    conv_pack_tile(g, x, row_begin + i, 1, pc, kc, fallback, fallback + 64, 0);
                    for (long p = 0; p < kc; p++) {
                        long kk = pc + p, bpc = kk / kc_base * kc_base;
                        s += fallback[p] * packed[graft_gemm_slice_offset(k, n, bpc, j / PANEL) + (size_t)(kk - bpc) * PANEL + j % PANEL];
                    }
                }
                c[i * ldo + j] = relu && s < 0 ? 0 : s;
            }
        }
        return;
    }
    for (long ic = 0; ic < m; ic += chunk_rows) {
        long mc = m - ic < chunk_rows ? m - ic : chunk_rows;
        long tiles = (mc + mr_max - 1) / mr_max;
        long base = mc / tiles, extra = mc % tiles;
        for (long pc = 0; pc < k; pc += kc_base) {
            long kc = k - pc < kc_base ? k - pc : kc_base;
            int first = pc == 0, last = pc + kc >= k;
            long row = 0;
            float *dst = ap;
            for (long t = 0; t < tiles; t++) {
                int mr = (int)(base + (t < extra ? 1 : 0));
#ifdef GRAFT_X86
                if (row_major) conv_pack_rows(g, x, row_begin + ic + row, mr, pc, kc, dst, ROW_LD);
                else if (one_channel) conv_pack_tile_c1(g, x, row_begin + ic + row, mr, pc, kc, dst);
                else if (direct) conv_pack_tile_gather(g, x, row_begin + ic + row, mr, pc, kc, dst);
                else
#endif
                conv_pack_tile(g, x, row_begin + ic + row, mr, pc, kc, dst, rows, gather);
                dst += (size_t)mr * (size_t)tile_ld;
                row += mr;
            }
            for (long jp = 0; jp < panels; jp++) {
                const float *b = packed + graft_gemm_slice_offset(k, n, pc, jp);
                long col = jp * PANEL;
                int ncols = (int)(n - col < PANEL ? n - col : PANEL);
                const float *bias_j = first && bias ? bias + col : NULL;
                row = 0;
                const float *src = ap;
                for (long t = 0; t < tiles; t++) {
                    int mr = (int)(base + (t < extra ? 1 : 0));
#ifdef GRAFT_X86
                    if (row_major)
                        kernel_avx512_rows(mr, kc, src, b, c + (ic + row) * ldo + col, ldo, ncols, bias_j,
                                           first ? 0.0f : 1.0f, last && relu);
                    else
#endif
                    kernel(mr, kc, src, b, c + (ic + row) * ldo + col, ldo, ncols, bias_j, first ? 0.0f : 1.0f,
                           last && relu);
                    src += (size_t)mr * (size_t)tile_ld;
                    row += mr;
                }
            }
        }
    }
    if (ap != workspace) free(ap);
}
