import GraftCore
import XCTest
@testable import GraftRuntime

/// `Interpreter.run(from:)` (DL4J outputFromFeaturized) and `runInBatches` (featurize):
/// both must equal the plain forward pass, the independent reference here.
final class FeaturizedRunTests: XCTestCase {
    /// in [4] → d1 dense(3, tanh) → d2 dense(2, linear); weights written out by hand.
    func graph() -> Graph {
        Graph(nodes: [
            Node(name: "in", op: .input(InputAttributes(shape: [4]))),
            Node(name: "d1", op: .dense(DenseAttributes(units: 3, activation: .tanh)), inputs: [NodeOutput("in")],
                 parameters: ["kernel": Tensor(shape: [4, 3], floats: [0.1, -0.2, 0.3, 0.4, 0.5, -0.6, -0.7, 0.8, 0.9, 0.2, 0.1, -0.3]),
                              "bias": Tensor(shape: [3], floats: [0.05, -0.05, 0.1])]),
            Node(name: "d2", op: .dense(DenseAttributes(units: 2, activation: .linear)), inputs: [NodeOutput("d1")],
                 parameters: ["kernel": Tensor(shape: [3, 2], floats: [1, -1, 0.5, 2, -0.25, 0.75]),
                              "bias": Tensor(shape: [2], floats: [0.1, 0.2])]),
        ], outputs: [NodeOutput("d2")])
    }
    let x = Tensor(shape: [5, 4], floats: (0..<20).map { Float($0) * 0.1 - 1 })

    func testRunFromFeaturizedEqualsFullRun() throws {
        let interpreter = Interpreter(graph: graph())
        let features = try interpreter.run([x], outputs: [NodeOutput("d1")])[0]
        let full = try interpreter.run([x])[0]
        let fromFeatures = try interpreter.run(from: [NodeOutput("d1"): features])[0]
        XCTAssertTrue(full.bitwiseEqual(fromFeatures))
        // Asking for the boundary itself returns the given values.
        XCTAssertTrue(try interpreter.run(from: [NodeOutput("d1"): features], outputs: [NodeOutput("d1")])[0].bitwiseEqual(features))
    }

    func testRunFromRejectsUnknownNodeAndUncoveredInputs() throws {
        let interpreter = Interpreter(graph: graph())
        XCTAssertThrowsError(try interpreter.run(from: [NodeOutput("nope"): x]))
        XCTAssertThrowsError(try interpreter.run(from: [:]))
        // d2 from d1 is covered; asking for d1 from d2 is not (d1 still needs the graph input).
        XCTAssertThrowsError(try interpreter.run(from: [NodeOutput("d2"): x], outputs: [NodeOutput("d1")]))
    }

    func testRunInBatchesEqualsOneBatch() throws {
        let interpreter = Interpreter(graph: graph())
        let whole = try interpreter.run([x], outputs: [NodeOutput("d1")])[0]
        for size in [1, 2, 5, 64] {
            var calls: [Int] = []
            let batched = try interpreter.runInBatches([x], outputs: [NodeOutput("d1")], batchSize: size) { done, total in
                XCTAssertEqual(total, 5); calls.append(done)
            }[0]
            XCTAssertEqual(batched.shape, [5, 3])
            // Equal up to rounding: a batch of one row runs as GEMV, whose summation order
            // differs from GEMM's in the last bits.
            for (b, w) in zip(batched.floats(), whole.floats()) {
                XCTAssertEqual(b, w, accuracy: 1e-6 * max(1, abs(w)), "batch size \(size)")
            }
            XCTAssertEqual(calls.last, 5)
            XCTAssertEqual(calls.count, (5 + size - 1) / size)
        }
        XCTAssertThrowsError(try interpreter.runInBatches([x], outputs: [NodeOutput("d1")], batchSize: 0))
    }
}
