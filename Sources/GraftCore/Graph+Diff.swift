import OrderedCollections

/// What differs between two graphs: nodes only in one of them, and for nodes in both,
/// the op, inputs, freeze state and every parameter (shape, dtype, largest difference).
/// Used by `graft diff` and to prove an edit changed nothing it should not have.
public struct GraphDiff: Sendable {
    public struct ParameterChange: Sendable {
        public var node: String
        public var parameter: String
        /// `added`, `removed`, `shape`, `dtype` or `values`.
        public var kind: String
        public var detail: String
        /// Largest absolute difference, for `values` changes.
        public var maxAbs: Double?
    }

    public struct NodeChange: Sendable {
        public var node: String
        /// `op`, `inputs` or `freeze`.
        public var field: String
        public var before: String
        public var after: String
    }

    public var onlyInFirst: [String]
    public var onlyInSecond: [String]
    public var nodeChanges: [NodeChange]
    public var parameterChanges: [ParameterChange]
    public var outputsBefore: [String]
    public var outputsAfter: [String]

    public var isEmpty: Bool {
        onlyInFirst.isEmpty && onlyInSecond.isEmpty && nodeChanges.isEmpty && parameterChanges.isEmpty
            && outputsBefore == outputsAfter
    }

    /// One line per difference, or a single line saying there is none.
    public var text: String {
        if isEmpty { return "no differences\n" }
        var lines: [String] = []
        lines += onlyInFirst.map { "- node \($0) (only in the first model)" }
        lines += onlyInSecond.map { "+ node \($0) (only in the second model)" }
        lines += nodeChanges.map { "~ \($0.node).\($0.field): \($0.before) -> \($0.after)" }
        lines += parameterChanges.map { "~ \($0.node)/\($0.parameter): \($0.kind) \($0.detail)" }
        if outputsBefore != outputsAfter {
            lines.append("~ outputs: \(outputsBefore.joined(separator: ", ")) -> \(outputsAfter.joined(separator: ", "))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public var json: JSONValue {
        var root = OrderedDictionary<String, JSONValue>()
        root["identical"] = .bool(isEmpty)
        root["onlyInFirst"] = .array(onlyInFirst.map { .string($0) })
        root["onlyInSecond"] = .array(onlyInSecond.map { .string($0) })
        root["nodeChanges"] = .array(nodeChanges.map {
            .object(["node": .string($0.node), "field": .string($0.field), "before": .string($0.before), "after": .string($0.after)])
        })
        root["parameterChanges"] = .array(parameterChanges.map { change in
            var entry: OrderedDictionary<String, JSONValue> = [
                "node": .string(change.node), "parameter": .string(change.parameter),
                "kind": .string(change.kind), "detail": .string(change.detail),
            ]
            if let m = change.maxAbs { entry["maxAbs"] = JSONValue(m) }
            return .object(entry)
        })
        root["outputs"] = .object(["first": .array(outputsBefore.map { .string($0) }),
                                   "second": .array(outputsAfter.map { .string($0) })])
        return .object(root)
    }
}

extension Graph {
    /// The differences from this graph to `other`, matching nodes by name.
    public func diff(_ other: Graph) -> GraphDiff {
        let theirs = Dictionary(other.nodes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let mine = Set(nodes.map(\.name))
        var nodeChanges: [GraphDiff.NodeChange] = []
        var parameterChanges: [GraphDiff.ParameterChange] = []
        for a in nodes {
            guard let b = theirs[a.name] else { continue }
            if a.op != b.op {
                // Same kind: name the attributes that differ (`op.activation`, `op.units`…).
                let fields = a.op.kindName == b.op.kindName ? Op.differingAttributes(a.op, b.op) : []
                if fields.isEmpty {
                    nodeChanges.append(.init(node: a.name, field: "op", before: a.op.kindName, after: b.op.kindName))
                }
                for f in fields { nodeChanges.append(.init(node: a.name, field: "op." + f.name, before: f.before, after: f.after)) }
            }
            if a.inputs != b.inputs {
                nodeChanges.append(.init(node: a.name, field: "inputs", before: a.inputs.map(\.description).joined(separator: ","),
                                         after: b.inputs.map(\.description).joined(separator: ",")))
            }
            if a.freeze != b.freeze {
                nodeChanges.append(.init(node: a.name, field: "freeze", before: a.freeze.rawValue, after: b.freeze.rawValue))
            }
            for (name, t) in a.parameters {
                guard let u = b.parameters[name] else {
                    parameterChanges.append(.init(node: a.name, parameter: name, kind: "removed", detail: "\(t.shape)", maxAbs: nil))
                    continue
                }
                if t.shape != u.shape {
                    parameterChanges.append(.init(node: a.name, parameter: name, kind: "shape", detail: "\(t.shape) -> \(u.shape)", maxAbs: nil))
                } else if t.dtype != u.dtype {
                    parameterChanges.append(.init(node: a.name, parameter: name, kind: "dtype", detail: "\(t.dtype) -> \(u.dtype)", maxAbs: nil))
                } else if !t.bitwiseEqual(u) {
                    let x = t.doubles(), y = u.doubles()
                    var maxAbs = 0.0, changed = 0
                    for i in x.indices where x[i].bitPattern != y[i].bitPattern {
                        changed += 1
                        maxAbs = max(maxAbs, abs(x[i] - y[i]))
                    }
                    parameterChanges.append(.init(node: a.name, parameter: name, kind: "values",
                                                  detail: "\(changed) of \(x.count) elements differ, max abs \(maxAbs)", maxAbs: maxAbs))
                }
            }
            for (name, u) in b.parameters where a.parameters[name] == nil {
                parameterChanges.append(.init(node: a.name, parameter: name, kind: "added", detail: "\(u.shape)", maxAbs: nil))
            }
        }
        return GraphDiff(onlyInFirst: nodes.map(\.name).filter { theirs[$0] == nil },
                         onlyInSecond: other.nodes.map(\.name).filter { !mine.contains($0) },
                         nodeChanges: nodeChanges, parameterChanges: parameterChanges,
                         outputsBefore: outputs.map(\.description), outputsAfter: other.outputs.map(\.description))
    }

    /// Frozen parameters of this (base) graph whose values differ in `trained`: the check
    /// that fine-tuning left the frozen part alone. Frozen means frozen or frozen-with-backprop
    /// in this graph. A frozen node or parameter missing from `trained` is reported too.
    public func movedFrozenParameters(in trained: Graph) -> [GraphDiff.ParameterChange] {
        let frozenNames = Set(nodes.filter { $0.freeze != .trainable }.map(\.name))
        var base = self
        base.nodes = nodes.filter { frozenNames.contains($0.name) }
        var other = trained
        other.nodes = trained.nodes.filter { frozenNames.contains($0.name) }
        let d = base.diff(other)
        let missing = d.onlyInFirst.map {
            GraphDiff.ParameterChange(node: $0, parameter: "*", kind: "removed", detail: "frozen node missing from the trained model", maxAbs: nil)
        }
        return missing + d.parameterChanges
    }
}

extension Op {
    /// The attributes that differ between two ops of the same kind, by field name, with
    /// their values as text (read by reflection from the case's attribute struct); empty
    /// when the ops carry no named attributes.
    static func differingAttributes(_ a: Op, _ b: Op) -> [(name: String, before: String, after: String)] {
        guard let x = Mirror(reflecting: a).children.first?.value, let y = Mirror(reflecting: b).children.first?.value else { return [] }
        let fieldsA = Mirror(reflecting: x).children, fieldsB = Array(Mirror(reflecting: y).children)
        var out: [(name: String, before: String, after: String)] = []
        for (i, field) in fieldsA.enumerated() where i < fieldsB.count {
            guard let name = field.label, fieldsB[i].label == name else { return [] }
            let before = String(describing: field.value), after = String(describing: fieldsB[i].value)
            if before != after { out.append((name, before, after)) }
        }
        return out
    }
}
