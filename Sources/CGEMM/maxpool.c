// Max pooling, channels-last: see include/cmaxpool.h for the contract.
//
// Each output vector (one output position's channels) is the max over its window's cells,
// accumulated in registers channel block by channel block and stored once. The step
// acc = (v > acc || v != v) ? v : acc keeps the first NaN met, so any NaN in the window
// gives NaN (TensorFlow's max pooling propagates NaN).

#include "cgemm.h"
#include "cgemm_internal.h"
#include <math.h>
#include <stdlib.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GRAFT_X86 1
#include <immintrin.h>
#endif

/// The max over one window of `zn × yn × xn` cells for `c` channels into `o`: `p` is the
/// first cell's channel 0, cells `c` apart along x, `ys` along y and `zs` along z.
typedef void (*window_fn)(const float *p, long c, long zs, long zn, long ys, long yn, long xn, float *o);

/// Portable C over channels [0, count) of cells `xs` apart along x (`c` for whole cells; the
/// AVX2 kernel's channels past its last whole vector pass the full cell stride): the output
/// starts as the first cell and takes the max of each later one.
static void window_scalar(const float *p, long count, long xs, long zs, long zn, long ys, long yn, long xn, float *o) {
    for (long i = 0; i < count; i++) o[i] = p[i];
    for (long z = 0; z < zn; z++) {
        for (long y = 0; y < yn; y++) {
            for (long x = 0; x < xn; x++) {
                const float *src = p + z * zs + y * ys + x * xs;
                for (long i = 0; i < count; i++) {
                    float v = src[i], m = o[i];
                    o[i] = (v > m || v != v) ? v : m;
                }
            }
        }
    }
}

static void window_portable(const float *p, long c, long zs, long zn, long ys, long yn, long xn, float *o) {
    window_scalar(p, c, c, zs, zn, ys, yn, xn, o);
}

