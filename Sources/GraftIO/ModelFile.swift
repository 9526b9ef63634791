import Foundation
import GraftCore
import GraftDL4J
import GraftKeras

/// The model file formats Graft reads, recognised by content rather than by extension.
public enum ModelFormat: String, Sendable, CaseIterable {
    /// Keras full-model HDF5 (`.h5`, `.hdf5`, any name): Keras 1, 2, tf.keras, Keras 3 legacy.
    case kerasH5 = "keras-h5"
    /// A Keras architecture JSON with a weights-only HDF5 file given separately.
    case kerasJSON = "keras-weights+json"
    /// A Keras 3 `.keras` archive.
    case keras3 = "keras"
    /// A DL4J ModelSerializer zip (`.zip`, `.bin`, any name).
    case dl4jZip = "dl4j"
    /// A DL4J configuration JSON without parameters.
    case dl4jConfig = "dl4j-config"
}

/// Loading models from files: one entry point for every format.
public enum ModelFile {
    static let hdf5Signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Tells which format a file holds by looking at its bytes.
    public static func detectFormat(path: String) throws -> ModelFormat {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw GraftError(.io, "cannot open file", file: path)
        }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 4096)) ?? Data())
        // HDF5 puts its signature at 0, or after a user block at 512, 1024, 2048, ...
        for offset in [0, 512, 1024, 2048] where head.count >= offset + 8 {
            if Array(head[offset..<offset + 8]) == hdf5Signature { return .kerasH5 }
        }
        if ZipArchive.looksLikeZip(path: path) {
            let zip = try ZipArchive(path: path)
            if zip.contains("configuration.json") { return .dl4jZip }
            if zip.contains("config.json") && (zip.contains("model.weights.h5") || zip.contains("model.weights.npz")) {
                return .keras3
            }
            throw GraftError(.unsupported, "zip archive is neither a DL4J model nor a Keras 3 archive", file: path,
                             location: "archive entries",
                             expected: "configuration.json (DL4J) or config.json + model.weights.h5 (Keras 3)",
                             found: "entries \(zip.entryNames.prefix(6).joined(separator: ", "))")
        }
        if let first = head.first(where: { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }), first == UInt8(ascii: "{") {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw GraftError(.io, "cannot read file", file: path)
            }
            let json: JSONValue
            do { json = try JSONValue.parse(bytes: [UInt8](data)) } catch { throw error.graftError(file: path) }
            if json["confs"] != nil || json["vertices"] != nil { return .dl4jConfig }
            if json["class_name"] != nil || json["config"] != nil { return .kerasJSON }
        }
        throw GraftError(.unsupported, "unrecognised model file", file: path, field: "signature",
                         expected: "Keras HDF5, Keras 3 .keras, Keras JSON config, DL4J zip or DL4J configuration JSON",
                         found: head.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " "))
    }

    /// Reads any supported model. A Keras JSON config needs `weights` (its weights-only HDF5).
    /// A freeze manifest beside the model (`<path>.graft.json`) restores the freeze states and
    /// history the format lost; one that does not match the file (its output SHA-256 differs)
    /// or cannot be read is ignored, with the reason in `source.extras["manifestWarning"]`.
    public static func load(path: String, weights: String? = nil) throws -> Graph {
        let graph = try loadWithoutManifest(path: path, weights: weights)
        return applyingManifest(to: graph, modelPath: path)
    }

    static func applyingManifest(to graph: Graph, modelPath path: String) -> Graph {
        let manifestPath = FreezeManifest.path(forModel: path)
        guard FileManager.default.fileExists(atPath: manifestPath) else { return graph }
        var warning: String
        do {
            let manifest = try FreezeManifest.read(path: manifestPath)
            let actual = try SHA256.hex(fileAt: path)
            if manifest.output.sha256 == actual { return manifest.apply(to: graph) }
            warning = "\(manifestPath) ignored: its output SHA-256 \(manifest.output.sha256 ?? "null") does not match the file (\(actual))"
        } catch let error as GraftError {
            warning = "\(manifestPath) ignored: \(error.description)"
        } catch {
            warning = "\(manifestPath) ignored: \(error)"
        }
        var g = graph
        if case .object(var extras) = g.source.extras {
            extras["manifestWarning"] = .string(warning)
            g.source.extras = .object(extras)
        } else {
            g.source.extras = .object(["manifestWarning": .string(warning)])
        }
        return g
    }

    /// Reads a model without looking for its freeze manifest.
    public static func loadWithoutManifest(path: String, weights: String? = nil) throws -> Graph {
        guard FileManager.default.fileExists(atPath: path) else {
            throw GraftError(.io, "no such file", file: path)
        }
        switch try detectFormat(path: path) {
        case .kerasH5, .keras3:
            return try KerasReader.read(path: path)
        case .kerasJSON:
            guard let weights else {
                throw GraftError(.invalidArgument, "a Keras JSON config needs its weights file (--weights W.h5)", file: path)
            }
            return try KerasReader.read(configPath: path, weightsPath: weights)
        case .dl4jZip:
            return try DL4JReader.read(path: path)
        case .dl4jConfig:
            return try DL4JReader.readConfiguration(path: path)
        }
    }
}
