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
}

extension ZipWriter {
    /// Writes a zip of `entries` (in order) to `path` through libzip, streaming each entry's
    /// bytes into the file: no entry and no archive is assembled in memory. libzip writes a
    /// temporary file beside `path` and renames it into place when complete, so a failed
    /// write leaves no partial file.
    public static func write(_ entries: [ZipEntry], to path: String) throws {
        var zerr: Int32 = 0
        guard let archive = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr) else {
            throw GraftError(.io, "cannot create zip archive (libzip error \(zerr))", file: path)
        }
        var contexts: [ZipStreamSource] = []
        var buffers: [UnsafeMutableRawPointer] = []
        defer { for b in buffers { b.deallocate() } }
        func fail(_ message: String, _ name: String?) -> GraftError {
            let detail = zip_error_strerror(zip_get_error(archive)).map { String(cString: $0) } ?? ""
            zip_discard(archive)
            return GraftError(.io, "\(message): \(detail)", file: path, location: name)
        }
        for entry in entries {
            let source: OpaquePointer?
            switch entry.content {
            case .bytes(let bytes):
                // libzip reads the buffer only in zip_close, so it must live until then.
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
                buffers.append(buffer)
                bytes.withUnsafeBytes { if let base = $0.baseAddress { buffer.copyMemory(from: base, byteCount: bytes.count) } }
                source = zip_source_buffer(archive, buffer, zip_uint64_t(bytes.count), 0)
            case .stream(let size, let produce):
                let context = ZipStreamSource(size: size, produce: produce)
                contexts.append(context)
                source = zip_source_function(archive, zipStreamCallback, Unmanaged.passUnretained(context).toOpaque())
            }
            guard let source else { throw fail("cannot add zip entry", entry.name) }
            let index = zip_file_add(archive, entry.name, source, zip_flags_t(ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE))
            guard index >= 0 else {
                zip_source_free(source)
                throw fail("cannot add zip entry", entry.name)
            }
            zip_set_file_compression(archive, zip_uint64_t(index), entry.deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0)
        }
        guard zip_close(archive) == 0 else {
            if let error = contexts.lazy.compactMap(\.error).first {
                zip_discard(archive)
                throw error
            }
            throw fail("cannot write zip archive", nil)
        }
        if let error = contexts.lazy.compactMap(\.error).first { throw error }
    }
}

/// The state behind a `zip_source_function` entry (kept alive by `ZipWriter.write`).
final class ZipStreamSource {
    let size: Int
    let produce: (UnsafeMutableRawBufferPointer) throws -> Int
    var produced = 0
    var opened = false
    var error: Error?
    init(size: Int, produce: @escaping (UnsafeMutableRawBufferPointer) throws -> Int) {
        self.size = size
        self.produce = produce
    }
}

/// libzip's callback for a streamed entry: it is opened once, read to its end, closed.
private let zipStreamCallback: zip_source_callback = { userdata, data, length, command in
    guard let userdata else { return -1 }
    let source = Unmanaged<ZipStreamSource>.fromOpaque(userdata).takeUnretainedValue()
    switch command {
    case ZIP_SOURCE_OPEN:
        // A second pass would need the bytes again; the producers are one-shot.
        if source.opened { source.error = GraftError(.io, "zip entry source opened twice"); return -1 }
        source.opened = true
        return 0
    case ZIP_SOURCE_READ:
        guard let data else { return -1 }
        let want = min(Int(length), source.size - source.produced)
        if want == 0 { return 0 }
        do {
            var done = 0
            while done < want {
                let n = try source.produce(UnsafeMutableRawBufferPointer(start: data + done, count: want - done))
                guard n > 0 else { throw GraftError(.io, "zip entry content ended early", expected: "\(source.size) bytes",
                                                    found: "\(source.produced + done) bytes") }
                done += n
            }
            source.produced += done
            return zip_int64_t(done)
        } catch {
            source.error = error
            return -1
        }
    case ZIP_SOURCE_CLOSE, ZIP_SOURCE_FREE:
        return 0
    case ZIP_SOURCE_STAT:
        guard let data, Int(length) >= MemoryLayout<zip_stat_t>.size else { return -1 }
        let st = data.assumingMemoryBound(to: zip_stat_t.self)
        zip_stat_init(st)
        st.pointee.size = zip_uint64_t(source.size)
        st.pointee.valid |= zip_uint64_t(ZIP_STAT_SIZE)
        return zip_int64_t(MemoryLayout<zip_stat_t>.size)
    case ZIP_SOURCE_ERROR:
        guard let data, Int(length) >= 2 * MemoryLayout<Int32>.size else { return -1 }
        let codes = data.assumingMemoryBound(to: Int32.self)
        codes[0] = ZIP_ER_INTERNAL
        codes[1] = 0
        return zip_int64_t(2 * MemoryLayout<Int32>.size)
    case ZIP_SOURCE_SUPPORTS:
        let commands = [ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR,
                        ZIP_SOURCE_FREE, ZIP_SOURCE_SUPPORTS]
        return commands.reduce(zip_int64_t(0)) { $0 | (zip_int64_t(1) << zip_int64_t($1.rawValue)) }
    default:
        return -1
    }
}
