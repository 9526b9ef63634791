import XCTest
import Foundation
import GraftCore
@testable import GraftRuntime

final class SequenceMaskTests: XCTestCase {
    /// Embedding table [4 tokens, 2 dims]: row i = (i, 10·i).
    let table = Tensor(shape: [4, 2], floats: [0, 0, 1, 10, 2, 20, 3, 30])

    func testEmbeddingLooksUpRowsFromIntegerIds() throws {
        let g = singleOpGraph(.embedding(EmbeddingAttributes(inputDim: 4, outputDim: 2)), inputShape: [3],
                              parameters: ["embeddings": table], inputDType: .int32)
        let ids = Tensor(shape: [2, 3], floats: [1, 3, 0, 2, 2, 1]).converted(to: .int32)
        let y = try runOne(g, [ids])
        assertTensor(y, shape: [2, 3, 2], [1, 10, 3, 30, 0, 0, 2, 20, 2, 20, 1, 10], tol: 0)
    }

    func testEmbeddingRejectsOutOfRangeIds() {
        let g = singleOpGraph(.embedding(EmbeddingAttributes(inputDim: 4, outputDim: 2)), inputShape: [2],
                              parameters: ["embeddings": table])
        XCTAssertThrowsError(try runOne(g, [Tensor(shape: [1, 2], floats: [1, 4])])) { e in
            XCTAssertEqual((e as? GraftError)?.kind, .invalidArgument)
            XCTAssertEqual((e as? GraftError)?.location, "op")
        }
    }

    func testDL4JEmbeddingLayerWithBiasAndActivation() throws {
        // DL4J EmbeddingLayer: [batch, 1] ids → [batch, 2] = act(W[id] + b).
        let g = singleOpGraph(.embedding(EmbeddingAttributes(inputDim: 4, outputDim: 2, activation: .tanh, useBias: true)),
                              inputShape: [1], parameters: ["embeddings": table, "bias": Tensor(shape: [2], floats: [0.5, -25])],
                              source: "dl4j")
        let y = try runOne(g, [Tensor(shape: [2, 1], floats: [2, 3])])
        assertTensor(y, shape: [2, 2], [Foundation.tanh(2.5), Foundation.tanh(-5), Foundation.tanh(3.5), Foundation.tanh(5)])
    }

    func testDL4JEmbeddingSequenceReturnsNCW() throws {
        // DL4J EmbeddingSequenceLayer on [batch, time] ids gives [batch, outputDim, time].
        let g = singleOpGraph(.embedding(EmbeddingAttributes(inputDim: 4, outputDim: 2)), inputShape: [3],
                              parameters: ["embeddings": table], source: "dl4j")
        let y = try runOne(g, [Tensor(shape: [1, 3], floats: [1, 2, 3])])
        assertTensor(y, shape: [1, 2, 3], [1, 2, 3, 10, 20, 30], tol: 0)
    }

    /// ids → embedding(maskZero) → dense → lastTimeStep: the last step read is the last non-zero id.
    func testEmbeddingMaskPropagatesThroughDenseToLastTimeStep() throws {
        let g = Graph(nodes: [
            inputNode("ids", [4]),
            makeNode("emb", .embedding(EmbeddingAttributes(inputDim: 4, outputDim: 2, maskZero: true)), inputs: ["ids"],
                     parameters: ["embeddings": table]),
            makeNode("d", .dense(DenseAttributes(units: 1, useBias: false)), inputs: ["emb"],
                     parameters: ["kernel": Tensor(shape: [2, 1], floats: [1, 1])]),
            makeNode("last", .dl4jVertex(.lastTimeStep), inputs: ["d"]),
        ], outputs: [NodeOutput("last")])
        // Example 0: ids 1 2 0 0 → last present step is 1 (id 2 → 22). Example 1: 3 0 1 0 → step 2 (id 1 → 11).
        let y = try runOne(g, [Tensor(shape: [2, 4], floats: [1, 2, 0, 0, 3, 0, 1, 0])])
        assertTensor(y, shape: [2, 1], [22, 11], tol: 0)
    }

