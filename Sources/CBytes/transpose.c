#include "cbytes.h"

/* dst[c * dst_stride + r] = src[r * src_stride + c] for 4-byte elements, optionally with each
   element's bytes reversed. Cache blocks of 32 x 32; inside them 8 x 8 blocks transposed in
   AVX2 registers (unpack / shuffle / 128-bit lane permutes), byte reversal by one byte shuffle
   per register; edges element by element; the next block's source lines prefetched. The
   streaming variant writes whole 64-byte destination lines with non-temporal stores (16 x 8
   blocks). Without AVX2 (or off x86-64) both are the element-by-element loop. */

#define BLOCK 32

static inline uint32_t swap32(uint32_t v) { return __builtin_bswap32(v); }

static void transpose_scalar(const uint32_t *src, ptrdiff_t src_stride, uint32_t *dst, ptrdiff_t dst_stride,
                             size_t r0, size_t r1, size_t c0, size_t c1, int swap) {
    for (size_t c = c0; c < c1; c++) {
        uint32_t *to = dst + (ptrdiff_t)c * dst_stride;
        const uint32_t *from = src + c;
        if (swap) {
            for (size_t r = r0; r < r1; r++) to[r] = swap32(from[(ptrdiff_t)r * src_stride]);
        } else {
            for (size_t r = r0; r < r1; r++) to[r] = from[(ptrdiff_t)r * src_stride];
        }
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* Rows [r0, r0 + 8) x columns [c, c + 8) of the source transposed in registers: o[k] holds
   destination row c + k, elements r0 .. r0 + 7, bytes reversed when `swap`. */
__attribute__((target("avx2")))
static inline void tile8_avx2(const uint32_t *src, ptrdiff_t src_stride, size_t r0, size_t c, int swap, __m256 o[8]) {
    const __m256i reverse = _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12,
                                             3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
    const float *s = (const float *)(src + (ptrdiff_t)r0 * src_stride + c);
    __m256 a0 = _mm256_loadu_ps(s), a1 = _mm256_loadu_ps(s + src_stride);
    __m256 a2 = _mm256_loadu_ps(s + 2 * src_stride), a3 = _mm256_loadu_ps(s + 3 * src_stride);
    __m256 a4 = _mm256_loadu_ps(s + 4 * src_stride), a5 = _mm256_loadu_ps(s + 5 * src_stride);
    __m256 a6 = _mm256_loadu_ps(s + 6 * src_stride), a7 = _mm256_loadu_ps(s + 7 * src_stride);
    __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1);
    __m256 t2 = _mm256_unpacklo_ps(a2, a3), t3 = _mm256_unpackhi_ps(a2, a3);
    __m256 t4 = _mm256_unpacklo_ps(a4, a5), t5 = _mm256_unpackhi_ps(a4, a5);
    __m256 t6 = _mm256_unpacklo_ps(a6, a7), t7 = _mm256_unpackhi_ps(a6, a7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    o[0] = _mm256_permute2f128_ps(u0, u4, 0x20); o[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    o[2] = _mm256_permute2f128_ps(u2, u6, 0x20); o[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    o[4] = _mm256_permute2f128_ps(u0, u4, 0x31); o[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    o[6] = _mm256_permute2f128_ps(u2, u6, 0x31); o[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
    if (swap) {
        for (int k = 0; k < 8; k++) o[k] = _mm256_castsi256_ps(_mm256_shuffle_epi8(_mm256_castps_si256(o[k]), reverse));
    }
}

/* One cache block: its whole 8 x 8 blocks in registers, the ragged rest element by element. */
__attribute__((target("avx2")))
static void block_avx2(const uint32_t *src, ptrdiff_t src_stride, uint32_t *dst, ptrdiff_t dst_stride,
                       size_t r0, size_t r1, size_t c0, size_t c1, int swap) {
    size_t r8 = r0 + (r1 - r0) / 8 * 8, c8 = c0 + (c1 - c0) / 8 * 8;
    for (size_t r = r0; r < r8; r += 8) {
        for (size_t c = c0; c < c8; c += 8) {
            __m256 o[8];
            tile8_avx2(src, src_stride, r, c, swap, o);
            for (int k = 0; k < 8; k++) _mm256_storeu_ps((float *)(dst + (ptrdiff_t)(c + (size_t)k) * dst_stride + r), o[k]);
        }
        if (c8 < c1) transpose_scalar(src, src_stride, dst, dst_stride, r, r + 8, c8, c1, swap);
    }
    if (r8 < r1) transpose_scalar(src, src_stride, dst, dst_stride, r8, r1, c0, c1, swap);
}

/* The streaming transposition's body: `rows` a multiple of 16, every destination row starting
   on a 64-byte boundary. Each step transposes a 16 x 8 source block (two 8 x 8 register tiles)
   and writes each of its 8 destination lines whole (64 bytes, two back-to-back 32-byte
   non-temporal stores), so a line goes to memory in one write-combining burst: no
   read-for-ownership of the old line, and the cache keeps the source instead. Source rows go
   in groups of 256 so that the group's source lines (256 x 64 bytes = 16 KiB, each serving two
   8-column steps) stay in L1 while the columns advance; ragged columns element by element
   (ordinary stores). */
#define STREAM_ROWS 256
__attribute__((target("avx2")))
static void stream_avx2(const uint32_t *src, ptrdiff_t src_stride, uint32_t *dst, ptrdiff_t dst_stride,
                        size_t rows, size_t columns, int swap) {
    size_t c8 = columns / 8 * 8;
    for (size_t r0 = 0; r0 < rows; r0 += STREAM_ROWS) {
        size_t r1 = r0 + STREAM_ROWS < rows ? r0 + STREAM_ROWS : rows;
        for (size_t c = 0; c < c8; c += 8) {
            for (size_t r = r0; r < r1; r += 16) {
                __m256 lo[8], hi[8];
                tile8_avx2(src, src_stride, r, c, swap, lo);
                tile8_avx2(src, src_stride, r + 8, c, swap, hi);
                for (int k = 0; k < 8; k++) {
                    float *line = (float *)(dst + (ptrdiff_t)(c + (size_t)k) * dst_stride + r);
                    _mm256_stream_ps(line, lo[k]);
                    _mm256_stream_ps(line + 8, hi[k]);
                }
            }
        }
        if (c8 < columns) transpose_scalar(src, src_stride, dst, dst_stride, r0, r1, c8, columns, swap);
    }
}

static int has_avx2(void) {
    static int cached = -1;
    if (cached < 0) cached = __builtin_cpu_supports("avx2") ? 1 : 0;
    return cached;
}
#endif

/* Asks for the source lines of the next cache block down (rows [r, r + BLOCK), columns
   [c0, c1)) while this one is transposed. When the source rows are far apart (a row-major
   tensor read column strip by column strip, as the DL4J writer does: 16 KiB between rows of
   VGG16's fc1), every row is a new cache line in a new page, which the hardware prefetchers
   do not follow, so without this each block waits for its 32-64 lines from memory. */
static inline void prefetch_block(const uint32_t *src, ptrdiff_t src_stride, size_t r, size_t rows, size_t c0, size_t c1) {
#if defined(__GNUC__) || defined(__clang__)
    size_t end = r + BLOCK < rows ? r + BLOCK : rows;
    for (; r < end; r++) {
        const uint32_t *row = src + (ptrdiff_t)r * src_stride;
        for (size_t c = c0; c < c1; c += 16) __builtin_prefetch(row + c, 0, 3);
    }
#else
    (void)src; (void)src_stride; (void)r; (void)rows; (void)c0; (void)c1;
#endif
}

void graft_transpose32(const void *source, ptrdiff_t source_stride, void *destination, ptrdiff_t destination_stride,
                       size_t rows, size_t columns, int swap) {
    const uint32_t *src = (const uint32_t *)source;
    uint32_t *dst = (uint32_t *)destination;
    for (size_t c0 = 0; c0 < columns; c0 += BLOCK) {
        size_t c1 = c0 + BLOCK < columns ? c0 + BLOCK : columns;
        for (size_t r0 = 0; r0 < rows; r0 += BLOCK) {
            size_t r1 = r0 + BLOCK < rows ? r0 + BLOCK : rows;
            prefetch_block(src, source_stride, r1, rows, c0, c1);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
            if (has_avx2()) { block_avx2(src, source_stride, dst, destination_stride, r0, r1, c0, c1, swap); continue; }
#endif
            transpose_scalar(src, source_stride, dst, destination_stride, r0, r1, c0, c1, swap);
        }
    }
}

void graft_transpose32_portable(const void *source, ptrdiff_t source_stride, void *destination,
                                ptrdiff_t destination_stride, size_t rows, size_t columns, int swap) {
    transpose_scalar((const uint32_t *)source, source_stride, (uint32_t *)destination, destination_stride,
                     0, rows, 0, columns, swap);
}

void graft_transpose32_streaming(const void *source, ptrdiff_t source_stride, void *destination,
                                 ptrdiff_t destination_stride, size_t rows, size_t columns, int swap) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    uintptr_t address = (uintptr_t)destination;
    if (has_avx2() && address % 4 == 0 && destination_stride % 16 == 0) {
        /* Destination elements before the first 64-byte boundary, whole 16-element lines, and
           the ragged rest: the ends through the cached kernel (their lines are shared with
           whatever lies beside this block), the lines streamed. */
        size_t head = (size_t)((64 - address % 64) % 64) / 4;
        if (head > rows) head = rows;
        size_t body = (rows - head) / 16 * 16;
        const uint32_t *src = (const uint32_t *)source;
        uint32_t *dst = (uint32_t *)destination;
        if (head > 0) graft_transpose32(src, source_stride, dst, destination_stride, head, columns, swap);
        if (body > 0) {
            stream_avx2(src + (ptrdiff_t)head * source_stride, source_stride, dst + head, destination_stride, body,
                        columns, swap);
            _mm_sfence(); /* the streamed lines are visible to other threads before this returns */
        }
        size_t done = head + body;
        if (done < rows)
            graft_transpose32(src + (ptrdiff_t)done * source_stride, source_stride, dst + done, destination_stride,
                              rows - done, columns, swap);
        return;
    }
#endif
    graft_transpose32(source, source_stride, destination, destination_stride, rows, columns, swap);
}
