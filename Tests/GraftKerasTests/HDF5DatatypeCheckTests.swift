import GraftCore
@testable import GraftKeras
import XCTest

/// `HDF5ObjectHeaderCheck.datatypeLength` against datatype encodings written out by hand from
/// the HDF5 file format specification (datatype message versions 1–3): each must measure its
/// exact length, and each must be refused when its bytes end one byte or more early.
final class HDF5DatatypeCheckTests: XCTestCase {
    /// Little-endian u32.
    static func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    /// A datatype header: class and version, 3 bytes of class bit fields, the element size.
    static func header(class typeClass: UInt8, version: UInt8, bits: UInt32 = 0, size: UInt32) -> [UInt8] {
        [version << 4 | typeClass] + Array(u32(bits).prefix(3)) + u32(size)
    }
    /// A NUL-terminated name padded to a multiple of 8 bytes (versions 1 and 2).
    static func paddedName(_ s: String) -> [UInt8] {
        let bytes = Array(s.utf8) + [0]
        return bytes + [UInt8](repeating: 0, count: (8 - bytes.count % 8) % 8)
    }

    static let int8 = header(class: 0, version: 1, bits: 0x08, size: 1) + [0, 0, 8, 0]
    static let float32 = header(class: 1, version: 1, bits: 0x1F20, size: 4) + [0, 0, 32, 0, 23, 8, 0, 23] + u32(127)

    static let cases: [(name: String, bytes: [UInt8])] = [
        ("fixed-point", int8),
        ("floating-point", float32),
        ("string", header(class: 3, version: 1, size: 10)),
        ("reference", header(class: 7, version: 1, size: 8)),
        ("time", header(class: 2, version: 1, size: 4) + [32, 0]),
        ("opaque", header(class: 5, version: 1, bits: 8, size: 4) + Array("tag".utf8) + [0, 0, 0, 0, 0]),
        // h5py's variable-length UTF-8 string (Keras' string attributes): base type one byte.
        ("variable-length string", header(class: 9, version: 1, bits: 0x101, size: 16) + int8),
        // h5py's bool: an enumeration of int8 with FALSE = 0 and TRUE = 1.
        ("enumeration v1", header(class: 8, version: 1, bits: 2, size: 1) + int8
            + paddedName("FALSE") + paddedName("TRUE") + [0, 1]),
        ("enumeration v3", header(class: 8, version: 3, bits: 2, size: 1) + int8
            + Array("FALSE".utf8) + [0] + Array("TRUE".utf8) + [0] + [0, 1]),
        // Version 1 members: name, offset u32, a 28-byte dimension block, the member's type.
        ("compound v1", header(class: 6, version: 1, bits: 2, size: 8)
            + paddedName("a") + u32(0) + [UInt8](repeating: 0, count: 28) + float32
            + paddedName("b") + u32(4) + [UInt8](repeating: 0, count: 28) + int8),
        // Version 3 members: unpadded name, a 1-byte offset (the compound is under 256 bytes), the type.
        ("compound v3", header(class: 6, version: 3, bits: 2, size: 8)
            + Array("a".utf8) + [0] + [0] + float32 + Array("b".utf8) + [0] + [4] + int8),
        ("array v2", header(class: 10, version: 2, size: 24) + [2, 0, 0, 0] + u32(2) + u32(3) + u32(0) + u32(1) + float32),
        ("array v3", header(class: 10, version: 3, size: 24) + [2] + u32(2) + u32(3) + float32),
    ]

    /// A buffer holding a version 0 superblock's first 16 bytes (8-byte addresses and lengths)
    /// followed by `datatype`, which starts at offset 16.
    static func withCheck<T>(_ datatype: [UInt8], _ body: (HDF5ObjectHeaderCheck) throws -> T) throws -> T {
        let superblock: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0, 0, 8, 8, 0]
        return try (superblock + datatype).withUnsafeBytes { raw in
            guard let check = HDF5ObjectHeaderCheck(raw: raw, path: "test.h5") else {
                throw GraftError(.malformed, "test superblock not recognised")
            }
            return try body(check)
        }
    }

    static func refuse(_ field: String, _ expected: String, _ found: String) -> GraftError {
        GraftError(.malformed, "datatype refused", field: field, expected: expected, found: found)
    }

    func testEveryClassMeasuresItsLengthAndRefusesEveryShortEnd() throws {
        for c in Self.cases {
            try Self.withCheck(c.bytes) { check in
                XCTAssertEqual(try check.datatypeLength(16, 16 + c.bytes.count, Self.refuse), c.bytes.count, c.name)
                for cut in 0..<c.bytes.count {
                    XCTAssertThrowsError(try check.datatypeLength(16, 16 + cut, Self.refuse), "\(c.name) cut to \(cut) bytes")
                }
            }
        }
    }

    func testNestingAndUnknownClassesAreRefused() throws {
        // Variable-length of variable-length ... 20 deep, then a byte: deeper than allowed.
        let deep = Array((0..<20).map { _ in Self.header(class: 9, version: 1, size: 16) }.joined()) + Self.int8
        let unknownClass = Self.header(class: 11, version: 1, size: 4)
        let unknownVersion = Self.header(class: 0, version: 5, size: 4) + [0, 0, 32, 0]
        for (name, bytes, field) in [("20 nested", deep, "datatype"), ("class 11", unknownClass, "datatype class"),
                                     ("version 5", unknownVersion, "datatype version")] {
            try Self.withCheck(bytes) { check in
                XCTAssertThrowsError(try check.datatypeLength(16, 16 + bytes.count, Self.refuse), name) { error in
                    XCTAssertEqual((error as? GraftError)?.field, field, name)
                }
            }
        }
    }
}
