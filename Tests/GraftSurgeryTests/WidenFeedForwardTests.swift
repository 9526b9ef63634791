import XCTest
import GraftCore
import GraftRuntime
@testable import GraftSurgery

/// Widen and prune on dense, conv, embedding and everything carried downstream.
final class WidenFeedForwardTests: XCTestCase {
    typealias T = TestGraphs

    func input(_ shape: [Int?], _ layout: DataLayout = .flat) -> Node {
        Node(name: "in", op: .input(InputAttributes(shape: shape, layout: layout)))
    }
    func dense(_ name: String, _ units: Int, _ inWidth: Int, _ inputs: [String], act: ActivationFunction = .plainRelu, seed: UInt64) -> Node {
        T.node(name, .dense(DenseAttributes(units: units, activation: act)), inputs, [("kernel", [inWidth, units]), ("bias", [units])], seed: seed)
    }
    func bn(_ name: String, _ width: Int, _ input: String) -> Node {
        var n = T.node(name, .batchNorm(BatchNormAttributes()), [input],
                       [("gamma", [width]), ("beta", [width]), ("movingMean", [width]), ("movingVariance", [width])], seed: 77)
        n.parameters["movingVariance"] = Tensor(shape: [width], floats: (0..<width).map { 0.5 + Float($0) / 10 })
        return n
    }

    /// in(6) → fc1(5, relu) → dropout → bn → act → fc2(4) → out(3, softmax)
    func denseChain() -> Graph {
        Graph(nodes: [input([6]), dense("fc1", 5, 6, ["in"], seed: 1),
                      Node(name: "drop", op: .dropout(kind: "Dropout", rate: 0.5), inputs: [NodeOutput("fc1")]),
                      bn("bn", 5, "drop"),
                      Node(name: "act", op: .activation(.tanh), inputs: [NodeOutput("bn")]),
                      dense("fc2", 4, 5, ["act"], seed: 2),
                      dense("out", 3, 4, ["fc2"], act: .softmax(axis: -1), seed: 3)],
              outputs: [NodeOutput("out")])
    }
    let x6 = [TestGraphs.random([4, 6], seed: 5, scale: 1)]

    func testDenseChainBothModes() throws {
        let g = denseChain()
        for mode in [WidenMode.zeroFanOut, .split(noise: 0)] {
            let w = try g.widen(layer: "fc1", by: 3, mode: mode)
            try assertSameFunction(g, w, inputs: x6)
            XCTAssertEqual(w.node(named: "bn")!.parameters["gamma"]!.shape, [8])
            XCTAssertEqual(w.node(named: "fc2")!.parameters["kernel"]!.shape, [8, 4])
            XCTAssertEqual(w.node(named: "out"), g.node(named: "out"))
        }
        // New BN channels carry identity statistics.
        let w = try g.widen(layer: "fc1", by: 2)
        XCTAssertEqual(Array(w.node(named: "bn")!.parameters["movingVariance"]!.doubles()[5...]), [1, 1])
        XCTAssertEqual(Array(w.node(named: "bn")!.parameters["gamma"]!.doubles()[5...]), [1, 1])
        XCTAssertEqual(g, denseChain(), "input graph unchanged")
    }

    func testPReLUBetween() throws {
        let g = Graph(nodes: [input([6]), dense("fc1", 5, 6, ["in"], act: .linear, seed: 1),
                              T.node("prelu", .prelu(sharedAxes: []), ["fc1"], [("alpha", [5])], seed: 2),
                              dense("out", 3, 5, ["prelu"], act: .linear, seed: 3)],
                      outputs: [NodeOutput("out")])
        let w = try g.widen(layer: "fc1", by: 2)
        XCTAssertEqual(w.node(named: "prelu")!.parameters["alpha"]!.shape, [7])
        try assertSameFunction(g, w, inputs: x6)
        try assertSameFunction(g, try g.widen(layer: "fc1", by: 2, mode: .split(noise: 0)), inputs: x6)
    }

