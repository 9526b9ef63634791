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
    /// Shapes (without batch) of the tensors layers output, where known: `layer/call/tensor` → shape.
    var tensorShapes: [String: [Int?]] = [:]

    static func key(_ r: KerasTensorReference) -> String { "\(r.layer)/\(r.call)/\(r.tensor)" }

    /// Records the shapes of a node's outputs for the layer call `r` that produces them.
    mutating func recordShapes(_ shapes: [[Int?]]?, at r: KerasTensorReference) {
        for (k, shape) in (shapes ?? []).enumerated() {
            tensorShapes[Self.key(KerasTensorReference(layer: r.layer, call: r.call, tensor: r.tensor + k))] = shape
        }
    }

    static let tfKerasVersion = "2.21.0"
    static let keras3Version = "3.15.1"

    /// Dense kernels after a channels-first flatten whose rows the writer gathers into
    /// channels-last order while writing (see `KerasChannelsLast`).
    var rowGathers: [KerasRowGather] = []

    /// The plan, with row permutations left to the writer when every deferred kernel is
    /// written as it is exactly once (otherwise they are applied to the tensors up front).
    static func make(graph: Graph, dialect: KerasDialect, report: inout ConversionReport) throws -> KerasModelPlan {
        var deferredReport = report
        let plan = try KerasModelPlan(graph: graph, dialect: dialect, report: &deferredReport, deferRowPermutations: true)
        let weights = plan.layers.flatMap { $0.weights.map(\.tensor) }
        if plan.rowGathers.allSatisfy({ gather in weights.filter { gather.matches($0) }.count == 1 }) {
            report = deferredReport
            return plan
        }
        return try KerasModelPlan(graph: graph, dialect: dialect, report: &report)
    }

    /// The row gather for a weight about to be written, if it is a deferred kernel.
    func sourceRow(for tensor: Tensor) -> ((Int) -> Int)? {
        guard let gather = rowGathers.first(where: { $0.matches(tensor) }) else { return nil }
        return gather.sourceRow
    }

    init(graph original: Graph, dialect: KerasDialect, report: inout ConversionReport, deferRowPermutations: Bool = false) throws {
        var graph = original
        var deferred: [KerasRowGather]? = deferRowPermutations ? [] : nil
        if original.source.format.hasPrefix("dl4j"),
           let converted = try KerasChannelsLast.convert(original, report: &report, deferred: &deferred) {
            graph = converted
        }
        rowGathers = deferred ?? []
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

        // Output shapes where known, to see which DL4J dense layers flatten their input implicitly.
        var knownShapes: [String: [[Int?]]] = [:]
        let fromDL4J = graph.source.format.hasPrefix("dl4j")
        do {
            for node in graph.nodes {
                if case .input(let a) = node.op { knownShapes[node.name] = [a.shape]; continue }
                let ins = node.inputs.compactMap { knownShapes[$0.node]?[safe: $0.output] }
                guard ins.count == node.inputs.count else { continue }
                if let s = try? node.op.outputShapes(ins) { knownShapes[node.name] = s }
            }
        }

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
                recordShapes([shape], at: KerasTensorReference(layer: layerName, call: 0, tensor: 0))
                continue
            }
            var callInputs = try node.inputs.map(reference)
            let kwargs = node.extras["callKwargs"] ?? .object([:])
            // A further call of a shared layer.
            if let shared = node.extras["sharedLayer"]?.stringValue, let layerName = kerasNames[shared],
               let index = layers.firstIndex(where: { $0.name == layerName }) {
                layers[index].calls.append((callInputs, kwargs))
                refs[node.name] = KerasTensorReference(layer: layerName, call: layers[index].calls.count - 1, tensor: 0)
                recordShapes(knownShapes[node.name], at: KerasTensorReference(layer: layerName, call: layers[index].calls.count - 1, tensor: 0))
                continue
            }
            let layerName = unique(node.name)
            kerasNames[node.name] = layerName
            let shapes = node.inputs.map { inputShapes[$0.node] ?? [] }
            if sourceMajor == dialectMajor,
               var layer = Self.verbatim(node, name: layerName, dialect: dialect, inputShapes: shapes) {
                if layer.config["trainable"] != nil || node.freeze != .trainable { layer.config["trainable"] = trainable }
                layer.calls = [(callInputs, kwargs)]
                layers.append(layer)
                refs[node.name] = KerasTensorReference(layer: layerName, call: 0, tensor: 0)
                recordShapes(knownShapes[node.name], at: KerasTensorReference(layer: layerName, call: 0, tensor: 0))
                continue
            }
            if case .opaque(let a) = node.op, a.format == "keras" {
                throw GraftError(.unsupported, "a Keras \(a.className) layer can only be written to the Keras generation it was read from",
                                 location: "node '\(node.name)' (\(a.className))",
                                 expected: "Keras \(sourceMajor.map(String.init) ?? "?")", found: "Keras \(dialectMajor)")
            }
            // DL4J feeds image or sequence activations to a dense layer flattened (in [c, h, w]
            // order, which is Keras' Flatten of the channels-first tensor).
            if fromDL4J, Self.isDense(node.op), let first = node.inputs.first,
               let shape = knownShapes[first.node]?[safe: first.output], shape.count > 2, callInputs.count == 1 {
                let flattenName = unique(layerName + "_flatten")
                var flatten = KerasExportLayer(name: flattenName, className: "Flatten",
                                               config: ["name": .string(flattenName), "trainable": trainable, "dtype": .string("float32"),
                                                        "data_format": .string("channels_last")])
                flatten.calls = [(callInputs, .object([:]))]
                layers.append(flatten)
                callInputs = [KerasTensorReference(layer: flattenName, call: 0, tensor: 0)]
                recordShapes([[ShapeText.product(shape)]], at: callInputs[0])
                report.add(.exactConversion, node: node.name, "DL4J's implicit flattening written as a Flatten layer '\(flattenName)'")
            }
            let generator = KerasLayerConfigGenerator(dialect: dialect, node: node, name: layerName)
            let generated = try generator.generate()
            for note in generated.notes { report.add(.exactConversion, node: node.name, note) }
            var config: OrderedDictionary<String, JSONValue> = ["name": .string(layerName), "trainable": trainable,
                                                                "dtype": .string("float32")]
            for (k, v) in generated.fields { config[k] = v }
            // Keras 3's SpatialDropout layers take no `trainable` argument (they hold no weights).
            if generated.className.hasPrefix("SpatialDropout"), node.freeze == .trainable { config.removeValue(forKey: "trainable") }
            var layer = KerasExportLayer(name: layerName, className: generated.className, config: config)
            layer.calls = [(callInputs, kwargs)]
            layer.weights = generated.weights.map { ("\(layerName)/\($0.short):0", $0.tensor) }
            layer.keras3VariableGroups = generated.variableGroups
            layers.append(layer)
            refs[node.name] = KerasTensorReference(layer: layerName, call: 0, tensor: 0)
            recordShapes(knownShapes[node.name], at: KerasTensorReference(layer: layerName, call: 0, tensor: 0))
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
                recordShapes(knownShapes[node.name], at: KerasTensorReference(layer: actName, call: 0, tensor: 0))
                report.add(.exactConversion, node: node.name,
                           "activation \(activation.name) written as a separate \(act.className) layer '\(actName)'")
            }
        }
        outputs = try graph.outputs.map(reference)
        isSequential = Self.isChain(layers: layers, inputs: inputs, outputs: outputs)
        if graph.source.extras["model_name"] == nil { name = isSequential ? "sequential" : "model" }
    }

    static func isDense(_ op: Op) -> Bool {
        switch op {
        case .dense: return true
        case .output(let a): return a.kind == .dense || a.kind == .centerLoss
        default: return false
        }
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
            // Sequential entries carry no layer name beside the config's.
            guard layer.config["name"]?.stringValue == layer.name else { return false }
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
        // Opaque layers keep their config whole (a TensorFlowOpLayer's config name differs from its layer name).
        if !node.op.isOpaque { config["name"] = .string(name) }
        if dialect == .tfKeras2 {
            config = loadableByBoth(config)
            // Keras 3's SeparableConv takes no kernel_* arguments (tf-keras ignores them: it
            // has depthwise/pointwise ones); SpatialDropout no `trainable` (it has no weights).
            if className.hasPrefix("SeparableConv") {
                for key in ["kernel_initializer", "kernel_regularizer", "kernel_constraint"] { config.removeValue(forKey: key) }
            }
        }
        if className.hasPrefix("SpatialDropout") {
            // Keras 3's SpatialDropout takes neither (the noise shape is its own).
            config.removeValue(forKey: "noise_shape")
            if config["trainable"]?.boolValue == true { config.removeValue(forKey: "trainable") }
        }
        var layer = KerasExportLayer(name: name, className: className, config: config)
        if dialect == .keras3 {
            for key in ["module", "registered_name", "build_config"] { if let v = raw[key] { layer.keras3Fields[key] = v } }
            // Variables sit at `<layer path>/<sub path>/vars/<i>`; the original names give the sub
            // paths when they come from an archive, the class otherwise.
            var groups: [(path: String, count: Int)] = []
            let fromArchive = originalNames.count == tensors.count && originalNames.allSatisfy { $0.hasPrefix("layers/") }
            if !fromArchive {
                groups = defaultVariableGroups(className: className, config: .object(config), count: tensors.count)
            }
            for (i, full) in originalNames.enumerated() where fromArchive && i < tensors.count {
                var parts = full.split(separator: "/").map(String.init)
                if let last = parts.lastIndex(of: "layers"), last + 2 <= parts.count { parts.removeFirst(last + 2) }
                let path = parts.dropLast().joined(separator: "/")
                if let g = groups.last, g.path == path { groups[groups.count - 1].count += 1 } else { groups.append((path, 1)) }
            }
            guard groups.reduce(0, { $0 + $1.count }) == tensors.count else { return nil }
            layer.keras3VariableGroups = groups
            layer.weights = tensors.enumerated().map { ("vars/\($0.offset)", $0.element) }
        } else {
            let names = originalNames.count == tensors.count && originalNames.allSatisfy({ $0.hasSuffix(":0") })
                ? originalNames
                : node.parameters.keys.map { "\(name)/\(KerasWriterNames.snakeCase(parameter: $0)):0" }
            layer.weights = zip(names, tensors).map { ($0, $1) }
        }
        return layer
    }

    static let recurrentClasses: Set<String> = ["SimpleRNN", "LSTM", "GRU", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"]

    /// Where Keras 3 keeps a layer's variables, from its class: RNN cells under `cell`,
    /// wrapped layers under `layer`, Bidirectional halves under `forward_layer` / `backward_layer`.
    static func defaultVariableGroups(className: String, config: JSONValue, count: Int) -> [(path: String, count: Int)] {
        guard count > 0 else { return [] }
        let innerClass = config["layer"]?["class_name"]?.stringValue ?? ""
        let innerCell = recurrentClasses.contains(innerClass) ? "cell/" : ""
        switch className {
        case _ where recurrentClasses.contains(className): return [("cell/vars", count)]
        case "TimeDistributed": return [("layer/\(innerCell)vars", count)]
        case "Bidirectional":
            return [("forward_layer/\(innerCell)vars", count / 2), ("backward_layer/\(innerCell)vars", count - count / 2)]
        default: return [("vars", count)]
        }
    }

    /// A tf.keras 2 layer config both tf-keras and Keras 3's legacy loader read, same meaning:
    /// without `time_major: false` (Keras 3 refuses the field; false is the default), without
    /// `dtype` inside initializer configs (Keras 3 initializers refuse it; it only names the
    /// default float type), and with `module` on nested layer entries (Keras 3 needs it to find
    /// the class of a wrapped layer).
    static func loadableByBoth(_ config: OrderedDictionary<String, JSONValue>) -> OrderedDictionary<String, JSONValue> {
        var out: OrderedDictionary<String, JSONValue> = [:]
        for (k, v) in config {
            if k == "time_major", v.boolValue == false { continue }
            guard var inner = v.objectValue else { out[k] = v; continue }
            if k.hasSuffix("_initializer"), var initConfig = inner["config"]?.objectValue {
                initConfig.removeValue(forKey: "dtype")
                inner["config"] = .object(initConfig)
            }
            if k == "layer" || k == "backward_layer", inner["class_name"] != nil, inner["module"] == nil {
                var entry: OrderedDictionary<String, JSONValue> = ["module": .string("keras.layers")]
                for (ik, iv) in inner { entry[ik] = iv }
                entry["registered_name"] = entry["registered_name"] ?? .null
                inner = entry
            }
            out[k] = .object(loadableByBoth(inner))
        }
        return out
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { index >= 0 && index < count ? self[index] : nil }
}
