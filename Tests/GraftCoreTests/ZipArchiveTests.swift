import Foundation
import GraftCore
import XCTest

final class ZipArchiveTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("graft-zip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

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

    func testNotAZip() throws {
        let path = try write(Array("hello".utf8), "plain.txt")
        XCTAssertFalse(ZipArchive.looksLikeZip(path: path))
        XCTAssertThrowsError(try ZipArchive(path: path)) { XCTAssertEqual(($0 as? GraftError)?.kind, .malformed) }
    }
}
