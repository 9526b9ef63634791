import XCTest
import CGEMM
import GraftCore
@testable import GraftRuntime

/// The one-pass float32 max pooling (`graft_max_pool` through `PoolingKernels.maxPoolFloat`)
/// against a double-precision loop over each window, on 1-D, 2-D and 3-D inputs with odd
/// sizes, channel counts under, at and over the vector widths (tails), strides other than the
/// window, same padding, and NaN / −∞ in the input; each kernel variant the CPU runs, on one
/// and two threads; and through `PoolingKernels.pool` (float32 and the generic float64 loop).
final class MaxPoolKernelTests: XCTestCase {
    struct Case {
        var name: String
        var batch: Int
        var spatial: [Int]
        var channels: Int
        var pool: [Int]
        var strides: [Int]
        var padding: Padding = .valid
    }

    static let cases: [Case] = [
        Case(name: "small CNN's first pool", batch: 3, spatial: [26, 26], channels: 32, pool: [2, 2], strides: [2, 2]),
        Case(name: "odd rows dropped, 64 channels", batch: 2, spatial: [11, 11], channels: 64, pool: [2, 2], strides: [2, 2]),
        Case(name: "5 channels, 3x2 window, stride (2,3), same", batch: 2, spatial: [7, 9], channels: 5, pool: [3, 2],
             strides: [2, 3], padding: .same),
        Case(name: "17 channels, overlapping, same", batch: 3, spatial: [6, 5], channels: 17, pool: [2, 2], strides: [1, 1],
             padding: .same),
        Case(name: "window over the whole input, same", batch: 2, spatial: [3, 3], channels: 9, pool: [4, 4], strides: [1, 1],
             padding: .same),
        Case(name: "70 channels (over 4 vectors)", batch: 2, spatial: [5, 4], channels: 70, pool: [2, 2], strides: [2, 2]),
        Case(name: "1-D", batch: 2, spatial: [11], channels: 20, pool: [3], strides: [2], padding: .same),
        Case(name: "3-D", batch: 2, spatial: [5, 4, 6], channels: 9, pool: [2, 2, 3], strides: [2, 1, 2], padding: .same),
    ]

    /// The output size and padding before an axis, as TensorFlow defines them.
    static func axis(size: Int, pool: Int, stride: Int, padding: Padding) -> (output: Int, padBefore: Int) {
        if padding == .same {
            let output = (size + stride - 1) / stride
            return (output, max((output - 1) * stride + pool - size, 0) / 2)
        }
        return ((size - pool) / stride + 1, 0)
    }

    /// Inputs in [-1, 1) with a NaN every 41st value and −∞ every 53rd.
    static func input(_ count: Int, seed: UInt64) -> [Float] {
        ConvolutionPathTests.random(count, seed: seed).enumerated().map { i, v in
            i % 41 == 7 ? .nan : (i % 53 == 3 ? -.infinity : v)
        }
    }

    /// Max over each window's cells inside the input (NaN when one is NaN), in double precision;
    /// the output [batch, spatial out..., channels] as a flat array.
    static func reference(_ c: Case, _ x: [Float]) -> [Double] {
        let axes = (0..<c.spatial.count).map { axis(size: c.spatial[$0], pool: c.pool[$0], stride: c.strides[$0], padding: c.padding) }
        let outSizes = axes.map(\.output)
        let outPositions = outSizes.reduce(1, *), inPositions = c.spatial.reduce(1, *)
        var out: [Double] = []
        for b in 0..<c.batch {
            for p in 0..<outPositions {
                // The output position's coordinates, last axis fastest.
                var coordinates: [Int] = [], rest = p
                for size in outSizes.reversed() { coordinates.insert(rest % size, at: 0); rest /= size }
                for ch in 0..<c.channels {
                    var best = -Double.infinity
                    for cell in 0..<c.pool.reduce(1, *) {
                        var offsets: [Int] = [], r = cell
                        for size in c.pool.reversed() { offsets.insert(r % size, at: 0); r /= size }
                        let position = (0..<c.spatial.count).map { coordinates[$0] * c.strides[$0] - axes[$0].padBefore + offsets[$0] }
                        guard zip(position, c.spatial).allSatisfy({ $0 >= 0 && $0 < $1 }) else { continue }
                        let flat = zip(position, c.spatial).reduce(0) { $0 * $1.1 + $1.0 }
                        let v = Double(x[(b * inPositions + flat) * c.channels + ch])
                        if v.isNaN || best.isNaN { best = .nan } else { best = max(best, v) }
                    }
                    out.append(best)
                }
            }
        }
        return out
    }

