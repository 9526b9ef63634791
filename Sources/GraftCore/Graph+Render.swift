/// Graphviz DOT pictures of a graph: one box per node with its op and output shape, frozen
/// nodes shaded, nodes named in the surgery history outlined in red.
extension Graph {
    public func dot() -> String {
        var lines = ["digraph graft {", "  rankdir=TB;", Graph.dotNodeDefaults]
        lines += dotStatements(idPrefix: "", indent: "  ")
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Two graphs side by side, each in its own cluster titled `beforeTitle` / `afterTitle`
    /// (e.g. a model before and after a recipe); node ids are prefixed so equal names do not merge.
    public static func dotSideBySide(before: Graph, after: Graph, beforeTitle: String = "before",
                                     afterTitle: String = "after") -> String {
        var lines = ["digraph graft {", "  rankdir=TB;", Graph.dotNodeDefaults]
        for (i, (graph, title)) in [(before, beforeTitle), (after, afterTitle)].enumerated() {
            lines.append("  subgraph \(dotQuote("cluster_\(i)")) {")
            lines.append("    label=\(dotQuote(title)); style=dashed;")
            lines += graph.dotStatements(idPrefix: "\(i == 0 ? "before" : "after")/", indent: "    ")
            lines.append("  }")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    static let dotNodeDefaults = "  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"Helvetica\"];"

    static func dotQuote(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// The node and edge statements of this graph, node ids prefixed with `idPrefix`.
    func dotStatements(idPrefix: String, indent: String) -> [String] {
        let shapes = (try? inferShapes()) ?? [:]
        let edited = Set(history.flatMap { record -> [String] in
            guard case .object(let args) = record.arguments else { return [] }
            return args.values.flatMap { value -> [String] in
                if let s = value.stringValue { return [s] }
                return value.arrayValue?.compactMap(\.stringValue) ?? []
            }
        })
        func quote(_ s: String) -> String { Graph.dotQuote(s) }
        func id(_ s: String) -> String { quote(idPrefix + s) }
        var lines: [String] = []
        for node in nodes {
            var label = "\(node.name)\\n\(node.op.kindName)"
            if let outs = shapes[node.name], let first = outs.first { label += "\\n" + ShapeText.withBatch(first) }
            if node.parameterCount > 0 { label += "\\n\(node.parameterCount) params" }
            var attrs = ["label=\(quote(label))"]
            switch node.freeze {
            case .frozen: attrs.append("fillcolor=\"#b0c4de\"")
            case .frozenWithBackprop: attrs.append("fillcolor=\"#dde6f0\"")
            case .trainable: break
            }
            if edited.contains(node.name) { attrs += ["color=red", "penwidth=2"] }
            lines.append(indent + "\(id(node.name)) [\(attrs.joined(separator: ", "))];")
            for input in node.inputs {
                lines.append(indent + "\(id(input.node)) -> \(id(node.name))\(input.output == 0 ? "" : " [label=\(quote(String(input.output)))]");")
            }
        }
        for (i, out) in outputs.enumerated() {
            lines.append(indent + "\(id("output \(i)")) [shape=plaintext, style=\"\", label=\(quote("output \(i)"))];")
            lines.append(indent + "\(id(out.node)) -> \(id("output \(i)"));")
        }
        return lines
    }
}
