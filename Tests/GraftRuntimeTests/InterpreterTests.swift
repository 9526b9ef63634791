import XCTest
import Foundation
import GraftCore
@testable import GraftRuntime

final class InterpreterTests: XCTestCase {
    func testOpaqueNodeIsRefusedByName() {
        let g = Graph(nodes: [
            inputNode("x", [2]),
            makeNode("my_lambda", .opaque(OpaqueAttributes(format: "keras", className: "Lambda", config: .object([:]))), inputs: ["x"]),
        ], outputs: [NodeOutput("my_lambda")])
        XCTAssertThrowsError(try Interpreter(graph: g).run([Tensor(shape: [1, 2], floats: [1, 2])])) { e in
            guard let err = e as? GraftError else { return XCTFail("not a GraftError: \(e)") }
            XCTAssertEqual(err.kind, .opaqueLayer)
            XCTAssertEqual(err.location, "my_lambda")
            XCTAssertTrue(err.description.contains("my_lambda"), err.description)
            XCTAssertTrue(err.description.contains("Lambda"), err.description)
        }
    }

    func testFeaturizingBeforeAnOpaqueNodeWorks() throws {
        let g = Graph(nodes: [
            inputNode("x", [2]),
            makeNode("features", .activation(.plainRelu), inputs: ["x"]),
            makeNode("head", .opaque(OpaqueAttributes(format: "keras", className: "Lambda", config: .null)), inputs: ["features"]),
        ], outputs: [NodeOutput("head")])
        let f = try Interpreter(graph: g).run([Tensor(shape: [1, 2], floats: [-1, 2])], outputs: [NodeOutput("features")])
        assertTensor(f[0], shape: [1, 2], [0, 2], tol: 0)
        XCTAssertThrowsError(try Interpreter(graph: g).run([Tensor(shape: [1, 2], floats: [-1, 2])]))
    }

    func testWrongInputCountAndShape() {
        let g = singleOpGraph(.activation(.relu6), inputShape: [3])
        XCTAssertThrowsError(try Interpreter(graph: g).run([])) { e in
            XCTAssertEqual((e as? GraftError)?.kind, .invalidArgument)
        }
        XCTAssertThrowsError(try Interpreter(graph: g).run([Tensor(shape: [1, 4], floats: [1, 2, 3, 4])])) { e in
            XCTAssertEqual((e as? GraftError)?.kind, .shapeMismatch)
            XCTAssertEqual((e as? GraftError)?.location, "in")
        }
    }

    func testIntermediateActivationsAndSharedConsumers() throws {
        // x → d (dense ×2) → two consumers (relu, negate via scale) → add.
        let g = Graph(nodes: [
            inputNode("x", [2]),
            makeNode("d", .dense(DenseAttributes(units: 2, useBias: false)), inputs: ["x"],
                     parameters: ["kernel": Tensor(shape: [2, 2], floats: [2, 0, 0, 2])]),
            makeNode("r", .activation(.plainRelu), inputs: ["d"]),
            makeNode("n", .dl4jVertex(.scale(factor: -1)), inputs: ["d"]),
            makeNode("sum", .merge(MergeAttributes(.add)), inputs: ["r", "n"]),
        ], outputs: [NodeOutput("sum")])
        let x = Tensor(shape: [1, 2], floats: [1, -3])
        let outs = try Interpreter(graph: g).run([x], outputs: [NodeOutput("d"), NodeOutput("r"), NodeOutput("sum")])
        assertTensor(outs[0], shape: [1, 2], [2, -6], tol: 0)
        assertTensor(outs[1], shape: [1, 2], [2, 0], tol: 0)
        assertTensor(outs[2], shape: [1, 2], [0, 6], tol: 0)
        XCTAssertThrowsError(try Interpreter(graph: g).run([x], outputs: [NodeOutput("nope")]))
    }

    func testInputsByName() throws {
        let g = Graph(nodes: [inputNode("a", [1]), inputNode("b", [1]),
                              makeNode("d", .merge(MergeAttributes(.subtract)), inputs: ["a", "b"])],
                      outputs: [NodeOutput("d")])
        let y = try Interpreter(graph: g).run(named: ["b": Tensor(shape: [1, 1], floats: [2]), "a": Tensor(shape: [1, 1], floats: [7])])
        assertTensor(y[0], shape: [1, 1], [5], tol: 0)
        XCTAssertThrowsError(try Interpreter(graph: g).run(named: ["a": Tensor(shape: [1, 1], floats: [7])]))
        XCTAssertThrowsError(try Interpreter(graph: g).run(named: ["a": Tensor(shape: [1, 1], floats: [7]), "b": Tensor(shape: [1, 1], floats: [2]),
                                                                   "c": Tensor(shape: [1, 1], floats: [0])]))
    }

    func testDanglingInputIsAnInvalidGraph() {
        let g = Graph(nodes: [inputNode("x", [2]), makeNode("a", .activation(.tanh), inputs: ["missing"])],
                      outputs: [NodeOutput("a")])
        XCTAssertThrowsError(try Interpreter(graph: g).run([Tensor(shape: [1, 2], floats: [1, 2])])) { e in
            XCTAssertEqual((e as? GraftError)?.kind, .invalidGraph)
            XCTAssertEqual((e as? GraftError)?.location, "a")
        }
    }

    func testForcedDoublePrecision() throws {
        let g = singleOpGraph(.activation(.sigmoid), inputShape: [1])
        let y = try Interpreter(graph: g, options: RunOptions(useDouble: true)).run([Tensor(shape: [1, 1], floats: [0.5])])[0]
        XCTAssertEqual(y.dtype, .float64)
        XCTAssertEqual(y.doubles()[0], 1 / (1 + Foundation.exp(-0.5)), accuracy: 1e-15)
    }

    func testCompare() throws {
        let e = Tensor(shape: [3], floats: [1, -2, 0])
        let a = Tensor(shape: [3], floats: [1.001, -2, 0.0005])
        let r = try compare(actual: a, expected: e, atol: 1e-3, rtol: 1e-3)
        XCTAssertTrue(r.pass)
        XCTAssertEqual(r.maxAbs, 0.001, accuracy: 1e-6)
        XCTAssertEqual(r.maxRel, 0.001, accuracy: 1e-6)
        // 0.0005 against 0 needs atol ≥ 0.0005.
        XCTAssertFalse(try compare(actual: a, expected: e, atol: 1e-4, rtol: 1e-2).pass)
        // Shapes must match.
        XCTAssertThrowsError(try compare(actual: Tensor(shape: [1, 3], floats: [1, -2, 0]), expected: e, atol: 1, rtol: 1))
        // NaN only matches NaN.
        let nan = Tensor(shape: [1], floats: [.nan])
        XCTAssertTrue(try compare(actual: nan, expected: nan, atol: 0, rtol: 0).pass)
        XCTAssertFalse(try compare(actual: nan, expected: Tensor(shape: [1], floats: [0]), atol: 1, rtol: 1).pass)
    }
}
