import GraftCore
import XCTest
@testable import GraftRuntime

/// The packed-weight SGEMM (CGEMM) against a naive double-precision product, for every
/// kernel variant this CPU runs, over shapes with ragged row tiles and column panels,
/// degenerate sizes (K, M or N = 1, K = 0) and K larger than one K block; bias and beta
/// variants; threaded runs equal single-threaded ones bit for bit.
final class PackedGEMMTests: XCTestCase {
    /// (m, k, n): row tiles of 12/6/4 with remainders, panels of 32 with remainders, K blocks of 256.
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (1, 7, 1), (2, 1, 33), (1, 300, 40), (3, 5, 31), (5, 17, 32), (7, 3, 65),
        (12, 64, 64), (13, 9, 17), (25, 40, 100), (32, 784, 130), (33, 257, 47), (50, 600, 3),
        (97, 20, 70), (11, 1000, 16), (130, 33, 96), (1, 64, 800),
    ]

    struct Case {
        var m: Int, k: Int, n: Int, lda: Int, ldc: Int
        var a: [Float], b: [Float], bias: [Float], c0: [Float]
    }

    static func makeCase(_ m: Int, _ k: Int, _ n: Int, seed: UInt64) -> Case {
        var rng = SplitMix64(seed: seed)
        let lda = k + Int(rng.next(3)), ldc = n + Int(rng.next(3))
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float(rng.uniform(-1, 1)) } }
        return Case(m: m, k: k, n: n, lda: lda, ldc: ldc, a: values(m * lda), b: values(k * n),
                    bias: values(n), c0: values(m * ldc))
    }

    /// A·B (+ bias) (+ beta·C0) in double, and the largest |term| sum per element for the tolerance.
    static func reference(_ t: Case, bias: Bool, beta: Float) -> (values: [Double], scale: [Double]) {
        var out = [Double](repeating: 0, count: t.m * t.n), scale = out
        for i in 0..<t.m {
            for j in 0..<t.n {
                var s = 0.0, mag = 0.0
                for p in 0..<t.k {
                    let v = Double(t.a[i * t.lda + p]) * Double(t.b[p * t.n + j])
                    s += v; mag += abs(v)
                }
                if bias { s += Double(t.bias[j]); mag += abs(Double(t.bias[j])) }
                if beta != 0 { s += Double(beta) * Double(t.c0[i * t.ldc + j]); mag += abs(Double(beta) * Double(t.c0[i * t.ldc + j])) }
                out[i * t.n + j] = s
                scale[i * t.n + j] = mag
            }
        }
        return (out, scale)
    }

    static func run(_ t: Case, _ w: PackedWeights, bias: Bool, beta: Float, relu: Bool = false, threads: Int,
                    variant: PackedGEMM.Variant) -> [Float] {
        var c = t.c0
        t.a.withUnsafeBufferPointer { ap in
            t.bias.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    w.gemm(a: ap.baseAddress!, rows: t.m, lda: t.lda, bias: bias ? bp.baseAddress : nil, beta: beta,
                           relu: relu, c: cp.baseAddress!, ldc: t.ldc, threads: threads, variant: variant)
                }
            }
        }
        return c
    }

    func testEveryVariantAgainstDoubleReference() {
        let variants = PackedGEMM.Variant.allCases.filter { $0 != .auto && $0.isSupported }
        XCTAssertTrue(variants.contains(.portable))
        for (index, (m, k, n)) in Self.shapes.enumerated() {
            let t = Self.makeCase(m, k, n, seed: UInt64(100 + index))
            let w = t.b.withUnsafeBufferPointer { PackedWeights($0.baseAddress!, rows: k, columns: n, ldb: n) }
            for (bias, beta) in [(false, Float(0)), (true, 0), (false, 1), (true, 0.5)] {
                let ref = Self.reference(t, bias: bias, beta: beta)
                for variant in variants {
                    let c = Self.run(t, w, bias: bias, beta: beta, threads: 1, variant: variant)
                    var worst = 0.0
                    for i in 0..<m {
                        for j in 0..<n {
                            let err = abs(Double(c[i * t.ldc + j]) - ref.values[i * n + j]) / (ref.scale[i * n + j] + 1e-30)
                            worst = max(worst, err)
                        }
                        // Padding columns of C past N keep their contents.
                        for j in n..<t.ldc where i * t.ldc + j < c.count {
                            XCTAssertEqual(c[i * t.ldc + j], t.c0[i * t.ldc + j], "C padding written, \(variant) \(m)x\(k)x\(n)")
                        }
                    }
                    XCTAssertLessThan(worst, 1e-5, "\(variant) m=\(m) k=\(k) n=\(n) bias=\(bias) beta=\(beta)")
                }
            }
        }
    }

    /// ReLU fused into the GEMM's store equals max(0, ·) applied to the plain product, bit for
    /// bit, for every variant, on 1 and 2 threads: in particular it clamps only the finished
    /// sums, not the partial sums of an earlier K block (K > 256), and leaves C's padding alone.
    func testFusedReLUEqualsReLUAfterTheProduct() {
        let variants = PackedGEMM.Variant.allCases.filter { $0 != .auto && $0.isSupported }
        for (index, (m, k, n)) in [(5, 17, 32), (33, 257, 47), (11, 1000, 16), (32, 784, 130), (4, 0, 35)].enumerated() {
            let t = Self.makeCase(m, k, n, seed: UInt64(500 + index))
            let w = t.b.withUnsafeBufferPointer { PackedWeights($0.baseAddress!, rows: k, columns: n, ldb: n) }
            for (bias, beta) in [(false, Float(0)), (true, 0.5)] {
                for variant in variants {
                    var expected = Self.run(t, w, bias: bias, beta: beta, threads: 1, variant: variant)
                    for i in 0..<m { for j in 0..<n { expected[i * t.ldc + j] = max(expected[i * t.ldc + j], 0) } }
                    XCTAssertTrue(expected.contains(0) && expected.contains { $0 > 0 }, "the case has both signs")
                    for threads in [1, 2] {
                        XCTAssertEqual(Self.run(t, w, bias: bias, beta: beta, relu: true, threads: threads, variant: variant), expected,
                                       "\(variant) \(m)x\(k)x\(n) bias=\(bias) beta=\(beta) threads=\(threads)")
                    }
                }
            }
        }
    }

    /// beta 0 must not read C: NaN there does not leak into the result.
    func testBetaZeroIgnoresNaNInC() {
        var t = Self.makeCase(9, 20, 40, seed: 7)
        t.c0 = [Float](repeating: .nan, count: t.c0.count)
        let w = t.b.withUnsafeBufferPointer { PackedWeights($0.baseAddress!, rows: 20, columns: 40, ldb: 40) }
        for variant in PackedGEMM.Variant.allCases where variant.isSupported {
            let c = Self.run(t, w, bias: true, beta: 0, threads: 1, variant: variant)
            for i in 0..<9 { for j in 0..<40 { XCTAssertFalse(c[i * t.ldc + j].isNaN, "\(variant)") } }
        }
    }

    /// K = 0: C = bias + beta·C.
    func testEmptyInnerDimension() {
        let t = Self.makeCase(4, 0, 35, seed: 9)
        let w = PackedWeights([Float](), rows: 0, columns: 35, ldb: 35)
        let c = Self.run(t, w, bias: true, beta: 2, threads: 1, variant: .auto)
        for i in 0..<4 {
            for j in 0..<35 { XCTAssertEqual(c[i * t.ldc + j], t.bias[j] + 2 * t.c0[i * t.ldc + j], accuracy: 1e-6) }
        }
    }

    /// The transposed packing reads B given as its transpose.
    func testTransposedPacking() {
        let (k, n) = (37, 45)
        let t = Self.makeCase(6, k, n, seed: 11)
        var bt = [Float](repeating: 0, count: k * n)
        for p in 0..<k { for j in 0..<n { bt[j * k + p] = t.b[p * n + j] } }
        let plain = t.b.withUnsafeBufferPointer { PackedWeights($0.baseAddress!, rows: k, columns: n, ldb: n) }
        let transposed = bt.withUnsafeBufferPointer { PackedWeights($0.baseAddress!, rows: k, columns: n, ldb: k, transposed: true) }
        XCTAssertEqual(Self.run(t, plain, bias: false, beta: 0, threads: 1, variant: .auto),
                       Self.run(t, transposed, bias: false, beta: 0, threads: 1, variant: .auto))
    }

    /// Splitting over threads (by rows from 96 rows per thread on, else by panels, or by rows
    /// when panels are few) changes nothing.
    func testThreadedEqualsSingleThreaded() {
        for (m, k, n) in [(32, 300, 1000), (400, 200, 40), (64, 784, 33), (3, 500, 700), (401, 77, 800)] {
            let t = Self.makeCase(m, k, n, seed: UInt64(m * 7 + n))
            let w = t.b.withUnsafeBufferPointer { PackedWeights($0.baseAddress!, rows: k, columns: n, ldb: n) }
            let one = Self.run(t, w, bias: true, beta: 1, threads: 1, variant: .auto)
            for threads in [2, 3] {
                XCTAssertEqual(Self.run(t, w, bias: true, beta: 1, threads: threads, variant: .auto), one, "\(m)x\(k)x\(n) on \(threads)")
            }
        }
    }

    /// A packed kernel tensor (with a column slice) gives the product of the slice.
    func testPackingFromTensorAndColumnSlice() throws {
        let (k, n) = (10, 70)
        let t = Self.makeCase(5, k, n, seed: 13)
        let tensor = Tensor(shape: [k, n], floats: t.b)
        let whole = try PackedWeights(kernel: tensor)
        XCTAssertEqual(whole.rows, k)
        XCTAssertEqual(whole.columns, n)
        let slice = try PackedWeights(kernel: tensor, rows: k, columns: n, firstColumn: 40, width: 30)
        var c = [Float](repeating: 0, count: 5 * 30)
        t.a.withUnsafeBufferPointer { ap in
            c.withUnsafeMutableBufferPointer { cp in
                slice.gemm(a: ap.baseAddress!, rows: 5, lda: t.lda, bias: nil, beta: 0, c: cp.baseAddress!, ldc: 30, threads: 1)
            }
        }
        for i in 0..<5 {
            for j in 0..<30 {
                var s = 0.0
                for p in 0..<k { s += Double(t.a[i * t.lda + p]) * Double(t.b[p * n + 40 + j]) }
                XCTAssertEqual(Double(c[i * 30 + j]), s, accuracy: 1e-5)
            }
        }
    }

    /// The cache packs a key once, and again when the key comes with another tensor's storage
    /// or another shape or column slice; other packed objects (nil ones too) are made once.
    func testCacheRepacksWhenTheTensorChanges() throws {
        let cache = PackedWeightCache()
        let first = Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        let a = try cache.weights("d/kernel", first, rows: 2, columns: 3)
        XCTAssertTrue(try cache.weights("d/kernel", first, rows: 2, columns: 3) === a)
        let second = Tensor(shape: [2, 3], floats: [6, 5, 4, 3, 2, 1])
        let b = try cache.weights("d/kernel", second, rows: 2, columns: 3)
        XCTAssertFalse(b === a)
        var c = [Float](repeating: 0, count: 3)
        let x: [Float] = [1, 0]
        c.withUnsafeMutableBufferPointer { cp in
            b.gemm(a: x, rows: 1, lda: 2, bias: nil, beta: 0, c: cp.baseAddress!, ldc: 3, threads: 1)
        }
        XCTAssertEqual(c, [6, 5, 4])

        let slice = try cache.weights("d/kernel", second, rows: 2, columns: 3, firstColumn: 1, width: 2)
        XCTAssertFalse(slice === b)
        XCTAssertEqual(slice.columns, 2)
        XCTAssertTrue(try cache.weights("d/kernel", second, rows: 2, columns: 3) === b)
        XCTAssertEqual(try cache.weights("d/kernel", second, rows: 3, columns: 2).rows, 3)

        var made = 0
        for _ in 0..<3 {
            let object: PackedWeights? = cache.cachedObject("d/none", second) { made += 1; return nil }
            XCTAssertNil(object)
        }
        XCTAssertEqual(made, 1)
    }
}
