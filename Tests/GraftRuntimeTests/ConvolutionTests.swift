import XCTest
import Foundation
import GraftCore
@testable import GraftRuntime

/// Convolutions: every expected value is written out by hand in the test, or comes from the
/// direct-loop reference `naiveConv2D` below (independent of the runtime's im2col + GEMM).
final class ConvolutionTests: XCTestCase {
    func conv(_ a: ConvAttributes, input: [Int?], params: [String: Tensor], x: Tensor) throws -> Tensor {
        try runOne(singleOpGraph(.conv(a), inputShape: input, parameters: params), [x])
    }

    func testConv1DDilation2OnSevenSteps() throws {
        // k = 3, dilation 2, valid: y[t] = x[t]·1 + x[t+2]·10 + x[t+4]·100 (filter 0), x[t] − x[t+4] (filter 1).
        let a = ConvAttributes(rank: 1, filters: 2, kernelSize: [3], dilation: [2])
        let kernel = Tensor(shape: [3, 1, 2], floats: [1, 1, 10, 0, 100, -1])
        let y = try conv(a, input: [7, 1], params: ["kernel": kernel, "bias": Tensor(shape: [2], floats: [0.5, 0])],
                         x: Tensor(shape: [1, 7, 1], floats: [1, 2, 3, 4, 5, 6, 7]))
        assertTensor(y, shape: [1, 3, 2], [1 + 30 + 500 + 0.5, 1 - 5,
                                           2 + 40 + 600 + 0.5, 2 - 6,
                                           3 + 50 + 700 + 0.5, 3 - 7])
    }

    func testConv1DSamePaddingStride2() throws {
        let a = ConvAttributes(rank: 1, filters: 1, kernelSize: [3], strides: [2], padding: .same, useBias: false)
        let kernel = Tensor(shape: [3, 1, 1], floats: [1, 10, 100])
        // 5 steps: out 3, total pad 2 → one zero before, one after: windows [0,1,2] [2,3,4] [4,5,0].
        let odd = try conv(a, input: [5, 1], params: ["kernel": kernel], x: Tensor(shape: [1, 5, 1], floats: [1, 2, 3, 4, 5]))
        assertTensor(odd, shape: [1, 3, 1], [0 + 10 + 200, 2 + 30 + 400, 4 + 50 + 0])
        // 6 steps: out 3, total pad 1 → the odd zero goes after: windows [1,2,3] [3,4,5] [5,6,0].
        let even = try conv(a, input: [6, 1], params: ["kernel": kernel], x: Tensor(shape: [1, 6, 1], floats: [1, 2, 3, 4, 5, 6]))
        assertTensor(even, shape: [1, 3, 1], [1 + 20 + 300, 3 + 40 + 500, 5 + 60 + 0])
    }

    func testConv1DCausal() throws {
        let kernel = Tensor(shape: [2, 1, 1], floats: [1, 10])
        let x = Tensor(shape: [1, 4, 1], floats: [1, 2, 3, 4])
        // k = 2: one zero on the left; y[t] = x[t−1] + 10·x[t].
        let plain = try conv(ConvAttributes(rank: 1, filters: 1, kernelSize: [2], padding: .causal, useBias: false),
                             input: [4, 1], params: ["kernel": kernel], x: x)
        assertTensor(plain, shape: [1, 4, 1], [10, 1 + 20, 2 + 30, 3 + 40])
        // k = 2, dilation 2: two zeros on the left; y[t] = x[t−2] + 10·x[t].
        let dilated = try conv(ConvAttributes(rank: 1, filters: 1, kernelSize: [2], padding: .causal, dilation: [2], useBias: false),
                               input: [4, 1], params: ["kernel": kernel], x: x)
        assertTensor(dilated, shape: [1, 4, 1], [10, 20, 1 + 30, 2 + 40])
    }

    func testConv2DValidWithBiasAndRelu() throws {
        // 3×3 input 1..9, kernel [[1, 0], [0, 1]] → sums of diagonal pairs; bias −7 then ReLU.
        let a = ConvAttributes(rank: 2, filters: 1, kernelSize: [2, 2], activation: .plainRelu)
        let y = try conv(a, input: [3, 3, 1],
                         params: ["kernel": Tensor(shape: [2, 2, 1, 1], floats: [1, 0, 0, 1]), "bias": Tensor(shape: [1], floats: [-7])],
                         x: Tensor(shape: [1, 3, 3, 1], floats: [1, 2, 3, 4, 5, 6, 7, 8, 9]))
        assertTensor(y, shape: [1, 2, 2, 1], [0, 1, 5, 7])
    }

