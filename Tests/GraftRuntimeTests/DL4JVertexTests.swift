import XCTest
import Foundation
import GraftCore
@testable import GraftRuntime

final class DL4JVertexTests: XCTestCase {
    func vertex(_ v: DL4JVertex, inputShape: [Int?], layout: DataLayout = .flat) -> Graph {
        singleOpGraph(.dl4jVertex(v), inputShape: inputShape, layout: layout, source: "dl4j")
    }

    func testSubsetOnFeatureAndChannelAxes() throws {
        let y = try runOne(vertex(.subset(from: 1, to: 2), inputShape: [4]), [Tensor(shape: [2, 4], floats: [0, 1, 2, 3, 4, 5, 6, 7])])
        assertTensor(y, shape: [2, 2], [1, 2, 5, 6], tol: 0)
        // NCHW [1, 3, 1, 2]: channels 0...1.
        let c = try runOne(vertex(.subset(from: 0, to: 1), inputShape: [3, 1, 2]), [Tensor(shape: [1, 3, 1, 2], floats: [1, 2, 3, 4, 5, 6])])
        assertTensor(c, shape: [1, 2, 1, 2], [1, 2, 3, 4], tol: 0)
        XCTAssertThrowsError(try runOne(vertex(.subset(from: 2, to: 4), inputShape: [4]), [Tensor(shape: [1, 4], floats: [0, 1, 2, 3])]))
    }

    func testStackAndUnstack() throws {
        let g = Graph(nodes: [inputNode("a", [2]), inputNode("b", [2]),
                              makeNode("s", .dl4jVertex(.stack), inputs: ["a", "b"]),
                              makeNode("u1", .dl4jVertex(.unstack(index: 1, count: 2)), inputs: ["s"])],
                      outputs: [NodeOutput("s"), NodeOutput("u1")])
        let outs = try Interpreter(graph: g).run([Tensor(shape: [1, 2], floats: [1, 2]), Tensor(shape: [1, 2], floats: [3, 4])])
        assertTensor(outs[0], shape: [2, 2], [1, 2, 3, 4], tol: 0)
        assertTensor(outs[1], shape: [1, 2], [3, 4], tol: 0)
    }

    func testL2NormalizeScaleShift() throws {
        let n = try runOne(vertex(.l2Normalize(epsilon: 1e-8), inputShape: [2]), [Tensor(shape: [2, 2], floats: [3, 4, 0, 0])])
        assertTensor(n, shape: [2, 2], [0.6, 0.8, 0, 0])
        let s = try runOne(vertex(.scale(factor: 2.5), inputShape: [2]), [Tensor(shape: [1, 2], floats: [1, -2])])
        assertTensor(s, shape: [1, 2], [2.5, -5])
        let h = try runOne(vertex(.shift(value: -1), inputShape: [2]), [Tensor(shape: [1, 2], floats: [1, -2])])
        assertTensor(h, shape: [1, 2], [0, -3])
    }

    func testLocalResponseNormalization() throws {
        // [1, 3 channels, 1, 1], k 2, n 3 (half window 1), alpha 0.5, beta 0.75.
        let x: [Double] = [1, 2, 3]
        let y = try runOne(vertex(.localResponseNormalization(k: 2, n: 3, alpha: 0.5, beta: 0.75), inputShape: [3, 1, 1]),
                           [Tensor(shape: [1, 3, 1, 1], doubles: x).converted(to: .float32)])
        let sums: [Double] = [1 + 4, 1 + 4 + 9, 4 + 9]
        var expected: [Double] = []
        for c in 0..<3 {
            let denominator: Double = Foundation.pow(2 + 0.5 * sums[c], 0.75)
            expected.append(x[c] / denominator)
        }
        assertTensor(y, shape: [1, 3, 1, 1], expected)
    }

