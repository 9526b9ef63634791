import XCTest
import GraftCore
import GraftRuntime
@testable import GraftSurgery

/// The question's scenario: Input → LSTM(5) → RNN output layer; widen the LSTM by 3.
final class WidenRecurrentTests: XCTestCase {
    let sequences = [TestGraphs.random([2, 6, 3], seed: 99, scale: 1)]

    static let recurrentOps: [(String, Op)] = [
        ("lstm", TestGraphs.lstm()), ("gravesLSTM", TestGraphs.lstm(peepholes: true)),
        ("gru", TestGraphs.gru(resetAfter: false)), ("gru-resetAfter", TestGraphs.gru(resetAfter: true)),
        ("simpleRNN", TestGraphs.simpleRNN()),
    ]

    func testZeroFanOutWidenPreservesOutputs() throws {
        for (label, op) in Self.recurrentOps {
            let g = TestGraphs.sequenceModel(op)
            let before = g
            let w = try g.widen(layer: "rnn_1", by: 3, mode: .zeroFanOut)
            XCTAssertEqual(g, before, label)
            XCTAssertEqual(recurrentUnits(w.node(named: "rnn_1")!.op), 8, label)
            try assertSameFunction(g, w, inputs: sequences)
            XCTAssertEqual(w.history.last?.operation, "widen")
            XCTAssertEqual(w.history.last?.functionPreserving, true)
            // New units' incoming weights are non-zero (every gate block).
            let kernel = w.node(named: "rnn_1")!.parameters["kernel"]!
            let gates = gateCount(op), cols = kernel.shape[1], v = kernel.doubles()
            for b in 0..<gates { for unit in 5..<8 {
                let column = (0..<3).map { v[$0 * cols + b * 8 + unit] }
                XCTAssertTrue(column.contains { $0 != 0 }, "\(label) gate \(b) unit \(unit)")
            } }
            // Old units' weights are bit-identical.
            let oldKernel = g.node(named: "rnn_1")!.parameters["kernel"]!.doubles()
            for r in 0..<3 { for b in 0..<gates { for unit in 0..<5 {
                XCTAssertEqual(v[r * cols + b * 8 + unit], oldKernel[r * gates * 5 + b * 5 + unit])
            } } }
            // Consumer rows for new units are zero.
            let outKernel = w.node(named: "out")!.parameters["kernel"]!
            XCTAssertEqual(outKernel.shape, [8, 4])
            XCTAssertTrue(outKernel.doubles()[20...].allSatisfy { $0 == 0 }, label)
        }
    }

    func testLSTMNewForgetBiasIsOne() throws {
        let w = try TestGraphs.sequenceModel(TestGraphs.lstm()).widen(layer: "rnn_1", by: 3)
        let bias = w.node(named: "rnn_1")!.parameters["bias"]!.doubles()
        XCTAssertEqual(bias.count, 32)
        XCTAssertEqual(Array(bias[13..<16]), [1, 1, 1])
        XCTAssertEqual(Array(bias[5..<8]), [0, 0, 0])
    }

    func testSplitWidenPreservesOutputs() throws {
        for (label, op) in Self.recurrentOps {
            let g = TestGraphs.sequenceModel(op)
            let w = try g.widen(layer: "rnn_1", by: 3, mode: .split(noise: 0))
            try assertSameFunction(g, w, inputs: sequences)
            XCTAssertEqual(w.node(named: "out")!.parameters["kernel"]!.shape, [8, 4], label)
        }
    }

    func testSplitWithNoiseIsRecordedAsNotPreserving() throws {
        let w = try TestGraphs.sequenceModel(TestGraphs.lstm()).widen(layer: "rnn_1", by: 2, mode: .split(noise: 0.01))
        XCTAssertEqual(w.history.last?.functionPreserving, false)
    }

    func testWidenThenInsertUntrainedLSTM() throws {
        for peepholes in [false, true] {
            let g = TestGraphs.sequenceModel(TestGraphs.lstm(peepholes: peepholes))
            let w = try g.widen(layer: "rnn_1", by: 3)
            try assertSameFunction(g, w, inputs: sequences)
            let inserted = try w.insertLayer(after: "rnn_1", name: "lstm_new", op: TestGraphs.lstm(6, peepholes: peepholes),
                                             init: .glorotUniform, seed: 5)
            XCTAssertEqual(inserted.nodes.map(\.name), ["in", "rnn_1", "lstm_new", "out"])
            XCTAssertEqual(inserted.node(named: "lstm_new")!.parameters["kernel"]!.shape, [8, 24])
            XCTAssertEqual(inserted.node(named: "out")!.inputs, [NodeOutput("lstm_new")])
            XCTAssertEqual(inserted.node(named: "out")!.parameters["kernel"]!.shape, [6, 4])
            // The widened LSTM's weights are untouched by the insertion.
            XCTAssertEqual(inserted.node(named: "rnn_1"), w.node(named: "rnn_1"))
            let y = try Interpreter(graph: inserted).run(sequences)
            XCTAssertEqual(y[0].shape, [2, 6, 4])
        }
    }

