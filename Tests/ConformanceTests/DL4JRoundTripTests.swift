import Foundation
import GraftCore
import GraftDL4J
import GraftRuntime
import XCTest

/// Every dl4j-zip corpus case read → written by `DL4JWriter` → read again must give the
/// same nodes (ops, inputs, freeze, bit-identical parameters), the same flat coefficients
/// vector bit for bit, `updaterState.bin` byte-identical, every layer JSON field of the
/// original still present, and the same forward outputs where the case has inputs.
final class DL4JRoundTripTests: XCTestCase {
    struct Failure: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

    func testDL4JCorpusRoundTrip() throws {
        let cases = try Corpus.cases(formats: ["dl4j-zip"])
        XCTAssertFalse(cases.isEmpty)
        defer { fflush(nil) }
        var passed = 0, failed = 0
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graft-dl4j-roundtrip-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (i, c) in cases.enumerated() {
            let id = c["id"]?.stringValue ?? "?"
            guard let zip = c["model"]?["zip"]?.stringValue else { continue }
            do {
                try roundTrip(Corpus.path(zip), c, out: dir.appendingPathComponent("case\(i).zip").path)
                passed += 1
                print("[dl4j-roundtrip] PASS \(id)")
            } catch {
                failed += 1
                print("[dl4j-roundtrip] FAIL \(id): \(error)")
                XCTFail("\(id): \(error)")
            }
        }
        print("[dl4j-roundtrip] total: \(cases.count) cases, \(passed) passed, \(failed) failed")
    }

    func roundTrip(_ path: String, _ c: JSONValue, out: String) throws {
        let original = try DL4JReader.read(path: path)
        let report = try DL4JWriter.write(original, to: out)
        XCTAssertTrue(report.isLossless, "\(report.notes)")
        let back = try DL4JReader.read(path: out)
        guard back.nodes.count == original.nodes.count else {
            throw Failure("\(back.nodes.count) nodes back, \(original.nodes.count) written")
        }
        for (a, b) in zip(original.nodes, back.nodes) {
            guard a.name == b.name, a.op == b.op, a.inputs == b.inputs, a.freeze == b.freeze else {
                throw Failure("node \(a.name) came back as \(b.name) \(b.op.kindName) \(b.inputs) \(b.freeze)")
            }
            guard a.parameters.keys == b.parameters.keys,
                  zip(a.parameters.values, b.parameters.values).allSatisfy({ $0.bitwiseEqual($1) }) else {
                throw Failure("parameters of \(a.name) differ")
            }
            // Every field of the original layer JSON is still present (upgraded generation).
            if let layer = a.extras["dl4j"], let written = b.extras["dl4j"] {
                try requireFields(of: layer, in: written, at: a.name)
            }
        }
        XCTAssertEqual(back.outputs, original.outputs)
        // The flat vector, bit for bit.
        let zipA = try ZipArchive(path: path), zipB = try ZipArchive(path: out)
        if zipA.contains("coefficients.bin") {
            let a = try Nd4jArray.decode(try zipA.read("coefficients.bin")).tensor
            let b = try Nd4jArray.decode(try zipB.read("coefficients.bin")).tensor
            guard try a.reshaped([a.count]).bitwiseEqual(try b.reshaped([b.count])) else { throw Failure("coefficients differ") }
        }
        for entry in zipA.entryNames where entry != "configuration.json" && entry != "coefficients.bin" {
            guard try zipB.contains(entry) && zipA.read(entry) == zipB.read(entry) else { throw Failure("\(entry) not byte-identical") }
        }
        // Forward outputs, where the case has inputs.
        // (Graphs with custom layers have no implementation here; their equal nodes and
        // parameters above already make the function equal.)
        if (c["checks"]?.stringArray ?? []).contains("forward"), !original.nodes.contains(where: { $0.op.isOpaque }),
           let file = c["inputs"]?["file"]?.stringValue {
            let x = c["inputs"]?["format"]?.stringValue == "nd4j-bin"
                ? try Nd4jArray.read(path: Corpus.path(file)).tensor : try NPY.read(path: Corpus.path(file))
            let ya = try Interpreter(graph: original).run([x]), yb = try Interpreter(graph: back).run([x])
            guard zip(ya, yb).allSatisfy({ $0.bitwiseEqual($1) }) else { throw Failure("forward outputs differ") }
        }
    }

