import Foundation
import GraftCore
import GraftDL4J
import GraftIO
import GraftKeras
import GraftRuntime
import XCTest

/// The conversion report names what a writer made exact.
final class ConversionReportTests: XCTestCase {
    /// A Graves LSTM whose peepholes are all zero is a plain LSTM. The corpus' DL4J 0.8.0
    /// Graves LSTM stack (a GravesLSTM and a GravesBidirectionalLSTM) with its peepholes set
    /// to zero is written to Keras: the report lists the dropped peepholes of both layers as
    /// exact conversions, the Keras file holds no peephole weights, and it computes what the
    /// DL4J graph computes. With the original (non-zero) peepholes it is refused, naming the layer.
    func testAllZeroGravesPeepholesDroppedExactly() throws {
        let c = try XCTUnwrap(try Corpus.cases(formats: ["dl4j-zip"]).first { $0["id"]?.stringValue == "dl4j/regression/080/LSTM_1" })
        let original = try DL4JReader.read(path: Corpus.path(try XCTUnwrap(c["model"]?["zip"]?.stringValue)))
        let out = NSTemporaryDirectory() + "graft-peepholes-\(getpid()).h5"
        defer { try? FileManager.default.removeItem(atPath: out) }

        XCTAssertThrowsError(try KerasWriter.write(original, to: out, container: .h5)) { error in
            XCTAssertEqual((error as? GraftError)?.kind, .unsupported)
            XCTAssertTrue("\(error)".contains("node 'layer0' (gravesLSTM)"), "\(error)")
        }

        var zeroed = original
        var withPeepholes: [String] = []
        for i in zeroed.nodes.indices {
            for (key, t) in zeroed.nodes[i].parameters where key.hasSuffix("peepholes") {
                zeroed.nodes[i].parameters[key] = Tensor(zeros: t.shape, dtype: t.dtype)
                if !withPeepholes.contains(zeroed.nodes[i].name) { withPeepholes.append(zeroed.nodes[i].name) }
            }
        }
        XCTAssertEqual(withPeepholes, ["layer0", "layer1"])
        let report = try KerasWriter.write(zeroed, to: out, container: .h5)
        for name in withPeepholes {
            XCTAssertTrue(report.notes.contains { $0.kind == .exactConversion && $0.node == name && $0.message.contains("peepholes dropped") },
                          "\(name): \(report.notes)")
        }
        let back = try KerasReader.read(path: out)
        XCTAssertFalse(back.nodes.contains { $0.parameters.keys.contains { $0.hasSuffix("peepholes") } })

        // Same function on a DL4J-layout sequence [batch 2, features 3, time 5].
        let x = Tensor(shape: [2, 3, 5], doubles: (0..<30).map { sin(Double($0) * 0.7) }).converted(to: .float32)
        let mapping = try LayoutMapping(from: zeroed, to: back)
        let want = try Interpreter(graph: zeroed).run([x])
        let got = try mapping.outputsForA(try Interpreter(graph: back).run(try mapping.inputsForB([x])))
        XCTAssertEqual(got.count, want.count)
        for (g, w) in zip(got, want) {
            XCTAssertEqual(g.shape, w.shape)
            for (a, b) in zip(g.doubles(), w.doubles()) { XCTAssertEqual(a, b, accuracy: 1e-5 + 1e-4 * abs(b)) }
        }
    }
}
