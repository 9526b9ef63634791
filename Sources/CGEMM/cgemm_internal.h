// Helpers of cgemm.c shared with the other CGEMM files (not part of the public interface).

#ifndef GRAFT_CGEMM_INTERNAL_H
#define GRAFT_CGEMM_INTERNAL_H

#include <stddef.h>
#include "cgemm.h"

/// The K block size of a packed matrix with k rows: ceil(k / 256) blocks of equal size.
long graft_gemm_k_block(long k);

/// Where the slice (K block starting at row pc, panel j) of a packed k × n matrix starts.
size_t graft_gemm_slice_offset(long k, long n, long pc, long j);

/// Floats of graft_conv_packed_rows' workspace: a chunk of 8 tiles plus one tile, of up to 12
/// rows of 272 floats (cgemm.c checks it against its tile sizes).
#define GRAFT_CONV_WORKSPACE ((8 * 12 + 12) * (256 + 16))

/// graft_conv_packed with `c` pointing at output row row_begin (row i of the range is
/// c[(i - row_begin)·ldo ...]): the rows can go to a buffer holding only them. `workspace`:
/// GRAFT_CONV_WORKSPACE floats, 64-byte aligned, for a caller making many calls (NULL: the
/// call allocates its own).
void graft_conv_packed_rows(int variant, const graft_conv_geometry *g, const float *x, const float *packed, long n,
                            const float *bias, int relu, float *c, long ldo, long row_begin, long row_end,
                            float *workspace);

#endif
