#ifndef GRAFT_CMAXPOOL_H
#define GRAFT_CMAXPOOL_H

/// Max pooling's window geometry on a channels-last input [batch, d, h, w, c] (leading
/// spatial sizes 1 for 1-D and 2-D): window sizes, strides, padding before each axis and the
/// output sizes. Windows are dense (no dilation); cells outside the input never count.
typedef struct {
    long batch, d, h, w, c;
    long kd, kh, kw;
    long sd, sh, sw;
    long pd, ph, pw;
    long od, oh, ow;
} graft_max_pool_geometry;

/// Output lines line_begin ..< line_end of a float32 max pooling, a line being one
/// (example, oz, oy) of the output [batch, od, oh, ow, c]: out[line, ox, i] = the max of
/// x over the window's cells inside the input, NaN when any of them is NaN, −∞ for a window
/// with no cell inside. One pass: each output vector is accumulated in registers over its
/// window and stored once. `variant` is a GRAFT_GEMM_* kernel family (AVX-512F, AVX2 or
/// portable C; AUTO or unsupported: the best supported). One thread.
void graft_max_pool(int variant, const graft_max_pool_geometry *g, const float *x, float *out,
                    long line_begin, long line_end);

#endif
