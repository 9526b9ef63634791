import GraftCore
import OrderedCollections

/// Turns a parsed DL4J configuration (and, when present, the flat parameter vector) into
/// IR nodes: one node per layer, extra nodes for pre-processors, frozen wrappers mapped to
/// freeze states, LastTimeStep as a layer node followed by a `lastTimeStep` vertex,
/// MaskZeroLayer as a `masking` node before its layer, custom layers as opaque nodes.
struct DL4JGraphBuilder {
    var nodes: [Node] = []
    var params: DL4JParameterReader
    /// For each DL4J layer/vertex name, the IR node that produces its output, and what flows out.
    var outputOf: [String: (NodeOutput, DL4JLayerInput)] = [:]
    /// Parameter counts assigned to custom (non-DL4J) layers, by node name.
    var customParameterCounts: [String: Int] = [:]
    /// Custom layers met, by node name (class name).
    var customLayers: [(node: String, className: String, layer: DL4JLayerConfig)] = []
    let file: String?

    init(flat: DL4JFlatParameters?, file: String?) {
        params = DL4JParameterReader(flat: flat, file: file)
        self.file = file
    }

    mutating func add(_ node: Node) throws {
        guard !nodes.contains(where: { $0.name == node.name }) else {
            throw GraftError(.invalidGraph, "two nodes with the same name", file: file, location: node.name)
        }
        nodes.append(node)
    }

    /// Adds a layer (with its wrappers) consuming `input`; returns the output and its kind.
    mutating func addLayer(_ layer: DL4JLayerConfig, name: String, input: (NodeOutput, DL4JLayerInput),
                           freeze: FreezeState = .trainable, extras: JSONValue) throws -> (NodeOutput, DL4JLayerInput) {
        params.location = name
        switch layer.type {
        case "FrozenLayer", "FrozenLayerWithBackprop":
            guard let inner = layer.wrapped?.value else {
                throw GraftError(.malformed, "frozen wrapper without an inner layer", file: file, location: name,
                                 field: "layer", expected: "'layer' or 'underlying'", found: "nothing")
            }
            return try addLayer(inner, name: name, input: input,
                                freeze: layer.type == "FrozenLayer" ? .frozen : .frozenWithBackprop, extras: extras)
        case "LastTimeStep":
            guard let inner = layer.wrapped?.value else {
                throw GraftError(.malformed, "LastTimeStep without an inner layer", file: file, location: name, field: "underlying")
            }
            let (out, info) = try addLayer(inner, name: name, input: input, freeze: freeze, extras: extras)
            let last = name + "/lastTimeStep"
            try add(Node(name: last, op: .dl4jVertex(.lastTimeStep), inputs: [out], freeze: freeze))
            return (NodeOutput(last), DL4JLayerInput(.feedForward, info.size))
        case "MaskZeroLayer":
            guard let inner = layer.wrapped?.value else {
                throw GraftError(.malformed, "MaskZeroLayer without an inner layer", file: file, location: name, field: "underlying")
            }
            let mask = name + "/maskZero"
            try add(Node(name: mask, op: .masking(maskValue: layer.double("maskingValue") ?? 0), inputs: [input.0], freeze: freeze))
            return try addLayer(inner, name: name, input: (NodeOutput(mask), input.1), freeze: freeze, extras: extras)
        default:
            break
        }
        let start = params.position
        var nodeExtras = extras.objectValue ?? [:]
        if let updater = DL4JUpdater.normalized(layer) { nodeExtras["updater"] = updater }
        if let family = DL4JLayerFamilies.family(for: layer.type), !(layer.className.map { !DL4JLayerFamilies.isDL4JClass($0) } ?? false) {
            let built = try family.build(layer, input.1, &params)
            var previous = input.0
            for (suffix, op) in built.before {
                let extra = name + "/" + suffix
                try add(Node(name: extra, op: op, inputs: [previous], freeze: freeze))
                previous = NodeOutput(extra)
            }
            nodeExtras["dl4jParamOffset"] = JSONValue(start)
            nodeExtras["dl4jParamCount"] = JSONValue(params.position - start)
            try add(Node(name: name, op: built.op, inputs: [previous],
                         parameters: params.counting ? [:] : built.parameters, freeze: freeze, extras: .object(nodeExtras)))
            return (NodeOutput(name), built.output)
        }
        // A custom (non-DL4J) layer: carried opaque with its flat parameter segment.
        let className = layer.className ?? layer.type
        let dl4jClass = layer.className.map(DL4JLayerFamilies.isDL4JClass) ?? false
        if dl4jClass || (layer.className == nil
                         && (layer.type.first?.isLowercase == true || DL4JLayerFamilies.unsupportedLegacyNames.contains(layer.type))) {
            // DL4J's own layers (and its closed list of legacy short names) that Graft does not map.
            throw GraftError(.unknownLayer, "unknown DL4J layer type", file: file, location: name, field: "layer",
                             expected: "a DL4J layer", found: className)
        }
        customLayers.append((name, className, layer))
        let count = customParameterCounts[name] ?? 0
        let flat = try params.take(count, "params")
        nodeExtras["dl4jParamOffset"] = JSONValue(start)
        nodeExtras["dl4jParamCount"] = JSONValue(count)
        let nOut = layer.nOut ?? 0
        let op = Op.opaque(OpaqueAttributes(format: "dl4j", className: className, config: layer.raw,
                                            outputShape: nOut > 0 ? [nOut] : nil))
        try add(Node(name: name, op: op, inputs: [input.0], parameters: params.counting || count == 0 ? [:] : ["params": flat],
                     freeze: freeze, extras: .object(nodeExtras)))
        return (NodeOutput(name), DL4JLayerInput(input.1.kind, nOut > 0 ? nOut : input.1.size))
    }

