import GraftCore

/// A reference to one output tensor of one call of a layer, as Keras configs write it:
/// `[layer name, node index, tensor index]` (node index = which call of the layer).
struct KerasTensorRef: Hashable, Sendable, CustomStringConvertible {
    var layer: String
    var node: Int
    var tensor: Int
    var description: String { "\(layer)[\(node)][\(tensor)]" }
}

/// One call of a layer: the tensors it consumes and the call's keyword arguments.
struct KerasCall: Sendable {
    var inputs: [KerasTensorRef]
    var kwargs: JSONValue
}

/// One layer entry of a model config.
struct KerasLayerSpec: Sendable {
    var name: String
    var className: String
    /// The layer's `config` object.
    var config: JSONValue
    /// The whole layer entry (`class_name`, `config`, `inbound_nodes`, `module`, …).
    var raw: JSONValue
    /// The layer's calls inside its model (empty for Sequential members and input layers).
    var calls: [KerasCall]
    /// Where a Keras 3 archive stores this layer's variables, relative to its model's group
    /// (`layers/dense_1`).
    var archivePath: String
    /// A nested model, when this layer is a Sequential or Functional model.
    var submodel: KerasModelSpec?

    var module: String? { raw["module"]?.stringValue }
    var registeredName: String? { raw["registered_name"]?.stringValue }
    var trainable: Bool { config["trainable"]?.boolValue ?? true }
}

/// A model config: Sequential (a chain) or Functional (a graph with named inputs/outputs).
struct KerasModelSpec: Sendable {
    var name: String
    var className: String
    var isSequential: Bool
    var layers: [KerasLayerSpec]
    var inputs: [KerasTensorRef]
    var outputs: [KerasTensorRef]
    /// The model's whole config entry, for `SourceInfo.extras`.
    var raw: JSONValue
}

/// Parses Keras model configs of every generation (see `formats/keras-hdf5.md`).
enum KerasModelConfigParser {
    static let modelClassNames: Set<String> = ["Sequential", "Model", "Functional"]

    static func error(_ message: String, file: String?, location: String? = nil, field: String? = nil,
                      expected: String? = nil, found: String? = nil) -> GraftError {
        GraftError(.malformed, message, file: file, location: location, field: field, expected: expected, found: found)
    }

    /// Parses `{"class_name": ..., "config": ...}` of a whole model.
    static func parseModel(_ json: JSONValue, file: String?, depth: Int = 0) throws -> KerasModelSpec {
        guard depth < 32 else {
            let name = json["config"]?["name"]?.stringValue ?? "?"
            throw error("models nested too deeply", file: file, location: "nested model '\(name)'", field: "layers",
                        expected: "at most 32 levels of nested models", found: "more than \(depth)")
        }
        guard let className = json["class_name"]?.stringValue else {
            throw error("model config without class_name", file: file, field: "class_name")
        }
        guard modelClassNames.contains(className) else {
            throw GraftError(.unsupported, "model class Graft cannot read", file: file, field: "class_name",
                             expected: "Sequential, Model or Functional", found: className)
        }
        guard let config = json["config"] else { throw error("model config without config", file: file, field: "config") }
        let layerList: [JSONValue]
        let name: String
        if let list = config.arrayValue {
            // Keras <= 2.1 Sequential: the config is the bare layer list.
            layerList = list
            name = "sequential"
        } else if let list = config["layers"]?.arrayValue {
            layerList = list
            name = config["name"]?.stringValue ?? className.lowercased()
        } else {
            throw error("model config without a layer list", file: file, location: "model", field: "layers")
        }
        let isSequential = className == "Sequential"
        var counters: [String: Int] = [:]
        var layers: [KerasLayerSpec] = []
        for (i, entry) in layerList.enumerated() {
            guard let layerClass = entry["class_name"]?.stringValue else {
                throw error("layer without class_name", file: file, location: "layer #\(i)", field: "class_name")
            }
            let layerConfig = entry["config"] ?? .object([:])
            guard let layerName = entry["name"]?.stringValue ?? layerConfig["name"]?.stringValue else {
                throw error("layer without a name", file: file, location: "layer #\(i) (\(layerClass))", field: "name")
            }
            let calls = isSequential ? [] : try parseCalls(entry["inbound_nodes"], file: file, layer: layerName)
            // Keras 3 archives name a container's children by snake-case class name with a counter.
            let snake = snakeCase(layerClass)
            let count = counters[snake, default: 0]
            counters[snake] = count + 1
            let archivePath = "layers/" + (count == 0 ? snake : "\(snake)_\(count)")
            var submodel: KerasModelSpec? = nil
            if modelClassNames.contains(layerClass) {
                submodel = try parseModel(entry, file: file, depth: depth + 1)
            }
            layers.append(KerasLayerSpec(name: layerName, className: layerClass, config: layerConfig, raw: entry,
                                         calls: calls, archivePath: archivePath, submodel: submodel))
        }
        var inputs: [KerasTensorRef] = []
        var outputs: [KerasTensorRef] = []
        if !isSequential {
            inputs = try parseRefList(config["input_layers"], file: file, field: "input_layers")
            outputs = try parseRefList(config["output_layers"], file: file, field: "output_layers")
        }
        return KerasModelSpec(name: name, className: className, isSequential: isSequential, layers: layers,
                              inputs: inputs, outputs: outputs, raw: json)
    }

