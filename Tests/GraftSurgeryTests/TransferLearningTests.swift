import XCTest
import GraftCore
import GraftRuntime
@testable import GraftSurgery

/// DL4J TransferLearning parity on a small VGG-style head: in → fc1 → fc2 → predictions.
final class TransferLearningTests: XCTestCase {
    typealias T = TestGraphs
    func model() -> Graph { Self.vggHead() }
    static func vggHead() -> Graph {
        Graph(nodes: [Node(name: "in", op: .input(InputAttributes(shape: [8]))),
                      T.node("fc1", .dense(DenseAttributes(units: 6, activation: .plainRelu)), ["in"], [("kernel", [8, 6]), ("bias", [6])], seed: 1),
                      T.node("fc2", .dense(DenseAttributes(units: 5, activation: .plainRelu)), ["fc1"], [("kernel", [6, 5]), ("bias", [5])], seed: 2),
                      T.node("predictions", .output(OutputAttributes(kind: .dense, units: 10, activation: .softmax(axis: -1), loss: "MCXENT")),
                             ["fc2"], [("kernel", [5, 10]), ("bias", [10])], seed: 3)],
              outputs: [NodeOutput("predictions")])
    }
    let x = [TestGraphs.random([3, 8], seed: 11, scale: 1)]

    func assertUntouched(_ a: Graph, _ b: Graph, _ names: [String], file: StaticString = #filePath, line: UInt = #line) {
        for n in names { XCTAssertEqual(a.node(named: n)?.parameters, b.node(named: n)?.parameters, n, file: file, line: line) }
    }

    func testFreezeVariants() throws {
        let g = model()
        let f = try g.setFeatureExtractor(["fc2"])
        XCTAssertEqual(f.nodes.map(\.freeze), [.frozen, .frozen, .frozen, .trainable])
        XCTAssertEqual(g.nodes.map(\.freeze), [.trainable, .trainable, .trainable, .trainable])
        XCTAssertEqual(try g.freeze(upTo: "fc1").nodes.map(\.freeze), [.frozen, .frozen, .trainable, .trainable])
        XCTAssertEqual(try g.freeze(regex: "^fc").nodes.map(\.freeze), [.trainable, .frozen, .frozen, .trainable])
        XCTAssertEqual(try g.freeze(names: ["predictions"]).unfreeze().nodes.map(\.freeze), [.trainable, .trainable, .trainable, .trainable])
        XCTAssertEqual(try f.unfreeze(names: ["fc1"]).nodes.map(\.freeze), [.frozen, .trainable, .frozen, .trainable])
        XCTAssertEqual(f.history.map(\.operation), ["setFeatureExtractor"])
        assertGraftError(.invalidArgument, mentioning: "matches no node") { try g.freeze(regex: "^zz") }
        try assertSameFunction(g, f, inputs: x)
    }

    /// DL4J's VGG16 example: freeze up to fc2, nOutReplace fc2, new 256-style layer, new head.
    func testVGGStyleTransfer() throws {
        let g = model()
        let t = try g.setFeatureExtractor(["fc1"])
            .nOutReplace(layer: "fc2", nOut: 7, weightInit: .xavierAlias, seed: 3)
            .removeOutputLayer()
            .addLayer(name: "fc3", op: .dense(DenseAttributes(units: 4, activation: .plainRelu)), inputs: ["fc2"])
            .addLayer(name: "newpredictions", op: .output(OutputAttributes(kind: .dense, units: 5, activation: .softmax(axis: -1), loss: "MCXENT")),
                      inputs: ["fc3"])
            .setOutputs(["newpredictions"])
        XCTAssertEqual(t.nodes.map(\.name), ["in", "fc1", "fc2", "fc3", "newpredictions"])
        XCTAssertEqual(t.node(named: "fc2")!.parameters["kernel"]!.shape, [6, 7])
        XCTAssertEqual(t.node(named: "fc3")!.parameters["kernel"]!.shape, [7, 4])
        assertUntouched(g, t, ["fc1"])
        XCTAssertEqual(t.node(named: "fc1")!.freeze, .frozen)
        // Kept units of fc2 keep their trained weights (columns 0..<5).
        let old = g.node(named: "fc2")!.parameters["kernel"]!.doubles(), new = t.node(named: "fc2")!.parameters["kernel"]!.doubles()
        for r in 0..<6 { for c in 0..<5 { XCTAssertEqual(new[r * 7 + c], old[r * 5 + c]) } }
        XCTAssertEqual(try Interpreter(graph: t).run(x)[0].shape, [3, 5])
        XCTAssertEqual(t.history.map(\.operation), ["setFeatureExtractor", "nOutReplace", "removeOutputLayer", "addLayer", "addLayer", "setOutputs"])
    }