    static func check(_ got: [Double], _ expected: [Double], _ label: String) {
        XCTAssertEqual(got.count, expected.count, label)
        for (j, (g, e)) in zip(got, expected).enumerated() where !(g == e || (g.isNaN && e.isNaN)) {
            XCTFail("\(label): element \(j) is \(g), expected \(e)")
            return
        }
    }

    func testMaxPoolKernelMatchesReference() throws {
        let variants = PackedGEMM.Variant.allCases.filter { $0 != .auto && $0.isSupported }
        for (i, c) in Self.cases.enumerated() {
            let x = Self.input(c.batch * c.spatial.reduce(1, *) * c.channels, seed: UInt64(500 + i))
            let expected = Self.reference(c, x)
            // The geometry padded to 3-D with leading size-1 axes, as the kernel reads it.
            let lead = 3 - c.spatial.count
            let dims = Array(repeating: 1, count: lead) + c.spatial
            let pool = Array(repeating: 1, count: lead) + c.pool, strides = Array(repeating: 1, count: lead) + c.strides
            let axes = (0..<3).map { Self.axis(size: dims[$0], pool: pool[$0], stride: strides[$0], padding: $0 < lead ? .valid : c.padding) }
            var g = graft_max_pool_geometry()
            (g.batch, g.d, g.h, g.w, g.c) = (c.batch, dims[0], dims[1], dims[2], c.channels)
            (g.kd, g.kh, g.kw) = (pool[0], pool[1], pool[2])
            (g.sd, g.sh, g.sw) = (strides[0], strides[1], strides[2])
            (g.pd, g.ph, g.pw) = (axes[0].padBefore, axes[1].padBefore, axes[2].padBefore)
            (g.od, g.oh, g.ow) = (axes[0].output, axes[1].output, axes[2].output)
            let input = Tensor(shape: [c.batch] + c.spatial + [c.channels], floats: x)
            for variant in variants {
                for threads in [1, 2] {
                    var out = Tensor(shape: [expected.count], floats: Array(repeating: 12345, count: expected.count))
                    PoolingKernels.maxPoolFloat(g, input, into: &out, lines: c.batch * g.od * g.oh, threads: threads, variant: variant)
                    Self.check(out.floats().map(Double.init), expected, "\(c.name), \(variant), \(threads) threads")
                }
            }
            // Through the layer: float32 (this kernel) and float64 (the generic loop).
            let a = PoolingAttributes(kind: .max, rank: c.spatial.count, poolSize: c.pool, strides: c.strides, padding: c.padding)
            let node = makeNode("p", .pooling(a), inputs: [])
            let viaLayer = try PoolingKernels.pool(node, a, input, as: Float.self)
            XCTAssertEqual(viaLayer.shape, [c.batch] + axes.suffix(c.spatial.count).map(\.output) + [c.channels], c.name)
            Self.check(viaLayer.floats().map(Double.init), expected, "\(c.name), layer, float32")
            let viaDouble = try PoolingKernels.pool(node, a, input.converted(to: .float64), as: Double.self)
            Self.check(viaDouble.doubles(), expected, "\(c.name), layer, float64")
        }
    }
}