    func testWidenDL4JOutputLayerConsumer() throws {
        let g = Graph(nodes: [input([6]), dense("fc1", 5, 6, ["in"], seed: 1),
                              T.node("out", .output(OutputAttributes(kind: .dense, units: 3, activation: .softmax(axis: -1), loss: "MCXENT")),
                                     ["fc1"], [("kernel", [5, 3]), ("bias", [3])], seed: 2)],
                      outputs: [NodeOutput("out")])
        try assertSameFunction(g, try g.widen(layer: "fc1", by: 4), inputs: x6)
    }

    func testConcatenateOffsets() throws {
        let g = Graph(nodes: [input([6]), dense("a", 5, 6, ["in"], seed: 1), dense("b", 3, 6, ["in"], seed: 2),
                              Node(name: "cat", op: .merge(MergeAttributes(.concatenate(axis: -1))), inputs: [NodeOutput("b"), NodeOutput("a")]),
                              dense("out", 2, 8, ["cat"], act: .linear, seed: 3)],
                      outputs: [NodeOutput("out")])
        for mode in [WidenMode.zeroFanOut, .split(noise: 0)] {
            let w = try g.widen(layer: "a", by: 2, mode: mode)
            try assertSameFunction(g, w, inputs: x6)
            XCTAssertEqual(w.node(named: "out")!.parameters["kernel"]!.shape, [10, 2])
            // Rows of b (first 3) are untouched.
            XCTAssertEqual(Array(w.node(named: "out")!.parameters["kernel"]!.doubles()[0..<6]),
                           Array(g.node(named: "out")!.parameters["kernel"]!.doubles()[0..<6]))
        }
    }

    func residual(siblingOp: Op? = nil) -> Graph {
        var sibling = dense("b", 5, 6, ["in"], seed: 2)
        if let siblingOp { sibling = Node(name: "b", op: siblingOp, inputs: [NodeOutput("in")]) }
        return Graph(nodes: [input([6]), dense("a", 5, 6, ["in"], seed: 1), sibling,
                             Node(name: "sum", op: .merge(MergeAttributes(.add)), inputs: [NodeOutput("a"), NodeOutput("b")]),
                             dense("out", 2, 5, ["sum"], act: .linear, seed: 3)],
                     outputs: [NodeOutput("out")])
    }

    func testAddWidensSibling() throws {
        let g = residual()
        for mode in [WidenMode.zeroFanOut, .split(noise: 0)] {
            let w = try g.widen(layer: "a", by: 2, mode: mode)
            XCTAssertEqual(w.node(named: "b")!.parameters["kernel"]!.shape, [6, 7])
            try assertSameFunction(g, w, inputs: x6)
        }
    }

    func testAddWithUnwidenableSiblingIsRefused() throws {
        let g = Graph(nodes: [input([5]), dense("a", 5, 5, ["in"], seed: 1),
                              Node(name: "sum", op: .merge(MergeAttributes(.add)), inputs: [NodeOutput("a"), NodeOutput("in")]),
                              dense("out", 2, 5, ["sum"], act: .linear, seed: 3)],
                      outputs: [NodeOutput("out")])
        assertGraftError(.invalidArgument, mentioning: "sibling") { try g.widen(layer: "a", by: 2) }
    }

    func testConvFlattenDense() throws {
        for format in [DataFormat.channelsLast, .channelsFirst] {
            let inShape: [Int?] = format == .channelsLast ? [5, 5, 2] : [2, 5, 5]
            let conv = ConvAttributes(rank: 2, filters: 3, kernelSize: [3, 3], dataFormat: format, activation: .plainRelu)
            let g = Graph(nodes: [input(inShape, format == .channelsLast ? .channelsLast : .channelsFirst),
                                  T.node("conv", .conv(conv), ["in"], [("kernel", [3, 3, 2, 3]), ("bias", [3])], seed: 1),
                                  Node(name: "flat", op: .flatten, inputs: [NodeOutput("conv")]),
                                  dense("out", 2, 27, ["flat"], act: .linear, seed: 2)],
                          outputs: [NodeOutput("out")])
            let x = [T.random([2] + inShape.map { $0! }, seed: 8, scale: 1)]
            for mode in [WidenMode.zeroFanOut, .split(noise: 0)] {
                let w = try g.widen(layer: "conv", by: 2, mode: mode)
                XCTAssertEqual(w.node(named: "out")!.parameters["kernel"]!.shape, [45, 2], "\(format)")
                try assertSameFunction(g, w, inputs: x)
            }
        }
    }

