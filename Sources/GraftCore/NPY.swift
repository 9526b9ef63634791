import Foundation

/// NumPy `.npy` arrays: the CLI's array format. Reads header versions 1.0–3.0, C and
/// Fortran order, little- and big-endian data, for every `DType`; writes version 1.0
/// (2.0 when the header needs it), C order, little-endian.
public enum NPY {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    public static func read(path: String) throws -> Tensor {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw GraftError(.io, "cannot read file", file: path)
        }
        do { return try decode([UInt8](data)) } catch { throw error.graftError(file: path) }
    }

    /// Decodes the bytes of a whole `.npy` file.
    public static func decode(_ bytes: [UInt8]) throws -> Tensor {
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
        guard headerStart + headerLength <= bytes.count else {
            throw GraftError(.malformed, "truncated .npy header", field: "header", expected: "\(headerLength) header bytes",
                             found: "\(bytes.count - headerStart)")
        }
        let header = String(decoding: bytes[headerStart..<headerStart + headerLength], as: UTF8.self)
        let (descr, fortran, shape) = try parseHeader(header)
        let (dtype, bigEndian) = try parseDescr(descr)
        let byteCount = try Tensor.checkedByteCount(shape: shape, dtype: dtype)
        let dataStart = headerStart + headerLength
        guard bytes.count - dataStart == byteCount else {
            throw GraftError(.shapeMismatch, "data size does not match the header's shape", field: "data",
                             expected: "\(byteCount) bytes for \(shape) \(descr)", found: "\(bytes.count - dataStart) bytes")
        }
        var tensor = try bytes.withUnsafeBytes { raw in
            try Tensor(shape: fortran ? Array(shape.reversed()) : shape, dtype: dtype,
                       bytes: UnsafeRawBufferPointer(rebasing: raw[dataStart..<bytes.count]))
        }
        if bigEndian && dtype.size > 1 { tensor = byteSwapped(tensor) }
        if fortran && shape.count > 1 { tensor = try tensor.transposed(Array((0..<shape.count).reversed())) }
        return tensor
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
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let temp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(UInt32.random(in: 0...UInt32.max)).graft.tmp")
        do {
            try data.write(to: temp)
            if FileManager.default.fileExists(atPath: path) { _ = try FileManager.default.replaceItemAt(url, withItemAt: temp) } else {
                try FileManager.default.moveItem(at: temp, to: url)
            }
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw GraftError(.io, "cannot write file: \(error.localizedDescription)", file: path)
        }
    }
}
