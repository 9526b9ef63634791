import Foundation
import GraftCore
import GraftKeras
import GraftRuntime
import XCTest

/// Walks every Keras case of the corpus manifest (`keras-h5`, `keras-weights+json`, `keras3`)
/// and acts on its `checks`. A case listing both a full `h5` and a `config_json` +
/// `weights_h5` pair is tested both ways. Prints one line per case and variant, then totals.
final class KerasConformanceTests: XCTestCase {
    static let formats: Set<String> = ["keras-h5", "keras-weights+json", "keras3"]

    /// How a model variant of a case is opened.
    struct Variant {
        var label: String
        var format: String
        var read: () throws -> Graph
        var readLayers: () throws -> [KerasLayerRecord]
    }

    struct Outcome {
        var id: String
        var variant: String
        var format: String
        var passed: Bool
        var detail: String
        var knownUnsupported = false
    }

    /// Cases whose models hold built-in Keras layers the IR has no op for yet. Each must fail
    /// with an `unknownLayer` error naming the class; when one starts passing, remove it here.
    /// (Empty since LocallyConnected2D, ConvLSTM2D and Attention have IR ops.)
    static let knownUnsupported: [String: String] = [:]

    func testKerasCorpus() throws {
        let cases = try Corpus.cases(formats: Self.formats)
        XCTAssertFalse(cases.isEmpty, "no Keras cases in the manifest")
        var outcomes: [Outcome] = []
        for entry in cases {
            let id = entry["id"]?.stringValue ?? "?"
            for variant in variants(of: entry) {
                var outcome: Outcome
                do {
                    let detail = try run(entry, variant)
                    outcome = Outcome(id: id, variant: variant.label, format: variant.format, passed: true, detail: detail)
                } catch {
                    outcome = Outcome(id: id, variant: variant.label, format: variant.format, passed: false,
                                      detail: "\(error)")
                }
                var label = outcome.passed ? "PASS" : "FAIL"
                if let className = Self.knownUnsupported[id] {
                    // Expected: a clear error naming the unsupported class.
                    let clear = !outcome.passed && outcome.detail.contains(className)
                        && (outcome.detail.contains("unknown") || outcome.detail.contains("cannot read"))
                    label = clear ? "KNOWN-UNSUPPORTED" : "FAIL (known-unsupported case changed)"
                    outcome.passed = clear
                    outcome.knownUnsupported = clear
                }
                print("\(label) \(id) [\(variant.label)] \(outcome.detail)")
                outcomes.append(outcome)
            }
        }
        var byFormat: [String: (pass: Int, known: Int, total: Int)] = [:]
        for o in outcomes {
            var t = byFormat[o.format, default: (0, 0, 0)]
            t.total += 1
            if o.knownUnsupported { t.known += 1 } else if o.passed { t.pass += 1 }
            byFormat[o.format] = t
        }
        for (format, t) in byFormat.sorted(by: { $0.key < $1.key }) {
            print("TOTAL \(format): \(t.pass)/\(t.total) passed, \(t.known) known-unsupported")
        }
        let passed = outcomes.filter { $0.passed && !$0.knownUnsupported }.count
        let known = outcomes.filter(\.knownUnsupported).count
        print("TOTAL keras: \(passed)/\(outcomes.count) passed, \(known) known-unsupported, "
              + "\(outcomes.count - passed - known) failed")
        for o in outcomes where !o.passed {
            XCTFail("\(o.id) [\(o.variant)]: \(o.detail)")
        }
    }

    // MARK: Variants

