import GraftCore
@testable import GraftKeras
import OrderedCollections
import XCTest

/// Hand-built layer contexts for the families KERAS-A owns. Expected values come from Keras'
/// documented defaults and from the inputs themselves (weights must pass through unchanged).
final class KerasFamilyTests: XCTestCase {
    let keras2 = KerasProducer(major: 2, version: "2.2.4", backend: "tensorflow")
    let keras1 = KerasProducer(major: 1, version: "1.2.2", backend: nil)

    func context(_ className: String, _ config: String, weights: [Tensor] = [],
                 producer: KerasProducer? = nil) throws -> KerasLayerContext {
        KerasLayerContext(name: "l", className: className, config: try JSONValue.parse(config),
                          producer: producer ?? keras2,
                          weights: weights.enumerated().map { KerasWeight(name: "l/w\($0.offset):0", tensor: $0.element) },
                          inputShapes: [], file: "test.h5")
    }

    func map(_ className: String, _ config: String, weights: [Tensor] = [], producer: KerasProducer? = nil) throws
        -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        guard let family = KerasLayerRegistry.family(for: className) else {
            throw GraftError(.unknownLayer, "no family for \(className)")
        }
        return try family.map(try context(className, config, weights: weights, producer: producer))
    }

    func testRegistryClaimsEachClassOnce() {
        var seen: [String: String] = [:]
        for family in KerasLayerRegistry.families {
            for name in family.classNames {
                XCTAssertNil(seen[name], "\(name) claimed by \(seen[name] ?? "") and \(family)")
                seen[name] = "\(family)"
            }
        }
        for name in ["InputLayer", "Dense", "Activation", "Dropout", "Flatten", "Masking", "Add", "BatchNormalization",
                     "LayerNormalization", "Embedding", "TimeDistributed", "Merge", "TimeDistributedDense"] {
            XCTAssertNotNil(KerasLayerRegistry.family(for: name), name)
        }
    }

    func testInputLayerShapesAndLayouts() throws {
        let cases: [(String, [Int?], DataLayout)] = [
            (#"{"batch_input_shape": [null, 4, 1]}"#, [4, 1], .sequenceTimeMajorFeatures),
            (#"{"batch_shape": [null, 8, 8, 3]}"#, [8, 8, 3], .channelsLast),
            (#"{"batch_input_shape": [null, 10]}"#, [10], .flat),
            (#"{"batch_input_shape": [null, null, 5]}"#, [nil, 5], .sequenceTimeMajorFeatures),
        ]
        for (config, shape, layout) in cases {
            let op = try map("InputLayer", config).op
            XCTAssertEqual(op, .input(InputAttributes(shape: shape, layout: layout)), config)
        }
        XCTAssertThrowsError(try map("InputLayer", #"{"name": "x"}"#))
    }

    func testDenseKeepsWeightsAndChecksShapes() throws {
        let kernel = Tensor(shape: [3, 2], floats: [1, 2, 3, 4, 5, 6])
        let bias = Tensor(shape: [2], floats: [0.5, -0.5])
        let mapped = try map("Dense", #"{"units": 2, "activation": "relu"}"#, weights: [kernel, bias])
        XCTAssertEqual(mapped.op, .dense(DenseAttributes(units: 2, activation: .plainRelu, useBias: true)))
        XCTAssertEqual(Array(mapped.parameters.keys), ["kernel", "bias"])
        XCTAssertTrue(mapped.parameters["kernel"]!.bitwiseEqual(kernel))
        XCTAssertTrue(mapped.parameters["bias"]!.bitwiseEqual(bias))

        // Keras 1 field names, no bias.
        let k1 = try map("Dense", #"{"output_dim": 2, "bias": false}"#, weights: [kernel], producer: keras1)
        XCTAssertEqual(k1.op, .dense(DenseAttributes(units: 2, activation: .linear, useBias: false)))

        let td = try map("TimeDistributedDense", #"{"output_dim": 2}"#, weights: [kernel, bias], producer: keras1)
        XCTAssertEqual(td.op, .timeDistributed(layer: .dense(DenseAttributes(units: 2))))

        XCTAssertThrowsError(try map("Dense", #"{"units": 3}"#, weights: [kernel, bias])) { error in
            let e = error as? GraftError
            XCTAssertEqual(e?.kind, .shapeMismatch)
            XCTAssertEqual(e?.location, "layer 'l' (Dense)")
            XCTAssertEqual(e?.file, "test.h5")
        }
        XCTAssertThrowsError(try map("Dense", #"{"units": 2}"#, weights: [kernel])) { error in
            XCTAssertEqual((error as? GraftError)?.kind, .missingWeights)
        }
    }

    func testAdvancedActivationsUseKerasDefaults() throws {
        let cases: [(String, String, ActivationFunction)] = [
            ("Activation", #"{"activation": "tanh"}"#, .tanh),
            ("Activation", #"{"activation": "softmax"}"#, .softmax(axis: -1)),
            ("ReLU", #"{}"#, .relu(maxValue: nil, negativeSlope: 0, threshold: 0)),
            ("ReLU", #"{"max_value": 6.0, "negative_slope": 0.1, "threshold": 0.5}"#,
             .relu(maxValue: 6, negativeSlope: 0.1, threshold: 0.5)),
            ("LeakyReLU", #"{}"#, .leakyRelu(alpha: 0.3)),
            ("LeakyReLU", #"{"alpha": 0.1}"#, .leakyRelu(alpha: 0.1)),
            ("LeakyReLU", #"{"negative_slope": 0.2}"#, .leakyRelu(alpha: 0.2)),
            ("ELU", #"{"alpha": 0.5}"#, .elu(alpha: 0.5)),
            ("ThresholdedReLU", #"{"theta": 2.0}"#, .thresholdedRelu(theta: 2)),
            ("Softmax", #"{"axis": 1}"#, .softmax(axis: 1)),
        ]
        for (cls, config, expected) in cases {
            XCTAssertEqual(try map(cls, config).op, .activation(expected), "\(cls) \(config)")
        }
        // hard_sigmoid differs between Keras 2 and Keras 3.
        let k3 = KerasProducer(major: 3, version: "3.1.0", backend: "tensorflow")
        XCTAssertEqual(try map("Activation", #"{"activation": "hard_sigmoid"}"#).op, .activation(.keras2HardSigmoid))
        XCTAssertEqual(try map("Activation", #"{"activation": "hard_sigmoid"}"#, producer: k3).op,
                       .activation(.keras3HardSigmoid))

        let alpha = Tensor(shape: [4, 1], floats: [0.1, 0.2, 0.3, 0.4])
        let prelu = try map("PReLU", #"{"shared_axes": [2]}"#, weights: [alpha])
        XCTAssertEqual(prelu.op, .prelu(sharedAxes: [2]))
        XCTAssertTrue(prelu.parameters["alpha"]!.bitwiseEqual(alpha))
    }

    func testDropoutFamilyIsIdentityWithRate() throws {
        XCTAssertEqual(try map("Dropout", #"{"rate": 0.25}"#).op, .dropout(kind: "Dropout", rate: 0.25))
        XCTAssertEqual(try map("Dropout", #"{"p": 0.5}"#, producer: keras1).op, .dropout(kind: "Dropout", rate: 0.5))
        XCTAssertEqual(try map("GaussianNoise", #"{"stddev": 0.1}"#).op, .dropout(kind: "GaussianNoise", rate: 0.1))
        XCTAssertEqual(try map("SpatialDropout2D", #"{"rate": 0.2}"#).op, .dropout(kind: "SpatialDropout2D", rate: 0.2))
    }

    func testReshapingLayers() throws {
        XCTAssertEqual(try map("Flatten", "{}").op, .flatten)
        XCTAssertEqual(try map("Reshape", #"{"target_shape": [2, -1]}"#).op, .reshape(targetShape: [2, -1]))
        XCTAssertEqual(try map("Permute", #"{"dims": [2, 1]}"#).op, .permute(dims: [2, 1]))
        XCTAssertThrowsError(try map("Permute", #"{"dims": [2, 2]}"#))
        XCTAssertEqual(try map("RepeatVector", #"{"n": 3}"#).op, .repeatVector(n: 3))
        XCTAssertEqual(try map("Masking", #"{"mask_value": -1.0}"#).op, .masking(maskValue: -1))
        XCTAssertEqual(try map("Masking", "{}").op, .masking(maskValue: 0))
    }

    func testMergesIncludingKeras1Merge() throws {
        XCTAssertEqual(try map("Add", "{}").op, .merge(MergeAttributes(.add)))
        XCTAssertEqual(try map("Concatenate", #"{"axis": 1}"#).op, .merge(MergeAttributes(.concatenate(axis: 1))))
        XCTAssertEqual(try map("Dot", #"{"axes": 1, "normalize": true}"#).op,
                       .merge(MergeAttributes(.dot(axes: [1, 1], normalize: true))))
        let keras1: [(String, MergeAttributes.Kind)] = [
            (#"{"mode": "sum"}"#, .add), (#"{"mode": "mul"}"#, .multiply), (#"{"mode": "ave"}"#, .average),
            (#"{"mode": "max"}"#, .maximum), (#"{"mode": "concat", "concat_axis": 1}"#, .concatenate(axis: 1)),
            (#"{"mode": "cos", "dot_axes": [1, 1]}"#, .dot(axes: [1, 1], normalize: true)),
        ]
        for (config, kind) in keras1 {
            XCTAssertEqual(try map("Merge", config, producer: self.keras1).op, .merge(MergeAttributes(kind)), config)
        }
        XCTAssertTrue(try map("Merge", #"{"mode": "xyz", "mode_type": "lambda"}"#, producer: self.keras1).op.isOpaque)
    }

    func testBatchNormalizationWithAndWithoutScaleCenter() throws {
        let v = (0..<4).map { i in Tensor(shape: [3], floats: [Float(i), Float(i) + 0.5, Float(i) + 0.25]) }
        let full = try map("BatchNormalization", #"{"axis": -1, "epsilon": 0.001}"#, weights: v)
        XCTAssertEqual(Array(full.parameters.keys), ["gamma", "beta", "movingMean", "movingVariance"])
        for (k, t) in zip(full.parameters.values, v) { XCTAssertTrue(k.bitwiseEqual(t)) }

        let noScale = try map("BatchNormalization", #"{"axis": 3, "scale": false}"#, weights: Array(v[1...]))
        XCTAssertEqual(noScale.op, .batchNorm(BatchNormAttributes(axis: 3, epsilon: 1e-3, center: true, scale: false)))
        XCTAssertEqual(Array(noScale.parameters.keys), ["beta", "movingMean", "movingVariance"])
        XCTAssertTrue(noScale.parameters["beta"]!.bitwiseEqual(v[1]))

        XCTAssertThrowsError(try map("BatchNormalization", #"{"center": false, "scale": false}"#, weights: v)) {
            XCTAssertEqual(($0 as? GraftError)?.kind, .missingWeights)
        }
        XCTAssertThrowsError(try map("BatchNormalization", #"{"mode": 2}"#, weights: v, producer: keras1)) {
            XCTAssertEqual(($0 as? GraftError)?.kind, .unsupported)
        }
        let ln = try map("LayerNormalization", #"{"axis": [-1], "epsilon": 1e-5}"#, weights: Array(v[0..<2]))
        XCTAssertEqual(ln.op, .layerNorm(LayerNormAttributes(axes: [-1], epsilon: 1e-5)))
        XCTAssertEqual(Array(ln.parameters.keys), ["gamma", "beta"])
    }

    func testEmbeddingAndTimeDistributed() throws {
        let table = Tensor(shape: [5, 2], floats: (0..<10).map(Float.init))
        let e = try map("Embedding", #"{"input_dim": 5, "output_dim": 2, "mask_zero": true}"#, weights: [table])
        XCTAssertEqual(e.op, .embedding(EmbeddingAttributes(inputDim: 5, outputDim: 2, maskZero: true)))
        XCTAssertTrue(e.parameters["embeddings"]!.bitwiseEqual(table))
        XCTAssertThrowsError(try map("Embedding", #"{"input_dim": 6, "output_dim": 2}"#, weights: [table]))

        let kernel = Tensor(shape: [8, 4], floats: (0..<32).map(Float.init))
        let bias = Tensor(shape: [4], floats: [1, 2, 3, 4])
        let td = try map("TimeDistributed",
                         #"{"layer": {"class_name": "Dense", "config": {"name": "d", "units": 4, "activation": "softmax"}}}"#,
                         weights: [kernel, bias])
        XCTAssertEqual(td.op, .timeDistributed(layer: .dense(DenseAttributes(units: 4, activation: .softmax(axis: -1)))))
        XCTAssertEqual(Array(td.parameters.keys), ["kernel", "bias"])
        XCTAssertThrowsError(try map("TimeDistributed", #"{"layer": {"class_name": "Nope", "config": {}}}"#)) {
            XCTAssertEqual(($0 as? GraftError)?.kind, .unknownLayer)
        }
    }
}
