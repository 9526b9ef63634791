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
        let arrays = try NPZ.read(path: path)
        return try keys.map { key in
            guard let t = arrays[key] else {
                throw GraftError(.missingWeights, "npz without key", file: path, location: key,
                                 found: arrays.keys.joined(separator: ", "))
            }
            return t
        }
    }

    static func loadNPY(path: String) throws -> Tensor {
        try GraftCore.NPY.read(path: path)
    }
}
