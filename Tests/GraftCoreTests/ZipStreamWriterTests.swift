import CZip
import Foundation
@testable import GraftCore
import XCTest
import GraftTestSupport

/// Graft's own zip writer (`ZipWriter.write(_:to:)`) read back through libzip and through
/// Graft's stored-entry reader; every CRC-32 the archive declares is compared with zlib's
/// crc32 of the bytes meant to be there (an independent reference).
final class ZipStreamWriterTests: TemporaryDirectoryTestCase {
    /// The scratch folder (`temp`).
    var dir: URL { temp }

    func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next() % 13) }
    }

    func zlibCRC(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { UInt32(truncatingIfNeeded: crc32(0, $0.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt32($0.count))) }
    }

    /// `bytes` as a `.parts` entry of `partSize`-byte parts, with an empty part second.
    func partsEntry(_ name: String, _ bytes: [UInt8], partSize: Int, deflate: Bool) -> ZipEntry {
        var sizes: [Int] = []
        var at = 0
        while at < bytes.count {
            sizes.append(min(partSize, bytes.count - at))
            at += partSize
        }
        sizes.insert(0, at: min(1, sizes.count))  // an empty part among the others
        var starts = [0]
        for s in sizes { starts.append(starts[starts.count - 1] + s) }
        let source = bytes, partStarts = starts, partSizes = sizes
        return ZipEntry(name, parts: ZipParts(sizes: sizes) { k, buffer in
            source.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + partStarts[k], byteCount: partSizes[k]) }
        }, deflate: deflate)
    }

    /// `bytes` as a `.stream` entry handing out at most `chunk` bytes per call.
    func streamEntry(_ name: String, _ bytes: [UInt8], chunk: Int, deflate: Bool) -> ZipEntry {
        var sent = 0
        return ZipEntry(name, size: bytes.count, deflate: deflate) { buffer in
            let n = min(chunk, buffer.count, bytes.count - sent)
            bytes.withUnsafeBytes { if n > 0 { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + sent, byteCount: n) } }
            sent += n
            return n
        }
    }

    /// Writes `entries`, then checks each (name, expected bytes): names in order, libzip reads
    /// the bytes back, the declared CRC-32 equals zlib's, stored entries read back through
    /// `ZipEntryReader` (Graft's CRC-checked path) and the declared compression method.
    func check(_ label: String, _ entries: [ZipEntry], expected: [(String, [UInt8], Bool)]) throws {
        let path = dir.appendingPathComponent("\(label).zip").path
        try ZipWriter.write(entries, to: path)
        XCTAssertTrue(ZipArchive.looksLikeZip(path: path), label)
        let archive = try ZipArchive(path: path)
        XCTAssertEqual(archive.entryNames, expected.map(\.0), label)
        for (name, bytes, deflate) in expected {
            let st = try archive.stat(name)
            XCTAssertEqual(st.size, UInt64(bytes.count), "\(label) \(name)")
            XCTAssertEqual(st.crc, zlibCRC(bytes), "\(label) \(name)")
            XCTAssertEqual(st.comp_method, deflate ? 8 : 0, "\(label) \(name)")
            XCTAssertEqual(try archive.read(name), bytes, "\(label) \(name)")
            if !deflate && !bytes.isEmpty {
                let reader = try ZipEntryReader(archive, entry: name)
                XCTAssertTrue(reader.isStored, "\(label) \(name)")
                XCTAssertEqual(Array(try reader.next(bytes.count)), bytes, "\(label) \(name)")
            }
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".graft.tmp") }
        XCTAssertEqual(leftovers, [], label)
    }

    /// Every kind of content, stored and deflated: empty, small, several parts on several
    /// threads, a stream handed out in odd-sized pieces.
    func testEntriesOfEveryKindReadBack() throws {
        let large = randomBytes(1_500_017, seed: 1)
        let small = Array("configuration".utf8)
        for deflate in [false, true] {
            let entries: [ZipEntry] = [
                ZipEntry("empty.bin", [], deflate: deflate),
                ZipEntry("dir/small.json", small, deflate: deflate),
                partsEntry("parts.bin", large, partSize: 262_147, deflate: deflate),
                partsEntry("parts-empty.bin", [], partSize: 1, deflate: deflate),
                streamEntry("stream.bin", large, chunk: 100_003, deflate: deflate),
                streamEntry("stream-empty.bin", [], chunk: 1, deflate: deflate),
                ZipEntry("naïve-ünïcode.txt", small, deflate: deflate),
            ]
            try check("kinds-\(deflate)", entries, expected: [
                ("empty.bin", [], deflate), ("dir/small.json", small, deflate), ("parts.bin", large, deflate),
                ("parts-empty.bin", [], deflate), ("stream.bin", large, deflate), ("stream-empty.bin", [], deflate),
                ("naïve-ünïcode.txt", small, deflate),
            ])
        }
    }

    /// Many entries; past 65535 the entry count needs the zip64 end record.
    func testManyEntries() throws {
        for count in [1_000, 65_540] {
            var entries: [ZipEntry] = []
            var expected: [(String, [UInt8], Bool)] = []
            for i in 0..<count {
                let bytes = Array("entry \(i)".utf8)
                entries.append(ZipEntry("e\(i)", bytes, deflate: i % 7 == 0))
                expected.append(("e\(i)", bytes, i % 7 == 0))
            }
            let path = dir.appendingPathComponent("many-\(count).zip").path
            try ZipWriter.write(entries, to: path)
            let archive = try ZipArchive(path: path)
            XCTAssertEqual(archive.entryNames.count, count)
            // A sample of the entries (reading all 65540 through libzip is slow in debug builds).
            for (name, bytes, _) in expected where Int(name.dropFirst())! % 997 == 0 || name == "e\(count - 1)" {
                XCTAssertEqual(try archive.read(name), bytes, name)
                XCTAssertEqual(try archive.stat(name).crc, zlibCRC(bytes), name)
            }
        }
    }

    /// A failing producer leaves neither the archive nor a temporary file; an existing file at
    /// the path stays as it was.
    func testFailedWriteLeavesNoFile() throws {
        struct Refused: Error {}
        let path = dir.appendingPathComponent("failed.zip").path
        for existing in [false, true] {
            if existing { try Data("before".utf8).write(to: URL(fileURLWithPath: path)) }
            let failing = ZipEntry("w.bin", parts: ZipParts(sizes: [10, 10, 10]) { k, buffer in
                if k == 1 { throw GraftError(.io, "refused") }
                memset(buffer, 1, 10)
            })
            XCTAssertThrowsError(try ZipWriter.write([ZipEntry("a", [1, 2]), failing], to: path)) { error in
                XCTAssertEqual((error as? GraftError)?.kind, .io)
                XCTAssertEqual((error as? GraftError)?.location, "w.bin")
            }
            let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            XCTAssertEqual(names, existing ? ["failed.zip"] : [], "\(names)")
            if existing { XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "before") }
        }
    }
}
