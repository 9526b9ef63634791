import GraftCore
@testable import GraftKeras
import OrderedCollections
import XCTest

/// Model-config handling (Sequential/Functional in Keras 1/2/3 forms, shared layers, nested
/// models, opaque and unknown layers) on hand-written configs with an in-memory weight store.
final class KerasGraphBuilderTests: XCTestCase {
    /// Weights by layer path (`outer/inner`).
    struct MemoryStore: KerasWeightStore {
        var weights: [String: [Tensor]]
        func weights(path: [KerasLayerSpec]) throws -> [KerasWeight] {
            let key = path.map(\.name).joined(separator: "/")
            return (weights[key] ?? []).enumerated().map { KerasWeight(name: "\(key)/\($0.offset)", tensor: $0.element) }
        }
    }

    let producer = KerasProducer(major: 2, version: "2.2.4", backend: "tensorflow")

    func build(_ config: String, weights: [String: [Tensor]]) throws -> (nodes: [Node], outputs: [NodeOutput]) {
        let model = try KerasModelConfigParser.parseModel(try JSONValue.parse(config), file: "mem")
        var builder = KerasGraphBuilder(producer: producer, file: "mem", store: MemoryStore(weights: weights))
        let outputs = try builder.build(model)
        return (builder.nodes, outputs)
    }

    func dense(_ inputs: Int, _ units: Int) -> [Tensor] {
        [Tensor(shape: [inputs, units], floats: (0..<(inputs * units)).map(Float.init)),
         Tensor(shape: [units], floats: Array(repeating: 0.5, count: units))]
    }

    func testBareListSequentialTakesInputFromFirstLayer() throws {
        let config = #"{"class_name": "Sequential", "config": [{"class_name": "Dense", "config": {"name": "d1", "output_dim": 3, "batch_input_shape": [null, 4], "trainable": false}}]}"#
        let (nodes, outputs) = try build(config, weights: ["d1": dense(4, 3)])
        XCTAssertEqual(nodes.map(\.name), ["d1_input", "d1"])
        XCTAssertEqual(nodes[0].op, .input(InputAttributes(shape: [4], layout: .flat)))
        XCTAssertEqual(nodes[1].inputs, [NodeOutput("d1_input")])
        XCTAssertEqual(nodes[1].freeze, .frozen)
        XCTAssertEqual(outputs, [NodeOutput("d1")])
        XCTAssertEqual(nodes[1].extras["keras"]?["class_name"]?.stringValue, "Dense")
    }

