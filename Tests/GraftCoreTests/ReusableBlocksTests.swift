import Foundation
import XCTest
@testable import GraftCore

/// Large forward-pass storage (`TensorStorage(uninitializedHeapByteCount:)`) comes from
/// `ReusableBlocks`: a released block is handed to the next request it fits, at most
/// `maximumKept` are kept, and growing such storage still zero-fills the added bytes.
final class ReusableBlocksTests: XCTestCase {
    let large = ReusableBlocks.minimumBytes + 4096

    override func setUp() { TensorStorage.releaseReusableBlocks() }
    override func tearDown() { TensorStorage.releaseReusableBlocks() }

    func testReleasedBlockServesTheNextRequestItHolds() {
        var first: TensorStorage? = TensorStorage(uninitializedHeapByteCount: 2 * large)
        let address = first?.pointer
        first = nil
        // Same size, then smaller (at least a quarter of the block): the same bytes.
        var same: TensorStorage? = TensorStorage(uninitializedHeapByteCount: 2 * large)
        XCTAssertEqual(same?.pointer, address)
        same = nil
        let smaller = TensorStorage(uninitializedHeapByteCount: large)
        XCTAssertEqual(smaller.pointer, address)
        XCTAssertEqual(smaller.byteCount, large)
        // Larger than any kept block, or below the threshold: not from the kept blocks.
        let other = TensorStorage(uninitializedHeapByteCount: 3 * large)
        XCTAssertNotEqual(other.pointer, address)
        let small = TensorStorage(uninitializedHeapByteCount: 1 << 20)
        XCTAssertNotEqual(small.pointer, address)
    }

    func testATooLargeBlockIsNotUsedForASmallRequest() {
        var big: TensorStorage? = TensorStorage(uninitializedHeapByteCount: 8 * large)
        let address = big?.pointer
        big = nil
        let quarterLess = TensorStorage(uninitializedHeapByteCount: large)
        XCTAssertNotEqual(quarterLess.pointer, address)
    }

    func testAtMostMaximumKeptBlocksAreKept() {
        // Each block marked before release; a fresh mapping (which the kernel may place at a
        // just-unmapped address) reads as zeros.
        let count = ReusableBlocks.maximumKept + 2
        var storages: [TensorStorage] = (0..<count).map { _ in TensorStorage(uninitializedHeapByteCount: large) }
        for (i, s) in storages.enumerated() { s.pointer.storeBytes(of: UInt64(i + 1), as: UInt64.self) }
        storages.removeAll()
        let again = (0..<count).map { _ in TensorStorage(uninitializedHeapByteCount: large) }
        let marked = again.map { $0.pointer.load(as: UInt64.self) }.filter { $0 != 0 }
        XCTAssertEqual(Set(marked), Set((count - ReusableBlocks.maximumKept + 1...count).map(UInt64.init)),
                       "the most recently released blocks are the ones kept")
    }

    func testGrowingReusedStorageZeroFillsTheAddedBytes() {
        var used: TensorStorage? = TensorStorage(uninitializedHeapByteCount: 2 * large)
        if let p = used?.pointer { memset(p, 0xAB, 2 * large) }
        used = nil
        let reused = TensorStorage(uninitializedHeapByteCount: large)
        memset(reused.pointer, 1, large)
        let grown = reused.grown(to: 2 * large)
        let bytes = UnsafeRawBufferPointer(start: grown.pointer, count: 2 * large)
        XCTAssertEqual(bytes[large - 1], 1)
        let zeros = [UInt8](repeating: 0, count: large)
        XCTAssertEqual(memcmp(grown.pointer + large, zeros, large), 0, "the added bytes are zero")
    }
}
