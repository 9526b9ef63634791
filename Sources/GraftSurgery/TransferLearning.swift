import Foundation
import GraftCore

/// DL4J TransferLearning parity (and a little more): structural edits on a graph. Each is a
/// pure function that throws before returning anything when the request is invalid.
extension Graph {
    func requireNewName(_ name: String, for operation: String) throws {
        guard !name.isEmpty, node(named: name) == nil else {
            throw invalid("\(operation): a node named '\(name)' already exists", node: name, expected: "a new, non-empty name", found: name)
        }
    }

    /// Replaces every use of `old` (as an input or graph output) with `new`.
    func rewiring(_ old: String, to new: NodeOutput, except skip: String? = nil) -> Graph {
        var g = self
        for i in g.nodes.indices where g.nodes[i].name != skip {
            g.nodes[i].inputs = g.nodes[i].inputs.map { $0.node == old && $0.output == 0 ? new : $0 }
        }
        g.outputs = g.outputs.map { $0.node == old && $0.output == 0 ? new : $0 }
        return g
    }

    // MARK: Freezing

    /// DL4J `setFeatureExtractor`: freezes the named nodes and every ancestor.
    public func setFeatureExtractor(_ names: [String]) throws -> Graph {
        var targets = Set<String>()
        for n in names { _ = try requireNode(n, for: "setFeatureExtractor"); targets.insert(n); targets.formUnion(ancestors(of: n)) }
        var g = self
        for i in g.nodes.indices where targets.contains(g.nodes[i].name) { g.nodes[i].freeze = .frozen }
        return try g.recording("setFeatureExtractor", [("names", JSONValue(names))], functionPreserving: true, from: self)
    }

    /// Freezes nodes by name, by regular expression on the name, or everything up to and
    /// including `upTo` (its ancestors).
    public func freeze(names: [String] = [], regex: String? = nil, upTo: String? = nil,
                       state: FreezeState = .frozen) throws -> Graph {
        let targets = try selectNodes(names: names, regex: regex, upTo: upTo, operation: "freeze")
        var g = self
        for i in g.nodes.indices where targets.contains(g.nodes[i].name) { g.nodes[i].freeze = state }
        var args: [(String, JSONValue)] = []
        if !names.isEmpty { args.append(("names", JSONValue(names))) }
        if let regex { args.append(("regex", .string(regex))) }
        if let upTo { args.append(("upTo", .string(upTo))) }
        return try g.recording("freeze", args, functionPreserving: true, from: self)
    }

    /// Makes nodes trainable again (all nodes when no selector is given).
    public func unfreeze(names: [String] = [], regex: String? = nil, upTo: String? = nil) throws -> Graph {
        let all = names.isEmpty && regex == nil && upTo == nil
        let targets = all ? Set(nodes.map(\.name)) : try selectNodes(names: names, regex: regex, upTo: upTo, operation: "unfreeze")
        var g = self
        for i in g.nodes.indices where targets.contains(g.nodes[i].name) { g.nodes[i].freeze = .trainable }
        var args: [(String, JSONValue)] = []
        if !names.isEmpty { args.append(("names", JSONValue(names))) }
        if let regex { args.append(("regex", .string(regex))) }
        if let upTo { args.append(("upTo", .string(upTo))) }
        return try g.recording("unfreeze", args, functionPreserving: true, from: self)
    }

    func selectNodes(names: [String], regex: String?, upTo: String?, operation: String) throws -> Set<String> {
        var targets = Set<String>()
        for n in names { _ = try requireNode(n, for: operation); targets.insert(n) }
        if let regex {
            let re: NSRegularExpression
            do { re = try NSRegularExpression(pattern: regex) } catch {
                throw GraftError(.invalidArgument, "\(operation): invalid regular expression", field: "regex", found: regex)
            }
            let matched = nodes.map(\.name).filter { re.firstMatch(in: $0, range: NSRange($0.startIndex..., in: $0)) != nil }
            guard !matched.isEmpty else {
                throw GraftError(.invalidArgument, "\(operation): the regular expression matches no node", field: "regex", found: regex)
            }
            targets.formUnion(matched)
        }
        if let upTo { _ = try requireNode(upTo, for: operation); targets.insert(upTo); targets.formUnion(ancestors(of: upTo)) }
        guard !targets.isEmpty else {
            throw GraftError(.invalidArgument, "\(operation): no nodes selected", expected: "names, regex or upTo")
        }
        return targets
    }

