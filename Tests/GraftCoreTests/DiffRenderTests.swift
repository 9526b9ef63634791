import GraftCore
import XCTest

final class DiffRenderTests: XCTestCase {
    func graph() -> Graph {
        let input = Node(name: "in", op: .input(InputAttributes(shape: [3])))
        let dense = Node(name: "dense", op: .dense(DenseAttributes(units: 2)), inputs: [NodeOutput("in")],
                         parameters: ["kernel": Tensor(shape: [3, 2], floats: [1, 2, 3, 4, 5, 6]),
                                      "bias": Tensor(shape: [2], floats: [0.5, -0.5])], freeze: .frozen)
        let head = Node(name: "head", op: .dense(DenseAttributes(units: 1, activation: .sigmoid)), inputs: [NodeOutput("dense")],
                        parameters: ["kernel": Tensor(shape: [2, 1], floats: [1, -1]), "bias": Tensor(shape: [1], floats: [0])])
        return Graph(nodes: [input, dense, head], outputs: [NodeOutput("head")])
    }

    func testIdenticalGraphsHaveNoDifferences() {
        let d = graph().diff(graph())
        XCTAssertTrue(d.isEmpty)
        XCTAssertEqual(d.text, "no differences\n")
        XCTAssertEqual(d.json["identical"], .bool(true))
    }

    func testDiffReportsEveryKindOfChange() {
        var other = graph()
        other.nodes[1].parameters["bias"] = Tensor(shape: [2], floats: [0.5, -0.25])  // one value moved by 0.25
        other.nodes[1].freeze = .trainable
        other.nodes[2].parameters["kernel"] = Tensor(shape: [2, 2], floats: [1, -1, 0, 0])
        other.nodes.append(Node(name: "extra", op: .activation(.relu()), inputs: [NodeOutput("head")]))
        let d = graph().diff(other)
        XCTAssertEqual(d.onlyInSecond, ["extra"])
        XCTAssertEqual(d.nodeChanges.map(\.field), ["freeze"])
        let values = d.parameterChanges.first { $0.kind == "values" }
        XCTAssertEqual(values?.parameter, "bias")
        XCTAssertEqual(values?.maxAbs, 0.25)
        XCTAssertTrue(values?.detail.contains("1 of 2") == true)
        XCTAssertEqual(d.parameterChanges.first { $0.kind == "shape" }?.node, "head")
    }

    /// A changed attribute of an op of the same kind is named: `op.activation`, before and after.
    func testDiffNamesChangedOpAttributes() {
        var other = graph()
        other.nodes[2].op = .dense(DenseAttributes(units: 1, activation: .tanh))
        let d = graph().diff(other)
        XCTAssertEqual(d.nodeChanges.count, 1)
        XCTAssertEqual(d.nodeChanges.first?.field, "op.activation")
        XCTAssertEqual(d.nodeChanges.first?.before, "sigmoid")
        XCTAssertEqual(d.nodeChanges.first?.after, "tanh")
        XCTAssertTrue(d.text.contains("~ head.op.activation: sigmoid -> tanh"), d.text)
        // A different kind is reported as the op itself.
        other.nodes[2].op = .activation(.tanh)
        XCTAssertEqual(graph().diff(other).nodeChanges.map(\.field), ["op"])
    }

    func testMovedFrozenParametersOnlyLooksAtFrozenNodes() {
        var trained = graph()
        trained.nodes[2].parameters["bias"] = Tensor(shape: [1], floats: [3])  // trainable: allowed to move
        XCTAssertTrue(graph().movedFrozenParameters(in: trained).isEmpty)
        trained.nodes[1].parameters["kernel"] = Tensor(shape: [3, 2], floats: [1, 2, 3, 4, 5, 7])
        let moved = graph().movedFrozenParameters(in: trained)
        XCTAssertEqual(moved.map { "\($0.node)/\($0.parameter)" }, ["dense/kernel"])
        trained.nodes.remove(at: 1)
        XCTAssertEqual(graph().movedFrozenParameters(in: trained).first?.kind, "removed")
    }

    func testDotMarksFrozenAndEditedNodes() {
        var g = graph()
        g.history.append(HistoryRecord(operation: "widen", arguments: .object(["layer": .string("head")]), functionPreserving: true))
        let dot = g.dot()
        XCTAssertTrue(dot.hasPrefix("digraph graft {"))
        XCTAssertTrue(dot.contains("\"in\" -> \"dense\""))
        let denseLine = dot.split(separator: "\n").first { $0.contains("\"dense\" [") } ?? ""
        XCTAssertTrue(denseLine.contains("fillcolor=\"#b0c4de\""), String(denseLine))
        let headLine = dot.split(separator: "\n").first { $0.contains("\"head\" [") } ?? ""
        XCTAssertTrue(headLine.contains("color=red") && headLine.contains("(None, 1)"), String(headLine))
    }
}
