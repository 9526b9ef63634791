import GraftCore
import OrderedCollections

/// Turns a parsed model config plus a weight store into IR nodes.
///
/// - Sequential models become a chain; Functional models are resolved call by call, in
///   dependency order (a shared layer's later calls may depend on layers listed after it).
/// - A layer called several times becomes one node per call: `name` for the first call,
///   `name_call<k>` for call k ≥ 1, sharing the same parameter tensors; the extras say so.
/// - Nested models are flattened: their layers become nodes named `<model>/<layer>`.
struct KerasGraphBuilder {
    let producer: KerasProducer
    let file: String?
    let store: any KerasWeightStore

    private(set) var nodes: [Node] = []
    private var usedNames: Set<String> = []
    /// Weights and mapping already done for a layer (keyed by its path), reused by later calls.
    private var mapped: [String: MappedLayer] = [:]

    /// A layer's IR op and parameters, with the names its arrays had in the file.
    struct MappedLayer {
        var op: Op
        var parameters: OrderedDictionary<String, Tensor>
        var weightNames: [String]
    }

    init(producer: KerasProducer, file: String?, store: any KerasWeightStore) {
        self.producer = producer; self.file = file; self.store = store
    }

    func error(_ kind: GraftError.Kind, _ message: String, location: String? = nil, field: String? = nil,
               expected: String? = nil, found: String? = nil) -> GraftError {
        GraftError(kind, message, file: file, location: location, field: field, expected: expected, found: found)
    }

    /// Builds `model`, returning its outputs. `bound` are the tensors feeding a nested model's
    /// inputs (nil for the top-level model, whose input layers become `input` nodes).
    mutating func build(_ model: KerasModelSpec, scope: [KerasLayerSpec] = [], prefix: String = "",
                        bound: [NodeOutput]? = nil, frozen: Bool = false) throws -> [NodeOutput] {
        model.isSequential
            ? try buildSequential(model, scope: scope, prefix: prefix, bound: bound, frozen: frozen)
            : try buildFunctional(model, scope: scope, prefix: prefix, bound: bound, frozen: frozen)
    }

    // MARK: Sequential

    mutating func buildSequential(_ model: KerasModelSpec, scope: [KerasLayerSpec], prefix: String,
                                  bound: [NodeOutput]?, frozen: Bool) throws -> [NodeOutput] {
        guard let first = model.layers.first else {
            throw error(.invalidGraph, "Sequential model without layers", location: "model '\(model.name)'")
        }
        var layers = model.layers[...]
        var current: NodeOutput
        if let bound {
            guard bound.count == 1 else {
                throw error(.invalidGraph, "Sequential model called with several inputs", location: "model '\(model.name)'",
                            expected: "1 input", found: "\(bound.count)")
            }
            current = bound[0]
            if first.className == "InputLayer" { layers = layers.dropFirst() }
        } else if first.className == "InputLayer" {
            current = try addInput(first, name: prefix + first.name)
            layers = layers.dropFirst()
        } else {
            // Keras 1/2 Sequential: the first layer carries the input shape.
            current = try addInput(inputSpec(from: first), name: prefix + first.name + "_input")
        }
        for layer in layers {
            if layer.className == "Merge", layer.config["layers"] != nil {
                throw error(.unsupported, "Keras 1 Sequential Merge of sub-models", location: "layer '\(layer.name)' (Merge)")
            }
            let outputs = try call(layer, index: 0, inputs: [current], scope: scope, prefix: prefix, frozen: frozen)
            guard let next = outputs.first else {
                throw error(.invalidGraph, "layer without output", location: "layer '\(layer.name)'")
            }
            current = next
        }
        return [current]
    }