    // MARK: Removing

    /// DL4J `removeOutputLayer`: removes the single graph output node; its input becomes the output.
    public func removeOutputLayer() throws -> Graph {
        try removingOutputs(1).recording("removeOutputLayer", [], functionPreserving: false, from: self)
    }

    /// DL4J `removeLayersFromOutput(n)`: removes the last `n` layers on the output path.
    public func removeLayersFromOutput(_ n: Int) throws -> Graph {
        guard n > 0 else { throw invalid("removeLayersFromOutput needs n > 0", expected: "n > 0", found: "\(n)") }
        return try removingOutputs(n).recording("removeLayersFromOutput", [("n", JSONValue(n))], functionPreserving: false, from: self)
    }

    func removingOutputs(_ n: Int) throws -> Graph {
        var g = self
        for _ in 0..<n {
            guard g.outputs.count == 1, let out = g.outputs.first, let node = g.node(named: out.node) else {
                throw invalid("removing output layers needs exactly one graph output", expected: "1 output",
                              found: "\(g.outputs.count) outputs")
            }
            guard g.consumers(of: node.name).isEmpty, node.inputs.count == 1 else {
                throw invalid("output node '\(node.name)' has other consumers or not exactly one input", node: node.name)
            }
            if case .input = g.node(named: node.inputs[0].node)?.op {
                throw invalid("cannot remove the last layer before the input", node: node.name)
            }
            g.nodes.removeAll { $0.name == node.name }
            g.outputs = node.inputs
        }
        return g
    }

    /// Removes a single-input node and connects its consumers (and graph outputs) to its
    /// input (DL4J's removeVertexKeepConnections, kept valid by bypassing the node).
    public func removeVertexKeepConnections(_ name: String) throws -> Graph {
        let node = try requireNode(name, for: "removeVertexKeepConnections")
        guard node.inputs.count == 1 else {
            throw invalid("removeVertexKeepConnections needs a node with one input", node: name, expected: "1 input", found: "\(node.inputs.count)")
        }
        if let w = featureWidth(of: node.inputs[0]), let v = featureWidth(of: NodeOutput(name)), w != v {
            throw invalid("bypassing the node would change the width its consumers see (nIn mismatch)", node: name,
                          expected: "input width \(v)", found: "\(w)")
        }
        var g = rewiring(name, to: node.inputs[0])
        g.nodes.removeAll { $0.name == name }
        return try g.recording("removeVertexKeepConnections", [("name", .string(name))], functionPreserving: false, from: self)
    }

    /// Removes a node and everything that depends on it; graph outputs among them are dropped
    /// (follow with `setOutputs`).
    public func removeVertexAndConnections(_ name: String) throws -> Graph {
        let node = try requireNode(name, for: "removeVertexAndConnections")
        if case .input = node.op { throw invalid("cannot remove a graph input", node: name) }
        let gone = descendants(of: name).union([name])
        var g = self
        g.nodes.removeAll { gone.contains($0.name) }
        g.outputs.removeAll { gone.contains($0.node) }
        return try g.recording("removeVertexAndConnections", [("name", .string(name))], functionPreserving: false, from: self)
    }

