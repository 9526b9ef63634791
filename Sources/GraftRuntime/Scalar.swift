import COpenBLAS
import GraftCore

/// The floating-point types the runtime computes in (float32 by default, float64 when the
/// model's weights are float64), with the OpenBLAS routine for each.
public protocol RuntimeScalar: BinaryFloatingPoint, Sendable where Self.RawSignificand: FixedWidthInteger {
    static var dtype: DType { get }
    /// C = alpha·op(A)·op(B) + beta·C, all row-major. op(A) is [m, k], op(B) is [k, n], C is [m, n].
    /// A single row (m = 1) runs as GEMV.
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
                     a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                     beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func erf(_ x: Self) -> Self
}

extension Float: RuntimeScalar {
    public static var dtype: DType { .float32 }
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        if m == 1 && k > 0 {
            // One row (batch 1, a recurrent step): GEMV, which reads B once instead of packing it.
            let incx = transA ? lda : 1
            if transB {
                cblas_sgemv(CblasRowMajor, CblasNoTrans, blasint(n), blasint(k), alpha, b, blasint(ldb), a, blasint(incx), beta, c, 1)
            } else {
                cblas_sgemv(CblasRowMajor, CblasTrans, blasint(k), blasint(n), alpha, b, blasint(ldb), a, blasint(incx), beta, c, 1)
            }
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }
    public static func exp(_ x: Float) -> Float { Foundation_expf(x) }
    public static func log(_ x: Float) -> Float { Foundation_logf(x) }
    public static func tanh(_ x: Float) -> Float { Foundation_tanhf(x) }
    public static func erf(_ x: Float) -> Float { Foundation_erff(x) }
}

extension Double: RuntimeScalar {
    public static var dtype: DType { .float64 }
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                            a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                            beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        if m == 1 && k > 0 {
            let incx = transA ? lda : 1
            if transB {
                cblas_dgemv(CblasRowMajor, CblasNoTrans, blasint(n), blasint(k), alpha, b, blasint(ldb), a, blasint(incx), beta, c, 1)
            } else {
                cblas_dgemv(CblasRowMajor, CblasTrans, blasint(k), blasint(n), alpha, b, blasint(ldb), a, blasint(incx), beta, c, 1)
            }
            return
        }
        cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }
    public static func exp(_ x: Double) -> Double { Foundation_exp(x) }
    public static func log(_ x: Double) -> Double { Foundation_log(x) }
    public static func tanh(_ x: Double) -> Double { Foundation_tanh(x) }
    public static func erf(_ x: Double) -> Double { Foundation_erf(x) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@inline(__always) func Foundation_expf(_ x: Float) -> Float { expf(x) }
@inline(__always) func Foundation_logf(_ x: Float) -> Float { logf(x) }
@inline(__always) func Foundation_tanhf(_ x: Float) -> Float { tanhf(x) }
@inline(__always) func Foundation_erff(_ x: Float) -> Float { erff(x) }
@inline(__always) func Foundation_exp(_ x: Double) -> Double { Glibc.exp(x) }
@inline(__always) func Foundation_log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) func Foundation_tanh(_ x: Double) -> Double { Glibc.tanh(x) }
@inline(__always) func Foundation_erf(_ x: Double) -> Double { Glibc.erf(x) }
