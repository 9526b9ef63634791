import Foundation
import GraftCore

/// The allocation-mode tag that opens each buffer of an Nd4j binary array. It fixes the
/// width of the element count (int32 for the legacy tags, int64 for the newer ones).
public enum Nd4jEncoding: String, Sendable, CaseIterable {
    /// Legacy (0.5 … 1.0.0-alpha): int32 count, INT shape buffer.
    case javacpp = "JAVACPP", heap = "HEAP", direct = "DIRECT"
    /// 1.0.0-beta2/beta3: int64 count, LONG shape buffer.
    case longShape = "LONG_SHAPE"
    /// 1.0.0-beta4 and later: int64 count, LONG shape buffer whose extras slot holds data-type flags.
    case mixedDataTypes = "MIXED_DATA_TYPES"

    var hasLongCount: Bool { self == .longShape || self == .mixedDataTypes }
}

/// One array as `Nd4j.write` stores it: a shape-info buffer `[rank, shape…, strides…,
/// offset-or-extras, elementWiseStride, order]` then a data buffer, both big-endian
/// (see `formats/nd4j-binary.md`). Decoding follows the stored strides (never the order
/// flag alone) and yields a row-major `Tensor`.
public struct Nd4jArray: Sendable {
    /// The values, row-major, in the machine's byte order.
    public var tensor: Tensor
    /// The encoding of the data buffer.
    public var encoding: Nd4jEncoding
    /// The order flag as stored (`c` or `f`).
    public var order: Character
    /// Shape and strides as stored.
    public var shape: [Int]
    public var strides: [Int]
    /// The slot before `elementWiseStride`: the offset in the legacy encodings, the
    /// data-type flag word in `MIXED_DATA_TYPES`.
    public var extras: Int64
    /// The data buffer's element type name as stored (`FLOAT`, `DOUBLE`, `HALF`, …).
    public var dataTypeName: String

