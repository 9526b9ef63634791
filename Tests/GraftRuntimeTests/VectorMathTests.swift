import XCTest
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import GraftRuntime

/// The float32 exp/sigmoid/tanh without libm calls agree with libm (the reference) to a few
/// ulps over the range the activations see, and keep NaN, ±∞ and the saturation ends right.
final class VectorMathTests: XCTestCase {
    func testAgreesWithLibm() {
        var x: Float = -30
        while x <= 30 {
            let e = expf(x), t = tanhf(x), s = 1 / (1 + expf(-x))
            XCTAssertEqual(VectorMath.exp(x), e, accuracy: 4e-7 * e, "exp(\(x))")
            XCTAssertEqual(VectorMath.tanh(x), t, accuracy: 4e-7 * max(abs(t), 1e-30) + 1e-38, "tanh(\(x))")
            XCTAssertEqual(VectorMath.sigmoid(x), s, accuracy: 4e-7 * s, "sigmoid(\(x))")
            x += 0.0137
        }
        for v: Float in [1e-6, -1e-6, 0.3, -0.6249, 0.6251, 80, -80] {
            XCTAssertEqual(VectorMath.tanh(v), tanhf(v), accuracy: 4e-7 * abs(tanhf(v)), "tanh(\(v))")
        }
    }

    func testSpecialValues() {
        XCTAssertTrue(VectorMath.exp(.nan).isNaN)
        XCTAssertTrue(VectorMath.tanh(.nan).isNaN)
        XCTAssertTrue(VectorMath.sigmoid(.nan).isNaN)
        XCTAssertEqual(VectorMath.tanh(.infinity), 1)
        XCTAssertEqual(VectorMath.tanh(-.infinity), -1)
        XCTAssertEqual(VectorMath.sigmoid(.infinity), 1)
        XCTAssertEqual(VectorMath.sigmoid(-.infinity), 0, accuracy: 1e-37)
        XCTAssertEqual(VectorMath.exp(0), 1)
        XCTAssertEqual(VectorMath.exp(88), expf(88), accuracy: 4e-7 * expf(88))
        XCTAssertEqual(VectorMath.exp(-87), expf(-87), accuracy: 4e-7 * expf(-87))
    }

    /// The buffer functions (AVX-512/AVX2 loops in CGEMM when the CPU has them) give the
    /// scalar functions' bits, special values and ragged tails included.
    func testBufferLoopsMatchScalarBitForBit() {
        var values: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 1e-30, -1e-30, 0.625, -0.625, 88.8, -88, 100, -100]
        var x: Float = -40
        while x <= 40 { values.append(x); x += 0.0731 }
        for count in [values.count, 1, 15, 17, 33] {
            let input = Array(values.prefix(count))
            for (name, vector, scalar) in [("exp", VectorMath.exp as (UnsafeMutableBufferPointer<Float>) -> Void, VectorMath.exp as (Float) -> Float),
                                           ("sigmoid", VectorMath.sigmoid, VectorMath.sigmoid),
                                           ("tanh", VectorMath.tanh, VectorMath.tanh)] {
                var v = input, s = input
                v.withUnsafeMutableBufferPointer { vector($0) }
                s.withUnsafeMutableBufferPointer { VectorMath.scalarLoop(scalar, $0) }
                for i in 0..<count {
                    XCTAssertTrue(v[i].bitPattern == s[i].bitPattern || (v[i].isNaN && s[i].isNaN),
                                  "\(name)(\(input[i])): \(v[i]) vs \(s[i])")
                }
            }
        }
    }

    func testThreadCountIsApplied() {
        let before = Runtime.threadCount
        Runtime.setThreadCount(1)
        XCTAssertEqual(Runtime.threadCount, 1)
        Runtime.setThreadCount(before)
        XCTAssertFalse(Runtime.blasCoreName.isEmpty)
    }
}
