import Foundation
import GraftCore
import GraftDL4J
import GraftRuntime
import OrderedCollections
import XCTest

/// Hand-checked small cases of the DL4J writer: the flat vector's order and layouts,
/// the LSTM gate reorder (inverse of the reader's), frozen wrappers, refusals.
final class DL4JWriterTests: XCTestCase {
    func entries(_ graph: Graph) throws -> [String: [UInt8]] {
        Dictionary(try DL4JWriter.encode(graph).entries, uniquingKeysWith: { a, _ in a })
    }

    func flat(_ graph: Graph) throws -> [Double] {
        guard let bytes = try entries(graph)["coefficients.bin"] else { XCTFail("no coefficients.bin"); return [] }
        let array = try Nd4jArray.decode(bytes)
        XCTAssertEqual(array.shape.first, 1)
        return array.tensor.doubles()
    }

    func configuration(_ graph: Graph) throws -> JSONValue {
        try JSONValue.parse(bytes: try XCTUnwrap(try entries(graph)["configuration.json"]))
    }

    func denseNet(freeze: [FreezeState] = [.trainable, .trainable]) -> Graph {
        // kernel [nIn 3, nOut 2] row-major: k[r][c] = 10(r+1) + (c+1); bias [0.5, 0.25].
        let k1 = Tensor(shape: [3, 2], floats: [11, 12, 21, 22, 31, 32])
        let b1 = Tensor(shape: [2], floats: [0.5, 0.25])
        let k2 = Tensor(shape: [2, 1], floats: [7, 8])
        let b2 = Tensor(shape: [1], floats: [9])
        return Graph(nodes: [
            Node(name: "in", op: .input(InputAttributes(shape: [3]))),
            Node(name: "d1", op: .dense(DenseAttributes(units: 2, activation: .relu())), inputs: [NodeOutput("in")],
                 parameters: ["kernel": k1, "bias": b1], freeze: freeze[0]),
            Node(name: "d2", op: .dense(DenseAttributes(units: 1, activation: .sigmoid)), inputs: [NodeOutput("d1")],
                 parameters: ["kernel": k2, "bias": b2], freeze: freeze[1]),
        ], outputs: [NodeOutput("d2")])
    }

    /// DenseLayer W [nIn, nOut] column-major ('f'), then b; layer after layer.
    func testDenseFlatVectorOrder() throws {
        // Column 0 of k1 (11, 21, 31), column 1 (12, 22, 32), b1, then k2 (7, 8), b2.
        XCTAssertEqual(try flat(denseNet()), [11, 21, 31, 12, 22, 32, 0.5, 0.25, 7, 8, 9])
        let config = try configuration(denseNet())
        let layers = config["confs"]?.arrayValue?.compactMap { $0["layer"] } ?? []
        XCTAssertEqual(layers.map { $0["@class"]?.stringValue }, ["org.deeplearning4j.nn.conf.layers.DenseLayer",
                                                                  "org.deeplearning4j.nn.conf.layers.OutputLayer"])
        XCTAssertEqual(layers[0]["activationFn"]?["@class"]?.stringValue, "org.nd4j.linalg.activations.impl.ActivationReLU")
        XCTAssertEqual(layers[1]["lossFn"]?["@class"]?.stringValue, "org.nd4j.linalg.lossfunctions.impl.LossMSE")
        XCTAssertEqual(layers[0]["nin"]?.intValue, 3)
        XCTAssertEqual(layers[0]["nout"]?.intValue, 2)
    }

    /// IR gate blocks [i | f | c | o] → DL4J [a | f | o | g] with a = c, g = i; W, RW, b.
    func testLSTMGateReorder() throws {
        let graph = Graph(nodes: [
            Node(name: "in", op: .input(InputAttributes(shape: [nil, 1], layout: .sequenceTimeMajorFeatures))),
            Node(name: "lstm", op: .lstm(LSTMAttributes(RecurrentAttributes(units: 1, returnSequences: true))),
                 inputs: [NodeOutput("in")], parameters: [
                    "kernel": Tensor(shape: [1, 4], floats: [1, 2, 3, 4]),
                    "recurrentKernel": Tensor(shape: [1, 4], floats: [5, 6, 7, 8]),
                    "bias": Tensor(shape: [4], floats: [9, 10, 11, 12]),
                 ]),
        ], outputs: [NodeOutput("lstm")])
        XCTAssertEqual(try flat(graph), [3, 2, 4, 1, 7, 6, 8, 5, 11, 10, 12, 9])
        // Written then read: the reader's reorder undoes the writer's.
        let path = NSTemporaryDirectory() + "graft-lstm-\(getpid()).zip"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try DL4JWriter.write(graph, to: path)
        let back = try DL4JReader.read(path: path)
        let node = try XCTUnwrap(back.node(named: "lstm"))
        for key in ["kernel", "recurrentKernel", "bias"] {
            XCTAssertEqual(node.parameters[key]?.floats(), graph.node(named: "lstm")?.parameters[key]?.floats(), key)
        }
    }

    func testFrozenWrappers() throws {
        let graph = denseNet(freeze: [.frozen, .frozenWithBackprop])
        let layers = try configuration(graph)["confs"]?.arrayValue?.compactMap { $0["layer"] } ?? []
        XCTAssertEqual(layers[0]["@class"]?.stringValue, "org.deeplearning4j.nn.conf.layers.misc.FrozenLayer")
        XCTAssertEqual(layers[0]["layer"]?["@class"]?.stringValue, "org.deeplearning4j.nn.conf.layers.DenseLayer")
        XCTAssertEqual(layers[1]["@class"]?.stringValue, "org.deeplearning4j.nn.conf.layers.misc.FrozenLayerWithBackprop")
        XCTAssertEqual(layers[1]["underlying"]?["@class"]?.stringValue, "org.deeplearning4j.nn.conf.layers.OutputLayer")
        let path = NSTemporaryDirectory() + "graft-frozen-\(getpid()).zip"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try DL4JWriter.write(graph, to: path)
        let back = try DL4JReader.read(path: path)
        XCTAssertEqual(back.node(named: "d1")?.freeze, .frozen)
        XCTAssertEqual(back.node(named: "d2")?.freeze, .frozenWithBackprop)
        XCTAssertEqual(back.node(named: "d1")?.parameters["kernel"], graph.node(named: "d1")?.parameters["kernel"])
    }

