import XCTest
import GraftCore
import GraftRuntime
@testable import GraftSurgery

/// Every unit-changing operation × every layer type it applies to, checked against its
/// function-preservation claim with the runtime: an op that records `functionPreserving`
/// must give equal outputs; every op must leave the layers it does not touch (all but the
/// target and its nearest consumers with parameters) bit-identical; and the claim must be
/// the one documented (formats/recipe.md). Graph-level ops (freeze, rename, remove…, add…,
/// setOutputs, fineTune, preprocessors) are covered once each in `HistoryAndPurityTests`.
final class PreservationMatrixTests: XCTestCase {
    typealias T = TestGraphs

    /// A graph around one layer `L` of the type under test, its inputs, and the ops to use
    /// for insertLayer / replaceLayer.
    struct LayerCase {
        var label: String
        var graph: Graph
        var inputs: [Tensor]
        /// A layer with as many units as `L`, whose identity init keeps the function (nil: none applies).
        var identity: Op?
        /// A fresh layer of `L`'s type with another width, for replaceLayer and a non-identity insertLayer.
        var replacement: Op
        /// The untrained layer inserted after `L` (default: `replacement`).
        var insertion: Op? = nil
    }

    static func flatInput(_ n: Int) -> Node { Node(name: "in", op: .input(InputAttributes(shape: [n]))) }
    static func sequenceInput(_ n: Int) -> Node { Node(name: "in", op: .input(InputAttributes(shape: [nil, n], layout: .sequenceTimeMajorFeatures))) }
    static func head(_ input: String, _ width: Int, sequence: Bool = false) -> Node {
        let op: Op = sequence ? .output(OutputAttributes(kind: .rnn, units: 3, activation: .softmax(axis: -1), loss: "MCXENT"))
                              : .dense(DenseAttributes(units: 3, activation: .linear))
        return T.node("head", op, [input], [("kernel", [width, 3]), ("bias", [3])], seed: 99)
    }

    static func convCase(rank: Int) -> LayerCase {
        let spatial = Array(repeating: 4, count: rank), k = Array(repeating: 3, count: rank)
        func conv(_ filters: Int, _ act: ActivationFunction) -> Op {
            .conv(ConvAttributes(rank: rank, filters: filters, kernelSize: k, padding: .same, activation: act))
        }
        let g = Graph(nodes: [Node(name: "in", op: .input(InputAttributes(shape: spatial + [2], layout: .channelsLast))),
                              T.node("L", conv(4, .plainRelu), ["in"], [("kernel", k + [2, 4]), ("bias", [4])], seed: 1),
                              Node(name: "gap", op: .globalPooling(GlobalPoolingAttributes(kind: .average, rank: rank)), inputs: [NodeOutput("L")]),
                              head("gap", 4)],
                      outputs: [NodeOutput("head")])
        return LayerCase(label: "conv\(rank)d", graph: g, inputs: [T.random([2] + spatial + [2], seed: 5, scale: 1)],
                         identity: conv(4, .plainRelu), replacement: conv(6, .tanh))
    }

    static func recurrentCase(_ label: String, _ op: Op, _ replacement: Op) -> LayerCase {
        var g = T.sequenceModel(op)
        g.nodes[1].name = "L"
        g.nodes[2].inputs = [NodeOutput("L")]
        return LayerCase(label: label, graph: g, inputs: [T.random([2, 5, 3], seed: 6, scale: 1)], identity: nil, replacement: replacement)
    }

