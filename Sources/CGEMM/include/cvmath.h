#ifndef GRAFT_CVMATH_H
#define GRAFT_CVMATH_H

/// In-place float32 exp, sigmoid and tanh over n values, vectorised with AVX-512 or AVX2 when
/// the CPU has them (chosen at run time), with exactly the operations, in the same order and
/// without fused multiply-adds, of GraftRuntime's VectorMath (Cephes polynomials): results
/// are bit-identical to it. Return 0 when no vector unit is available (the caller then runs
/// its own loop), 1 when done.
int graft_vexp(float *x, long n);
int graft_vsigmoid(float *x, long n);
int graft_vtanh(float *x, long n);

#endif