    /// DL4J `setOutputs`.
    public func setOutputs(_ names: [String]) throws -> Graph {
        guard !names.isEmpty else { throw invalid("setOutputs needs at least one name", expected: "names") }
        var outs: [NodeOutput] = []
        for n in names {
            let parts = n.split(separator: ":")
            let base = String(parts[0])
            _ = try requireNode(base, for: "setOutputs")
            outs.append(NodeOutput(base, output: parts.count > 1 ? Int(parts[1]) ?? 0 : 0))
        }
        var g = self
        g.outputs = outs
        return try g.recording("setOutputs", [("names", JSONValue(names))], functionPreserving: false, from: self)
    }

    // MARK: Adding and replacing

    /// DL4J `addLayer`: a new node after `inputs`, parameters initialised from the inputs' width.
    /// Without `weightInit`, the fine-tune configuration's (see `fineTune`) or Xavier.
    public func addLayer(name: String, op: Op, inputs: [String], weightInit requested: WeightInit? = nil,
                         seed: UInt64 = 42) throws -> Graph {
        let weightInit = try requested ?? fineTuneWeightInit() ?? .glorotUniform
        try requireNewName(name, for: "addLayer")
        guard !inputs.isEmpty else { throw invalid("addLayer needs inputs", node: name, expected: "inputs") }
        for i in inputs { _ = try requireNode(i, for: "addLayer") }
        var rng = SplitMix64(seed: seed)
        let width = featureWidth(of: NodeOutput(inputs[0]))
        let (op2, params) = try initialParameters(for: op, name: name, inputWidth: width, weightInit: weightInit, rng: &rng)
        var g = self
        g.nodes.append(Node(name: name, op: op2, inputs: inputs.map { NodeOutput($0) }, parameters: params))
        return try g.recording("addLayer", [("name", .string(name)), ("layer", OpNotation.json(op2)), ("inputs", JSONValue(inputs)),
                                        ("weightInit", .string("\(weightInit)"))], functionPreserving: true, from: self)
    }

    /// DL4J `addVertex`: a parameterless node (merge, activation, DL4J vertex…).
    public func addVertex(name: String, op: Op, inputs: [String]) throws -> Graph {
        var rng = SplitMix64(seed: 0)
        let (_, params) = try initialParameters(for: op, name: name, inputWidth: 1, weightInit: .zeros, rng: &rng)
        guard params.isEmpty else { throw invalid("addVertex takes parameterless ops; use addLayer", node: name, found: op.kindName) }
        try requireNewName(name, for: "addVertex")
        for i in inputs { _ = try requireNode(i, for: "addVertex") }
        var g = self
        g.nodes.append(Node(name: name, op: op, inputs: inputs.map { NodeOutput($0) }))
        return try g.recording("addVertex", [("name", .string(name)), ("vertex", OpNotation.json(op)), ("inputs", JSONValue(inputs))],
                           functionPreserving: true, from: self)
    }

    /// Inserts a new layer on every edge leaving `after`. `init: .identity` on a Dense or
    /// standard Conv (Net2DeeperNet) keeps the function exactly when the new layer's activation
    /// is linear, or ReLU after a ReLU. When the new layer's width differs from `after`'s,
    /// the consumers' input rows are adjusted as nOutReplace would (kept, extra rows fresh).
    public func insertLayer(after: String, name: String, op: Op, init weightInit: WeightInit = .identity,
                            seed: UInt64 = 42) throws -> Graph {
        let previous = try requireNode(after, for: "insertLayer")
        try requireNewName(name, for: "insertLayer")
        var rng = SplitMix64(seed: seed)
        let width = featureWidth(of: NodeOutput(after))
        let (op2, params) = try initialParameters(for: op, name: name, inputWidth: width, weightInit: weightInit, rng: &rng)
        var g = rewiring(after, to: NodeOutput(name))
        let position = g.index(of: after)! + 1
        g.nodes.insert(Node(name: name, op: op2, inputs: [NodeOutput(after)], parameters: params), at: position)
        if let w = width, let v = outputWidth(of: op2, inputWidth: w), v != w {
            g = try g.followingWidthChange(of: name, from: w, to: v, weightInit: weightInit, rng: rng)
        }
        let exact = weightInit == .identity && Graph.identityIsExact(op2, after: previous.op)
        return try g.recording("insertLayer", [("after", .string(after)), ("name", .string(name)), ("layer", OpNotation.json(op2)),
                                           ("init", .string("\(weightInit)"))], functionPreserving: exact, from: self)
    }

