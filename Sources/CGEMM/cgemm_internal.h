// Helpers of cgemm.c shared with the other CGEMM files (not part of the public interface).

#ifndef GRAFT_CGEMM_INTERNAL_H
#define GRAFT_CGEMM_INTERNAL_H

#include <stddef.h>

/// The K block size of a packed matrix with k rows: ceil(k / 256) blocks of equal size.
long graft_gemm_k_block(long k);

/// Where the slice (K block starting at row pc, panel j) of a packed k × n matrix starts.
size_t graft_gemm_slice_offset(long k, long n, long pc, long j);

#endif
