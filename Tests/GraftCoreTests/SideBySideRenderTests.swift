import GraftCore
import XCTest

final class SideBySideRenderTests: XCTestCase {
    func testTwoClustersWithPrefixedIds() {
        let a = Graph(nodes: [Node(name: "in", op: .input(InputAttributes(shape: [2]))),
                              Node(name: "act", op: .activation(.tanh), inputs: [NodeOutput("in")])],
                      outputs: [NodeOutput("act")])
        var b = a
        b.nodes[1].freeze = .frozen
        let dot = Graph.dotSideBySide(before: a, after: b, beforeTitle: "old", afterTitle: "new")
        XCTAssertTrue(dot.hasPrefix("digraph graft {"))
        XCTAssertTrue(dot.contains("subgraph \"cluster_0\"") && dot.contains("label=\"old\""))
        XCTAssertTrue(dot.contains("subgraph \"cluster_1\"") && dot.contains("label=\"new\""))
        XCTAssertTrue(dot.contains("\"before/in\" -> \"before/act\";"))
        XCTAssertTrue(dot.contains("\"after/in\" -> \"after/act\";"))
        // Only the frozen copy is shaded.
        XCTAssertEqual(dot.components(separatedBy: "#b0c4de").count - 1, 1)
        // The single-graph picture is unchanged in shape: no clusters, unprefixed ids.
        XCTAssertFalse(a.dot().contains("cluster"))
        XCTAssertTrue(a.dot().contains("\"in\" -> \"act\";"))
    }

    func testRowsAndConcatenation() throws {
        let t = Tensor(shape: [3, 2], floats: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try t.rows(1..<3).floats(), [3, 4, 5, 6])
        XCTAssertEqual(try t.rows(1..<3).shape, [2, 2])
        let joined = try Tensor.concatenatingRows([t.rows(0..<1), t.rows(1..<3)])
        XCTAssertTrue(joined.bitwiseEqual(t))
        XCTAssertThrowsError(try t.rows(2..<4))
        XCTAssertThrowsError(try Tensor.concatenatingRows([t, Tensor(shape: [1, 3], floats: [0, 0, 0])]))
    }
}
