import Foundation
import GraftCore
import OrderedCollections

/// One layer's weights as the file stores them (before any layout conversion), for
/// structure checks and `inspect`.
public struct KerasLayerRecord: Sendable {
    /// The layer name; nested layers are `<model>/<layer>`.
    public var name: String
    public var className: String
    public var trainable: Bool
    /// The arrays in file order (`weight_names` order, or `vars/<i>` order for Keras 3 archives).
    public var weights: [KerasWeight]
}

/// Reads Keras models into the canonical graph: full-model HDF5 (`.h5`, Keras 1, 2, tf.keras
/// and Keras 3's legacy writer), a JSON config plus a weights-only HDF5 file, and Keras 3
/// `.keras` archives. See `formats/keras-hdf5.md` for the layouts and weight mappings.
public enum KerasReader {
    // MARK: Public API

    /// Reads a full-model `.h5` or a `.keras` archive (recognised by content).
    public static func read(path: String) throws -> Graph {
        try open(path: path).graph()
    }

    /// Reads a model architecture JSON (`model.to_json()`) with its weights-only HDF5 file.
    public static func read(configPath: String, weightsPath: String) throws -> Graph {
        try open(configPath: configPath, weightsPath: weightsPath).graph()
    }

    /// Every layer's stored weights, flattened through nested models, without mapping them.
    public static func readLayers(path: String) throws -> [KerasLayerRecord] {
        try open(path: path).layers()
    }

    public static func readLayers(configPath: String, weightsPath: String) throws -> [KerasLayerRecord] {
        try open(configPath: configPath, weightsPath: weightsPath).layers()
    }

    /// True when a layer is carried as an opaque op: Python code (`Lambda`), TensorFlow ops,
    /// or a class from outside Keras (a non-Keras `module`, or a custom `registered_name`).
    static func isOpaque(_ layer: KerasLayerSpec) -> Bool {
        if KerasLayerRegistry.opaqueClassNames.contains(layer.className) { return true }
        if let module = layer.module, !module.hasPrefix("keras") { return true }
        if let registered = layer.registeredName, registered != layer.className, registered.contains(">") {
            return true
        }
        return false
    }

    // MARK: Opening

    /// A parsed model and where its weights are, before mapping.
    struct Source {
        var format: String
        var path: String
        var model: KerasModelSpec
        var producer: KerasProducer
        var store: any KerasWeightStore
        var extras: OrderedDictionary<String, JSONValue>
        /// Files or handles to keep alive while reading (the archive's extracted weights).
        var cleanup: TemporaryFile?

        func graph() throws -> Graph {
            var builder = KerasGraphBuilder(producer: producer, file: path, store: store)
            let outputs = try builder.build(model)
            var nodes = builder.nodes
            KerasReader.assignImageLayouts(&nodes)
            var extras = self.extras
            extras["model_class"] = .string(model.className)
            extras["model_name"] = .string(model.name)
            // The model config as read, so a same-format writer can reproduce model-level fields.
            extras["model_config"] = model.raw
            let producerText = "keras \(producer.version)" + (producer.backend.map { " / \($0)" } ?? "")
            return Graph(nodes: nodes, outputs: outputs,
                         source: SourceInfo(format: format, producer: producerText, path: path, extras: .object(extras)))
        }

        func layers() throws -> [KerasLayerRecord] {
            var records: [KerasLayerRecord] = []
            func walk(_ model: KerasModelSpec, scope: [KerasLayerSpec]) throws {
                for layer in model.layers {
                    if let sub = layer.submodel { try walk(sub, scope: scope + [layer]); continue }
                    let name = (scope + [layer]).map(\.name).joined(separator: "/")
                    let weights = try store.weights(path: scope + [layer])
                    records.append(KerasLayerRecord(name: name, className: layer.className, trainable: layer.trainable,
                                                    weights: weights))
                }
            }
            try walk(model, scope: [])
            return records
        }
    }

