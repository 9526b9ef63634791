import Foundation
import GraftCore
@testable import GraftKeras
import XCTest

/// `KerasReader` on corpus files; expected facts come from the corpus manifest
/// (`expected_structure`, `notes`) and from the files' own datasets.
final class KerasReaderCorpusTests: XCTestCase {
    func corpusPath(_ relative: String) throws -> String {
        let path = HDF5Tests.corpus.appendingPathComponent(relative).path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("corpus not found at \(path)") }
        return path
    }

    func testKeras1SequentialWithoutInputLayer() throws {
        // Manifest: Keras 1.2.2, Dense dense_1 with weights [4, 6] and [6]; no backend attribute.
        let graph = try KerasReader.read(path: try corpusPath("keras/weights/dense_theano_1.h5"))
        XCTAssertEqual(graph.source.format, "keras-h5")
        XCTAssertEqual(graph.source.producer, "keras 1.2.2")
        XCTAssertEqual(graph.nodes.map(\.name), ["dense_1_input", "dense_1"])
        XCTAssertEqual(graph.nodes[0].op, .input(InputAttributes(shape: [4], layout: .flat)))
        XCTAssertEqual(graph.nodes[1].parameters["kernel"]?.shape, [4, 6])
        XCTAssertEqual(graph.outputs, [NodeOutput("dense_1")])
        XCTAssertNotNil(graph.source.extras["training_config"]?["optimizer_config"])
        XCTAssertEqual(graph.nodes[1].extras["kerasWeightNames"], .array([.string("dense_1_W"), .string("dense_1_b")]))

        // The parameters are the file's bytes.
        let stored = try HDF5File(path: try corpusPath("keras/weights/dense_theano_1.h5")).root()
            .dataset("model_weights/dense_1/dense_1_W").read()
        XCTAssertTrue(graph.nodes[1].parameters["kernel"]!.bitwiseEqual(stored))
    }

    func testKeras3ArchiveTimeDistributed() throws {
        // Manifest: Input[6,5] -> LSTM(8, return_sequences) -> TimeDistributed(Dense(4, softmax)),
        // td_out weights kernel [8, 4], bias [4]; Keras 3.15.1.
        let path = try corpusPath("modern/lstm_tdd/lstm_tdd__keras3.keras")
        let graph = try KerasReader.read(path: path)
        XCTAssertEqual(graph.source.format, "keras3")
        XCTAssertEqual(graph.source.producer, "keras 3.15.1")
        XCTAssertEqual(graph.nodes.map(\.name), ["seq_in", "lstm", "td_out"])
        XCTAssertEqual(graph.nodes[0].op, .input(InputAttributes(shape: [6, 5], layout: .sequenceTimeMajorFeatures)))
        XCTAssertEqual(graph.nodes[2].op,
                       .timeDistributed(layer: .dense(DenseAttributes(units: 4, activation: .softmax(axis: -1)))))
        XCTAssertEqual(graph.nodes[2].parameters["kernel"]?.shape, [8, 4])
        XCTAssertEqual(graph.nodes[1].parameters["kernel"]?.shape, [5, 32])
        let layers = try KerasReader.readLayers(path: path)
        XCTAssertEqual(layers.first { $0.name == "td_out" }?.weights.map(\.name),
                       ["layers/time_distributed/layer/vars/0", "layers/time_distributed/layer/vars/1"])
        XCTAssertEqual(layers.first { $0.name == "lstm" }?.weights.map(\.name),
                       ["layers/lstm/cell/vars/0", "layers/lstm/cell/vars/1", "layers/lstm/cell/vars/2"])
    }

    func testChannelsFirstConv1DInputLayout() throws {
        // Manifest: `_cf_` Conv1D cases are channels-first ([batch, channels, steps]), `_cl_` channels-last.
        let cf = try KerasReader.read(path: try corpusPath("keras/examples/conv1d/conv1d_k2_s1_d1_cf_same_model.h5"))
        let cl = try KerasReader.read(path: try corpusPath("keras/examples/conv1d/conv1d_k2_s1_d1_cl_same_model.h5"))
        guard case .input(let a) = cf.inputs.first?.op, case .input(let b) = cl.inputs.first?.op else {
            return XCTFail("no input nodes")
        }
        XCTAssertEqual(a.layout, .channelsFirst)
        XCTAssertEqual(b.layout, .sequenceTimeMajorFeatures)
    }

    func testFrozenLayersFromTrainableFalse() throws {
        // Manifest notes: frozen (trainable=False) layers base_1, base_2, base_bn.
        for file in ["modern/frozen_layers/frozen_layers__tfkeras.h5", "modern/frozen_layers/frozen_layers__keras3.keras"] {
            let graph = try KerasReader.read(path: try corpusPath(file))
            let frozen = Set(graph.nodes.filter { $0.freeze == .frozen }.map(\.name))
            XCTAssertEqual(frozen, ["base_1", "base_2", "base_bn"], file)
        }
    }

    func testLambdaCarriedOpaque() throws {
        // Manifest: dense_1, lambda_1, lambda_2, dense_2; Lambda holds marshalled bytecode.
        let graph = try KerasReader.read(path: try corpusPath("keras/examples/lambda/sequential_lambda.h5"))
        let opaque = graph.nodes.filter(\.op.isOpaque)
        XCTAssertEqual(opaque.map(\.name), ["lambda_1", "lambda_2"])
        guard case .opaque(let a) = opaque[0].op else { return XCTFail() }
        XCTAssertEqual(a.className, "Lambda")
        XCTAssertEqual(a.format, "keras")
        XCTAssertNotNil(a.config["function"])
    }

    func testConfigPlusWeightsEqualsFullModel() throws {
        // Manifest: the full h5 and the config_json + weights_h5 pair hold the same model.
        // (The tfscope pair shares the architecture but was initialised separately; the
        // examples' pairs were saved from one trained model and match bit for bit.)
        let pairs = [("keras/tfscope/model.h5", "keras/tfscope/model.json", "keras/tfscope/model.weight", false),
                     ("keras/examples/activations/ELU_0_model.h5", "keras/examples/activations/ELU_0_config.json",
                      "keras/examples/activations/ELU_0_weights.h5", true)]
        for (h5, json, weights, sameValues) in pairs {
            let full = try KerasReader.read(path: try corpusPath(h5))
            let split = try KerasReader.read(configPath: try corpusPath(json), weightsPath: try corpusPath(weights))
            XCTAssertEqual(split.source.format, "keras-weights+json")
            XCTAssertEqual(full.nodes.map(\.name), split.nodes.map(\.name))
            for (a, b) in zip(full.nodes, split.nodes) {
                XCTAssertEqual(a.op, b.op)
                XCTAssertEqual(Array(a.parameters.keys), Array(b.parameters.keys))
                for (x, y) in zip(a.parameters.values, b.parameters.values) {
                    XCTAssertEqual(x.shape, y.shape)
                    if sameValues { XCTAssertTrue(x.bitwiseEqual(y), "\(h5) \(a.name)") }
                }
            }
        }
    }

    func testWeightsOnlyFileNeedsItsConfig() throws {
        let path = try corpusPath("keras/tfscope/model.weight")
        XCTAssertThrowsError(try KerasReader.read(path: path)) { error in
            let e = error as? GraftError
            XCTAssertEqual(e?.kind, .invalidArgument)
            XCTAssertEqual(e?.file, path)
        }
    }
}

