import GraftCore

/// Token ids → rows of `embeddings` [inputDim, outputDim] (plus DL4J's optional bias and
/// activation). Keras: [batch, time] ids → [batch, time, outputDim], and `maskZero` marks
/// id 0 as a masked step. DL4J EmbeddingLayer: [batch, 1] → [batch, outputDim];
/// EmbeddingSequenceLayer: [batch, time] or (after the NCT transpose) [batch, time, 1] →
/// [batch, time, outputDim].
enum EmbeddingKernels {
    static func embedding<T: RuntimeScalar>(_ node: Node, _ a: EmbeddingAttributes, _ x: RuntimeValue,
                                            context: RuntimeContext, as type: T.Type) throws -> RuntimeValue {
        let t = x.tensor
        guard t.rank >= 1 else {
            throw GraftError(.shapeMismatch, "embedding input needs a batch axis", location: node.name, found: "shape \(t.shape)")
        }
        var idShape = t.shape
        if context.isDL4J {
            if idShape.count == 2 && idShape[1] == 1 {
                idShape = [idShape[0]]                   // EmbeddingLayer: one id per example
            } else if idShape.count == 3 && idShape[2] == 1 {
                idShape = [idShape[0], idShape[1]]       // EmbeddingSequenceLayer [b, 1, t] after transpose
            }
        }
        let table: [T] = try node.parameterValues("embeddings", as: T.self, shape: [a.inputDim, a.outputDim])
        let bias: [T]? = a.useBias ? try node.parameterValues("bias", as: T.self, shape: [a.outputDim]) : nil
        let ids = t.doubles()
        let d = a.outputDim
        var out = [T](repeating: 0, count: ids.count * d)
        var mask = [Bool](repeating: true, count: ids.count)
        for (i, raw) in ids.enumerated() {
            guard raw == raw.rounded(), raw >= 0, raw < Double(a.inputDim) else {
                throw GraftError(.invalidArgument, "token id out of range", location: node.name,
                                 expected: "an integer in 0..<\(a.inputDim)", found: "\(raw) at position \(i)")
            }
            let id = Int(raw)
            if id == 0 { mask[i] = false }
            for j in 0..<d { out[i * d + j] = table[id * d + j] + (bias?[j] ?? 0) }
        }
        var y = try Tensor(shape: idShape + [d], scalars: out)
        try ActivationKernels.applyInPlace(a.activation, &y, featureAxis: y.rank - 1, as: T.self)
        return RuntimeValue(y, mask: a.maskZero ? mask : x.mask)
    }
}
