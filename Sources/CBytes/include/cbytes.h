#ifndef GRAFT_CBYTES_H
#define GRAFT_CBYTES_H

#include <stddef.h>
#include <stdint.h>

/* Byte kernels for the readers and writers: CRC-32, signature search, transposition. */

/// CRC-32 as zip and zlib define it (reflected polynomial 0xEDB88320, initial value and final
/// value inverted): `graft_crc32(crc32(0, a), b, n) == crc32(crc32(0, a), b, n)` for zlib's
/// crc32, so a running CRC can be continued with either. Starts from 0 for a new message.
/// Uses carry-less multiplication (PCLMULQDQ) folding when the CPU has it, chosen at run time;
/// a slicing-by-8 table otherwise and for short pieces. Several times faster than zlib's.
uint32_t graft_crc32(uint32_t crc, const void *data, size_t length);

/// The same CRC without the carry-less-multiplication path (slicing-by-8 tables only), for tests.
uint32_t graft_crc32_portable(uint32_t crc, const void *data, size_t length);

/// 1 when `graft_crc32` uses the PCLMULQDQ path on this CPU.
int graft_crc32_accelerated(void);

/// The offset of the first position at or after `from` where the 4 bytes at it equal the
/// little-endian words `first` or `second`, with the whole 4 bytes inside `length`; `length`
/// when there is none. SIMD compares of all four bytes at once (SSE2 on x86-64), so random data,
/// where a single byte matches every 256 positions, streams at memory speed.
size_t graft_find_word(const void *data, size_t length, size_t from, uint32_t first, uint32_t second);

/// A transposition of 4-byte elements: `destination[c * destination_stride + r] =
/// source[r * source_stride + c]` for r < rows, c < columns (strides in elements), each element's
/// bytes reversed when `swap` is non-zero (big-endian <-> host). 32 x 32 cache blocks (the
/// next block's source lines prefetched), 8 x 8 blocks in AVX2 registers when the CPU has
/// AVX2 (chosen at run time), element by element otherwise and at the ragged edges.
void graft_transpose32(const void *source, ptrdiff_t source_stride, void *destination, ptrdiff_t destination_stride,
                       size_t rows, size_t columns, int swap);

/// The same transposition as `graft_transpose32` with the destination written by non-temporal
/// (streaming) stores, for a large destination that will not be read again soon (a tensor
/// being decoded): each 64-byte destination line is written whole in one burst, so the CPU
/// neither reads the old line from memory first (read-for-ownership) nor evicts the cached
/// source for it. Needs AVX2, a destination row stride that is a multiple of 16 elements;
/// the elements of each destination row before its first 64-byte boundary and after its last
/// whole line are written with ordinary stores. Otherwise it is `graft_transpose32`. Ends
/// with a store fence.
void graft_transpose32_streaming(const void *source, ptrdiff_t source_stride, void *destination,
                                 ptrdiff_t destination_stride, size_t rows, size_t columns, int swap);

/// The same transposition element by element (no SIMD), for tests.
void graft_transpose32_portable(const void *source, ptrdiff_t source_stride, void *destination,
                                ptrdiff_t destination_stride, size_t rows, size_t columns, int swap);

#endif
