import Foundation
import GraftCore
import GraftDL4J
import GraftKeras
import GraftRuntime
import XCTest

/// Cross-format: every Keras HDF5 corpus model with a forward check is written as a DL4J
/// zip, read back with `DL4JReader`, and run on the case inputs (images given NCHW where
/// the writer made the input channels-first, sequences [batch, features, time]); the
/// outputs must equal Keras' stored outputs at the case tolerance. Models DL4J cannot
/// express must fail with `.unsupported` naming the layer. Prints a line per case and totals.
final class KerasToDL4JTests: XCTestCase {
    struct Failure: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

    func testKerasCorpusToDL4J() throws {
        let cases = try Corpus.cases(formats: ["keras-h5"]).filter { ($0["checks"]?.stringArray ?? []).contains("forward") }
        XCTAssertFalse(cases.isEmpty)
        defer { fflush(nil) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graft-keras-dl4j-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var converted = 0, refused = 0, failed = 0
        var refusals: [String: Int] = [:]
        for (i, c) in cases.enumerated() {
            let id = c["id"]?.stringValue ?? "?"
            guard let h5 = c["model"]?["h5"]?.stringValue else { continue }
            let keras: Graph
            do { keras = try KerasReader.read(path: Corpus.path(h5)) } catch {
                print("[keras→dl4j] SKIP \(id): Keras read failed: \(error)"); continue
            }
            let out = dir.appendingPathComponent("case\(i).zip").path
            let report: ConversionReport
            do {
                report = try DL4JWriter.write(keras, to: out)
            } catch let error as GraftError where error.kind == .unsupported {
                // The refusal must name a node of the model.
                guard let node = error.location, keras.node(named: node) != nil else {
                    failed += 1
                    XCTFail("\(id): refusal does not name a node: \(error)")
                    continue
                }
                refused += 1
                let op = keras.node(named: node)?.op.kindName ?? "?"
                refusals[op, default: 0] += 1
                print("[keras→dl4j] REFUSED \(id): \(node) (\(op)): \(error.message)")
                continue
            } catch {
                failed += 1
                print("[keras→dl4j] FAIL \(id): write: \(error)")
                XCTFail("\(id): write: \(error)")
                continue
            }
            do {
                let worst = try compare(keras, dl4jPath: out, c, report: report)
                converted += 1
                print("[keras→dl4j] PASS \(id): max error \(worst)")
            } catch {
                failed += 1
                print("[keras→dl4j] FAIL \(id): \(error)")
                XCTFail("\(id): \(error)")
            }
        }
        print("[keras→dl4j] refusals by op: \(refusals.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        print("[keras→dl4j] total: \(cases.count) cases, \(converted) converted and equal, \(refused) refused with a clear error, \(failed) failed")
    }

    /// Runs the DL4J graph on the case inputs in DL4J layouts; returns the largest error.
    func compare(_ keras: Graph, dl4jPath: String, _ c: JSONValue, report: ConversionReport) throws -> Double {
        let dl4j = try DL4JReader.read(path: dl4jPath)
        // Freeze states survive (Keras trainable: false → DL4J FrozenLayer).
        for node in keras.nodes where !node.parameters.isEmpty {
            guard let back = dl4j.node(named: node.name) else { throw Failure("layer \(node.name) missing after conversion") }
            guard back.freeze == node.freeze else { throw Failure("\(node.name): freeze \(back.freeze), expected \(node.freeze)") }
        }
        guard let inputSpec = c["inputs"], let expectedSpec = c["expected"] else { throw Failure("case without inputs/expected") }
        var inputs = try KerasCaseArrays.load(inputSpec)
        let expected = try KerasCaseArrays.load(expectedSpec)
        for (k, node) in dl4j.inputs.enumerated() where k < inputs.count {
            guard case .input(let a) = node.op else { continue }
            let relaid = report.notes.contains {
                ($0.node == node.name || dl4j.inputs.count == 1) && $0.message.contains("channels-last to channels-first")
            }
            if a.layout == .channelsFirst && inputs[k].rank == 4 && relaid { inputs[k] = try inputs[k].transposed([0, 3, 1, 2]) }
            let retimed = report.notes.contains {
                ($0.node == node.name || dl4j.inputs.count == 1) && $0.message.contains("from [batch, time, features]")
            }
            // A DL4J input of unstated kind (first layer e.g. an ActivationLayer) takes sequences as [b, f, t] too.
            if (a.layout == .sequenceFeaturesTime || a.layout == .flat) && inputs[k].rank == 3 && retimed {
                inputs[k] = try inputs[k].transposed([0, 2, 1])
            }
        }
        let outputs = try Interpreter(graph: dl4j).run(inputs)
        guard outputs.count == expected.count else { throw Failure("\(outputs.count) outputs, expected \(expected.count)") }
        let atol = c["tolerance"]?["atol"]?.doubleValue ?? 1e-5, rtol = c["tolerance"]?["rtol"]?.doubleValue ?? 1e-4
        var worst = 0.0
        for (i, (got0, want)) in zip(outputs, expected).enumerated() {
            var got = got0
            if got.shape != want.shape && got.rank == 3 { got = try got.transposed([0, 2, 1]) }
            if got.shape != want.shape && got.rank == 4 { got = try got.transposed([0, 2, 3, 1]) }
            guard got.shape == want.shape else { throw Failure("output \(i) shape \(got0.shape), expected \(want.shape)") }
            for (g, w) in zip(got.doubles(), want.doubles()) {
                let d = abs(g - w)
                worst = max(worst, d.isNaN ? .infinity : d)
                guard d <= atol + rtol * abs(w) else { throw Failure("output \(i) differs: \(g) vs \(w)") }
            }
        }
        return worst
    }
}