    /// A synthetic InputLayer spec from a Sequential model's first layer (`batch_input_shape`,
    /// `batch_shape`, or Keras 1 `input_dim` / `input_length`).
    func inputSpec(from layer: KerasLayerSpec) throws -> KerasLayerSpec {
        var config: OrderedDictionary<String, JSONValue> = [:]
        let c = layer.config
        if let shape = c["batch_input_shape"] ?? c["batch_shape"], !shape.isNull {
            config["batch_input_shape"] = shape
        } else if let dim = c["input_dim"]?.intValue {
            var shape: [JSONValue] = [.null]
            if let length = c["input_length"] { shape.append(length.isNull ? .null : length) }
            shape.append(JSONValue(dim))
            config["batch_input_shape"] = .array(shape)
        } else if let shape = c["input_shape"]?.arrayValue {
            config["batch_input_shape"] = .array([.null] + shape)
        } else {
            throw error(.malformed, "Sequential model whose first layer gives no input shape",
                        location: "layer '\(layer.name)' (\(layer.className))", field: "batch_input_shape")
        }
        if let dtype = c["dtype"] ?? c["input_dtype"] { config["dtype"] = dtype }
        let name = layer.name + "_input"
        config["name"] = .string(name)
        return KerasLayerSpec(name: name, className: "InputLayer", config: .object(config),
                              raw: .object(["class_name": .string("InputLayer"), "config": .object(config)]),
                              calls: [], archivePath: "layers/input_layer", submodel: nil)
    }

    // MARK: Functional

    mutating func buildFunctional(_ model: KerasModelSpec, scope: [KerasLayerSpec], prefix: String,
                                  bound: [NodeOutput]?, frozen: Bool) throws -> [NodeOutput] {
        let location = "model '\(model.name)'"
        if let bound, bound.count != model.inputs.count {
            throw error(.invalidGraph, "nested model called with the wrong number of inputs", location: location,
                        expected: "\(model.inputs.count)", found: "\(bound.count)")
        }
        // Outputs of every call made so far: (layer, call) → its outputs.
        var callOutputs: [String: [NodeOutput]] = [:]
        func key(_ layer: String, _ call: Int) -> String { "\(layer)\u{0}\(call)" }
        func resolve(_ ref: KerasTensorRef) -> NodeOutput? {
            guard let outs = callOutputs[key(ref.layer, ref.node)] else { return nil }
            if outs.count == 1, let only = outs.first, ref.tensor > 0 {
                // A single node with several outputs (e.g. return_state).
                return NodeOutput(only.node, output: only.output + ref.tensor)
            }
            return ref.tensor < outs.count ? outs[ref.tensor] : nil
        }

        var pending: [(layer: KerasLayerSpec, call: Int)] = []
        // Input layers in the model's `input_layers` order first (callers feed inputs in that
        // order), then any other input layer in config order.
        let inputOrder = Dictionary(model.inputs.enumerated().map { ($1.layer, $0) }, uniquingKeysWith: { a, _ in a })
        let ordered = model.layers.enumerated().sorted { a, b in
            let ka = a.element.className == "InputLayer" ? (inputOrder[a.element.name] ?? model.inputs.count) : Int.max
            let kb = b.element.className == "InputLayer" ? (inputOrder[b.element.name] ?? model.inputs.count) : Int.max
            return ka != kb ? ka < kb : a.offset < b.offset
        }.map(\.element)
        for layer in ordered {
            if layer.className == "InputLayer" {
                if let bound {
                    guard let i = model.inputs.firstIndex(where: { $0.layer == layer.name }) else {
                        throw error(.invalidGraph, "input layer not among the model inputs",
                                    location: "layer '\(layer.name)'")
                    }
                    callOutputs[key(layer.name, 0)] = [bound[i]]
                } else {
                    callOutputs[key(layer.name, 0)] = [try addInput(layer, name: prefix + layer.name)]
                }
                continue
            }
            for i in layer.calls.indices { pending.append((layer, i)) }
        }
        while !pending.isEmpty {
            var progressed = false
            var waiting: [(layer: KerasLayerSpec, call: Int)] = []
            for item in pending {
                let refs = item.layer.calls[item.call].inputs
                let inputs = refs.compactMap(resolve)
                guard inputs.count == refs.count else { waiting.append(item); continue }
                callOutputs[key(item.layer.name, item.call)] =
                    try call(item.layer, index: item.call, inputs: inputs, scope: scope, prefix: prefix, frozen: frozen,
                             kwargs: item.layer.calls[item.call].kwargs)
                progressed = true
            }
            guard progressed else {
                let names = waiting.map { "\($0.layer.name) call \($0.call)" }.joined(separator: ", ")
                throw error(.invalidGraph, "layer inputs that never resolve (missing layer or cycle)", location: location,
                            found: names)
            }
            pending = waiting
        }
        return try model.outputs.map { ref in
            guard let out = resolve(ref) else {
                throw error(.invalidGraph, "model output refers to an unknown tensor", location: location,
                            field: "output_layers", found: ref.description)
            }
            return out
        }
    }

