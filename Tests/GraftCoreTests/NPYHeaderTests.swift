import Foundation
import GraftCore
import OrderedCollections
import XCTest

/// `.npy` files built byte by byte, as NumPy lays them out: magic, version, header length
/// (2 bytes for 1.0, 4 bytes for 2.0/3.0, little-endian), the header dict, then the data.
final class NPYHeaderTests: XCTestCase {
    static func npy(version: UInt8, header: String, data: [UInt8]) -> [UInt8] {
        let h = Array(header.utf8)
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
        if version == 1 {
            out += [UInt8(h.count & 0xFF), UInt8(h.count >> 8)]
        } else {
            out += [UInt8(h.count & 0xFF), UInt8((h.count >> 8) & 0xFF), UInt8((h.count >> 16) & 0xFF), UInt8(h.count >> 24)]
        }
        return out + h + data
    }

    static func littleEndian(_ values: [Int32]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) } }

    func testHeaderVersions2And3() throws {
        for version: UInt8 in [2, 3] {
            let bytes = Self.npy(version: version, header: "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }\n",
                                 data: Self.littleEndian([7, -8, 9]))
            let t = try NPY.decode(bytes)
            XCTAssertEqual(t.dtype, .int32)
            XCTAssertEqual(t.shape, [3])
            XCTAssertEqual(t.doubles(), [7, -8, 9], "version \(version)")
        }
    }

    /// Single-byte types use '|'; bool bytes are 0/1.
    func testPipeByteOrderAndBool() throws {
        let u8 = try NPY.decode(Self.npy(version: 1, header: "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }",
                                         data: [0, 1, 200, 255]))
        XCTAssertEqual(u8.dtype, .uint8)
        XCTAssertEqual(u8.doubles(), [0, 1, 200, 255])
        let b = try NPY.decode(Self.npy(version: 1, header: "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
                                        data: [1, 0, 1]))
        XCTAssertEqual(b.dtype, .bool)
        XCTAssertEqual(b.doubles(), [1, 0, 1])
    }

    /// Big-endian float64 and float16: 1.5 is 0x3FF8000000000000; float16 1.5 is 0x3E00, -2 is 0xC000.
    func testBigEndianFloats() throws {
        let f8 = try NPY.decode(Self.npy(version: 1, header: "{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }",
                                         data: [0x3F, 0xF8, 0, 0, 0, 0, 0, 0]))
        XCTAssertEqual(f8.dtype, .float64)
        XCTAssertEqual(f8.doubles(), [1.5])
        let f2 = try NPY.decode(Self.npy(version: 1, header: "{'descr': '>f2', 'fortran_order': False, 'shape': (2,), }",
                                         data: [0x3E, 0x00, 0xC0, 0x00]))
        XCTAssertEqual(f2.dtype, .float16)
        XCTAssertEqual(f2.doubles(), [1.5, -2])
    }

    /// A rank-3 Fortran array: element (i, j, k) of shape (2, 3, 4) sits at i + 2j + 6k in the
    /// file; its row-major position (and value here) is 12i + 4j + k.
    func testFortranOrderRank3() throws {
        var file = [Int32](repeating: 0, count: 24)
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { file[i + 2 * j + 6 * k] = Int32(12 * i + 4 * j + k) } } }
        let t = try NPY.decode(Self.npy(version: 1, header: "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 4), }",
                                        data: Self.littleEndian(file)))
        XCTAssertEqual(t.shape, [2, 3, 4])
        XCTAssertEqual(t.doubles(), (0..<24).map(Double.init))
    }

    /// Key order in the dict does not matter, nor do double quotes.
    func testHeaderKeysInAnyOrder() throws {
        let t = try NPY.decode(Self.npy(version: 1, header: "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<i4\"}",
                                        data: Self.littleEndian([1, 2])))
        XCTAssertEqual(t.doubles(), [1, 2])
    }

    func testMalformedHeaders() {
        let data = Self.littleEndian([1, 2])
        let cases: [(String, [UInt8], GraftError.Kind)] = [
            ("missing shape", Self.npy(version: 1, header: "{'descr': '<i4', 'fortran_order': False, }", data: data), .malformed),
            ("missing descr", Self.npy(version: 1, header: "{'fortran_order': False, 'shape': (2,), }", data: data), .malformed),
            ("bad fortran_order", Self.npy(version: 1, header: "{'descr': '<i4', 'fortran_order': 1, 'shape': (2,), }", data: data), .malformed),
            ("bad shape text", Self.npy(version: 1, header: "{'descr': '<i4', 'fortran_order': False, 'shape': (2, x), }", data: data), .malformed),
            ("shape not a tuple", Self.npy(version: 1, header: "{'descr': '<i4', 'fortran_order': False, 'shape': 2, }", data: data), .malformed),
            ("negative dimension", Self.npy(version: 1, header: "{'descr': '<i4', 'fortran_order': False, 'shape': (-2,), }", data: data), .malformed),
            ("overflowing shape", Self.npy(version: 1, header: "{'descr': '<i4', 'fortran_order': False, 'shape': (9223372036854775807, 4), }", data: data), .malformed),
            ("structured dtype", Self.npy(version: 1, header: "{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (2,), }", data: data), .malformed),
            ("unsupported dtype", Self.npy(version: 1, header: "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", data: data), .unsupported),
            ("too many bytes", Self.npy(version: 1, header: "{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", data: data), .shapeMismatch),
            ("header longer than file", Array(Self.npy(version: 1, header: "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", data: []).prefix(30)), .malformed),
            ("truncated v2 prefix", [0x93] + Array("NUMPY".utf8) + [2, 0, 10, 0], .malformed),
            ("shorter than a prefix", [0x93, 0x4E], .malformed),
        ]
        for (name, bytes, kind) in cases {
            XCTAssertThrowsError(try NPY.decode(bytes), name) { error in
                guard let e = error as? GraftError else { return XCTFail("\(name): not a GraftError: \(error)") }
                XCTAssertEqual(e.kind, kind, "\(name): \(e)")
                XCTAssertFalse(e.description.isEmpty)
            }
        }
    }

    /// Reading from a file (header first, then the data into the tensor) agrees with
    /// decoding the same bytes, for good files and for every malformed one.
    func testReadFromPathMatchesDecode() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graft-npy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var files: [[UInt8]] = [
            NPY.encode(Tensor(shape: [2, 3], doubles: [1, 2, 3, 4, 5, 6])),
            NPY.encode(Tensor(zeros: [], dtype: .int64)),
            NPY.encode(Tensor(zeros: [0, 3], dtype: .float16)),
            Self.npy(version: 3, header: "{'descr': '>i4', 'fortran_order': True, 'shape': (2, 2), }", data: [0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 4]),
            [], [0x93, 0x4E, 0x55], Array("plain text, not an array".utf8),
        ]
        let good = NPY.encode(Tensor(shape: [4], floats: [1, 2, 3, 4]))
        files.append(Array(good.dropLast(3)))  // truncated data
        files.append(good + [0])                // one byte too many
        files.append(Array(good.prefix(40)))    // truncated header
        for (i, bytes) in files.enumerated() {
            let path = dir.appendingPathComponent("f\(i).npy").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            switch (Result { try NPY.decode(bytes) }, Result { try NPY.read(path: path) }) {
            case (.success(let a), .success(let b)):
                XCTAssertTrue(a.bitwiseEqual(b), "file \(i)")
                XCTAssertEqual(a.shape, b.shape, "file \(i)")
            case (.failure(let a), .failure(let b)):
                XCTAssertEqual((a as? GraftError)?.kind, (b as? GraftError)?.kind, "file \(i): \(a) vs \(b)")
                XCTAssertEqual((b as? GraftError)?.file, path, "file \(i)")
            default:
                XCTFail("file \(i): decode and read disagree")
            }
        }
        XCTAssertEqual(try NPY.read(path: dir.appendingPathComponent("f3.npy").path).doubles(), [1, 2, 3, 4])
    }

    func testMissingFileNamesThePath() {
        XCTAssertThrowsError(try NPY.read(path: "/nonexistent/graft/x.npy")) { error in
            let e = error as? GraftError
            XCTAssertEqual(e?.kind, .io)
            XCTAssertEqual(e?.file, "/nonexistent/graft/x.npy")
        }
    }

    func testWriteIsAtomicAndReadsBack() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graft-npy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("x.npy").path
        try NPY.write(Tensor(shape: [2], floats: [1, 2]), to: path)
        try NPY.write(Tensor(shape: [3], floats: [3, 4, 5]), to: path)  // replaces the first
        XCTAssertEqual(try NPY.read(path: path).floats(), [3, 4, 5])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["x.npy"], "no temporary file left")
        XCTAssertThrowsError(try NPY.write(Tensor(shape: [1], floats: [1]), to: dir.appendingPathComponent("no/such/dir.npy").path)) {
            XCTAssertEqual(($0 as? GraftError)?.kind, .io)
        }
    }

    /// Encoded data starts on a 64-byte boundary, as NumPy writes it.
    func testEncodedDataIsAligned() {
        for shape in [[1], [3, 5], [2, 3, 4, 5]] as [[Int]] {
            let t = Tensor(zeros: shape, dtype: .float64)
            XCTAssertEqual((NPY.encode(t).count - t.byteCount) % 64, 0, "\(shape)")
        }
    }

    /// `np.savez_compressed` writes deflated entries; entries not ending in `.npy` are not arrays.
    func testNPZWithDeflatedEntries() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graft-npz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = Tensor(zeros: [64, 64], dtype: .float32)
        let b = Tensor(shape: [2], doubles: [0.25, -4])
        let zip = try ZipWriter.archive([("a.npy", NPY.encode(a)), ("notes.txt", Array("hi".utf8)), ("b.npy", NPY.encode(b))],
                                        deflate: true)
        XCTAssertLessThan(zip.count, a.byteCount / 4, "entries are deflated")
        let path = dir.appendingPathComponent("c.npz").path
        try Data(zip).write(to: URL(fileURLWithPath: path))
        let back = try NPZ.read(path: path)
        XCTAssertEqual(Array(back.keys), ["a", "b"])
        XCTAssertTrue(back["a"]?.bitwiseEqual(a) == true)
        XCTAssertTrue(back["b"]?.bitwiseEqual(b) == true)
    }

    func testNPZWithBadEntryNamesTheEntry() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graft-npz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("bad.npz").path
        try Data(try ZipWriter.archive([("x.npy", [1, 2, 3])])).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try NPZ.read(path: path)) { error in
            let e = error as? GraftError
            XCTAssertEqual(e?.kind, .malformed)
            XCTAssertEqual(e?.file, path)
            XCTAssertEqual(e?.location, "entry x.npy")
        }
        let notZip = dir.appendingPathComponent("plain.npz").path
        try Data([1, 2, 3, 4]).write(to: URL(fileURLWithPath: notZip))
        XCTAssertThrowsError(try NPZ.read(path: notZip)) { XCTAssertEqual(($0 as? GraftError)?.kind, .malformed) }
    }
}
