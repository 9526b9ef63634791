import GraftCore

/// Layers the Interpreter computes together when the graph allows it: a convolution and the
/// max pooling that is its only use (`ConvolutionOps.maxPooledLayer`, which decides whether
/// the pair qualifies at run time; otherwise both layers run as usual).
extension Interpreter {
    /// The max poolings that read a convolution's output with nothing else reading it (no
    /// other node, no wanted output: `uses` counts both), by convolution name.
    static func convolutionMaxPoolings(in graph: Graph, needed: Set<String>, uses: [String: Int]) -> [String: Node] {
        var convolutions = Set<String>()
        for node in graph.nodes {
            if case .conv = node.op { convolutions.insert(node.name) }
        }
        var pairs: [String: Node] = [:]
        for node in graph.nodes where needed.contains(node.name) {
            guard case .pooling(let p) = node.op, p.kind == .max, node.inputs.count == 1 else { continue }
            let source = node.inputs[0]
            guard source.output == 0, convolutions.contains(source.node), uses[source.node] == 1 else { continue }
            pairs[source.node] = node
        }
        return pairs
    }

    /// The output of `pooling` computed with its input convolution `conv` from the
    /// convolution's arguments, or nil when the pair does not qualify.
    static func convolutionMaxPooled(_ conv: Node, _ pooling: Node, _ args: [RuntimeValue],
                                     context: RuntimeContext) throws -> Tensor? {
        guard case .conv(let a) = conv.op, case .pooling(let p) = pooling.op, args.count == 1 else { return nil }
        return try ConvolutionOps.maxPooledLayer(conv, a, p, args[0].tensor, context: context)
    }
}