    static func open(path: String) throws -> Source {
        do {
            if ZipArchive.looksLikeZip(path: path) { return try openArchive(path: path) }
            let file = try HDF5File(path: path)
            let root = try file.root()
            guard let configText = try root.stringAttribute("model_config") else {
                throw GraftError(.invalidArgument, "HDF5 file without model_config: a weights-only file needs its JSON config",
                                 file: path, field: "model_config", expected: "a full model (model_config attribute)",
                                 found: "a weights-only file (give its JSON config as MODEL and this file as --weights)")
            }
            let config = try parseJSON(configText, file: path, what: "model_config")
            let model = try KerasModelConfigParser.parseModel(config, file: path)
            let weightsGroup = try root.contains("model_weights") ? try root.group("model_weights") : root
            let producer = try detectProducer(root: root, weights: weightsGroup, config: config, model: model)
            var extras: OrderedDictionary<String, JSONValue> = [:]
            if let training = try root.stringAttribute("training_config") {
                extras["training_config"] = (try? JSONValue.parse(training)) ?? .string(training)
            }
            extras["keras_version"] = .string(producer.version)
            if let backend = producer.backend { extras["backend"] = .string(backend) }
            if try root.contains("optimizer_weights") { extras["has_optimizer_weights"] = .bool(true) }
            return Source(format: "keras-h5", path: path, model: model, producer: producer,
                          store: try KerasLegacyWeightStore(group: weightsGroup), extras: extras, cleanup: nil)
        } catch let e as GraftError {
            throw e.inFile(path)
        }
    }

    static func open(configPath: String, weightsPath: String) throws -> Source {
        let text: String
        do {
            text = try String(contentsOfFile: configPath, encoding: .utf8)
        } catch {
            throw GraftError(.io, "cannot read the model config", file: configPath)
        }
        let config = try parseJSON(text, file: configPath, what: "model config")
        let model = try KerasModelConfigParser.parseModel(config, file: configPath)
        do {
            let file = try HDF5File(path: weightsPath)
            let root = try file.root()
            let weightsGroup = try root.contains("model_weights") ? try root.group("model_weights") : root
            var producer = try detectProducer(root: root, weights: weightsGroup, config: config, model: model)
            if let v = config["keras_version"]?.stringValue, (try? root.stringAttribute("keras_version")) == nil {
                producer = KerasProducer(major: majorVersion(v) ?? producer.major, version: v,
                                         backend: config["backend"]?.stringValue ?? producer.backend)
            }
            var extras: OrderedDictionary<String, JSONValue> = [:]
            extras["keras_version"] = .string(producer.version)
            if let backend = producer.backend { extras["backend"] = .string(backend) }
            extras["weights_path"] = .string(weightsPath)
            return Source(format: "keras-weights+json", path: configPath, model: model, producer: producer,
                          store: try KerasLegacyWeightStore(group: weightsGroup), extras: extras, cleanup: nil)
        } catch let e as GraftError {
            throw e.inFile(weightsPath)
        }
    }

    static func openArchive(path: String) throws -> Source {
        let archive = try ZipArchive(path: path)
        guard archive.contains("config.json") else {
            throw GraftError(.malformed, "zip without config.json: not a Keras 3 archive", file: path, location: "config.json")
        }
        let config = try parseJSON(String(decoding: try archive.read("config.json"), as: UTF8.self),
                                   file: path, what: "config.json")
        var metadata: JSONValue = .object([:])
        if archive.contains("metadata.json") {
            metadata = try parseJSON(String(decoding: try archive.read("metadata.json"), as: UTF8.self),
                                     file: path, what: "metadata.json")
        }
        guard archive.contains("model.weights.h5") else {
            // Weights in the .npz store are there but not read; no weights at all are missing weights.
            let npz = archive.contains("model.weights.npz")
            throw GraftError(npz ? .unsupported : .missingWeights, "Keras 3 archive without model.weights.h5", file: path,
                             location: "model.weights.h5", expected: "model.weights.h5",
                             found: npz ? "model.weights.npz" : "no weights entry")
        }
        let temporary = try TemporaryFile(zipPath: path, entry: "model.weights.h5", suffix: ".weights.h5")
        let model = try KerasModelConfigParser.parseModel(config, file: path)
        let version = metadata["keras_version"]?.stringValue ?? "3"
        let producer = KerasProducer(major: majorVersion(version) ?? 3, version: version,
                                     backend: metadata["backend"]?.stringValue)
        let root: HDF5Group
        do {
            root = try HDF5File(path: temporary.path).root()
        } catch let e as GraftError {
            var located = e
            located.file = path
            located.location = "model.weights.h5" + (e.location.map { ": \($0)" } ?? "")
            throw located
        }
        var extras: OrderedDictionary<String, JSONValue> = ["keras_version": .string(version)]
        for key in ["compile_config", "build_config", "module", "registered_name"] {
            if let v = config[key], !v.isNull { extras[key] = v }
        }
        extras["metadata"] = metadata
        return Source(format: "keras3", path: path, model: model, producer: producer,
                      store: KerasArchiveWeightStore(root: root), extras: extras, cleanup: temporary)
    }

