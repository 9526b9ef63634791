import XCTest
import GraftCore
@testable import GraftRuntime

/// The blocked, threaded im2col + GEMM convolution and the threaded pooling against direct
/// loops written here (TensorFlow's window arithmetic, independent of `AxisGeometry`), over
/// shapes that take every im2col path: one input channel, windows inside and across padding,
/// strides, dilations, groups, 1×1 (no im2col), 1-D and 3-D; on one and two threads and in
/// blocks of a few rows.
final class ConvolutionPathTests: XCTestCase {
    struct Case {
        var name: String
        var batch = 2
        var spatial: [Int]
        var channels: Int
        var filters: Int
        var kernel: [Int]
        var strides: [Int]? = nil
        var dilation: [Int]? = nil
        var padding: Padding = .valid
        var groups = 1
    }

    static let cases: [Case] = [
        Case(name: "first layer, 1 channel", batch: 3, spatial: [12, 11], channels: 1, filters: 8, kernel: [3, 3]),
        Case(name: "same, stride 2", spatial: [9, 8], channels: 5, filters: 6, kernel: [3, 3], strides: [2, 2], padding: .same),
        Case(name: "dilated, same", spatial: [8, 9], channels: 4, filters: 3, kernel: [2, 3], dilation: [2, 1], padding: .same),
        Case(name: "dilated along x, valid", spatial: [7, 10], channels: 3, filters: 4, kernel: [3, 2], dilation: [1, 3]),
        Case(name: "groups", spatial: [6, 7], channels: 6, filters: 4, kernel: [3, 3], strides: [1, 2], groups: 2),
        Case(name: "1x1", spatial: [5, 6], channels: 7, filters: 5, kernel: [1, 1]),
        Case(name: "wide channels", spatial: [6, 6], channels: 40, filters: 9, kernel: [3, 3], padding: .same),
        Case(name: "1-D", batch: 3, spatial: [13], channels: 2, filters: 3, kernel: [4], strides: [3]),
        Case(name: "3-D", spatial: [4, 5, 4], channels: 3, filters: 2, kernel: [2, 3, 2], padding: .same),
    ]

    /// out size and padding before the first cell of one axis, TensorFlow's rule.
    static func axis(_ n: Int, kernel: Int, stride: Int, dilation: Int, same: Bool) -> (out: Int, before: Int) {
        let effective = (kernel - 1) * dilation + 1
        if !same { return (n >= effective ? (n - effective) / stride + 1 : 0, 0) }
        let out = (n + stride - 1) / stride
        return (out, max((out - 1) * stride + effective - n, 0) / 2)
    }

    /// Direct loops, channels-last, spatial axes lifted to three; bias then ReLU.
    static func reference(_ c: Case, x: [Float], kernel: [Float], bias: [Float]) -> (values: [Double], shape: [Int]) {
        let lift = 3 - c.spatial.count
        let dims = Array(repeating: 1, count: lift) + c.spatial
        let k = Array(repeating: 1, count: lift) + c.kernel
        let s = Array(repeating: 1, count: lift) + (c.strides ?? Array(repeating: 1, count: c.spatial.count))
        let d = Array(repeating: 1, count: lift) + (c.dilation ?? Array(repeating: 1, count: c.spatial.count))
        let geo = (0..<3).map { axis($0 < lift ? 1 : dims[$0], kernel: k[$0], stride: s[$0], dilation: d[$0], same: c.padding == .same) }
        let cg = c.channels / c.groups, fg = c.filters / c.groups
        var out: [Double] = []
        for b in 0..<c.batch {
            for oz in 0..<geo[0].out { for oy in 0..<geo[1].out { for ox in 0..<geo[2].out {
                for f in 0..<c.filters {
                    let g = f / fg
                    var sum = Double(bias[f])
                    for kz in 0..<k[0] { for ky in 0..<k[1] { for kx in 0..<k[2] {
                        let iz = oz * s[0] - geo[0].before + kz * d[0]
                        let iy = oy * s[1] - geo[1].before + ky * d[1]
                        let ix = ox * s[2] - geo[2].before + kx * d[2]
                        guard iz >= 0, iz < dims[0], iy >= 0, iy < dims[1], ix >= 0, ix < dims[2] else { continue }
                        for ch in 0..<cg {
                            let xi = (((b * dims[0] + iz) * dims[1] + iy) * dims[2] + ix) * c.channels + g * cg + ch
                            let ki = (((kz * k[1] + ky) * k[2] + kx) * cg + ch) * c.filters + f
                            sum += Double(x[xi]) * Double(kernel[ki])
                        }
                    } } }
                    out.append(max(sum, 0))
                }
            } } }
        }
        let outSpatial = Array(geo.map(\.out).suffix(c.spatial.count))
        return (out, [c.batch] + outSpatial + [c.filters])
    }