    func testSharedLayerGetsOneNodePerCallSharingTensors() throws {
        // Keras 2 form; the shared layer `d` is listed before `b`, whose output its second call uses.
        let config = #"""
        {"class_name": "Model", "config": {"name": "m", "layers": [
          {"name": "in", "class_name": "InputLayer", "config": {"batch_input_shape": [null, 2]}, "inbound_nodes": []},
          {"name": "d", "class_name": "Dense", "config": {"name": "d", "units": 2}, "inbound_nodes": [[["in", 0, 0, {}]], [["b", 0, 0, {}]]]},
          {"name": "b", "class_name": "Dense", "config": {"name": "b", "units": 2}, "inbound_nodes": [[["d", 0, 0, {}]]]},
          {"name": "sum", "class_name": "Add", "config": {"name": "sum"}, "inbound_nodes": [[["d", 0, 0, {}], ["d", 1, 0, {}]]]}
        ], "input_layers": [["in", 0, 0]], "output_layers": [["sum", 0, 0]]}}
        """#
        let (nodes, outputs) = try build(config, weights: ["d": dense(2, 2), "b": dense(2, 2)])
        XCTAssertEqual(nodes.map(\.name), ["in", "d", "b", "d_call1", "sum"])
        let first = nodes[1], second = nodes[3]
        XCTAssertEqual(second.inputs, [NodeOutput("b")])
        XCTAssertTrue(first.parameters["kernel"]!.storage === second.parameters["kernel"]!.storage)
        XCTAssertEqual(second.extras["sharedLayer"]?.stringValue, "d")
        XCTAssertEqual(nodes[4].inputs, [NodeOutput("d"), NodeOutput("d_call1")])
        XCTAssertEqual(outputs, [NodeOutput("sum")])
    }

    func testKeras3InboundFormAndNestedSequential() throws {
        let config = #"""
        {"module": "keras", "class_name": "Functional", "config": {"name": "outer", "layers": [
          {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 3], "name": "x"}, "name": "x", "inbound_nodes": []},
          {"module": "keras", "class_name": "Sequential", "config": {"name": "inner", "layers": [
              {"class_name": "InputLayer", "config": {"batch_shape": [null, 3], "name": "inner_in"}},
              {"class_name": "Dense", "config": {"name": "h", "units": 2}}]},
           "name": "inner", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 3], "keras_history": ["x", 0, 0]}}], "kwargs": {}}]},
          {"module": "keras.layers", "class_name": "Concatenate", "config": {"name": "cat", "axis": -1}, "name": "cat",
           "inbound_nodes": [{"args": [[{"class_name": "__keras_tensor__", "config": {"keras_history": ["inner", 0, 0]}},
                                        {"class_name": "__keras_tensor__", "config": {"keras_history": ["x", 0, 0]}}]], "kwargs": {}}]}
        ], "input_layers": ["x", 0, 0], "output_layers": ["cat", 0, 0]}}
        """#
        let (nodes, outputs) = try build(config, weights: ["inner/h": dense(3, 2)])
        XCTAssertEqual(nodes.map(\.name), ["x", "inner/h", "cat"])
        XCTAssertEqual(nodes[1].inputs, [NodeOutput("x")])
        XCTAssertEqual(nodes[2].inputs, [NodeOutput("inner/h"), NodeOutput("x")])
        XCTAssertEqual(outputs, [NodeOutput("cat")])
    }

    func testLambdaIsOpaqueAndUnknownClassIsNamed() throws {
        let lambda = #"{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "Dense", "config": {"name": "d", "units": 2, "batch_input_shape": [null, 2]}}, {"class_name": "Lambda", "config": {"name": "lam", "function": ["4wEAAA==", null, null]}}]}}"#
        let (nodes, _) = try build(lambda, weights: ["d": dense(2, 2)])
        guard case .opaque(let a) = nodes[2].op else { return XCTFail("Lambda not opaque") }
        XCTAssertEqual(a.className, "Lambda")
        XCTAssertEqual(a.config["function"]?[0]?.stringValue, "4wEAAA==")

        let custom = #"{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "MyLayer", "config": {"name": "mine", "batch_input_shape": [null, 2]}}]}}"#
        XCTAssertThrowsError(try build(custom, weights: [:])) { error in
            let e = error as? GraftError
            XCTAssertEqual(e?.kind, .unknownLayer)
            XCTAssertEqual(e?.location, "layer 'mine' (MyLayer)")
            XCTAssertEqual(e?.found, "MyLayer")
        }
        let registered = #"{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 2], "name": "i"}}, {"module": null, "class_name": "MyLayer", "registered_name": "pkg>MyLayer", "config": {"name": "mine"}}]}}"#
        XCTAssertTrue(try build(registered, weights: [:]).nodes[1].op.isOpaque)
    }

    func testSnakeCaseMatchesKeras3AttributePaths() {
        let cases = ["Dense": "dense", "LSTM": "lstm", "BatchNormalization": "batch_normalization", "Conv2D": "conv2d",
                     "InputLayer": "input_layer", "TimeDistributed": "time_distributed",
                     "GlobalAveragePooling2D": "global_average_pooling2d", "Bidirectional": "bidirectional"]
        for (cls, expected) in cases { XCTAssertEqual(KerasModelConfigParser.snakeCase(cls), expected, cls) }
    }
}