    func testBidirectionalWidenEachDirection() throws {
        for merge in [BidirectionalMerge.concat, .sum, .average] {
            let inner = TestGraphs.lstm()
            let op = Op.bidirectional(BidirectionalAttributes(mergeMode: merge, layer: inner))
            let width = merge == .concat ? 10 : 5
            let params = TestGraphs.recurrentParams(inner, input: 3, prefix: "forward/") + TestGraphs.recurrentParams(inner, input: 3, prefix: "backward/")
            let g = Graph(nodes: [
                Node(name: "in", op: .input(InputAttributes(shape: [nil, 3], layout: .sequenceTimeMajorFeatures))),
                TestGraphs.node("bi", op, ["in"], params, seed: 3),
                TestGraphs.node("out", .output(OutputAttributes(kind: .rnn, units: 4, activation: .softmax(axis: -1), loss: "MCXENT")),
                                ["bi"], [("kernel", [width, 4]), ("bias", [4])], seed: 4),
            ], outputs: [NodeOutput("out")])
            let w = try g.widen(layer: "bi", by: 2)
            try assertSameFunction(g, w, inputs: sequences)
            XCTAssertEqual(w.node(named: "out")!.parameters["kernel"]!.shape[0], merge == .concat ? 14 : 7)
            let split = try g.widen(layer: "bi", by: 2, mode: .split(noise: 0))
            try assertSameFunction(g, split, inputs: sequences)
        }
    }

    func testRecurrentConsumerRows() throws {
        // LSTM → GRU → output: the GRU's kernel rows follow the LSTM's new units.
        var g = TestGraphs.sequenceModel(TestGraphs.lstm())
        let gru = TestGraphs.gru(4, resetAfter: true)
        g.nodes.insert(TestGraphs.node("gru", gru, ["rnn_1"], TestGraphs.recurrentParams(gru, input: 5), seed: 8), at: 2)
        g.nodes[3].inputs = [NodeOutput("gru")]
        g.nodes[3].parameters["kernel"] = TestGraphs.random([4, 4], seed: 9)
        let w = try g.widen(layer: "rnn_1", by: 3)
        XCTAssertEqual(w.node(named: "gru")!.parameters["kernel"]!.shape, [8, 12])
        try assertSameFunction(g, w, inputs: sequences)
    }
}

extension WidenRecurrentTests {
    /// Last-step outputs: LSTM(returnSequences: false) → Dense, and LSTM → LastTimeStep → output layer.
    func testLastStepConsumers() throws {
        let lstmLast = Op.lstm(LSTMAttributes(RecurrentAttributes(units: 5, returnSequences: false)))
        let a = Graph(nodes: [Node(name: "in", op: .input(InputAttributes(shape: [nil, 3], layout: .sequenceTimeMajorFeatures))),
                              TestGraphs.node("rnn_1", lstmLast, ["in"], TestGraphs.recurrentParams(lstmLast, input: 3), seed: 1),
                              TestGraphs.node("fc", .dense(DenseAttributes(units: 2)), ["rnn_1"], [("kernel", [5, 2]), ("bias", [2])], seed: 2)],
                      outputs: [NodeOutput("fc")])
        try assertSameFunction(a, try a.widen(layer: "rnn_1", by: 3), inputs: sequences)
        var b = TestGraphs.sequenceModel(TestGraphs.lstm())
        b.nodes.insert(Node(name: "last", op: .dl4jVertex(.lastTimeStep), inputs: [NodeOutput("rnn_1")]), at: 2)
        b.nodes[3].inputs = [NodeOutput("last")]
        b.nodes[3].op = .output(OutputAttributes(kind: .dense, units: 4, activation: .softmax(axis: -1), loss: "MCXENT"))
        try assertSameFunction(b, try b.widen(layer: "rnn_1", by: 3, mode: .split(noise: 0)), inputs: sequences)
    }

    /// Stacked LSTMs with dropout between: widening the first carries into the second's kernel rows.
    func testStackedLSTMWithDropout() throws {
        var g = TestGraphs.sequenceModel(TestGraphs.lstm())
        let second = TestGraphs.lstm(5, peepholes: true)
        g.nodes.insert(Node(name: "drop", op: .dropout(kind: "Dropout", rate: 0.2), inputs: [NodeOutput("rnn_1")]), at: 2)
        g.nodes.insert(TestGraphs.node("rnn_2", second, ["drop"], TestGraphs.recurrentParams(second, input: 5), seed: 40), at: 3)
        g.nodes[4].inputs = [NodeOutput("rnn_2")]
        for mode in [WidenMode.zeroFanOut, .split(noise: 0)] {
            let w = try g.widen(layer: "rnn_1", by: 4, mode: mode)
            XCTAssertEqual(w.node(named: "rnn_2")!.parameters["kernel"]!.shape, [9, 20])
            XCTAssertEqual(w.node(named: "rnn_2")!.parameters["recurrentKernel"], g.node(named: "rnn_2")!.parameters["recurrentKernel"])
            try assertSameFunction(g, w, inputs: sequences)
        }
        // And the second one, whose consumer is the RNN output layer.
        try assertSameFunction(g, try g.widen(layer: "rnn_2", by: 2), inputs: sequences)
    }
}
