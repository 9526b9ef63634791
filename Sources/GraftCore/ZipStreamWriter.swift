import CBytes
import CZip
import Foundation

/// One entry of a zip written by `ZipWriter.write(_:to:)`.
public struct ZipEntry {
    public enum Content {
        /// Bytes held in memory.
        case bytes([UInt8])
        /// `size` bytes produced in order by `produce`, which fills the start of the buffer it
        /// is given and returns how many bytes it wrote (0 only at the end).
        case stream(size: Int, produce: (UnsafeMutableRawBufferPointer) throws -> Int)
        /// Consecutive parts that can be produced independently, in any order and concurrently.
        case parts(ZipParts)
    }
    public var name: String
    public var content: Content
    /// Deflate the entry instead of storing it.
    public var deflate: Bool

    public init(_ name: String, _ bytes: [UInt8], deflate: Bool = false) {
        self.name = name
        content = .bytes(bytes)
        self.deflate = deflate
    }

    public init(_ name: String, size: Int, deflate: Bool = false, produce: @escaping (UnsafeMutableRawBufferPointer) throws -> Int) {
        self.name = name
        content = .stream(size: size, produce: produce)
        self.deflate = deflate
    }

    public init(_ name: String, parts: ZipParts, deflate: Bool = false) {
        self.name = name
        content = .parts(parts)
        self.deflate = deflate
    }
}

/// An entry's bytes as consecutive parts: part k is `sizes[k]` bytes long and `fill(k, buffer)`
/// writes all of them at the start of `buffer` (which holds at least that many). `fill` is
/// called once per part, possibly for several parts at the same time on different threads.
public struct ZipParts: Sendable {
    public var sizes: [Int]
    public var fill: @Sendable (_ part: Int, _ buffer: UnsafeMutableRawPointer) throws -> Void

    public init(sizes: [Int], fill: @escaping @Sendable (_ part: Int, _ buffer: UnsafeMutableRawPointer) throws -> Void) {
        self.sizes = sizes
        self.fill = fill
    }

    public var size: Int { sizes.reduce(0, +) }
}

extension ZipWriter {
    /// Threads that produce, check and write the parts of a `.parts` entry.
    public static let partThreads = min(2, max(1, ProcessInfo.processInfo.activeProcessorCount))

    /// Writes a zip of `entries` (in order) to `path`, streaming each entry's bytes into the
    /// file: no entry and no archive is assembled in memory. The archive goes to a temporary
    /// file beside `path` (`.NAME.RANDOM.graft.tmp`) that is renamed into place when complete,
    /// so a failed write leaves no partial file.
    ///
    /// Graft's own writer (libzip computes CRC-32s with zlib and copies every byte through
    /// small buffers of its own): each local header is followed by the data and patched with
    /// the CRC-32 (`graft_crc32`) and sizes once known; then the central directory and the
    /// end record. Zip64 extra fields and end records are written when an entry, an offset or
    /// the entry count passes the 32/16-bit fields. A stored `.parts` entry is produced on
    /// `partThreads` threads, each part written at its own offset with `pwrite`.
    public static func write(_ entries: [ZipEntry], to path: String) throws {
        try AtomicFile.write(to: path) { temp in
            let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            guard fd >= 0 else {
                throw GraftError(.io, "cannot create the zip archive: \(String(cString: strerror(errno)))", file: path)
            }
            var isOpen = true
            do {
                let file = ZipOutputFile(fd: fd)
                var directory: [ZipCentralRecord] = []
                for entry in entries {
                    do {
                        directory.append(try file.add(entry))
                    } catch var error as GraftError {
                        if error.location == nil { error.location = entry.name }
                        throw error
                    }
                }
                try file.finish(directory)
                isOpen = false
                guard close(fd) == 0 else { throw GraftError(.io, "cannot finish the zip archive: \(String(cString: strerror(errno)))") }
            } catch {
                if isOpen { close(fd) }
                if let failure = error as? GraftError { throw failure.inFile(path) }
                throw GraftError(.io, "cannot write the zip archive: \(error)", file: path)
            }
        }
    }
}