    /// A post-padded sequence under mask_zero gives the LSTM the same final state as the
    /// unpadded sequence (the mask crosses from the embedding family to the recurrent one).
    func testEmbeddingMaskReachesRecurrentLayer() throws {
        func graph(steps: Int) -> Graph {
            let units = 2
            let lstm = Op.lstm(LSTMAttributes(RecurrentAttributes(units: units)))
            return Graph(nodes: [
                inputNode("ids", [steps]),
                makeNode("emb", .embedding(EmbeddingAttributes(inputDim: 4, outputDim: 2, maskZero: true)), inputs: ["ids"],
                         parameters: ["embeddings": Tensor(shape: [4, 2], floats: [0, 0, 0.5, -0.3, 0.2, 0.8, -0.6, 0.1])]),
                makeNode("lstm", lstm, inputs: ["emb"], parameters: [
                    "kernel": Tensor(shape: [2, 4 * units], floats: sampleValues(2 * 4 * units, seed: 1)),
                    "recurrentKernel": Tensor(shape: [units, 4 * units], floats: sampleValues(units * 4 * units, seed: 3)),
                    "bias": Tensor(shape: [4 * units], floats: sampleValues(4 * units, seed: 5)),
                ]),
            ], outputs: [NodeOutput("lstm")])
        }
        let padded = try runOne(graph(steps: 4), [Tensor(shape: [1, 4], floats: [1, 3, 0, 0])])
        let plain = try runOne(graph(steps: 2), [Tensor(shape: [1, 2], floats: [1, 3])])
        assertTensor(padded, shape: [1, 2], plain.doubles(), tol: 1e-6)
        // Without the mask the padding steps change the result.
        let unmaskedPadding = try runOne(graph(steps: 3), [Tensor(shape: [1, 3], floats: [1, 3, 2])])
        XCTAssertGreaterThan(zip(unmaskedPadding.doubles(), plain.doubles()).map { abs($0 - $1) }.max() ?? 0, 1e-4)
    }

    func testMaskingZeroesMaskedStepsAndMasksThem() throws {
        let g = Graph(nodes: [
            inputNode("x", [3, 2]),
            makeNode("mask", .masking(maskValue: -1), inputs: ["x"]),
            makeNode("td", .timeDistributed(layer: .dense(DenseAttributes(units: 1))), inputs: ["mask"],
                     parameters: ["kernel": Tensor(shape: [2, 1], floats: [1, 2]), "bias": Tensor(shape: [1], floats: [100])]),
            makeNode("last", .dl4jVertex(.lastTimeStep), inputs: ["td"]),
        ], outputs: [NodeOutput("mask"), NodeOutput("td"), NodeOutput("last")])
        // Step 1 of example 0 and step 2 of example 1 are all -1 → masked. (-1, 5) is not.
        let x = Tensor(shape: [2, 3, 2], floats: [1, 2, -1, -1, 3, 4,
                                                   -1, 5, 2, 2, -1, -1])
        let outs = try Interpreter(graph: g).run([x])
        assertTensor(outs[0], shape: [2, 3, 2], [1, 2, 0, 0, 3, 4, -1, 5, 0 + 2, 2, 0, 0], tol: 0)
        // Dense per step: x0 + 2·x1 + 100 on the masked (zeroed) values.
        assertTensor(outs[1], shape: [2, 3, 1], [105, 100, 111, 109, 106, 100], tol: 1e-4)
        // Last present step: example 0 → step 2 (111), example 1 → step 1 (106).
        assertTensor(outs[2], shape: [2, 1], [111, 106], tol: 1e-4)
    }

    func testMaskCombinesThroughMergeAndSurvivesElementwiseLayers() throws {
        // Two masked branches ANDed by add, then an activation, then lastTimeStep.
        let g = Graph(nodes: [
            inputNode("x", [3, 1]),
            inputNode("y", [3, 1]),
            makeNode("mx", .masking(maskValue: 0), inputs: ["x"]),
            makeNode("my", .masking(maskValue: 0), inputs: ["y"]),
            makeNode("sum", .merge(MergeAttributes(.add)), inputs: ["mx", "my"]),
            makeNode("act", .activation(.linear), inputs: ["sum"]),
            makeNode("drop", .dropout(kind: "Dropout", rate: 0.5), inputs: ["act"]),
            makeNode("last", .dl4jVertex(.lastTimeStep), inputs: ["drop"]),
        ], outputs: [NodeOutput("last")])
        // x steps: 1 2 3 (all present); y steps: 10 20 0 (step 2 masked) → AND mask: steps 0, 1 → last = 2 + 20.
        let y = try runOne(g, [Tensor(shape: [1, 3, 1], floats: [1, 2, 3]), Tensor(shape: [1, 3, 1], floats: [10, 20, 0])])
        assertTensor(y, shape: [1, 1], [22], tol: 0)
    }

