import Foundation
import GraftCore

/// A structural check of one object header's attribute, datatype and symbol table messages, made on the
/// file's bytes before libhdf5 decodes any of them (`H5Aexists`, `H5Aopen`, `H5Aread`, and the
/// link lookups that load a group's local heap).
///
/// libhdf5 1.10 decodes an attribute message trusting its inner lengths: a name, datatype or
/// dataspace size that reaches past the message makes it read out of bounds (an ASan report
/// in `H5O_attr_decode`), and the attribute's data is then taken from wherever those sizes
/// point. A variable-length string element there holds a sequence length that libhdf5
/// allocates as is (gigabytes for a lying one) before copying the global heap object, whose
/// own size it never compares with that length (a heap overflow when it is larger).
///
/// Layouts (HDF5 file format specification, version 0–3 superblocks):
/// - object header v1: version 1, reserved, message count u16, reference count u32, header
///   size u32, 4 bytes of padding; messages of type u16, size u16, flags u8, 3 reserved bytes.
/// - object header v2: `"OHDR"`, version 2, flags (bits 0–1: width of the first chunk's size,
///   bit 2: messages carry a creation order u16, bit 4: attribute phase change values,
///   bit 5: times), chunk size, messages of type u8, size u16, flags u8 [, order u16], then a
///   checksum; continuation chunks are `"OCHK"` + messages + checksum.
/// - continuation message (0x10): chunk address and length; attribute message (0x0C):
///   version (1–3), flags/reserved, name size u16, datatype size u16, dataspace size u16
///   [, encoding u8 in version 3], then name, datatype, dataspace (each padded to 8 bytes in
///   version 1), then the data: npoints × the element size.
/// - a variable-length element on disk: sequence length u32, global heap collection address,
///   object index u32.
///
/// Attributes in dense storage (a fractal heap, for headers written with large attributes)
/// are not reached by this check.
struct HDF5ObjectHeaderCheck {
    let raw: UnsafeRawBufferPointer
    let path: String
    /// Where HDF5 addresses start (the superblock's position) and the widths of addresses and lengths.
    let base: Int
    let offsetSize: Int
    let lengthSize: Int

    static let continuationMessage = 0x10
    static let attributeMessage = 0x0C
    static let datatypeMessage = 0x03
    static let symbolTableMessage = 0x11
    /// More chunks than any real header has; a header whose continuations loop stops here.
    static let maximumChunks = 4096

    /// Reads the superblock's address widths; nil when the superblock is not one this check knows.
    init?(raw: UnsafeRawBufferPointer, path: String) {
        self.raw = raw
        self.path = path
        let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        var at = 0
        while at + 16 <= raw.count, !(0..<8).allSatisfy({ raw[at + $0] == signature[$0] }) {
            at = at == 0 ? 512 : at * 2
        }
        guard at + 16 <= raw.count else { return nil }
        let version = raw[at + 8]
        let widths: (Int, Int)
        switch version {
        case 0, 1: widths = (Int(raw[at + 13]), Int(raw[at + 14]))
        case 2, 3: widths = (Int(raw[at + 9]), Int(raw[at + 10]))
        default: return nil
        }
        guard [2, 4, 8].contains(widths.0), [2, 4, 8].contains(widths.1) else { return nil }
        base = at
        (offsetSize, lengthSize) = widths
        // The root group's object header address: in superblocks 0/1 inside the root symbol
        // table entry (after 24 or 28 fixed bytes, four addresses and the entry's link name
        // offset); in superblocks 2/3 the fourth address after 12 fixed bytes.
        let rootField = version >= 2 ? at + 12 + 3 * widths.0 : at + (version == 0 ? 24 : 28) + 5 * widths.0
        // The whole superblock: versions 0/1 end with the root entry's cache type, reserved
        // word and 16-byte scratch pad; versions 2/3 with a 4-byte checksum.
        let superblockEnd = version >= 2 ? rootField + widths.0 + 4 : rootField + widths.0 + 24
        rootHeaderField = superblockEnd <= raw.count ? rootField : nil
    }