    static var cases: [LayerCase] {
        var out: [LayerCase] = []
        // Dense
        out.append(LayerCase(label: "dense",
                             graph: Graph(nodes: [flatInput(6), T.node("L", .dense(DenseAttributes(units: 5, activation: .plainRelu)), ["in"],
                                                                       [("kernel", [6, 5]), ("bias", [5])], seed: 1), head("L", 5)],
                                          outputs: [NodeOutput("head")]),
                             inputs: [T.random([3, 6], seed: 2, scale: 1)],
                             identity: .dense(DenseAttributes(units: 5, activation: .plainRelu)),
                             replacement: .dense(DenseAttributes(units: 7, activation: .tanh))))
        out += [convCase(rank: 1), convCase(rank: 2), convCase(rank: 3)]
        // Embedding → global average pooling → head
        let emb = Graph(nodes: [Node(name: "in", op: .input(InputAttributes(shape: [nil]))),
                                T.node("L", .embedding(EmbeddingAttributes(inputDim: 10, outputDim: 4)), ["in"], [("embeddings", [10, 4])], seed: 1),
                                Node(name: "gap", op: .globalPooling(GlobalPoolingAttributes(kind: .average, rank: 1)), inputs: [NodeOutput("L")]),
                                head("gap", 4)],
                        outputs: [NodeOutput("head")])
        out.append(LayerCase(label: "embedding", graph: emb, inputs: [Tensor(shape: [2, 5], floats: [1, 2, 3, 4, 5, 9, 8, 7, 0, 6])],
                             identity: nil, replacement: .embedding(EmbeddingAttributes(inputDim: 10, outputDim: 6)), insertion: T.lstm(3)))
        out.append(recurrentCase("simpleRNN", T.simpleRNN(), T.simpleRNN(3)))
        out.append(recurrentCase("lstm", T.lstm(), T.lstm(3)))
        out.append(recurrentCase("gravesLSTM", T.lstm(peepholes: true), T.lstm(3, peepholes: true)))
        out.append(recurrentCase("gru", T.gru(resetAfter: false), T.gru(3, resetAfter: false)))
        out.append(recurrentCase("gru-resetAfter", T.gru(resetAfter: true), T.gru(3, resetAfter: true)))
        // Bidirectional(LSTM), concat merge
        let inner = T.lstm(4)
        let bi = Op.bidirectional(BidirectionalAttributes(mergeMode: .concat, layer: inner))
        let biGraph = Graph(nodes: [sequenceInput(3),
                                    T.node("L", bi, ["in"], T.recurrentParams(inner, input: 3, prefix: "forward/") + T.recurrentParams(inner, input: 3, prefix: "backward/"), seed: 1),
                                    head("L", 8, sequence: true)],
                            outputs: [NodeOutput("head")])
        out.append(LayerCase(label: "bidirectional", graph: biGraph, inputs: [T.random([2, 5, 3], seed: 7, scale: 1)], identity: nil,
                             replacement: .bidirectional(BidirectionalAttributes(mergeMode: .concat, layer: T.gru(2, resetAfter: true)))))
        // A DL4J output layer with weights that is not a graph output (tanh: no channel mixing)
        let outputOp = Op.output(OutputAttributes(kind: .dense, units: 5, activation: .tanh, loss: "MSE"))
        out.append(LayerCase(label: "output",
                             graph: Graph(nodes: [flatInput(6), T.node("L", outputOp, ["in"], [("kernel", [6, 5]), ("bias", [5])], seed: 1), head("L", 5)],
                                          outputs: [NodeOutput("head")]),
                             inputs: [T.random([3, 6], seed: 2, scale: 1)],
                             identity: .dense(DenseAttributes(units: 5, activation: .linear)),
                             replacement: .output(OutputAttributes(kind: .dense, units: 2, activation: .tanh, loss: "MSE"))))
        // TimeDistributed(Dense) on sequences
        let td = Op.timeDistributed(layer: .dense(DenseAttributes(units: 5, activation: .tanh)))
        out.append(LayerCase(label: "timeDistributed(dense)",
                             graph: Graph(nodes: [sequenceInput(3), T.node("L", td, ["in"], [("kernel", [3, 5]), ("bias", [5])], seed: 1),
                                                  head("L", 5, sequence: true)],
                                          outputs: [NodeOutput("head")]),
                             inputs: [T.random([2, 5, 3], seed: 8, scale: 1)], identity: nil,
                             replacement: .timeDistributed(layer: .dense(DenseAttributes(units: 2)))))
        return out
    }

    /// The ops of the matrix: label, the edit, and the documented claim.
    static func operations(_ c: LayerCase) throws -> [(String, (Graph) throws -> Graph, preserving: Bool)] {
        let n = try channelCount(c.graph.node(named: "L")!)
        var ops: [(String, (Graph) throws -> Graph, preserving: Bool)] = [
            ("widen zero-fan-out", { try $0.widen(layer: "L", by: 3) }, true),
            ("widen split", { try $0.widen(layer: "L", by: 3, mode: .split(noise: 0), seed: 9) }, true),
            ("widen split with noise", { try $0.widen(layer: "L", by: 3, mode: .split(noise: 0.1), seed: 9) }, false),
            ("prune", { try $0.prune(layer: "L", units: [0, n - 1]) }, false),
            ("nOutReplace same width", { try $0.nOutReplace(layer: "L", nOut: n) }, true),
            ("nOutReplace grow", { try $0.nOutReplace(layer: "L", nOut: n + 2) }, false),
            ("nOutReplace shrink", { try $0.nOutReplace(layer: "L", nOut: n - 1) }, false),
            ("insertLayer untrained", { try $0.insertLayer(after: "L", name: "new", op: c.insertion ?? c.replacement, init: .glorotUniform) }, false),
            ("replaceLayer", { try $0.replaceLayer("L", op: c.replacement) }, false),
        ]
        if let identity = c.identity {
            ops.append(("insertLayer identity", { try $0.insertLayer(after: "L", name: "new", op: identity, init: .identity) }, true))
        }
        return ops
    }

    /// `L`, and the nearest nodes with parameters downstream of it (through parameterless ones).
    static func touched(_ g: Graph) -> Set<String> {
        var out: Set<String> = ["L"], frontier = ["L"]
        while let name = frontier.popLast() {
            for consumer in g.nodes where consumer.inputs.contains(where: { $0.node == name }) {
                guard out.insert(consumer.name).inserted else { continue }
                if consumer.parameters.isEmpty { frontier.append(consumer.name) }
            }
        }
        return out
    }

    func testEveryOperationOnEveryLayerType() throws {
        var checked = 0
        for c in Self.cases {
            let g = c.graph
            XCTAssertNoThrow(try g.validate(), c.label)
            let before = try Interpreter(graph: g).run(c.inputs)
            for (op, edit, preserving) in try Self.operations(c) {
                let label = "\(c.label) × \(op)"
                let e: Graph
                do { e = try edit(g) } catch { XCTFail("\(label): \(error)"); continue }
                XCTAssertEqual(g, c.graph, "\(label) changed its input")
                XCTAssertNoThrow(try e.validate(), label)
                XCTAssertEqual(e.history.last?.functionPreserving, preserving, "\(label): recorded claim")
                let after = try Interpreter(graph: e).run(c.inputs)
                let d = maxDifference(before, after)
                if preserving {
                    XCTAssertLessThanOrEqual(d, 1e-6, "\(label): outputs differ by \(d)")
                } else {
                    XCTAssertEqual(after.map(\.shape), before.map(\.shape), label)
                }
                for node in g.nodes where !Self.touched(g).contains(node.name) {
                    XCTAssertEqual(e.node(named: node.name)?.parameters, node.parameters, "\(label): \(node.name) changed")
                }
                checked += 1
            }
        }
        XCTAssertEqual(checked, 13 * 9 + 5)
    }
}
