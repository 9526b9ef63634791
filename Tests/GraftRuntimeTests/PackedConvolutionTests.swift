import Foundation
import XCTest
import GraftCore
@testable import GraftRuntime

/// The packed-weight convolution (`graft_conv_packed` through `ConvolutionOps.packedStandard`)
/// against the double-precision direct loops of `ConvolutionPathTests`, on ragged shapes that
/// take every path of the C driver: K over one block (C·kh·kw > 256, in blocks) and under it,
/// filters not a multiple of the 32-column panel, rows over several 96-row chunks and ragged
/// tiles, channel runs short (gathered / transposed; one channel as runs of consecutive
/// values) and long (row-major kernel), windows in
/// padding, strides, dilations, 1-D and 3-D; each microkernel variant the CPU runs, on one
/// and two threads, with ReLU fused, no activation, and a non-fused activation (tanh).
final class PackedConvolutionTests: XCTestCase {
    typealias Case = ConvolutionPathTests.Case

    static let cases: [Case] = [
        Case(name: "1 channel, 3x3, 97 rows a batch", batch: 2, spatial: [12, 11], channels: 1, filters: 33, kernel: [3, 3]),
        Case(name: "K in two blocks, same", batch: 2, spatial: [9, 10], channels: 40, filters: 70, kernel: [3, 3], padding: .same),
        Case(name: "16 channels, stride 2, same", batch: 3, spatial: [11, 9], channels: 16, filters: 17, kernel: [3, 3],
             strides: [2, 2], padding: .same),
        Case(name: "dilated, 20 channels", batch: 2, spatial: [10, 11], channels: 20, filters: 5, kernel: [2, 3],
             dilation: [2, 2], padding: .same),
        Case(name: "3 channels, 5x5, stride (1,2)", batch: 2, spatial: [13, 14], channels: 3, filters: 64, kernel: [5, 5],
             strides: [1, 2]),
        Case(name: "1-D, long K", batch: 3, spatial: [40], channels: 33, filters: 9, kernel: [9], padding: .same),
        Case(name: "3-D", batch: 2, spatial: [5, 6, 5], channels: 18, filters: 7, kernel: [2, 3, 2], padding: .same),
        Case(name: "1x1, many rows", batch: 4, spatial: [15, 13], channels: 24, filters: 40, kernel: [1, 1]),
        // One channel, stride 1 along x: runs of consecutive values (padding, dilation, runs
        // across output rows); stride 2 along x takes the gather.
        Case(name: "1 channel, dilated, same", batch: 2, spatial: [9, 13], channels: 1, filters: 20, kernel: [3, 3],
             dilation: [1, 2], padding: .same),
        Case(name: "1 channel, stride (2,1), same", batch: 3, spatial: [10, 5], channels: 1, filters: 8, kernel: [4, 3],
             strides: [2, 1], padding: .same),
        Case(name: "1 channel, stride (1,2), same", batch: 2, spatial: [7, 12], channels: 1, filters: 8, kernel: [3, 3],
             strides: [1, 2], padding: .same),
        Case(name: "1 channel, 1-D, same", batch: 2, spatial: [30], channels: 1, filters: 6, kernel: [5], padding: .same),
        Case(name: "1 channel, 3-D, same", batch: 2, spatial: [4, 5, 6], channels: 1, filters: 5, kernel: [2, 3, 3],
             padding: .same),
    ]