/// What the central directory says about one written entry.
struct ZipCentralRecord {
    var name: [UInt8]
    var method: UInt16
    var crc: UInt32
    var compressedSize: Int
    var size: Int
    var headerOffset: Int
    var time: UInt16
    var date: UInt16
}

/// The archive file being written: a small buffer for headers and short entries in front of
/// direct `pwrite`s for large data.
final class ZipOutputFile {
    let fd: Int32
    /// Where the next byte goes (the buffered bytes included).
    private(set) var offset = 0
    private var pending: [UInt8] = []
    private static let bufferBytes = 1 << 20
    private static let chunkBytes = 4 << 20
    private let time: UInt16
    private let date: UInt16

    init(fd: Int32) {
        self.fd = fd
        pending.reserveCapacity(Self.bufferBytes)
        // MS-DOS date and time (local time), as zip tools show it.
        var now = Foundation.time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        let year = max(0, Int(parts.tm_year) + 1900 - 1980)
        time = UInt16(truncatingIfNeeded: Int(parts.tm_hour) << 11 | Int(parts.tm_min) << 5 | Int(parts.tm_sec) / 2)
        date = UInt16(truncatingIfNeeded: min(year, 127) << 9 | Int(parts.tm_mon + 1) << 5 | Int(parts.tm_mday))
    }

    // MARK: Writing

    /// Writes all of `count` bytes at file offset `at`.
    static func pwriteFully(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int, at: Int) throws {
        var done = 0
        while done < count {
            let n = pwrite(fd, bytes + done, count - done, off_t(at + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw GraftError(.io, "cannot write the zip archive: \(n < 0 ? String(cString: strerror(errno)) : "no progress")")
            }
            done += n
        }
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if pending.count + bytes.count > Self.bufferBytes { try flush() }
        if bytes.count >= Self.bufferBytes {
            try Self.pwriteFully(fd, base, bytes.count, at: offset)
        } else {
            pending.append(contentsOf: bytes)
        }
        offset += bytes.count
    }

    func append(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try append($0) } }

    func flush() throws {
        guard !pending.isEmpty else { return }
        let start = offset - pending.count
        try pending.withUnsafeBytes { try Self.pwriteFully(fd, $0.baseAddress!, $0.count, at: start) }
        pending.removeAll(keepingCapacity: true)
    }

    /// Overwrites bytes already written (flushed) at `at`.
    func patch(_ bytes: [UInt8], at: Int) throws {
        try flush()
        try bytes.withUnsafeBytes { try Self.pwriteFully(fd, $0.baseAddress!, $0.count, at: at) }
    }

    // MARK: Entries

    private static let limit32 = 0xFFFF_FFFF

