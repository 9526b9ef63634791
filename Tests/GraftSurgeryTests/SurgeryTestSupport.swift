import XCTest
import GraftCore
import GraftRuntime
import OrderedCollections
@testable import GraftSurgery

/// Small graphs with seeded random weights, and output comparison through the runtime.
enum TestGraphs {
    static func random(_ shape: [Int], seed: UInt64, scale: Double = 0.5) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in Float(rng.uniform(-scale, scale)) })
    }

    static func node(_ name: String, _ op: Op, _ inputs: [String], _ params: [(String, [Int])], seed: UInt64) -> Node {
        var p = OrderedDictionary<String, Tensor>()
        for (i, (k, s)) in params.enumerated() { p[k] = random(s, seed: seed &+ UInt64(i) &* 7919) }
        return Node(name: name, op: op, inputs: inputs.map { NodeOutput($0) }, parameters: p)
    }

    static func recurrentParams(_ op: Op, input: Int, prefix: String = "") -> [(String, [Int])] {
        let u = recurrentUnits(op)!, g = gateCount(op)
        var p: [(String, [Int])] = [(prefix + "kernel", [input, g * u]), (prefix + "recurrentKernel", [u, g * u])]
        if case .gru(let a) = op, a.resetAfter { p.append((prefix + "bias", [2, g * u])) } else { p.append((prefix + "bias", [g * u])) }
        if case .lstm(let a) = op, a.peepholes { p.append((prefix + "peepholes", [3, u])) }
        return p
    }

    /// Input [T, 3] → recurrent(5) with sequences → RNN output layer (softmax, 4).
    static func sequenceModel(_ recurrent: Op, features: Int = 3, seed: UInt64 = 1) -> Graph {
        var nodes = [Node(name: "in", op: .input(InputAttributes(shape: [nil, features], layout: .sequenceTimeMajorFeatures)))]
        nodes.append(node("rnn_1", recurrent, ["in"], recurrentParams(recurrent, input: features), seed: seed))
        nodes.append(node("out", .output(OutputAttributes(kind: .rnn, units: 4, activation: .softmax(axis: -1), loss: "MCXENT")),
                          ["rnn_1"], [("kernel", [5, 4]), ("bias", [4])], seed: seed + 100))
        return Graph(nodes: nodes, outputs: [NodeOutput("out")])
    }

    static func lstm(_ u: Int = 5, peepholes: Bool = false) -> Op {
        .lstm(LSTMAttributes(RecurrentAttributes(units: u, returnSequences: true), peepholes: peepholes))
    }
    static func gru(_ u: Int = 5, resetAfter: Bool) -> Op {
        .gru(GRUAttributes(RecurrentAttributes(units: u, returnSequences: true), resetAfter: resetAfter))
    }
    static func simpleRNN(_ u: Int = 5) -> Op { .simpleRNN(RecurrentAttributes(units: u, returnSequences: true)) }
}

func maxDifference(_ a: [Tensor], _ b: [Tensor]) -> Double {
    var worst = 0.0
    for (x, y) in zip(a, b) {
        guard x.shape == y.shape else { return .infinity }
        for (p, q) in zip(x.doubles(), y.doubles()) { worst = max(worst, abs(p - q)) }
    }
    return a.count == b.count ? worst : .infinity
}

/// Runs both graphs on the same inputs and asserts equal outputs within `tolerance`.
func assertSameFunction(_ a: Graph, _ b: Graph, inputs: [Tensor], tolerance: Double = 1e-6,
                        file: StaticString = #filePath, line: UInt = #line) throws {
    XCTAssertNoThrow(try b.validate(), "edited graph does not validate", file: file, line: line)
    let x = try Interpreter(graph: a).run(inputs)
    let y = try Interpreter(graph: b).run(inputs)
    let d = maxDifference(x, y)
    XCTAssertLessThanOrEqual(d, tolerance, "outputs differ by \(d)", file: file, line: line)
}

/// Asserts the call throws a GraftError of `kind` whose text mentions `mentioning`.
func assertGraftError(_ kind: GraftError.Kind, mentioning: String, file: StaticString = #filePath, line: UInt = #line,
                      _ body: () throws -> Any) {
    do {
        _ = try body()
        XCTFail("expected a \(kind) error", file: file, line: line)
    } catch let e as GraftError {
        XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: line)
        XCTAssertTrue(e.description.contains(mentioning), "'\(e)' does not mention '\(mentioning)'", file: file, line: line)
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}