    func testConvIntoConv() throws {
        let c1 = ConvAttributes(rank: 1, filters: 4, kernelSize: [3], padding: .same, activation: .plainRelu)
        let c2 = ConvAttributes(rank: 1, filters: 2, kernelSize: [3])
        let g = Graph(nodes: [input([7, 3], .channelsLast),
                              T.node("c1", .conv(c1), ["in"], [("kernel", [3, 3, 4]), ("bias", [4])], seed: 1),
                              T.node("c2", .conv(c2), ["c1"], [("kernel", [3, 4, 2]), ("bias", [2])], seed: 2)],
                      outputs: [NodeOutput("c2")])
        let x = [T.random([2, 7, 3], seed: 3, scale: 1)]
        try assertSameFunction(g, try g.widen(layer: "c1", by: 3), inputs: x)
        try assertSameFunction(g, try g.widen(layer: "c1", by: 3, mode: .split(noise: 0)), inputs: x)
    }

    /// Conv → depthwise (multiplier 2) → separable (multiplier 1) → global pooling → dense.
    func testDepthwiseAndSeparableConsumers() throws {
        let c1 = ConvAttributes(rank: 2, filters: 3, kernelSize: [1, 1], activation: .plainRelu)
        let dw = ConvAttributes(kind: .depthwise(multiplier: 2), rank: 2, filters: 6, kernelSize: [3, 3], padding: .same, activation: .plainRelu)
        let sep = ConvAttributes(kind: .separable(multiplier: 1), rank: 2, filters: 4, kernelSize: [3, 3], padding: .same)
        let g = Graph(nodes: [input([5, 5, 2], .channelsLast),
                              T.node("c1", .conv(c1), ["in"], [("kernel", [1, 1, 2, 3]), ("bias", [3])], seed: 1),
                              T.node("dw", .conv(dw), ["c1"], [("depthwiseKernel", [3, 3, 3, 2]), ("bias", [6])], seed: 2),
                              T.node("sep", .conv(sep), ["dw"], [("depthwiseKernel", [3, 3, 6, 1]), ("pointwiseKernel", [1, 1, 6, 4]), ("bias", [4])], seed: 3),
                              Node(name: "gap", op: .globalPooling(GlobalPoolingAttributes(kind: .average, rank: 2)), inputs: [NodeOutput("sep")]),
                              dense("out", 2, 4, ["gap"], act: .linear, seed: 4)],
                      outputs: [NodeOutput("out")])
        let x = [T.random([2, 5, 5, 2], seed: 6, scale: 1)]
        for mode in [WidenMode.zeroFanOut, .split(noise: 0)] {
            let w = try g.widen(layer: "c1", by: 2, mode: mode)
            XCTAssertEqual(w.node(named: "sep")!.parameters["pointwiseKernel"]!.shape, [1, 1, 10, 4])
            if case .conv(let a) = w.node(named: "dw")!.op { XCTAssertEqual(a.filters, 10) } else { XCTFail("dw op") }
            try assertSameFunction(g, w, inputs: x)
        }
    }

    func testEmbeddingIntoLSTM() throws {
        let lstm = TestGraphs.lstm(4)
        let g = Graph(nodes: [input([nil]),
                              T.node("emb", .embedding(EmbeddingAttributes(inputDim: 10, outputDim: 3)), ["in"], [("embeddings", [10, 3])], seed: 1),
                              T.node("lstm", lstm, ["emb"], T.recurrentParams(lstm, input: 3), seed: 2)],
                      outputs: [NodeOutput("lstm")])
        let tokens = [Tensor(shape: [2, 5], floats: [1, 2, 3, 4, 5, 9, 8, 7, 0, 6])]
        let w = try g.widen(layer: "emb", by: 2)
        XCTAssertEqual(w.node(named: "lstm")!.parameters["kernel"]!.shape, [5, 16])
        try assertSameFunction(g, w, inputs: tokens)
    }