    /// Writes one entry (local header, data) and returns its central directory record.
    func add(_ entry: ZipEntry) throws -> ZipCentralRecord {
        let name = Array(entry.name.utf8)
        guard name.count <= 0xFFFF else {
            throw GraftError(.invalidArgument, "zip entry name too long", expected: "at most 65535 bytes", found: "\(name.count) bytes")
        }
        var record = ZipCentralRecord(name: name, method: entry.deflate ? 8 : 0, crc: 0, compressedSize: 0, size: 0,
                                      headerOffset: offset, time: time, date: date)
        switch entry.content {
        case .bytes(let bytes):
            // Everything is known before the header: no patch.
            record.size = bytes.count
            record.crc = bytes.withUnsafeBytes { graft_crc32(0, $0.baseAddress, $0.count) }
            let data = entry.deflate ? try ZipDeflater.deflateAll(bytes) : bytes
            record.compressedSize = data.count
            try append(localHeader(record, zip64: record.size >= Self.limit32 || record.compressedSize >= Self.limit32))
            try append(data)
        case .stream(let size, let produce):
            record.size = size
            let zip64 = needsZip64(size: size, deflate: entry.deflate)
            try append(localHeader(record, zip64: zip64))
            try flush()
            let dataStart = offset
            var produced = 0
            let deflater = entry.deflate ? try ZipDeflater() : nil
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.chunkBytes, alignment: 4096)
            defer { buffer.deallocate() }
            var crc: UInt32 = 0
            while produced < size {
                let want = min(Self.chunkBytes, size - produced)
                var done = 0
                while done < want {
                    let n = try produce(UnsafeMutableRawBufferPointer(start: buffer + done, count: want - done))
                    guard n > 0 else {
                        throw GraftError(.io, "zip entry content ended early", expected: "\(size) bytes", found: "\(produced + done) bytes")
                    }
                    done += n
                }
                crc = graft_crc32(crc, buffer, want)
                try writeData(UnsafeRawBufferPointer(start: buffer, count: want), deflater)
                produced += want
            }
            record.crc = crc
            try finishData(deflater)
            record.compressedSize = offset - dataStart
            try patchSizes(record, zip64: zip64)
        case .parts(let parts):
            let size = parts.size
            record.size = size
            let zip64 = needsZip64(size: size, deflate: entry.deflate)
            try append(localHeader(record, zip64: zip64))
            try flush()
            let dataStart = offset
            if entry.deflate {
                let deflater = try ZipDeflater()
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(parts.sizes.max() ?? 1, 1), alignment: 4096)
                defer { buffer.deallocate() }
                var crc: UInt32 = 0
                for (k, count) in parts.sizes.enumerated() where count > 0 {
                    try parts.fill(k, buffer)
                    crc = graft_crc32(crc, buffer, count)
                    try writeData(UnsafeRawBufferPointer(start: buffer, count: count), deflater)
                }
                record.crc = crc
                try finishData(deflater)
            } else {
                record.crc = try ZipPartsWriter.write(parts, fd: fd, at: dataStart, threads: ZipWriter.partThreads)
                offset += size
            }
            record.compressedSize = offset - dataStart
            try patchSizes(record, zip64: zip64)
        }
        return record
    }

    /// Whether an entry of `size` bytes may pass the 32-bit size fields (deflate can expand a
    /// little: zlib's bound).
    private func needsZip64(size: Int, deflate: Bool) -> Bool {
        let largest = deflate ? Int(deflateBound(nil, UInt(size))) : size
        return size >= Self.limit32 || largest >= Self.limit32
    }

    /// Data bytes of a `.stream`/`.parts` entry: stored as they are or fed to the deflater.
    private func writeData(_ bytes: UnsafeRawBufferPointer, _ deflater: ZipDeflater?) throws {
        if let deflater {
            try deflater.deflate(bytes, finish: false) { try append($0) }
        } else {
            try append(bytes)
        }
    }

    /// Ends the data of an entry (the deflate stream's last bytes) and writes out the buffer.
    private func finishData(_ deflater: ZipDeflater?) throws {
        if let deflater { try deflater.deflate(UnsafeRawBufferPointer(start: nil, count: 0), finish: true) { try append($0) } }
        try flush()
    }

    /// The local file header; with `zip64`, its sizes are 0xFFFFFFFF and a zip64 extra field
    /// (id 1) holds them.
    private func localHeader(_ r: ZipCentralRecord, zip64: Bool) -> [UInt8] {
        var h = ZipBytes()
        h.u32(0x0403_4B50)
        h.u16(zip64 ? 45 : 20)
        h.u16(flags(r.name))
        h.u16(r.method)
        h.u16(r.time)
        h.u16(r.date)
        h.u32(r.crc)
        h.u32(zip64 ? UInt32(Self.limit32) : UInt32(r.compressedSize))
        h.u32(zip64 ? UInt32(Self.limit32) : UInt32(r.size))
        h.u16(UInt16(r.name.count))
        h.u16(zip64 ? 20 : 0)
        h.bytes += r.name
        if zip64 {
            h.u16(1)
            h.u16(16)
            h.u64(r.size)
            h.u64(r.compressedSize)
        }
        return h.bytes
    }

    /// Writes the CRC-32 and sizes into a local header written before its data.
    private func patchSizes(_ r: ZipCentralRecord, zip64: Bool) throws {
        if !zip64 {
            guard r.compressedSize < Self.limit32, r.size < Self.limit32 else {
                throw GraftError(.io, "zip entry outgrew the sizes its local header allows", expected: "less than 4 GiB",
                                 found: "\(r.compressedSize) bytes")
            }
        }
        var fields = ZipBytes()
        fields.u32(r.crc)
        fields.u32(zip64 ? UInt32(Self.limit32) : UInt32(r.compressedSize))
        fields.u32(zip64 ? UInt32(Self.limit32) : UInt32(r.size))
        try patch(fields.bytes, at: r.headerOffset + 14)
        if zip64 {
            var sizes = ZipBytes()
            sizes.u64(r.size)
            sizes.u64(r.compressedSize)
            try patch(sizes.bytes, at: r.headerOffset + 30 + r.name.count + 4)
        }
    }

    /// General purpose flags: bit 11 when the name is not plain ASCII (it is UTF-8).
    private func flags(_ name: [UInt8]) -> UInt16 { name.allSatisfy { $0 < 0x80 } ? 0 : 0x0800 }

    // MARK: Central directory

    /// The central directory, then (when needed) the zip64 end record and locator, then the end record.
    func finish(_ records: [ZipCentralRecord]) throws {
        let directoryStart = offset
        for r in records {
            var zip64Fields = ZipBytes()
            if r.size >= Self.limit32 { zip64Fields.u64(r.size) }
            if r.compressedSize >= Self.limit32 { zip64Fields.u64(r.compressedSize) }
            if r.headerOffset >= Self.limit32 { zip64Fields.u64(r.headerOffset) }
            let zip64 = !zip64Fields.bytes.isEmpty
            var h = ZipBytes()
            h.u32(0x0201_4B50)
            h.u16(3 << 8 | (zip64 ? 45 : 20))  // made by: Unix
            h.u16(zip64 ? 45 : 20)
            h.u16(flags(r.name))
            h.u16(r.method)
            h.u16(r.time)
            h.u16(r.date)
            h.u32(r.crc)
            h.u32(UInt32(min(r.compressedSize, Self.limit32)))
            h.u32(UInt32(min(r.size, Self.limit32)))
            h.u16(UInt16(r.name.count))
            h.u16(zip64 ? UInt16(4 + zip64Fields.bytes.count) : 0)
            h.u16(0)  // comment
            h.u16(0)  // disk
            h.u16(0)  // internal attributes
            h.u32(UInt32(0o100644) << 16)  // external attributes: a regular file, rw-r--r--
            h.u32(UInt32(min(r.headerOffset, Self.limit32)))
            h.bytes += r.name
            if zip64 {
                h.u16(1)
                h.u16(UInt16(zip64Fields.bytes.count))
                h.bytes += zip64Fields.bytes
            }
            try append(h.bytes)
        }
        let directorySize = offset - directoryStart
        let zip64 = records.count >= 0xFFFF || directorySize >= Self.limit32 || directoryStart >= Self.limit32
        var end = ZipBytes()
        if zip64 {
            let recordStart = offset
            end.u32(0x0606_4B50)
            end.u64(44)  // the record's size after this field
            end.u16(3 << 8 | 45)
            end.u16(45)
            end.u32(0)
            end.u32(0)
            end.u64(records.count)
            end.u64(records.count)
            end.u64(directorySize)
            end.u64(directoryStart)
            end.u32(0x0706_4B50)  // locator
            end.u32(0)
            end.u64(recordStart)
            end.u32(1)
        }
        end.u32(0x0605_4B50)
        end.u16(0)
        end.u16(0)
        end.u16(UInt16(min(records.count, 0xFFFF)))
        end.u16(UInt16(min(records.count, 0xFFFF)))
        end.u32(UInt32(min(directorySize, Self.limit32)))
        end.u32(UInt32(min(directoryStart, Self.limit32)))
        end.u16(0)  // comment
        try append(end.bytes)
        try flush()
    }
}