/// Damaged and mismatched inputs give a clear error, never a crash.
final class KerasReaderBadInputTests: XCTestCase {
    func corpusBytes(_ relative: String) throws -> Data {
        let path = HDF5Tests.corpus.appendingPathComponent(relative).path
        guard let data = FileManager.default.contents(atPath: path) else { throw XCTSkip("corpus not found at \(path)") }
        return data
    }

    func temporary(_ data: Data, suffix: String) -> String {
        let path = NSTemporaryDirectory() + "graft-bad-\(UUID().uuidString)\(suffix)"
        _ = FileManager.default.createFile(atPath: path, contents: data)
        return path
    }

    func testTruncatedFilesAreErrors() throws {
        for (file, suffix) in [("keras/weights/dense_tensorflow_2.h5", ".h5"),
                               ("modern/lstm_tdd/lstm_tdd__keras3.keras", ".keras")] {
            let data = try corpusBytes(file)
            for fraction in [0.1, 0.5, 0.9] {
                let path = temporary(data.prefix(Int(Double(data.count) * fraction)), suffix: suffix)
                defer { try? FileManager.default.removeItem(atPath: path) }
                XCTAssertThrowsError(try KerasReader.read(path: path), "\(file) cut at \(fraction)") { error in
                    XCTAssertNotNil(error as? GraftError)
                    XCTAssertEqual((error as? GraftError)?.file, path)
                }
            }
        }
    }

    func testConfigWithoutMatchingWeightsNamesTheLayer() throws {
        // The ELU example's config against another model's weights: its dense layer finds no weights.
        let config = HDF5Tests.corpus.appendingPathComponent("keras/examples/activations/ELU_0_config.json").path
        let weights = HDF5Tests.corpus.appendingPathComponent("keras/tfscope/model.weight").path
        guard FileManager.default.fileExists(atPath: config) else { throw XCTSkip("corpus not found") }
        XCTAssertThrowsError(try KerasReader.read(configPath: config, weightsPath: weights)) { error in
            let e = error as? GraftError
            XCTAssertEqual(e?.kind, .missingWeights)
            XCTAssertTrue(e?.location?.contains("(Dense)") ?? false, "\(error)")
        }
    }

    func testZipThatIsNotAKerasArchive() throws {
        let path = temporary(Data(try ZipWriter.archive([("hello.txt", Array("hi".utf8))])), suffix: ".keras")
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try KerasReader.read(path: path)) { error in
            XCTAssertEqual((error as? GraftError)?.kind, .malformed)
            XCTAssertEqual((error as? GraftError)?.location, "config.json")
        }
    }
}
