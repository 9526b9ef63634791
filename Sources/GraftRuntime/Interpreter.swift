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
        let inputNodes = graph.inputs
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
        let needed = Interpreter.dependencies(of: wanted, in: graph)
        var remainingUses: [String: Int] = [:]
        for node in graph.nodes where needed.contains(node.name) {
            for i in node.inputs { remainingUses[i.node, default: 0] += 1 }
        }
        for w in wanted { remainingUses[w.node, default: 0] += 1 }

        // Prepare every graph input first: kernels may need the batch size (DL4J
        // feed-forward-to-RNN) or a named input's time length (DuplicateToTimeSeries).
        var context = RuntimeContext(sourceFormat: graph.source.format)
        context.dl4jSequencesTransposed = OutputLayout.sequencesTransposed(graph)
        for (node, tensor) in zip(inputNodes, inputs) {
            guard case .input(let attrs) = node.op else { continue }
            context.graphInputs[node.name] = try InputKernel.prepare(tensor, attributes: attrs, node: node.name,
                                                                     computeType: computeType)
        }
        if let first = inputNodes.first, let value = context.graphInputs[first.name], value.tensor.rank > 0 {
            context.batchSize = value.tensor.shape[0]
        }

        var values: [String: [RuntimeValue]] = [:]
        for node in graph.nodes where needed.contains(node.name) {
            let produced: [RuntimeValue]
            if case .input = node.op {
                guard let value = context.graphInputs[node.name] else { continue }
                produced = [value]
            } else {
                var args: [RuntimeValue] = []
                for ref in node.inputs {
                    guard let outs = values[ref.node], ref.output < outs.count else {
                        throw GraftError(.invalidGraph, "input not computed", location: node.name,
                                         field: "inputs", found: ref.description)
                    }
                    args.append(outs[ref.output])
                }
                do {
                    produced = try Kernels.evaluate(node, args, computeType: computeType, context: context)
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
            guard let outs = values[w.node], w.output < outs.count else {
                throw GraftError(.invalidArgument, "no such node output", found: w.description)
            }
            results.append(try OutputLayout.toCaller(outs[w.output].tensor, graph: graph, node: w.node))
        }
        return results
    }

    /// The names of the nodes `outputs` depend on, themselves included.
    static func dependencies(of outputs: [NodeOutput], in graph: Graph) -> Set<String> {
        var inputsOf: [String: [NodeOutput]] = [:]
        for node in graph.nodes { inputsOf[node.name] = node.inputs }
        var seen = Set<String>()
        var stack = outputs.map(\.node)
        while let name = stack.popLast() {
            guard seen.insert(name).inserted else { continue }
            stack.append(contentsOf: (inputsOf[name] ?? []).map(\.node))
        }
        return seen
    }
}
