import Foundation
import GraftCore
@testable import GraftDL4J
import XCTest

/// Configuration parsing per JSON generation, and parameter conversion on small flat
/// vectors whose expected canonical layouts are worked out by hand in each test.
final class DL4JConfigTests: XCTestCase {
    func parse(_ text: String) throws -> DL4JNetworkConfig { try DL4JNetworkConfig.parse(try JSONValue.parse(text)) }

    func build(_ text: String, flat: [Float]?) throws -> Graph {
        try DL4JReader.build(try parse(text), flat: flat.map { Tensor(shape: [$0.count], floats: $0) }, file: "test")
    }

    // MARK: Generations

    let legacyStringActivations = """
    {"backprop": true, "confs": [
      {"layer": {"dense": {"activationFunction": "relu", "nin": 3, "nout": 4, "layerName": null}}},
      {"layer": {"output": {"activationFunction": "softmax", "lossFunction": "MCXENT", "nin": 4, "nout": 2}}}
    ], "inputPreProcessors": {}}
    """

    func testLegacyStringActivation() throws {
        let cfg = try parse(legacyStringActivations)
        XCTAssertEqual(cfg.kind, .multiLayerNetwork)
        XCTAssertEqual(cfg.layers.map(\.type), ["dense", "output"])
        XCTAssertEqual(cfg.layers.map(\.activationName), ["relu", "softmax"])
        XCTAssertEqual(cfg.layers[0].nIn, 3)
        XCTAssertEqual(try DL4JReader.parameterCount(of: cfg), 3 * 4 + 4 + 4 * 2 + 2)
        let g = try DL4JReader.readConfiguration(json: try JSONValue.parse(legacyStringActivations))
        XCTAssertEqual(g.nodes.map(\.name), ["input", "layer0", "layer1"])
        XCTAssertEqual(g.nodes[1].op, .dense(DenseAttributes(units: 4, activation: .relu())))
        XCTAssertEqual(g.nodes[2].op, .output(OutputAttributes(kind: .dense, units: 2, activation: .softmax(axis: -1), loss: "MCXENT")))
        XCTAssertEqual(g.outputs, [NodeOutput("layer1")])
    }

    func testLegacyActivationObjectsAndLossWrapper() throws {
        let cfg = try parse("""
        {"confs": [{"layer": {"dense": {"activationFn": {"TanH": {}}, "nin": 2, "nout": 2, "layerName": "a"}}},
                   {"layer": {"output": {"activationFn": {"LReLU": {"alpha": 0.2}}, "lossFn": {"MSE": {}}, "nin": 2, "nout": 1}}}]}
        """)
        XCTAssertEqual(cfg.layers.map(\.activationName), ["tanh", "leakyrelu"])
        let g = try DL4JReader.build(cfg, flat: nil, file: nil)
        XCTAssertEqual(g.nodes[2].op, .output(OutputAttributes(kind: .dense, units: 1, activation: .leakyRelu(alpha: 0.2), loss: "MSE")))
    }

    func testClassFormWithDataType() throws {
        let cfg = try parse("""
        {"confs": [{"dataType": "DOUBLE", "layer": {"@class": "org.deeplearning4j.nn.conf.layers.DenseLayer",
           "activationFn": {"@class": "org.nd4j.linalg.activations.impl.ActivationSigmoid"}, "nin": 2, "nout": 3, "layerName": "d"}}],
         "inputPreProcessors": {}}
        """)
        XCTAssertEqual(cfg.layers[0].type, "DenseLayer")
        XCTAssertEqual(cfg.layers[0].activationName, "sigmoid")
        XCTAssertEqual(cfg.dataType, "DOUBLE")
        let g = try DL4JReader.build(cfg, flat: nil, file: nil)
        XCTAssertEqual(g.nodes[0].op, .input(InputAttributes(shape: [2], dtype: .float64, layout: .flat)))
    }

