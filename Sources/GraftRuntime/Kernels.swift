import GraftCore

/// What a kernel may need beyond its own inputs: facts about the whole run.
struct RuntimeContext: Sendable {
    /// The batch size of the first graph input. DL4J's feed-forward-to-RNN reshapes need it
    /// to split [batch·time, features] rows back into [batch, time, features].
    var batchSize: Int
    /// Graph input values by input node name, in the runtime's layout (DL4J's
    /// DuplicateToTimeSeries vertex reads its time length from a named input).
    var graphInputs: [String: RuntimeValue]
    /// The graph's source format (`keras-h5`, `dl4j`, …); a few ops differ by producer.
    var sourceFormat: String

    init(batchSize: Int = 1, graphInputs: [String: RuntimeValue] = [:], sourceFormat: String = "memory") {
        self.batchSize = batchSize; self.graphInputs = graphInputs; self.sourceFormat = sourceFormat
    }

    /// True when DL4J sequences ([batch, features, time]) were transposed to the runtime's
    /// [batch, time, features] at the inputs.
    var dl4jSequencesTransposed = false

    /// The Interpreter's packed weight matrices (nil outside an Interpreter: kernels then
    /// multiply on OpenBLAS directly).
    var packedWeights: PackedWeightCache?

    var isDL4J: Bool { sourceFormat.lowercased().hasPrefix("dl4j") }

    /// DL4J names axis 1 as the feature axis of every activation (MergeVertex, batch norm).
    /// For a rank-3 sequence that axis is the last one inside the runtime, so a DL4J graph's
    /// axis 1 on a rank-3 tensor is read as axis 2. Other axes are returned unchanged.
    func featureAxis(_ axis: Int, rank: Int) -> Int {
        dl4jSequencesTransposed && rank == 3 && axis == 1 ? 2 : axis
    }
}

/// Dispatch from an op to the kernel family that computes it, in the compute type.
enum Kernels {
    static func evaluate(_ node: Node, _ inputs: [RuntimeValue], computeType: DType,
                         context: RuntimeContext = RuntimeContext()) throws -> [RuntimeValue] {
        switch computeType {
        case .float64: return try evaluate(node, inputs, as: Double.self, context: context)
        default: return try evaluate(node, inputs, as: Float.self, context: context)
        }
    }

    static func evaluate<T: RuntimeScalar>(_ node: Node, _ inputs: [RuntimeValue], as type: T.Type,
                                           context: RuntimeContext) throws -> [RuntimeValue] {
        switch node.op {
        case .input:
            return [try onlyInput(inputs, node)]
        case .dense(let a):
            return [try DenseKernels.dense(node, a, onlyInput(inputs, node), context: context, as: T.self)]
        case .activation(let f):
            return [try ActivationKernels.activation(f, onlyInput(inputs, node), node: node, as: T.self)]
        case .prelu:
            return [try ActivationKernels.prelu(node, onlyInput(inputs, node), as: T.self)]
        case .dropout:
            return [try onlyInput(inputs, node)]
        case .flatten, .reshape, .permute, .repeatVector:
            return [try ShapeKernels.evaluate(node, onlyInput(inputs, node), as: T.self)]
        case .batchNorm(let a):
            let x = try onlyInput(inputs, node)
            var attributes = a
            attributes.axis = context.featureAxis(a.axis, rank: x.tensor.rank)
            return [try NormalizationKernels.batchNorm(node, attributes, x, as: T.self)]
        case .layerNorm(let a):
            return [try NormalizationKernels.layerNorm(node, a, onlyInput(inputs, node), as: T.self)]
        case .embedding(let a):
            return [try EmbeddingKernels.embedding(node, a, onlyInput(inputs, node), context: context, as: T.self)]
        case .masking(let maskValue):
            return [try MaskingKernels.masking(maskValue, onlyInput(inputs, node), as: T.self)]
        case .merge(let a):
            var kind = a.kind
            if case .concatenate(let axis) = kind, let first = inputs.first {
                kind = .concatenate(axis: context.featureAxis(axis, rank: first.tensor.rank))
            }
            return [try MergeKernels.merge(node, kind, inputs, as: T.self)]
        case .output(let a):
            return [try OutputKernels.output(node, a, onlyInput(inputs, node), context: context, as: T.self)]
        case .timeDistributed(let layer):
            return try TimeDistributedKernel.evaluate(node, layer, inputs, context: context, as: T.self)
        case .dl4jVertex(let v):
            return [try DL4JKernels.evaluate(node, v, inputs, context: context, as: T.self)]
        case .conv, .pooling, .globalPooling, .zeroPadding, .cropping, .upSampling:
            return try ConvolutionKernels.evaluate(node, inputs, as: T.self, context: context)
        case .bidirectional(let a):
            if case .convLSTM(let inner) = a.layer {
                return try ConvLSTMKernels.bidirectional(node, a.mergeMode, inner, inputs, as: T.self)
            }
            return try RecurrentKernels.evaluate(node, inputs, context: context, as: T.self)
        case .simpleRNN, .lstm, .gru:
            return try RecurrentKernels.evaluate(node, inputs, context: context, as: T.self)
        case .convLSTM(let a):
            return try ConvLSTMKernels.evaluate(node, a, inputs, as: T.self)
        case .locallyConnected(let a):
            return [RuntimeValue(try LocallyConnectedKernels.locallyConnected(node, a, onlyInput(inputs, node).tensor, as: T.self))]
        case .attention(let a):
            return [try AttentionKernels.attention(node, a, inputs, as: T.self)]
        case .opaque(let a):
            throw GraftError(.opaqueLayer,
                             "node '\(node.name)' is an opaque \(a.format) layer of class '\(a.className)' that Graft carries but cannot compute",
                             location: node.name, field: "class_name", found: a.className)
        }
    }
}

