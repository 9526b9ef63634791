import GraftCore
import GraftIO
import XCTest

/// `graft inspect` on every DL4J corpus model shows the layer names and classes of the
/// configuration and the parameter counts DL4J's own summary gives (by DL4J's formulas).
final class DL4JInspectTests: XCTestCase {
    func testInspectMatchesDL4JSummary() throws {
        var checkedLayers = 0, checkedModels = 0
        var failures: [String] = []
        for c in try Corpus.cases(formats: ["dl4j-zip"]) {
            let id = c["id"]?.stringValue ?? "?"
            guard let zip = c["model"]?["zip"]?.stringValue, let config = c["expected_config"] else { continue }
            let report = try ModelFile.load(path: Corpus.path(zip)).inspectJSON()
            let nodes = report["nodes"]?.arrayValue ?? []
            func node(_ name: String) -> JSONValue? { nodes.first { $0["name"]?.stringValue == name } }
            var expected: [(name: String, layer: JSONValue)] = []
            if let layers = config["layers"]?.arrayValue {
                for (i, layer) in layers.enumerated() { expected.append((layer["name"]?.stringValue ?? "layer\(i)", layer)) }
            } else if let vertices = config["vertices"]?.objectValue {
                for (name, v) in vertices where v["vertex"]?.stringValue == "LayerVertex" {
                    if let layer = v["layer"] { expected.append((name, layer)) }
                }
            }
            for (name, layer) in expected {
                guard let n = node(name) else { failures.append("\(id): no node \(name)"); continue }
                let type = layer["type"]?.stringValue ?? ""
                let shown = n["class"]?.stringValue ?? ""
                // Legacy short names are shown as DL4J's class names (`dense` → `DenseLayer`).
                if shown.lowercased() != type.lowercased() && !shown.lowercased().hasPrefix(type.lowercased()) {
                    failures.append("\(id): \(name) class \(shown), configuration says \(type)")
                }
                if let want = Self.dl4jParameterCount(layer), n["parameterCount"]?.intValue != want {
                    failures.append("\(id): \(name) has \(n["parameterCount"]?.description ?? "?") parameters, DL4J counts \(want)")
                }
                checkedLayers += 1
            }
            if let total = c["num_params"]?.intValue {
                let sum = nodes.reduce(0) { $0 + ($1["parameterCount"]?.intValue ?? 0) }
                if sum != total { failures.append("\(id): \(sum) parameters in all, DL4J has \(total)") }
            }
            checkedModels += 1
        }
        print("[dl4j-inspect] \(checkedModels) models, \(checkedLayers) layers checked, \(failures.count) failures")
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
        XCTAssertGreaterThan(checkedLayers, 30)
    }

    /// DL4J's parameter count for the layer types whose count follows from nIn and nOut alone.
    static func dl4jParameterCount(_ layer: JSONValue) -> Int? {
        guard let nIn = layer["nIn"]?.intValue, let n = layer["nOut"]?.intValue else { return nil }
        switch (layer["type"]?.stringValue ?? "").lowercased() {
        case "dense", "denselayer", "output", "outputlayer", "rnnoutput", "rnnoutputlayer":
            return nIn * n + n
        case "lstm":
            return nIn * 4 * n + n * 4 * n + 4 * n
        case "graveslstm":
            return nIn * 4 * n + n * (4 * n + 3) + 4 * n
        case "gravesbidirectionallstm":
            return 2 * (nIn * 4 * n + n * (4 * n + 3) + 4 * n)
        case "simplernn":
            return nIn * n + n * n + n
        case "bidirectional":
            guard let wrapped = layer["wrapped"], let inner = dl4jParameterCount(wrapped) else { return nil }
            return 2 * inner
        default:
            return nil
        }
    }
}
