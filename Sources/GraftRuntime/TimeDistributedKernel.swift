import GraftCore

/// TimeDistributed(layer): folds time into batch ([batch, time, ...] → [batch·time, ...]),
/// runs the wrapped op through the ordinary dispatch with the node's parameters, and
/// unfolds the result. The mask passes through unchanged.
enum TimeDistributedKernel {
    static func evaluate<T: RuntimeScalar>(_ node: Node, _ layer: Op, _ inputs: [RuntimeValue], context: RuntimeContext,
                                           as type: T.Type) throws -> [RuntimeValue] {
        let x = try onlyInput(inputs, node)
        let t = x.tensor
        guard t.rank >= 3 else {
            throw GraftError(.shapeMismatch, "TimeDistributed needs [batch, time, ...] input", location: node.name,
                             found: "shape \(t.shape)")
        }
        let batch = t.shape[0], steps = t.shape[1]
        let folded = try t.reshaped([batch * steps] + t.shape.dropFirst(2))
        let inner = Node(name: node.name, op: layer, inputs: node.inputs, parameters: node.parameters,
                         freeze: node.freeze, extras: node.extras)
        let outs = try Kernels.evaluate(inner, [RuntimeValue(folded, mask: x.mask)], as: T.self, context: context)
        return try outs.map { out in
            let o = out.tensor
            guard o.rank >= 1, o.shape[0] == batch * steps else {
                throw GraftError(.shapeMismatch, "wrapped layer changed the folded batch size", location: node.name,
                                 expected: "\(batch * steps) rows", found: "shape \(o.shape)")
            }
            return RuntimeValue(try o.reshaped([batch, steps] + o.shape.dropFirst()), mask: x.mask)
        }
    }
}