    func testNOutReplaceShrinkKeepsFirstUnitsAndResizesConsumer() throws {
        let g = model()
        let s = try g.nOutReplace(layer: "fc2", nOut: 3)
        XCTAssertEqual(s.node(named: "predictions")!.parameters["kernel"]!.shape, [3, 10])
        XCTAssertEqual(Array(s.node(named: "predictions")!.parameters["kernel"]!.doubles()),
                       Array(g.node(named: "predictions")!.parameters["kernel"]!.doubles()[0..<30]))
        // Growing an output layer is allowed and changes the output width.
        XCTAssertEqual(try Interpreter(graph: try g.nOutReplace(layer: "predictions", nOut: 12)).run(x)[0].shape, [3, 12])
        // Fan-out zeros keeps the function.
        try assertSameFunction(g, try g.nOutReplace(layer: "fc1", nOut: 9, fanOutWeightInit: .zeros), inputs: x)
    }

    func testRemoveAndReconnect() throws {
        let g = model()
        let r = try g.removeLayersFromOutput(2)
        XCTAssertEqual(r.nodes.map(\.name), ["in", "fc1"])
        XCTAssertEqual(r.outputs, [NodeOutput("fc1")])
        assertGraftError(.invalidArgument, mentioning: "input") { try g.removeLayersFromOutput(3) }
        let cut = try g.removeVertexAndConnections("fc2")
        XCTAssertEqual(cut.nodes.map(\.name), ["in", "fc1"])
        XCTAssertTrue(cut.outputs.isEmpty)
        // Bypassing a width-changing node is an nIn mismatch.
        assertGraftError(.invalidArgument, mentioning: "nIn mismatch") { try g.removeVertexKeepConnections("fc2") }
        var d = g
        d.nodes.insert(Node(name: "drop", op: .dropout(kind: "Dropout", rate: 0.5), inputs: [NodeOutput("fc1")]), at: 2)
        d.nodes[3].inputs = [NodeOutput("drop")]
        let k = try d.removeVertexKeepConnections("drop")
        XCTAssertEqual(k.nodes, g.nodes)
    }

    func testInsertIdentityIsExact() throws {
        let g = model()
        for (op, preserving) in [(Op.dense(DenseAttributes(units: 6, activation: .plainRelu)), true),
                                 (.dense(DenseAttributes(units: 6, activation: .linear)), true),
                                 (.dense(DenseAttributes(units: 6, activation: .tanh)), false)] {
            let i = try g.insertLayer(after: "fc1", name: "deeper", op: op, init: .identity)
            XCTAssertEqual(i.nodes.map(\.name), ["in", "fc1", "deeper", "fc2", "predictions"])
            XCTAssertEqual(i.history.last?.functionPreserving, preserving)
            if preserving { try assertSameFunction(g, i, inputs: x) }
            assertUntouched(g, i, ["fc1", "fc2", "predictions"])
        }
        assertGraftError(.invalidArgument, mentioning: "identity") {
            try g.insertLayer(after: "fc1", name: "deeper", op: .dense(DenseAttributes(units: 4)), init: .identity)
        }
        assertGraftError(.invalidArgument, mentioning: "already exists") {
            try g.insertLayer(after: "fc1", name: "fc2", op: .dense(DenseAttributes(units: 6)))
        }
    }

