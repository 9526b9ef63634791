import XCTest
import Foundation
import GraftCore
@testable import GraftRuntime

/// Pooling, global pooling, zero padding, cropping and upsampling, with hand-computed values.
final class PoolingResizeTests: XCTestCase {
    func run(_ op: Op, input: [Int?], _ x: Tensor) throws -> Tensor {
        try runOne(singleOpGraph(op, inputShape: input), [x])
    }

    func testPool1DSamePaddingExcludesPaddedCells() throws {
        // 5 steps, pool 2, stride 2, same: windows [1,5] [2,4] [6,pad].
        let x = Tensor(shape: [1, 5, 1], floats: [1, 5, 2, 4, 6])
        let maxY = try run(.pooling(PoolingAttributes(kind: .max, rank: 1, poolSize: [2], padding: .same)), input: [5, 1], x)
        assertTensor(maxY, shape: [1, 3, 1], [5, 4, 6])
        let avgY = try run(.pooling(PoolingAttributes(kind: .average, rank: 1, poolSize: [2], padding: .same)), input: [5, 1], x)
        assertTensor(avgY, shape: [1, 3, 1], [3, 3, 6])  // the last window averages one real cell
        // Negative values: a padded cell must not win the max.
        let neg = try run(.pooling(PoolingAttributes(kind: .max, rank: 1, poolSize: [2], padding: .same)), input: [3, 1],
                          Tensor(shape: [1, 3, 1], floats: [-1, -2, -3]))
        assertTensor(neg, shape: [1, 2, 1], [-1, -3])
    }