    func testFrozenWrappers() throws {
        let g = try build("""
        {"confs": [
          {"layer": {"FrozenLayer": {"layer": {"dense": {"activationFn": {"ReLU": {}}, "nin": 1, "nout": 1, "layerName": "f"}}}}},
          {"layer": {"@class": "org.deeplearning4j.nn.conf.layers.misc.FrozenLayerWithBackprop",
                     "underlying": {"@class": "org.deeplearning4j.nn.conf.layers.DenseLayer", "nin": 1, "nout": 1, "layerName": "g"}}},
          {"layer": {"dense": {"nin": 1, "nout": 1, "layerName": "h"}}}
        ]}
        """, flat: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(g.nodes.map(\.freeze), [.trainable, .frozen, .frozenWithBackprop, .trainable])
        XCTAssertEqual(g.nodes.map(\.name), ["input", "f", "g", "h"])
        XCTAssertEqual(g.nodes[2].parameters["kernel"]?.floats(), [3])
    }

    func testLastTimeStepAndMaskZeroWrappers() throws {
        let g = try DL4JReader.readConfiguration(json: """
        {"confs": [
          {"layer": {"@class": "org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep",
            "underlying": {"@class": "org.deeplearning4j.nn.conf.layers.recurrent.MaskZeroLayer", "maskingValue": -1.0,
              "underlying": {"@class": "org.deeplearning4j.nn.conf.layers.LSTM", "nin": 3, "nout": 2, "layerName": "rnn"}}}},
          {"layer": {"@class": "org.deeplearning4j.nn.conf.layers.OutputLayer", "nin": 2, "nout": 1,
            "lossFn": {"@class": "org.nd4j.linalg.lossfunctions.impl.LossMSE"}}}
        ]}
        """)
        XCTAssertEqual(g.nodes.map(\.name), ["input", "rnn/maskZero", "rnn", "rnn/lastTimeStep", "layer1"])
        XCTAssertEqual(g.nodes[1].op, .masking(maskValue: -1))
        XCTAssertEqual(g.nodes[3].op, .dl4jVertex(.lastTimeStep))
        XCTAssertEqual(g.nodes[4].inputs, [NodeOutput("rnn/lastTimeStep")])
        XCTAssertEqual(g.nodes[0].op, .input(InputAttributes(shape: [3, nil], layout: .sequenceFeaturesTime)))
    }

    func testCustomLayerIsOpaqueWithItsParameters() throws {
        let g = try build("""
        {"confs": [{"layer": {"dense": {"nin": 1, "nout": 2, "layerName": "a"}}},
                   {"layer": {"@class": "com.example.MyLayer", "nin": 2, "nout": 1, "layerName": "mine"}}]}
        """, flat: [1, 2, 3, 4, 5, 6, 7])
        guard case .opaque(let a) = g.nodes[2].op else { return XCTFail("not opaque") }
        XCTAssertEqual(a.className, "com.example.MyLayer")
        XCTAssertEqual(a.format, "dl4j")
        XCTAssertEqual(g.nodes[2].parameters["params"]?.floats(), [5, 6, 7])
    }

    func testRegisteredCustomParameterCountsSplitSeveralCustomLayers() throws {
        let cfg = try parse("""
        {"confs": [{"layer": {"@class": "com.example.A", "nin": 1, "nout": 1, "layerName": "a"}},
                   {"layer": {"@class": "com.example.B", "nin": 1, "nout": 1, "layerName": "b"}}]}
        """)
        let options = DL4JReader.Options(customParameterCounts: ["com.example.A": { _ in 4 }, "com.example.B": { _ in 1 }])
        let flat = Tensor(shape: [5], floats: [1, 2, 3, 4, 5])
        let g = try DL4JReader.build(cfg, flat: flat, file: nil, options: options)
        XCTAssertEqual(g.node(named: "a")?.parameters["params"]?.floats(), [1, 2, 3, 4])
        XCTAssertEqual(g.node(named: "b")?.parameters["params"]?.floats(), [5])
        // Without registration (and not dense-like: 2 + 2 ≠ 5) the split is ambiguous:
        // a clear error naming both classes.
        XCTAssertThrowsError(try DL4JReader.build(cfg, flat: flat, file: nil)) { error in
            XCTAssertEqual((error as? GraftError)?.location, "com.example.A, com.example.B")
        }
    }

    func testUnknownLegacyLayerIsAnErrorNamingIt() throws {
        XCTAssertThrowsError(try build("{\"confs\": [{\"layer\": {\"autoEncoder\": {\"nin\": 1, \"nout\": 1}}}]}", flat: nil)) { error in
            XCTAssertEqual((error as? GraftError)?.kind, .unknownLayer)
            XCTAssertEqual((error as? GraftError)?.found, "autoEncoder")
        }
    }

    func testTooFewOrTooManyParametersAreClearErrors() throws {
        let text = "{\"confs\": [{\"layer\": {\"dense\": {\"nin\": 2, \"nout\": 3}}}]}"
        XCTAssertThrowsError(try build(text, flat: [1, 2, 3])) { error in
            let e = error as? GraftError
            XCTAssertEqual(e?.kind, .shapeMismatch)
            XCTAssertEqual(e?.location, "coefficients.bin")
            XCTAssertEqual(e?.expected, "9 parameters")
        }
        XCTAssertThrowsError(try build(text, flat: (1...10).map(Float.init))) { error in
            XCTAssertEqual((error as? GraftError)?.found, "10")
        }
    }

    func testNotAZipOrNotAModelIsAClearError() throws {
        let path = NSTemporaryDirectory() + "graft-dl4j-not-a-zip.bin"
        try Data("hello".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertFalse(DL4JReader.isDL4JModel(path: path))
        XCTAssertThrowsError(try DL4JReader.read(path: path)) { error in
            XCTAssertEqual((error as? GraftError)?.file, path)
        }
    }

    func testNotAConfigurationIsAnError() throws {
        XCTAssertThrowsError(try parse("{\"layers\": []}")) { error in
            XCTAssertEqual((error as? GraftError)?.kind, .malformed)
        }
    }

    func testUpdaterNormalizedInBothGenerations() throws {
        let g = try build("""
        {"confs": [{"layer": {"dense": {"nin": 1, "nout": 1, "updater": "NESTEROVS", "learningRate": 0.15, "momentum": 0.9,
                                        "rmsDecay": "NaN"}}},
                   {"layer": {"@class": "org.deeplearning4j.nn.conf.layers.DenseLayer", "nin": 1, "nout": 1,
                              "iupdater": {"@class": "org.nd4j.linalg.learning.config.Adam", "beta1": 0.9, "learningRate": 0.005}}}]}
        """, flat: nil)
        XCTAssertEqual(g.nodes[1].extras["updater"], try JSONValue.parse("{\"type\": \"Nesterovs\", \"learningRate\": 0.15, \"momentum\": 0.9}"))
        XCTAssertEqual(g.nodes[2].extras["updater"], try JSONValue.parse("{\"type\": \"Adam\", \"beta1\": 0.9, \"learningRate\": 0.005}"))
    }

    // MARK: Parameter layouts

    func testDenseWeightsAreColumnMajor() throws {
        // W [2, 3] 'f' = 1..6: W[i][j] = 1 + i + 2j; then b = 7, 8, 9.
        let g = try build("{\"confs\": [{\"layer\": {\"dense\": {\"nin\": 2, \"nout\": 3}}}]}", flat: (1...9).map(Float.init))
        XCTAssertEqual(g.nodes[1].parameters["kernel"]?.shape, [2, 3])
        XCTAssertEqual(g.nodes[1].parameters["kernel"]?.floats(), [1, 3, 5, 2, 4, 6])
        XCTAssertEqual(g.nodes[1].parameters["bias"]?.floats(), [7, 8, 9])
    }

    func testConvolutionBiasFirstThenOIHWToHWIO() throws {
        // nIn 1, nOut 2, kernel 1x2: b = 1, 2; W [o][0][0][w] = 3 + 2o + w → canonical [0][w][0][o].
        let g = try build("""
        {"confs": [{"layer": {"convolution": {"nin": 1, "nout": 2, "kernelSize": [1, 2], "stride": [1, 1], "padding": [0, 0]}}}]}
        """, flat: (1...6).map(Float.init))
        let node = g.nodes[1]
        XCTAssertEqual(node.parameters["bias"]?.floats(), [1, 2])
        XCTAssertEqual(node.parameters["kernel"]?.shape, [1, 2, 1, 2])
        XCTAssertEqual(node.parameters["kernel"]?.floats(), [3, 5, 4, 6])
        XCTAssertEqual(g.nodes[0].op, .input(InputAttributes(shape: [1, nil, nil], layout: .channelsFirst)))
    }

    func testLSTMGateBlocksReordered() throws {
        // nIn 1, n 1. DL4J blocks [a f o g]: W = 1 2 3 4, RW = 5 6 7 8, b = 9 10 11 12.
        // Keras [i f c o] = [g f a o].
        let g = try build("{\"confs\": [{\"layer\": {\"LSTM\": {\"nin\": 1, \"nout\": 1}}}]}", flat: (1...12).map(Float.init))
        let p = g.nodes[1].parameters
        XCTAssertEqual(p["kernel"]?.floats(), [4, 2, 1, 3])
        XCTAssertEqual(p["recurrentKernel"]?.floats(), [8, 6, 5, 7])
        XCTAssertEqual(p["bias"]?.floats(), [12, 10, 9, 11])
        XCTAssertEqual(g.nodes[0].op, .input(InputAttributes(shape: [1, nil], layout: .sequenceFeaturesTime)))
    }

    func testGravesPeepholes() throws {
        // RW [1, 7]: 5 6 7 8 | wFF 9, wOO 10, wGG 11; b = 12..15. Peephole rows (input, forget, output) = 11, 9, 10.
        let g = try build("{\"confs\": [{\"layer\": {\"gravesLSTM\": {\"nin\": 1, \"nout\": 1}}}]}", flat: (1...15).map(Float.init))
        let p = g.nodes[1].parameters
        XCTAssertEqual(p["recurrentKernel"]?.floats(), [8, 6, 5, 7])
        XCTAssertEqual(p["peepholes"]?.shape, [3, 1])
        XCTAssertEqual(p["peepholes"]?.floats(), [11, 9, 10])
        XCTAssertEqual(p["bias"]?.floats(), [15, 13, 12, 14])
    }

    func testBidirectionalSimpleRnnSplitsForwardThenBackward() throws {
        // nIn 1, n 1: forward W=1 RW=2 b=3, backward W=4 RW=5 b=6; CONCAT doubles the size.
        let g = try build("""
        {"confs": [{"layer": {"@class": "org.deeplearning4j.nn.conf.layers.recurrent.Bidirectional", "mode": "CONCAT",
           "fwd": {"@class": "org.deeplearning4j.nn.conf.layers.recurrent.SimpleRnn", "nin": 1, "nout": 1},
           "bwd": {"@class": "org.deeplearning4j.nn.conf.layers.recurrent.SimpleRnn", "nin": 1, "nout": 1}}},
         {"layer": {"@class": "org.deeplearning4j.nn.conf.layers.RnnOutputLayer", "nout": 1,
           "lossFn": {"@class": "org.nd4j.linalg.lossfunctions.impl.LossMSE"}}}]}
        """, flat: (1...9).map(Float.init))
        let p = g.nodes[1].parameters
        XCTAssertEqual(Array(p.keys), ["forward/kernel", "forward/recurrentKernel", "forward/bias",
                                       "backward/kernel", "backward/recurrentKernel", "backward/bias"])
        XCTAssertEqual(p.values.map { $0.floats() }, [[1], [2], [3], [4], [5], [6]])
        guard case .bidirectional(let a) = g.nodes[1].op else { return XCTFail("not bidirectional") }
        XCTAssertEqual(a.mergeMode, .concat)
        // The output layer's nIn is inferred (2, from CONCAT): W 7 8, b 9.
        XCTAssertEqual(g.nodes[2].parameters["kernel"]?.shape, [2, 1])
        XCTAssertEqual(g.nodes[2].parameters["bias"]?.floats(), [9])
    }

    func testBatchNormLogStdBecomesVariance() throws {
        // gamma, beta, mean, log10stdev = 1 → variance (10¹)² = 100.
        let g = try build("""
        {"confs": [{"layer": {"@class": "org.deeplearning4j.nn.conf.layers.BatchNormalization", "nin": 1, "nout": 1,
                               "useLogStd": true, "eps": 0.001}}]}
        """, flat: [2, 3, 4, 1])
        let p = g.nodes[1].parameters
        XCTAssertEqual(p["gamma"]?.floats(), [2])
        XCTAssertEqual(p["movingMean"]?.floats(), [4])
        XCTAssertEqual(p["movingVariance"]?.floats(), [100])
    }

    // MARK: ComputationGraph

    func testGraphVerticesAndOrderWithoutStoredTopologicalOrder() throws {
        // Vertices listed out of dependency order: "sum" first.
        let g = try build("""
        {"networkInputs": ["in"], "networkOutputs": ["sum"],
         "vertexInputs": {"sum": ["a", "b"], "a": ["in"], "b": ["in"]},
         "vertices": {
           "sum": {"ElementWiseVertex": {"op": "Add"}},
           "a": {"LayerVertex": {"layerConf": {"layer": {"dense": {"nin": 1, "nout": 1, "layerName": "a"}}}}},
           "b": {"LayerVertex": {"layerConf": {"layer": {"dense": {"nin": 1, "nout": 1, "layerName": "b"}}}}}
         }}
        """, flat: [1, 2, 3, 4])
        XCTAssertEqual(g.nodes.map(\.name), ["in", "a", "b", "sum"])
        XCTAssertEqual(g.node(named: "a")?.parameters["kernel"]?.floats(), [1])
        XCTAssertEqual(g.node(named: "b")?.parameters["kernel"]?.floats(), [3])
        XCTAssertEqual(g.node(named: "sum")?.op, .merge(MergeAttributes(.add)))
        XCTAssertEqual(g.outputs, [NodeOutput("sum")])
    }

    func testLayerFamilyNamesAreUnique() {
        let names = DL4JLayerFamilies.all.flatMap(\.names)
        XCTAssertEqual(names.count, Set(names).count)
        XCTAssertTrue(DL4JLayerFamilies.wrapperNames.isDisjoint(with: names))
    }

    func testJavaHashOrderEmulation() {
        // Java HashSet<Integer> iterates by bucket (value mod capacity, capacity 16 → 32 at 13 entries).
        XCTAssertEqual(javaHashOrder([20, 3, 17]), [17, 3, 20])
        XCTAssertEqual(javaHashOrder(Array((0..<13).reversed())), Array(0..<13))
    }
}