/// Little-endian fields appended to a byte array.
struct ZipBytes {
    var bytes: [UInt8] = []
    mutating func u16(_ v: UInt16) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
    mutating func u32(_ v: UInt32) { for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
    mutating func u64(_ v: Int) { for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: UInt64(v) >> (8 * k))) } }
}

/// Raw deflate (no zlib header: zip's method 8) through zlib.
final class ZipDeflater {
    private var stream = z_stream()
    private let output: UnsafeMutablePointer<UInt8>
    private static let outputBytes = 1 << 20

    init() throws {
        output = .allocate(capacity: Self.outputBytes)
        let status = deflateInit2_(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY,
                                   ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            output.deallocate()
            throw GraftError(.io, "cannot start deflate (zlib error \(status))")
        }
    }

    deinit {
        deflateEnd(&stream)
        output.deallocate()
    }

    /// Compresses `input` (and with `finish`, ends the stream), handing each full output
    /// buffer to `emit`.
    func deflate(_ input: UnsafeRawBufferPointer, finish: Bool, emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        var remaining = input.count
        var next = input.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: UInt8.self)) }
        repeat {
            // zlib counts in 32 bits: feed at most 1 GiB at a time.
            let feed = min(remaining, 1 << 30)
            stream.next_in = next
            stream.avail_in = UInt32(feed)
            repeat {
                stream.next_out = output
                stream.avail_out = UInt32(Self.outputBytes)
                let last = finish && feed == remaining
                let status = CZip.deflate(&stream, last ? Z_FINISH : Z_NO_FLUSH)
                guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                    throw GraftError(.io, "deflate failed (zlib error \(status))")
                }
                let produced = Self.outputBytes - Int(stream.avail_out)
                if produced > 0 { try emit(UnsafeRawBufferPointer(start: output, count: produced)) }
                if last && status == Z_STREAM_END { return }
                if !last && stream.avail_in == 0 && stream.avail_out > 0 { break }
            } while true
            next = next.map { $0 + feed }
            remaining -= feed
        } while remaining > 0
    }

    /// The raw deflate stream of `bytes`.
    static func deflateAll(_ bytes: [UInt8]) throws -> [UInt8] {
        let deflater = try ZipDeflater()
        var out: [UInt8] = []
        try bytes.withUnsafeBytes { input in
            try deflater.deflate(input, finish: true) { out.append(contentsOf: $0) }
        }
        return out
    }
}

