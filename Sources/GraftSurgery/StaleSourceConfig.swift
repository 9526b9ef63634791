import GraftCore

extension Graph {
    /// Extras keys holding a node's configuration verbatim as its source format stored it
    /// (DL4J's layer JSON and per-layer `NeuralNetConfiguration`). A writer reuses them as is,
    /// so they must go when surgery changes what the node is.
    static let verbatimSourceConfigKeys = ["dl4j", "dl4jConf"]

    /// The graph with the verbatim source configuration dropped from every node that is not
    /// the same-named node of `original` with the same op, inputs and parameter shapes (a
    /// widened, pruned, replaced, renamed or new node); writers then generate its configuration
    /// from the op.
    func droppingStaleSourceConfigs(comparedTo original: Graph) -> Graph {
        var g = self
        for i in g.nodes.indices {
            let node = g.nodes[i]
            guard case .object(var extras) = node.extras,
                  Graph.verbatimSourceConfigKeys.contains(where: { extras[$0] != nil }) else { continue }
            if let before = original.node(named: node.name), before.op == node.op, before.inputs == node.inputs,
               before.parameters.keys == node.parameters.keys,
               zip(before.parameters.values, node.parameters.values).allSatisfy({ $0.shape == $1.shape }) {
                continue
            }
            for key in Graph.verbatimSourceConfigKeys { extras[key] = nil }
            g.nodes[i].extras = .object(extras)
        }
        return g
    }
}