    /// Where the superblock holds the root group's object header address (nil when the file
    /// ends inside the superblock).
    private let rootHeaderField: Int?

    /// The root group's object header address from the superblock (nil when the file ends inside the superblock).
    var rootHeaderAddress: UInt64? { rootHeaderField.map { uint($0, offsetSize) } }

    // MARK: Reading

    func uint(_ at: Int, _ width: Int) -> UInt64 {
        var v: UInt64 = 0
        for k in (0..<width).reversed() { v = v << 8 | UInt64(raw[at + k]) }
        return v
    }

    func fail(_ message: String, at location: String, field: String, expected: String, found: String) -> GraftError {
        GraftError(.malformed, message, file: path, location: location, field: field, expected: expected, found: found)
    }

    /// The absolute position of file address `address` when `length` bytes from it are in the file.
    func position(_ address: UInt64, length: UInt64) -> Int? {
        guard address < UInt64(Int.max / 2), length <= UInt64(raw.count) else { return nil }
        let start = base + Int(address)
        return start <= raw.count - Int(length) ? start : nil
    }

    // MARK: Header walk

    /// Checks every attribute message of the header at file address `address`; `location` is the
    /// object's path, for messages.
    func check(headerAt address: UInt64, location: String) throws {
        guard let start = position(address, length: 16) else {
            throw fail("object header lies outside the file", at: location, field: "object header address",
                       expected: "below \(raw.count - base)", found: "\(address)")
        }
        var chunks: [(start: Int, end: Int)] = []
        let v2 = raw[start] == 0x4F && raw[start + 1] == 0x48 && raw[start + 2] == 0x44 && raw[start + 3] == 0x52
        let flags = v2 ? Int(raw[start + 5]) : 0
        if v2 {
            var p = start + 6 + (flags & 0x20 != 0 ? 16 : 0) + (flags & 0x10 != 0 ? 4 : 0)
            let width = 1 << (flags & 3)
            guard p + width <= raw.count else {
                throw fail("object header is truncated", at: location, field: "chunk 0 size",
                           expected: "\(width) bytes", found: "\(raw.count - p) bytes")
            }
            let size = uint(p, width)
            p += width
            guard size <= UInt64(raw.count - p) else {
                throw fail("object header chunk reaches past the end of the file", at: location, field: "chunk 0 size",
                           expected: "at most \(raw.count - p) bytes", found: "\(size) bytes")
            }
            chunks.append((p, p + Int(size)))
        } else {
            // Version 1 (anything else is left to libhdf5, which refuses unknown versions).
            guard raw[start] == 1 else { return }
            let size = uint(start + 8, 4)
            guard size <= UInt64(raw.count - start - 16) else {
                throw fail("object header chunk reaches past the end of the file", at: location, field: "header size",
                           expected: "at most \(raw.count - start - 16) bytes", found: "\(size) bytes")
            }
            chunks.append((start + 16, start + 16 + Int(size)))
        }
        var index = 0
        while index < chunks.count {
            guard index < Self.maximumChunks else {
                throw fail("object header has too many continuation chunks", at: location, field: "continuation",
                           expected: "at most \(Self.maximumChunks) chunks", found: "more")
            }
            try checkChunk(chunks[index], v2: v2, headerFlags: flags, location: location, chunks: &chunks)
            index += 1
        }
    }

