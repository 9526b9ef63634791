import GraftCore
import OrderedCollections

/// The Keras layers a graph becomes, in order, with the model's inputs and outputs.
///
/// A node read from the same Keras generation whose op and parameters the family reads back
/// unchanged keeps its original layer config verbatim (with `trainable` from the IR);
/// every other node gets a config generated from its op. A node whose activation only a
/// Keras layer can express (e.g. DL4J's leaky ReLU on a dense layer) becomes two layers.
struct KerasModelPlan {
    var name: String
    var layers: [KerasExportLayer] = []
    var inputs: [KerasTensorReference] = []
    var outputs: [KerasTensorReference] = []
    var isSequential = false

    static let tfKerasVersion = "2.21.0"
    static let keras3Version = "3.15.1"

    init(graph: Graph, dialect: KerasDialect, report: inout ConversionReport) throws {
        let sourceMajor = Self.sourceMajor(graph.source)
        let dialectMajor = dialect == .keras3 ? 3 : 2
        name = graph.source.extras["model_name"]?.stringValue ?? "model"
        var refs: [String: KerasTensorReference] = [:]
        var kerasNames: [String: String] = [:]
        var used: Set<String> = []
        func unique(_ wanted: String) -> String {
            var base = wanted.replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: ":", with: "_")
            if base.isEmpty { base = "layer" }
            var n = base
            var k = 1
            while used.contains(n) { n = "\(base)_\(k)"; k += 1 }
            used.insert(n)
            return n
        }
        func reference(_ out: NodeOutput) throws -> KerasTensorReference {
            guard var r = refs[out.node] else {
                throw GraftError(.invalidGraph, "node input refers to an unknown node", location: out.node)
            }
            r.tensor += out.output
            return r
        }
        let inputShapes: [String: [Int?]] = Dictionary(graph.nodes.compactMap { n in
            if case .input(let a) = n.op { return (n.name, a.shape) }
            return nil
        }, uniquingKeysWith: { a, _ in a })

