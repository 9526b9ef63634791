import Foundation
import GraftCore
import OrderedCollections

/// Writes a graph as a Keras model: a tf.keras 2.x full-model `.h5` (loadable by tf-keras 2.x
/// and by Keras 3's legacy HDF5 loader) or a Keras 3 `.keras` archive. See
/// `formats/keras-hdf5.md` ("Writing") for the layouts.
///
/// Same-format round trips keep each layer's original config (with `trainable` from the IR's
/// freeze state) and its weight names; other nodes get configs generated from their ops.
/// What Keras cannot express is an error naming the node; exact rewrites (e.g. a DL4J output
/// layer as a Dense, all-zero Graves peepholes dropped) are listed in the returned report.
public enum KerasWriter {
    public enum Container { case h5, keras }

    public static func write(_ graph: Graph, to path: String, container: Container) throws -> ConversionReport {
        var report = ConversionReport()
        let dialect: KerasDialect = container == .h5 ? .tfKeras2 : .keras3
        let plan: KerasModelPlan
        do {
            plan = try KerasModelPlan.make(graph: graph, dialect: dialect, report: &report)
        } catch let e as GraftError {
            throw e.inFile(path)
        }
        switch container {
        case .h5:
            try AtomicFile.write(to: path) { temp in try writeH5(plan, graph: graph, to: temp, report: &report) }
        case .keras:
            let weights = try writeKeras3Weights(plan, path: path)
            let config = modelConfig(plan, dialect: .keras3)
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyy-MM-dd@HH:mm:ss"
            let metadata: JSONValue = .object(["keras_version": .string(KerasModelPlan.keras3Version),
                                               "date_saved": .string(formatter.string(from: Date()))])
            let bytes = try ZipWriter.archive([("metadata.json", Array(metadata.serialized().utf8)),
                                               ("config.json", Array(config.serialized().utf8)),
                                               ("model.weights.h5", weights)])
            try AtomicFile.write(Data(bytes), to: path)
            if graph.source.extras["training_config"] != nil {
                report.add(.dropped, node: nil, "training_config not carried into the Keras 3 archive")
            }
        }
        return report
    }

    // MARK: HDF5

    static func writeH5(_ plan: KerasModelPlan, graph: Graph, to path: String, report: inout ConversionReport) throws {
        let file = try HDF5WritableFile(creating: path)
        let root = try file.root()
        try root.setStringAttribute("backend", "tensorflow", utf8: true)
        try root.setStringAttribute("keras_version", KerasModelPlan.tfKerasVersion, utf8: true)
        try root.setStringAttribute("model_config", modelConfig(plan, dialect: .tfKeras2).serialized())
        if let training = graph.source.extras["training_config"], KerasModelPlan.sourceMajor(graph.source) == 2 {
            try root.setStringAttribute("training_config", training.stringValue ?? training.serialized())
        } else if graph.source.extras["training_config"] != nil || graph.source.extras["compile_config"] != nil {
            report.add(.dropped, node: nil, "training configuration of another Keras generation not carried")
        }
        let weightsGroup = try root.group("model_weights")
        let stored = plan.layers.filter { !(plan.isSequential && $0.className == "InputLayer") }
        try weightsGroup.setStringArrayAttribute("layer_names", stored.map(\.name))
        try weightsGroup.setStringAttribute("backend", "tensorflow", utf8: true)
        try weightsGroup.setStringAttribute("keras_version", KerasModelPlan.tfKerasVersion, utf8: true)
        for layer in stored {
            let group = try weightsGroup.group(layer.name)
            try group.setStringArrayAttribute("weight_names", layer.weights.map(\.name))
            for w in layer.weights { try group.writeDataset(w.name, w.tensor, sourceRow: plan.sourceRow(for: w.tensor)) }
        }
        try file.close()
    }