    /// Walks the messages of one chunk, checking each against the chunk's end.
    func checkChunk(_ chunk: (start: Int, end: Int), v2: Bool, headerFlags: Int, location: String,
                    chunks: inout [(start: Int, end: Int)]) throws {
        let prefix = v2 ? (headerFlags & 0x04 != 0 ? 6 : 4) : 8
        var p = chunk.start
        while p + prefix <= chunk.end {
            let type = v2 ? Int(raw[p]) : Int(uint(p, 2))
            let size = Int(uint(p + (v2 ? 1 : 2), 2))
            let messageFlags = Int(raw[p + (v2 ? 3 : 4)])
            let body = p + prefix
            guard size <= chunk.end - body else {
                throw fail("object header message reaches past its chunk", at: location, field: "message size",
                           expected: "at most \(chunk.end - body) bytes", found: "\(size) bytes (message type \(type))")
            }
            if type == Self.continuationMessage {
                guard size >= offsetSize + lengthSize else {
                    throw fail("continuation message is too short", at: location, field: "message size",
                               expected: "\(offsetSize + lengthSize) bytes", found: "\(size) bytes")
                }
                let address = uint(body, offsetSize)
                let length = uint(body + offsetSize, lengthSize)
                guard let next = position(address, length: length) else {
                    throw fail("object header continuation lies outside the file", at: location, field: "continuation",
                               expected: "a chunk inside the file's \(raw.count) bytes",
                               found: "\(length) bytes at address \(address)")
                }
                // Version 2 continuation chunks: "OCHK", messages, checksum.
                let chunkRange = v2 ? (next + 4, next + Int(length) - 4) : (next, next + Int(length))
                // A continuation back to a chunk already listed would loop.
                guard !chunks.contains(where: { $0.start == chunkRange.0 }) else {
                    throw fail("object header continuations form a loop", at: location, field: "continuation",
                               expected: "each chunk once", found: "address \(address) again")
                }
                if chunkRange.1 > chunkRange.0 { chunks.append(chunkRange) }
            } else if type == Self.datatypeMessage, messageFlags & 0x02 == 0 {
                // (A shared datatype message holds a reference, not the datatype.)
                try datatypeLength(body, body + size) { field, expected, found in
                    fail("datatype message is inconsistent", at: "\(location) (datatype message at offset \(body))",
                         field: field, expected: expected, found: found)
                }
            } else if type == Self.symbolTableMessage {
                try checkSymbolTable(body, size, location: location)
            } else if type == Self.attributeMessage, messageFlags & 0x02 == 0 {
                // (A shared attribute message holds a reference, not the attribute.)
                try checkAttribute(body, body + size, location: location)
            }
            p = body + size
        }
    }

    // MARK: Symbol table message

    /// A group's symbol table message (0x11: v1 B-tree address, local heap address). libhdf5
    /// allocates the heap's data segment at its declared size before reading it (12 GB for a
    /// lying one), wherever the segment lies; the heap is named here, so it is one, and its
    /// segment must lie inside the file. Local heap: `"HEAP"`, version 0, 3 reserved bytes,
    /// segment size (length width), free-list head (length width), segment address.
    func checkSymbolTable(_ body: Int, _ size: Int, location: String) throws {
        guard size >= 2 * offsetSize else {
            throw fail("symbol table message is too short", at: location, field: "message size",
                       expected: "\(2 * offsetSize) bytes", found: "\(size) bytes")
        }
        let heapAddress = uint(body + offsetSize, offsetSize)
        let heapLocation = "\(location) (local heap at address \(heapAddress))"
        guard let heap = position(heapAddress, length: UInt64(8 + 2 * lengthSize + offsetSize)) else {
            throw fail("group's local heap lies outside the file", at: location, field: "local heap address",
                       expected: "below \(raw.count - base)", found: "\(heapAddress)")
        }
        // Not a heap signature: libhdf5 refuses it without allocating.
        guard raw[heap] == 0x48, raw[heap + 1] == 0x45, raw[heap + 2] == 0x41, raw[heap + 3] == 0x50 else { return }
        let segmentSize = uint(heap + 8, lengthSize)
        let segmentAddress = uint(heap + 8 + 2 * lengthSize, offsetSize)
        guard position(segmentAddress, length: segmentSize) != nil else {
            throw fail("local heap data segment lies outside the file", at: heapLocation, field: "data segment",
                       expected: "inside the file's \(raw.count - base) bytes",
                       found: "\(segmentSize) bytes at address \(segmentAddress)")
        }
    }

    // MARK: Attribute message