    func testInsertIdentityConv() throws {
        let c1 = ConvAttributes(rank: 2, filters: 3, kernelSize: [3, 3], padding: .same, activation: .plainRelu)
        let g = Graph(nodes: [Node(name: "in", op: .input(InputAttributes(shape: [6, 6, 2], layout: .channelsLast))),
                              T.node("c1", .conv(c1), ["in"], [("kernel", [3, 3, 2, 3]), ("bias", [3])], seed: 1),
                              Node(name: "gap", op: .globalPooling(GlobalPoolingAttributes(kind: .average, rank: 2)), inputs: [NodeOutput("c1")])],
                      outputs: [NodeOutput("gap")])
        let i = try g.insertLayer(after: "c1", name: "c2",
                                  op: .conv(ConvAttributes(rank: 2, filters: 3, kernelSize: [3, 3], padding: .same, activation: .plainRelu)))
        XCTAssertEqual(i.history.last?.functionPreserving, true)
        try assertSameFunction(g, i, inputs: [T.random([2, 6, 6, 2], seed: 4, scale: 1)])
    }

    func testReplaceRenameFineTune() throws {
        let g = model()
        let r = try g.replaceLayer("fc2", op: .dense(DenseAttributes(units: 9, activation: .tanh)))
        XCTAssertEqual(r.node(named: "predictions")!.parameters["kernel"]!.shape, [9, 10])
        assertUntouched(g, r, ["fc1"])
        let n = try g.rename("fc2", to: "hidden")
        XCTAssertEqual(n.node(named: "predictions")!.inputs, [NodeOutput("hidden")])
        try assertSameFunction(g, n, inputs: x)
        assertGraftError(.invalidArgument, mentioning: "already exists") { try g.rename("fc1", to: "fc2") }
        let ft = try g.freeze(upTo: "fc1").fineTune(FineTuneConfiguration(updater: "adam", learningRate: 1e-4, l2: 1e-5, seed: 12))
        XCTAssertNil(ft.node(named: "fc1")!.extras["fineTune"])
        XCTAssertEqual(ft.node(named: "fc2")!.extras["fineTune"]?["updater"]?.stringValue, "adam")
        XCTAssertEqual(ft.node(named: "fc2")!.extras["fineTune"]?["learningRate"]?.doubleValue, 1e-4)
        XCTAssertEqual(ft.history.last?.operation, "fineTune")
        // A fine-tune weight init is the default for layers added after it.
        let zeroInit = try g.fineTune(FineTuneConfiguration(weightInit: "zeros"))
            .addLayer(name: "extra", op: .dense(DenseAttributes(units: 3)), inputs: ["fc2"])
        XCTAssertTrue(zeroInit.node(named: "extra")!.parameters["kernel"]!.doubles().allSatisfy { $0 == 0 })
        let own = try g.fineTune(FineTuneConfiguration(weightInit: "zeros"))
            .addLayer(name: "extra", op: .dense(DenseAttributes(units: 3)), inputs: ["fc2"], weightInit: .ones)
        XCTAssertTrue(own.node(named: "extra")!.parameters["kernel"]!.doubles().allSatisfy { $0 == 1 })
    }

    func testSetInputPreProcessor() throws {
        let g = model()
        let p = try g.setInputPreProcessor(layer: "fc1", .cnnToFeedForward(height: 1, width: 1, channels: 8))
        XCTAssertEqual(p.nodes.map(\.name), ["in", "fc1/preprocessor", "fc1", "fc2", "predictions"])
        try assertSameFunction(g, p, inputs: x)
        let q = try p.setInputPreProcessor(layer: "fc1", .cnnToFeedForward(height: 2, width: 2, channels: 2))
        XCTAssertEqual(q.nodes.count, 5)
        XCTAssertEqual(q.node(named: "fc1/preprocessor")!.op, .dl4jVertex(.preprocessor(.cnnToFeedForward(height: 2, width: 2, channels: 2))))
        // A preprocessor that does not fit the data is refused: the result would not validate.
        assertGraftError(.invalidGraph, mentioning: "rnnToFeedForward") { try g.setInputPreProcessor(layer: "fc1", .rnnToFeedForward) }
    }

}

extension WeightInit { static let xavierAlias = WeightInit.glorotUniform }
