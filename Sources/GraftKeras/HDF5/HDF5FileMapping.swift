import CBytes
import Dispatch
import Foundation
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
    /// (local heap) signature, in file order; `isGlobal` says which. The search runs over
    /// `searchThreads` contiguous parts of the file at once (one memory pass, the bandwidth of
    /// both cores), each window leaving the resident set once searched (see the type's note);
    /// `body` then runs on this thread for the hits (a few hundred in a model file).
    func scanHeapSignatures(_ body: (_ offset: Int, _ isGlobal: Bool) throws -> Void) rethrows {
        guard let base else { return }
        let global = HDF5FileMapping.word("GCOL"), local = HDF5FileMapping.word("HEAP")
        let window = HDF5FileMapping.windowBytes
        let windows = (count + window - 1) / window
        let parts = min(HDF5FileMapping.searchThreads, max(windows, 1))
        let hits = HitLists(parts)
        let length = count
        DispatchQueue.concurrentPerform(iterations: parts) { k in
            // Part k: windows [k·windows/parts, (k+1)·windows/parts).
            guard let start = self.base else { return }
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            var found: [Int] = []
            for w in (k * windows / parts)..<((k + 1) * windows / parts) {
                let from = w * window, windowEnd = min(length, from + window)
                // Positions before windowEnd; a signature may straddle into the next window.
                let searchEnd = min(length, windowEnd + 3)
                var at = from
                while true {
                    let hit = graft_find_word(start, searchEnd, at, global, local)
                    if hit >= searchEnd { break }
                    found.append(hit)
                    at = hit + 1
                }
                // Hand back every whole page of the window.
                let releaseStart = (from + page - 1) / page * page, releaseEnd = windowEnd / page * page
                if releaseEnd > releaseStart { _ = madvise(start + releaseStart, releaseEnd - releaseStart, MADV_DONTNEED) }
            }
            hits.lists[k] = found
        }
        for list in hits.lists {
            for offset in list {
                let word = base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
                try body(offset, UInt32(littleEndian: word) == global)
            }
        }
    }

    /// Threads for the signature search: the machine's cores, at most 2.
    static let searchThreads = min(2, max(1, ProcessInfo.processInfo.activeProcessorCount))

    /// The hit offsets of each part of a search (each part writes its own slot).
    private final class HitLists: @unchecked Sendable {
        let lists: UnsafeMutableBufferPointer<[Int]>
        init(_ parts: Int) { lists = .allocate(capacity: parts); lists.initialize(repeating: []) }
        deinit { lists.deinitialize(); lists.deallocate() }
    }

    /// The little-endian 32-bit word of a 4-character ASCII signature.
    static func word(_ signature: String) -> UInt32 {
        signature.utf8.enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * $1.offset) }
    }
}
