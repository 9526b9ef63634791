import CBytes
import CZip
import XCTest
@testable import GraftCore

/// The C byte kernels (CBytes) against independent references: zlib's crc32 for the CRC-32,
/// a plain byte-by-byte comparison for the signature search.
final class ByteKernelTests: XCTestCase {
    /// Random bytes from a fixed seed.
    func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    func zlibCRC(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(truncatingIfNeeded: crc32(UInt(crc), bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt32(bytes.count)))
    }

    /// Every length 0...300 and random longer ones, at every alignment 0...15, continued from a
    /// random running CRC: both paths (carry-less multiplication and tables) equal zlib.
    func testCRC32MatchesZlibOverLengthsAndAlignments() {
        let data = randomBytes(70_000, seed: 32)
        var rng = SplitMix64(seed: 7)
        let lengths = Array(0...300) + (0..<60).map { _ in Int(rng.next() % 65_000) }
        data.withUnsafeBytes { all in
            for length in lengths {
                for offset in 0..<16 {
                    let piece = UnsafeRawBufferPointer(rebasing: all[offset..<(offset + length)])
                    let start = UInt32(truncatingIfNeeded: rng.next())
                    let expected = zlibCRC(start, piece)
                    XCTAssertEqual(graft_crc32(start, piece.baseAddress, length), expected, "length \(length) offset \(offset)")
                    XCTAssertEqual(graft_crc32_portable(start, piece.baseAddress, length), expected, "length \(length) offset \(offset)")
                }
            }
        }
    }

    /// The CRC of a message fed in pieces of random sizes equals the CRC of it whole; and the
    /// check value of the standard ("123456789" -> CBF43926).
    func testCRC32RunningAndCheckValue() {
        XCTAssertEqual(Array("123456789".utf8).withUnsafeBytes { graft_crc32(0, $0.baseAddress, $0.count) }, 0xCBF4_3926)
        let data = randomBytes(200_000, seed: 9)
        var rng = SplitMix64(seed: 11)
        data.withUnsafeBytes { all in
            var crc: UInt32 = 0
            var at = 0
            while at < all.count {
                let n = min(all.count - at, Int(rng.next() % 5000))
                crc = graft_crc32(crc, all.baseAddress! + at, n)
                at += n
            }
            XCTAssertEqual(crc, zlibCRC(0, all))
        }
    }

    /// `graft_find_word` finds exactly the positions a byte-by-byte search finds, for data made
    /// of the signatures' letters (many near misses) and for random data, from random starts.
    func testFindWordMatchesNaiveSearch() {
        let first = UInt32(0x4C4F_4347), second = UInt32(0x5041_4548)  // "GCOL", "HEAP"
        let letters = Array("GCOLHEAP".utf8)
        var rng = SplitMix64(seed: 5)
        for trial in 0..<3000 {
            let n = Int(rng.next() % 200)
            let bytes: [UInt8] = trial % 2 == 0 ? (0..<n).map { _ in letters[Int(rng.next() % 8)] } : randomBytes(n, seed: UInt64(trial))
            let from = n == 0 ? 0 : Int(rng.next() % UInt64(n + 1))
            var expected = n
            if n >= 4, from <= n - 4 {
                for i in from...(n - 4) {
                    let w = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
                    if w == first || w == second { expected = i; break }
                }
            }
            let found = bytes.withUnsafeBytes { graft_find_word($0.baseAddress, n, from, first, second) }
            XCTAssertEqual(found, expected, "trial \(trial) length \(n) from \(from)")
        }
    }
}
