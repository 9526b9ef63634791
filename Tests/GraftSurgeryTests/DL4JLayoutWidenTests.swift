import XCTest
import GraftCore
import GraftRuntime
@testable import GraftSurgery

/// Widening in DL4J's layouts: sequences fed as [batch, features, time], and a channels-first
/// CNN read through a CnnToFeedForward preprocessor. (Random graphs: `SurgeryProperties`.)
final class DL4JLayoutWidenTests: XCTestCase {
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
