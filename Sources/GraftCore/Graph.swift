import OrderedCollections

/// How training treats a node's parameters.
public enum FreezeState: String, Sendable, Codable, Equatable {
    /// Parameters are updated by training.
    case trainable
    /// Parameters are fixed and no gradient flows back through the node (DL4J FrozenLayer,
    /// Keras `trainable: false`).
    case frozen
    /// Parameters are fixed but gradients still flow to earlier layers (DL4J FrozenLayerWithBackprop).
    case frozenWithBackprop
}

/// One output of one node: `node` with output index `output` (0 for single-output nodes).
/// Written as `name` or `name:k` in text.
public struct NodeOutput: Sendable, Hashable, CustomStringConvertible {
    public var node: String
    public var output: Int
    public init(_ node: String, output: Int = 0) { self.node = node; self.output = output }
    public var description: String { output == 0 ? node : "\(node):\(output)" }
}

/// A named layer or vertex of the graph.
public struct Node: Sendable, Equatable {
    public var name: String
    public var op: Op
    /// The tensors this node consumes, in order.
    public var inputs: [NodeOutput]
    /// Named parameter tensors in the op's canonical layouts (see `formats/ir.md`), in a stable order.
    public var parameters: OrderedDictionary<String, Tensor>
    public var freeze: FreezeState
    /// Source-format fields the IR does not model, verbatim (e.g. Keras initializers and
    /// regularizers, DL4J updater settings). Writers of the same format put them back.
    public var extras: JSONValue

    public init(name: String, op: Op, inputs: [NodeOutput] = [], parameters: OrderedDictionary<String, Tensor> = [:],
                freeze: FreezeState = .trainable, extras: JSONValue = .object([:])) {
        self.name = name; self.op = op; self.inputs = inputs; self.parameters = parameters
        self.freeze = freeze; self.extras = extras
    }

    /// Total number of parameter elements.
    public var parameterCount: Int { parameters.values.reduce(0) { $0 + $1.count } }

    public static func == (a: Node, b: Node) -> Bool {
        a.name == b.name && a.op == b.op && a.inputs == b.inputs && a.freeze == b.freeze && a.extras == b.extras
            && a.parameters.keys == b.parameters.keys
            && zip(a.parameters.values, b.parameters.values).allSatisfy { $0.bitwiseEqual($1) }
    }
}

extension Tensor: Equatable {
    /// Tensors compare bit for bit.
    public static func == (a: Tensor, b: Tensor) -> Bool { a.bitwiseEqual(b) }
}

/// Where a graph came from.
public struct SourceInfo: Sendable, Equatable {
    /// `keras-h5`, `keras-weights+json`, `keras3`, `dl4j`, or `memory` for graphs built in code.
    public var format: String
    /// The producer as the file states it (e.g. `keras 2.1.3 / tensorflow`, `dl4j 1.0.0-beta6`).
    public var producer: String
    /// The path read, when read from a file.
    public var path: String?
    /// Format-level fields the IR does not model (training config, model class, …), verbatim.
    public var extras: JSONValue
    /// Source-format entries kept byte-exact for same-format writers (e.g. DL4J's
    /// `updaterState.bin`, `normalizer.bin`), keyed by entry name.
    public var attachments: [String: [UInt8]]
    public init(format: String = "memory", producer: String = "graft", path: String? = nil, extras: JSONValue = .object([:]),
                attachments: [String: [UInt8]] = [:]) {
        self.format = format; self.producer = producer; self.path = path; self.extras = extras
        self.attachments = attachments
    }
}

/// One surgery operation applied to a graph, as recorded in its history.
public struct HistoryRecord: Sendable, Equatable {
    public var operation: String
    public var arguments: JSONValue
    /// Whether the operation claims to leave the network's function unchanged.
    public var functionPreserving: Bool
    public init(operation: String, arguments: JSONValue, functionPreserving: Bool) {
        self.operation = operation; self.arguments = arguments; self.functionPreserving = functionPreserving
    }
}

/// The canonical graph: named nodes in topological order (every node's inputs come before
/// it), the graph outputs, and the surgery history. A value type: edits copy only what
/// they change, since tensors share their bytes until written.
public struct Graph: Sendable, Equatable {
    public var nodes: [Node]
    public var outputs: [NodeOutput]
    public var history: [HistoryRecord]
    public var source: SourceInfo

    public init(nodes: [Node] = [], outputs: [NodeOutput] = [], history: [HistoryRecord] = [], source: SourceInfo = SourceInfo()) {
        self.nodes = nodes; self.outputs = outputs; self.history = history; self.source = source
    }

    /// The input nodes, in graph order.
    public var inputs: [Node] { nodes.filter { if case .input = $0.op { return true }; return false } }

    public func node(named name: String) -> Node? { nodes.first { $0.name == name } }

    public func index(of name: String) -> Int? { nodes.firstIndex { $0.name == name } }

    /// Nodes that consume any output of `name`.
    public func consumers(of name: String) -> [Node] { nodes.filter { $0.inputs.contains { $0.node == name } } }

    public var parameterCount: Int { nodes.reduce(0) { $0 + $1.parameterCount } }
}