    // MARK: Nodes

    mutating func uniqueName(_ wanted: String) -> String {
        var name = wanted
        var k = 2
        while usedNames.contains(name) { name = "\(wanted)_\(k)"; k += 1 }
        usedNames.insert(name)
        return name
    }

    mutating func addInput(_ spec: KerasLayerSpec, name: String) throws -> NodeOutput {
        let context = KerasLayerContext(name: spec.name, className: "InputLayer", config: spec.config, producer: producer,
                                        weights: [], inputShapes: [], file: file)
        let mapped = try KerasInputLayerFamily.map(context)
        let nodeName = uniqueName(name)
        nodes.append(Node(name: nodeName, op: mapped.op, extras: .object(["keras": spec.raw, "sourceClass": .string("InputLayer")])))
        return NodeOutput(nodeName)
    }

    /// Call `index` of `layer` on `inputs`: a node (or, for a nested model, its flattened nodes).
    mutating func call(_ layer: KerasLayerSpec, index: Int, inputs: [NodeOutput], scope: [KerasLayerSpec],
                       prefix: String, frozen: Bool, kwargs: JSONValue = .object([:])) throws -> [NodeOutput] {
        let isFrozen = frozen || !layer.trainable
        let callName = index == 0 ? layer.name : "\(layer.name)_call\(index)"
        if let sub = layer.submodel {
            return try build(sub, scope: scope + [layer], prefix: prefix + callName + "/", bound: inputs, frozen: isFrozen)
        }
        let path = (scope + [layer]).map(\.name).joined(separator: "/")
        let result: MappedLayer
        if let done = mapped[path] {
            result = done
        } else {
            result = try map(layer, scope: scope, inputs: inputs)
            mapped[path] = result
        }
        var extras: OrderedDictionary<String, JSONValue> = ["keras": layer.raw, "sourceClass": .string(layer.className)]
        if !result.weightNames.isEmpty {
            // The arrays' names in file order, so a writer can store them back under the same names.
            extras["kerasWeightNames"] = .array(result.weightNames.map(JSONValue.string))
        }
        if index > 0 {
            extras["sharedLayer"] = .string(prefix + layer.name)
            extras["call"] = JSONValue(index)
        }
        if let k = kwargs.objectValue, !k.isEmpty { extras["callKwargs"] = kwargs }
        let name = uniqueName(prefix + callName)
        nodes.append(Node(name: name, op: result.op, inputs: inputs, parameters: result.parameters,
                          freeze: isFrozen ? .frozen : .trainable, extras: .object(extras)))
        return [NodeOutput(name)]
    }

    /// Reads the layer's weights and maps it through its family (or carries it opaquely).
    func map(_ layer: KerasLayerSpec, scope: [KerasLayerSpec], inputs: [NodeOutput]) throws -> MappedLayer {
        let location = "layer '\(layer.name)' (\(layer.className))"
        let weights: [KerasWeight]
        do {
            weights = try store.weights(path: scope + [layer])
        } catch let e as GraftError {
            throw e.inFile(file ?? "").at(location)
        }
        if KerasReader.isOpaque(layer) {
            var parameters: OrderedDictionary<String, Tensor> = [:]
            for w in weights { parameters[w.name] = w.tensor }
            let op = Op.opaque(OpaqueAttributes(format: "keras", className: layer.className, config: layer.config))
            return MappedLayer(op: op, parameters: parameters, weightNames: weights.map(\.name))
        }
        guard let family = KerasLayerRegistry.family(for: layer.className) else {
            throw error(.unknownLayer, "unknown Keras layer class", location: location, field: "class_name",
                        expected: "a layer class Graft reads, or Lambda/custom (carried opaque)", found: layer.className)
        }
        let inputShapes: [[Int?]] = inputs.map { out in
            if let node = nodes.first(where: { $0.name == out.node }), case .input(let a) = node.op { return a.shape }
            return []
        }
        let context = KerasLayerContext(name: layer.name, className: layer.className, config: layer.config,
                                        producer: producer, weights: weights, inputShapes: inputShapes, file: file)
        let result = try family.map(context)
        return MappedLayer(op: result.op, parameters: result.parameters, weightNames: weights.map(\.name))
    }
}
