import XCTest
import Foundation
import GraftCore
@testable import GraftRuntime

/// Recurrent layers against the Keras cell formulas, written out step by step in each test.
final class RecurrentTests: XCTestCase {
    func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }

    // SimpleRNN with 1 unit: h = tanh(w·x + u·h + b).
    let (w, u, b) = (0.5, -1.0, 0.1)
    var rnnParams: [String: Tensor] {
        ["kernel": Tensor(shape: [1, 1], floats: [Float(w)]), "recurrentKernel": Tensor(shape: [1, 1], floats: [Float(u)]),
         "bias": Tensor(shape: [1], floats: [Float(b)])]
    }
    func rnnStep(_ x: Double, _ h: Double) -> Double { Foundation.tanh(w * x + u * h + b) }

    func testSimpleRNNSequenceAndLast() throws {
        let x = Tensor(shape: [1, 3, 1], floats: [1, 2, -1])
        let h1 = rnnStep(1, 0), h2 = rnnStep(2, h1), h3 = rnnStep(-1, h2)
        let seq = try runOne(singleOpGraph(.simpleRNN(RecurrentAttributes(units: 1, returnSequences: true)), inputShape: [3, 1],
                                           parameters: rnnParams), [x])
        assertTensor(seq, shape: [1, 3, 1], [h1, h2, h3])
        let last = try runOne(singleOpGraph(.simpleRNN(RecurrentAttributes(units: 1)), inputShape: [3, 1], parameters: rnnParams), [x])
        assertTensor(last, shape: [1, 1], [h3])
    }

    func testGoBackwardsOutputsInProcessingOrder() throws {
        let x = Tensor(shape: [1, 3, 1], floats: [1, 2, -1])
        let a = rnnStep(-1, 0), bb = rnnStep(2, a), c = rnnStep(1, bb)
        let seq = try runOne(singleOpGraph(.simpleRNN(RecurrentAttributes(units: 1, returnSequences: true, goBackwards: true)),
                                           inputShape: [3, 1], parameters: rnnParams), [x])
        assertTensor(seq, shape: [1, 3, 1], [a, bb, c])
    }

    /// Masking(0) → SimpleRNN: a masked step keeps the state and repeats the previous output;
    /// the last output is the state after the last present step.
    func testMaskedStepsKeepState() throws {
        func graph(returnSequences: Bool) -> Graph {
            Graph(nodes: [
                inputNode("x", [4, 1]),
                makeNode("m", .masking(maskValue: 0), inputs: ["x"]),
                makeNode("rnn", .simpleRNN(RecurrentAttributes(units: 1, returnSequences: returnSequences)), inputs: ["m"],
                         parameters: rnnParams),
            ], outputs: [NodeOutput("rnn")])
        }
        // Example 0: 1, masked, 2, masked. Example 1: masked, 3, masked, masked.
        let x = Tensor(shape: [2, 4, 1], floats: [1, 0, 2, 0, 0, 3, 0, 0])
        let a1 = rnnStep(1, 0), a3 = rnnStep(2, a1)
        let b2 = rnnStep(3, 0)
        let seq = try runOne(graph(returnSequences: true), [x])
        assertTensor(seq, shape: [2, 4, 1], [a1, a1, a3, a3, 0, b2, b2, b2])
        let last = try runOne(graph(returnSequences: false), [x])
        assertTensor(last, shape: [2, 1], [a3, b2])
    }

    // LSTM with 2 units and 1 feature; the Keras step, written out per unit.
    let lk: [Double] = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8]           // kernel [1, 8]: i0 i1 f0 f1 c0 c1 o0 o1
    let lr: [Double] = [0.05, 0.1, -0.15, 0.2, 0.25, -0.3, 0.35, 0.4,          // recurrent [2, 8], row 0
                        -0.45, 0.5, 0.55, -0.6, 0.65, 0.7, -0.75, 0.8]         // row 1
    let lb: [Double] = [0.01, 0.02, 1.0, 1.0, -0.03, 0.04, 0.05, -0.06]
    var lstmParams: [String: Tensor] {
        ["kernel": Tensor(shape: [1, 8], floats: lk.map(Float.init)),
         "recurrentKernel": Tensor(shape: [2, 8], floats: lr.map(Float.init)),
         "bias": Tensor(shape: [8], floats: lb.map(Float.init))]
    }

    /// One Keras LSTM step for 2 units: z = x·W + h·U + b; blocks i, f, c, o.
    func lstmStep(x: Double, h: [Double], c: [Double], peep: [Double]? = nil) -> (h: [Double], c: [Double]) {
        func z(_ col: Int) -> Double { x * lk[col] + h[0] * lr[col] + h[1] * lr[8 + col] + lb[col] }
        var hNew = [0.0, 0.0], cNew = [0.0, 0.0]
        for j in 0..<2 {
            let i = sigmoid(z(j) + (peep.map { $0[j] * c[j] } ?? 0))
            let f = sigmoid(z(2 + j) + (peep.map { $0[2 + j] * c[j] } ?? 0))
            let g = Foundation.tanh(z(4 + j))
            cNew[j] = f * c[j] + i * g
            let o = sigmoid(z(6 + j) + (peep.map { $0[4 + j] * cNew[j] } ?? 0))
            hNew[j] = o * Foundation.tanh(cNew[j])
        }
        return (hNew, cNew)
    }

    func testLSTMTwoStepsWithReturnState() throws {
        let g = Graph(nodes: [
            inputNode("x", [2, 1]),
            makeNode("lstm", .lstm(LSTMAttributes(RecurrentAttributes(units: 2, returnSequences: true, returnState: true))),
                     inputs: ["x"], parameters: lstmParams),
        ], outputs: [NodeOutput("lstm"), NodeOutput("lstm", output: 1), NodeOutput("lstm", output: 2)])
        let outs = try Interpreter(graph: g).run([Tensor(shape: [1, 2, 1], floats: [0.5, -1])])
        let s1 = lstmStep(x: 0.5, h: [0, 0], c: [0, 0])
        let s2 = lstmStep(x: -1, h: s1.h, c: s1.c)
        assertTensor(outs[0], shape: [1, 2, 2], s1.h + s2.h)
        assertTensor(outs[1], shape: [1, 2], s2.h)
        assertTensor(outs[2], shape: [1, 2], s2.c)
    }

    /// The same LSTM in float64 (weights stored as float64).
    func testLSTMInFloat64() throws {
        let params = ["kernel": Tensor(shape: [1, 8], doubles: lk), "recurrentKernel": Tensor(shape: [2, 8], doubles: lr),
                      "bias": Tensor(shape: [8], doubles: lb)]
        let y = try runOne(singleOpGraph(.lstm(LSTMAttributes(RecurrentAttributes(units: 2))), inputShape: [1, 1], parameters: params),
                           [Tensor(shape: [1, 1, 1], doubles: [0.3])])
        XCTAssertEqual(y.dtype, .float64)
        assertTensor(y, shape: [1, 2], lstmStep(x: 0.3, h: [0, 0], c: [0, 0]).h, tol: 1e-12)
    }

    /// Initial states as extra inputs (Keras `initial_state=[h, c]`), and Graves peepholes.
    func graphWithInitialState(_ op: Op, params: [String: Tensor], states: Int) -> Graph {
        var nodes = [inputNode("x", [1, 1]), inputNode("h0", [2])]
        if states == 2 { nodes.append(inputNode("c0", [2])) }
        nodes.append(makeNode("rnn", op, inputs: states == 2 ? ["x", "h0", "c0"] : ["x", "h0"], parameters: params))
        return Graph(nodes: nodes, outputs: [NodeOutput("rnn")] + (op.isLSTM ? [NodeOutput("rnn", output: 2)] : []))
    }

    func testGravesPeepholesFromInitialCellState() throws {
        let peep: [Double] = [0.3, -0.2, 0.5, 0.4, -0.6, 0.7]  // rows: input, forget, output gate
        var params = lstmParams
        params["peepholes"] = Tensor(shape: [3, 2], floats: peep.map(Float.init))
        let g = graphWithInitialState(.lstm(LSTMAttributes(RecurrentAttributes(units: 2, returnState: true), peepholes: true)),
                                      params: params, states: 2)
        let outs = try Interpreter(graph: g).run([Tensor(shape: [1, 1, 1], floats: [0.7]), Tensor(shape: [1, 2], floats: [0.2, -0.4]),
                                                  Tensor(shape: [1, 2], floats: [1.5, -0.5])])
        let s = lstmStep(x: 0.7, h: [0.2, -0.4], c: [1.5, -0.5], peep: peep)
        assertTensor(outs[0], shape: [1, 2], s.h)
        assertTensor(outs[1], shape: [1, 2], s.c)
    }

    /// Gate order [i | f | c | o]: only the forget block of the kernel is non-zero, so with
    /// x = 1: i = σ(0), f = σ(kf), g = tanh(0) = 0, o = σ(0) → c = σ(kf)·c0, h = ½·tanh(c).
    func testGateOrderForgetBlockOnly() throws {
        let kernel: [Float] = [0, 0, 5, -5, 0, 0, 0, 0]
        let params = ["kernel": Tensor(shape: [1, 8], floats: kernel), "recurrentKernel": Tensor(zeros: [2, 8]),
                      "bias": Tensor(zeros: [8])]
        let g = graphWithInitialState(.lstm(LSTMAttributes(RecurrentAttributes(units: 2, returnState: true))), params: params, states: 2)
        let outs = try Interpreter(graph: g).run([Tensor(shape: [1, 1, 1], floats: [1]), Tensor(zeros: [1, 2]),
                                                  Tensor(shape: [1, 2], floats: [2, 2])])
        let c = [sigmoid(5) * 2, sigmoid(-5) * 2]
        assertTensor(outs[1], shape: [1, 2], c)
        assertTensor(outs[0], shape: [1, 2], c.map { 0.5 * Foundation.tanh($0) })
    }

    // GRU with 1 unit: kernel [1, 3] (z, r, h), recurrent [1, 3].
    let gk: [Double] = [0.4, -0.3, 0.9], gr: [Double] = [0.2, 0.6, -0.7]

    func gruStep(x: Double, h: Double, bias: [Double], recurrentBias: [Double]?) -> Double {
        if let rb = recurrentBias {  // reset_after: candidate = tanh(x·Wh + bxh + r·(h·Uh + bhh))
            let z = sigmoid(x * gk[0] + bias[0] + h * gr[0] + rb[0])
            let r = sigmoid(x * gk[1] + bias[1] + h * gr[1] + rb[1])
            let hh = Foundation.tanh(x * gk[2] + bias[2] + r * (h * gr[2] + rb[2]))
            return z * h + (1 - z) * hh
        }
        let z = sigmoid(x * gk[0] + h * gr[0] + bias[0])
        let r = sigmoid(x * gk[1] + h * gr[1] + bias[1])
        let hh = Foundation.tanh(x * gk[2] + (r * h) * gr[2] + bias[2])
        return z * h + (1 - z) * hh
    }

    func testGRUBothResetVariants() throws {
        let x: [Float] = [1, -0.5, 2]
        let bias: [Double] = [0.1, -0.2, 0.3], rbias: [Double] = [-0.05, 0.15, 0.25]
        for resetAfter in [false, true] {
            var params = ["kernel": Tensor(shape: [1, 3], floats: gk.map(Float.init)),
                          "recurrentKernel": Tensor(shape: [1, 3], floats: gr.map(Float.init))]
            params["bias"] = resetAfter ? Tensor(shape: [2, 3], floats: (bias + rbias).map(Float.init))
                                        : Tensor(shape: [3], floats: bias.map(Float.init))
            let g = singleOpGraph(.gru(GRUAttributes(RecurrentAttributes(units: 1, returnSequences: true), resetAfter: resetAfter)),
                                  inputShape: [3, 1], parameters: params)
            let y = try runOne(g, [Tensor(shape: [1, 3, 1], floats: x)])
            var h = 0.0, expected: [Double] = []
            for v in x { h = gruStep(x: Double(v), h: h, bias: bias, recurrentBias: resetAfter ? rbias : nil); expected.append(h) }
            assertTensor(y, shape: [1, 3, 1], expected)
        }
    }

    /// Bidirectional SimpleRNN: forward uses (w, u, b), backward (w2, u2, b2); the backward
    /// sequence comes back in time order and is concatenated after the forward features.
    func testBidirectionalConcatSumAndMask() throws {
        let (w2, u2, b2) = (-0.3, 0.8, 0.2)
        func back(_ x: Double, _ h: Double) -> Double { Foundation.tanh(w2 * x + u2 * h + b2) }
        var params: [String: Tensor] = [:]
        for (k, v) in rnnParams { params["forward/" + k] = v }
        params["backward/kernel"] = Tensor(shape: [1, 1], floats: [Float(w2)])
        params["backward/recurrentKernel"] = Tensor(shape: [1, 1], floats: [Float(u2)])
        params["backward/bias"] = Tensor(shape: [1], floats: [Float(b2)])
        let x = Tensor(shape: [1, 3, 1], floats: [1, 2, -1])
        let f1 = rnnStep(1, 0), f2 = rnnStep(2, f1), f3 = rnnStep(-1, f2)
        let k3 = back(-1, 0), k2 = back(2, k3), k1 = back(1, k2)  // backward state at times 3, 2, 1

        let concat = try runOne(singleOpGraph(.bidirectional(BidirectionalAttributes(
            mergeMode: .concat, layer: .simpleRNN(RecurrentAttributes(units: 1, returnSequences: true)))),
            inputShape: [3, 1], parameters: params), [x])
        assertTensor(concat, shape: [1, 3, 2], [f1, k1, f2, k2, f3, k3])

        let sum = try runOne(singleOpGraph(.bidirectional(BidirectionalAttributes(
            mergeMode: .sum, layer: .simpleRNN(RecurrentAttributes(units: 1)))), inputShape: [3, 1], parameters: params), [x])
        assertTensor(sum, shape: [1, 1], [f3 + k1])

        // Masking(0) with the last step masked: both directions skip it; with return_sequences
        // Keras outputs 0 at the masked step.
        let g = Graph(nodes: [
            inputNode("x", [3, 1]),
            makeNode("m", .masking(maskValue: 0), inputs: ["x"]),
            makeNode("bi", .bidirectional(BidirectionalAttributes(mergeMode: .concat,
                                                                  layer: .simpleRNN(RecurrentAttributes(units: 1, returnSequences: true)))),
                     inputs: ["m"], parameters: params),
        ], outputs: [NodeOutput("bi")])
        let masked = try runOne(g, [Tensor(shape: [1, 3, 1], floats: [1, 2, 0])])
        let m2 = back(2, 0), m1 = back(1, m2)
        assertTensor(masked, shape: [1, 3, 2], [f1, m1, f2, m2, 0, 0])
    }

    func testBidirectionalMergeNoneGivesTwoOutputs() throws {
        var params: [String: Tensor] = [:]
        for (k, v) in rnnParams { params["forward/" + k] = v; params["backward/" + k] = v }
        let g = Graph(nodes: [
            inputNode("x", [2, 1]),
            makeNode("bi", .bidirectional(BidirectionalAttributes(mergeMode: .none, layer: .simpleRNN(RecurrentAttributes(units: 1)))),
                     inputs: ["x"], parameters: params),
        ], outputs: [NodeOutput("bi"), NodeOutput("bi", output: 1)])
        let outs = try Interpreter(graph: g).run([Tensor(shape: [1, 2, 1], floats: [1, 2])])
        assertTensor(outs[0], shape: [1, 1], [rnnStep(2, rnnStep(1, 0))])
        assertTensor(outs[1], shape: [1, 1], [rnnStep(1, rnnStep(2, 0))])
    }

    /// Bidirectional LSTM with returnState: outputs are merged, forward h, c, backward h, c.
    func testBidirectionalLSTMReturnStateOrder() throws {
        var params: [String: Tensor] = [:]
        for (k, v) in lstmParams { params["forward/" + k] = v; params["backward/" + k] = v }
        let g = Graph(nodes: [
            inputNode("x", [2, 1]),
            makeNode("bi", .bidirectional(BidirectionalAttributes(mergeMode: .concat, layer: .lstm(LSTMAttributes(
                RecurrentAttributes(units: 2, returnState: true))))), inputs: ["x"], parameters: params),
        ], outputs: (0..<5).map { NodeOutput("bi", output: $0) })
        let outs = try Interpreter(graph: g).run([Tensor(shape: [1, 2, 1], floats: [0.4, -0.9])])
        let f1 = lstmStep(x: 0.4, h: [0, 0], c: [0, 0]), f2 = lstmStep(x: -0.9, h: f1.h, c: f1.c)
        let b1 = lstmStep(x: -0.9, h: [0, 0], c: [0, 0]), b2 = lstmStep(x: 0.4, h: b1.h, c: b1.c)
        assertTensor(outs[0], shape: [1, 4], f2.h + b2.h)
        assertTensor(outs[1], shape: [1, 2], f2.h)
        assertTensor(outs[2], shape: [1, 2], f2.c)
        assertTensor(outs[3], shape: [1, 2], b2.h)
        assertTensor(outs[4], shape: [1, 2], b2.c)
    }

    /// DL4J semantics: a masked step's output and states are multiplied by the mask (become 0).
    func testDL4JMaskingZeroesStateAndOutput() throws {
        let node = makeNode("rnn", .simpleRNN(RecurrentAttributes(units: 1, returnSequences: true)), inputs: ["x"], parameters: rnnParams)
        let x = RuntimeValue(Tensor(shape: [1, 3, 1], floats: [1, 5, 2]), mask: [true, false, true])
        let dl4j = try RecurrentKernels.evaluate(node, [x], as: Float.self, masking: .dl4j)
        assertTensor(dl4j[0].tensor, shape: [1, 3, 1], [rnnStep(1, 0), 0, rnnStep(2, 0)])
        let keras = try RecurrentKernels.evaluate(node, [x], as: Float.self)
        let k1 = rnnStep(1, 0)
        assertTensor(keras[0].tensor, shape: [1, 3, 1], [k1, k1, rnnStep(2, k1)])
        XCTAssertEqual(keras[0].mask, [true, false, true])
    }

    func testMissingRecurrentKernelIsAClearError() {
        let g = singleOpGraph(.simpleRNN(RecurrentAttributes(units: 1)), inputShape: [2, 1],
                              parameters: ["kernel": Tensor(shape: [1, 1], floats: [1])])
        XCTAssertThrowsError(try runOne(g, [Tensor(shape: [1, 2, 1], floats: [1, 2])])) { e in
            XCTAssertEqual((e as? GraftError)?.kind, .missingWeights)
            XCTAssertEqual((e as? GraftError)?.field, "recurrentKernel")
        }
    }
}

extension Op {
    var isLSTM: Bool { if case .lstm = self { return true }; return false }
}