    static func random(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in Float(rng.uniform(-1, 1)) }
    }

    func testBlockedAndThreadedConvolutionMatchesDirectLoops() throws {
        let saved = Runtime.threadCount
        defer { Runtime.setThreadCount(saved) }
        for (i, c) in Self.cases.enumerated() {
            let rank = c.spatial.count
            let a = ConvAttributes(rank: rank, filters: c.filters, kernelSize: c.kernel, strides: c.strides, padding: c.padding,
                                   dilation: c.dilation, groups: c.groups, activation: .plainRelu)
            let x = Self.random(c.batch * c.spatial.reduce(1, *) * c.channels, seed: UInt64(10 + i))
            let kernel = Self.random(c.kernel.reduce(1, *) * (c.channels / c.groups) * c.filters, seed: UInt64(50 + i))
            let bias = Self.random(c.filters, seed: UInt64(90 + i))
            let expected = Self.reference(c, x: x, kernel: kernel, bias: bias)
            let parameters = ["kernel": Tensor(shape: c.kernel + [c.channels / c.groups, c.filters], floats: kernel),
                              "bias": Tensor(shape: [c.filters], floats: bias)]
            // The whole layer (bias and ReLU fused) through the interpreter, on one and two threads.
            for threads in [1, 2] {
                Runtime.setThreadCount(threads)
                let y = try runOne(singleOpGraph(.conv(a), inputShape: c.spatial + [c.channels], parameters: parameters),
                                   [Tensor(shape: [c.batch] + c.spatial + [c.channels], floats: x)])
                assertTensor(y, shape: expected.shape, expected.values, tol: 1e-4)
                if y.shape != expected.shape { XCTFail("\(c.name), \(threads) threads") }
            }
            // The buffer path in blocks of one, a few and all rows, shared by two workers or not.
            let node = makeNode("c", .conv(a), inputs: [], parameters: parameters)
            let (values, view) = try SpatialView.read(Tensor(shape: [c.batch] + c.spatial + [c.channels], floats: x), rank: rank,
                                                      format: .channelsLast, node: node, as: Float.self)
            let rowLength = c.kernel.reduce(1, *) * c.channels / c.groups
            for budget in [rowLength, 5 * rowLength + 1, 1 << 20] {
                for threads in [1, 2] {
                    var out = [Float](repeating: .nan, count: expected.values.count)
                    try values.withUnsafeBufferPointer { xp in
                        try bias.withUnsafeBufferPointer { bp in
                            try out.withUnsafeMutableBufferPointer { op in
                                try ConvolutionOps.standard(node, a, xp, view, kernelName: "kernel", columnBudget: budget,
                                                            bias: bp.baseAddress, activation: .plainRelu, threads: threads, into: op)
                            }
                        }
                    }
                    for (j, (g, e)) in zip(out, expected.values).enumerated() where !(abs(Double(g) - e) <= 1e-4) {
                        XCTFail("\(c.name), budget \(budget), \(threads) threads: element \(j) is \(g), expected \(e)")
                        break
                    }
                }
            }
        }
    }

    /// Rows shared between threads only when each gets enough of them; blocks cover every row.
    func testBlockPlanCoversEveryRow() {
        for (rows, rowLength, filters, threads) in [(1, 9, 32, 2), (21632, 9, 32, 2), (3872, 288, 64, 1), (196, 4608, 512, 2),
                                                    (6272, 4608, 512, 2), (100, 27, 64, 3)] {
            let plan = ConvolutionOps.BlockPlan(rows: rows, rowLength: rowLength, filters: filters, columnBudget: nil, threads: threads)
            XCTAssertGreaterThanOrEqual(plan.blocks * plan.blockRows, rows)
            XCTAssertLessThan((plan.blocks - 1) * plan.blockRows, rows)
            XCTAssertTrue(plan.workers == 1 || plan.workers == threads)
        }
        // VGG16's last layers at batch 1: too few rows to share (OpenBLAS threads the GEMM).
        XCTAssertEqual(ConvolutionOps.BlockPlan(rows: 196, rowLength: 4608, filters: 512, columnBudget: nil, threads: 2).workers, 1)
        XCTAssertEqual(ConvolutionOps.BlockPlan(rows: 21632, rowLength: 9, filters: 32, columnBudget: nil, threads: 2).workers, 2)
    }

    func testThreadedPoolingMatchesDirectLoops() throws {
        let saved = Runtime.threadCount
        defer { Runtime.setThreadCount(saved) }
        let (batch, h, w, c) = (3, 27, 26, 24)
        let x = Self.random(batch * h * w * c, seed: 7)
        for kind in [PoolingKind.max, .average] {
            for (size, stride, padding) in [(2, 2, Padding.valid), (3, 2, .same), (3, 1, .valid)] {
                let oh = Self.axis(h, kernel: size, stride: stride, dilation: 1, same: padding == .same)
                let ow = Self.axis(w, kernel: size, stride: stride, dilation: 1, same: padding == .same)
                var expected: [Double] = []
                for b in 0..<batch { for oy in 0..<oh.out { for ox in 0..<ow.out { for ch in 0..<c {
                    var cells: [Double] = []
                    for ky in 0..<size { for kx in 0..<size {
                        let iy = oy * stride - oh.before + ky, ix = ox * stride - ow.before + kx
                        if iy >= 0, iy < h, ix >= 0, ix < w { cells.append(Double(x[((b * h + iy) * w + ix) * c + ch])) }
                    } }
                    expected.append(kind == .max ? cells.max()! : cells.reduce(0, +) / Double(cells.count))
                } } } }
                let a = PoolingAttributes(kind: kind, rank: 2, poolSize: [size, size], strides: [stride, stride], padding: padding)
                for threads in [1, 2] {
                    Runtime.setThreadCount(threads)
                    let y = try runOne(singleOpGraph(.pooling(a), inputShape: [h, w, c]), [Tensor(shape: [batch, h, w, c], floats: x)])
                    assertTensor(y, shape: [batch, oh.out, ow.out, c], expected, tol: 1e-5)
                }
            }
        }
    }
}