        for node in graph.nodes {
            let trainable = JSONValue.bool(node.freeze == .trainable)
            if case .input(let a) = node.op {
                let layerName = unique(node.name)
                var shape = a.shape
                if a.layout == .sequenceFeaturesTime {
                    shape = shape.reversed()
                    report.add(.exactConversion, node: node.name,
                               "DL4J [batch, features, time] input written as a Keras [batch, time, features] input")
                }
                let batch: JSONValue = .array([.null] + shape.map { $0.map { JSONValue($0) } ?? .null })
                var config: OrderedDictionary<String, JSONValue> = [:]
                config[dialect == .keras3 ? "batch_shape" : "batch_input_shape"] = batch
                config["dtype"] = .string(a.dtype.rawValue)
                config["sparse"] = .bool(false)
                if dialect == .tfKeras2 { config["ragged"] = .bool(false) }
                config["name"] = .string(layerName)
                layers.append(KerasExportLayer(name: layerName, className: "InputLayer", config: config))
                refs[node.name] = KerasTensorReference(layer: layerName, call: 0, tensor: 0)
                inputs.append(KerasTensorReference(layer: layerName, call: 0, tensor: 0))
                continue
            }
            let callInputs = try node.inputs.map(reference)
            let kwargs = node.extras["callKwargs"] ?? .object([:])
            // A further call of a shared layer.
            if let shared = node.extras["sharedLayer"]?.stringValue, let layerName = kerasNames[shared],
               let index = layers.firstIndex(where: { $0.name == layerName }) {
                layers[index].calls.append((callInputs, kwargs))
                refs[node.name] = KerasTensorReference(layer: layerName, call: layers[index].calls.count - 1, tensor: 0)
                continue
            }
            let layerName = unique(node.name)
            kerasNames[node.name] = layerName
            let shapes = node.inputs.map { inputShapes[$0.node] ?? [] }
            if sourceMajor == dialectMajor,
               var layer = Self.verbatim(node, name: layerName, dialect: dialect, inputShapes: shapes) {
                layer.config["trainable"] = trainable
                layer.calls = [(callInputs, kwargs)]
                layers.append(layer)
                refs[node.name] = KerasTensorReference(layer: layerName, call: 0, tensor: 0)
                continue
            }
            if case .opaque(let a) = node.op, a.format == "keras" {
                throw GraftError(.unsupported, "a Keras \(a.className) layer can only be written to the Keras generation it was read from",
                                 location: "node '\(node.name)' (\(a.className))",
                                 expected: "Keras \(sourceMajor.map(String.init) ?? "?")", found: "Keras \(dialectMajor)")
            }
            let generator = KerasLayerConfigGenerator(dialect: dialect, node: node, name: layerName)
            let generated = try generator.generate()
            for note in generated.notes { report.add(.exactConversion, node: node.name, note) }
            var config: OrderedDictionary<String, JSONValue> = ["name": .string(layerName), "trainable": trainable,
                                                                "dtype": .string("float32")]
            for (k, v) in generated.fields { config[k] = v }
            var layer = KerasExportLayer(name: layerName, className: generated.className, config: config)
            layer.calls = [(callInputs, kwargs)]
            layer.weights = generated.weights.map { ("\(layerName)/\($0.short):0", $0.tensor) }
            layer.keras3VariableGroups = generated.variableGroups
            layers.append(layer)
            refs[node.name] = KerasTensorReference(layer: layerName, call: 0, tensor: 0)
            if let activation = generated.activationSplit {
                let actName = unique(layerName + "_activation")
                let act = try generator.activationLayer(activation)
                var actConfig: OrderedDictionary<String, JSONValue> = ["name": .string(actName), "trainable": trainable,
                                                                       "dtype": .string("float32")]
                for (k, v) in act.fields { actConfig[k] = v }
                var actLayer = KerasExportLayer(name: actName, className: act.className, config: actConfig)
                actLayer.calls = [([KerasTensorReference(layer: layerName, call: 0, tensor: 0)], .object([:]))]
                layers.append(actLayer)
                refs[node.name] = KerasTensorReference(layer: actName, call: 0, tensor: 0)
                report.add(.exactConversion, node: node.name,
                           "activation \(activation.name) written as a separate \(act.className) layer '\(actName)'")
            }
        }
        outputs = try graph.outputs.map(reference)
        isSequential = Self.isChain(layers: layers, inputs: inputs, outputs: outputs)
        if graph.source.extras["model_name"] == nil { name = isSequential ? "sequential" : "model" }
    }

    /// The Keras major version of a graph read from Keras (nil for other sources).
    static func sourceMajor(_ source: SourceInfo) -> Int? {
        switch source.format {
        case "keras3": return 3
        case "keras-h5", "keras-weights+json":
            guard let v = source.extras["keras_version"]?.stringValue else { return 2 }
            return KerasReader.majorVersion(v)
        default: return nil
        }
    }

    /// One input layer, then each layer called once on the previous layer's only output.
    static func isChain(layers: [KerasExportLayer], inputs: [KerasTensorReference], outputs: [KerasTensorReference]) -> Bool {
        guard inputs.count == 1, outputs.count == 1, let first = layers.first, first.className == "InputLayer" else { return false }
        var previous = first.name
        for layer in layers.dropFirst() {
            guard layer.className != "InputLayer", layer.calls.count == 1, layer.calls[0].inputs.count == 1,
                  layer.calls[0].inputs[0] == KerasTensorReference(layer: previous, call: 0, tensor: 0),
                  layer.calls[0].kwargs.objectValue?.isEmpty ?? true else { return false }
            previous = layer.name
        }
        return outputs[0] == KerasTensorReference(layer: previous, call: 0, tensor: 0)
    }

    /// The node's original Keras layer, when reading its config and the weights written back
    /// gives the node's op and parameters again; nil otherwise.
    static func verbatim(_ node: Node, name: String, dialect: KerasDialect, inputShapes: [[Int?]]) -> KerasExportLayer? {
        guard let raw = node.extras["keras"], let className = raw["class_name"]?.stringValue,
              var config = raw["config"]?.objectValue else { return nil }
        let originalNames = node.extras["kerasWeightNames"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let tensors = Array(node.parameters.values)
        if !node.op.isOpaque {
            guard let family = KerasLayerRegistry.family(for: className) else { return nil }
            let producer = dialect == .keras3
                ? KerasProducer(major: 3, version: keras3Version, backend: "tensorflow")
                : KerasProducer(major: 2, version: tfKerasVersion, backend: "tensorflow")
            let weights = tensors.enumerated().map { KerasWeight(name: "w\($0.offset)", tensor: $0.element) }
            let context = KerasLayerContext(name: name, className: className, config: .object(config), producer: producer,
                                            weights: weights, inputShapes: inputShapes, file: nil)
            guard let mapped = try? family.map(context), mapped.op == node.op,
                  Array(mapped.parameters.keys) == Array(node.parameters.keys),
                  zip(mapped.parameters.values, node.parameters.values).allSatisfy({ $0.bitwiseEqual($1) }) else { return nil }
        }
        config["name"] = .string(name)
        if dialect == .tfKeras2 { config = stripTimeMajor(config) }
        var layer = KerasExportLayer(name: name, className: className, config: config)
        if dialect == .keras3 {
            for key in ["module", "registered_name", "build_config"] { if let v = raw[key] { layer.keras3Fields[key] = v } }
            // Variables sit at `<layer path>/<sub path>/vars/<i>`; the original names give the sub paths.
            var groups: [(path: String, count: Int)] = []
            for (i, full) in originalNames.enumerated() where i < tensors.count {
                var parts = full.split(separator: "/").map(String.init)
                if let last = parts.lastIndex(of: "layers"), last + 2 <= parts.count { parts.removeFirst(last + 2) }
                let path = parts.dropLast().joined(separator: "/")
                if let g = groups.last, g.path == path { groups[groups.count - 1].count += 1 } else { groups.append((path, 1)) }
            }
            guard groups.reduce(0, { $0 + $1.count }) == tensors.count else { return nil }
            layer.keras3VariableGroups = groups
            layer.weights = zip(originalNames, tensors).map { ($0, $1) }
        } else {
            let names = originalNames.count == tensors.count && originalNames.allSatisfy({ $0.hasSuffix(":0") })
                ? originalNames
                : node.parameters.keys.map { "\(name)/\(KerasWriterNames.snakeCase(parameter: $0)):0" }
            layer.weights = zip(names, tensors).map { ($0, $1) }
        }
        return layer
    }

    /// The config without `time_major: false` anywhere (Keras 3 refuses the field; false is
    /// the default everywhere).
    static func stripTimeMajor(_ config: OrderedDictionary<String, JSONValue>) -> OrderedDictionary<String, JSONValue> {
        var out: OrderedDictionary<String, JSONValue> = [:]
        for (k, v) in config {
            if k == "time_major", v.boolValue == false { continue }
            if let inner = v.objectValue { out[k] = .object(stripTimeMajor(inner)) } else { out[k] = v }
        }
        return out
    }
}