    /// A DL4J sequence graph: input [batch, features, time] (NCT) → RnnOutputLayer → back to NCT.
    func testNCTLayoutRoundTrip() throws {
        let w = Tensor(shape: [2, 3], floats: [1, 0, 2, 0, 1, -1])
        let bias = Tensor(shape: [3], floats: [0.5, 0, 0])
        let g = singleOpGraph(.output(OutputAttributes(kind: .rnn, units: 3, activation: .linear, loss: "MSE")),
                              inputShape: [2, nil], parameters: ["kernel": w, "bias": bias], layout: .sequenceFeaturesTime, source: "dl4j")
        // x[b][f][t] with b=1, f=2, t=2: feature 0 = (1, 2) over time, feature 1 = (10, 20).
        let x = Tensor(shape: [1, 2, 2], floats: [1, 2, 10, 20])
        let y = try runOne(g, [x])
        // y[0][u][t] = Σ_f x[f][t]·W[f][u] + b[u]
        var expected = [Double](repeating: 0, count: 6)
        let xv: [[Double]] = [[1, 2], [10, 20]], wv: [[Double]] = [[1, 0, 2], [0, 1, -1]], bv = [0.5, 0, 0]
        for u in 0..<3 { for t in 0..<2 { expected[u * 2 + t] = xv[0][t] * wv[0][u] + xv[1][t] * wv[1][u] + bv[u] } }
        assertTensor(y, shape: [1, 3, 2], expected)
    }

    /// RnnToFeedForward orders rows time-major (row = step·batch + example), as DL4J does.
    func testRnnToFeedForwardRowOrderAndRoundTrip() throws {
        let g = Graph(nodes: [
            inputNode("x", [1, 3], layout: .sequenceFeaturesTime),
            makeNode("ff", .dl4jVertex(.preprocessor(.rnnToFeedForward)), inputs: ["x"]),
            makeNode("rnn", .dl4jVertex(.preprocessor(.feedForwardToRnn)), inputs: ["ff"]),
        ], outputs: [NodeOutput("ff"), NodeOutput("rnn")], source: SourceInfo(format: "dl4j"))
        // x [batch 2, features 1, time 3]: example 0 = 1 2 3, example 1 = 4 5 6.
        let x = Tensor(shape: [2, 1, 3], floats: [1, 2, 3, 4, 5, 6])
        let outs = try Interpreter(graph: g).run([x])
        assertTensor(outs[0], shape: [6, 1], [1, 4, 2, 5, 3, 6], tol: 0)
        assertTensor(outs[1], shape: [2, 1, 3], [1, 2, 3, 4, 5, 6], tol: 0)
    }

    func testCnnPreprocessors() throws {
        let g = Graph(nodes: [
            inputNode("x", [2, 1, 2]),
            makeNode("ff", .dl4jVertex(.preprocessor(.cnnToFeedForward(height: 1, width: 2, channels: 2))), inputs: ["x"]),
            makeNode("cnn", .dl4jVertex(.preprocessor(.feedForwardToCnn(height: 1, width: 2, channels: 2))), inputs: ["ff"]),
        ], outputs: [NodeOutput("ff"), NodeOutput("cnn")], source: SourceInfo(format: "dl4j"))
        let x = Tensor(shape: [1, 2, 1, 2], floats: [1, 2, 3, 4])
        let outs = try Interpreter(graph: g).run([x])
        assertTensor(outs[0], shape: [1, 4], [1, 2, 3, 4], tol: 0)
        assertTensor(outs[1], shape: [1, 2, 1, 2], [1, 2, 3, 4], tol: 0)
    }

    func testRnnToCnnAndBack() throws {
        // x [batch 2, features c·h·w = 2, time 2] (NCT) → rnnToCnn → [4, 2, 1, 1] rows time-major → cnnToRnn → NCT.
        let g = Graph(nodes: [
            inputNode("x", [2, 2], layout: .sequenceFeaturesTime),
            makeNode("cnn", .dl4jVertex(.preprocessor(.rnnToCnn(height: 1, width: 1, channels: 2))), inputs: ["x"]),
            makeNode("rnn", .dl4jVertex(.preprocessor(.cnnToRnn(height: 1, width: 1, channels: 2))), inputs: ["cnn"]),
        ], outputs: [NodeOutput("cnn"), NodeOutput("rnn")], source: SourceInfo(format: "dl4j"))
        // x[b][f][t]: b0 = [[1, 2], [3, 4]], b1 = [[5, 6], [7, 8]].
        let x = Tensor(shape: [2, 2, 2], floats: [1, 2, 3, 4, 5, 6, 7, 8])
        let outs = try Interpreter(graph: g).run([x])
        // rows: (t0,b0) = (1, 3), (t0,b1) = (5, 7), (t1,b0) = (2, 4), (t1,b1) = (6, 8).
        assertTensor(outs[0], shape: [4, 2, 1, 1], [1, 3, 5, 7, 2, 4, 6, 8], tol: 0)
        assertTensor(outs[1], shape: [2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8], tol: 0)
    }