    /// The consumers of `name` after its output width changed from `old` to `new` channels:
    /// the first min(old, new) channels keep their rows, new ones are initialised (as nOutReplace does).
    func followingWidthChange(of name: String, from old: Int, to new: Int, weightInit: WeightInit,
                              rng: SplitMix64) throws -> Graph {
        let keep = min(new, old)
        let map = ChannelMap(oldCount: old, sources: Array(0..<keep) + Array(repeating: nil, count: new - keep),
                             scales: Array(repeating: 1, count: new))
        var resizer = ChannelResizer(graph: self, root: name,
                                     settings: ResizeSettings(kernelInit: weightInit, consumerInit: weightInit,
                                                              allowOutputChange: true, rng: rng))
        resizer.visited.insert(name)
        try resizer.propagate(from: name, map, channelsFirst: false)
        return resizer.graph
    }

    static func identityIsExact(_ op: Op, after previous: Op) -> Bool {
        let activation: ActivationFunction
        switch op {
        case .dense(let a): activation = a.activation
        case .conv(let a) where a.kind == .standard && a.strides.allSatisfy({ $0 == 1 }) && a.padding == .same: activation = a.activation
        default: return false
        }
        if activation == .linear { return true }
        guard activation == .plainRelu else { return false }
        switch previous {
        case .dense(let a): return a.activation == .plainRelu
        case .conv(let a): return a.activation == .plainRelu
        case .activation(let f): return f == .plainRelu
        default: return false
        }
    }

    /// Replaces a node's op with a new, freshly initialised layer on the same inputs; the
    /// consumers' input rows follow a width change as in nOutReplace.
    public func replaceLayer(_ name: String, op: Op, weightInit requested: WeightInit? = nil, seed: UInt64 = 42) throws -> Graph {
        let weightInit = try requested ?? fineTuneWeightInit() ?? .glorotUniform
        let old = try requireNode(name, for: "replaceLayer")
        var rng = SplitMix64(seed: seed)
        let inWidth = old.inputs.first.flatMap { featureWidth(of: $0) }
        let (op2, params) = try initialParameters(for: op, name: name, inputWidth: inWidth, weightInit: weightInit, rng: &rng)
        var g = self
        let index = g.index(of: name)!
        g.nodes[index].op = op2
        g.nodes[index].parameters = params
        if let w = featureWidth(of: NodeOutput(name)), let v = g.featureWidth(of: NodeOutput(name)), v != w {
            g = try g.followingWidthChange(of: name, from: w, to: v, weightInit: weightInit, rng: rng)
        }
        return try g.recording("replaceLayer", [("name", .string(name)), ("layer", OpNotation.json(op2)),
                                            ("weightInit", .string("\(weightInit)"))], functionPreserving: false, from: self)
    }

    /// Renames a node and every reference to it.
    public func rename(_ old: String, to new: String) throws -> Graph {
        _ = try requireNode(old, for: "rename")
        try requireNewName(new, for: "rename")
        var g = self
        for i in g.nodes.indices {
            if g.nodes[i].name == old { g.nodes[i].name = new }
            g.nodes[i].inputs = g.nodes[i].inputs.map { $0.node == old ? NodeOutput(new, output: $0.output) : $0 }
            if case .dl4jVertex(.duplicateToTimeSeries(let r)) = g.nodes[i].op, r == old {
                g.nodes[i].op = .dl4jVertex(.duplicateToTimeSeries(reference: new))
            }
        }
        g.outputs = g.outputs.map { $0.node == old ? NodeOutput(new, output: $0.output) : $0 }
        return try g.recording("rename", [("from", .string(old)), ("to", .string(new))], functionPreserving: true, from: self)
    }
}
