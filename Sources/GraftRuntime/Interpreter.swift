import GraftCore

/// A value flowing between nodes: a tensor and, for sequences, an optional mask of shape
/// [batch, time] (true = the step is present). Masks come from `masking` and
/// `embedding(maskZero)` and are honoured by recurrent ops, as Keras does.
public struct RuntimeValue: Sendable {
    public var tensor: Tensor
    public var mask: [Bool]?
    public init(_ tensor: Tensor, mask: [Bool]? = nil) { self.tensor = tensor; self.mask = mask }
}

/// Options for a forward pass.
public struct RunOptions: Sendable {
    /// Compute in float64 instead of float32 (chosen automatically when the weights are float64).
    public var useDouble: Bool?
    public init(useDouble: Bool? = nil) { self.useDouble = useDouble }
}

/// A forward pass over the IR, in inference mode (dropout off, batch norm with moving
/// statistics). Inputs and outputs are in the layouts the graph's `input` ops declare;
/// inside, sequences are [batch, time, features].
public struct Interpreter {
    public let graph: Graph
    public let options: RunOptions
    /// Weight matrices packed for the packed-weight GEMM, each on its first use and kept
    /// for every later run (copies of this Interpreter share them).
    let packedWeights = PackedWeightCache()

    public init(graph: Graph, options: RunOptions = RunOptions()) {
        self.graph = graph
        self.options = options
    }

    /// Runs the graph on one tensor per graph input (in graph input order) and returns the
    /// graph outputs, in order.
    public func run(_ inputs: [Tensor]) throws -> [Tensor] {
        try run(inputs, outputs: graph.outputs)
    }

    /// Runs the graph on inputs given by input node name (every graph input must be given).
    public func run(named inputs: [String: Tensor], outputs wanted: [NodeOutput]? = nil) throws -> [Tensor] {
        let names = graph.inputs.map(\.name)
        if let unknown = inputs.keys.sorted().first(where: { !names.contains($0) }) {
            throw GraftError(.invalidArgument, "no graph input with this name", expected: names.joined(separator: ", "), found: unknown)
        }
        let ordered = try names.map { name -> Tensor in
            guard let t = inputs[name] else {
                throw GraftError(.invalidArgument, "missing graph input", location: name, expected: "a tensor for '\(name)'")
            }
            return t
        }
        return try run(ordered, outputs: wanted ?? graph.outputs)
    }

    /// Runs the graph and returns the values of the requested node outputs (for featurizing
    /// at a frozen boundary or comparing per-layer activations).
    public func run(_ inputs: [Tensor], outputs wanted: [NodeOutput]) throws -> [Tensor] {
        try evaluate(inputs, presets: [:], outputs: wanted)
    }

    /// Runs the graph from featurized values instead of its inputs (DL4J
    /// TransferLearningHelper's `outputFromFeaturized`): each given node output takes the given
    /// tensor (in the layout `run(_:outputs:)` returns it, e.g. as written by `featurize`), and
    /// only the nodes after them are computed. Every graph input the wanted outputs still
    /// depend on is an error.
    public func run(from featurized: [NodeOutput: Tensor], outputs wanted: [NodeOutput]? = nil) throws -> [Tensor] {
        guard !featurized.isEmpty else {
            throw GraftError(.invalidArgument, "no featurized values given", expected: "at least one node output")
        }
        for key in featurized.keys.sorted(by: { $0.description < $1.description }) where graph.node(named: key.node) == nil {
            throw GraftError(.invalidArgument, "no such node", field: "from", found: key.description)
        }
        return try evaluate([], presets: featurized, outputs: wanted ?? graph.outputs)
    }