    func variants(of entry: JSONValue) -> [Variant] {
        guard let model = entry["model"] else { return [] }
        var result: [Variant] = []
        if let h5 = model["h5"]?.stringValue {
            let path = Corpus.path(h5)
            result.append(Variant(label: "h5", format: "keras-h5", read: { try KerasReader.read(path: path) },
                                  readLayers: { try KerasReader.readLayers(path: path) }))
        }
        if let keras = model["keras"]?.stringValue {
            let path = Corpus.path(keras)
            result.append(Variant(label: "keras", format: "keras3", read: { try KerasReader.read(path: path) },
                                  readLayers: { try KerasReader.readLayers(path: path) }))
        }
        if let config = model["config_json"]?.stringValue, let weights = model["weights_h5"]?.stringValue {
            let c = Corpus.path(config), w = Corpus.path(weights)
            result.append(Variant(label: "json+weights", format: "keras-weights+json",
                                  read: { try KerasReader.read(configPath: c, weightsPath: w) },
                                  readLayers: { try KerasReader.readLayers(configPath: c, weightsPath: w) }))
        }
        return result
    }

    // MARK: Checks

    /// Runs every check of the case on one variant; returns a summary or throws the failure.
    func run(_ entry: JSONValue, _ variant: Variant) throws -> String {
        let checks = entry["checks"]?.stringArray ?? []
        let graph = try variant.read()
        var notes: [String] = ["\(graph.nodes.count) nodes"]
        for check in checks {
            switch check {
            case "import_without_error":
                break
            case "weights_structure":
                try checkStructure(entry, variant)
                notes.append("structure ok")
            case "frozen_flags":
                try checkFrozen(entry, graph)
                notes.append("frozen ok")
            case "forward":
                notes.append(try checkForward(entry, graph))
            case "opaque_layer_carried":
                let opaque = graph.nodes.filter(\.op.isOpaque)
                let expected = (entry["expected_structure"]?["layers"]?.arrayValue ?? [])
                    .filter { $0["class"]?.stringValue == "Lambda" }.compactMap { $0["name"]?.stringValue }
                guard !opaque.isEmpty, Set(expected).isSubset(of: Set(opaque.map(\.name))) else {
                    throw GraftError(.verificationFailed, "opaque layers not carried",
                                     expected: expected.joined(separator: ", "),
                                     found: opaque.map(\.name).joined(separator: ", "))
                }
                notes.append("opaque: \(opaque.map(\.name).joined(separator: ","))")
            case "forward_refused_with_clear_error":
                notes.append(try checkRefused(graph))
            case "same_format_roundtrip_bit_exact":
                notes.append("roundtrip not checked here (writer)")
            default:
                throw GraftError(.unsupported, "unknown check '\(check)'")
            }
        }
        return notes.joined(separator: "; ")
    }

