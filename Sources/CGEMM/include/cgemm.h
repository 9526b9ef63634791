#ifndef GRAFT_CGEMM_H
#define GRAFT_CGEMM_H

#include <stddef.h>

/// Single-precision GEMM on a weight matrix packed once: C = A·B (+ bias) (+ beta·C).
///
/// B (K × N) is packed into column panels of GRAFT_GEMM_PANEL (32) columns, zero-padded past
/// N, and K is cut into blocks of equal size ≤ 256: the slice (K block, panel j) holds its kc
/// rows of the panel's 32 columns contiguously (k-major); the slices of one K block follow
/// each other by panel, and the K blocks each other. A is M × K and C is M × N, both
/// row-major with leading dimensions lda and ldc.
///
/// The microkernel is chosen at run time: AVX-512F (tiles of up to 12 rows × 32 columns),
/// AVX2 + FMA (up to 6 rows × 16 columns) or portable C. Nothing here needs compiler flags:
/// the vector code is compiled per function with target attributes.

#define GRAFT_GEMM_PANEL 32

/// Kernel variants. GRAFT_GEMM_AUTO picks the best the CPU supports.
enum {
    GRAFT_GEMM_AUTO = -1,
    GRAFT_GEMM_PORTABLE = 0,
    GRAFT_GEMM_AVX2 = 2,
    GRAFT_GEMM_AVX512 = 3,
};

/// The best variant this CPU (and its OS) runs.
int graft_gemm_best_variant(void);

/// Whether `variant` can run on this CPU.
int graft_gemm_variant_supported(int variant);

/// Floats of the packed form of a K × N matrix.
size_t graft_gemm_packed_count(long k, long n);

/// Packs B into `packed` (graft_gemm_packed_count(k, n) floats, 64-byte aligned preferred).
/// transposed = 0: element (kk, j) is b[kk·ldb + j] (K × N row-major, Dense's [in, out]);
/// transposed = 1: element (kk, j) is b[j·ldb + kk] (N × K row-major).
void graft_gemm_pack(const float *b, long ldb, int transposed, long k, long n, float *packed);

/// C[0..<m, columns of panels panel_begin..<panel_end] = A·B + bias + beta·C, then
/// max(0, ·) when relu is non-zero (NaN stays NaN: ReLU fused into the store of the last K block).
/// bias (length n, indexed by the column) may be NULL; beta 0 ignores C's old contents
/// (NaN included). Columns ≥ n are never written. `variant` as above (AUTO allowed; an
/// unsupported variant falls back to the best supported).
void graft_gemm_packed(int variant, long m, long n, long k,
                       const float *a, long lda, const float *packed,
                       const float *bias, float beta, int relu, float *c, long ldc,
                       long panel_begin, long panel_end);

/// A convolution's geometry on a channels-last input [batch, d, h, w, c] (leading spatial
/// sizes 1 for 1-D and 2-D): kernel taps, strides, dilations, padding before each axis and
/// the output sizes. The output is [batch, od, oh, ow, n] read as rows (example, position).
typedef struct {
    long batch, d, h, w, c;
    long kd, kh, kw;
    long sd, sh, sw;
    long dd, dh, dw;
    long pd, ph, pw;
    long od, oh, ow;
} graft_conv_geometry;

/// Output rows row_begin ..< row_end of a standard (ungrouped) convolution: out[row, 0..<n]
/// (leading dimension ldo) = window(row) · B + bias, then max(0, ·) when relu is nonzero.
/// B is the kernel [kd, kh, kw, c, n] read as a (kd·kh·kw·c) × n matrix and packed by
/// graft_gemm_pack. The windows are packed straight from the input tile by tile (no im2col
/// buffer); rows are taken in chunks of 8 tiles, and for each chunk K in blocks (≤ 256) so
/// that the chunk's packed A stays in L1/L2 while every panel passes over it. One thread.
/// On AVX-512: with C ≥ 16 the tiles stay row-major (memcpy runs of kw·C values) and a
/// row-major microkernel reads them; with fewer channels each k's tile values are gathered
/// (k-major) in one pass, or, with one channel and stride 1 along x, loaded as runs of
/// consecutive input values. Elsewhere: row-major, then transposed, for the k-major kernels.
void graft_conv_packed(int variant, const graft_conv_geometry *g, const float *x, const float *packed, long n,
                       const float *bias, int relu, float *out, long ldo, long row_begin, long row_end);

/// A 2-D standard convolution (graft_conv_packed: geometry g with od = 1, packed kernel, bias,
/// ReLU when relu is nonzero) followed by a max pooling whose pool_h × pool_w windows tile its
/// output without overlap or padding (stride = window, "valid": trailing rows and columns that
/// fill no window are dropped). Writes pooled lines line_begin ..< line_end, a line being one
/// (example, pooled row) of out [batch, oh / pool_h, ow / pool_w, n]. The convolution rows of a
/// few lines at a time (~32 KB, at least 96 rows) go to a scratch buffer and are pooled from it
/// while in cache, so the full convolution output is never written. The same values as the two steps apart.
/// Returns 0 without writing when g has od ≠ 1, a size is not positive or the scratch buffer
/// cannot be allocated (the caller then runs the two steps), else 1. One thread.
int graft_conv_packed_max_pool(int variant, const graft_conv_geometry *g, const float *x, const float *packed, long n,
                               const float *bias, int relu, long pool_h, long pool_w, float *out,
                               long line_begin, long line_end);

#include "cvmath.h"
#include "clstm.h"
#include "cpool.h"
#include "cmaxpool.h"

#endif
