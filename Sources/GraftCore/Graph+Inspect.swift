import OrderedCollections

/// The `graft inspect` report: a layer table for people and a JSON document for scripts
/// (documented in `formats/cli-json.md`). Shapes include the batch axis (unknown sizes as
/// `None` in the table and `null` in JSON). A node whose shape cannot be inferred (an opaque
/// layer stating none, or anything after it) shows `?` / `null` instead of failing the report.
extension Graph {
    /// An aligned text table (name, op, output shape, parameter count, freeze state)
    /// followed by total, trainable and frozen parameter counts.
    public func inspectTable() throws -> String {
        let pass = try shapePass(strict: false)
        var rows: [[String]] = [["Name", "Op", "Class", "Output shape", "Params", "Freeze"]]
        for node in nodes {
            let shape: String
            if let outs = pass.known[node.name] {
                shape = outs.count == 1 ? ShapeText.withBatch(outs[0])
                    : "[" + outs.map(ShapeText.withBatch).joined(separator: ", ") + "]"
            } else {
                shape = "?"
            }
            rows.append([node.name, node.op.kindName, node.sourceClass ?? "-", shape, String(node.parameterCount), node.freeze.rawValue])
        }
        var widths = Array(repeating: 0, count: rows[0].count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ row: [String]) -> String {
            row.enumerated().map { i, cell in
                // Parameter counts are right-aligned, everything else left-aligned.
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return i == 4 ? pad + cell : cell + pad
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
        var lines = [line(rows[0]), String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))]
        lines += rows.dropFirst().map(line)
        let total = parameterCount
        let trainable = nodes.filter { $0.freeze == .trainable }.reduce(0) { $0 + $1.parameterCount }
        lines.append("")
        lines.append("Total params: \(total)")
        lines.append("Trainable params: \(trainable)")
        lines.append("Frozen params: \(total - trainable)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The report as JSON:
    /// `{"format", "inputs": [{"name", "shape", "layout"}], "outputs": ["node" | "node:k"],
    ///   "nodes": [{"name", "op", "inputs", "outputShape", ("outputShapes",) "parameters",
    ///   "parameterCount", "freeze", ("units")}]}`.
    public func inspectJSON() throws -> JSONValue {
        let pass = try shapePass(strict: false)
        var root = OrderedDictionary<String, JSONValue>()
        root["format"] = .string(source.format)
        root["inputs"] = .array(inputs.map { node in
            var entry = OrderedDictionary<String, JSONValue>()
            entry["name"] = .string(node.name)
            if case .input(let a) = node.op {
                entry["shape"] = Graph.shapeJSON(a.shape)
                entry["layout"] = .string(a.layout.rawValue)
            }
            return .object(entry)
        })
        root["outputs"] = .array(outputs.map { .string($0.description) })
        root["nodes"] = .array(nodes.map { node in
            var entry = OrderedDictionary<String, JSONValue>()
            entry["name"] = .string(node.name)
            entry["op"] = .string(node.op.kindName)
            if let sourceClass = node.sourceClass { entry["class"] = .string(sourceClass) }
            entry["inputs"] = .array(node.inputs.map { .string($0.description) })
            let outs = pass.known[node.name]
            entry["outputShape"] = outs?.first.map(Graph.shapeJSON) ?? .null
            if let outs, outs.count > 1 { entry["outputShapes"] = .array(outs.map(Graph.shapeJSON)) }
            var parameters = OrderedDictionary<String, JSONValue>()
            for (name, tensor) in node.parameters { parameters[name] = .array(tensor.shape.map { JSONValue($0) }) }
            entry["parameters"] = .object(parameters)
            entry["parameterCount"] = JSONValue(node.parameterCount)
            entry["freeze"] = .string(node.freeze.rawValue)
            if let units = node.op.outputWidth { entry["units"] = JSONValue(units) }
            return .object(entry)
        })
        return .object(root)
    }

    /// A shape with its batch axis as JSON: `[null, 10, 6]`.
    static func shapeJSON(_ shape: [Int?]) -> JSONValue {
        .array([.null] + shape.map { $0.map { JSONValue($0) } ?? .null })
    }
}

extension Node {
    /// The layer class the source format named (Keras `class_name`, DL4J class simple name),
    /// which readers store in `extras["sourceClass"]`; nil for nodes built in code.
    public var sourceClass: String? { extras["sourceClass"]?.stringValue }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