    func testDuplicateToTimeSeries() throws {
        let g = Graph(nodes: [
            inputNode("seq", [1, 3], layout: .sequenceFeaturesTime),
            inputNode("v", [2]),
            makeNode("dup", .dl4jVertex(.duplicateToTimeSeries(reference: "seq")), inputs: ["v"]),
        ], outputs: [NodeOutput("dup")], source: SourceInfo(format: "dl4j"))
        let outs = try Interpreter(graph: g).run([Tensor(zeros: [1, 1, 3]), Tensor(shape: [1, 2], floats: [7, 8])])
        // Output in NCT: [1, 2 features, 3 steps].
        assertTensor(outs[0], shape: [1, 2, 3], [7, 7, 7, 8, 8, 8], tol: 0)
    }

    func testSequenceInputShapeAcceptedEitherWayRound() throws {
        // Declared as [time?, features 2] or [features 2, time?]: both accept an NCT [1, 2, 3] input.
        for declared in [[nil, 2], [2, nil]] as [[Int?]] {
            let y = try runOne(vertex(.lastTimeStep, inputShape: declared, layout: .sequenceFeaturesTime),
                               [Tensor(shape: [1, 2, 3], floats: [1, 2, 3, 4, 5, 6])])
            assertTensor(y, shape: [1, 2], [3, 6], tol: 0)
        }
        XCTAssertThrowsError(try runOne(vertex(.lastTimeStep, inputShape: [4, nil], layout: .sequenceFeaturesTime),
                                        [Tensor(shape: [1, 2, 3], floats: [1, 2, 3, 4, 5, 6])]))
    }

    /// DL4J's MergeVertex and batch norm name axis 1 (features) on NCW sequences; inside the
    /// runtime that is the last axis.
    func testDL4JFeatureAxisOnSequences() throws {
        let g = Graph(nodes: [
            inputNode("x", [1, 2], layout: .sequenceFeaturesTime),
            makeNode("twice", .dl4jVertex(.scale(factor: 2)), inputs: ["x"]),
            makeNode("merge", .merge(MergeAttributes(.concatenate(axis: 1))), inputs: ["x", "twice"]),
            makeNode("bn", .batchNorm(BatchNormAttributes(axis: 1, epsilon: 0)), inputs: ["merge"], parameters: [
                "gamma": Tensor(shape: [2], floats: [1, 1]), "beta": Tensor(shape: [2], floats: [0, 10]),
                "movingMean": Tensor(shape: [2], floats: [0, 0]), "movingVariance": Tensor(shape: [2], floats: [1, 4])]),
        ], outputs: [NodeOutput("merge"), NodeOutput("bn")], source: SourceInfo(format: "dl4j"))
        // x [1, features 1, time 2] = (3, 5) → merge [1, features 2, time 2] = [(3, 5), (6, 10)].
        let outs = try Interpreter(graph: g).run([Tensor(shape: [1, 1, 2], floats: [3, 5])])
        assertTensor(outs[0], shape: [1, 2, 2], [3, 5, 6, 10], tol: 0)
        // bn: feature 0 unchanged, feature 1 → x/2 + 10.
        assertTensor(outs[1], shape: [1, 2, 2], [3, 5, 13, 15])
    }

    func testLastTimeStepWithoutMask() throws {
        let y = try runOne(vertex(.lastTimeStep, inputShape: [2, 3], layout: .sequenceFeaturesTime),
                           [Tensor(shape: [1, 2, 3], floats: [1, 2, 3, 4, 5, 6])])
        assertTensor(y, shape: [1, 2], [3, 6], tol: 0)
    }
}
