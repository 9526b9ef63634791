import Foundation
import GraftCore
import GraftKeras
import GraftRuntime
import XCTest

/// Every bundled fixture (`fixtures/manifest.json`), in every file form it comes in, reads and
/// computes what Keras computed: each output, and each layer's activation (`act:<layer>`).
final class FixtureTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures")

    func testEveryFixtureMatchesKerasLayerByLayer() throws {
        let manifest = try JSONValue.parse(bytes: [UInt8](try Data(contentsOf: Self.fixtures.appendingPathComponent("manifest.json"))))
        let entries = manifest["fixtures"]?.arrayValue ?? []
        XCTAssertGreaterThanOrEqual(entries.count, 8)
        var compared = 0
        for entry in entries {
            let name = entry["name"]?.stringValue ?? "?"
            let files = entry["files"] ?? .null
            let path = { (key: String) in files[key]?.stringValue.map { Self.fixtures.appendingPathComponent($0).path } }
            var graphs: [(String, Graph)] = []
            if let h5 = path("h5") { graphs.append(("h5", try KerasReader.read(path: h5))) }
            if let keras = path("keras") { graphs.append(("keras", try KerasReader.read(path: keras))) }
            if let config = path("config_json"), let weights = path("weights_h5") {
                graphs.append(("json+weights", try KerasReader.read(configPath: config, weightsPath: weights)))
            }
            let io = try NPZ.read(path: Self.fixtures.appendingPathComponent(entry["io"]?.stringValue ?? "").path)
            let inputs = (entry["inputs"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap { io[$0] } }
            let atol = entry["tolerance"]?["atol"]?.doubleValue ?? 1e-5, rtol = entry["tolerance"]?["rtol"]?.doubleValue ?? 1e-4
            let frozen = Set((entry["frozen_layers"]?.arrayValue ?? []).compactMap(\.stringValue))
            for (form, graph) in graphs {
                let label = "\(name) (\(form))"
                let outputs = try Interpreter(graph: graph).run(inputs)
                for (i, key) in (entry["outputs"]?.arrayValue ?? []).compactMap(\.stringValue).enumerated() {
                    guard let expected = io[key] else { XCTFail("\(label): no \(key)"); continue }
                    let r = try compare(actual: outputs[i], expected: expected, atol: atol, rtol: rtol)
                    XCTAssertTrue(r.pass, "\(label) \(key): max abs error \(r.maxAbs)")
                    compared += 1
                }
                // Layer by layer, where a node carries the layer's name.
                let layers = io.keys.filter { $0.hasPrefix("act:") }.map { String($0.dropFirst(4)) }
                    .filter { graph.node(named: $0) != nil }
                let activations = try Interpreter(graph: graph).run(inputs, outputs: layers.map { NodeOutput($0) })
                for (layer, actual) in zip(layers, activations) {
                    let r = try compare(actual: actual, expected: io["act:" + layer]!, atol: atol, rtol: rtol)
                    XCTAssertTrue(r.pass, "\(label) layer \(layer): max abs error \(r.maxAbs)")
                    compared += 1
                }
                for node in graph.nodes where frozen.contains(node.name) {
                    XCTAssertEqual(node.freeze, .frozen, "\(label): \(node.name) should be frozen")
                }
                XCTAssertEqual(graph.nodes.filter { $0.freeze != .trainable }.count, frozen.count, label)
            }
        }
        XCTAssertGreaterThan(compared, 30)
    }
}