    /// Adds a pre-processor node.
    mutating func addPreprocessor(_ json: JSONValue, name: String, input: (NodeOutput, DL4JLayerInput),
                                  freeze: FreezeState = .trainable) throws -> (NodeOutput, DL4JLayerInput) {
        let (op, info) = try DL4JPreprocessors.convert(json, input: input.1, location: name)
        try add(Node(name: name, op: op, inputs: [input.0], freeze: freeze, extras: .object(["dl4j": json])))
        return (NodeOutput(name), info)
    }

    /// The graph input for data of `kind` with `size` features/channels.
    static func inputOp(kind: DL4JDataKind, size: Int, dtype: DType, embedding: Bool) -> Op {
        let n: Int? = size > 0 ? size : nil
        switch kind {
        case .feedForward: return .input(InputAttributes(shape: [embedding ? 1 : n], dtype: dtype, layout: .flat))
        case .recurrent: return .input(InputAttributes(shape: [n, nil], dtype: dtype, layout: .sequenceFeaturesTime))
        case .convolutional2D: return .input(InputAttributes(shape: [n, nil, nil], dtype: dtype, layout: .channelsFirst))
        case .convolutional3D: return .input(InputAttributes(shape: [n, nil, nil, nil], dtype: dtype, layout: .channelsFirst))
        }
    }

    /// What a layer expects as input: from its family (under wrappers), its nIn and any pre-processor.
    static func expectedInput(of layer: DL4JLayerConfig, preprocessor: JSONValue?) -> (DL4JLayerInput, Bool) {
        let inner = layer.innermost
        let embedding = inner.type == "embedding" || inner.type == "EmbeddingLayer" || inner.type == "EmbeddingSequenceLayer"
        if let preprocessor, let kind = DL4JPreprocessors.expects(preprocessor) {
            let (_, fields) = DL4JPreprocessors.typeName(preprocessor) ?? ("", .null)
            let h = fields["inputHeight"]?.intValue ?? 0, w = fields["inputWidth"]?.intValue ?? 0
            let c = fields["numChannels"]?.intValue ?? 0
            switch kind {
            case .convolutional2D, .convolutional3D: return (DL4JLayerInput(kind, c), false)
            case .feedForward: return (DL4JLayerInput(kind, c > 0 ? h * w * c : (inner.nIn ?? 0)), false)
            case .recurrent: return (DL4JLayerInput(kind, inner.nIn ?? 0), false)
            }
        }
        let family = DL4JLayerFamilies.family(for: inner.type)
        let kind = family?.expects ?? .feedForward
        return (DL4JLayerInput(kind, embedding ? 1 : (inner.nIn ?? 0)), embedding)
    }
}

extension DType {
    /// The dtype named by a DL4J `dataType` field.
    init?(dl4jName: String?) {
        switch dl4jName {
        case "FLOAT": self = .float32
        case "DOUBLE": self = .float64
        case "HALF": self = .float16
        default: return nil
        }
    }
}