    // MARK: Helpers

    static func parseJSON(_ text: String, file: String, what: String) throws -> JSONValue {
        do {
            return try JSONValue.parse(text)
        } catch let e as GraftError {
            var located = e
            located.file = file
            located.location = located.location ?? what
            throw located
        }
    }

    static func majorVersion(_ version: String) -> Int? {
        version.split(separator: ".").first.flatMap { Int($0.prefix { $0.isNumber }) }
    }

    /// `keras_version` / `backend` from the root or the weights group; Keras 1 files may lack
    /// both, and are recognised by Keras 1 config field names (`output_dim`, `nb_filter`, …).
    static func detectProducer(root: HDF5Group, weights: HDF5Group, config: JSONValue,
                               model: KerasModelSpec) throws -> KerasProducer {
        let version = try root.stringAttribute("keras_version") ?? weights.stringAttribute("keras_version")
        let backend = try root.stringAttribute("backend") ?? weights.stringAttribute("backend")
        if let version, let major = majorVersion(version) {
            return KerasProducer(major: major, version: version, backend: backend)
        }
        let major = usesKeras1Fields(model) ? 1 : 2
        return KerasProducer(major: major, version: version ?? "\(major)", backend: backend)
    }

    static let keras1Fields: Set<String> = ["output_dim", "nb_filter", "border_mode", "init", "inner_activation",
                                            "dim_ordering", "input_dtype", "W_regularizer", "subsample"]

    static func usesKeras1Fields(_ model: KerasModelSpec) -> Bool {
        for layer in model.layers {
            if let sub = layer.submodel, usesKeras1Fields(sub) { return true }
            if let keys = layer.config.objectValue?.keys, keys.contains(where: keras1Fields.contains) { return true }
        }
        return false
    }

    /// Image inputs default to channels-last (and rank-2 inputs to [time, features]); an input
    /// read directly by a channels-first convolution, pooling, padding or upsampling layer is
    /// channels-first (for Conv1D: [channels, steps]).
    static func assignImageLayouts(_ nodes: inout [Node]) {
        for i in nodes.indices {
            guard case .input(var attributes) = nodes[i].op,
                  attributes.layout == .channelsLast || attributes.layout == .sequenceTimeMajorFeatures else { continue }
            let name = nodes[i].name
            let consumers = nodes.filter { $0.inputs.contains { $0.node == name } }
            if consumers.contains(where: { dataFormat(of: $0.op) == .channelsFirst }) {
                attributes.layout = .channelsFirst
                nodes[i].op = .input(attributes)
            }
        }
    }

    static func dataFormat(of op: Op) -> DataFormat? {
        switch op {
        case .conv(let a): return a.dataFormat
        case .pooling(let a): return a.dataFormat
        case .globalPooling(let a): return a.dataFormat
        case .zeroPadding(let a), .cropping(let a): return a.dataFormat
        case .upSampling(let a): return a.dataFormat
        case .timeDistributed(let inner): return dataFormat(of: inner)
        default: return nil
        }
    }
}

/// A file in the temporary directory holding extracted bytes, deleted when released.
final class TemporaryFile: @unchecked Sendable {
    let path: String

    init(bytes: [UInt8], suffix: String) throws {
        let directory = NSTemporaryDirectory()
        path = (directory as NSString).appendingPathComponent("graft-\(UUID().uuidString)\(suffix)")
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw GraftError(.io, "cannot write a temporary file", file: path)
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
