import XCTest
import GraftCore
import GraftRuntime
@testable import GraftSurgery

/// Property checks over randomly built small graphs (own seeded generator): widen keeps the
/// function, prune of zero-fan-out units restores the graph, identity insertion keeps the function.
final class RandomGraphTests: XCTestCase {
    /// A random chain of Dense/Dropout/BatchNorm/Activation nodes, optionally with a residual Add.
    func randomGraph(_ seed: UInt64) -> (Graph, [String]) {
        var rng = SplitMix64(seed: seed)
        let inWidth = 2 + rng.index(4)
        var nodes = [Node(name: "in", op: .input(InputAttributes(shape: [inWidth])))]
        var width = inWidth, last = "in", widenable: [String] = []
        let depth = 2 + rng.index(4)
        for i in 0..<depth {
            let units = 1 + rng.index(6)
            let name = "d\(i)"
            let acts: [ActivationFunction] = [.plainRelu, .tanh, .linear, .sigmoid]
            nodes.append(TestGraphs.node(name, .dense(DenseAttributes(units: units, activation: acts[rng.index(4)])), [last],
                                         [("kernel", [width, units]), ("bias", [units])], seed: seed &* 31 &+ UInt64(i)))
            width = units; last = name
            if i < depth - 1 { widenable.append(name) }
            switch rng.index(4) {
            case 0:
                nodes.append(Node(name: "drop\(i)", op: .dropout(kind: "Dropout", rate: 0.3), inputs: [NodeOutput(last)])); last = "drop\(i)"
            case 1:
                var bn = TestGraphs.node("bn\(i)", .batchNorm(BatchNormAttributes()), [last],
                                         [("gamma", [width]), ("beta", [width]), ("movingMean", [width])], seed: seed &+ 500 &+ UInt64(i))
                bn.parameters["movingVariance"] = Tensor(shape: [width], floats: Array(repeating: 0.7, count: width))
                nodes.append(bn); last = "bn\(i)"
            case 2:
                nodes.append(Node(name: "act\(i)", op: .activation(.tanh), inputs: [NodeOutput(last)])); last = "act\(i)"
            default: break
            }
        }
        return (Graph(nodes: nodes, outputs: [NodeOutput(last)]), widenable)
    }

    func testWidenPruneInsertProperties() throws {
        for seed in UInt64(1)...25 {
            let (g, widenable) = randomGraph(seed)
            guard !widenable.isEmpty else { continue }
            var rng = SplitMix64(seed: seed &+ 1000)
            let layer = widenable[rng.index(widenable.count)]
            let by = 1 + rng.index(4)
            let x = [TestGraphs.random([3, g.featureWidth(of: NodeOutput("in"))!], seed: seed, scale: 1)]
            let w = try g.widen(layer: layer, by: by)
            try assertSameFunction(g, w, inputs: x)
            try assertSameFunction(g, try g.widen(layer: layer, by: by, mode: .split(noise: 0), seed: seed), inputs: x)
            let n = try channelCount(g.node(named: layer)!)
            let back = try w.prune(layer: layer, units: Array(n..<(n + by)))
            XCTAssertEqual(back.nodes, g.nodes, "seed \(seed)")
            let inserted = try g.insertLayer(after: layer, name: "identity", op: .dense(DenseAttributes(units: n)), init: .identity)
            try assertSameFunction(g, inserted, inputs: x)
        }
    }

    /// A DL4J-layout graph: sequences fed as [batch, features, time], RNN output layer.
    func testDL4JLayoutScenario() throws {
        for peepholes in [false, true] {
            var g = TestGraphs.sequenceModel(TestGraphs.lstm(peepholes: peepholes))
            g.nodes[0].op = .input(InputAttributes(shape: [3, nil], layout: .sequenceFeaturesTime))
            let x = [TestGraphs.random([2, 3, 7], seed: 21, scale: 1)]
            let w = try g.widen(layer: "rnn_1", by: 3)
            try assertSameFunction(g, w, inputs: x)
        }
    }

    /// DL4J CNN → CnnToFeedForward preprocessor → output layer, channels-first.
    func testCnnToFeedForwardPreprocessor() throws {
        let conv = ConvAttributes(rank: 2, filters: 3, kernelSize: [2, 2], dataFormat: .channelsFirst, activation: .plainRelu)
        let g = Graph(nodes: [Node(name: "in", op: .input(InputAttributes(shape: [2, 4, 4], layout: .channelsFirst))),
                              TestGraphs.node("conv", .conv(conv), ["in"], [("kernel", [2, 2, 2, 3]), ("bias", [3])], seed: 1),
                              Node(name: "pre", op: .dl4jVertex(.preprocessor(.cnnToFeedForward(height: 3, width: 3, channels: 3))),
                                   inputs: [NodeOutput("conv")]),
                              TestGraphs.node("out", .output(OutputAttributes(kind: .dense, units: 2, activation: .softmax(axis: -1), loss: "MCXENT")),
                                              ["pre"], [("kernel", [27, 2]), ("bias", [2])], seed: 2)],
                      outputs: [NodeOutput("out")])
        let x = [TestGraphs.random([2, 2, 4, 4], seed: 3, scale: 1)]
        let w = try g.widen(layer: "conv", by: 2, mode: .split(noise: 0))
        XCTAssertEqual(w.node(named: "pre")!.op, .dl4jVertex(.preprocessor(.cnnToFeedForward(height: 3, width: 3, channels: 5))))
        try assertSameFunction(g, w, inputs: x)
    }
}