    /// `inbound_nodes` in Keras 1/2 form (`[[[name, node, tensor, kwargs], ...], ...]`) or
    /// Keras 3 form (`[{"args": [...], "kwargs": {...}}]` with `__keras_tensor__` entries).
    static func parseCalls(_ value: JSONValue?, file: String?, layer: String) throws -> [KerasCall] {
        guard let nodes = value?.arrayValue else { return [] }
        return try nodes.map { node -> KerasCall in
            if let refs = node.arrayValue {
                let inputs = try refs.map { try parseRef($0, file: file, field: "inbound_nodes", layer: layer) }
                let kwargs = refs.first?[3] ?? .object([:])
                return KerasCall(inputs: inputs, kwargs: kwargs)
            }
            if node.objectValue != nil {
                var inputs: [KerasTensorRef] = []
                try collectKerasTensors(node["args"] ?? .array([]), into: &inputs, file: file, layer: layer)
                return KerasCall(inputs: inputs, kwargs: node["kwargs"] ?? .object([:]))
            }
            throw error("unreadable inbound node", file: file, location: "layer '\(layer)'", field: "inbound_nodes",
                        found: node.description)
        }
    }

    /// Keras 3 call arguments: every `__keras_tensor__` in order, through nested lists.
    static func collectKerasTensors(_ value: JSONValue, into out: inout [KerasTensorRef], file: String?, layer: String) throws {
        if value["class_name"]?.stringValue == "__keras_tensor__" {
            guard let history = value["config"]?["keras_history"] else {
                throw error("keras tensor without keras_history", file: file, location: "layer '\(layer)'",
                            field: "inbound_nodes")
            }
            out.append(try parseRef(history, file: file, field: "keras_history", layer: layer))
        } else if let list = value.arrayValue {
            for v in list { try collectKerasTensors(v, into: &out, file: file, layer: layer) }
        }
    }

    static func parseRef(_ value: JSONValue, file: String?, field: String, layer: String) throws -> KerasTensorRef {
        guard let name = value[0]?.stringValue, let node = value[1]?.intValue, let tensor = value[2]?.intValue,
              node >= 0, tensor >= 0 else {
            throw error("unreadable tensor reference", file: file, location: "layer '\(layer)'", field: field,
                        expected: "[layer name, node index, tensor index]", found: value.description)
        }
        return KerasTensorRef(layer: name, node: node, tensor: tensor)
    }

    /// `input_layers` / `output_layers`: a list of refs, or (Keras 3, one tensor) a single ref.
    static func parseRefList(_ value: JSONValue?, file: String?, field: String) throws -> [KerasTensorRef] {
        guard let list = value?.arrayValue else {
            throw error("functional model without \(field)", file: file, location: "model", field: field)
        }
        if list.first?.stringValue != nil { return [try parseRef(.array(list), file: file, field: field, layer: "model")] }
        return try list.map { try parseRef($0, file: file, field: field, layer: "model") }
    }

    /// Keras 3's `to_snake_case`: `BatchNormalization` → `batch_normalization`, `LSTM` → `lstm`,
    /// `Conv2D` → `conv2d`.
    static func snakeCase(_ name: String) -> String {
        let chars = Array(name.filter { $0.isLetter || $0.isNumber || $0 == "_" })
        // Pass 1: "(.)([A-Z][a-z]+)" → "\1_\2".
        var pass1: [Character] = []
        for (i, c) in chars.enumerated() {
            if i > 0, c.isUppercase, i + 1 < chars.count, chars[i + 1].isLowercase { pass1.append("_") }
            pass1.append(c)
        }
        // Pass 2: "([a-z])([A-Z])" → "\1_\2".
        var pass2: [Character] = []
        for (i, c) in pass1.enumerated() {
            if i > 0, c.isUppercase, pass1[i - 1].isLowercase { pass2.append("_") }
            pass2.append(c)
        }
        return String(pass2).lowercased()
    }
}
