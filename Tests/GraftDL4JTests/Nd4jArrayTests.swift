import GraftCore
@testable import GraftDL4J
import XCTest

/// Nd4j binary arrays built by hand, byte by byte, following the format description
/// (two buffers: allocation tag, element count, type name, big-endian elements).
final class Nd4jArrayTests: XCTestCase {
    /// Builds one array: a shape-info buffer then a data buffer.
    func array(tag: String, shapeType: String, rank: Int, shape: [Int], strides: [Int], slot: Int64 = 0,
               order: Character = "c", dataType: String, data: [UInt8], count: Int) -> [UInt8] {
        var w = BigEndianWriter()
        let info: [Int64] = [Int64(rank)] + shape.map { Int64($0) } + strides.map { Int64($0) }
            + [slot, 1, Int64(order.asciiValue!)]
        let long = tag == "LONG_SHAPE" || tag == "MIXED_DATA_TYPES"
        w.writeUTF(tag)
        if long { w.writeInt64(Int64(info.count)) } else { w.writeUInt32(UInt32(info.count)) }
        w.writeUTF(shapeType)
        for v in info {
            if shapeType == "INT" { w.writeUInt32(UInt32(bitPattern: Int32(v))) } else { w.writeInt64(v) }
        }
        w.writeUTF(tag)
        if long { w.writeInt64(Int64(count)) } else { w.writeUInt32(UInt32(count)) }
        w.writeUTF(dataType)
        w.bytes.append(contentsOf: data)
        return w.bytes
    }

    func beFloats(_ values: [Float]) -> [UInt8] { values.flatMap { v -> [UInt8] in let b = v.bitPattern; return [24, 16, 8, 0].map { UInt8((b >> UInt32($0)) & 0xff) } } }
    func beDoubles(_ values: [Double]) -> [UInt8] { values.flatMap { v -> [UInt8] in let b = v.bitPattern; return stride(from: 56, through: 0, by: -8).map { UInt8((b >> UInt64($0)) & 0xff) } } }

    func testLegacyJavacppFloatCOrder() throws {
        let bytes = array(tag: "JAVACPP", shapeType: "INT", rank: 2, shape: [2, 3], strides: [3, 1], dataType: "FLOAT",
                          data: beFloats([1, 2, 3, 4, 5, 6]), count: 6)
        let a = try Nd4jArray.decode(bytes)
        XCTAssertEqual(a.encoding, .javacpp)
        XCTAssertEqual(a.tensor.shape, [2, 3])
        XCTAssertEqual(a.tensor.dtype, .float32)
        XCTAssertEqual(a.tensor.floats(), [1, 2, 3, 4, 5, 6])
    }

    func testHeapFOrderIsTransposedByStrides() throws {
        // 'f' order [2, 3]: element (i, j) at i + 2j, so data 1..6 is [[1, 3, 5], [2, 4, 6]].
        let bytes = array(tag: "HEAP", shapeType: "INT", rank: 2, shape: [2, 3], strides: [1, 2], order: "f",
                          dataType: "FLOAT", data: beFloats([1, 2, 3, 4, 5, 6]), count: 6)
        XCTAssertEqual(try Nd4jArray.decode(bytes).tensor.floats(), [1, 3, 5, 2, 4, 6])
    }

    func testPermutedStridesWithCFlagFollowStrides() throws {
        // Flag says 'c' but strides [1, 2] are column-major: the strides win.
        let bytes = array(tag: "DIRECT", shapeType: "INT", rank: 2, shape: [2, 3], strides: [1, 2], order: "c",
                          dataType: "FLOAT", data: beFloats([1, 2, 3, 4, 5, 6]), count: 6)
        XCTAssertEqual(try Nd4jArray.decode(bytes).tensor.floats(), [1, 3, 5, 2, 4, 6])
    }

    func testLongShapeDoubleRank3Permuted() throws {
        // shape [2, 2, 3], strides [6, 1, 2] (middle axis fastest): element (a, b, c) at 6a + b + 2c.
        let data = (0..<12).map { Double($0) }
        let bytes = array(tag: "LONG_SHAPE", shapeType: "LONG", rank: 3, shape: [2, 2, 3], strides: [6, 1, 2],
                          dataType: "DOUBLE", data: beDoubles(data), count: 12)
        let a = try Nd4jArray.decode(bytes)
        XCTAssertEqual(a.encoding, .longShape)
        var expected: [Double] = []
        for i in 0..<2 { for j in 0..<2 { for k in 0..<3 { expected.append(Double(6 * i + j + 2 * k)) } } }
        XCTAssertEqual(a.tensor.doubles(), expected)
    }

