#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte-level helpers for the pre-checks that look at an HDF5 file's raw bytes before libhdf5
/// decodes them (HDF5GlobalHeapCheck, HDF5LocalHeapCheck).
enum HDF5RawScan {
    /// Calls `body` with the offset of every occurrence of `signature` that has at least
    /// `room` bytes from its start to the end of `raw` (the fixed part of the structure).
    static func occurrences(of signature: [UInt8], in raw: UnsafeRawBufferPointer, room: Int,
                            _ body: (Int) throws -> Void) rethrows {
        guard let base = raw.baseAddress, let first = signature.first, raw.count >= room else { return }
        var searchFrom = 0
        while searchFrom < raw.count - room,
              let hit = memchr(base + searchFrom, Int32(first), raw.count - room - searchFrom) {
            let start = base.distance(to: hit)
            searchFrom = start + 1
            if signature.indices.dropFirst().allSatisfy({ raw[start + $0] == signature[$0] }) { try body(start) }
        }
    }

    /// The little-endian 64-bit value at `at`.
    static func u64(_ raw: UnsafeRawBufferPointer, _ at: Int) -> UInt64 {
        var v: UInt64 = 0
        for k in (0..<8).reversed() { v = v << 8 | UInt64(raw[at + k]) }
        return v
    }
}