    func testTimeDistributedDense() throws {
        let w = Tensor(shape: [2, 3], floats: [1, 0, -1, 0.5, 2, 1])
        let bias = Tensor(shape: [3], floats: [0, 1, 2])
        let g = singleOpGraph(.timeDistributed(layer: .dense(DenseAttributes(units: 3, activation: .plainRelu))),
                              inputShape: [2, 2], parameters: ["kernel": w, "bias": bias])
        let x: [Float] = [1, 2, -3, 1]
        let y = try runOne(g, [Tensor(shape: [1, 2, 2], floats: x)])
        var expected: [Double] = []
        for s in 0..<2 {
            let x0 = Double(x[s * 2]), x1 = Double(x[s * 2 + 1])
            expected += [max(0, x0 * 1 + x1 * 0.5 + 0), max(0, x0 * 0 + x1 * 2 + 1), max(0, x0 * -1 + x1 * 1 + 2)]
        }
        assertTensor(y, shape: [1, 2, 3], expected)
    }

    func testTimeDistributedFlatten() throws {
        let g = singleOpGraph(.timeDistributed(layer: .flatten), inputShape: [2, 2, 2])
        let v = (0..<8).map(Float.init)
        let y = try runOne(g, [Tensor(shape: [1, 2, 2, 2], floats: v)])
        assertTensor(y, shape: [1, 2, 4], v.map(Double.init), tol: 0)
    }

    func testOutputLayerKinds() throws {
        let w = Tensor(shape: [2, 2], floats: [1, -1, 2, 0.5])
        let bias = Tensor(shape: [2], floats: [0.1, 0.2])
        func softmax(_ v: [Double]) -> [Double] { let e = v.map { Foundation.exp($0) }; let s = e.reduce(0, +); return e.map { $0 / s } }
        // OutputLayer: dense + softmax on [batch, features].
        let dense = singleOpGraph(.output(OutputAttributes(kind: .dense, units: 2, activation: .softmax(axis: -1), loss: "MCXENT")),
                                  inputShape: [2], parameters: ["kernel": w, "bias": bias])
        let y = try runOne(dense, [Tensor(shape: [1, 2], floats: [1, 2])])
        assertTensor(y, shape: [1, 2], softmax([1 + 4 + 0.1, -1 + 1 + 0.2]))
        // RnnOutputLayer: the same per time step.
        let rnn = singleOpGraph(.output(OutputAttributes(kind: .rnn, units: 2, activation: .softmax(axis: -1), loss: "MCXENT")),
                                inputShape: [nil, 2], parameters: ["kernel": w, "bias": bias])
        let z = try runOne(rnn, [Tensor(shape: [1, 2, 2], floats: [1, 2, 0, 0])])
        assertTensor(z, shape: [1, 2, 2], softmax([5.1, 0.2]) + softmax([0.1, 0.2]))
        // LossLayer: activation only.
        let loss = singleOpGraph(.output(OutputAttributes(kind: .loss, units: nil, activation: .sigmoid, loss: "XENT")), inputShape: [2])
        let l = try runOne(loss, [Tensor(shape: [1, 2], floats: [0, 2])])
        assertTensor(l, shape: [1, 2], [0.5, 1 / (1 + Foundation.exp(-2))])
        // CnnLossLayer: softmax across channels (axis 1 of NCHW) at every pixel.
        let cnn = singleOpGraph(.output(OutputAttributes(kind: .cnnLoss, units: nil, activation: .softmax(axis: -1), loss: "MCXENT")),
                                inputShape: [2, 1, 2])
        let c = try runOne(cnn, [Tensor(shape: [1, 2, 1, 2], floats: [1, 2, 3, 0])])
        let p0 = softmax([1, 3]), p1 = softmax([2, 0])
        assertTensor(c, shape: [1, 2, 1, 2], [p0[0], p1[0], p0[1], p1[1]])
    }
}