    func testPackedConvolutionMatchesDirectLoops() throws {
        let variants = PackedGEMM.Variant.allCases.filter { $0 != .auto && $0.isSupported }
        for (i, c) in Self.cases.enumerated() {
            let rank = c.spatial.count
            let x = ConvolutionPathTests.random(c.batch * c.spatial.reduce(1, *) * c.channels, seed: UInt64(200 + i))
            let kernel = ConvolutionPathTests.random(c.kernel.reduce(1, *) * c.channels * c.filters, seed: UInt64(300 + i))
            let bias = ConvolutionPathTests.random(c.filters, seed: UInt64(400 + i))
            let withRelu = ConvolutionPathTests.reference(c, x: x, kernel: kernel, bias: bias)
            let plain = Self.plainReference(c, x: x, kernel: kernel, bias: bias)
            let a = ConvAttributes(rank: rank, filters: c.filters, kernelSize: c.kernel, strides: c.strides, padding: c.padding,
                                   dilation: c.dilation, activation: .plainRelu)
            let parameters = ["kernel": Tensor(shape: c.kernel + [c.channels, c.filters], floats: kernel)]
            let node = makeNode("c", .conv(a), inputs: [], parameters: parameters)
            let (values, view) = try SpatialView.read(Tensor(shape: [c.batch] + c.spatial + [c.channels], floats: x), rank: rank,
                                                      format: .channelsLast, node: node, as: Float.self)
            let geo = ConvolutionOps.geometry(a, view)
            let rows = c.batch * geo.map(\.output).reduce(1, *)
            XCTAssertEqual(rows * c.filters, withRelu.values.count, c.name)
            let weights = PackedWeights(kernel, rows: c.kernel.reduce(1, *) * c.channels, columns: c.filters, ldb: c.filters)
            for variant in variants {
                for threads in [1, 2] {
                    for (activation, expected) in [(ActivationFunction.plainRelu, withRelu.values), (.linear, plain),
                                                   (.tanh, plain.map { Foundation.tanh($0) })] {
                        var out = [Float](repeating: .nan, count: rows * c.filters)
                        values.withUnsafeBufferPointer { xp in
                            bias.withUnsafeBufferPointer { bp in
                                out.withUnsafeMutableBufferPointer { op in
                                    ConvolutionOps.packedStandard(geo: geo, view: view, x: xp.baseAddress!, weights: weights,
                                                                  bias: bp.baseAddress, activation: activation, threads: threads,
                                                                  variant: variant, out: op.baseAddress!, rows: rows)
                                }
                            }
                        }
                        for (j, (g, e)) in zip(out, expected).enumerated() where !(abs(Double(g) - e) <= 1e-4) {
                            XCTFail("\(c.name), \(variant), \(threads) threads, \(activation): element \(j) is \(g), expected \(e)")
                            break
                        }
                    }
                }
            }
        }
    }

    /// The interpreter routes an ungrouped float32 convolution through the packed path and
    /// gives the direct loops' result, on several 96-row chunks and two threads.
    func testInterpreterUsesPackedConvolution() throws {
        let saved = Runtime.threadCount
        defer { Runtime.setThreadCount(saved) }
        let c = Self.cases[1]
        let x = ConvolutionPathTests.random(c.batch * c.spatial.reduce(1, *) * c.channels, seed: 5)
        let kernel = ConvolutionPathTests.random(c.kernel.reduce(1, *) * c.channels * c.filters, seed: 6)
        let bias = ConvolutionPathTests.random(c.filters, seed: 7)
        let expected = ConvolutionPathTests.reference(c, x: x, kernel: kernel, bias: bias)
        let a = ConvAttributes(rank: 2, filters: c.filters, kernelSize: c.kernel, padding: c.padding, activation: .plainRelu)
        let parameters = ["kernel": Tensor(shape: c.kernel + [c.channels, c.filters], floats: kernel),
                          "bias": Tensor(shape: [c.filters], floats: bias)]
        XCTAssertTrue(PackedGEMM.convolutionsEnabled || ProcessInfo.processInfo.environment["GRAFT_CONV_PACKED"] == "0")
        for threads in [1, 2] {
            Runtime.setThreadCount(threads)
            let y = try runOne(singleOpGraph(.conv(a), inputShape: c.spatial + [c.channels], parameters: parameters),
                               [Tensor(shape: [c.batch] + c.spatial + [c.channels], floats: x)])
            assertTensor(y, shape: expected.shape, expected.values, tol: 1e-4)
        }
    }

    /// The direct loops without ReLU: ReLU's reference run on the negated kernel and bias
    /// gives max(−s, 0), so s = max(s, 0) − max(−s, 0).
    static func plainReference(_ c: Case, x: [Float], kernel: [Float], bias: [Float]) -> [Double] {
        let positive = ConvolutionPathTests.reference(c, x: x, kernel: kernel, bias: bias).values
        let negative = ConvolutionPathTests.reference(c, x: x, kernel: kernel.map { -$0 }, bias: bias.map { -$0 }).values
        return zip(positive, negative).map { $0 - $1 }
    }
}
