import GraftCore

/// A bounds-checked cursor over big-endian bytes (Java `DataInputStream` conventions).
/// Every read checks the bytes left and throws a `GraftError` naming the file, the place
/// and the field on a short read.
struct BigEndianReader {
    let bytes: [UInt8]
    var offset: Int = 0
    /// File (or zip entry) name used in errors.
    let file: String?
    let location: String?

    init(_ bytes: [UInt8], file: String?, location: String?) {
        self.bytes = bytes; self.file = file; self.location = location
    }

    var remaining: Int { bytes.count - offset }

    func error(_ kind: GraftError.Kind, _ message: String, field: String? = nil,
               expected: String? = nil, found: String? = nil) -> GraftError {
        GraftError(kind, message, file: file, location: location, field: field, expected: expected, found: found)
    }

    func error(_ message: String, field: String? = nil, expected: String? = nil, found: String? = nil) -> GraftError {
        error(.malformed, message, field: field, expected: expected, found: found)
    }

    mutating func need(_ count: Int, _ field: String) throws {
        guard count >= 0, remaining >= count else {
            throw error("array data is truncated", field: field, expected: "\(count) more bytes at offset \(offset)",
                        found: "\(remaining) bytes")
        }
    }

    mutating func readBytes(_ count: Int, _ field: String) throws -> ArraySlice<UInt8> {
        try need(count, field)
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    mutating func readUInt16(_ field: String) throws -> UInt16 {
        let b = try readBytes(2, field)
        return UInt16(b[b.startIndex]) << 8 | UInt16(b[b.startIndex + 1])
    }

    mutating func readUInt32(_ field: String) throws -> UInt32 {
        let b = try readBytes(4, field)
        var v: UInt32 = 0
        for x in b { v = v << 8 | UInt32(x) }
        return v
    }

    mutating func readUInt64(_ field: String) throws -> UInt64 {
        let b = try readBytes(8, field)
        var v: UInt64 = 0
        for x in b { v = v << 8 | UInt64(x) }
        return v
    }

    mutating func readInt32(_ field: String) throws -> Int32 { Int32(bitPattern: try readUInt32(field)) }
    mutating func readInt64(_ field: String) throws -> Int64 { Int64(bitPattern: try readUInt64(field)) }

    /// Java `readUTF`: a u16 byte length, then (modified) UTF-8 bytes.
    mutating func readUTF(_ field: String) throws -> String {
        let length = Int(try readUInt16(field))
        let b = try readBytes(length, field)
        return String(decoding: b, as: UTF8.self)
    }

    /// A few bytes from `at` in hex, for errors that must show what was found.
    func hexDump(at: Int, count: Int = 16) -> String {
        let end = min(bytes.count, at + count)
        guard at < end else { return "(end of data)" }
        return bytes[at..<end].map { String(format2: $0) }.joined(separator: " ")
    }
}

/// Big-endian writer (Java `DataOutputStream` conventions).
struct BigEndianWriter {
    var bytes: [UInt8] = []
    mutating func writeUInt16(_ v: UInt16) { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(v & 0xff)) }
    mutating func writeUInt32(_ v: UInt32) { for s in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8((v >> UInt32(s)) & 0xff)) } }
    mutating func writeUInt64(_ v: UInt64) { for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((v >> UInt64(s)) & 0xff)) } }
    mutating func writeInt64(_ v: Int64) { writeUInt64(UInt64(bitPattern: v)) }
    mutating func writeUTF(_ s: String) {
        let utf8 = Array(s.utf8)
        writeUInt16(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }
}

extension String {
    /// Two lowercase hex digits.
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
    }
}