    func testMaxPool2DValid() throws {
        let x = Tensor(shape: [1, 4, 4, 1], floats: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16])
        let y = try run(.pooling(PoolingAttributes(kind: .max, rank: 2, poolSize: [2, 2])), input: [4, 4, 1], x)
        assertTensor(y, shape: [1, 2, 2, 1], [6, 8, 14, 16])
        let s1 = try run(.pooling(PoolingAttributes(kind: .average, rank: 2, poolSize: [3, 3], strides: [1, 1])), input: [4, 4, 1], x)
        assertTensor(s1, shape: [1, 2, 2, 1], [6, 7, 10, 11])
    }

    func testAveragePool2DSameStride1AndChannelsFirst() throws {
        // 3×3 input 1..9, pool 2, stride 1, same: pad one row/column after; edge windows average fewer cells.
        let values: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        let expected: [Double] = [3, 4, 4.5,
                                  6, 7, 7.5,
                                  7.5, 8.5, 9]
        let last = try run(.pooling(PoolingAttributes(kind: .average, rank: 2, poolSize: [2, 2], strides: [1, 1], padding: .same)),
                           input: [3, 3, 1], Tensor(shape: [1, 3, 3, 1], floats: values))
        assertTensor(last, shape: [1, 3, 3, 1], expected)
        // Two channels in channels_first: channel 1 is channel 0 times −1.
        let first = try run(.pooling(PoolingAttributes(kind: .average, rank: 2, poolSize: [2, 2], strides: [1, 1], padding: .same,
                                                       dataFormat: .channelsFirst)),
                            input: [2, 3, 3], Tensor(shape: [1, 2, 3, 3], floats: values + values.map { -$0 }))
        assertTensor(first, shape: [1, 2, 3, 3], expected + expected.map { -$0 })
    }

    func testGlobalPoolingKeepDimsAndMask() throws {
        // [1, 2, 2, 2] channels_last: channel 0 = 1..4, channel 1 = 10, 20, 30, 40.
        let x = Tensor(shape: [1, 2, 2, 2], floats: [1, 10, 2, 20, 3, 30, 4, 40])
        let avg = try run(.globalPooling(GlobalPoolingAttributes(kind: .average, rank: 2)), input: [2, 2, 2], x)
        assertTensor(avg, shape: [1, 2], [2.5, 25])
        let maxKeep = try run(.globalPooling(GlobalPoolingAttributes(kind: .max, rank: 2, keepDims: true)), input: [2, 2, 2], x)
        assertTensor(maxKeep, shape: [1, 1, 1, 2], [4, 40])
        let first = try run(.globalPooling(GlobalPoolingAttributes(kind: .max, rank: 2, dataFormat: .channelsFirst, keepDims: true)),
                            input: [2, 2, 2], x)
        assertTensor(first, shape: [1, 2, 1, 1], [20, 40])  // channels first: channel 0 = 1, 10, 2, 20
        // 1-D with a mask from Masking(0): the masked middle step does not count.
        let g = Graph(nodes: [
            inputNode("x", [3, 1]),
            makeNode("m", .masking(maskValue: 0), inputs: ["x"]),
            makeNode("p", .globalPooling(GlobalPoolingAttributes(kind: .average, rank: 1)), inputs: ["m"]),
        ], outputs: [NodeOutput("p")])
        let masked = try runOne(g, [Tensor(shape: [2, 3, 1], floats: [2, 0, 4, 1, 1, 0])])
        assertTensor(masked, shape: [2, 1], [3, 1])
        // Max: Keras ignores the mask (masked steps were zeroed by Masking); DL4J leaves them out.
        let node = makeNode("p", .globalPooling(GlobalPoolingAttributes(kind: .max, rank: 1)), inputs: ["x"])
        let seq = RuntimeValue(Tensor(shape: [1, 3, 1], floats: [-2, 0, -4]), mask: [true, false, true])
        assertTensor(try ConvolutionKernels.evaluate(node, [seq], as: Float.self)[0].tensor, shape: [1, 1], [0])
        assertTensor(try ConvolutionKernels.evaluate(node, [seq], as: Float.self, masking: .dl4j)[0].tensor, shape: [1, 1], [-2])
    }

    func testZeroPaddingAndCropping() throws {
        // 2×2 image, pad (top 1, bottom 0) and (left 0, right 1).
        let x = Tensor(shape: [1, 2, 2, 1], floats: [1, 2, 3, 4])
        let padded = try run(.zeroPadding(SpatialPadAttributes(rank: 2, amounts: [.init(1, 0), .init(0, 1)])), input: [2, 2, 1], x)
        assertTensor(padded, shape: [1, 3, 3, 1], [0, 0, 0, 1, 2, 0, 3, 4, 0])
        // 1-D channels_first padding pads the last axis.
        let p1 = try run(.zeroPadding(SpatialPadAttributes(rank: 1, amounts: [.init(2, 1)], dataFormat: .channelsFirst)), input: [1, 2],
                         Tensor(shape: [1, 1, 2], floats: [7, 8]))
        assertTensor(p1, shape: [1, 1, 5], [0, 0, 7, 8, 0])
        let cropped = try run(.cropping(SpatialPadAttributes(rank: 1, amounts: [.init(1, 2)])), input: [5, 2],
                              Tensor(shape: [1, 5, 2], floats: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))
        assertTensor(cropped, shape: [1, 2, 2], [3, 4, 5, 6])
        XCTAssertThrowsError(try run(.cropping(SpatialPadAttributes(rank: 1, amounts: [.init(3, 3)])), input: [5, 2],
                                     Tensor(shape: [1, 5, 2], floats: Array(repeating: 0, count: 10))))
    }

    func testUpSamplingNearestAndBilinear() throws {
        let near = try run(.upSampling(UpSamplingAttributes(rank: 2, size: [2, 3])), input: [2, 1, 1],
                           Tensor(shape: [1, 2, 1, 1], floats: [1, 2]))
        assertTensor(near, shape: [1, 4, 3, 1], [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2])
        let oneD = try run(.upSampling(UpSamplingAttributes(rank: 1, size: [2])), input: [2, 2],
                           Tensor(shape: [1, 2, 2], floats: [1, 2, 3, 4]))
        assertTensor(oneD, shape: [1, 4, 2], [1, 2, 1, 2, 3, 4, 3, 4])
        // Bilinear with half-pixel centres: width 2 → 4 samples at source x = −0.25, 0.25, 0.75, 1.25 (clamped).
        let bi = try run(.upSampling(UpSamplingAttributes(rank: 2, size: [1, 2], interpolation: "bilinear")), input: [1, 2, 1],
                         Tensor(shape: [1, 1, 2, 1], floats: [0, 1]))
        assertTensor(bi, shape: [1, 1, 4, 1], [0, 0.25, 0.75, 1])
    }
}

extension PoolingResizeTests {
    /// Sizes that come from attributes are checked before anything is allocated.
    func testHugeAttributeSizesAreRefused() {
        let x = Tensor(shape: [1, 2, 1], floats: [1, 2])
        let transposed = Op.conv(ConvAttributes(kind: .transposed(outputPadding: nil), rank: 1, filters: 4, kernelSize: [1],
                                                strides: [1 << 30], useBias: false))
        let cases: [(Op, [String: Tensor])] = [
            (.upSampling(UpSamplingAttributes(rank: 1, size: [1 << 40])), [:]),
            (.upSampling(UpSamplingAttributes(rank: 1, size: [(1 << 30) + 1])), [:]),  // 2·(2³⁰ + 1) > 2³¹ elements
            (.zeroPadding(SpatialPadAttributes(rank: 1, amounts: [.init(Int.max, 1)])), [:]),
            (transposed, ["kernel": Tensor(shape: [1, 4, 1], floats: [1, 1, 1, 1])]),  // 2·2³⁰ steps × 4 filters
        ]
        for (op, params) in cases {
            XCTAssertThrowsError(try runOne(singleOpGraph(op, inputShape: [2, 1], parameters: params), [x]), op.kindName) { e in
                XCTAssertEqual((e as? GraftError)?.kind, .invalidArgument, "\(op.kindName): \(e)")
            }
        }
    }
}
