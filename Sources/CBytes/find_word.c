#include "cbytes.h"
#include <string.h>

static int matches(const uint8_t *p, uint32_t first, uint32_t second) {
    uint32_t w = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return w == first || w == second;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define GRAFT_FIND_SSE2 1

/* 32 candidate positions per step; returns the first hit at or after i, or the first position
   not searched (where fewer than 35 bytes remain). */
__attribute__((target("avx2")))
static size_t find_avx2(const uint8_t *p, size_t length, size_t i, uint32_t first, uint32_t second, int *found) {
    const __m256i a0 = _mm256_set1_epi8((char)(first & 0xFF)), a1 = _mm256_set1_epi8((char)(first >> 8 & 0xFF));
    const __m256i a2 = _mm256_set1_epi8((char)(first >> 16 & 0xFF)), a3 = _mm256_set1_epi8((char)(first >> 24));
    const __m256i b0 = _mm256_set1_epi8((char)(second & 0xFF)), b1 = _mm256_set1_epi8((char)(second >> 8 & 0xFF));
    const __m256i b2 = _mm256_set1_epi8((char)(second >> 16 & 0xFF)), b3 = _mm256_set1_epi8((char)(second >> 24));
    while (i + 35 <= length) {
        __m256i v0 = _mm256_loadu_si256((const __m256i *)(p + i));
        __m256i v1 = _mm256_loadu_si256((const __m256i *)(p + i + 1));
        __m256i v2 = _mm256_loadu_si256((const __m256i *)(p + i + 2));
        __m256i v3 = _mm256_loadu_si256((const __m256i *)(p + i + 3));
        __m256i ma = _mm256_and_si256(_mm256_and_si256(_mm256_cmpeq_epi8(v0, a0), _mm256_cmpeq_epi8(v1, a1)),
                                      _mm256_and_si256(_mm256_cmpeq_epi8(v2, a2), _mm256_cmpeq_epi8(v3, a3)));
        __m256i mb = _mm256_and_si256(_mm256_and_si256(_mm256_cmpeq_epi8(v0, b0), _mm256_cmpeq_epi8(v1, b1)),
                                      _mm256_and_si256(_mm256_cmpeq_epi8(v2, b2), _mm256_cmpeq_epi8(v3, b3)));
        unsigned mask = (unsigned)_mm256_movemask_epi8(_mm256_or_si256(ma, mb));
        if (mask != 0) { *found = 1; return i + (size_t)__builtin_ctz(mask); }
        i += 32;
    }
    *found = 0;
    return i;
}

/* 64 candidate positions per step with AVX-512BW: a cheap filter first (the first two bytes of
   either word, 4 compares into masks), then each surviving position checked whole (random
   data lets through about one position in 16 000). Same contract as find_avx2. */
__attribute__((target("avx512f,avx512bw")))
static size_t find_avx512(const uint8_t *p, size_t length, size_t i, uint32_t first, uint32_t second, int *found) {
    const __m512i a0 = _mm512_set1_epi8((char)(first & 0xFF)), a1 = _mm512_set1_epi8((char)(first >> 8 & 0xFF));
    const __m512i b0 = _mm512_set1_epi8((char)(second & 0xFF)), b1 = _mm512_set1_epi8((char)(second >> 8 & 0xFF));
    while (i + 67 <= length) {
        __m512i v0 = _mm512_loadu_si512((const void *)(p + i));
        __m512i v1 = _mm512_loadu_si512((const void *)(p + i + 1));
        __mmask64 ma = _mm512_cmpeq_epi8_mask(v0, a0) & _mm512_cmpeq_epi8_mask(v1, a1);
        __mmask64 mb = _mm512_cmpeq_epi8_mask(v0, b0) & _mm512_cmpeq_epi8_mask(v1, b1);
        unsigned long long candidates = (unsigned long long)(ma | mb);
        while (candidates != 0) {
            size_t at = i + (size_t)__builtin_ctzll(candidates);
            if (matches(p + at, first, second)) { *found = 1; return at; }
            candidates &= candidates - 1;
        }
        i += 64;
    }
    *found = 0;
    return i;
}

static int have_avx512bw(void) {
    static int state = -1;
    int s = __atomic_load_n(&state, __ATOMIC_RELAXED);
    if (s < 0) {
        __builtin_cpu_init();
        s = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") ? 1 : 0;
        __atomic_store_n(&state, s, __ATOMIC_RELAXED);
    }
    return s;
}

static int have_avx2(void) {
    static int state = -1;
    int s = __atomic_load_n(&state, __ATOMIC_RELAXED);
    if (s < 0) {
        __builtin_cpu_init();
        s = __builtin_cpu_supports("avx2") ? 1 : 0;
        __atomic_store_n(&state, s, __ATOMIC_RELAXED);
    }
    return s;
}
#endif

size_t graft_find_word(const void *data, size_t length, size_t from, uint32_t first, uint32_t second) {
    const uint8_t *p = (const uint8_t *)data;
    if (length < 4) return length;
    size_t last = length - 4;  /* the last position whose 4 bytes fit */
    size_t i = from;
#ifdef GRAFT_FIND_SSE2
    if (have_avx512bw()) {
        int found = 0;
        i = find_avx512(p, length, i, first, second, &found);
        if (found) return i;
    }
    if (have_avx2()) {
        int found = 0;
        i = find_avx2(p, length, i, first, second, &found);
        if (found) return i;
    }
    const __m128i a0 = _mm_set1_epi8((char)(first & 0xFF)), a1 = _mm_set1_epi8((char)(first >> 8 & 0xFF));
    const __m128i a2 = _mm_set1_epi8((char)(first >> 16 & 0xFF)), a3 = _mm_set1_epi8((char)(first >> 24));
    const __m128i b0 = _mm_set1_epi8((char)(second & 0xFF)), b1 = _mm_set1_epi8((char)(second >> 8 & 0xFF));
    const __m128i b2 = _mm_set1_epi8((char)(second >> 16 & 0xFF)), b3 = _mm_set1_epi8((char)(second >> 24));
    /* 16 candidate positions i..i+15 need bytes up to i+18. */
    while (i + 19 <= length) {
        __m128i v0 = _mm_loadu_si128((const __m128i *)(p + i));
        __m128i v1 = _mm_loadu_si128((const __m128i *)(p + i + 1));
        __m128i v2 = _mm_loadu_si128((const __m128i *)(p + i + 2));
        __m128i v3 = _mm_loadu_si128((const __m128i *)(p + i + 3));
        __m128i ma = _mm_and_si128(_mm_and_si128(_mm_cmpeq_epi8(v0, a0), _mm_cmpeq_epi8(v1, a1)),
                                   _mm_and_si128(_mm_cmpeq_epi8(v2, a2), _mm_cmpeq_epi8(v3, a3)));
        __m128i mb = _mm_and_si128(_mm_and_si128(_mm_cmpeq_epi8(v0, b0), _mm_cmpeq_epi8(v1, b1)),
                                   _mm_and_si128(_mm_cmpeq_epi8(v2, b2), _mm_cmpeq_epi8(v3, b3)));
        int mask = _mm_movemask_epi8(_mm_or_si128(ma, mb));
        if (mask != 0) return i + (size_t)__builtin_ctz((unsigned)mask);
        i += 16;
    }
#endif
    for (; i <= last; i++) {
        if (matches(p + i, first, second)) return i;
    }
    return length;
}
