import XCTest
import GraftCore
@testable import GraftSurgery

/// Every operation leaves its input untouched, records itself once, and leaves the nodes it
/// does not concern bit-identical.
final class HistoryAndPurityTests: XCTestCase {
    func model() -> Graph {
        var g = TransferLearningTests.vggHead()
        g.nodes.insert(Node(name: "drop", op: .dropout(kind: "Dropout", rate: 0.5), inputs: [NodeOutput("fc1")]), at: 2)
        g.nodes[3].inputs = [NodeOutput("drop")]
        return g
    }

    func testEveryOperation() throws {
        let cases: [(String, (Graph) throws -> Graph, untouched: [String])] = [
            ("widen", { try $0.widen(layer: "fc2", by: 2) }, ["fc1"]),
            ("prune", { try $0.prune(layer: "fc2", units: [0]) }, ["fc1"]),
            ("nOutReplace", { try $0.nOutReplace(layer: "fc2", nOut: 3) }, ["fc1"]),
            ("setFeatureExtractor", { try $0.setFeatureExtractor(["fc1"]) }, ["fc2", "predictions"]),
            ("freeze", { try $0.freeze(names: ["fc2"]) }, ["fc1", "predictions"]),
            ("unfreeze", { try $0.unfreeze() }, ["fc1", "fc2", "predictions"]),
            ("removeOutputLayer", { try $0.removeOutputLayer() }, ["fc1", "fc2"]),
            ("removeLayersFromOutput", { try $0.removeLayersFromOutput(1) }, ["fc1", "fc2"]),
            ("removeVertexKeepConnections", { try $0.removeVertexKeepConnections("drop") }, ["fc1", "fc2", "predictions"]),
            ("removeVertexAndConnections", { try $0.removeVertexAndConnections("predictions") }, ["fc1", "fc2"]),
            ("addLayer", { try $0.addLayer(name: "extra", op: .dense(DenseAttributes(units: 3)), inputs: ["fc2"]) }, ["fc1", "fc2", "predictions"]),
            ("addVertex", { try $0.addVertex(name: "sum", op: .merge(MergeAttributes(.add)), inputs: ["fc1", "drop"]) }, ["fc1", "fc2", "predictions"]),
            ("setOutputs", { try $0.setOutputs(["fc2"]) }, ["fc1", "fc2", "predictions"]),
            ("setInputPreProcessor", { try $0.setInputPreProcessor(layer: "fc1", .cnnToFeedForward(height: 2, width: 2, channels: 2)) }, ["fc1", "fc2", "predictions"]),
            ("fineTune", { $0.fineTune(FineTuneConfiguration(learningRate: 0.1)) }, []),
            ("insertLayer", { try $0.insertLayer(after: "fc1", name: "deep", op: .dense(DenseAttributes(units: 6))) }, ["fc1", "fc2", "predictions"]),
            ("replaceLayer", { try $0.replaceLayer("fc2", op: .dense(DenseAttributes(units: 5))) }, ["fc1", "predictions"]),
            ("rename", { try $0.rename("fc2", to: "hidden") }, ["fc1", "predictions"]),
        ]
        XCTAssertEqual(Set(cases.map(\.0)), Set(SurgeryOperations.table.keys))
        let g = model()
        for (name, op, untouched) in cases {
            let before = g
            let after = try op(g)
            XCTAssertEqual(g, before, "\(name) changed its input")
            XCTAssertEqual(after.history.count, g.history.count + 1, name)
            XCTAssertEqual(after.history.last?.operation, name)
            for n in untouched {
                XCTAssertEqual(after.node(named: n)?.parameters, g.node(named: n)?.parameters, "\(name): \(n)")
            }
        }
    }
}

extension HistoryAndPurityTests {
    /// Widening touches only the layer and its consumers: every other tensor keeps sharing its
    /// bytes with the source graph (no copy), which keeps widening a VGG-sized graph cheap.
    func testUntouchedTensorsShareStorage() throws {
        let g = model()
        let w = try g.widen(layer: "fc1", by: 3)
        for name in ["predictions"] {
            for (key, t) in w.node(named: name)!.parameters {
                XCTAssertTrue(t.storage === g.node(named: name)!.parameters[key]!.storage, "\(name)/\(key) was copied")
            }
        }
        XCTAssertFalse(w.node(named: "fc1")!.parameters["kernel"]!.storage === g.node(named: "fc1")!.parameters["kernel"]!.storage)
    }
}
