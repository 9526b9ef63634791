import XCTest
import Foundation
import GraftCore
@testable import GraftRuntime

/// Attention and locally connected layers against their formulas, computed by hand in each test.
final class AttentionLocallyConnectedTests: XCTestCase {
    let e = Foundation.exp(1.0)

    /// A graph with inputs `names` (shapes without batch) feeding one op.
    func graph(_ op: Op, inputs: [(String, [Int?])], parameters: [String: Tensor] = [:]) -> Graph {
        Graph(nodes: inputs.map { inputNode($0.0, $0.1) } + [makeNode("op", op, inputs: inputs.map(\.0), parameters: parameters)],
              outputs: [NodeOutput("op")])
    }

    /// Rank 3, explicit key: q = [1], keys [0, 1], values [10, 20], scale 2 →
    /// scores [0, 2], output (10 + 20·e²)/(1 + e²).
    func testDotAttentionWithKeyAndScale() throws {
        let g = graph(.attention(AttentionAttributes(useScale: true)), inputs: [("q", [1, 1]), ("v", [2, 1]), ("k", [2, 1])],
                      parameters: ["scale": Tensor(shape: [], floats: [2])])
        let out = try Interpreter(graph: g).run([Tensor(shape: [1, 1, 1], floats: [1]), Tensor(shape: [1, 2, 1], floats: [10, 20]),
                                                 Tensor(shape: [1, 2, 1], floats: [0, 1])])[0]
        let e2 = e * e
        assertTensor(out, shape: [1, 1, 1], [(10 + 20 * e2) / (1 + e2)])
    }

    /// Causal: query step 0 sees only key 0, so outputs value 0; step 1 sees both.
    func testCausalAttention() throws {
        let g = graph(.attention(AttentionAttributes(causal: true)), inputs: [("q", [2, 1]), ("v", [2, 1])])
        // q = v = k = [1, 2]: row 1 scores [2, 4].
        let out = try Interpreter(graph: g).run([Tensor(shape: [1, 2, 1], floats: [1, 2]), Tensor(shape: [1, 2, 1], floats: [1, 2])])[0]
        let e2 = e * e, e4 = e2 * e2
        assertTensor(out, shape: [1, 2, 1], [1, (e2 + 2 * e4) / (e2 + e4)])
    }

    /// Rank 2: the batch rows form one matrix, every row attends over every row (tf.keras'
    /// matmul on [batch, d]). q = v = [[1], [2]]: scores [[1, 2], [2, 4]].
    func testRankTwoAttentionMixesBatchRows() throws {
        let g = graph(.attention(AttentionAttributes()), inputs: [("q", [1]), ("v", [1])])
        let x = Tensor(shape: [2, 1], floats: [1, 2])
        let out = try Interpreter(graph: g).run([x, x])[0]
        let e2 = e * e, e4 = e2 * e2
        assertTensor(out, shape: [2, 1], [(e + 2 * e2) / (e + e2), (e2 + 2 * e4) / (e2 + e4)])
    }

    /// Concat scores: w·Σ_d tanh(q + k). q = [0.5], keys [0, 1], values [1, 3], w = 2.
    func testConcatScoreMode() throws {
        let g = graph(.attention(AttentionAttributes(scoreMode: .concat)), inputs: [("q", [1, 1]), ("v", [2, 1]), ("k", [2, 1])],
                      parameters: ["concatScoreWeight": Tensor(shape: [], floats: [2])])
        let out = try Interpreter(graph: g).run([Tensor(shape: [1, 1, 1], floats: [0.5]), Tensor(shape: [1, 2, 1], floats: [1, 3]),
                                                 Tensor(shape: [1, 2, 1], floats: [0, 1])])[0]
        let s0 = Foundation.exp(2 * Foundation.tanh(0.5)), s1 = Foundation.exp(2 * Foundation.tanh(1.5))
        assertTensor(out, shape: [1, 1, 1], [(s0 + 3 * s1) / (s0 + s1)])
    }

    /// 1-D, one channel: x = [1, 2, 3], window 2 → position 0 uses [a, b], position 1 [c, d].
    func testLocallyConnected1DUsesOneKernelPerPosition() throws {
        let op = Op.locallyConnected(LocallyConnectedAttributes(rank: 1, filters: 1, kernelSize: [2]))
        let params = ["kernel": Tensor(shape: [2, 2, 1], floats: [0.5, -1, 2, 0.25]),
                      "bias": Tensor(shape: [2, 1], floats: [0.1, -0.2])]
        let out = try runOne(singleOpGraph(op, inputShape: [3, 1], parameters: params), [Tensor(shape: [1, 3, 1], floats: [1, 2, 3])])
        assertTensor(out, shape: [1, 2, 1], [1 * 0.5 + 2 * -1 + 0.1, 2 * 2 + 3 * 0.25 - 0.2])
    }

    /// Two channels: the patch row is (tap, channel) = [x0c0, x0c1, x1c0, x1c1]; channels-first
    /// data gives the same numbers. With tanh and stride 2 over 4 steps: two positions.
    func testLocallyConnectedPatchOrderAndChannelsFirst() throws {
        let k: [Float] = [1, 2, 3, 4, /* position 1 */ -1, 0.5, 0.25, 2]
        let params = ["kernel": Tensor(shape: [2, 4, 1], floats: k), "bias": Tensor(shape: [2, 1], floats: [0, 0.5])]
        // Steps (c0, c1): (1, 0), (0, 1), (2, 1), (1, 1).
        let last: [Float] = [1, 0, 0, 1, 2, 1, 1, 1]
        // Position 0 patch [1, 0, 0, 1]; position 1 patch [2, 1, 1, 1], bias 0.5.
        let p0: Double = 1 * 1 + 1 * 4
        let p1: Double = -2 + 0.5 + 0.25 + 2 + 0.5
        let expected = [Foundation.tanh(p0), Foundation.tanh(p1)]
        let cl = LocallyConnectedAttributes(rank: 1, filters: 1, kernelSize: [2], strides: [2], activation: .tanh)
        let outLast = try runOne(singleOpGraph(.locallyConnected(cl), inputShape: [4, 2], parameters: params),
                                 [Tensor(shape: [1, 4, 2], floats: last)])
        assertTensor(outLast, shape: [1, 2, 1], expected)
        var cf = cl
        cf.dataFormat = .channelsFirst
        let first = try Tensor(shape: [1, 4, 2], floats: last).transposed([0, 2, 1])
        let outFirst = try runOne(singleOpGraph(.locallyConnected(cf), inputShape: [2, 4], parameters: params), [first])
        assertTensor(outFirst, shape: [1, 1, 2], expected)
    }

    /// 2-D: a 2×3 image, 2×2 windows → positions (0,0) and (0,1), each with its own kernel.
    func testLocallyConnected2D() throws {
        let op = Op.locallyConnected(LocallyConnectedAttributes(rank: 2, filters: 1, kernelSize: [2, 2]))
        let params = ["kernel": Tensor(shape: [2, 4, 1], floats: [1, 0, 0, 1, /* position (0,1) */ 0, 1, 1, 0]),
                      "bias": Tensor(shape: [1, 2, 1], floats: [0, 0])]
        // Rows [1, 2, 3], [4, 5, 6]: window 0 = (1, 2, 4, 5), window 1 = (2, 3, 5, 6).
        let out = try runOne(singleOpGraph(op, inputShape: [2, 3, 1], parameters: params),
                             [Tensor(shape: [1, 2, 3, 1], floats: [1, 2, 3, 4, 5, 6])])
        assertTensor(out, shape: [1, 1, 2, 1], [1 + 5, 3 + 5])
    }
}
