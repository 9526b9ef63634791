import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GraftCore

/// A structural check of the file's global heap collections before libhdf5 reads them.
///
/// Variable-length strings (Keras' `layer_names`, `weight_names`, configs) live in global heap
/// collections: `"GCOL"`, version 1, 3 reserved bytes, an 8-byte collection size, then
/// objects of 16-byte header (index u16, refcount u16, 4 reserved, size u64) and data padded
/// to 8 bytes; index 0 is the free space that ends the list. libhdf5 1.10 copies an object's
/// declared size without checking it against its collection, so a lying size reads out of
/// bounds and crashes the process. This walks every collection and refuses one whose objects
/// do not fit. (A data block that happens to contain "GCOL" is only treated as a collection
/// when its version and size fields are plausible.)
enum HDF5GlobalHeapCheck {
    /// Bytes of the fixed part after the signature that must lie inside the file (strictly) for a check.
    static let room = 16
    static let signature: [UInt8] = Array("GCOL".utf8)
    /// HDF5 never makes a collection smaller than 4096 bytes.
    static let minimumCollectionSize = 4096

    static func u16(_ raw: UnsafeRawBufferPointer, _ at: Int) -> Int { Int(raw[at]) | Int(raw[at + 1]) << 8 }


    static func checkCollection(_ raw: UnsafeRawBufferPointer, at start: Int, path: String) throws {
        guard start + 16 <= raw.count, raw[start + 4] == 1 else { return }
        let declared = HDF5RawScan.u64(raw, start + 8)
        // Not a plausible collection header: leave it to libhdf5 (it is most likely data).
        guard declared >= UInt64(minimumCollectionSize), declared <= UInt64(1 << 40) else { return }
        let location = "global heap collection at offset \(start)"
        guard declared <= UInt64(raw.count - start) else {
            throw GraftError(.malformed, "global heap collection reaches past the end of the file", file: path,
                             location: location, field: "collection size",
                             expected: "at most \(raw.count - start) bytes", found: "\(declared) bytes")
        }
        let end = start + Int(declared)
        var offset = start + 16
        while offset + 16 <= end {
            let index = u16(raw, offset)
            let size = HDF5RawScan.u64(raw, offset + 8)
            // The free-space object (index 0) counts its own header in its size.
            let room = UInt64(index == 0 ? end - offset : end - offset - 16)
            // A free-space object smaller than its own header makes libhdf5 1.10 loop forever.
            guard size <= room, index != 0 || size >= 16 else {
                throw GraftError(.malformed, "global heap object is larger than its collection", file: path,
                                 location: location, field: "object \(index) size",
                                 expected: index == 0 ? "16 to \(room) bytes" : "at most \(room) bytes", found: "\(size) bytes")
            }
            // libhdf5 goes on reading objects after a free-space object (it steps by its size),
            // so the walk does too: a second one smaller than its header would loop forever.
            offset += index == 0 ? Int(size) : 16 + Int((size + 7) / 8 * 8)
        }
    }
}