    /// The forward pass: graph inputs (all of them, unless `presets` is non-empty, when only
    /// the inputs still needed must be given, none in practice), then every needed node.
    private func evaluate(_ inputs: [Tensor], presets: [NodeOutput: Tensor], outputs wanted: [NodeOutput]) throws -> [Tensor] {
        BLASKernels.prepare()
        let inputNodes = presets.isEmpty ? graph.inputs : []
        guard inputs.count == inputNodes.count else {
            throw GraftError(.invalidArgument, "wrong number of inputs",
                             expected: "\(inputNodes.count) (\(inputNodes.map(\.name).joined(separator: ", ")))",
                             found: "\(inputs.count)")
        }
        let double = options.useDouble ?? graph.nodes.contains { n in n.parameters.values.contains { $0.dtype == .float64 } }
        let computeType: DType = double ? .float64 : .float32

        // Compute only what the wanted outputs depend on (featurizing at a boundary neither
        // pays for nor trips over the layers after it), and release each value once its last
        // consumer has run.
        let needed = Interpreter.dependencies(of: wanted, in: graph, stoppingAt: Set(presets.keys.map(\.node)))
        if !presets.isEmpty, let input = graph.nodes.first(where: { n in
            needed.contains(n.name) && !presets.keys.contains { $0.node == n.name } && { if case .input = n.op { return true }; return false }()
        }) {
            throw GraftError(.invalidArgument, "the outputs still depend on a graph input the featurized values do not cover",
                             location: input.name, expected: "featurized values at a boundary that separates the inputs from the outputs")
        }
        var remainingUses: [String: Int] = [:]
        for node in graph.nodes where needed.contains(node.name) {
            for i in node.inputs { remainingUses[i.node, default: 0] += 1 }
        }
        for w in wanted { remainingUses[w.node, default: 0] += 1 }
        // Convolutions computed together with the max pooling that is their only use.
        let fusions = presets.isEmpty && computeType == .float32
            ? Interpreter.convolutionMaxPoolings(in: graph, needed: needed, uses: remainingUses) : [:]
        let fusedPoolings = Set(fusions.values.map(\.name))

        // Prepare every graph input first: kernels may need the batch size (DL4J
        // feed-forward-to-RNN) or a named input's time length (DuplicateToTimeSeries).
        var context = RuntimeContext(sourceFormat: graph.source.format)
        context.dl4jSequencesTransposed = OutputLayout.sequencesTransposed(graph)
        context.packedWeights = PackedGEMM.isEnabled ? packedWeights : nil
        for (node, tensor) in zip(inputNodes, inputs) {
            guard case .input(let attrs) = node.op else { continue }
            context.graphInputs[node.name] = try InputKernel.prepare(tensor, attributes: attrs, node: node.name,
                                                                     computeType: computeType,
                                                                     sequencesTransposed: context.dl4jSequencesTransposed)
        }
        if let first = inputNodes.first, let value = context.graphInputs[first.name], value.tensor.rank > 0 {
            context.batchSize = value.tensor.shape[0]
        }
        // Featurized values arrive in the caller's layout; bring DL4J sequences back to [batch, time, features].
        var presetValues: [NodeOutput: RuntimeValue] = [:]
        for (ref, tensor) in presets {
            let inner = tensor.rank == 3 && OutputLayout.sequencesTransposed(graph) ? try tensor.transposed([0, 2, 1]) : tensor
            presetValues[ref] = RuntimeValue(inner.dtype == computeType ? inner : inner.converted(to: computeType))
            if tensor.rank > 0 { context.batchSize = tensor.shape[0] }
        }

        var values: [String: [RuntimeValue]] = [:]
        for node in graph.nodes where needed.contains(node.name) {
            let produced: [RuntimeValue]
            if presets.keys.contains(where: { $0.node == node.name }) {
                continue
            } else if case .input = node.op {
                guard let value = context.graphInputs[node.name] else { continue }
                produced = [value]
            } else if fusedPoolings.contains(node.name), values[node.name] != nil {
                continue  // computed with its convolution
            } else {
                var args: [RuntimeValue] = []
                for ref in node.inputs {
                    if let preset = presetValues[ref] { args.append(preset); continue }
                    guard let outs = values[ref.node], ref.output < outs.count else {
                        throw GraftError(.invalidGraph, "input not computed", location: node.name,
                                         field: "inputs", found: ref.description)
                    }
                    args.append(outs[ref.output])
                }
                do {
                    if let pooling = fusions[node.name],
                       let pooled = try Interpreter.convolutionMaxPooled(node, pooling, args, context: context) {
                        // The pooling's value; the convolution's own output is never formed.
                        values[pooling.name] = [RuntimeValue(pooled)]
                        produced = []
                    } else {
                        produced = try Kernels.evaluate(node, args, computeType: computeType, context: context)
                    }
                } catch let e as GraftError {
                    throw e.at(node.name)
                }
                for ref in node.inputs {
                    remainingUses[ref.node, default: 0] -= 1
                    if remainingUses[ref.node] == 0 { values[ref.node] = nil }
                }
            }
            values[node.name] = produced
        }

        var results: [Tensor] = []
        for w in wanted {
            if let preset = presets[w] { results.append(preset); continue }
            guard let outs = values[w.node], w.output < outs.count else {
                throw GraftError(.invalidArgument, "no such node output", found: w.description)
            }
            results.append(try OutputLayout.toCaller(outs[w.output].tensor, graph: graph, node: w.node))
        }
        return results
    }

    /// The names of the nodes `outputs` depend on, themselves included.
    static func dependencies(of outputs: [NodeOutput], in graph: Graph, stoppingAt stops: Set<String> = []) -> Set<String> {
        var inputsOf: [String: [NodeOutput]] = [:]
        for node in graph.nodes { inputsOf[node.name] = node.inputs }
        var seen = Set<String>()
        var stack = outputs.map(\.node)
        while let name = stack.popLast() {
            guard seen.insert(name).inserted, !stops.contains(name) else { continue }
            stack.append(contentsOf: (inputsOf[name] ?? []).map(\.node))
        }
        return seen
    }
}