    /// Reads one array from a file.
    public static func read(path: String) throws -> Nd4jArray {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GraftError(.io, "cannot read file", file: path)
        }
        return try decode([UInt8](data), file: path)
    }

    /// Decodes one array from bytes; `file`/`location` name the source in errors (e.g. the
    /// zip path and the entry `coefficients.bin`).
    public static func decode(_ bytes: [UInt8], file: String? = nil, location: String? = nil) throws -> Nd4jArray {
        var r = BigEndianReader(bytes, file: file, location: location)
        let layout = try readLayout(&r, totalBytes: bytes.count)
        var tensor = Tensor(zeros: layout.shape, dtype: layout.dtype)
        let elementSize = layout.dtype.size
        let elementCount = tensor.count
        r.bytes.withUnsafeBufferPointer { src in
            tensor.withUnsafeMutableBytes { dst in
                guard elementCount > 0, let out = dst.baseAddress, let inBase = src.baseAddress else { return }
                // Big-endian → host (little-endian on every platform Graft runs on), following
                // the stored strides (never the order flag alone), in one pass.
                StridedCopy.copy(shape: layout.shape, elementSize: elementSize,
                                 from: inBase + layout.dataStart + layout.offset * elementSize, strides: layout.strides,
                                 to: out, strides: StridedCopy.rowMajorStrides(layout.shape), swapBytes: hostIsLittleEndian)
            }
        }
        r.offset = layout.dataStart + layout.dataBytes
        return Nd4jArray(tensor: tensor, encoding: layout.encoding, order: layout.order,
                         shape: layout.shape, strides: layout.strides, extras: layout.extras, dataTypeName: layout.dataTypeName)
    }

    /// What an array's two headers say, checked against the `totalBytes` the array has.
    struct Layout {
        var encoding: Nd4jEncoding
        var order: Character
        var shape: [Int]
        var strides: [Int]
        var extras: Int64
        var dataTypeName: String
        var dtype: DType
        /// Elements the data buffer holds.
        var dataCount: Int
        /// Where the data buffer's values start, in bytes from the array's start.
        var dataStart: Int
        var dataBytes: Int { dataCount * dtype.size }
        /// The legacy offset into the data buffer, in elements (0 in MIXED_DATA_TYPES).
        var offset: Int

        /// True when the data buffer holds the array's elements in row-major order from its
        /// start (a plain byte-swapping stream gives the row-major values).
        var isRowMajorFromStart: Bool {
            guard offset == 0 else { return false }
            let rowMajor = StridedCopy.rowMajorStrides(shape)
            return zip(zip(shape, strides), rowMajor).allSatisfy { $0.0.0 == 1 || $0.0.1 == $0.1 }
        }
    }

    /// Reads and checks both headers; `r` may hold only a prefix of the array (the headers),
    /// `totalBytes` is the array's full length. Leaves `r` at the data values.
    static func readLayout(_ r: inout BigEndianReader, totalBytes: Int) throws -> Layout {
        let shapeHeader = try readHeader(&r, buffer: "shape-info buffer")
        guard shapeHeader.count >= 4, shapeHeader.count <= 2 * 32 + 4 else {
            throw r.error("shape-info length is impossible", field: "shape-info length",
                          expected: "2·rank+4 with rank ≤ 32", found: "\(shapeHeader.count)")
        }
        let shapeElementSize: Int
        switch shapeHeader.typeName {
        case "INT": shapeElementSize = 4
        case "LONG": shapeElementSize = 8
        default:
            throw r.error(.unsupported, "shape-info buffer has an unexpected element type", field: "shape-info type",
                          expected: "INT or LONG", found: shapeHeader.typeName)
        }
        try r.need(shapeHeader.count * shapeElementSize, "shape-info values")
        var info: [Int64] = []
        info.reserveCapacity(shapeHeader.count)
        for _ in 0..<shapeHeader.count {
            info.append(shapeElementSize == 4 ? Int64(try r.readInt32("shape-info value")) : try r.readInt64("shape-info value"))
        }
        guard info[0] >= 0, info[0] <= 32, 2 * Int(info[0]) + 4 == shapeHeader.count else {
            throw r.error("rank does not match the shape-info length", field: "rank",
                          expected: "rank = (\(shapeHeader.count) − 4) / 2", found: "\(info[0])")
        }
        let rank = Int(info[0])
        let shape = info[1..<(1 + rank)].map { Int($0) }
        let strides = info[(1 + rank)..<(1 + 2 * rank)].map { Int($0) }
        let extras = info[1 + 2 * rank]
        let orderCode = info[3 + 2 * rank]
        guard orderCode == 99 || orderCode == 102 else {
            throw r.error("unknown order flag", field: "order", expected: "99 ('c') or 102 ('f')", found: "\(orderCode)")
        }
        guard shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else {
            throw r.error("negative dimension or stride", field: "shape/strides", expected: "values ≥ 0",
                          found: "shape \(shape), strides \(strides)")
        }

        let dataHeader = try readHeader(&r, buffer: "data buffer")
        guard let dtype = dtypeFor(dataHeader.typeName) else {
            throw r.error(.unsupported, "unsupported data type in data buffer", field: "data type",
                          expected: "FLOAT, DOUBLE, HALF, INT, LONG, SHORT, BYTE, UBYTE or BOOL", found: dataHeader.typeName)
        }
        let elementSize = dtype.size
        let (dataBytes, overflow) = dataHeader.count.multipliedReportingOverflow(by: elementSize)
        guard !overflow else {
            throw r.error("data length overflows", field: "data length", found: "\(dataHeader.count)")
        }
        let dataStart = r.offset
        guard dataBytes <= totalBytes - dataStart else {
            throw r.error("array data is truncated", field: "data values",
                          expected: "\(dataBytes) more bytes at offset \(dataStart)", found: "\(max(totalBytes - dataStart, 0)) bytes")
        }

        // The legacy slot before ews is an offset into the data buffer; the new one is a flag word.
        let offset = shapeHeader.encoding == .mixedDataTypes ? 0 : Int(extras)
        let byteCount: Int
        do { byteCount = try Tensor.checkedByteCount(shape: shape, dtype: dtype) } catch let e as GraftError {
            throw r.error(e.kind, e.message, field: "shape", expected: "a shape whose size fits in memory", found: "\(shape)")
        }
        let elementCount = byteCount / elementSize
        // Zero strides could spread a tiny buffer over a huge shape: never produce more
        // elements than the data buffer holds (Nd4j.write stores every element).
        guard elementCount <= dataHeader.count else {
            throw r.error(.shapeMismatch, "shape has more elements than the data buffer", field: "data length",
                          expected: "at least \(elementCount) elements for shape \(shape)",
                          found: "\(dataHeader.count) elements")
        }
        if elementCount > 0 {
            var maxIndex = offset
            for (d, s) in zip(shape, strides) {
                let (m, o1) = (d - 1).multipliedReportingOverflow(by: s)
                let (sum, o2) = maxIndex.addingReportingOverflow(m)
                guard !o1, !o2 else { throw r.error("strides overflow", field: "strides", found: "\(strides)") }
                maxIndex = sum
            }
            guard offset >= 0, maxIndex < dataHeader.count else {
                throw r.error("shape and strides reach past the data", field: "data length",
                              expected: "more than \(maxIndex) elements for shape \(shape), strides \(strides), offset \(offset)",
                              found: "\(dataHeader.count) elements")
            }
        }
        return Layout(encoding: dataHeader.encoding, order: orderCode == 99 ? "c" : "f", shape: shape, strides: strides,
                      extras: extras, dataTypeName: dataHeader.typeName, dtype: dtype, dataCount: dataHeader.count,
                      dataStart: dataStart, offset: offset)
    }

    /// Encodes a tensor as `Nd4j.write` does in the `MIXED_DATA_TYPES` encoding (1.0.0-beta4+):
    /// LONG shape info with `c` order, row-major strides, the data-type flag word DL4J writes
    /// for the dtype, ews 1, then the data big-endian.
    public static func encodeMixedDataTypes(_ tensor: Tensor) throws -> [UInt8] {
        var bytes = try mixedDataTypesHeader(shape: tensor.shape, dtype: tensor.dtype)
        let headerCount = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: tensor.byteCount))
        tensor.withUnsafeBytes { raw in
            bytes.withUnsafeMutableBytes { out in
                guard let from = raw.baseAddress, let to = out.baseAddress else { return }
                StridedCopy.copy(shape: [tensor.count], elementSize: tensor.dtype.size, from: from, strides: [1],
                                 to: to + headerCount, strides: [1], swapBytes: hostIsLittleEndian)
            }
        }
        return bytes
    }

    /// The two headers `encodeMixedDataTypes` writes before the big-endian data of a c-order
    /// array of `shape` and `dtype`.
    static func mixedDataTypesHeader(shape: [Int], dtype: DType) throws -> [UInt8] {
        guard let typeName = typeName(for: dtype) else {
            throw GraftError(.unsupported, "no Nd4j data type for this dtype", found: "\(dtype)")
        }
        let strides = StridedCopy.rowMajorStrides(shape)
        var w = BigEndianWriter()
        let info: [Int64] = [Int64(shape.count)] + shape.map { Int64($0) } + strides.map { Int64($0) }
            + [dataTypeFlag(for: dtype), 1, 99]
        w.writeUTF(Nd4jEncoding.mixedDataTypes.rawValue)
        w.writeInt64(Int64(info.count))
        w.writeUTF("LONG")
        for v in info { w.writeInt64(v) }
        w.writeUTF(Nd4jEncoding.mixedDataTypes.rawValue)
        w.writeInt64(Int64(shape.reduce(1, *)))
        w.writeUTF(typeName)
        return w.bytes
    }

    // MARK: - Pieces

    struct BufferHeader {
        var encoding: Nd4jEncoding
        var count: Int
        var typeName: String
    }

    private static func readHeader(_ r: inout BigEndianReader, buffer: String) throws -> BufferHeader {
        let start = r.offset
        let tagLength = r.remaining >= 2 ? Int(r.bytes[r.offset]) << 8 | Int(r.bytes[r.offset + 1]) : -1
        guard tagLength > 0, tagLength <= 32, r.remaining >= 2 + tagLength,
              let encoding = Nd4jEncoding(rawValue: String(decoding: r.bytes[(start + 2)..<(start + 2 + tagLength)], as: UTF8.self))
        else {
            throw r.error(.unsupported, "\(buffer) does not start with a known allocation tag", field: "allocation tag",
                          expected: Nd4jEncoding.allCases.map(\.rawValue).joined(separator: ", "),
                          found: "bytes \(r.hexDump(at: start)) at offset \(start)")
        }
        r.offset += 2 + tagLength
        let count: Int
        if encoding.hasLongCount {
            let c = try r.readInt64("\(buffer) length")
            guard c >= 0, c <= Int64(Int.max / 16) else {
                throw r.error("impossible element count", field: "\(buffer) length", expected: "≥ 0", found: "\(c)")
            }
            count = Int(c)
        } else {
            let c = try r.readInt32("\(buffer) length")
            guard c >= 0 else {
                throw r.error("negative element count", field: "\(buffer) length", expected: "≥ 0", found: "\(c)")
            }
            count = Int(c)
        }
        let typeName = try r.readUTF("\(buffer) type")
        if typeName == "COMPRESSED" {
            throw r.error(.unsupported, "compressed Nd4j arrays are not supported", field: "\(buffer) type",
                          expected: "an uncompressed data type", found: typeName)
        }
        return BufferHeader(encoding: encoding, count: count, typeName: typeName)
    }

    static func dtypeFor(_ name: String) -> DType? {
        switch name {
        case "FLOAT": return .float32
        case "DOUBLE": return .float64
        case "HALF": return .float16
        case "INT": return .int32
        case "LONG": return .int64
        case "SHORT": return .int16
        case "BYTE": return .int8
        case "UBYTE": return .uint8
        case "BOOL": return .bool
        default: return nil
        }
    }

    static func typeName(for dtype: DType) -> String? {
        switch dtype {
        case .float32: return "FLOAT"
        case .float64: return "DOUBLE"
        case .float16: return "HALF"
        case .int32: return "INT"
        case .int64: return "LONG"
        case .int16: return "SHORT"
        case .int8: return "BYTE"
        case .uint8: return "UBYTE"
        case .bool: return "BOOL"
        }
    }

    /// The data-type bits of libnd4j's `ArrayOptions` extras word.
    static func dataTypeFlag(for dtype: DType) -> Int64 {
        switch dtype {
        case .bool: return 524288
        case .float16: return 4096
        case .float32: return 8192
        case .float64: return 16384
        case .int8: return 32768
        case .int16: return 65536
        case .int32: return 131072
        case .int64: return 262144
        case .uint8: return 32768 | 8388608
        }
    }
}

let hostIsLittleEndian: Bool = 1.littleEndian == 1
