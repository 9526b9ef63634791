import CBytes
import GraftCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole HDF5 file mapped read-only, for the structural pre-checks that look at its raw bytes
/// (`HDF5GlobalHeapCheck`, `HDF5LocalHeapCheck`, `HDF5ObjectHeaderCheck`).
///
/// Mapped file pages the process has touched count in its resident set. The heap pre-checks
/// scan every byte, so a plain mapping made the whole file resident beside the tensors libhdf5
/// reads into (VGG16: 553 MB twice). `scanHeapSignatures` therefore hands each window back to
/// the kernel (`MADV_DONTNEED`: the page cache keeps the bytes, the process drops its page-table
/// entries) once it has been searched; later checks fault in only the pages they read.
final class HDF5FileMapping: @unchecked Sendable {
    let base: UnsafeMutableRawPointer?
    let count: Int

    /// Bytes searched before the window is handed back.
    static let windowBytes = 16 << 20

    init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw GraftError(.io, "cannot read file", file: path) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw GraftError(.io, "cannot read file", file: path) }
        count = Int(info.st_size)
        guard count > 0 else { base = nil; return }
        guard let mapped = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw GraftError(.io, "cannot map file", file: path)
        }
        base = mapped
    }

    deinit { if let base { munmap(base, count) } }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Calls `body` with the offset of every "GCOL" (global heap collection) and every "HEAP"
    /// (local heap) signature, in file order, in one pass; `isGlobal` says which. Each searched
    /// window leaves the resident set afterwards (see the type's note).
    func scanHeapSignatures(_ body: (_ offset: Int, _ isGlobal: Bool) throws -> Void) rethrows {
        guard let base else { return }
        let global = HDF5FileMapping.word("GCOL"), local = HDF5FileMapping.word("HEAP")
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var released = 0  // bytes before this offset have been handed back
        var from = 0
        while true {
            // Search one window at a time (plus the 3 bytes a signature may straddle).
            let windowEnd = min(count, (from / HDF5FileMapping.windowBytes + 1) * HDF5FileMapping.windowBytes)
            let searchEnd = min(count, windowEnd + 3)
            let hit = graft_find_word(base, searchEnd, from, global, local)
            if hit < searchEnd {
                let word = base.loadUnaligned(fromByteOffset: hit, as: UInt32.self)
                try body(hit, UInt32(littleEndian: word) == global)
                from = hit + 1
                continue
            }
            // Window done: release every whole page below its end.
            let releaseEnd = windowEnd / page * page
            if releaseEnd > released {
                _ = madvise(base + released, releaseEnd - released, MADV_DONTNEED)
                released = releaseEnd
            }
            if windowEnd >= count { break }
            from = max(from, windowEnd)
        }
    }

    /// The little-endian 32-bit word of a 4-character ASCII signature.
    static func word(_ signature: String) -> UInt32 {
        signature.utf8.enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * $1.offset) }
    }
}