/// A stored `.parts` entry written by several threads: each takes the next part, fills its
/// own buffer, takes the part's CRC-32 and `pwrite`s it at the part's offset. The CRC-32s are
/// combined in order at the end (zlib's `crc32_combine`).
enum ZipPartsWriter {
    static func write(_ parts: ZipParts, fd: Int32, at start: Int, threads: Int) throws -> UInt32 {
        let count = parts.sizes.count
        var offsets = [Int](repeating: 0, count: count + 1)
        for k in 0..<count { offsets[k + 1] = offsets[k] + parts.sizes[k] }
        let state = ZipPartCRCs(count)
        let largest = max(parts.sizes.max() ?? 1, 1)
        let workers = min(max(threads, 1), max(count, 1))
        let partOffsets = offsets
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: largest, alignment: 4096)
            defer { buffer.deallocate() }
            while let k = state.next() {
                do {
                    let size = parts.sizes[k]
                    try parts.fill(k, buffer)
                    state.crcs[k] = graft_crc32(0, buffer, size)
                    try ZipOutputFile.pwriteFully(fd, buffer, size, at: start + partOffsets[k])
                } catch {
                    state.fail(error)
                }
            }
        }
        if let error = state.error { throw error }
        return state.combined(after: 0, lengths: parts.sizes)
    }
}
