import Foundation
import GraftCore
import GraftKeras

/// Loads the arrays a manifest `inputs` / `expected` entry names: datasets of a Keras
/// `*_inputs_and_outputs.h5` group (`keras-io-h5`), or keys of an `.npz` file.
enum KerasCaseArrays {
    static func load(_ spec: JSONValue) throws -> [Tensor] {
        guard let file = spec["file"]?.stringValue else {
            throw GraftError(.malformed, "array spec without file", found: spec.description)
        }
        let path = Corpus.path(file)
        switch spec["format"]?.stringValue {
        case "keras-io-h5":
            let root = try HDF5File(path: path).root()
            let group = try root.group(spec["group"]?.stringValue ?? "inputs")
            return try spec["datasets"].map { $0.stringArray }.map { names in
                try names.map { try group.dataset($0).read() }
            } ?? []
        case "npz":
            return try loadNPZ(path: path, keys: spec["keys"]?.stringArray ?? [])
        case "npy":
            return [try loadNPY(path: path)]
        default:
            throw GraftError(.unsupported, "array format not handled", found: spec["format"]?.description)
        }
    }

    static func loadNPZ(path: String, keys: [String]) throws -> [Tensor] {
        let archive = try ZipArchive(path: path)
        return try keys.map { key in try parseNPY(try archive.read(key + ".npy"), name: "\(path):\(key)") }
    }

    static func loadNPY(path: String) throws -> Tensor {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GraftError(.io, "cannot read", file: path)
        }
        return try parseNPY([UInt8](data), name: path)
    }

    /// A minimal `.npy` parser for the test's own use until GraftCore's NPY reader is merged:
    /// little-endian C-order arrays of the dtypes the corpus uses.
    static func parseNPY(_ bytes: [UInt8], name: String) throws -> Tensor {
        guard bytes.count >= 10, bytes[0] == 0x93, bytes[1...5].elementsEqual(Array("NUMPY".utf8)) else {
            throw GraftError(.malformed, "not an npy array", file: name)
        }
        let major = bytes[6]
        let headerLength: Int, start: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8; start = 10
        } else {
            guard bytes.count >= 12 else { throw GraftError(.malformed, "truncated npy header", file: name) }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24; start = 12
        }
        guard start + headerLength <= bytes.count else { throw GraftError(.malformed, "truncated npy header", file: name) }
        let header = String(decoding: bytes[start..<(start + headerLength)], as: UTF8.self)
        func field(_ key: String) -> String? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descrField = field("descr"), let shapeField = field("shape") else {
            throw GraftError(.malformed, "npy header without descr/shape", file: name, found: header)
        }
        if let fortran = field("fortran_order"), fortran.hasPrefix("True") {
            throw GraftError(.unsupported, "Fortran-order npy", file: name)
        }
        let descr = descrField.split(separator: "'")[0]
        let dtypes: [String: DType] = ["<f4": .float32, "<f8": .float64, "<f2": .float16, "<i4": .int32, "<i8": .int64,
                                       "|u1": .uint8, "|i1": .int8, "|b1": .bool, "<i2": .int16]
        guard let dtype = dtypes[String(descr)] else {
            throw GraftError(.unsupported, "npy dtype", file: name, found: String(descr))
        }
        let inside = shapeField.dropFirst().prefix { $0 != ")" }
        let shape = inside.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let dataStart = start + headerLength
        let needed = try Tensor.checkedByteCount(shape: shape, dtype: dtype)
        guard bytes.count - dataStart == needed else {
            throw GraftError(.malformed, "npy data size", file: name, expected: "\(needed)", found: "\(bytes.count - dataStart)")
        }
        return try bytes[dataStart...].withUnsafeBytes { try Tensor(shape: shape, dtype: dtype, bytes: $0) }
    }
}