    func testMixedDataTypesHalf() throws {
        // IEEE binary16: 1.0 = 0x3C00, -2.0 = 0xC000, 0.5 = 0x3800.
        let bytes = array(tag: "MIXED_DATA_TYPES", shapeType: "LONG", rank: 1, shape: [3], strides: [1], slot: 4096,
                          dataType: "HALF", data: [0x3C, 0x00, 0xC0, 0x00, 0x38, 0x00], count: 3)
        let a = try Nd4jArray.decode(bytes)
        XCTAssertEqual(a.tensor.dtype, .float16)
        XCTAssertEqual(a.tensor.floats(), [1, -2, 0.5])
        XCTAssertEqual(a.extras, 4096)
    }

    func testIntAndLongData() throws {
        let ints = array(tag: "MIXED_DATA_TYPES", shapeType: "LONG", rank: 1, shape: [2], strides: [1], slot: 131072,
                         dataType: "INT", data: [0, 0, 0, 7, 0xFF, 0xFF, 0xFF, 0xFE], count: 2)
        XCTAssertEqual(try Nd4jArray.decode(ints).tensor.doubles(), [7, -2])
        let longs = array(tag: "MIXED_DATA_TYPES", shapeType: "LONG", rank: 1, shape: [1], strides: [1], slot: 262144,
                          dataType: "LONG", data: [0, 0, 0, 1, 0, 0, 0, 0], count: 1)
        XCTAssertEqual(try Nd4jArray.decode(longs).tensor.doubles(), [4294967296])
    }

    func testTruncatedDataIsAClearError() throws {
        let bytes = array(tag: "JAVACPP", shapeType: "INT", rank: 1, shape: [4], strides: [1], dataType: "FLOAT",
                          data: beFloats([1, 2]), count: 4)
        XCTAssertThrowsError(try Nd4jArray.decode(bytes, file: "x.bin", location: "coefficients.bin")) { error in
            let e = error as? GraftError
            XCTAssertEqual(e?.file, "x.bin")
            XCTAssertEqual(e?.location, "coefficients.bin")
            XCTAssertEqual(e?.field, "data values")
        }
    }

    func testLyingShapeIsAClearError() throws {
        // The shape claims 10 elements but the data buffer holds 4.
        let bytes = array(tag: "JAVACPP", shapeType: "INT", rank: 1, shape: [10], strides: [1], dataType: "FLOAT",
                          data: beFloats([1, 2, 3, 4]), count: 4)
        XCTAssertThrowsError(try Nd4jArray.decode(bytes)) { error in
            XCTAssertEqual((error as? GraftError)?.field, "data length")
        }
        // Rank that does not match the shape-info length.
        var bad = array(tag: "JAVACPP", shapeType: "INT", rank: 1, shape: [1], strides: [1], dataType: "FLOAT",
                        data: beFloats([1]), count: 1)
        bad[2 + 7 + 4 + 2 + 3 + 3] = 5 // rank byte
        XCTAssertThrowsError(try Nd4jArray.decode(bad)) { error in
            XCTAssertEqual((error as? GraftError)?.field, "rank")
        }
    }

    func testUnknownAllocationTagShowsTheBytes() throws {
        let bytes: [UInt8] = [0, 4, 0x41, 0x42, 0x43, 0x44, 0, 0, 0, 1]
        XCTAssertThrowsError(try Nd4jArray.decode(bytes)) { error in
            let e = error as? GraftError
            XCTAssertEqual(e?.field, "allocation tag")
            XCTAssertTrue(e?.found?.contains("00 04 41 42 43 44") == true, e?.found ?? "")
        }
    }

    func testMixedDataTypesRoundTrip() throws {
        let tensors: [Tensor] = [
            Tensor(shape: [2, 3], floats: [1, -2, 3.5, 4, 5, 6e-3]),
            Tensor(shape: [3, 1, 2], doubles: [1, 2, 3, 4, 5, .pi]),
            Tensor(shape: [2, 2], floats: [1, 2, 3, 4]).converted(to: .float16),
            Tensor(shape: [3], doubles: [1, -7, 300]).converted(to: .int32),
            Tensor(shape: [2], doubles: [1, -9_000_000_000]).converted(to: .int64),
        ]
        for t in tensors {
            let bytes = try Nd4jArray.encodeMixedDataTypes(t)
            let back = try Nd4jArray.decode(bytes)
            XCTAssertTrue(back.tensor.bitwiseEqual(t), "\(t)")
            XCTAssertEqual(back.encoding, .mixedDataTypes)
            XCTAssertEqual(back.order, "c")
        }
        // The flag word DL4J writes for float (8192, see the corpus' beta4+ files).
        XCTAssertEqual(try Nd4jArray.decode(try Nd4jArray.encodeMixedDataTypes(tensors[0])).extras, 8192)
    }
}
