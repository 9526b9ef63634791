import XCTest
import Foundation
import GraftCore
@testable import GraftRuntime

final class DenseActivationTests: XCTestCase {
    // x [2, 2], kernel [2, 3], bias [3]; y[b][u] = Σ_i x[b][i]·W[i][u] + bias[u], written out by hand.
    let x: [Float] = [1, 2,
                      -1, 0.5]
    let w: [Float] = [0.1, -0.2, 0.3,
                      0.4, 0.5, -0.6]
    let bias: [Float] = [0.01, 0.02, 0.03]
    var expectedLinear: [Double] {
        [1 * 0.1 + 2 * 0.4 + 0.01, 1 * -0.2 + 2 * 0.5 + 0.02, 1 * 0.3 + 2 * -0.6 + 0.03,
         -1 * 0.1 + 0.5 * 0.4 + 0.01, -1 * -0.2 + 0.5 * 0.5 + 0.02, -1 * 0.3 + 0.5 * -0.6 + 0.03]
    }

    func denseGraph(_ activation: ActivationFunction, useBias: Bool = true, double: Bool = false, inputShape: [Int?] = [2]) -> Graph {
        var params = ["kernel": Tensor(shape: [2, 3], floats: w)]
        if useBias { params["bias"] = Tensor(shape: [3], floats: bias) }
        if double { params = params.mapValues { $0.converted(to: .float64) } }
        return singleOpGraph(.dense(DenseAttributes(units: 3, activation: activation, useBias: useBias)),
                             inputShape: inputShape, parameters: params)
    }

    func testDenseLinear() throws {
        let y = try runOne(denseGraph(.linear), [Tensor(shape: [2, 2], floats: x)])
        XCTAssertEqual(y.dtype, .float32)
        assertTensor(y, shape: [2, 3], expectedLinear)
    }

    func testDenseWithoutBias() throws {
        let y = try runOne(denseGraph(.linear, useBias: false), [Tensor(shape: [2, 2], floats: x)])
        assertTensor(y, shape: [2, 3], zip(expectedLinear, [0.01, 0.02, 0.03, 0.01, 0.02, 0.03]).map { $0 - $1 })
    }

    /// One row runs on OpenBLAS' GEMV on one thread and on the packed GEMM on more (where
    /// OpenBLAS' own threads would compete with the runtime's); both give the Dense result.
    func testSingleRowOnOneAndTwoThreads() throws {
        let saved = Runtime.threadCount
        defer { Runtime.setThreadCount(saved) }
        let row = Tensor(shape: [1, 2], floats: Array(x[0..<2]))
        var context = RuntimeContext()
        context.packedWeights = PackedWeightCache()
        let node = denseGraph(.linear).nodes.first { $0.parameters["kernel"] != nil }!
        let kernel = node.parameters["kernel"]!
        for threads in [1, 2] {
            Runtime.setThreadCount(threads)
            let packed = try DenseKernels.packedKernel(node, "kernel", kernel, rows: 1, inFeatures: 2, units: 3,
                                                       context: context, as: Float.self)
            XCTAssertEqual(packed != nil, threads > 1, "\(threads) threads")
            let y = try runOne(denseGraph(.plainRelu), [row])
            assertTensor(y, shape: [1, 3], expectedLinear[0..<3].map { max($0, 0) })
        }
    }

    func testDenseReluAndSoftmax() throws {
        let relu = try runOne(denseGraph(.plainRelu), [Tensor(shape: [2, 2], floats: x)])
        assertTensor(relu, shape: [2, 3], expectedLinear.map { max($0, 0) })
        let sm = try runOne(denseGraph(.softmax(axis: -1)), [Tensor(shape: [2, 2], floats: x)])
        var expected: [Double] = []
        for row in 0..<2 {
            let z = expectedLinear[(row * 3)..<(row * 3 + 3)].map { Foundation.exp($0) }
            let s = z.reduce(0, +)
            expected += z.map { $0 / s }
        }
        assertTensor(sm, shape: [2, 3], expected)
    }

    func testDenseFloat64Path() throws {
        let y = try runOne(denseGraph(.tanh, double: true), [Tensor(shape: [2, 2], floats: x)])
        XCTAssertEqual(y.dtype, .float64)
        // Weights were float32 values widened to float64; compute the reference the same way.
        let xd = x.map(Double.init), wd = w.map(Double.init), bd = bias.map(Double.init)
        var expected: [Double] = []
        for b in 0..<2 { for u in 0..<3 { expected.append(Foundation.tanh(xd[b * 2] * wd[u] + xd[b * 2 + 1] * wd[3 + u] + bd[u])) } }
        assertTensor(y, shape: [2, 3], expected, tol: 1e-12)
    }

    func testHalfPrecisionWeightsComputeInFloat32() throws {
        let params = ["kernel": Tensor(shape: [2, 3], floats: w).converted(to: .float16),
                      "bias": Tensor(shape: [3], floats: bias).converted(to: .float16)]
        let g = singleOpGraph(.dense(DenseAttributes(units: 3)), inputShape: [2], parameters: params)
        let y = try runOne(g, [Tensor(shape: [2, 2], floats: x)])
        XCTAssertEqual(y.dtype, .float32)
        assertTensor(y, shape: [2, 3], expectedLinear, tol: 2e-3)
    }

    func testDenseOnSequenceAppliesPerStep() throws {
        // [batch 1, time 2, features 2]: each step is projected independently.
        let y = try runOne(denseGraph(.linear, inputShape: [nil, 2]), [Tensor(shape: [1, 2, 2], floats: x)])
        assertTensor(y, shape: [1, 2, 3], expectedLinear)
    }