    /// Direct loops over [batch, h, w, c] with explicit TF-style same padding (reference).
    func naiveConv2D(_ x: [Float], batch: Int, h: Int, w: Int, c: Int, kernel: [Float], kh: Int, kw: Int, filters: Int,
                     stride: Int, same: Bool) -> (values: [Double], oh: Int, ow: Int) {
        func outSize(_ n: Int, _ k: Int) -> (Int, Int) {
            if !same { return ((n - k) / stride + 1, 0) }
            let o = (n + stride - 1) / stride
            return (o, max((o - 1) * stride + k - n, 0) / 2)
        }
        let (oh, pt) = outSize(h, kh), (ow, pl) = outSize(w, kw)
        var y = [Double](repeating: 0, count: batch * oh * ow * filters)
        for b in 0..<batch { for i in 0..<oh { for j in 0..<ow { for f in 0..<filters {
            var s = 0.0
            for di in 0..<kh { for dj in 0..<kw { for ch in 0..<c {
                let yi = i * stride + di - pt, xj = j * stride + dj - pl
                guard yi >= 0, yi < h, xj >= 0, xj < w else { continue }
                s += Double(x[((b * h + yi) * w + xj) * c + ch]) * Double(kernel[((di * kw + dj) * c + ch) * filters + f])
            } } }
            y[((b * oh + i) * ow + j) * filters + f] = s
        } } } }
        return (y, oh, ow)
    }

    func testConv2DSameStride2MatchesReferenceInBothDataFormats() throws {
        let (b, h, w, c, f) = (2, 5, 4, 2, 3)
        let xValues = sampleValues(b * h * w * c)
        let kValues = sampleValues(3 * 3 * c * f, seed: 3)
        let reference = naiveConv2D(xValues, batch: b, h: h, w: w, c: c, kernel: kValues, kh: 3, kw: 3, filters: f,
                                    stride: 2, same: true)
        let kernel = Tensor(shape: [3, 3, c, f], floats: kValues)
        let last = try conv(ConvAttributes(rank: 2, filters: f, kernelSize: [3, 3], strides: [2, 2], padding: .same, useBias: false),
                            input: [h, w, c], params: ["kernel": kernel], x: Tensor(shape: [b, h, w, c], floats: xValues))
        assertTensor(last, shape: [b, reference.oh, reference.ow, f], reference.values)
        // channels_first: the same numbers with channels moved to axis 1, in and out.
        let xFirst = try Tensor(shape: [b, h, w, c], floats: xValues).transposed([0, 3, 1, 2])
        let first = try conv(ConvAttributes(rank: 2, filters: f, kernelSize: [3, 3], strides: [2, 2], padding: .same,
                                            dataFormat: .channelsFirst, useBias: false),
                             input: [c, h, w], params: ["kernel": kernel], x: xFirst)
        let back = try first.transposed([0, 2, 3, 1])
        assertTensor(back, shape: last.shape, last.doubles())
    }

    /// The im2col buffer is filled in blocks of output positions; any block size gives the same
    /// numbers (up to GEMM rounding).
    func testIm2colBlocksGiveTheSameResult() throws {
        let (h, w, c, f) = (5, 6, 3, 2)
        let xValues = sampleValues(2 * h * w * c)
        let kValues = sampleValues(2 * 2 * c * f, seed: 5)
        let a = ConvAttributes(rank: 2, filters: f, kernelSize: [2, 2], padding: .same)
        let node = makeNode("c", .conv(a), inputs: [], parameters: ["kernel": Tensor(shape: [2, 2, c, f], floats: kValues)])
        let (values, view) = try SpatialView.read(Tensor(shape: [2, h, w, c], floats: xValues), rank: 2, format: .channelsLast,
                                                  node: node, as: Float.self)
        let whole = try ConvolutionOps.standard(node, a, values, view, kernelName: "kernel", as: Float.self)
        let reference = naiveConv2D(xValues, batch: 2, h: h, w: w, c: c, kernel: kValues, kh: 2, kw: 2, filters: f, stride: 1, same: true)
        for budget in [1, 12, 13, 50] {  // 1 row, exactly 1 row (12 = 2·2·3), just over, several rows
            let blocked = try ConvolutionOps.standard(node, a, values, view, kernelName: "kernel", columnBudget: budget, as: Float.self)
            XCTAssertEqual(blocked.values.count, whole.values.count)
            for (b, w) in zip(blocked.values, whole.values) { XCTAssertEqual(b, w, accuracy: 1e-6, "budget \(budget)") }
        }
        for (g, e) in zip(whole.values, reference.values) { XCTAssertEqual(Double(g), e, accuracy: 1e-5) }
    }