    /// Keras 3's `model.weights.h5`: each layer's variables at `layers/<snake class>[_k]/<sub>/vars/<i>`.
    static func writeKeras3Weights(_ plan: KerasModelPlan, path: String) throws -> [UInt8] {
        let url = URL(fileURLWithPath: path)
        let temp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(UInt32.random(in: 0...UInt32.max)).weights.graft.tmp").path
        defer { try? FileManager.default.removeItem(atPath: temp) }
        let file = try HDF5WritableFile(creating: temp)
        let root = try file.root()
        _ = try root.group("vars")
        var counters: [String: Int] = [:]
        for layer in plan.layers {
            let base = KerasWriterNames.snakeCase(className: layer.className)
            let layerPath: String
            if let n = counters[base] { counters[base] = n + 1; layerPath = "layers/\(base)_\(n + 1)" } else {
                counters[base] = 0; layerPath = "layers/\(base)"
            }
            _ = try root.group(layerPath + "/vars")
            var index = 0
            for group in layer.keras3VariableGroups {
                let groupPath = group.path.isEmpty ? layerPath : layerPath + "/" + group.path
                // Every object on the way has its own (possibly empty) `vars`, as Keras writes.
                var prefix = layerPath
                for part in group.path.split(separator: "/").dropLast() {
                    prefix += "/" + part
                    if part != "vars" { _ = try root.group(prefix + "/vars") }
                }
                let vars = try root.group(groupPath)
                for i in 0..<group.count where index < layer.weights.count {
                    let tensor = layer.weights[index].tensor
                    try vars.writeDataset(String(i), tensor, sourceRow: plan.sourceRow(for: tensor))
                    index += 1
                }
            }
        }
        try file.close()
        guard let data = FileManager.default.contents(atPath: temp) else {
            throw GraftError(.io, "cannot read back the weights written", file: temp)
        }
        return [UInt8](data)
    }

    // MARK: Model config

    static func modelConfig(_ plan: KerasModelPlan, dialect: KerasDialect) -> JSONValue {
        var layers: [JSONValue] = []
        for layer in plan.layers {
            var entry: OrderedDictionary<String, JSONValue> = [:]
            if dialect == .keras3 { entry["module"] = layer.keras3Fields["module"] ?? .string("keras.layers") }
            entry["class_name"] = .string(layer.className)
            entry["config"] = .object(layer.config)
            if dialect == .keras3 {
                entry["registered_name"] = layer.keras3Fields["registered_name"] ?? .null
                if let build = layer.keras3Fields["build_config"] { entry["build_config"] = build }
            }
            if !plan.isSequential {
                entry["name"] = .string(layer.name)
                entry["inbound_nodes"] = .array(layer.calls.map {
                    inboundNode($0.inputs, kwargs: $0.kwargs, dialect: dialect, shapes: plan.tensorShapes)
                })
            }
            layers.append(.object(entry))
        }
        func refs(_ list: [KerasTensorReference]) -> JSONValue {
            .array(list.map { .array([.string($0.layer), JSONValue($0.call), JSONValue($0.tensor)]) })
        }
        var config: OrderedDictionary<String, JSONValue> = ["name": .string(plan.name)]
        if dialect == .keras3 { config["trainable"] = .bool(true) }
        config["layers"] = .array(layers)
        if !plan.isSequential {
            config["input_layers"] = refs(plan.inputs)
            config["output_layers"] = refs(plan.outputs)
        }
        var model: OrderedDictionary<String, JSONValue> = [:]
        switch dialect {
        case .tfKeras2:
            model["class_name"] = .string(plan.isSequential ? "Sequential" : "Functional")
            model["config"] = .object(config)
            model["keras_version"] = .string(KerasModelPlan.tfKerasVersion)
            model["backend"] = .string("tensorflow")
        case .keras3:
            model["module"] = .string(plan.isSequential ? "keras" : "keras.src.models.functional")
            model["class_name"] = .string(plan.isSequential ? "Sequential" : "Functional")
            model["config"] = .object(config)
            model["registered_name"] = plan.isSequential ? .null : .string("Functional")
            if plan.isSequential, let input = plan.layers.first?.config["batch_shape"] {
                model["build_config"] = .object(["input_shape": input])
            }
            model["compile_config"] = .null
        }
        return .object(model)
    }

    /// One call's inputs: tf.keras 2 `[[layer, call, tensor, kwargs], …]`; Keras 3
    /// `{"args": [tensor or [tensors]], "kwargs": {…}}`.
    static func inboundNode(_ inputs: [KerasTensorReference], kwargs: JSONValue, dialect: KerasDialect,
                            shapes: [String: [Int?]]) -> JSONValue {
        switch dialect {
        case .tfKeras2:
            return .array(inputs.map { .array([.string($0.layer), JSONValue($0.call), JSONValue($0.tensor), kwargs]) })
        case .keras3:
            let tensors: [JSONValue] = inputs.map { r in
                let shape: JSONValue = shapes[KerasModelPlan.key(r)].map { s in
                    .array([.null] + s.map { $0.map { JSONValue($0) } ?? .null })
                } ?? .null
                return .object(["class_name": .string("__keras_tensor__"),
                         "config": .object(["shape": shape, "dtype": .string("float32"),
                                            "keras_history": .array([.string(r.layer), JSONValue(r.call), JSONValue(r.tensor)])])])
            }
            let args: JSONValue = tensors.count == 1 ? .array(tensors) : .array([.array(tensors)])
            return .object(["args": args, "kwargs": kwargs])
        }
    }
}