    func testGRURefusedNamingTheLayer() throws {
        let graph = Graph(nodes: [
            Node(name: "in", op: .input(InputAttributes(shape: [nil, 1], layout: .sequenceTimeMajorFeatures))),
            Node(name: "my_gru", op: .gru(GRUAttributes(RecurrentAttributes(units: 1), resetAfter: false)), inputs: [NodeOutput("in")],
                 parameters: ["kernel": Tensor(zeros: [1, 3]), "recurrentKernel": Tensor(zeros: [1, 3]), "bias": Tensor(zeros: [3])]),
        ], outputs: [NodeOutput("my_gru")])
        XCTAssertThrowsError(try DL4JWriter.encode(graph)) { error in
            let e = error as? GraftError
            XCTAssertEqual(e?.kind, .unsupported)
            XCTAssertEqual(e?.location, "my_gru")
        }
    }

    /// Flatten of a channels-last [h 1, w 2, c 2] image: Keras kernel rows in (h, w, c)
    /// order become DL4J's (c, h, w) order, behind a CnnToFeedForwardPreProcessor.
    func testDenseAfterFlattenRowsPermuted() throws {
        let graph = Graph(nodes: [
            Node(name: "img", op: .input(InputAttributes(shape: [1, 2, 2], layout: .channelsLast))),
            Node(name: "flat", op: .flatten, inputs: [NodeOutput("img")]),
            Node(name: "out", op: .dense(DenseAttributes(units: 1)), inputs: [NodeOutput("flat")],
                 parameters: ["kernel": Tensor(shape: [4, 1], floats: [1, 2, 3, 4]), "bias": Tensor(shape: [1], floats: [5])]),
        ], outputs: [NodeOutput("out")])
        // Rows (w0 c0, w0 c1, w1 c0, w1 c1) = (1, 2, 3, 4) → (c0 w0, c0 w1, c1 w0, c1 w1) = (1, 3, 2, 4).
        XCTAssertEqual(try flat(graph), [1, 3, 2, 4, 5])
        let config = try configuration(graph)
        XCTAssertEqual(config["inputPreProcessors"]?["0"]?["@class"]?.stringValue,
                       "org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor")
        XCTAssertEqual(config["inputPreProcessors"]?["0"]?["numChannels"]?.intValue, 2)
    }

    /// The output layer's loss comes from a Keras training configuration when there is one.
    func testOutputLossFromKerasTrainingConfig() throws {
        var graph = denseNet()
        graph.source.extras = .object(["training_config": .object(["loss": .string("binary_crossentropy")])])
        let layers = try configuration(graph)["confs"]?.arrayValue?.compactMap { $0["layer"] } ?? []
        XCTAssertEqual(layers.last?["lossFn"]?["@class"]?.stringValue, "org.nd4j.linalg.lossfunctions.impl.LossBinaryXENT")
    }

    /// A Dense inside a sequence model is written between RnnToFeedForward and
    /// FeedForwardToRnn pre-processors; the DL4J graph computes what the IR graph computes.
    func testDenseOnSequencesRunsEqual() throws {
        let graph = Graph(nodes: [
            Node(name: "seq", op: .input(InputAttributes(shape: [nil, 2], layout: .sequenceTimeMajorFeatures))),
            Node(name: "td", op: .dense(DenseAttributes(units: 3, activation: .tanh)), inputs: [NodeOutput("seq")],
                 parameters: ["kernel": Tensor(shape: [2, 3], floats: [0.1, -0.2, 0.3, 0.4, 0.5, -0.6]),
                              "bias": Tensor(shape: [3], floats: [0.01, 0.02, 0.03])]),
            Node(name: "out", op: .dense(DenseAttributes(units: 1)), inputs: [NodeOutput("td")],
                 parameters: ["kernel": Tensor(shape: [3, 1], floats: [1, -1, 2]), "bias": Tensor(shape: [1], floats: [0.5])]),
        ], outputs: [NodeOutput("out")])
        let config = try configuration(graph)
        XCTAssertEqual(config["inputPreProcessors"]?["0"]?["@class"]?.stringValue,
                       "org.deeplearning4j.nn.conf.preprocessor.RnnToFeedForwardPreProcessor")
        XCTAssertEqual(config["inputPreProcessors"]?["1"]?["@class"]?.stringValue,
                       "org.deeplearning4j.nn.conf.preprocessor.FeedForwardToRnnPreProcessor")
        let path = NSTemporaryDirectory() + "graft-td-\(getpid()).zip"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try DL4JWriter.write(graph, to: path)
        let back = try DL4JReader.read(path: path)
        let x = Tensor(shape: [2, 4, 2], floats: (0..<16).map { Float($0) / 8 - 1 })
        let want = try Interpreter(graph: graph).run([x])[0]
        var got = try Interpreter(graph: back).run([try x.transposed([0, 2, 1])])[0]
        if got.shape != want.shape { got = try got.transposed([0, 2, 1]) }
        XCTAssertEqual(got.shape, want.shape)
        for (a, b) in zip(got.doubles(), want.doubles()) { XCTAssertEqual(a, b, accuracy: 1e-6) }
    }
}
