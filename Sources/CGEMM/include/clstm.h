#ifndef GRAFT_CLSTM_H
#define GRAFT_CLSTM_H

#include <stddef.h>

/// One LSTM time step fused: the recurrent product h·U of every gate and the gate
/// nonlinearities with the cell and hidden update, done row tile by row tile while the tile
/// is in registers. Gates in Keras order [i | f | c | o] (blocks of u columns), recurrent
/// activation sigmoid, activation tanh, no peepholes:
///   z = pre + h·U  (pre: the input projection x·W + b of this step)
///   c' = sigmoid(z_f)·c + sigmoid(z_i)·tanh(z_c),  h' = tanh(c')·sigmoid(z_o).
/// The arithmetic is that of graft_gemm_packed (with beta 1 into pre) followed by
/// VectorMath's sigmoid/tanh and the same multiplies and adds, so results are bit-identical
/// to the unfused path on the same vector unit.
///
/// U (u × 4u) is packed with its columns regrouped: groups of W units (16 on AVX-512, 8 on
/// AVX2) hold [i | f | c | o] of those units (4·W columns, zero-padded past u), then packed as
/// graft_gemm_pack does (32-column panels, K blocks of ≤ 256).

/// The variant the fused step runs for `variant` (GRAFT_GEMM_AUTO or one of cgemm.h's; an
/// unsupported one resolves to the best supported), or 0 when there is none (portable only:
/// callers then run the unfused step).
int graft_lstm_variant(int variant);

/// Floats of the packed recurrent kernel for `variant` (as graft_lstm_variant resolves it).
size_t graft_lstm_packed_count(int variant, long u);

/// Packs U read as u × 4u with leading dimension ldu into `packed`.
void graft_lstm_pack(int variant, const float *recurrent, long ldu, long u, float *packed);

/// One step over m rows. h: [m, u] (ldh), read as the left operand. pre: [m, 4u] (ldpre);
/// with u > 256 partial sums are written into it. c_in/c_out: [m, u] (ldc). h_out: [m, u]
/// (ldho), and h_out2 (ldho2) when not NULL. h_out may be h and c_out may be c_in (each row
/// tile reads its rows of h before writing). Returns 0 (and does nothing) when the variant
/// has no fused step.
int graft_lstm_step(int variant, long m, long u, const float *h, long ldh, const float *packed,
                    float *pre, long ldpre, const float *c_in, float *c_out, long ldc,
                    float *h_out, long ldho, float *h_out2, long ldho2);

#endif