    func checkStructure(_ entry: JSONValue, _ variant: Variant) throws {
        let records = try variant.readLayers()
        let byName = Dictionary(records.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for layer in entry["expected_structure"]?["layers"]?.arrayValue ?? [] {
            guard let name = layer["name"]?.stringValue else { continue }
            guard let record = byName[name] ?? records.first(where: { $0.name.hasSuffix("/" + name) }) else {
                throw GraftError(.verificationFailed, "layer not read", location: name)
            }
            if let cls = layer["class"]?.stringValue, cls != record.className {
                throw GraftError(.verificationFailed, "layer class differs", location: name, expected: cls,
                                 found: record.className)
            }
            let expectedWeights = layer["weights"]?.arrayValue ?? []
            guard expectedWeights.count == record.weights.count else {
                throw GraftError(.verificationFailed, "weight count differs", location: name,
                                 expected: "\(expectedWeights.count)", found: "\(record.weights.count)")
            }
            for (w, got) in zip(expectedWeights, record.weights) {
                let wName = w[0]?.stringValue ?? ""
                let shape = w[1]?.intArray ?? []
                guard got.tensor.shape == shape else {
                    throw GraftError(.verificationFailed, "weight shape differs", location: "\(name) \(wName)",
                                     expected: "\(shape)", found: "\(got.tensor.shape)")
                }
                if variant.format != "keras3", !stripped(got.name).hasSuffix(stripped(wName)) {
                    throw GraftError(.verificationFailed, "weight name differs", location: name, expected: wName,
                                     found: got.name)
                }
                if let dtype = w[2]?.stringValue, dtype != got.tensor.dtype.rawValue {
                    throw GraftError(.verificationFailed, "weight dtype differs", location: "\(name) \(wName)",
                                     expected: dtype, found: got.tensor.dtype.rawValue)
                }
            }
        }
    }

    func stripped(_ name: String) -> String { name.hasSuffix(":0") ? String(name.dropLast(2)) : name }

    func checkFrozen(_ entry: JSONValue, _ graph: Graph) throws {
        for layer in entry["expected_structure"]?["layers"]?.arrayValue ?? [] {
            guard let name = layer["name"]?.stringValue, let trainable = layer["trainable"]?.boolValue else { continue }
            guard let node = graph.node(named: name) else {
                throw GraftError(.verificationFailed, "layer missing from the graph", location: name)
            }
            let expected: FreezeState = trainable ? .trainable : .frozen
            guard node.freeze == expected else {
                throw GraftError(.verificationFailed, "freeze state differs", location: name,
                                 expected: expected.rawValue, found: node.freeze.rawValue)
            }
        }
    }

    /// Runs the stored inputs and compares with the stored outputs under the case tolerance.
    func checkForward(_ entry: JSONValue, _ graph: Graph) throws -> String {
        if graph.nodes.contains(where: \.op.isOpaque) {
            // Documented exception: a model holding a layer Graft can only carry must refuse to run.
            return "opaque layer, forward refused as required (" + (try checkRefused(graph)) + ")"
        }
        guard let inputSpec = entry["inputs"], let expectedSpec = entry["expected"] else {
            throw GraftError(.malformed, "forward check without inputs/expected")
        }
        let inputs = try KerasCaseArrays.load(inputSpec)
        let expected = try KerasCaseArrays.load(expectedSpec)
        let atol = entry["tolerance"]?["atol"]?.doubleValue ?? 1e-5
        let rtol = entry["tolerance"]?["rtol"]?.doubleValue ?? 1e-4
        let outputs = try Interpreter(graph: graph).run(inputs)
        guard outputs.count == expected.count else {
            throw GraftError(.verificationFailed, "output count differs", expected: "\(expected.count)",
                             found: "\(outputs.count)")
        }
        var worst = 0.0
        for (i, (got, want)) in zip(outputs, expected).enumerated() {
            guard got.shape == want.shape else {
                throw GraftError(.verificationFailed, "output \(i) shape differs", expected: "\(want.shape)",
                                 found: "\(got.shape)")
            }
            let g = got.doubles(), w = want.doubles()
            for j in g.indices {
                let diff = abs(g[j] - w[j])
                worst = max(worst, diff.isNaN ? .infinity : diff)
                guard diff <= atol + rtol * abs(w[j]) else {
                    throw GraftError(.verificationFailed, "output \(i) differs at element \(j)",
                                     expected: "\(w[j]) ± \(atol + rtol * abs(w[j]))", found: "\(g[j]) (max error so far \(worst))")
                }
            }
        }
        return "max error \(worst)"
    }

    /// An opaque model must refuse to run with an error that names the opaque node.
    func checkRefused(_ graph: Graph) throws -> String {
        let inputs = graph.inputs.map { node -> Tensor in
            guard case .input(let a) = node.op else { return Tensor(zeros: [1]) }
            return Tensor(zeros: [1] + a.shape.map { $0 ?? 1 }, dtype: a.dtype)
        }
        do {
            _ = try Interpreter(graph: graph).run(inputs)
        } catch let e as GraftError {
            let opaqueNames = graph.nodes.filter(\.op.isOpaque).map(\.name)
            guard e.kind == .opaqueLayer, opaqueNames.contains(where: { "\(e)".contains($0) }) else {
                throw GraftError(.verificationFailed, "refusal does not name the opaque layer",
                                 expected: "an opaqueLayer error naming one of \(opaqueNames)", found: "\(e)")
            }
            return "refused: \(e)"
        }
        throw GraftError(.verificationFailed, "a model with an opaque layer ran", expected: "a refusal")
    }
}
