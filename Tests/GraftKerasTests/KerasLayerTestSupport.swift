import Foundation
import GraftCore
@testable import GraftKeras
import OrderedCollections
import XCTest

/// Layer configs taken from the shared corpus at run time (`../shared/corpus` beside the
/// package), so family tests parse what real Keras releases wrote.
enum CorpusLayers {
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("../shared/corpus").standardizedFileURL

    /// Every `{class_name, config}` layer object in a corpus file's model config, by layer
    /// name. `.json` files are parsed directly, `.keras` archives through their `config.json`,
    /// and `.h5` files by locating the `model_config` JSON text among the file's bytes (these
    /// small attributes are stored contiguously; this keeps the family tests independent of
    /// the HDF5 reader).
    static func layers(in relativePath: String) throws -> [String: (className: String, config: JSONValue)] {
        let url = root.appendingPathComponent(relativePath)
        guard FileManager.default.fileExists(atPath: url.path) else {
            if ProcessInfo.processInfo.environment["CI"] != nil { XCTFail("corpus file missing: \(url.path)") }
            throw XCTSkip("corpus not found at \(url.path)")
        }
        let json: JSONValue
        if relativePath.hasSuffix(".keras") {
            json = try JSONValue.parse(bytes: try ZipArchive(path: url.path).read("config.json"))
        } else if relativePath.hasSuffix(".json") {
            json = try JSONValue.parse(bytes: [UInt8](try Data(contentsOf: url)))
        } else {
            json = try modelConfig(inHDF5Bytes: [UInt8](try Data(contentsOf: url)))
        }
        var found: [String: (String, JSONValue)] = [:]
        collect(json, into: &found)
        return found
    }

    /// One layer's config, failing the test when absent.
    static func layer(_ name: String, in relativePath: String) throws -> (className: String, config: JSONValue) {
        guard let l = try layers(in: relativePath)[name] else {
            throw GraftError(.invalidArgument, "no layer '\(name)' in \(relativePath)")
        }
        return l
    }

    private static func collect(_ v: JSONValue, into found: inout [String: (String, JSONValue)]) {
        switch v {
        case .object(let o):
            if let cls = o["class_name"]?.stringValue, let config = o["config"], let name = config["name"]?.stringValue,
               found[name] == nil {
                found[name] = (cls, config)
            }
            for (_, child) in o { collect(child, into: &found) }
        case .array(let a):
            for child in a { collect(child, into: &found) }
        default: break
        }
    }

    /// The first JSON object in the bytes that starts `{"class_name": "Sequential|Model|Functional"`.
    private static func modelConfig(inHDF5Bytes bytes: [UInt8]) throws -> JSONValue {
        for prefix in ["{\"class_name\": \"Sequential\"", "{\"class_name\": \"Model\"", "{\"class_name\": \"Functional\""] {
            let p = Array(prefix.utf8)
            guard p.count <= bytes.count else { continue }
            var i = 0
            while i + p.count <= bytes.count {
                if bytes[i] == p[0], Array(bytes[i..<i + p.count]) == p, let end = matchingBrace(bytes, from: i) {
                    return try JSONValue.parse(bytes: Array(bytes[i...end]))
                }
                i += 1
            }
        }
        throw GraftError(.malformed, "no model_config JSON found")
    }

    private static func matchingBrace(_ b: [UInt8], from start: Int) -> Int? {
        var depth = 0, inString = false, escaped = false
        for i in start..<b.count {
            let c = b[i]
            if inString {
                if escaped { escaped = false } else if c == UInt8(ascii: "\\") { escaped = true }
                else if c == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch c {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"): depth += 1
            case UInt8(ascii: "}"):
                depth -= 1
                if depth == 0 { return i }
            case 0: return nil
            default: break
            }
        }
        return nil
    }
}

/// Producers as the reader would report them.
enum Producers {
    static let keras1 = KerasProducer(major: 1, version: "1.2.2", backend: nil)
    static let keras1Theano = KerasProducer(major: 1, version: "1.2.2", backend: "theano")
    static let keras2 = KerasProducer(major: 2, version: "2.1.3", backend: "tensorflow")
    static let keras2Theano = KerasProducer(major: 2, version: "2.1.3", backend: "theano")
    static let tfKeras = KerasProducer(major: 2, version: "2.2.4-tf", backend: "tensorflow")
    static let keras3 = KerasProducer(major: 3, version: "3.15.1", backend: "tensorflow")
}

/// A float32 tensor whose element at flat index k is `f(k)`.
func testTensor(_ shape: [Int], _ f: (Int) -> Float = { Float($0) }) -> Tensor {
    Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map(f))
}

func layerContext(_ className: String, _ config: JSONValue, producer: KerasProducer,
             weights: [(String, Tensor)] = [], name: String = "layer") -> KerasLayerContext {
    KerasLayerContext(name: name, className: className, config: config, producer: producer,
                      weights: weights.map { KerasWeight(name: $0.0, tensor: $0.1) }, inputShapes: [], file: "test")
}

/// The config with some fields replaced (to vary a real corpus snippet).
func configWith(_ config: JSONValue, _ changes: [String: JSONValue]) -> JSONValue {
    guard var o = config.objectValue else { return config }
    for (k, v) in changes { o[k] = v }
    return .object(o)
}

func assertGraftError(_ kind: GraftError.Kind, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected a \(kind) error", file: file, line: line)
    } catch let e as GraftError {
        XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: line)
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}
