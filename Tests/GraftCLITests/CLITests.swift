import Foundation
import GraftCore
import GraftIO
import GraftTestSupport
import XCTest

/// End-to-end tests: run the built `graft` binary and check stdout, stderr and exit code.
final class CLITests: TemporaryDirectoryTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static func fixture(_ name: String) -> String { packageRoot.appendingPathComponent("fixtures/\(name)").path }

    static var binary: URL { GraftProcess.binary }

    typealias Result = GraftProcess.Result

    func graft(_ arguments: String...) throws -> Result { try Self.run(arguments) }

    static func run(_ arguments: [String]) throws -> Result { try GraftProcess.run(arguments) }


    func testHelpDescribesEverySubcommand() throws {
        let r = try graft("--help")
        XCTAssertEqual(r.status, 0)
        for command in ["inspect", "predict", "verify", "featurize", "convert-array", "convert", "freeze", "apply"] {
            XCTAssertTrue(r.stdout.contains(command), "--help lacks \(command)")
        }
        let inspect = try graft("inspect", "--help")
        XCTAssertEqual(inspect.status, 0)
        XCTAssertTrue(inspect.stdout.contains("--json"))
    }

    /// Usage errors are bad input: exit 2 with the reason on stderr (not ArgumentParser's 64).
    func testUsageErrorsExitWithTwo() throws {
        for arguments in [["inspect"], ["no-such-command"], ["inspect", "x.h5", "--no-such-option"]] {
            let process = Process()
            process.executableURL = Self.binary
            process.arguments = arguments
            let err = Pipe()
            process.standardOutput = Pipe()
            process.standardError = err
            try process.run()
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 2, "\(arguments)")
            XCTAssertFalse(stderr.isEmpty, "\(arguments): no reason on stderr")
        }
        XCTAssertEqual(try graft("--version").status, 0)
    }

    func testMissingFileIsBadInput() throws {
        let r = try graft("inspect", temp.appendingPathComponent("nope.h5").path)
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("nope.h5") && r.stderr.contains("no such file"), r.stderr)
    }

    func testUnrecognisedFileIsBadInput() throws {
        let path = temp.appendingPathComponent("junk.bin").path
        try Data("not a model at all".utf8).write(to: URL(fileURLWithPath: path))
        let r = try graft("inspect", path)
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("unrecognised model file"), r.stderr)
    }

    func testInspectTableAndJSON() throws {
        let table = try graft("inspect", Self.fixture("lstm_timeseries.h5"))
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("lstm"), table.stdout)
        let json = try graft("inspect", Self.fixture("lstm_timeseries.h5"), "--json")
        XCTAssertEqual(json.status, 0, json.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let nodes = object?["nodes"] as? [[String: Any]] ?? []
        XCTAssertFalse(nodes.isEmpty)
        for key in ["name", "op", "inputs", "outputShape", "parameters", "parameterCount", "freeze"] {
            XCTAssertNotNil(nodes.last?[key], "node JSON lacks \(key)")
        }
    }

    func testPredictMatchesKerasAndFailsOnWrongExpectation() throws {
        let model = Self.fixture("lstm_timeseries.h5"), io = Self.fixture("lstm_timeseries_io.npz")
        let out = temp.appendingPathComponent("y.npy").path
        let ok = try graft("predict", model, "--input", io, "--output", out, "--compare", io)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out))
        // Compared against another model's outputs of the same shape: out of tolerance, exit 1.
        let bad = try graft("predict", model, "--input", io, "--compare", Self.fixture("lstm_timeseries_keras3_io.npz"))
        XCTAssertEqual(bad.status, 1, bad.stderr + bad.stdout)
        XCTAssertTrue(bad.stdout.contains("OUT OF TOLERANCE"), bad.stdout)
    }

    func testVerifyFullModelAgainstConfigPlusWeights() throws {
        let r = try graft("verify", Self.fixture("lstm_timeseries.h5"), Self.fixture("lstm_timeseries_config.json"),
                          "--weights-b", Self.fixture("lstm_timeseries_weights.h5"))
        XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        let differ = try graft("verify", Self.fixture("mlp.h5"), Self.fixture("mlp_keras3.keras"))
        XCTAssertEqual(differ.status, 1, differ.stderr + differ.stdout)
    }

    /// A deliberately perturbed copy of a model: the output layer's first bias moved by 1 and
    /// the hidden layer's activation changed. `verify` exits 1 naming the output out of
    /// tolerance; `diff` (text and JSON) names the changed bias with its largest change and
    /// the changed activation field.
    func testVerifyAndDiffOnPerturbedModel() throws {
        var g = try ModelFile.load(path: Self.fixture("mlp.h5"), weights: nil)
        let head = try XCTUnwrap(g.index(of: "probabilities")), hidden = try XCTUnwrap(g.index(of: "hidden"))
        let bias = try XCTUnwrap(g.nodes[head].parameters["bias"])
        var values = bias.doubles()
        values[0] += 1
        let moved = Tensor(shape: bias.shape, doubles: values).converted(to: bias.dtype)
        g.nodes[head].parameters["bias"] = moved
        guard case .dense(var attributes) = g.nodes[hidden].op else { return XCTFail("hidden is not dense") }
        let before = attributes.activation
        attributes.activation = before == .tanh ? .sigmoid : .tanh
        g.nodes[hidden].op = .dense(attributes)
        let perturbed = temp.appendingPathComponent("perturbed.h5").path
        try ModelFile.save(g, to: perturbed)

        let verify = try graft("verify", Self.fixture("mlp.h5"), perturbed)
        XCTAssertEqual(verify.status, 1, verify.stdout + verify.stderr)
        XCTAssertTrue(verify.stdout.contains("probabilities") && verify.stdout.contains("OUT OF TOLERANCE"), verify.stdout)
        XCTAssertTrue(verify.stderr.contains("outputs differ beyond atol"), verify.stderr)
        // Within a tolerance wider than any change a 1.0 bias shift can make to probabilities: exit 0.
        XCTAssertEqual(try graft("verify", Self.fixture("mlp.h5"), perturbed, "--atol", "1.0").status, 0)

        let expectedShift = moved.doubles()[0] - bias.doubles()[0]
        let text = try graft("diff", Self.fixture("mlp.h5"), perturbed)
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("~ probabilities/bias: values 1 of \(bias.count) elements differ"), text.stdout)
        XCTAssertTrue(text.stdout.contains("~ hidden.op.activation: \(before) -> \(attributes.activation)"), text.stdout)
        let json = try graft("diff", Self.fixture("mlp.h5"), perturbed, "--json")
        XCTAssertEqual(json.status, 0, json.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["identical"] as? Bool, false)
        let parameters = try XCTUnwrap(object["parameterChanges"] as? [[String: Any]])
        XCTAssertEqual(parameters.count, 1)
        XCTAssertEqual(parameters.first?["node"] as? String, "probabilities")
        XCTAssertEqual(parameters.first?["parameter"] as? String, "bias")
        XCTAssertEqual(try XCTUnwrap(parameters.first?["maxAbs"] as? Double), expectedShift, accuracy: 1e-12)
        let fields = try XCTUnwrap(object["nodeChanges"] as? [[String: Any]])
        XCTAssertEqual(fields.map { "\($0["node"] ?? "").\($0["field"] ?? "")" }, ["hidden.op.activation"])
    }

    func testFeaturizeAndConvertArrayRoundTrip() throws {
        let features = temp.appendingPathComponent("f.npy").path
        let r = try graft("featurize", Self.fixture("lstm_timeseries.h5"), "--at", "lstm",
                          "--input", Self.fixture("lstm_timeseries_io.npz"), "--output", features)
        XCTAssertEqual(r.status, 0, r.stderr)
        let nd4j = temp.appendingPathComponent("f.bin").path, back = temp.appendingPathComponent("g.npy").path
        XCTAssertEqual(try graft("convert-array", features, nd4j).status, 0)
        XCTAssertEqual(try graft("convert-array", nd4j, back).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: features)), try Data(contentsOf: URL(fileURLWithPath: back)))
    }

    func testDiffRenderAndCheckFrozen() throws {
        let same = try graft("diff", Self.fixture("lstm_timeseries.h5"), Self.fixture("lstm_timeseries_config.json"),
                             "--weights-b", Self.fixture("lstm_timeseries_weights.h5"))
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertTrue(same.stdout.contains("no differences"), same.stdout)
        let differ = try graft("diff", Self.fixture("lstm_timeseries.h5"), Self.fixture("lstm_timeseries_keras3.h5"), "--json")
        XCTAssertEqual(differ.status, 0, differ.stderr)
        XCTAssertTrue(differ.stdout.contains("\"identical\": false"), differ.stdout)

        let dot = temp.appendingPathComponent("g.dot").path
        let render = try graft("render", Self.fixture("frozen_mlp.h5"), "--output", dot)
        XCTAssertEqual(render.status, 0, render.stderr)
        let text = try String(contentsOfFile: dot, encoding: .utf8)
        XCTAssertTrue(text.contains("frozen_dense") && text.contains("#b0c4de"), text)

        let check = try graft("check-frozen", Self.fixture("frozen_mlp.h5"), Self.fixture("frozen_mlp.h5"))
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertTrue(check.stdout.contains("1 frozen layer(s)"), check.stdout)
    }

    // MARK: convert, freeze

    /// Skips while a writer is not linked into this build (the writers land on other branches).
    func writerMissing(_ r: Result) -> Bool { r.status != 0 && r.stderr.contains("writer is available in this build") }

    /// Every fixture to every output format; the converted model computes the same function
    /// (verify maps DL4J's [batch, features, time] to Keras' [batch, time, features]).
    func testConvertToEveryFormatThenVerify() throws {
        var missing = Set<String>()
        for fixture in ["mlp.h5", "frozen_mlp.h5", "lstm_timeseries.h5", "mlp_keras3.keras"] {
            for ext in ["h5", "keras", "zip"] {
                let out = temp.appendingPathComponent("\(fixture)-converted.\(ext)").path
                let convert = try graft("convert", Self.fixture(fixture), out)
                if writerMissing(convert) { missing.insert(ext); continue }
                XCTAssertEqual(convert.status, 0, "\(fixture) → .\(ext): \(convert.stderr)")
                XCTAssertTrue(FileManager.default.fileExists(atPath: out + ".graft.json"), "\(fixture) → .\(ext): no manifest")
                let verify = try graft("verify", Self.fixture(fixture), out)
                XCTAssertEqual(verify.status, 0, "\(fixture) → .\(ext): \(verify.stdout) \(verify.stderr)")
            }
        }
        if !missing.isEmpty { throw XCTSkip("no writer in this build for \(missing.sorted())") }
        // DL4J [batch, features, time] back to Keras [batch, time, features]: verify maps A's
        // DL4J-layout inputs for the Keras model and its outputs back.
        let dl4jLSTM = temp.appendingPathComponent("lstm_timeseries.h5-converted.zip").path
        let backToKeras = temp.appendingPathComponent("lstm-back.h5").path
        let back = try graft("convert", dl4jLSTM, backToKeras)
        XCTAssertEqual(back.status, 0, back.stderr)
        let verifyBack = try graft("verify", dl4jLSTM, backToKeras)
        XCTAssertEqual(verifyBack.status, 0, verifyBack.stdout + verifyBack.stderr)
        XCTAssertTrue(verifyBack.stdout.contains("mapping input layouts"), verifyBack.stdout)
        // The frozen layer survives conversion to DL4J.
        let zip = temp.appendingPathComponent("frozen_mlp.h5-converted.zip").path
        let inspect = try graft("inspect", "--json", zip)
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertEqual(try frozenNames(inspect.stdout), ["frozen_dense"])
    }

    func testConvertRefusesInputExistingOutputAndUnknownFormat() throws {
        let input = temp.appendingPathComponent("m.h5").path
        try FileManager.default.copyItem(atPath: Self.fixture("mlp.h5"), toPath: input)
        let same = try graft("convert", input, input, "--force")
        XCTAssertEqual(same.status, 2)
        XCTAssertTrue(same.stderr.contains("refusing to overwrite the input"), same.stderr)
        let existing = temp.appendingPathComponent("exists.zip").path
        try Data("keep".utf8).write(to: URL(fileURLWithPath: existing))
        let refused = try graft("convert", input, existing)
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("--force"), refused.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: existing)), Data("keep".utf8))
        let badFormat = try graft("convert", input, temp.appendingPathComponent("x.out").path, "--format", "onnx")
        XCTAssertEqual(badFormat.status, 2)
        XCTAssertTrue(badFormat.stderr.contains("keras-h5"), badFormat.stderr)
    }

    /// `freeze --up-to hidden` freezes hidden and its ancestors only; the output shows them
    /// frozen and its manifest lists them.
    func testFreezeUpToLayer() throws {
        var missing: [String] = []
        for ext in ["h5", "zip"] {
            let out = temp.appendingPathComponent("frozen.\(ext)").path
            let freeze = try graft("freeze", Self.fixture("mlp.h5"), "--up-to", "hidden", "--output", out)
            if writerMissing(freeze) { missing.append(ext); continue }
            XCTAssertEqual(freeze.status, 0, freeze.stderr)
            let inspect = try graft("inspect", "--json", out)
            XCTAssertEqual(inspect.status, 0, inspect.stderr)
            let frozen = try frozenNames(inspect.stdout)
            XCTAssertTrue(frozen.contains("hidden"), "\(ext): \(frozen)")
            XCTAssertFalse(frozen.contains("dropout") || frozen.contains("probabilities"), "\(ext): \(frozen)")
            let manifestData = try Data(contentsOf: URL(fileURLWithPath: out + ".graft.json"))
            let manifest = try XCTUnwrap(try JSONSerialization.jsonObject(with: manifestData) as? [String: Any])
            let listed = (manifest["frozen"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
            XCTAssertTrue(listed.contains("hidden"), "\(listed)")
            XCTAssertFalse(listed.contains("probabilities"))
            let history = (manifest["history"] as? [[String: Any]])?.compactMap { $0["operation"] as? String } ?? []
            XCTAssertEqual(history.last, "freeze")
            // The frozen output checks clean against itself through its manifest.
            let check = try graft("check-frozen", out, out)
            XCTAssertEqual(check.status, 0, check.stderr)
            XCTAssertTrue(check.stdout.contains("using freeze manifest"), check.stdout)
        }
        // Graph ancestors, not earlier nodes: dense_a precedes dense_b but does not feed it.
        for ext in ["h5", "zip"] where !missing.contains(ext) {
            let out = temp.appendingPathComponent("branch.\(ext)").path
            let freeze = try graft("freeze", Self.fixture("two_in_two_out.h5"), "--up-to", "dense_b", "--output", out)
            XCTAssertEqual(freeze.status, 0, freeze.stderr)
            let inspect = try graft("inspect", "--json", out)
            XCTAssertEqual(try frozenNames(inspect.stdout), ["dense_b"], ext)
            let verify = try graft("verify", Self.fixture("two_in_two_out.h5"), out)
            XCTAssertEqual(verify.status, 0, verify.stdout + verify.stderr)
        }
        let unknown = try graft("freeze", Self.fixture("mlp.h5"), "--up-to", "nope", "--output",
                                temp.appendingPathComponent("x.h5").path)
        XCTAssertEqual(unknown.status, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: temp.appendingPathComponent("x.h5").path))
        if !missing.isEmpty { throw XCTSkip("no writer in this build for \(missing)") }
    }

    /// A manifest that does not belong to its model is ignored, with a warning, not an error.
    func testMismatchedManifestWarnsButLoads() throws {
        let model = temp.appendingPathComponent("m.h5").path
        try FileManager.default.copyItem(atPath: Self.fixture("frozen_mlp.h5"), toPath: model)
        let other = temp.appendingPathComponent("other.zip").path
        let convert = try graft("convert", Self.fixture("mlp.h5"), other)
        XCTAssertEqual(convert.status, 0, convert.stderr)
        try FileManager.default.copyItem(atPath: other + ".graft.json", toPath: model + ".graft.json")
        let inspect = try graft("inspect", model)
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertTrue(inspect.stderr.contains("warning") && inspect.stderr.contains("does not match"), inspect.stderr)
    }

    func frozenNames(_ inspectJSON: String) throws -> [String] {
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(inspectJSON.utf8)) as? [String: Any])
        let nodes = try XCTUnwrap(object["nodes"] as? [[String: Any]])
        return nodes.filter { ($0["freeze"] as? String) != "trainable" && ($0["op"] as? String) != "input" }
            .compactMap { $0["name"] as? String }
    }
}
