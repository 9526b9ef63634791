import XCTest
import GraftCore
@testable import GraftRuntime

/// Builds a graph: one float input of `shape` (without batch) feeding `op`, which is the output.
func singleOpGraph(_ op: Op, inputShape: [Int?], parameters: [String: Tensor] = [:], layout: DataLayout = .flat,
                   inputDType: DType = .float32, source: String = "memory") -> Graph {
    let input = Node(name: "in", op: .input(InputAttributes(shape: inputShape, dtype: inputDType, layout: layout)))
    let node = makeNode("op", op, inputs: ["in"], parameters: parameters)
    return Graph(nodes: [input, node], outputs: [NodeOutput("op")], source: SourceInfo(format: source))
}

/// A node with `parameters` (inserted in sorted key order).
func makeNode(_ name: String, _ op: Op, inputs: [String], parameters: [String: Tensor] = [:]) -> Node {
    var node = Node(name: name, op: op, inputs: inputs.map { NodeOutput($0) })
    for key in parameters.keys.sorted() { node.parameters[key] = parameters[key] }
    return node
}

func inputNode(_ name: String, _ shape: [Int?], layout: DataLayout = .flat, dtype: DType = .float32) -> Node {
    Node(name: name, op: .input(InputAttributes(shape: shape, dtype: dtype, layout: layout)))
}

/// Runs a graph on float32 inputs and returns the first output.
func runOne(_ graph: Graph, _ inputs: [Tensor], file: StaticString = #filePath, line: UInt = #line) throws -> Tensor {
    let outs = try Interpreter(graph: graph).run(inputs)
    XCTAssertEqual(outs.count, graph.outputs.count, file: file, line: line)
    return outs[0]
}

/// Asserts shape and values within `tol` (absolute).
func assertTensor(_ t: Tensor, shape: [Int], _ expected: [Double], tol: Double = 1e-5,
                  file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(t.shape, shape, "shape", file: file, line: line)
    let got = t.doubles()
    XCTAssertEqual(got.count, expected.count, "element count", file: file, line: line)
    for (i, (g, e)) in zip(got, expected).enumerated() {
        XCTAssertEqual(g, e, accuracy: tol, "element \(i)", file: file, line: line)
    }
}

/// Deterministic small values: 0.1·(i mod 7) − 0.3 + 0.05·i/n.
func sampleValues(_ n: Int, seed: Int = 0) -> [Float] {
    (0..<n).map { i in Float(((i + seed) % 7)) * 0.1 - 0.3 + 0.05 * Float(i) / Float(max(n, 1)) }
}
