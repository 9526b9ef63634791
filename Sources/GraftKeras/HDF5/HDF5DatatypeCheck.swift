import GraftCore

/// The encoded length of a datatype message, checked against the bytes it may use.
///
/// libhdf5 1.10 decodes a datatype (`H5O_dtype_decode`, for an attribute or a dataset) without
/// comparing what it reads with the message's size: an enumeration claiming more members than
/// its bytes hold made it read member names and values out of bounds (ASan reports in
/// `H5T_copy_reopen` and `strdup`). Layout (HDF5 file format specification, datatype message
/// versions 1–3): class (low 4 bits) and version (high 4 bits), 3 bytes of class bit fields,
/// the element size u32, then the class's properties:
/// - 0 fixed-point, 4 bitfield: bit offset u16, precision u16; 1 floating-point: 12 bytes;
///   2 time: precision u16; 3 string, 7 reference: none;
/// - 5 opaque: a NUL-terminated tag of (bit fields & 0xFF) bytes;
/// - 6 compound: (bit fields & 0xFFFF) members, each a NUL-terminated name (padded to 8 bytes in
///   versions 1–2), a byte offset (u32; in version 3 as many bytes as the compound's size
///   needs), in version 1 a 28-byte dimension block, then the member's datatype;
/// - 8 enumeration: the base datatype, (bit fields & 0xFFFF) NUL-terminated names (padded to 8
///   in versions 1–2), then as many values of the base type's size;
/// - 9 variable-length: the base datatype;
/// - 10 array (versions 2–3): rank u8 (3 reserved bytes in version 2), rank dimension sizes u32,
///   in version 2 rank permutation indices u32, then the base datatype.
extension HDF5ObjectHeaderCheck {
    /// Datatypes nested deeper than this (compounds of arrays of ...) are refused.
    static let maximumDatatypeDepth = 16

    /// Checks the datatype encoded at `start`, which may use the bytes up to `end`, and returns
    /// its encoded length.
    @discardableResult
    func datatypeLength(_ start: Int, _ end: Int, depth: Int = 0,
                        _ refuse: (String, String, String) -> GraftError) throws -> Int {
        guard depth < Self.maximumDatatypeDepth else {
            throw refuse("datatype", "at most \(Self.maximumDatatypeDepth) nested datatypes", "more")
        }
        guard end - start >= 8 else {
            throw refuse("datatype size", "at least 8 bytes", "\(end - start) bytes")
        }
        let typeClass = Int(raw[start] & 0x0F), version = Int(raw[start] >> 4)
        guard (1...3).contains(version) else { throw refuse("datatype version", "1, 2 or 3", "\(version)") }
        let bitFields = Int(uint(start + 1, 3))
        let elementSize = uint(start + 4, 4)
        var p = start + 8
        func need(_ count: Int, _ what: String) throws {
            guard count <= end - p else {
                throw refuse("datatype size", "room for the \(what) (\(count) bytes)", "\(end - p) bytes left")
            }
        }
        /// A NUL-terminated name at p; returns its length with the terminator.
        func name(_ what: String) throws -> Int {
            var q = p
            while q < end, raw[q] != 0 { q += 1 }
            guard q < end else { throw refuse("datatype size", "a NUL-terminated \(what)", "none before the datatype's end") }
            return q - p + 1
        }
        let padded = { (n: Int) in version < 3 ? (n + 7) / 8 * 8 : n }
        switch typeClass {
        case 0, 4: try need(4, "bit offset and precision"); p += 4
        case 1: try need(12, "floating-point fields"); p += 12
        case 2: try need(2, "precision"); p += 2
        case 3, 7: break
        case 5:
            let tag = bitFields & 0xFF
            try need(tag, "opaque tag")
            if tag > 0 { _ = try name("opaque tag") }
            p += tag
        case 6:
            let members = bitFields & 0xFFFF
            for _ in 0..<members {
                let length = try name("compound member name")
                try need(padded(length), "compound member name"); p += padded(length)
                let offsetBytes = version == 3 ? max(1, (64 - elementSize.leadingZeroBitCount + 7) / 8) : 4
                try need(offsetBytes + (version == 1 ? 28 : 0), "compound member offset")
                p += offsetBytes + (version == 1 ? 28 : 0)
                p += try datatypeLength(p, end, depth: depth + 1, refuse)
            }
        case 8:
            let members = bitFields & 0xFFFF
            try need(8, "enumeration base type")
            let baseSize = Int(uint(p + 4, 4))
            p += try datatypeLength(p, end, depth: depth + 1, refuse)
            for _ in 0..<members {
                let length = try name("enumeration member name")
                try need(padded(length), "enumeration member name"); p += padded(length)
            }
            let (values, overflow) = members.multipliedReportingOverflow(by: baseSize)
            guard !overflow else { throw refuse("datatype size", "room for the enumeration values", "\(members) × \(baseSize) bytes") }
            try need(values, "enumeration values"); p += values
        case 9:
            p += try datatypeLength(p, end, depth: depth + 1, refuse)
        case 10:
            guard version >= 2 else { throw refuse("datatype version", "2 or 3 for an array", "\(version)") }
            try need(version == 2 ? 4 : 1, "array rank")
            let rank = Int(raw[p])
            p += version == 2 ? 4 : 1
            try need(rank * (version == 2 ? 8 : 4), "array dimensions"); p += rank * (version == 2 ? 8 : 4)
            p += try datatypeLength(p, end, depth: depth + 1, refuse)
        default:
            throw refuse("datatype class", "0 to 10", "\(typeClass)")
        }
        return p - start
    }
}
