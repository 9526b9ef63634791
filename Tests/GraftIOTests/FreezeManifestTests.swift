import Foundation
import GraftCore
@testable import GraftIO
import XCTest
import GraftTestSupport

/// Freeze manifests: make / write / read, pickup on load, and `ModelFile.save`'s guarantees
/// (no overwrite of the input or an existing file, nothing left behind on failure).
final class FreezeManifestTests: TemporaryDirectoryTestCase {
    static func fixture(_ name: String) -> String { ModelFileTests.fixture(name) }

    func path(_ name: String) -> String { temp.appendingPathComponent(name).path }

    /// A writer that copies a fixed model file: it stands for a tool that writes the weights
    /// but drops the freeze state (the copied file has no frozen layers).
    static func copying(_ file: String, as format: ModelFormat = .kerasH5) -> ModelWriter {
        ModelWriter(format: format) { _, path in
            try FileManager.default.copyItem(atPath: file, toPath: path)
            return ConversionReport()
        }
    }

    /// mlp.h5 with `hidden` frozen and a recorded history, as surgery would leave it.
    func frozenMLP() throws -> Graph {
        var graph = try ModelFile.load(path: Self.fixture("mlp.h5"))
        let i = try XCTUnwrap(graph.index(of: "hidden"))
        graph.nodes[i].freeze = .frozenWithBackprop
        graph.nodes[i].extras = .object(["fineTune": .object(["learningRate": JSONValue(0.01)])])
        graph.history = [HistoryRecord(operation: "fineTune", arguments: .object(["seed": JSONValue(7)]), functionPreserving: true),
                         HistoryRecord(operation: "freeze", arguments: .object(["upTo": .string("hidden")]), functionPreserving: true)]
        return graph
    }

    func testMakeWriteReadRoundTrip() throws {
        let graph = try frozenMLP()
        let out = path("out.h5")
        try FileManager.default.copyItem(atPath: Self.fixture("mlp.h5"), toPath: out)
        let manifest = try FreezeManifest.make(for: graph, source: nil, output: out, outputFormat: .kerasH5)
        XCTAssertEqual(manifest.source?.path, Self.fixture("mlp.h5"))
        XCTAssertEqual(manifest.source?.sha256, try SHA256.hex(fileAt: Self.fixture("mlp.h5")))
        XCTAssertEqual(manifest.output.format, "keras-h5")
        XCTAssertEqual(manifest.frozen.map(\.name), ["hidden"])
        XCTAssertEqual(manifest.frozen[0].freeze, .frozenWithBackprop)
        let hidden = try XCTUnwrap(graph.node(named: "hidden"))
        XCTAssertEqual(Array(manifest.frozen[0].parameters.keys), Array(hidden.parameters.keys))
        for (name, tensor) in hidden.parameters {
            let record = try XCTUnwrap(manifest.frozen[0].parameters[name])
            XCTAssertEqual(record.shape, tensor.shape)
            // Independent digest of the same bytes, copied out first.
            let bytes = tensor.withUnsafeBytes { [UInt8]($0) }
            XCTAssertEqual(record.sha256, SHA256.hex(bytes))
        }
        XCTAssertEqual(manifest.fineTune?["configuration"]?["seed"]?.intValue, 7)
        XCTAssertEqual(manifest.fineTune?["layers"]?["hidden"]?["learningRate"]?.doubleValue, 0.01)
        XCTAssertEqual(manifest.history, graph.history)

        let file = path("m.graft.json")
        try manifest.write(to: file)
        XCTAssertEqual(try FreezeManifest.read(path: file), manifest)
    }