    func testDenseWrongKernelShapeIsAnError() {
        let g = singleOpGraph(.dense(DenseAttributes(units: 3)), inputShape: [2],
                              parameters: ["kernel": Tensor(shape: [3, 3], floats: Array(repeating: 0, count: 9)),
                                           "bias": Tensor(shape: [3], floats: [0, 0, 0])])
        XCTAssertThrowsError(try runOne(g, [Tensor(shape: [1, 2], floats: [1, 2])])) { e in
            XCTAssertEqual((e as? GraftError)?.kind, .shapeMismatch)
            XCTAssertEqual((e as? GraftError)?.location, "op")
        }
    }

    /// Every element-wise activation against its textbook formula.
    func testElementwiseActivations() throws {
        let inputs: [Double] = [-3, -1.5, -0.5, 0, 0.25, 0.5, 1, 2.5, 7]
        func sig(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
        let seluAlpha = 1.6732632423543772, seluScale = 1.0507009873554805
        let cases: [(ActivationFunction, (Double) -> Double)] = [
            (.linear, { $0 }),
            (.plainRelu, { max($0, 0) }),
            // Keras: x·[x > threshold], clipped to [0, max_value] when set, minus slope·relu(threshold − x).
            (.relu(maxValue: 1.0, negativeSlope: 0.1, threshold: 0.5), { $0 > 0.5 ? min($0, 1.0) : 0.1 * ($0 - 0.5) }),
            (.relu(maxValue: 2.0, negativeSlope: 0, threshold: -1), { $0 > -1 ? min(max($0, 0), 2) : 0 }),
            (.relu(maxValue: nil, negativeSlope: 0, threshold: -1), { $0 > -1 ? $0 : 0 }),
            (.relu6, { min(max($0, 0), 6) }),
            (.leakyRelu(alpha: 0.3), { $0 < 0 ? 0.3 * $0 : $0 }),
            (.elu(alpha: 1.5), { $0 < 0 ? 1.5 * (Foundation.exp($0) - 1) : $0 }),
            (.selu, { $0 > 0 ? seluScale * $0 : seluScale * seluAlpha * (Foundation.exp($0) - 1) }),
            (.tanh, { Foundation.tanh($0) }),
            (.sigmoid, sig),
            (.keras2HardSigmoid, { min(max(0.2 * $0 + 0.5, 0), 1) }),
            (.keras3HardSigmoid, { min(max($0 / 6 + 0.5, 0), 1) }),
            (.softplus, { Foundation.log(1 + Foundation.exp($0)) }),
            (.softsign, { $0 / (1 + abs($0)) }),
            (.swish, { $0 * sig($0) }),
            (.gelu(approximate: false), { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) }),
            (.gelu(approximate: true), { 0.5 * $0 * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) }),
            (.thresholdedRelu(theta: 1.0), { $0 > 1 ? $0 : 0 }),
            (.exponential, { Foundation.exp($0) }),
            (.cube, { $0 * $0 * $0 }),
            (.hardTanh, { min(max($0, -1), 1) }),
            (.rectifiedTanh, { max(0, Foundation.tanh($0)) }),
        ]
        for (f, reference) in cases {
            for double in [false, true] {
                let g = singleOpGraph(.activation(f), inputShape: [inputs.count])
                let input = double ? Tensor(shape: [1, inputs.count], doubles: inputs) : Tensor(shape: [1, inputs.count], floats: inputs.map(Float.init))
                let outs = try Interpreter(graph: g, options: RunOptions(useDouble: double)).run([input])
                let got = outs[0].doubles()
                for (v, y) in zip(inputs, got) {
                    let e = reference(v)
                    XCTAssertEqual(y, e, accuracy: double ? 1e-12 * max(1, abs(e)) : 1e-5 * max(1, abs(e)), "\(f.name)(\(v)) double=\(double)")
                }
            }
        }
    }

    func testSoftmaxOnAnInnerAxis() throws {
        // [1, 2, 3] with softmax over axis 1 (length 2): each column normalised separately.
        let v: [Float] = [1, 2, 3, 4, 0, -1]
        let y = try runOne(singleOpGraph(.activation(.softmax(axis: 1)), inputShape: [2, 3]), [Tensor(shape: [1, 2, 3], floats: v)])
        var expected = [Double](repeating: 0, count: 6)
        for c in 0..<3 {
            let a = Foundation.exp(Double(v[c])), b = Foundation.exp(Double(v[3 + c]))
            expected[c] = a / (a + b); expected[3 + c] = b / (a + b)
        }
        assertTensor(y, shape: [1, 2, 3], expected)
    }

    func testPReLUWithSharedAxes() throws {
        // Input [1, 2, 2, 2] (h, w, c); alpha [1, 1, 2] shared over h and w: one slope per channel.
        let v: [Float] = [-1, -2, 3, -4, 5, -6, -7, 8]
        let alpha = Tensor(shape: [1, 1, 2], floats: [0.1, 0.5])
        let g = singleOpGraph(.prelu(sharedAxes: [1, 2]), inputShape: [2, 2, 2], parameters: ["alpha": alpha])
        let y = try runOne(g, [Tensor(shape: [1, 2, 2, 2], floats: v)])
        let expected: [Double] = [-0.1, -1.0, 3, -2.0, 5, -3.0, -0.7, 8]
        assertTensor(y, shape: [1, 2, 2, 2], expected)
    }

    func testDropoutFamilyIsIdentity() throws {
        let v = sampleValues(6)
        for kind in ["Dropout", "SpatialDropout1D", "GaussianNoise", "AlphaDropout"] {
            let y = try runOne(singleOpGraph(.dropout(kind: kind, rate: 0.5), inputShape: [6]), [Tensor(shape: [1, 6], floats: v)])
            assertTensor(y, shape: [1, 6], v.map(Double.init), tol: 0)
        }
    }
}
