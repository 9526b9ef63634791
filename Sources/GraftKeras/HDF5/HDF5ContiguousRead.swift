import CHDF5
import Dispatch
import Foundation
import GraftCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension HDF5Dataset {
    /// Datasets at least this large are read on `readThreads` threads.
    static let parallelBytes = 8 << 20
    /// Threads for one large dataset: the machine's cores, at most 2.
    static let readThreads = min(2, max(1, ProcessInfo.processInfo.activeProcessorCount))

    /// Reads a contiguous dataset whose stored bytes are exactly its memory bytes (file type
    /// equal to `memoryType`, `byteCount` stored) straight from the file with `pread`, a large
    /// one in parts on `readThreads` threads (libhdf5 reads on one). False, with nothing read,
    /// when the dataset is not such a case (the caller then uses `H5Dread`): no address, a
    /// type conversion, a file with a user block (addresses would be relative to it), or a
    /// range outside the file.
    func readContiguous(into storage: TensorStorage, byteCount: Int, memoryType: hid_t) throws -> Bool {
        let file = handle.file
        let raw = file.contents.bytes
        let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        guard raw.count >= 8, signature.indices.allSatisfy({ raw[$0] == signature[$0] }),
              graft_h5_dataset_type_equals(handle.id, memoryType) == 1 else { return false }
        let address = graft_h5_dataset_offset(handle.id)
        guard address > 0, address <= UInt64(raw.count), UInt64(byteCount) <= UInt64(raw.count) - address else { return false }
        let fd = open(file.path, O_RDONLY)
        guard fd >= 0 else { throw file.error("cannot open the file to read a dataset", at: path, kind: .io) }
        defer { close(fd) }
        let start = Int(address)
        let parts = byteCount >= Self.parallelBytes ? Self.readThreads : 1
        // Part boundaries on 4 KiB multiples of the destination (page-aligned storage).
        let bounds = (0...parts).map { min(byteCount, ($0 * (byteCount / parts) + 4095) / 4096 * 4096) }
        let failures = ReadFailures()
        let destination = storage
        DispatchQueue.concurrentPerform(iterations: parts) { k in
            var offset = bounds[k]
            let end = k == parts - 1 ? byteCount : bounds[k + 1]
            while offset < end {
                let n = pread(fd, destination.pointer + offset, min(end - offset, 1 << 30), off_t(start + offset))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { failures.record(offset); return }
                offset += n
            }
        }
        if let at = failures.firstOffset {
            throw file.error("dataset is truncated", at: path, kind: .malformed,
                             expected: "\(byteCount) bytes at file offset \(start)", found: "a read failing after \(at) bytes")
        }
        return true
    }
}

/// The first failed offset of a threaded dataset read.
private final class ReadFailures: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var firstOffset: Int?
    func record(_ offset: Int) {
        lock.lock()
        if (firstOffset.map { offset < $0 }) ?? true { firstOffset = offset }
        lock.unlock()
    }
}