    func checkAttribute(_ start: Int, _ end: Int, location: String) throws {
        func refuse(_ field: String, expected: String, found: String) -> GraftError {
            fail("attribute message is inconsistent", at: "\(location) (attribute message at offset \(start))",
                 field: field, expected: expected, found: found)
        }
        guard end - start >= 8 else {
            throw refuse("message size", expected: "at least 8 bytes", found: "\(end - start) bytes")
        }
        let version = Int(raw[start])
        guard (1...3).contains(version) else {
            throw refuse("version", expected: "1, 2 or 3", found: "\(version)")
        }
        let flags = version >= 2 ? Int(raw[start + 1]) : 0
        let nameSize = Int(uint(start + 2, 2)), datatypeSize = Int(uint(start + 4, 2)), dataspaceSize = Int(uint(start + 6, 2))
        let pad = { (n: Int) in version == 1 ? (n + 7) / 8 * 8 : n }
        let namePosition = start + (version == 3 ? 9 : 8)
        let datatypePosition = namePosition + pad(nameSize)
        let dataspacePosition = datatypePosition + pad(datatypeSize)
        let dataPosition = dataspacePosition + pad(dataspaceSize)
        guard dataPosition <= end else {
            throw refuse("name, datatype and dataspace sizes", expected: "at most \(end - namePosition) bytes in all",
                         found: "\(nameSize) + \(datatypeSize) + \(dataspaceSize) bytes")
        }
        guard nameSize >= 1, raw[namePosition + nameSize - 1] == 0 else {
            throw refuse("name", expected: "a null-terminated name", found: "\(nameSize) bytes without a terminator")
        }
        // A shared datatype or dataspace is a reference to another object; its layout is libhdf5's to check.
        guard flags & 0x03 == 0 else { return }
        guard datatypeSize >= 8 else {
            throw refuse("datatype size", expected: "at least 8 bytes", found: "\(datatypeSize) bytes")
        }
        try datatypeLength(datatypePosition, datatypePosition + datatypeSize) { refuse($0, expected: $1, found: $2) }
        let typeClass = Int(raw[datatypePosition] & 0x0F)
        let variableLength = typeClass == 9
        if variableLength, datatypeSize < 16 {
            throw refuse("datatype size", expected: "at least 16 bytes (a variable-length type and its base)",
                         found: "\(datatypeSize) bytes")
        }
        // libhdf5 sizes the data by the declared element size (for a variable-length type, its
        // in-memory size) and decodes variable-length elements at their on-disk size.
        let declaredSize = Int(uint(datatypePosition + 4, 4))
        let elementSize = variableLength ? 4 + offsetSize + 4 : declaredSize
        // When the attribute is opened, libhdf5 resizes a variable-length type to its on-disk
        // element size and reads the data at that size from a buffer sized by the declared one.
        if variableLength, declaredSize < elementSize {
            throw refuse("datatype size", expected: "at least \(elementSize) bytes (a variable-length element on disk)",
                         found: "\(declaredSize) bytes")
        }
        let points = try dataspacePoints(dataspacePosition, dataspaceSize, refuse)
        let (bytes, overflow) = points.multipliedReportingOverflow(by: max(elementSize, declaredSize))
        guard !overflow, bytes <= end - dataPosition else {
            throw refuse("data size", expected: "at most \(end - dataPosition) bytes",
                         found: "\(points) elements of \(max(elementSize, declaredSize)) bytes")
        }
        if variableLength {
            let baseSize = Int(uint(datatypePosition + 8 + 4, 4))
            var heaps: [UInt64: [Int: UInt64]] = [:]
            for i in 0..<points {
                try checkVariableLengthElement(at: dataPosition + i * elementSize, index: i, baseSize: baseSize,
                                               heaps: &heaps, refuse)
            }
        }
    }

