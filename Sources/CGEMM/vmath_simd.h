// The float32 exp / sigmoid / tanh of VectorMath.swift as inline scalar, AVX-512 and AVX2
// functions (private to CGEMM: vmath.c's buffer loops and lstm.c's fused step use them).
// Every file including this must compile it with `#pragma clang fp contract(off)` in force, so
// no multiply-add is fused and each lane rounds as the scalar Swift code does.

#ifndef GRAFT_VMATH_SIMD_H
#define GRAFT_VMATH_SIMD_H

#pragma clang fp contract(off)

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define VM_INLINE static inline __attribute__((always_inline))

// MARK: - Scalar tail (same operations)

VM_INLINE float exp_scalar(float value) {
    float x = value;
    x = (x >= -87.33654f) ? x : (x != x ? x : -87.33654f);
    x = (88.72283f < x) ? 88.72283f : x;
    const float magic = 12582912.0f;
    float shifted = x * 1.44269504088896341f + magic;
    float n = shifted - magic;
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float z = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float e = p * z + r + 1.0f;
    uint32_t sb, mb;
    memcpy(&sb, &shifted, 4);
    memcpy(&mb, &magic, 4);
    int32_t bits = (int32_t)(sb - mb);
    int32_t half = bits >> 1, rest = bits - half;
    uint32_t ab = (uint32_t)(half + 127) << 23, bb = (uint32_t)(rest + 127) << 23;
    float a, b;
    memcpy(&a, &ab, 4);
    memcpy(&b, &bb, 4);
    return e * a * b;
}

VM_INLINE float sigmoid_scalar(float x) { return 1.0f / (1.0f + exp_scalar(-x)); }

VM_INLINE float tanh_scalar(float x) {
    float a = x < 0 ? -x : x;
    if (x != x) a = x;
    float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = p * z * x + x;
    float large = 1.0f - 2.0f / (exp_scalar(2.0f * a) + 1.0f);
    float sgn = x < 0 ? -large : large;
    return a < 0.625f ? small : sgn;
}

// MARK: - AVX-512

#define VM_T512 __attribute__((target("avx512f")))

VM_T512 VM_INLINE __m512 exp512(__m512 value) {
    // max/min return their second operand when one is NaN: NaN passes through.
    __m512 x = _mm512_max_ps(_mm512_set1_ps(-87.33654f), value);
    x = _mm512_min_ps(_mm512_set1_ps(88.72283f), x);
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    __m512 shifted = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), magic);
    __m512 n = _mm512_sub_ps(shifted, magic);
    __m512 r = _mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(0.693359375f)));
    r = _mm512_add_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(2.12194440e-4f)));
    __m512 z = _mm512_mul_ps(r, r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(5.0000001201e-1f));
    __m512 e = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(p, z), r), _mm512_set1_ps(1.0f));
    __m512i bits = _mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_castps_si512(magic));
    __m512i half = _mm512_srai_epi32(bits, 1);
    __m512i rest = _mm512_sub_epi32(bits, half);
    __m512i bias = _mm512_set1_epi32(127);
    __m512 a = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(half, bias), 23));
    __m512 b = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(rest, bias), 23));
    return _mm512_mul_ps(_mm512_mul_ps(e, a), b);
}

VM_T512 VM_INLINE __m512 sigmoid512(__m512 x) {
    __m512 one = _mm512_set1_ps(1.0f);
    // -x as Swift's prefix minus: flip the sign bit.
    __m512 neg = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000)));
    return _mm512_div_ps(one, _mm512_add_ps(one, exp512(neg)));
}

VM_T512 VM_INLINE __m512 tanh512(__m512 x) {
    __m512 a = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff)));
    __m512 z = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(-5.70498872745e-3f);
    p = _mm512_add_ps(_mm512_mul_ps(p, z), _mm512_set1_ps(2.06390887954e-2f));
    p = _mm512_sub_ps(_mm512_mul_ps(p, z), _mm512_set1_ps(5.37397155531e-2f));
    p = _mm512_add_ps(_mm512_mul_ps(p, z), _mm512_set1_ps(1.33314422036e-1f));
    p = _mm512_sub_ps(_mm512_mul_ps(p, z), _mm512_set1_ps(3.33332819422e-1f));
    __m512 small = _mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(p, z), x), x);
    __m512 one = _mm512_set1_ps(1.0f);
    __m512 e = exp512(_mm512_mul_ps(_mm512_set1_ps(2.0f), a));
    __m512 large = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
    __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 sgn = _mm512_castsi512_ps(_mm512_mask_xor_epi32(_mm512_castps_si512(large), negative,
                                                           _mm512_castps_si512(large), _mm512_set1_epi32((int)0x80000000)));
    __mmask16 isSmall = _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.625f), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(isSmall, sgn, small);
}

// MARK: - AVX2

#define VM_T256 __attribute__((target("avx2")))

VM_T256 VM_INLINE __m256 exp256(__m256 value) {
    __m256 x = _mm256_max_ps(_mm256_set1_ps(-87.33654f), value);
    x = _mm256_min_ps(_mm256_set1_ps(88.72283f), x);
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    __m256 shifted = _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), magic);
    __m256 n = _mm256_sub_ps(shifted, magic);
    __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(0.693359375f)));
    r = _mm256_add_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(2.12194440e-4f)));
    __m256 z = _mm256_mul_ps(r, r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(5.0000001201e-1f));
    __m256 e = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(p, z), r), _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_castps_si256(magic));
    __m256i half = _mm256_srai_epi32(bits, 1);
    __m256i rest = _mm256_sub_epi32(bits, half);
    __m256i bias = _mm256_set1_epi32(127);
    __m256 a = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, bias), 23));
    __m256 b = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(rest, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(e, a), b);
}

VM_T256 VM_INLINE __m256 sigmoid256(__m256 x) {
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 neg = _mm256_xor_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000)));
    return _mm256_div_ps(one, _mm256_add_ps(one, exp256(neg)));
}

VM_T256 VM_INLINE __m256 tanh256(__m256 x) {
    __m256 a = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
    __m256 z = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
    p = _mm256_add_ps(_mm256_mul_ps(p, z), _mm256_set1_ps(2.06390887954e-2f));
    p = _mm256_sub_ps(_mm256_mul_ps(p, z), _mm256_set1_ps(5.37397155531e-2f));
    p = _mm256_add_ps(_mm256_mul_ps(p, z), _mm256_set1_ps(1.33314422036e-1f));
    p = _mm256_sub_ps(_mm256_mul_ps(p, z), _mm256_set1_ps(3.33332819422e-1f));
    __m256 small = _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(p, z), x), x);
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 e = exp256(_mm256_mul_ps(_mm256_set1_ps(2.0f), a));
    __m256 large = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
    __m256 negative = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 sgn = _mm256_blendv_ps(large, _mm256_xor_ps(large, _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000))), negative);
    __m256 isSmall = _mm256_cmp_ps(a, _mm256_set1_ps(0.625f), _CMP_LT_OQ);
    return _mm256_blendv_ps(sgn, small, isSmall);
}

#endif  // x86-64

#endif
