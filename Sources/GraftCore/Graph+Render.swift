/// Graphviz DOT pictures of a graph: one box per node with its op and output shape, frozen
/// nodes shaded, nodes named in the surgery history outlined in red.
extension Graph {
    public func dot() -> String {
        let shapes = (try? inferShapes()) ?? [:]
        let edited = Set(history.flatMap { record -> [String] in
            guard case .object(let args) = record.arguments else { return [] }
            return args.values.flatMap { value -> [String] in
                if let s = value.stringValue { return [s] }
                return value.arrayValue?.compactMap(\.stringValue) ?? []
            }
        })
        func quote(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        var lines = ["digraph graft {", "  rankdir=TB;", "  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"Helvetica\"];"]
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
            lines.append("  \(quote(node.name)) [\(attrs.joined(separator: ", "))];")
            for input in node.inputs {
                lines.append("  \(quote(input.node)) -> \(quote(node.name))\(input.output == 0 ? "" : " [label=\(quote(String(input.output)))]");")
            }
        }
        for (i, out) in outputs.enumerated() {
            lines.append("  \(quote("output \(i)")) [shape=plaintext, style=\"\"];")
            lines.append("  \(quote(out.node)) -> \(quote("output \(i)"));")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }
}
