import XCTest
@testable import GraftCore

/// `Tensor.growInPlace`: the bytes a tensor holds alone grow without a copy (an anonymous
/// mapping through mremap) and keep their contents; shared bytes are never touched.
final class TensorGrowthTests: XCTestCase {
    func pattern(_ n: Int) -> [Float] { (0..<n).map { Float($0 % 1009) * 0.5 - 7 } }

    func testMappedAndHeapStorageGrowKeepingContents() throws {
        // 200 × 400 floats = 320 000 bytes (a mapping); 10 × 20 floats (the heap); 0 elements.
        for (rows, columns) in [(200, 400), (10, 20), (0, 8)] {
            let values = pattern(rows * columns)
            var t = Tensor(shape: [rows, columns], floats: values)
            XCTAssertTrue(try t.growInPlace(to: [rows + 3, columns]))
            XCTAssertEqual(t.shape, [rows + 3, columns])
            XCTAssertEqual(t.storage.byteCount, (rows + 3) * columns * 4)
            let grown = t.floats()
            XCTAssertEqual(Array(grown.prefix(values.count)), values)
            XCTAssertTrue(grown.dropFirst(values.count).allSatisfy { $0 == 0 })
            // Writing the added bytes works (the mapping really is that long).
            t.withUnsafeMutableBytes { raw in raw.storeBytes(of: 1.5, toByteOffset: raw.count - 4, as: Float.self) }
            XCTAssertEqual(t.floats().last, 1.5)
        }
    }

    func testGrowingAcrossTheMappingThreshold() throws {
        let small = TensorStorage.mappingThreshold / 4 / 64 - 1  // rows of 64 floats below the threshold
        let values = pattern(small * 64)
        var t = Tensor(shape: [small, 64], floats: values)
        XCTAssertTrue(try t.growInPlace(to: [small * 3, 64]))
        XCTAssertEqual(Array(t.floats().prefix(values.count)), values)
        XCTAssertTrue(t.floats().dropFirst(values.count).allSatisfy { $0 == 0 })
    }

    func testSharedStorageIsNotGrown() throws {
        let values = pattern(300 * 300)
        var t = Tensor(shape: [300, 300], floats: values)
        let other = t
        XCTAssertFalse(t.holdsUniqueStorage())
        XCTAssertFalse(try t.growInPlace(to: [301, 300]))
        XCTAssertEqual(t.shape, [300, 300])
        XCTAssertTrue(t.storage === other.storage)
        XCTAssertEqual(other.floats(), values)
    }

    func testShrinkingIsRefused() {
        var t = Tensor(zeros: [4, 4])
        XCTAssertThrowsError(try t.growInPlace(to: [3, 4]))
        XCTAssertEqual(t.shape, [4, 4])
    }
}
