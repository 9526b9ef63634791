import CBytes
import CZip
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sequential reads of one zip entry in caller-sized pieces, so a large entry (DL4J's
/// `coefficients.bin`) is decoded while it streams out of the archive instead of being
/// read whole first. The entry passes `ZipArchive.read`'s checks (size limits, zip bombs).
///
/// A stored (uncompressed) entry is read with `pread` from the archive file at the entry's
/// data offset, into a buffer whose address is congruent to the file offset modulo the
/// page size (the kernel's page-cache copy runs several times faster then); its CRC-32 is
/// computed on the way (`graft_crc32`, carry-less multiplication) and checked against the central directory's when the last
/// byte has been read. `forEachPiece` instead maps each piece of a stored entry read-only
/// from the file and hands out the mapping (no copy; see `readPart`). A deflated entry goes
/// through libzip, which inflates and checks its CRC.
public final class ZipEntryReader {
    public let name: String
    /// The entry's uncompressed size.
    public let size: Int
    /// Bytes handed out so far.
    public private(set) var position = 0
    private let archive: ZipArchive
    private var file: OpaquePointer?
    private var descriptor: Int32 = -1
    private var dataOffset = 0
    /// The central directory's CRC-32 of a stored entry, and the CRC of what was read so far.
    private var expectedCRC: UInt32?
    private var runningCRC: UInt32 = 0
    private var buffer: UnsafeMutableRawPointer?
    private var capacity = 0

    public init(_ archive: ZipArchive, entry name: String) throws {
        let st = try archive.checkedStat(name)
        self.archive = archive
        self.name = name
        self.size = Int(st.size)
        if st.valid & UInt64(ZIP_STAT_COMP_METHOD) != 0, st.comp_method == Int32(ZIP_CM_STORE), st.encryption_method == 0,
           let offset = ZipCentralDirectory.dataOffset(of: name, path: archive.path, storedSize: size) {
            let fd = open(archive.path, O_RDONLY)
            if fd >= 0 {
                descriptor = fd
                dataOffset = offset
                if st.valid & UInt64(ZIP_STAT_CRC) != 0 { expectedCRC = st.crc }
                return
            }
        }
        guard let f = zip_fopen(archive.handle, name, 0) else {
            throw GraftError(.malformed, "cannot open zip entry", file: archive.path, location: name)
        }
        file = f
    }

    deinit {
        if let file { zip_fclose(file) }
        if descriptor >= 0 { close(descriptor) }
        free(buffer)
    }

    /// True when the entry is read straight from the file (stored), not inflated.
    public var isStored: Bool { descriptor >= 0 }

    /// The next `count` bytes; the view is valid until the next call. Fails when the entry
    /// ends or is corrupt before `count` bytes arrived.
    public func next(_ count: Int) throws -> UnsafeRawBufferPointer {
        guard count >= 0, count <= size - position else {
            throw GraftError(.malformed, "zip entry is shorter than its content needs", file: archive.path, location: name,
                             expected: "\(position + count) bytes", found: "\(size) bytes")
        }
        let page = 4096
        let skew = descriptor >= 0 ? (dataOffset + position) % page : 0
        if capacity < count + skew || buffer == nil {
            free(buffer)
            buffer = nil
            capacity = 0
            var raw: UnsafeMutableRawPointer?
            let wanted = max(count + page, 1 << 20)
            guard posix_memalign(&raw, page, wanted) == 0, let raw else {
                throw GraftError(.io, "out of memory for a zip read buffer", file: archive.path, location: name)
            }
            buffer = raw
            capacity = wanted
        }
        guard let buffer else { throw GraftError(.io, "no zip read buffer", file: archive.path, location: name) }
        let start = buffer + skew
        var done = 0
        if descriptor >= 0 {
            while done < count {
                let n = pread(descriptor, start + done, count - done, off_t(dataOffset + position + done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { break }
                done += n
            }
        } else if let file {
            done = max(ZipArchive.readFully(file, into: start, count: count), 0)
        }
        guard done == count else {
            throw GraftError(.malformed, "zip entry is truncated or corrupt", file: archive.path, location: name,
                             expected: "\(size) bytes", found: "\(position + done) bytes")
        }
        position += count
        if descriptor >= 0, let expectedCRC { try checkCRC(start, count: count, expected: expectedCRC) }
        return UnsafeRawBufferPointer(start: start, count: count)
    }

    /// The next `count` bytes handed to `consume` in consecutive pieces of `pieceBytes` (the
    /// last one shorter), each as (offset from the first of these bytes, the piece). A stored
    /// entry is read on up to `threads` threads, each taking the next piece not yet taken,
    /// mapped from the file (`readPart`), with its own CRC-32; these are combined in order
    /// into the entry's running CRC (checked at the entry's end as `next` does). With several
    /// threads `consume` is called concurrently, for disjoint pieces, in no fixed order. A
    /// deflated entry is read piece by piece on this thread.
    public func forEachPiece(_ count: Int, pieceBytes: Int, threads: Int,
                             _ consume: @Sendable (_ offset: Int, _ piece: UnsafeRawBufferPointer) throws -> Void) throws {
        guard count >= 0, count <= size - position else {
            throw GraftError(.malformed, "zip entry is shorter than its content needs", file: archive.path, location: name,
                             expected: "\(position + count) bytes", found: "\(size) bytes")
        }
        let piece = max(pieceBytes, 1)
        let pieces = (count + piece - 1) / piece
        let workers = min(max(threads, 1), pieces)
        guard descriptor >= 0, workers > 0 else {
            var offset = 0
            while offset < count {
                let bytes = try next(min(piece, count - offset))
                try consume(offset, bytes)
                offset += bytes.count
            }
            return
        }
        // On several threads every piece is a part of its own, taken by whichever thread is
        // free: the threads' work is uneven (the first touch of a large tensor's pages, which
        // the kernel zeroes, falls on whichever thread gets there first), so fixed halves
        // would leave one thread idle. Part k is bytes bounds[k]..<bounds[k + 1].
        let parts = workers == 1 ? 1 : pieces
        let bounds = (0...parts).map { min(count, $0 * (workers == 1 ? count : piece)) }
        let start = dataOffset + position
        let fd = descriptor
        let results = ZipPartCRCs(parts)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let k = results.next() {
                do {
                    results.crcs[k] = try ZipEntryReader.readPart(fd: fd, fileOffset: start, range: bounds[k]..<bounds[k + 1],
                                                                  pieceBytes: piece, consume)
                } catch {
                    results.fail(error)
                }
            }
        }
        if let error = results.error {
            guard var failure = error as? GraftError else { throw error }
            if failure.location == nil { failure.location = name }
            throw failure.inFile(archive.path)
        }
        runningCRC = results.combined(after: runningCRC, lengths: (0..<parts).map { bounds[$0 + 1] - bounds[$0] })
        position += count
        if let expectedCRC, position == size, runningCRC != expectedCRC {
            throw GraftError(.malformed, "zip entry fails its CRC-32 check", file: archive.path, location: name,
                             expected: "CRC \(String(expectedCRC, radix: 16))", found: "CRC \(String(runningCRC, radix: 16))")
        }
    }


    /// Hands entry bytes `range` (relative to `fileOffset`) to `consume` piece by piece and
    /// returns the range's CRC-32 (from 0), computed over each piece just before `consume` (so
    /// the piece is in the cache when `consume` reads it).
    ///
    /// Each piece is mapped read-only from the file (`mmap`, populated at once on Linux) and
    /// unmapped after `consume`: the page cache's pages are read in place instead of being
    /// copied into a buffer first, and at most one piece per thread is mapped at a time, so
    /// the mapping adds no more to the resident size than a read buffer would. The piece lies
    /// inside the file (the constructor checked the entry's end against the file's size); a
    /// file truncated by another process while it is being read faults (SIGBUS), as any mapped
    /// file does. When the mapping fails (no memory map for this file), the piece is read with
    /// `pread` into a buffer aligned like the file instead.
    private static func readPart(fd: Int32, fileOffset: Int, range: Range<Int>, pieceBytes: Int,
                                 _ consume: (Int, UnsafeRawBufferPointer) throws -> Void) throws -> UInt32 {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var buffer: UnsafeMutableRawPointer?
        defer { free(buffer) }
        var crc: UInt32 = 0
        var offset = range.lowerBound
        while offset < range.upperBound {
            let count = min(pieceBytes, range.upperBound - offset)
            let skew = (fileOffset + offset) % page
            if let mapping = mapPiece(fd, at: fileOffset + offset - skew, count: skew + count) {
                defer { munmap(mapping, skew + count) }
                let start = UnsafeRawPointer(mapping) + skew
                crc = graft_crc32(crc, start, count)
                try consume(offset, UnsafeRawBufferPointer(start: start, count: count))
                offset += count
                continue
            }
            if buffer == nil {
                var raw: UnsafeMutableRawPointer?
                guard posix_memalign(&raw, page, pieceBytes + page) == 0, let raw else {
                    throw GraftError(.io, "out of memory for a zip read buffer")
                }
                buffer = raw
            }
            guard let buffer else { throw GraftError(.io, "no zip read buffer") }
            let start = buffer + skew
            var done = 0
            while done < count {
                let n = pread(fd, start + done, count - done, off_t(fileOffset + offset + done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { break }
                done += n
            }
            guard done == count else {
                throw GraftError(.malformed, "zip entry is truncated or corrupt", expected: "\(count) bytes at entry offset \(offset)",
                                 found: "\(done) bytes")
            }
            crc = graft_crc32(crc, start, count)
            try consume(offset, UnsafeRawBufferPointer(start: start, count: count))
            offset += count
        }
        return crc
    }

    /// `count` bytes of the file at `offset` (a multiple of the page size) mapped read-only, or
    /// nil when the file cannot be mapped.
    private static func mapPiece(_ fd: Int32, at offset: Int, count: Int) -> UnsafeMutableRawPointer? {
        #if os(Linux)
        let flags = MAP_PRIVATE | MAP_POPULATE
        #else
        let flags = MAP_PRIVATE
        #endif
        guard let mapping = mmap(nil, count, PROT_READ, flags, fd, off_t(offset)), mapping != MAP_FAILED else { return nil }
        return mapping
    }

    /// Adds `count` bytes at `start` to the running CRC-32; at the entry's end, compares it with
    /// the central directory's.
    private func checkCRC(_ start: UnsafeMutableRawPointer, count: Int, expected: UInt32) throws {
        runningCRC = graft_crc32(runningCRC, start, count)
        if position == size, runningCRC != expected {
            throw GraftError(.malformed, "zip entry fails its CRC-32 check", file: archive.path, location: name,
                             expected: "CRC \(String(expected, radix: 16))", found: "CRC \(String(runningCRC, radix: 16))")
        }
    }
}

/// Finds where a stored entry's bytes start in the archive file, from the central directory
/// and the entry's local header (libzip does not expose this). Nil whenever anything is
/// unexpected; the caller then reads through libzip.
enum ZipCentralDirectory {
    static func dataOffset(of name: String, path: String, storedSize: Int) -> Int? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        let fileSize = Int(info.st_size)
        func bytes(_ offset: Int, _ count: Int) -> [UInt8]? {
            guard offset >= 0, count >= 0, offset + count <= fileSize else { return nil }
            var out = [UInt8](repeating: 0, count: count)
            let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            return n == count ? out : nil
        }
        func le(_ b: [UInt8], _ at: Int, _ width: Int) -> Int {
            var v = 0
            for k in stride(from: width - 1, through: 0, by: -1) { v = v << 8 | Int(b[at + k]) }
            return v
        }
        // End of central directory record: within the last 64 KiB + 22 bytes.
        let tailCount = min(fileSize, 65_557)
        guard let tail = bytes(fileSize - tailCount, tailCount), tail.count >= 22 else { return nil }
        guard let eocd = stride(from: tail.count - 22, through: 0, by: -1).first(where: {
            tail[$0] == 0x50 && tail[$0 + 1] == 0x4B && tail[$0 + 2] == 0x05 && tail[$0 + 3] == 0x06
        }) else { return nil }
        var entries = le(tail, eocd + 10, 2)
        var directorySize = le(tail, eocd + 12, 4)
        var directoryOffset = le(tail, eocd + 16, 4)
        if entries == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // Zip64: the locator sits just before the record and points at the zip64 record.
            let locatorAt = fileSize - tailCount + eocd - 20
            guard let locator = bytes(locatorAt, 20), le(locator, 0, 4) == 0x0706_4B50,
                  let record = bytes(le(locator, 8, 8), 56), le(record, 0, 4) == 0x0606_4B50 else { return nil }
            entries = le(record, 32, 8)
            directorySize = le(record, 40, 8)
            directoryOffset = le(record, 48, 8)
        }
        guard directorySize <= 1 << 30, let directory = bytes(directoryOffset, directorySize) else { return nil }
        let wanted = Array(name.utf8)
        var at = 0
        for _ in 0..<entries {
            guard at + 46 <= directory.count, le(directory, at, 4) == 0x0201_4B50 else { return nil }
            let nameLength = le(directory, at + 28, 2), extraLength = le(directory, at + 30, 2)
            let commentLength = le(directory, at + 32, 2)
            guard at + 46 + nameLength + extraLength + commentLength <= directory.count else { return nil }
            if Array(directory[(at + 46)..<(at + 46 + nameLength)]) == wanted {
                guard le(directory, at + 10, 2) == 0 else { return nil }  // stored
                var localOffset = le(directory, at + 42, 4)
                if localOffset == 0xFFFF_FFFF {
                    // The zip64 extra field lists the 64-bit values that are saturated, in order.
                    var e = at + 46 + nameLength
                    let end = e + extraLength
                    var found: Int?
                    while e + 4 <= end {
                        let id = le(directory, e, 2), length = le(directory, e + 2, 2)
                        if id == 1 {
                            var k = e + 4
                            if le(directory, at + 24, 4) == 0xFFFF_FFFF { k += 8 }
                            if le(directory, at + 20, 4) == 0xFFFF_FFFF { k += 8 }
                            if k + 8 <= e + 4 + length { found = le(directory, k, 8) }
                        }
                        e += 4 + length
                    }
                    guard let found else { return nil }
                    localOffset = found
                }
                guard let local = bytes(localOffset, 30), le(local, 0, 4) == 0x0403_4B50, le(local, 8, 2) == 0 else { return nil }
                let start = localOffset + 30 + le(local, 26, 2) + le(local, 28, 2)
                guard start + storedSize <= fileSize else { return nil }
                return start
            }
            at += 46 + nameLength + extraLength + commentLength
        }
        return nil
    }
}

/// The CRC-32s of an entry's consecutive parts handled on several threads (each part writes
/// its own slot), the next part to take, and the first failure.
final class ZipPartCRCs: @unchecked Sendable {
    let crcs: UnsafeMutableBufferPointer<UInt32>
    private let count: Int
    private var nextPart = 0
    private(set) var error: Error?
    private let lock = NSLock()

    init(_ count: Int) {
        self.count = count
        crcs = .allocate(capacity: max(count, 1))
        crcs.initialize(repeating: 0)
    }

    deinit { crcs.deallocate() }

    /// The next part, or nil when all are taken or a part failed.
    func next() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard error == nil, nextPart < count else { return nil }
        nextPart += 1
        return nextPart - 1
    }

    func fail(_ error: Error) {
        lock.lock()
        if self.error == nil { self.error = error }
        lock.unlock()
    }

    /// The CRC-32 of the bytes `crc` covers followed by every part in order, part k being
    /// `lengths[k]` bytes long (zlib's `crc32_combine`).
    func combined(after crc: UInt32, lengths: [Int]) -> UInt32 {
        var result = crc
        for (k, length) in lengths.enumerated() {
            result = UInt32(truncatingIfNeeded: crc32_combine(UInt(result), UInt(crcs[k]), off_t(length)))
        }
        return result
    }
}