    /// The written JSON has every field the schema requires, at every level, with the right types.
    func testWrittenManifestHasTheSchemasRequiredFields() throws {
        let out = path("out.h5")
        try ModelFile.save(try frozenMLP(), to: out, using: Self.copying(Self.fixture("mlp.h5")))
        let written = try JSONValue.parse(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: out + ".graft.json"))))
        let schemaURL = ModelFileTests.root.appendingPathComponent("formats/freeze-manifest.schema.json")
        let schema = try JSONValue.parse(bytes: [UInt8](try Data(contentsOf: schemaURL)))
        func required(_ s: JSONValue?) -> [String] { s?["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        func check(_ value: JSONValue?, against s: JSONValue?, at place: String) {
            for key in required(s) { XCTAssertNotNil(value?[key], "\(place) lacks required '\(key)'") }
        }
        let defs = schema["$defs"]
        XCTAssertEqual(required(schema).count, 7)
        check(written, against: schema, at: "manifest")
        check(written["source"], against: defs?["file"], at: "source")
        check(written["output"], against: defs?["file"], at: "output")
        let frozenItem = schema["properties"]?["frozen"]?["items"]
        let frozen = try XCTUnwrap(written["frozen"]?.arrayValue)
        XCTAssertEqual(frozen.count, 1)
        let pattern = try XCTUnwrap(defs?["sha256"]?["pattern"]?.stringValue)
        let regex = try NSRegularExpression(pattern: pattern)
        func matchesSHA(_ s: String?) -> Bool {
            guard let s else { return false }
            return regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
        }
        for item in frozen {
            check(item, against: frozenItem, at: "frozen[]")
            let allowed = schema["properties"]?["frozen"]?["items"]?["properties"]?["freeze"]?["enum"]?.arrayValue?.compactMap(\.stringValue)
            XCTAssertTrue(allowed?.contains(item["freeze"]?.stringValue ?? "") == true)
            for (_, p) in try XCTUnwrap(item["parameters"]?.objectValue) {
                check(p, against: defs?["parameter"], at: "parameter")
                XCTAssertTrue(matchesSHA(p["sha256"]?.stringValue))
                XCTAssertNotNil(p["shape"]?.intArray)
            }
        }
        XCTAssertTrue(matchesSHA(written["output"]?["sha256"]?.stringValue))
        XCTAssertEqual(written["schemaVersion"]?.intValue, schema["properties"]?["schemaVersion"]?["const"]?.intValue)
        for item in try XCTUnwrap(written["history"]?.arrayValue) {
            check(item, against: schema["properties"]?["history"]?["items"], at: "history[]")
            XCTAssertNotNil(item["functionPreserving"]?.boolValue)
        }
    }

    /// A format that lost the freeze state gets it back from the manifest on load.
    func testLoadRestoresFreezeStateAndHistoryFromManifest() throws {
        let graph = try frozenMLP()
        let out = path("copy.h5")
        try ModelFile.save(graph, to: out, using: Self.copying(Self.fixture("mlp.h5")))
        XCTAssertEqual(try ModelFile.loadWithoutManifest(path: out).node(named: "hidden")?.freeze, .trainable)
        let loaded = try ModelFile.load(path: out)
        XCTAssertEqual(loaded.node(named: "hidden")?.freeze, .frozenWithBackprop)
        XCTAssertEqual(loaded.node(named: "probabilities")?.freeze, .trainable)
        XCTAssertEqual(loaded.history, graph.history)
        XCTAssertNil(loaded.source.extras["manifestWarning"])
    }

    /// A manifest whose output hash does not match the file is ignored with a warning.
    func testStaleManifestIsIgnoredWithWarning() throws {
        let out = path("copy.h5")
        try ModelFile.save(try frozenMLP(), to: out, using: Self.copying(Self.fixture("mlp.h5")))
        var manifest = try FreezeManifest.read(path: out + ".graft.json")
        manifest.output.sha256 = String(repeating: "0", count: 64)
        try manifest.write(to: out + ".graft.json")
        let loaded = try ModelFile.load(path: out)
        XCTAssertEqual(loaded.node(named: "hidden")?.freeze, .trainable)
        XCTAssertNotNil(loaded.source.extras["manifestWarning"]?.stringValue)
        // An unparseable one too.
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: out + ".graft.json"))
        XCTAssertNotNil(try ModelFile.load(path: out).source.extras["manifestWarning"]?.stringValue)
    }

    func testSaveRefusesInputAndExistingOutput() throws {
        let source = path("source.h5")
        try FileManager.default.copyItem(atPath: Self.fixture("mlp.h5"), toPath: source)
        let graph = try ModelFile.load(path: source)
        let writer = Self.copying(Self.fixture("mlp.h5"))
        // Same file: directly, through a symlink, and by the graph's own source path.
        let link = path("link.h5")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: source)
        for target in [source, link, temp.appendingPathComponent("./source.h5").path] {
            XCTAssertThrowsError(try ModelFile.save(graph, to: target, using: writer, source: source, force: true)) {
                XCTAssertEqual(($0 as? GraftError)?.kind, .invalidArgument)
            }
        }
        XCTAssertThrowsError(try ModelFile.save(graph, to: source, using: writer, force: true))
        // A hard link is the same file too.
        let hard = path("hard.h5")
        try FileManager.default.linkItem(atPath: source, toPath: hard)
        XCTAssertThrowsError(try ModelFile.save(graph, to: hard, using: writer, source: source, force: true))
        XCTAssertEqual(try SHA256.hex(fileAt: source), try SHA256.hex(fileAt: Self.fixture("mlp.h5")))
        // Existing output: refused without force, replaced with it.
        let out = path("out.h5")
        try Data("old".utf8).write(to: URL(fileURLWithPath: out))
        XCTAssertThrowsError(try ModelFile.save(graph, to: out, using: writer)) {
            XCTAssertEqual(($0 as? GraftError)?.kind, .invalidArgument)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), Data("old".utf8))
        try ModelFile.save(graph, to: out, using: writer, force: true)
        XCTAssertEqual(try SHA256.hex(fileAt: out), try SHA256.hex(fileAt: Self.fixture("mlp.h5")))
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + ".graft.json"))
    }

    func testFailedSaveLeavesNothing() throws {
        let graph = try ModelFile.load(path: Self.fixture("mlp.h5"))
        let failing = ModelWriter(format: .dl4jZip) { _, path in
            try Data("partial".utf8).write(to: URL(fileURLWithPath: path))
            throw GraftError(.unsupported, "cannot express this layer", location: "hidden")
        }
        let out = path("out.zip")
        XCTAssertThrowsError(try ModelFile.save(graph, to: out, using: failing)) {
            XCTAssertEqual(($0 as? GraftError)?.location, "hidden")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: temp.path), [])
        // Formats that cannot be written are refused before anything is written.
        XCTAssertThrowsError(try ModelFile.save(graph, to: out, format: .dl4jConfig))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: temp.path), [])
    }

    func testOutputFormatFromExtension() {
        XCTAssertEqual(ModelFile.outputFormat(forPath: "a/b.h5"), .kerasH5)
        XCTAssertEqual(ModelFile.outputFormat(forPath: "b.HDF5"), .kerasH5)
        XCTAssertEqual(ModelFile.outputFormat(forPath: "b.keras"), .keras3)
        XCTAssertEqual(ModelFile.outputFormat(forPath: "b.zip"), .dl4jZip)
        XCTAssertEqual(ModelFile.outputFormat(forPath: "b.bin"), .dl4jZip)
        XCTAssertEqual(ModelFile.outputFormat(forPath: "b"), .dl4jZip)
    }

    /// The manifest catches a frozen tensor edited after export, and nothing else.
    func testManifestCatchesMovedFrozenParameter() throws {
        let base = try frozenMLP()
        let out = path("base.h5")
        try FileManager.default.copyItem(atPath: Self.fixture("mlp.h5"), toPath: out)
        let manifest = try FreezeManifest.make(for: base, source: nil, output: out, outputFormat: .kerasH5)
        XCTAssertEqual(manifest.movedParameters(in: base), [])
        var trained = base
        let h = try XCTUnwrap(trained.index(of: "hidden"))
        let p = try XCTUnwrap(trained.index(of: "probabilities"))
        let kernelName = try XCTUnwrap(trained.nodes[h].parameters.keys.first)
        var kernel = try XCTUnwrap(trained.nodes[h].parameters[kernelName])
        var values = kernel.doubles()
        values[3] += 0.5
        kernel = Tensor(shape: kernel.shape, doubles: values).converted(to: kernel.dtype)
        trained.nodes[h].parameters[kernelName] = kernel
        // A trainable layer moving is fine.
        let pName = try XCTUnwrap(trained.nodes[p].parameters.keys.first)
        trained.nodes[p].parameters[pName] = Tensor(zeros: trained.nodes[p].parameters[pName]!.shape)
        let moved = manifest.movedParameters(in: trained)
        XCTAssertEqual(moved.map(\.node), ["hidden"])
        XCTAssertEqual(moved.map(\.parameter), [kernelName])
    }

    /// check-frozen end to end through files: BASE written with its manifest, TRAINED made by
    /// loading BASE, moving one frozen tensor and one trainable tensor, and saving.
    func testCheckFrozenCatchesMovedFrozenWeightInSavedFiles() throws {
        var missing: [String] = []
        for ext in ["h5", "zip"] {
            let format = ModelFile.outputFormat(forPath: "x.\(ext)")
            guard (try? ModelFile.writer(for: format)) != nil else { missing.append(format.rawValue); continue }
            let base = path("base.\(ext)"), trainedPath = path("trained.\(ext)"), untouched = path("untouched.\(ext)")
            try ModelFile.save(try ModelFile.load(path: Self.fixture("frozen_mlp.h5")), to: base)
            var trained = try ModelFile.load(path: base)
            XCTAssertEqual(trained.node(named: "frozen_dense")?.freeze, .frozen)
            try ModelFile.save(trained, to: untouched)
            let f = try XCTUnwrap(trained.index(of: "frozen_dense"))
            let name = try XCTUnwrap(trained.nodes[f].parameters.keys.first)
            let tensor = try XCTUnwrap(trained.nodes[f].parameters[name])
            var values = tensor.doubles()
            values[0] += 0.25
            trained.nodes[f].parameters[name] = Tensor(shape: tensor.shape, doubles: values).converted(to: tensor.dtype)
            let t = try XCTUnwrap(trained.index(of: "tuned_dense"))
            let tname = try XCTUnwrap(trained.nodes[t].parameters.keys.first)
            trained.nodes[t].parameters[tname] = Tensor(zeros: trained.nodes[t].parameters[tname]!.shape)
            try ModelFile.save(trained, to: trainedPath)

            let clean = try FrozenCheck.run(basePath: base, trained: try ModelFile.load(path: untouched))
            XCTAssertTrue(clean.usedManifest)
            XCTAssertEqual(clean.moved, [], ext)
            let check = try FrozenCheck.run(basePath: base, trained: try ModelFile.load(path: trainedPath))
            XCTAssertTrue(check.usedManifest)
            XCTAssertEqual(check.moved.map(\.node), ["frozen_dense"], ext)
            XCTAssertEqual(check.moved.map(\.parameter), [name], ext)
        }
        if !missing.isEmpty { throw XCTSkip("no writer in this build for \(missing)") }
    }

    /// A real writer's refusal (an opaque DL4J layer has no Keras form) leaves no output,
    /// no manifest and no temporary file.
    func testWriterRefusalLeavesNothing() throws {
        guard (try? ModelFile.writer(for: .kerasH5)) != nil else { throw XCTSkip("no keras-h5 writer in this build") }
        var graph = try ModelFile.load(path: Self.fixture("mlp.h5"))
        let d = try XCTUnwrap(graph.index(of: "dropout"))
        graph.nodes[d].op = .opaque(OpaqueAttributes(format: "dl4j", className: "com.example.CustomLayer", config: .object([:]),
                                                     outputShape: [16]))
        graph.nodes[d].extras = .object([:])  // as a DL4J reader would leave it: no Keras config
        for ext in ["h5", "keras"] {
            XCTAssertThrowsError(try ModelFile.save(graph, to: path("out.\(ext)"))) { error in
                XCTAssertTrue("\(error)".contains("CustomLayer"), "\(error)")
            }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: temp.path), [])
        }
    }
}
