#ifndef GRAFT_COPENBLAS_SHIM_H
#define GRAFT_COPENBLAS_SHIM_H
#include <cblas.h>

/// The widest x86-64 vector level this CPU and its operating system support, for choosing
/// an OpenBLAS kernel family: 3 = AVX-512 (F, CD, BW, DQ, VL, with zmm state enabled),
/// 2 = AVX2 + FMA (ymm state enabled), 1 = anything else (or not x86-64).
static inline int graft_cpu_vector_level(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    unsigned int a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
    if (a < 7) return 1;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!osxsave || !avx) return 1;
    unsigned int xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
    int avx2 = (b >> 5) & 1;
    int avx512 = ((b >> 16) & 1) && ((b >> 17) & 1) && ((b >> 28) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1);
    if (avx512 && (xlo & 0xe6) == 0xe6) return 3;
    if (avx2 && fma && (xlo & 0x6) == 0x6) return 2;
#endif
    return 1;
}
#endif