    func testGroupedConvolutionKeepsGroupsApart() throws {
        // 4 input channels, 2 groups, 2 filters, k = 1: filter 0 sees channels 0-1, filter 1 channels 2-3.
        let a = ConvAttributes(rank: 1, filters: 2, kernelSize: [1], groups: 2, useBias: false)
        let kernel = Tensor(shape: [1, 2, 2], floats: [1, 100,    // in-group channel 0 → filters 0, 1
                                                       10, 1000]) // in-group channel 1
        let y = try conv(a, input: [1, 4], params: ["kernel": kernel], x: Tensor(shape: [1, 1, 4], floats: [1, 2, 3, 4]))
        assertTensor(y, shape: [1, 1, 2], [1 * 1 + 2 * 10, 3 * 100 + 4 * 1000])
    }

    func testDepthwiseConv1DChannelMultiplier() throws {
        // 2 channels, multiplier 2, k = 2: out[t][c·2 + m] = Σ_k x[t+k][c]·K[k][c][m].
        let a = ConvAttributes(kind: .depthwise(multiplier: 2), rank: 1, filters: 4, kernelSize: [2])
        let k: [Float] = [1, 2, 3, 4,      // tap 0: (c0,m0) (c0,m1) (c1,m0) (c1,m1)
                          10, 20, 30, 40]  // tap 1
        let x: [Float] = [1, -1, 2, -2, 3, -3]  // 3 steps × 2 channels
        let y = try conv(a, input: [3, 2], params: ["depthwiseKernel": Tensor(shape: [2, 2, 2], floats: k),
                                                    "bias": Tensor(shape: [4], floats: [0, 0, 0, 0.5])],
                         x: Tensor(shape: [1, 3, 2], floats: x))
        assertTensor(y, shape: [1, 2, 4], [1 * 1 + 2 * 10, 1 * 2 + 2 * 20, -1 * 3 - 2 * 30, -1 * 4 - 2 * 40 + 0.5,
                                           2 * 1 + 3 * 10, 2 * 2 + 3 * 20, -2 * 3 - 3 * 30, -2 * 4 - 3 * 40 + 0.5])
    }

    func testSeparableConvIsDepthwiseThenPointwiseThenBias() throws {
        // 1 channel, multiplier 2, k = 1: depthwise gives (2x, 3x); pointwise [1, 2, 1] sums 1·(2x) + 10·(3x) = 32x.
        let a = ConvAttributes(kind: .separable(multiplier: 2), rank: 1, filters: 1, kernelSize: [1])
        let y = try conv(a, input: [2, 1], params: ["depthwiseKernel": Tensor(shape: [1, 1, 2], floats: [2, 3]),
                                                    "pointwiseKernel": Tensor(shape: [1, 2, 1], floats: [1, 10]),
                                                    "bias": Tensor(shape: [1], floats: [1])],
                         x: Tensor(shape: [1, 2, 1], floats: [1, -2]))
        assertTensor(y, shape: [1, 2, 1], [32 + 1, -64 + 1])
    }

