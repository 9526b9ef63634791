import Foundation
import GraftCore
import GraftDL4J
import OrderedCollections

/// Arrays on disk as the CLI uses them: `.npy`, `.npz`, and Nd4j binary arrays.
public enum ArrayFile {
    /// The tensors of the given files, in order: a `.npy` gives one; a `.npz` gives its
    /// `input_0`, `input_1`, … arrays when it has them (the corpus convention), else all of them.
    public static func readInputs(_ paths: [String]) throws -> [Tensor] {
        var out: [Tensor] = []
        for path in paths {
            if path.hasSuffix(".npz") {
                let arrays = try NPZ.read(path: path)
                let inputs = arrays.filter { $0.key.hasPrefix("input_") }
                out += (inputs.isEmpty ? arrays : inputs).values
            } else {
                out.append(try read(path))
            }
        }
        return out
    }

    /// The expected outputs in a `.npz` (`output_0`, … when present, else all arrays) or one `.npy`.
    public static func readOutputs(_ path: String) throws -> [Tensor] {
        guard path.hasSuffix(".npz") else { return [try read(path)] }
        let arrays = try NPZ.read(path: path)
        let outputs = arrays.filter { $0.key.hasPrefix("output_") }
        return Array((outputs.isEmpty ? arrays : outputs).values)
    }

    /// One array from a `.npy` file or an Nd4j binary array file (recognised by content).
    public static func read(_ path: String) throws -> Tensor {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw GraftError(.io, "cannot open file", file: path) }
        let head = [UInt8]((try? handle.read(upToCount: 6)) ?? Data())
        try? handle.close()
        if head == [0x93] + Array("NUMPY".utf8) { return try NPY.read(path: path) }
        return try Nd4jArray.read(path: path).tensor
    }

    /// Writes outputs: one tensor to `.npy`, or several (or any) to `.npz` as `output_0`, `output_1`, ….
    public static func writeOutputs(_ tensors: [Tensor], to path: String) throws {
        if path.hasSuffix(".npz") {
            var arrays = OrderedDictionary<String, Tensor>()
            for (i, t) in tensors.enumerated() { arrays["output_\(i)"] = t }
            try NPZ.write(arrays, to: path)
        } else {
            guard tensors.count == 1 else {
                throw GraftError(.invalidArgument, "the model has several outputs; write them to an .npz", file: path,
                                 expected: "1 output for .npy", found: "\(tensors.count)")
            }
            try NPY.write(tensors[0], to: path)
        }
    }

    /// Converts between a `.npy` and an Nd4j binary array (written in the current
    /// MIXED_DATA_TYPES encoding); the direction follows the output's extension.
    public static func convert(_ input: String, to output: String) throws {
        let tensor = try read(input)
        if output.hasSuffix(".npy") {
            try NPY.write(tensor, to: output)
        } else {
            try AtomicFile.write(Data(try Nd4jArray.encodeMixedDataTypes(tensor)), to: output)
        }
    }
}
