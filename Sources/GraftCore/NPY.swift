import Foundation
#if canImport(Glibc)
import Glibc
private let posixRead = Glibc.read
#elseif canImport(Darwin)
import Darwin
private let posixRead = Darwin.read
#endif

/// NumPy `.npy` arrays: the CLI's array format. Reads header versions 1.0–3.0, C and
/// Fortran order, little- and big-endian data, for every `DType`; writes version 1.0
/// (2.0 when the header needs it), C order, little-endian.
public enum NPY {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    /// Reads a `.npy` file: the header first, then the data straight into the tensor's
    /// storage (one copy of the array in memory), after checking the file holds exactly
    /// the bytes the header's shape and dtype need.
    public static func read(path: String) throws -> Tensor {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw GraftError(.io, "cannot open file", file: path)
        }
        defer { try? handle.close() }
        do {
            let fileSize = Int(try handle.seekToEnd())
            try handle.seek(toOffset: 0)
            let prefix = try readExactly(handle, min(fileSize, 12))
            let (headerStart, headerLength) = try headerBounds(prefix, available: fileSize)
            try handle.seek(toOffset: 0)
            let head = try readExactly(handle, headerStart + headerLength)
            let header = try parseWholeHeader(head, headerStart: headerStart, headerLength: headerLength)
            let dataBytes = fileSize - header.dataStart
            guard dataBytes == header.byteCount else { throw header.sizeMismatch(found: dataBytes) }
            let storage = TensorStorage(byteCount: header.byteCount)
            var done = 0
            while done < header.byteCount {
                let n = posixRead(handle.fileDescriptor, storage.pointer.advanced(by: done), header.byteCount - done)
                guard n > 0 else {
                    throw GraftError(.io, "file ended early", expected: "\(header.byteCount) data bytes", found: "\(done)")
                }
                done += n
            }
            return try header.finish(try Tensor(shape: header.storedShape, dtype: header.dtype, storage: storage))
        } catch {
            throw error.graftError(file: path)
        }
    }

    /// Decodes the bytes of a whole `.npy` file.
    public static func decode(_ bytes: [UInt8]) throws -> Tensor {
        let (headerStart, headerLength) = try headerBounds(bytes, available: bytes.count)
        let header = try parseWholeHeader(bytes, headerStart: headerStart, headerLength: headerLength)
        guard bytes.count - header.dataStart == header.byteCount else {
            throw header.sizeMismatch(found: bytes.count - header.dataStart)
        }
        let tensor = try bytes.withUnsafeBytes { raw in
            try Tensor(shape: header.storedShape, dtype: header.dtype,
                       bytes: UnsafeRawBufferPointer(rebasing: raw[header.dataStart..<bytes.count]))
        }
        return try header.finish(tensor)
    }

    /// What a `.npy` header says.
    struct Header {
        let descr: String
        let dtype: DType
        let bigEndian: Bool
        let fortran: Bool
        let shape: [Int]
        let byteCount: Int
        let dataStart: Int

        /// The shape of the data as stored: reversed for Fortran order.
        var storedShape: [Int] { fortran ? Array(shape.reversed()) : shape }

        func sizeMismatch(found: Int) -> GraftError {
            GraftError(.shapeMismatch, "data size does not match the header's shape", field: "data",
                       expected: "\(byteCount) bytes for \(shape) \(descr)", found: "\(found) bytes")
        }

        /// Native byte order and C order.
        func finish(_ stored: Tensor) throws -> Tensor {
            var tensor = stored
            if bigEndian && dtype.size > 1 { tensor = NPY.byteSwapped(tensor) }
            if fortran && shape.count > 1 { tensor = try tensor.transposed(Array((0..<shape.count).reversed())) }
            return tensor
        }
    }

    /// Where the header dict starts and how long it is, from the first 10 (version 1) or
    /// 12 (versions 2 and 3) bytes; `available` is the size of the whole file.
    static func headerBounds(_ bytes: [UInt8], available: Int) throws -> (start: Int, length: Int) {
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw GraftError(.malformed, "not a .npy array", field: "magic", expected: "\\x93NUMPY",
                             found: bytes.prefix(6).map { String(format: "%02x", $0) }.joined(separator: " "))
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw GraftError(.malformed, "truncated .npy header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw GraftError(.unsupported, "unknown .npy version", field: "version", expected: "1, 2 or 3", found: "\(major)")
        }
        guard headerStart + headerLength <= available else {
            throw GraftError(.malformed, "truncated .npy header", field: "header", expected: "\(headerLength) header bytes",
                             found: "\(available - headerStart)")
        }
        return (headerStart, headerLength)
    }

    /// Parses the header dict; `bytes` holds at least the prefix and the dict.
    static func parseWholeHeader(_ bytes: [UInt8], headerStart: Int, headerLength: Int) throws -> Header {
        let text = String(decoding: bytes[headerStart..<headerStart + headerLength], as: UTF8.self)
        let (descr, fortran, shape) = try parseHeader(text)
        let (dtype, bigEndian) = try parseDescr(descr)
        let byteCount = try Tensor.checkedByteCount(shape: shape, dtype: dtype)
        return Header(descr: descr, dtype: dtype, bigEndian: bigEndian, fortran: fortran, shape: shape,
                      byteCount: byteCount, dataStart: headerStart + headerLength)
    }

    static func readExactly(_ handle: FileHandle, _ count: Int) throws -> [UInt8] {
        let data = try handle.read(upToCount: count) ?? Data()
        return [UInt8](data)
    }

    /// The `.npy` bytes of a tensor.
    public static func encode(_ tensor: Tensor) -> [UInt8] {
        let shapeText: String
        switch tensor.shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(tensor.shape[0]),)"
        default: shapeText = "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        }
        var header = "{'descr': '\(descr(for: tensor.dtype))', 'fortran_order': False, 'shape': \(shapeText), }"
        // Pad with spaces so that the data starts on a 64-byte boundary; end with a newline.
        var version: UInt8 = 1
        var prefix = 10
        if header.utf8.count + 1 + prefix > 65535 { version = 2; prefix = 12 }
        let total = prefix + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var out = magic + [version, 0]
        let n = header.utf8.count
        if version == 1 {
            out += [UInt8(n & 0xFF), UInt8(n >> 8)]
        } else {
            out += [UInt8(n & 0xFF), UInt8((n >> 8) & 0xFF), UInt8((n >> 16) & 0xFF), UInt8(n >> 24)]
        }
        out += Array(header.utf8)
        tensor.withUnsafeBytes { out += Array($0) }
        return out
    }

    public static func write(_ tensor: Tensor, to path: String) throws {
        try AtomicFile.write(Data(encode(tensor)), to: path)
    }

    static func descr(for dtype: DType) -> String {
        switch dtype {
        case .float16: return "<f2"
        case .float32: return "<f4"
        case .float64: return "<f8"
        case .int8: return "|i1"
        case .uint8: return "|u1"
        case .int16: return "<i2"
        case .int32: return "<i4"
        case .int64: return "<i8"
        case .bool: return "|b1"
        }
    }

    static func parseDescr(_ descr: String) throws -> (DType, bigEndian: Bool) {
        guard descr.count >= 2 else { throw GraftError(.malformed, "bad dtype descr", field: "descr", found: descr) }
        var chars = Array(descr)
        var bigEndian = false
        if "<>|=".contains(chars[0]) {
            bigEndian = chars[0] == ">"
            chars.removeFirst()
        }
        let code = String(chars)
        let map: [String: DType] = ["f2": .float16, "f4": .float32, "f8": .float64, "i1": .int8, "u1": .uint8,
                                    "i2": .int16, "i4": .int32, "i8": .int64, "b1": .bool, "?": .bool]
        guard let dtype = map[code] else {
            throw GraftError(.unsupported, "unsupported .npy dtype", field: "descr",
                             expected: "f2, f4, f8, i1, u1, i2, i4, i8 or b1", found: descr)
        }
        return (dtype, bigEndian)
    }

    /// Parses the Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
    static func parseHeader(_ header: String) throws -> (descr: String, fortran: Bool, shape: [Int]) {
        func value(of key: String) throws -> Substring {
            guard let keyRange = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\"") else {
                throw GraftError(.malformed, "missing key in .npy header", field: key, found: header)
            }
            let rest = header[keyRange.upperBound...].drop { $0 == " " || $0 == ":" }
            return rest
        }
        let descrRest = try value(of: "descr")
        guard let q = descrRest.first, q == "'" || q == "\"",
              let end = descrRest.dropFirst().firstIndex(of: q) else {
            throw GraftError(.malformed, "bad descr in .npy header", field: "descr", found: header)
        }
        let descr = String(descrRest[descrRest.index(after: descrRest.startIndex)..<end])
        let fortranRest = try value(of: "fortran_order")
        let fortran: Bool
        if fortranRest.hasPrefix("True") { fortran = true } else if fortranRest.hasPrefix("False") { fortran = false } else {
            throw GraftError(.malformed, "bad fortran_order in .npy header", field: "fortran_order", found: header)
        }
        let shapeRest = try value(of: "shape")
        guard shapeRest.first == "(", let close = shapeRest.firstIndex(of: ")") else {
            throw GraftError(.malformed, "bad shape in .npy header", field: "shape", found: header)
        }
        var shape: [Int] = []
        for part in shapeRest[shapeRest.index(after: shapeRest.startIndex)..<close].split(separator: ",") {
            let t = part.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "L", with: "")
            if t.isEmpty { continue }
            guard let d = Int(t), d >= 0 else {
                throw GraftError(.malformed, "bad dimension in .npy shape", field: "shape", found: String(part))
            }
            shape.append(d)
        }
        return (descr, fortran, shape)
    }

    static func byteSwapped(_ tensor: Tensor) -> Tensor {
        var t = tensor
        let size = tensor.dtype.size
        t.withUnsafeMutableBytes { raw in
            var i = 0
            while i + size <= raw.count {
                var a = i, b = i + size - 1
                while a < b { raw.swapAt(a, b); a += 1; b -= 1 }
                i += size
            }
        }
        return t
    }
}

/// Writes files the safe way: to a temporary file in the target folder, renamed into place
/// only when complete, so a failed write never leaves a partial file.
public enum AtomicFile {
    /// Runs `body` with the path of a temporary file beside `path` (`.NAME.RANDOM.graft.tmp`,
    /// not yet created; `body` creates and writes it), then renames it into place. rename(2)
    /// replaces an existing target atomically (Foundation's replaceItemAt fails on Linux when
    /// the target exists). When `body` or the rename fails, the temporary file is removed; an
    /// error that is not a `GraftError` becomes an `.io` one naming `path`.
    public static func write(to path: String, _ body: (_ temporaryPath: String) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let temp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(UInt32.random(in: 0...UInt32.max)).graft.tmp").path
        do {
            try body(temp)
            guard rename(temp, path) == 0 else {
                throw GraftError(.io, "cannot rename into place: \(String(cString: strerror(errno)))", file: path)
            }
        } catch let error as GraftError {
            unlink(temp)
            throw error
        } catch {
            unlink(temp)
            throw GraftError(.io, "cannot write file: \(error.localizedDescription)", file: path)
        }
    }

    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { temp in try data.write(to: URL(fileURLWithPath: temp)) }
    }
}
