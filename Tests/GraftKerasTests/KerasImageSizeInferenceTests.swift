@testable import GraftKeras
import GraftCore
import XCTest

/// Image sizes a channels-first (DL4J) graph leaves open, carried back from a pre-processor
/// or a dense layer's inputs through convolution and pooling arithmetic. Expected sizes are
/// computed by hand in each test.
final class KerasImageSizeInferenceTests: XCTestCase {
    /// input [4, ?, ?] → conv 3×3 stride 2 valid (nOut 4) → max pool 2×2 stride 2 same → `tail`.
    func graph(_ tail: [Node]) -> Graph {
        let input = Node(name: "input", op: .input(InputAttributes(shape: [4, nil, nil], layout: .channelsFirst)))
        let conv = Node(name: "conv", op: .conv(ConvAttributes(rank: 2, filters: 4, kernelSize: [3, 3], strides: [2, 2],
                                                              padding: .valid, dataFormat: .channelsFirst)),
                        inputs: [NodeOutput("input")],
                        parameters: ["kernel": Tensor(zeros: [3, 3, 4, 4]), "bias": Tensor(zeros: [4])])
        let pool = Node(name: "pool", op: .pooling(PoolingAttributes(kind: .max, rank: 2, poolSize: [2, 2], padding: .same,
                                                                     dataFormat: .channelsFirst)), inputs: [NodeOutput("conv")])
        return Graph(nodes: [input, conv, pool] + tail, outputs: [NodeOutput(tail.last?.name ?? "pool")],
                     source: SourceInfo(format: "dl4j"))
    }

    func inputShape(_ g: Graph) -> [Int?]? {
        if case .input(let a) = g.nodes[0].op { return a.shape }
        return nil
    }

    /// A CnnToFeedForward pre-processor of 3×5: back through the same-padded pool (×2: 6×10)
    /// and the valid stride-2 3×3 conv ((6−1)·2+3 = 13, (10−1)·2+3 = 21).
    func testSizeFromPreprocessorThroughConvAndPool() throws {
        let g = graph([
            Node(name: "flat", op: .dl4jVertex(.preprocessor(.cnnToFeedForward(height: 3, width: 5, channels: 4))),
                 inputs: [NodeOutput("pool")]),
            Node(name: "dense", op: .dense(DenseAttributes(units: 2)), inputs: [NodeOutput("flat")],
                 parameters: ["kernel": Tensor(zeros: [60, 2]), "bias": Tensor(zeros: [2])]),
        ])
        var report = ConversionReport()
        let filled = try KerasImageSizeInference.fill(g, report: &report)
        XCTAssertEqual(inputShape(filled), [4, 13, 21])
        XCTAssertTrue(report.notes.contains { $0.kind == .exactConversion && $0.message.contains("13×21") }, "\(report.notes)")
        // Forward again, the sizes give back the pre-processor's 3×5.
        let conv = try filled.nodes[1].op.outputShapes([[4, 13, 21]])[0]
        XCTAssertEqual(try filled.nodes[2].op.outputShapes([conv])[0], [4, 3, 5])
    }

    /// No pre-processor: 36 dense inputs over 4 channels = 9 = 3×3 (assumed square, a
    /// warning) → pool 6×6 → conv 13×13. 40 inputs (10 positions) is no square: an error
    /// naming the dense layer.
    func testSquareFromDenseInputsOrErrorNamingTheDense() throws {
        func dense(_ rows: Int) -> Node {
            Node(name: "out", op: .dense(DenseAttributes(units: 2)), inputs: [NodeOutput("pool")],
                 parameters: ["kernel": Tensor(zeros: [rows, 2]), "bias": Tensor(zeros: [2])])
        }
        var report = ConversionReport()
        let filled = try KerasImageSizeInference.fill(graph([dense(36)]), report: &report)
        XCTAssertEqual(inputShape(filled), [4, 13, 13])
        XCTAssertTrue(report.notes.contains { $0.kind == .warning && $0.message.contains("assumed square") }, "\(report.notes)")
        XCTAssertThrowsError(try KerasImageSizeInference.fill(graph([dense(40)]), report: &report)) { error in
            XCTAssertEqual((error as? GraftError)?.kind, .unsupported)
            XCTAssertEqual((error as? GraftError)?.location, "node 'out' (dense)")
        }
    }
}
