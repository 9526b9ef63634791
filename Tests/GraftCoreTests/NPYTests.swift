import GraftCore
import OrderedCollections
import XCTest

final class NPYTests: XCTestCase {
    func testRoundTripEveryDType() throws {
        for dtype in DType.allCases {
            let values: [Double] = [0, 1, 2, 3, 4, 5]
            let tensor = Tensor(shape: [2, 3], doubles: values).converted(to: dtype)
            let back = try NPY.decode(NPY.encode(tensor))
            XCTAssertTrue(back.bitwiseEqual(tensor), "\(dtype)")
        }
    }

    func testScalarAndEmptyShapes() throws {
        for shape in [[], [0], [3, 0, 2]] as [[Int]] {
            let t = Tensor(zeros: shape, dtype: .float32)
            XCTAssertEqual(try NPY.decode(NPY.encode(t)).shape, shape)
        }
    }

    /// A hand-built header: Fortran order and big-endian data.
    func testFortranOrderBigEndian() throws {
        let header = "{'descr': '>i4', 'fortran_order': True, 'shape': (2, 3), }"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8)
        // Column-major data for [[1, 2, 3], [4, 5, 6]]: 1 4 2 5 3 6, each big-endian int32.
        for v: Int32 in [1, 4, 2, 5, 3, 6] { bytes += withUnsafeBytes(of: v.bigEndian, Array.init) }
        let t = try NPY.decode(bytes)
        XCTAssertEqual(t.shape, [2, 3])
        XCTAssertEqual(t.doubles(), [1, 2, 3, 4, 5, 6])
    }

    func testMalformedInputsGiveClearErrors() {
        let good = NPY.encode(Tensor(shape: [2], floats: [1, 2]))
        let cases: [(String, [UInt8], GraftError.Kind, String)] = [
            ("bad magic", [0x00] + good.dropFirst(), .malformed, "magic"),
            ("truncated header", Array(good.prefix(20)), .malformed, "truncated"),
            ("truncated data", Array(good.dropLast(2)), .shapeMismatch, "data size"),
            ("bad version", Array(good.prefix(6)) + [9] + good.dropFirst(7), .unsupported, "version"),
        ]
        for (name, bytes, kind, text) in cases {
            XCTAssertThrowsError(try NPY.decode(bytes), name) { error in
                guard let e = error as? GraftError else { return XCTFail("\(name): not a GraftError") }
                XCTAssertEqual(e.kind, kind, name)
                XCTAssertTrue(e.description.contains(text), "\(name): \(e)")
            }
        }
        var unsupported = good
        if let r = String(decoding: good, as: UTF8.self).range(of: "<f4") {
            let offset = String(decoding: good, as: UTF8.self).utf8.distance(from: String(decoding: good, as: UTF8.self).startIndex, to: r.lowerBound)
            unsupported[offset + 1] = UInt8(ascii: "c")
        }
        XCTAssertThrowsError(try NPY.decode(unsupported)) { XCTAssertEqual(($0 as? GraftError)?.kind, .unsupported) }
    }

    func testNPZRoundTrip() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graft-npz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("a.npz").path
        var arrays = OrderedDictionary<String, Tensor>()
        arrays["input_0"] = Tensor(shape: [2, 2], floats: [1, 2, 3, 4])
        arrays["act:dense"] = Tensor(shape: [3], doubles: [0.5, -1, 2])
        try NPZ.write(arrays, to: path)
        let back = try NPZ.read(path: path)
        XCTAssertEqual(Array(back.keys), Array(arrays.keys))
        for (k, v) in arrays { XCTAssertTrue(back[k]?.bitwiseEqual(v) == true, k) }
    }
}