    /// Every key of `original` (unwrapped from a legacy wrapper) appears in `written`, recursively for objects.
    func requireFields(of original: JSONValue, in written: JSONValue, at location: String) throws {
        func unwrapped(_ json: JSONValue) -> JSONValue {
            if json["@class"] == nil, let object = json.objectValue, object.count == 1, let inner = object.values.first,
               inner.objectValue != nil { return inner }
            return json
        }
        let written = unwrapped(written)
        guard let object = unwrapped(original).objectValue else { return }
        for (key, value) in object {
            guard let w = written[key] else { throw Failure("\(location): field \(key) missing after writing") }
            if key == "layer" || key == "underlying" || key == "fwd" || key == "bwd" { try requireFields(of: value, in: w, at: location + "/" + key) }
        }
    }
}

extension DL4JRoundTripTests {
    /// A freeze change on a graph read from DL4J: the layer is written inside a FrozenLayer
    /// wrapper with every original field, parameters unchanged; updaterState.bin is dropped
    /// with a note (DL4J sizes the updater state by trainable parameters).
    func testFreezeChangeWritesFrozenWrapper() throws {
        _ = try Corpus.cases()
        var g = try DL4JReader.read(path: Corpus.path(try mlpMoonZip()))
        let index = try XCTUnwrap(g.index(of: "layer0"))
        g.nodes[index].freeze = .frozen
        let (entries, report) = try DL4JWriter.encode(g)
        XCTAssertTrue(report.notes.contains { $0.kind == .dropped && $0.message.contains("updaterState.bin") })
        let config = try JSONValue.parse(bytes: try XCTUnwrap(entries.first { $0.0 == "configuration.json" }?.1))
        let layer0 = try XCTUnwrap(config["confs"]?[0]?["layer"])
        XCTAssertEqual(layer0["@class"]?.stringValue, "org.deeplearning4j.nn.conf.layers.misc.FrozenLayer")
        let original = try XCTUnwrap(g.nodes[index].extras["dl4j"]?.objectValue)
        for key in original.keys { XCTAssertNotNil(layer0["layer"]?[key], key) }
        let path = NSTemporaryDirectory() + "graft-freeze-\(getpid()).zip"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try DL4JWriter.write(g, to: path)
        let back = try DL4JReader.read(path: path)
        XCTAssertEqual(back.node(named: "layer0")?.freeze, .frozen)
        for (a, b) in zip(g.nodes, back.nodes) { XCTAssertEqual(Array(a.parameters.values), Array(b.parameters.values), a.name) }
    }

    func mlpMoonZip() throws -> String {
        let c = try XCTUnwrap(try Corpus.cases(formats: ["dl4j-zip"]).first { $0["id"]?.stringValue == "dl4j/integration/MLPMoon" })
        return try XCTUnwrap(c["model"]?["zip"]?.stringValue)
    }
}

extension DL4JRoundTripTests {
    /// Every dl4j-zip case with its first parameterised layer frozen goes through the
    /// generated-configuration path: read back, the layer is frozen and every node's
    /// parameters are bit-identical.
    func testCorpusFreezeChangeRoundTrip() throws {
        defer { fflush(nil) }
        var passed = 0, failed = 0
        for c in try Corpus.cases(formats: ["dl4j-zip"]) {
            let id = c["id"]?.stringValue ?? "?"
            guard let zip = c["model"]?["zip"]?.stringValue else { continue }
            do {
                var g = try DL4JReader.read(path: Corpus.path(zip))
                guard let index = g.nodes.firstIndex(where: { !$0.parameters.isEmpty && $0.freeze == .trainable }) else { continue }
                g.nodes[index].freeze = .frozen
                let path = NSTemporaryDirectory() + "graft-freeze-all-\(getpid()).zip"
                defer { try? FileManager.default.removeItem(atPath: path) }
                try DL4JWriter.write(g, to: path)
                let back = try DL4JReader.read(path: path)
                guard back.node(named: g.nodes[index].name)?.freeze == .frozen else { throw Failure("not frozen after writing") }
                for node in g.nodes where !node.parameters.isEmpty {
                    guard let b = back.node(named: node.name), Array(b.parameters.values) == Array(node.parameters.values) else {
                        throw Failure("parameters of \(node.name) differ")
                    }
                }
                passed += 1
                print("[dl4j-freeze] PASS \(id)")
            } catch {
                failed += 1
                print("[dl4j-freeze] FAIL \(id): \(error)")
                XCTFail("\(id): \(error)")
            }
        }
        print("[dl4j-freeze] total: \(passed) passed, \(failed) failed")
    }
}
