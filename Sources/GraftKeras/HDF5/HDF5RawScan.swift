#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte-level helpers for the pre-checks that look at an HDF5 file's raw bytes before libhdf5
/// decodes them (HDF5GlobalHeapCheck, HDF5LocalHeapCheck; the signature search is HDF5FileMapping's).
enum HDF5RawScan {
    /// The little-endian 64-bit value at `at`.
    static func u64(_ raw: UnsafeRawBufferPointer, _ at: Int) -> UInt64 {
        var v: UInt64 = 0
        for k in (0..<8).reversed() { v = v << 8 | UInt64(raw[at + k]) }
        return v
    }
}
