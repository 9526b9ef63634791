import Foundation
import GraftCore
import XCTest
import GraftTestSupport

final class ZipArchiveTests: TemporaryDirectoryTestCase {
    /// The scratch folder (`temp`).
    var dir: URL { temp }

    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testStoredAndDeflatedEntriesReadBack() throws {
        let payload = (0..<100_000).map { UInt8($0 % 7) }
        for deflate in [false, true] {
            let path = try write(try ZipWriter.archive([("x/a.bin", payload), ("b.bin", [])], deflate: deflate), "ok-\(deflate).zip")
            XCTAssertTrue(ZipArchive.looksLikeZip(path: path))
            let zip = try ZipArchive(path: path)
            XCTAssertEqual(zip.entryNames, ["x/a.bin", "b.bin"])
            XCTAssertEqual(try zip.read("x/a.bin"), payload)
            XCTAssertEqual(try zip.read("b.bin"), [])
            XCTAssertThrowsError(try zip.read("missing")) { XCTAssertEqual(($0 as? GraftError)?.kind, .missingWeights) }
        }
    }

    func testEntryNamesThatEscapeAreRefused() throws {
        let path = try write(try ZipWriter.archive([("../evil.npy", [1])]), "evil.zip")
        XCTAssertThrowsError(try ZipArchive(path: path)) { XCTAssertEqual(($0 as? GraftError)?.kind, .malformed) }
    }

    /// A stored entry whose central directory claims 1 000 000 bytes but holds 4 is refused
    /// (the uncompressed size sits at offset 24 of the central directory header `PK\1\2`).
    func testLyingDeclaredSizeIsRefused() throws {
        var bytes = try ZipWriter.archive([("a.bin", [1, 2, 3, 4])])
        let signature: [UInt8] = [0x50, 0x4B, 0x01, 0x02]
        guard let at = (0...(bytes.count - 4)).first(where: { Array(bytes[$0..<$0 + 4]) == signature }) else {
            return XCTFail("no central directory header")
        }
        let claimed = withUnsafeBytes(of: UInt32(1_000_000).littleEndian, Array.init)
        bytes.replaceSubrange(at + 24..<at + 28, with: claimed)
        let path = try write(bytes, "lying.zip")
        XCTAssertThrowsError(try ZipArchive(path: path).read("a.bin")) { error in
            XCTAssertEqual((error as? GraftError)?.kind, .malformed, "\(error)")
        }
    }

    /// A stored entry is read past libzip (straight from the file); a flipped byte in its data
    /// is caught by its CRC-32 once the entry has been read to the end, and an intact copy reads.
    func testStoredEntryStreamChecksItsCRC() throws {
        let payload = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var bytes = try ZipWriter.archive([("coefficients.bin", payload)], deflate: false)
        let intact = try write(bytes, "intact.zip")
        let good = try ZipEntryReader(try ZipArchive(path: intact), entry: "coefficients.bin")
        XCTAssertTrue(good.isStored)
        XCTAssertEqual(Array(try good.next(4_000)) + Array(try good.next(6_000)), payload)
        // The data follows the 30-byte local header and the entry's name.
        let dataStart = 30 + "coefficients.bin".utf8.count
        XCTAssertEqual(Array(bytes[dataStart..<dataStart + 8]), Array(payload[0..<8]))
        bytes[dataStart + 5_000] ^= 0xFF
        let reader = try ZipEntryReader(try ZipArchive(path: try write(bytes, "flipped.zip")), entry: "coefficients.bin")
        XCTAssertTrue(reader.isStored)
        XCTAssertNoThrow(try reader.next(4_000))
        XCTAssertThrowsError(try reader.next(6_000)) { error in
            XCTAssertEqual((error as? GraftError)?.kind, .malformed)
            XCTAssertTrue("\(error)".contains("CRC"), "\(error)")
        }
    }

    /// `forEachPiece` (pieces mapped from the file) on 1, 2 and 3 threads, with piece sizes that
    /// are and are not a multiple of the page size, hands out the same bytes at the same offsets
    /// as `next` (`pread` into a buffer) reads, after a `next` that leaves an unaligned position;
    /// and a flipped byte in the first or the last part fails the entry's CRC-32 with the same
    /// typed error whatever the thread count.
    func testForEachPieceThreadedEqualsSequentialAndChecksCRC() throws {
        let payload = (0..<300_001).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 7) }
        var bytes = try ZipWriter.archive([("coefficients.bin", payload)], deflate: false)
        let intact = try write(bytes, "pieces.zip")
        final class Collected: @unchecked Sendable {
            var bytes: [UInt8]
            let lock = NSLock()
            init(_ n: Int) { bytes = [UInt8](repeating: 0, count: n) }
        }
        let sequential = try ZipEntryReader(try ZipArchive(path: intact), entry: "coefficients.bin")
        let readByNext = Array(try sequential.next(13)) + Array(try sequential.next(payload.count - 13))
        XCTAssertEqual(readByNext, payload)
        for threads in [1, 2, 3] {
            for pieceBytes in [4_096, 5_003] {
                let reader = try ZipEntryReader(try ZipArchive(path: intact), entry: "coefficients.bin")
                XCTAssertTrue(reader.isStored)
                let head = Array(try reader.next(13))
                let rest = Collected(payload.count - 13)
                try reader.forEachPiece(payload.count - 13, pieceBytes: pieceBytes, threads: threads) { offset, piece in
                    rest.lock.lock()
                    defer { rest.lock.unlock() }
                    XCTAssertEqual(offset % pieceBytes, 0)
                    rest.bytes.replaceSubrange(offset..<offset + piece.count, with: piece)
                }
                XCTAssertEqual(head + rest.bytes, readByNext, "\(threads) threads, pieces of \(pieceBytes)")
            }
        }
        let dataStart = 30 + "coefficients.bin".utf8.count
        for flipped in [20, payload.count - 2] {
            var copy = bytes
            copy[dataStart + flipped] ^= 0x01
            let path = try write(copy, "flipped-\(flipped).zip")
            for threads in [1, 2] {
                let reader = try ZipEntryReader(try ZipArchive(path: path), entry: "coefficients.bin")
                _ = try reader.next(13)
                XCTAssertThrowsError(try reader.forEachPiece(payload.count - 13, pieceBytes: 4_096, threads: threads) { _, _ in }) { error in
                    XCTAssertEqual((error as? GraftError)?.kind, .malformed)
                    XCTAssertTrue("\(error)".contains("CRC"), "\(error)")
                }
            }
        }
        bytes.removeAll()
    }

    func testNotAZip() throws {
        let path = try write(Array("hello".utf8), "plain.txt")
        XCTAssertFalse(ZipArchive.looksLikeZip(path: path))
        XCTAssertThrowsError(try ZipArchive(path: path)) { XCTAssertEqual(($0 as? GraftError)?.kind, .malformed) }
    }
}