/// Converts caller tensors into the runtime's internal layout and compute type.
enum InputKernel {
    /// Checks the tensor against the input's declared shape, converts it to the compute
    /// type (integer token ids included) and transposes DL4J sequences
    /// [batch, features, time] to [batch, time, features]: inputs declared so, and rank-3
    /// data given to an input of unstated kind in a graph whose sequences are DL4J's at the
    /// boundary (`sequencesTransposed`, e.g. a DL4J model starting with an ActivationLayer),
    /// the same rule its outputs follow.
    static func prepare(_ tensor: Tensor, attributes: InputAttributes, node: String, computeType: DType,
                        sequencesTransposed: Bool = false) throws -> RuntimeValue {
        guard tensor.rank >= 1 else {
            throw GraftError(.shapeMismatch, "input must have a batch axis", location: node,
                             expected: "rank >= 1", found: "shape \(tensor.shape)")
        }
        let given = Array(tensor.shape.dropFirst())
        let declared = attributes.shape
        func fits(_ dims: [Int?]) -> Bool {
            dims.count == given.count && zip(given, dims).allSatisfy { $1 == nil || $1 == $0 }
        }
        // Built only when thrown (its strings cost more than the check on every forward pass).
        func wrong() -> GraftError {
            GraftError(.shapeMismatch, "input has the wrong shape", location: node,
                       expected: "[batch, \(declared.map { $0.map(String.init) ?? "?" }.joined(separator: ", "))]",
                       found: "\(tensor.shape)")
        }
        if given.count == declared.count {
            // A DL4J sequence's declared shape may be written either way round.
            let swapped = attributes.layout == .sequenceFeaturesTime && declared.count == 2 ? Array(declared.reversed()) : declared
            guard fits(declared) || fits(swapped) else { throw wrong() }
        } else if declared.allSatisfy({ $0 != nil }) {
            // Another rank with the same element count (e.g. DL4J's flattened image inputs).
            guard declared.reduce(1, { $0 * ($1 ?? 1) }) == given.reduce(1, *) else { throw wrong() }
        }
        var t = tensor.converted(to: computeType)
        if t.rank == 3 && (attributes.layout == .sequenceFeaturesTime || attributes.layout == .flat && sequencesTransposed) {
            t = try t.transposed([0, 2, 1])
        }
        return RuntimeValue(t)
    }
}

/// Converts internal tensors back to the layout the caller expects.
enum OutputLayout {
    /// Rank-3 outputs go back to DL4J's [batch, features, time] when any graph input is a
    /// DL4J sequence, or when the graph comes from DL4J and no input declares Keras'
    /// [batch, time, features] (a DL4J graph can make sequences from feed-forward inputs, e.g.
    /// EmbeddingSequenceLayer or DuplicateToTimeSeries, and still returns them as NCW).
    /// Everything else leaves as computed.
    static func toCaller(_ tensor: Tensor, graph: Graph, node: String) throws -> Tensor {
        guard tensor.rank == 3, sequencesTransposed(graph) else { return tensor }
        return try tensor.transposed([0, 2, 1])
    }

    /// Whether the graph's sequences are DL4J's NCW at the boundary (see `toCaller`).
    static func sequencesTransposed(_ graph: Graph) -> Bool {
        let layouts = graph.inputs.compactMap { n -> DataLayout? in
            if case .input(let a) = n.op { return a.layout }
            return nil
        }
        let fromDL4J = graph.source.format.lowercased().hasPrefix("dl4j")
        return layouts.contains(.sequenceFeaturesTime) || (fromDL4J && !layouts.contains(.sequenceTimeMajorFeatures))
    }
}
