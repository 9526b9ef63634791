import CZip
import Foundation

/// Read access to a zip archive through libzip, with the checks model files from the
/// internet need: entry names with absolute paths or `..` are refused, and an entry is only
/// read when its declared size is within `maxEntryBytes`.
public final class ZipArchive {
    public let path: String
    let handle: OpaquePointer

    /// The names of all entries, in archive order.
    public let entryNames: [String]

    /// Refuse entries larger than this when reading (4 GiB by default).
    public var maxEntryBytes: UInt64 = 4 << 30

    public init(path: String) throws {
        self.path = path
        var err: Int32 = 0
        guard let h = zip_open(path, ZIP_RDONLY, &err) else {
            throw GraftError(.malformed, "not a readable zip archive", file: path, field: "zip structure",
                             expected: "a zip archive with a central directory", found: "libzip error \(err)")
        }
        handle = h
        let count = zip_get_num_entries(h, 0)
        var names: [String] = []
        names.reserveCapacity(Int(max(count, 0)))
        for i in 0..<max(count, 0) {
            guard let cName = zip_get_name(h, zip_uint64_t(i), 0) else { continue }
            names.append(String(cString: cName))
        }
        entryNames = names
        // The object is fully initialised here, so `deinit` closes the handle when this throws
        // (closing it here as well was a double free).
        for name in names where name.hasPrefix("/") || name.split(separator: "/").contains("..") {
            throw GraftError(.malformed, "zip entry with an unsafe path", file: path, location: name,
                             expected: "a relative path without '..'", found: name)
        }
    }

    deinit { zip_discard(handle) }

    public func contains(_ name: String) -> Bool { entryNames.contains(name) }

    /// Refuse entries that expand more than this many times over their compressed size…
    public var maxCompressionRatio: UInt64 = 1000
    /// …when they also expand to more than this many bytes (100 MB by default).
    public var compressionRatioFloorBytes: UInt64 = 100 << 20

    /// The uncompressed size the archive declares for an entry.
    public func declaredSize(of name: String) throws -> UInt64 {
        try stat(name).size
    }

    /// What the archive declares about an entry (sizes, compression method).
    func stat(_ name: String) throws -> zip_stat_t {
        var st = zip_stat_t()
        zip_stat_init(&st)
        guard zip_stat(handle, name, 0, &st) == 0 else {
            throw GraftError(.missingWeights, "zip entry not found", file: path, location: name)
        }
        return st
    }

    /// The whole uncompressed content of an entry. Fails when the entry is missing, larger
    /// than `maxEntryBytes`, expands suspiciously (a zip bomb: more than `maxCompressionRatio`
    /// times its compressed size and more than `compressionRatioFloorBytes`), or is shorter
    /// than it declares. Memory grows with the bytes actually inflated, never with the
    /// declared size alone. A stored (uncompressed) entry must declare its stored size.
    public func read(_ name: String) throws -> [UInt8] {
        let st = try checkedStat(name)
        guard let file = zip_fopen(handle, name, 0) else {
            throw GraftError(.malformed, "cannot open zip entry", file: path, location: name)
        }
        defer { zip_fclose(file) }
        let total = Int(st.size)
        // Inflated straight into the array; it only grows with the bytes actually produced.
        var bytes: [UInt8] = []
        var filled = 0
        while filled < total {
            let want = min(total - filled, 1 << 24)
            bytes.reserveCapacity(filled + want)
            bytes.append(contentsOf: repeatElement(0, count: want))
            let got = bytes.withUnsafeMutableBytes { buf in
                Self.readFully(file, into: buf.baseAddress! + filled, count: want)
            }
            guard got == want else {
                throw GraftError(.malformed, "zip entry is truncated or corrupt", file: path, location: name,
                                 expected: "\(total) bytes", found: "\(filled + max(got, 0)) bytes")
            }
            filled += want
        }
        return bytes
    }

    /// Reads until `count` bytes arrived or the entry ends or fails; the number read, or -1.
    static func readFully(_ file: OpaquePointer, into buffer: UnsafeMutableRawPointer, count: Int) -> Int {
        var done = 0
        while done < count {
            let n = zip_fread(file, buffer + done, zip_uint64_t(count - done))
            if n < 0 { return -1 }
            if n == 0 { break }
            done += Int(n)
        }
        return done
    }

    /// The entry's stat after the checks `read` makes before reading anything: declared size
    /// within `maxEntryBytes`, a stored entry's sizes agreeing, no zip-bomb ratio.
    func checkedStat(_ name: String) throws -> zip_stat_t {
        let st = try stat(name)
        let size = st.size, compressed = st.comp_size
        guard size <= maxEntryBytes else {
            throw GraftError(.malformed, "zip entry too large", file: path, location: name,
                             expected: "at most \(maxEntryBytes) bytes", found: "\(size) bytes")
        }
        if st.valid & UInt64(ZIP_STAT_COMP_METHOD | ZIP_STAT_COMP_SIZE) == UInt64(ZIP_STAT_COMP_METHOD | ZIP_STAT_COMP_SIZE),
           st.comp_method == Int32(ZIP_CM_STORE), st.comp_size != size {
            throw GraftError(.malformed, "stored zip entry declares a size other than its stored size", file: path,
                             location: name, expected: "\(st.comp_size) bytes", found: "\(size) bytes")
        }
        if size > compressionRatioFloorBytes && size / max(compressed, 1) > maxCompressionRatio {
            throw GraftError(.malformed, "zip entry has a suspicious compression ratio (zip bomb?)", file: path,
                             location: name, field: "uncompressed size",
                             expected: "at most \(maxCompressionRatio)× the compressed \(compressed) bytes",
                             found: "\(size) bytes")
        }
        return st
    }

    /// True when the file at `path` starts with a zip signature.
    public static func looksLikeZip(path: String) -> Bool {
        guard let fh = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? fh.close() }
        let head = (try? fh.read(upToCount: 4)) ?? Data()
        return head.count == 4 && head[head.startIndex] == 0x50 && head[head.startIndex + 1] == 0x4B
            && head[head.startIndex + 2] == 0x03 && head[head.startIndex + 3] == 0x04
    }
}
