import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GraftCore

/// A structural check of the file's local heaps (group link names) before libhdf5 reads them.
///
/// A local heap is `"HEAP"`, version 0, 3 reserved bytes, then (8-byte lengths and addresses, as
/// Keras files use) the data segment size, the offset of the first free block in the segment
/// (1 or all ones: none) and the segment's address. Each free block starts with the offset of the
/// next free block and its own size. libhdf5 1.10 follows that list without noticing a loop
/// (it allocates a node per step: endless, growing memory) and decodes a block that starts
/// within 16 bytes of the segment's end past it. This refuses both. (A data block that happens
/// to contain "HEAP" is only treated as a heap when its fields are plausible.)
enum HDF5LocalHeapCheck {
    /// Bytes of the fixed part after the signature that must lie inside the file (strictly) for a check.
    static let room = 32

    static func checkHeap(_ raw: UnsafeRawBufferPointer, at start: Int, path: String) throws {
        let size = HDF5RawScan.u64(raw, start + 8), head = HDF5RawScan.u64(raw, start + 16), address = HDF5RawScan.u64(raw, start + 24)
        let location = "local heap at offset \(start)"
        guard size <= UInt64(raw.count), address <= UInt64(raw.count) - size else {
            // A segment right after its header is loaded by libhdf5 as one piece of header +
            // size bytes without comparing the size with the file (a size of 2^64 - 1 made it
            // copy -1 bytes): refused here. A segment elsewhere is checked where a group names
            // the heap (`HDF5ObjectHeaderCheck.checkSymbolTable`): found by this scan alone,
            // "HEAP" may as well be bytes of the weights.
            if address == UInt64(start + room) {
                throw GraftError(.malformed, "local heap data segment reaches past the end of the file", file: path,
                                 location: location, field: "data segment size",
                                 expected: "at most \(raw.count - start - room) bytes", found: "\(size)")
            }
            return
        }
        let segment = Int(address), segmentSize = Int(size)
        var next = head
        var steps = 0
        while next != 1 && next != UInt64.max {
            // libhdf5 refuses an offset past the segment itself; one too close to its end it decodes past it.
            guard next < size else { return }
            guard next + 16 <= size else {
                throw GraftError(.malformed, "local heap free block reaches past its data segment", file: path,
                                 location: location, field: "free block offset",
                                 expected: "at most \(segmentSize - 16)", found: "\(next)")
            }
            steps += 1
            // Free blocks are at least 16 bytes and do not overlap: more than size / 16 of them is a loop.
            guard steps <= segmentSize / 16 else {
                throw GraftError(.malformed, "local heap free list loops", file: path, location: location,
                                 field: "free block offset", expected: "a list that ends", found: "offset \(next) again")
            }
            next = HDF5RawScan.u64(raw, segment + Int(next))
        }
    }
}