#ifdef GRAFT_X86
/// acc = (v > acc || v != v) ? v : acc on 16 lanes.
__attribute__((target("avx512f")))
static inline __m512 max_step512(__m512 acc, __m512 v) {
    __mmask16 take = _mm512_cmp_ps_mask(v, acc, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    return _mm512_mask_mov_ps(acc, take, v);
}

/// AVX-512F: 16 channels per vector; 4 vectors (64 channels) accumulate together, so their
/// max steps overlap instead of waiting on each other. Lanes past c are masked off (a vector
/// wholly past c loads nothing and is not stored).
__attribute__((target("avx512f")))
static void window_avx512(const float *p, long c, long zs, long zn, long ys, long yn, long xn, float *o) {
    for (long i = 0; i < c; i += 64) {
        __mmask16 m[4];
        for (int j = 0; j < 4; j++) {
            long left = c - i - 16 * j;
            m[j] = left >= 16 ? (__mmask16)0xFFFF : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
        }
        const float *first = p + i;
        __m512 a0 = _mm512_maskz_loadu_ps(m[0], first), a1 = _mm512_maskz_loadu_ps(m[1], first + 16);
        __m512 a2 = _mm512_maskz_loadu_ps(m[2], first + 32), a3 = _mm512_maskz_loadu_ps(m[3], first + 48);
        for (long z = 0; z < zn; z++) {
            for (long y = 0; y < yn; y++) {
                const float *row = p + z * zs + y * ys + i;
                for (long x = 0; x < xn; x++) {
                    const float *cell = row + x * c;
                    a0 = max_step512(a0, _mm512_maskz_loadu_ps(m[0], cell));
                    a1 = max_step512(a1, _mm512_maskz_loadu_ps(m[1], cell + 16));
                    a2 = max_step512(a2, _mm512_maskz_loadu_ps(m[2], cell + 32));
                    a3 = max_step512(a3, _mm512_maskz_loadu_ps(m[3], cell + 48));
                }
            }
        }
        _mm512_mask_storeu_ps(o + i, m[0], a0);
        _mm512_mask_storeu_ps(o + i + 16, m[1], a1);
        _mm512_mask_storeu_ps(o + i + 32, m[2], a2);
        _mm512_mask_storeu_ps(o + i + 48, m[3], a3);
    }
}

/// AVX2: 8 channels per vector; the channels past the last whole vector in portable C.
__attribute__((target("avx2")))
static void window_avx2(const float *p, long c, long zs, long zn, long ys, long yn, long xn, float *o) {
    long vectors = c / 8 * 8;
    for (long i = 0; i < vectors; i += 8) {
        __m256 acc = _mm256_loadu_ps(p + i);
        for (long z = 0; z < zn; z++) {
            for (long y = 0; y < yn; y++) {
                const float *row = p + z * zs + y * ys + i;
                for (long x = 0; x < xn; x++) {
                    __m256 v = _mm256_loadu_ps(row + x * c);
                    __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, acc, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
                    acc = _mm256_blendv_ps(acc, v, take);
                }
            }
        }
        _mm256_storeu_ps(o + i, acc);
    }
    // The remaining channels: a window over the same cells, `c` still the cell stride.
    if (vectors < c) window_scalar(p + vectors, c - vectors, c, zs, zn, ys, yn, xn, o + vectors);
}
#endif

static window_fn select_window(int variant) {
    if (variant == GRAFT_GEMM_AUTO || !graft_gemm_variant_supported(variant)) variant = graft_gemm_best_variant();
#ifdef GRAFT_X86
    if (variant == GRAFT_GEMM_AVX512) return window_avx512;
    if (variant == GRAFT_GEMM_AVX2) return window_avx2;
#endif
    return window_portable;
}

/// The cells of a window along one axis that lie inside the input: [*begin, *end).
static void window_span(long o, long stride, long pad, long kernel, long size, long *begin, long *end) {
    long start = o * stride - pad;
    *begin = start > 0 ? start : 0;
    *end = start + kernel < size ? start + kernel : size;
    if (*end < *begin) *end = *begin;
}

void graft_max_pool(int variant, const graft_max_pool_geometry *g, const float *x, float *out,
                    long line_begin, long line_end) {
    window_fn window = select_window(variant);
    long c = g->c;
    long ys = g->w * c, zs = g->h * ys;
    for (long line = line_begin; line < line_end; line++) {
        long b = line / (g->od * g->oh), oz = (line / g->oh) % g->od, oy = line % g->oh;
        long z0, z1, y0, y1;
        window_span(oz, g->sd, g->pd, g->kd, g->d, &z0, &z1);
        window_span(oy, g->sh, g->ph, g->kh, g->h, &y0, &y1);
        const float *base = x + b * g->d * zs;
        float *o = out + line * g->ow * c;
        for (long ox = 0; ox < g->ow; ox++, o += c) {
            long x0, x1;
            window_span(ox, g->sw, g->pw, g->kw, g->w, &x0, &x1);
            if (z1 == z0 || y1 == y0 || x1 == x0) {
                for (long i = 0; i < c; i++) o[i] = -INFINITY;
                continue;
            }
            window(base + z0 * zs + y0 * ys + x0 * c, c, zs, z1 - z0, ys, y1 - y0, x1 - x0, o);
        }
    }
}

/// Pooled lines per convolution call: about 32 KB of convolution output, so the rows are
/// pooled while they are still in L1/L2, but at least FUSED_MIN_ROWS convolution rows (one
/// 96-row chunk of graft_conv_packed), so a wide layer (VGG16's 512 filters: a 9 MB packed
/// kernel) does not pass over its whole packed kernel for every few rows.
#define FUSED_BYTES (32L << 10)
#define FUSED_MIN_ROWS 96

int graft_conv_packed_max_pool(int variant, const graft_conv_geometry *g, const float *x, const float *packed, long n,
                               const float *bias, int relu, long pool_h, long pool_w, float *out,
                               long line_begin, long line_end) {
    if (g->od != 1 || pool_h <= 0 || pool_w <= 0 || n <= 0) return 0;
    const long oh = g->oh, ow = g->ow, lines_per_image = oh / pool_h, pooled_w = ow / pool_w;
    if (lines_per_image <= 0 || pooled_w <= 0 || line_end <= line_begin) return 1;
    const long line_values = pool_h * ow * n;  // the convolution output one pooled line needs
    long group = FUSED_BYTES / (line_values * (long)sizeof(float));
    const long min_group = (FUSED_MIN_ROWS + pool_h * ow - 1) / (pool_h * ow);
    if (group < min_group) group = min_group;
    if (group > lines_per_image) group = lines_per_image;
    // The packing workspace of graft_conv_packed_rows, then the convolution rows of a group.
    float *workspace = NULL;
    if (posix_memalign((void **)&workspace, 64, (GRAFT_CONV_WORKSPACE + (size_t)(group * line_values)) * sizeof(float)) != 0 ||
        !workspace)
        return 0;
    float *rows = workspace + GRAFT_CONV_WORKSPACE;
    window_fn window = select_window(variant);
    for (long line = line_begin; line < line_end;) {
        // Lines line ..< last of one image: their convolution rows are contiguous.
        const long b = line / lines_per_image, py = line % lines_per_image;
        long last = line + group;
        if (last > line_end) last = line_end;
        if (last > (b + 1) * lines_per_image) last = (b + 1) * lines_per_image;
        const long row0 = (b * oh + py * pool_h) * ow, count = last - line;
        graft_conv_packed_rows(variant, g, x, packed, n, bias, relu, rows, n, row0, row0 + count * pool_h * ow, workspace);
        for (long l = 0; l < count; l++) {
            const float *src = rows + l * line_values;
            float *o = out + (line + l) * pooled_w * n;
            for (long px = 0; px < pooled_w; px++, o += n)
                window(src + px * pool_w * n, n, 0, 1, ow * n, pool_h, pool_w, o);
        }
        line = last;
    }
    free(workspace);
    return 1;
}
