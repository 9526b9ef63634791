import GraftCore
import XCTest

/// Sizes a file may state that would overflow shape arithmetic are refused with an error
/// (never a trap): any integer attribute or dimension beyond ±2^30, and element counts that
/// overflow 64 bits.
final class SizeLimitTests: XCTestCase {
    func testHugeAttributesAndDimensionsAreShapeErrors() {
        let cases: [(String, Op, [[Int?]])] = [
            ("conv kernel", .conv(ConvAttributes(rank: 1, filters: 2, kernelSize: [Int.max], dilation: [2])), [[10, 3]]),
            ("transposed stride", .conv(ConvAttributes(kind: .transposed(outputPadding: nil), rank: 1, filters: 2,
                                                       kernelSize: [3], strides: [Int.max / 2])), [[10, 3]]),
            ("upsampling size", .upSampling(UpSamplingAttributes(rank: 1, size: [1 << 40])), [[1 << 30, 3]]),
            ("padding amount", .zeroPadding(SpatialPadAttributes(rank: 1, amounts: [.init(Int.max, 1)])), [[4, 3]]),
            ("input dimension", .dense(DenseAttributes(units: 3)), [[Int.max]]),
            ("nested in bidirectional", .bidirectional(BidirectionalAttributes(
                mergeMode: .concat, layer: .lstm(LSTMAttributes(RecurrentAttributes(units: Int.max))))), [[5, 3]]),
            ("flatten count", .flatten, [[1 << 30, 1 << 30, 1 << 30]]),
            ("cnnToFeedForward count", .dl4jVertex(.preprocessor(.cnnToFeedForward(height: 1 << 30, width: 1 << 30, channels: 1 << 30))), [[1, 1, 1]]),
            ("reshape count", .reshape(targetShape: [1 << 30, 1 << 30, 1 << 30, -1]), [[4]]),
        ]
        for (name, op, inputs) in cases {
            XCTAssertThrowsError(try op.outputShapes(inputs), name) { error in
                XCTAssertEqual((error as? GraftError)?.kind, .shapeMismatch, "\(name): \(error)")
            }
        }
    }

    func testLimitErrorNamesTheAttribute() {
        let op = Op.conv(ConvAttributes(rank: 2, filters: 4, kernelSize: [3, 3], strides: [1, 1 << 31]))
        XCTAssertThrowsError(try op.outputShapes([[8, 8, 1]])) { error in
            XCTAssertTrue((error as? GraftError)?.field?.contains("strides") == true, "\(error)")
        }
    }

    func testExpectedParametersForHugeSizesAreUnknown() {
        XCTAssertNil(Op.dense(DenseAttributes(units: Int.max)).expectedParameterShapes(inputShapes: [[4]]))
        XCTAssertNil(Op.dense(DenseAttributes(units: 3)).expectedParameterShapes(inputShapes: [[Int.min]]))
    }

    /// Sizes at the limit still work: 2^30 · 2 = 2^31.
    func testSizesAtTheLimitStillWork() throws {
        XCTAssertEqual(try Op.upSampling(UpSamplingAttributes(rank: 1, size: [2])).outputShapes([[1 << 30, 3]]), [[1 << 31, 3]])
        XCTAssertEqual(try Op.flatten.outputShapes([[1 << 20, 1 << 20, 4]]), [[1 << 42]])
    }

    func testTensorReshapeToAnOverflowingShapeIsAnError() {
        let t = Tensor(zeros: [4], dtype: .float32)
        for shape in [[1 << 32, 1 << 32, 4], [-1, -4], [Int.max, 2]] {
            XCTAssertThrowsError(try t.reshaped(shape), "\(shape)") { XCTAssertEqual(($0 as? GraftError)?.kind, .shapeMismatch) }
        }
        XCTAssertEqual(try t.reshaped([2, 2]).shape, [2, 2])
    }
}