    func testTimeDistributedDenseConsumer() throws {
        let lstm = TestGraphs.lstm(4)
        let g = Graph(nodes: [input([nil, 3], .sequenceTimeMajorFeatures),
                              T.node("lstm", lstm, ["in"], T.recurrentParams(lstm, input: 3), seed: 2),
                              T.node("td", .timeDistributed(layer: .dense(DenseAttributes(units: 2))), ["lstm"], [("kernel", [4, 2]), ("bias", [2])], seed: 3)],
                      outputs: [NodeOutput("td")])
        try assertSameFunction(g, try g.widen(layer: "lstm", by: 2), inputs: [T.random([2, 5, 3], seed: 4, scale: 1)])
    }

    func testPruneRemovesRowsAndKeepsOthers() throws {
        let g = denseChain()
        let p = try g.prune(layer: "fc1", units: [1, 3])
        XCTAssertEqual(p.node(named: "fc1")!.parameters["kernel"]!.shape, [6, 3])
        XCTAssertEqual(p.node(named: "fc2")!.parameters["kernel"]!.shape, [3, 4])
        XCTAssertEqual(p.node(named: "out"), g.node(named: "out"))
        XCTAssertEqual(p.history.last?.functionPreserving, false)
        // Pruning units whose outgoing rows are zero is exact: zero fc2's rows 1 and 3 first.
        var zeroed = g
        let i = zeroed.index(of: "fc2")!
        var k = zeroed.nodes[i].parameters["kernel"]!.doubles()
        for r in [1, 3] { for c in 0..<4 { k[r * 4 + c] = 0 } }
        zeroed.nodes[i].parameters["kernel"] = Tensor(shape: [5, 4], doubles: k).converted(to: .float32)
        try assertSameFunction(zeroed, try zeroed.prune(layer: "fc1", units: [1, 3]), inputs: x6)
    }

    func testPruneIsTheMirrorOfWiden() throws {
        for (_, op) in WidenRecurrentTests.recurrentOps {
            let g = TestGraphs.sequenceModel(op)
            let back = try g.widen(layer: "rnn_1", by: 3).prune(layer: "rnn_1", units: [5, 6, 7])
            XCTAssertEqual(back.nodes, g.nodes, op.kindName)
        }
    }

    func testInvalidRequests() throws {
        let g = denseChain()
        assertGraftError(.invalidArgument, mentioning: "nope") { try g.widen(layer: "nope", by: 2) }
        assertGraftError(.invalidArgument, mentioning: "every unit") { try g.prune(layer: "fc1", units: [0, 1, 2, 3, 4]) }
        assertGraftError(.invalidArgument, mentioning: "out of range") { try g.prune(layer: "fc1", units: [9]) }
        assertGraftError(.invalidArgument, mentioning: "positive") { try g.widen(layer: "fc1", by: 0) }
        assertGraftError(.invalidArgument, mentioning: "positive") { try g.widen(layer: "fc1", by: 1 << 40) }
        assertGraftError(.invalidArgument, mentioning: "positive") { try g.nOutReplace(layer: "fc1", nOut: -3) }
        assertGraftError(.invalidArgument, mentioning: "graph output") { try g.widen(layer: "out", by: 1) }
        assertGraftError(.invalidArgument, mentioning: "no units") { try g.widen(layer: "drop", by: 1) }
        // A softmax activation between the layer and its consumer mixes channels.
        var s = g
        s.nodes[s.index(of: "act")!].op = .activation(.softmax(axis: -1))
        assertGraftError(.invalidArgument, mentioning: "mixes channels") { try s.widen(layer: "fc1", by: 1) }
        // A kernel whose rows disagree with the layer (nIn mismatch).
        var bad = g
        bad.nodes[bad.index(of: "fc2")!].parameters["kernel"] = Tensor(zeros: [7, 4])
        assertGraftError(.shapeMismatch, mentioning: "fc2") { try bad.widen(layer: "fc1", by: 1) }
        XCTAssertEqual(g, denseChain())
    }
}
