import CZip
import Foundation
import GraftCore

extension TemporaryFile {
    /// Streams one zip entry into a new private temporary file in 1 MiB pieces, so that
    /// extracting `model.weights.h5` never holds the whole entry in memory. Fails when the
    /// entry is missing, larger than `maxBytes`, or shorter than it declares.
    convenience init(zipPath: String, entry: String, suffix: String, maxBytes: UInt64 = 16 << 30) throws {
        var err: Int32 = 0
        guard let archive = zip_open(zipPath, ZIP_RDONLY, &err) else {
            throw GraftError(.malformed, "not a readable zip archive (libzip error \(err))", file: zipPath)
        }
        defer { zip_discard(archive) }
        var st = zip_stat_t()
        zip_stat_init(&st)
        guard zip_stat(archive, entry, 0, &st) == 0 else {
            throw GraftError(.missingWeights, "zip entry not found", file: zipPath, location: entry)
        }
        guard st.size <= maxBytes else {
            throw GraftError(.malformed, "zip entry too large", file: zipPath, location: entry,
                             expected: "at most \(maxBytes) bytes", found: "\(st.size) bytes")
        }
        guard let source = zip_fopen(archive, entry, 0) else {
            throw GraftError(.malformed, "cannot open zip entry", file: zipPath, location: entry)
        }
        defer { zip_fclose(source) }
        try self.init(bytes: [], suffix: suffix)
        guard let sink = FileHandle(forWritingAtPath: path) else {
            throw GraftError(.io, "cannot write a temporary file", file: path)
        }
        defer { try? sink.close() }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var done: UInt64 = 0
        while done < st.size {
            let want = Int(min(UInt64(buffer.count), st.size - done))
            let n = buffer.withUnsafeMutableBytes { zip_fread(source, $0.baseAddress, zip_uint64_t(want)) }
            guard n > 0 else {
                throw GraftError(.malformed, "zip entry is truncated or corrupt", file: zipPath, location: entry,
                                 expected: "\(st.size) bytes", found: "\(done) bytes")
            }
            try sink.write(contentsOf: buffer[0..<Int(n)])
            done += UInt64(n)
        }
    }
}