    func testTransposedConv1DValidAndSame() throws {
        // x = [1, 2], k = 3, stride 2: x[i]·K[k] lands at 2i + k.
        let kernel = Tensor(shape: [3, 1, 1], floats: [1, 10, 100])
        let x = Tensor(shape: [1, 2, 1], floats: [1, 2])
        let valid = try conv(ConvAttributes(kind: .transposed(outputPadding: nil), rank: 1, filters: 1, kernelSize: [3],
                                            strides: [2], useBias: false),
                             input: [2, 1], params: ["kernel": kernel], x: x)
        assertTensor(valid, shape: [1, 5, 1], [1, 10, 100 + 2, 20, 200])
        // same: length 2·2 = 4, forward padding total max((2−1)·2 + 3 − 4, 0) = 1 → nothing cut before.
        let same = try conv(ConvAttributes(kind: .transposed(outputPadding: nil), rank: 1, filters: 1, kernelSize: [3],
                                           strides: [2], padding: .same, useBias: false),
                            input: [2, 1], params: ["kernel": kernel], x: x)
        assertTensor(same, shape: [1, 4, 1], [1, 10, 102, 20])
        // output_padding 1 with valid: (2−1)·2 + 3 + 1 = 6 → one extra zero cell at the end.
        let padded = try conv(ConvAttributes(kind: .transposed(outputPadding: [1]), rank: 1, filters: 1, kernelSize: [3],
                                             strides: [2], useBias: false),
                              input: [2, 1], params: ["kernel": kernel], x: x)
        assertTensor(padded, shape: [1, 6, 1], [1, 10, 102, 20, 200, 0])
    }

    func testTransposedConv2DKernelLayoutFiltersThenInputs() throws {
        // 1×1 input with 2 channels, kernel [2, 2, filters 1, in 2], stride 1 valid → 2×2 output:
        // y[i][j] = x0·K[i][j][0][0] + x1·K[i][j][0][1].
        let kernel = Tensor(shape: [2, 2, 1, 2], floats: [1, 10, 2, 20, 3, 30, 4, 40])
        let y = try conv(ConvAttributes(kind: .transposed(outputPadding: nil), rank: 2, filters: 1, kernelSize: [2, 2],
                                        useBias: false),
                         input: [1, 1, 2], params: ["kernel": kernel], x: Tensor(shape: [1, 1, 1, 2], floats: [1, 0.5]))
        assertTensor(y, shape: [1, 2, 2, 1], [1 + 5, 2 + 10, 3 + 15, 4 + 20])
    }

    /// TimeDistributed(Conv1D): each time step's [steps, channels] slice is convolved on its own.
    func testTimeDistributedConv1D() throws {
        let conv = Op.conv(ConvAttributes(rank: 1, filters: 1, kernelSize: [2], useBias: false))
        let g = singleOpGraph(.timeDistributed(layer: conv), inputShape: [2, 3, 1],
                              parameters: ["kernel": Tensor(shape: [2, 1, 1], floats: [1, 10])])
        let y = try runOne(g, [Tensor(shape: [1, 2, 3, 1], floats: [1, 2, 3, 4, 5, 6])])
        assertTensor(y, shape: [1, 2, 2, 1], [1 + 20, 2 + 30, 4 + 50, 5 + 60])
    }

    func testConv3DSumsTheCube() throws {
        let a = ConvAttributes(rank: 3, filters: 1, kernelSize: [2, 2, 2], useBias: false)
        let y = try conv(a, input: [2, 2, 2, 1], params: ["kernel": Tensor(shape: [2, 2, 2, 1, 1], floats: Array(repeating: 1, count: 8))],
                         x: Tensor(shape: [1, 2, 2, 2, 1], floats: [1, 2, 3, 4, 5, 6, 7, 8]))
        assertTensor(y, shape: [1, 1, 1, 1, 1], [36])
    }

    func testConvInFloat64WhenWeightsAreDouble() throws {
        let a = ConvAttributes(rank: 1, filters: 1, kernelSize: [2], useBias: false)
        let g = singleOpGraph(.conv(a), inputShape: [3, 1], parameters: ["kernel": Tensor(shape: [2, 1, 1], doubles: [1, 1e-9])])
        let y = try runOne(g, [Tensor(shape: [1, 3, 1], floats: [1, 2, 3])])
        XCTAssertEqual(y.dtype, .float64)
        assertTensor(y, shape: [1, 2, 1], [1 + 2e-9, 2 + 3e-9], tol: 1e-15)
    }

    func testWrongKernelShapeIsAClearError() {
        let a = ConvAttributes(rank: 1, filters: 2, kernelSize: [3])
        XCTAssertThrowsError(try conv(a, input: [4, 1], params: ["kernel": Tensor(shape: [3, 1, 1], floats: [1, 2, 3]),
                                                                 "bias": Tensor(shape: [2], floats: [0, 0])],
                                      x: Tensor(shape: [1, 4, 1], floats: [1, 2, 3, 4]))) { e in
            XCTAssertEqual((e as? GraftError)?.kind, .shapeMismatch)
            XCTAssertEqual((e as? GraftError)?.field, "kernel")
        }
    }
}
