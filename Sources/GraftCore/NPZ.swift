import CZip
import Foundation
import OrderedCollections

/// NumPy `.npz` archives: a zip of `.npy` files. Keys are the entry names without `.npy`.
public enum NPZ {
    public static func read(path: String) throws -> OrderedDictionary<String, Tensor> {
        let archive = try ZipArchive(path: path)
        var out = OrderedDictionary<String, Tensor>()
        for name in archive.entryNames where name.hasSuffix(".npy") {
            do {
                out[String(name.dropLast(4))] = try NPY.decode(try archive.read(name))
            } catch let e as GraftError {
                throw e.at("entry \(name)").inFile(path)
            }
        }
        return out
    }

    /// Writes the arrays as stored (uncompressed) entries `<key>.npy`.
    public static func write(_ arrays: OrderedDictionary<String, Tensor>, to path: String) throws {
        var entries: [(String, [UInt8])] = []
        for (key, tensor) in arrays { entries.append((key + ".npy", NPY.encode(tensor))) }
        try AtomicFile.write(Data(try ZipWriter.archive(entries)), to: path)
    }
}

/// Builds zip archives in memory through libzip.
public enum ZipWriter {
    /// A zip holding `entries` (name, bytes) in order, stored without compression unless `deflate`.
    public static func archive(_ entries: [(String, [UInt8])], deflate: Bool = false) throws -> [UInt8] {
        var zerr = zip_error_t()
        zip_error_init(&zerr)
        guard let source = zip_source_buffer_create(nil, 0, 0, &zerr) else {
            throw GraftError(.io, "cannot create an in-memory zip")
        }
        zip_source_keep(source)
        defer { zip_source_free(source) }
        guard let archive = zip_open_from_source(source, ZIP_TRUNCATE, &zerr) else {
            throw GraftError(.io, "cannot create an in-memory zip")
        }
        // libzip copies nothing until zip_close, so keep every buffer alive until then.
        var buffers: [UnsafeMutableRawPointer] = []
        defer { for b in buffers { b.deallocate() } }
        for (name, bytes) in entries {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
            buffers.append(buffer)
            bytes.withUnsafeBytes { if let base = $0.baseAddress { buffer.copyMemory(from: base, byteCount: bytes.count) } }
            guard let entrySource = zip_source_buffer(archive, buffer, zip_uint64_t(bytes.count), 0) else {
                zip_discard(archive)
                throw GraftError(.io, "cannot add zip entry", location: name)
            }
            let index = zip_file_add(archive, name, entrySource, zip_flags_t(ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE))
            guard index >= 0 else {
                zip_source_free(entrySource)
                zip_discard(archive)
                throw GraftError(.io, "cannot add zip entry", location: name)
            }
            zip_set_file_compression(archive, zip_uint64_t(index), deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0)
        }
        guard zip_close(archive) == 0 else { throw GraftError(.io, "cannot finish zip archive") }
        guard zip_source_open(source) == 0 else { throw GraftError(.io, "cannot read back zip archive") }
        defer { zip_source_close(source) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { zip_source_read(source, $0.baseAddress, zip_uint64_t($0.count)) }
            if n <= 0 { break }
            out += chunk[0..<Int(n)]
        }
        return out
    }
}