    /// The number of elements a dataspace message describes (scalar 1, null 0).
    func dataspacePoints(_ start: Int, _ size: Int, _ refuse: (String, String, String) -> GraftError) throws -> Int {
        guard size >= 4 else { throw refuse("dataspace size", "at least 4 bytes", "\(size) bytes") }
        let version = Int(raw[start]), rank = Int(raw[start + 1]), flags = Int(raw[start + 2])
        guard version == 1 || version == 2 else { throw refuse("dataspace version", "1 or 2", "\(version)") }
        guard rank <= 32 else { throw refuse("dataspace rank", "at most 32", "\(rank)") }
        if version == 2, raw[start + 3] == 2 { return 0 }
        let dims = start + (version == 1 ? 8 : 4)
        let needed = (version == 1 ? 8 : 4) + rank * lengthSize * (flags & 1 != 0 ? 2 : 1)
        guard needed <= size else {
            throw refuse("dataspace size", "\(needed) bytes for rank \(rank)", "\(size) bytes")
        }
        var points = 1
        for d in 0..<rank {
            let extent = uint(dims + d * lengthSize, lengthSize)
            let (product, overflow) = points.multipliedReportingOverflow(by: Int(clamping: extent))
            guard !overflow, extent <= UInt64(raw.count) else {
                throw refuse("dataspace dimension \(d)", "at most \(raw.count) elements", "\(extent)")
            }
            points = product
        }
        return points
    }

    /// A variable-length element's sequence length must be exactly its global heap object's
    /// size (in base elements), and a null reference must have length 0.
    func checkVariableLengthElement(at p: Int, index: Int, baseSize: Int, heaps: inout [UInt64: [Int: UInt64]],
                                    _ refuse: (String, String, String) -> GraftError) throws {
        let length = uint(p, 4)
        let address = uint(p + 4, offsetSize)
        let object = Int(uint(p + 4 + offsetSize, 4))
        let field = "variable-length element \(index)"
        if address == 0 || address == UInt64.max >> (64 - 8 * offsetSize) {
            guard length == 0 else { throw refuse(field, "length 0 for a null reference", "length \(length)") }
            return
        }
        if heaps[address] == nil { heaps[address] = try heapObjectSizes(at: address, field: field, refuse) }
        guard let stored = heaps[address]?[object] else {
            throw refuse(field, "an object of the global heap collection at address \(address)", "object index \(object)")
        }
        let (declared, overflow) = length.multipliedReportingOverflow(by: UInt64(max(baseSize, 1)))
        guard !overflow, declared == stored else {
            throw refuse(field, "length \(stored / UInt64(max(baseSize, 1))) (its heap object's \(stored) bytes)",
                         "length \(length)")
        }
    }

    /// The object sizes of the global heap collection at `address`, by object index.
    /// (Layout: see `HDF5GlobalHeapCheck`, which has already checked every collection's sizes.)
    func heapObjectSizes(at address: UInt64, field: String,
                         _ refuse: (String, String, String) -> GraftError) throws -> [Int: UInt64] {
        guard let start = position(address, length: 16), raw[start] == 0x47, raw[start + 1] == 0x43,
              raw[start + 2] == 0x4F, raw[start + 3] == 0x4C else {
            throw refuse(field, "a global heap collection (\"GCOL\") at address \(address)", "none there")
        }
        let declared = uint(start + 8, lengthSize)
        let end = start + Int(min(declared, UInt64(raw.count - start)))
        var sizes: [Int: UInt64] = [:]
        let objectHeader = 8 + lengthSize
        var p = start + objectHeader
        // The collection is referenced, so it is one: every object must fit (the whole-file scan
        // of `HDF5GlobalHeapCheck` leaves collections declaring under 4096 bytes alone, as data).
        while p + objectHeader <= end {
            let index = Int(uint(p, 2))
            let size = uint(p + 8, lengthSize)
            // libhdf5 1.10 steps over a free-space object (index 0) by its size: one smaller than
            // its own header makes it loop forever.
            let room = index == 0 ? end - p : end - p - objectHeader
            guard size <= UInt64(room), index != 0 || size >= UInt64(objectHeader) else {
                throw refuse(field, "objects that fit the global heap collection at address \(address) (object \(index): "
                             + (index == 0 ? "\(objectHeader) to \(room) bytes)" : "at most \(room) bytes)"),
                             "object \(index) of \(size) bytes")
            }
            if index != 0 { sizes[index] = size }
            // As libhdf5: a free-space object (index 0) is stepped over by its size, header included.
            p += index == 0 ? Int(size) : 8 + lengthSize + Int((size + 7) / 8 * 8)
        }
        return sizes
    }
}
