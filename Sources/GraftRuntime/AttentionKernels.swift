import GraftCore

/// Keras' `Attention` layer (see `AttentionAttributes`). Inputs: query, value, optional key.
/// Rank-3 inputs [batch, T, d] are batched matrices; rank-2 inputs [n, d] are one matrix
/// whose rows are the batch entries, exactly as tf.keras' matmul computes them (every row
/// attends over every row). Masks (rank 3): a masked value step gets score −1e9, a masked
/// query step outputs 0 and the output keeps the query's mask.
enum AttentionKernels {
    static func attention<T: RuntimeScalar>(_ node: Node, _ a: AttentionAttributes, _ inputs: [RuntimeValue],
                                            as type: T.Type) throws -> RuntimeValue {
        guard inputs.count == 2 || inputs.count == 3 else {
            throw GraftError(.invalidGraph, "attention takes query, value and an optional key", location: node.name,
                             field: "inputs", expected: "2 or 3 inputs", found: "\(inputs.count)")
        }
        let query = inputs[0], value = inputs[1], key = inputs.count == 3 ? inputs[2] : inputs[1]
        let q = query.tensor, v = value.tensor, k = key.tensor
        try requireRank(q, [2, 3], node, what: "query")
        guard v.rank == q.rank, k.shape == v.shape else {
            throw GraftError(.shapeMismatch, "query, value and key must have the same rank, key the shape of value",
                             location: node.name, expected: "rank \(q.rank)", found: "query \(q.shape), value \(v.shape), key \(k.shape)")
        }
        // Matrices: batches × [rows, depth].
        let batches = q.rank == 3 ? q.shape[0] : 1
        let tq = q.shape[q.rank - 2], tv = v.shape[v.rank - 2], d = q.shape[q.rank - 1], dv = v.shape[v.rank - 1]
        guard k.shape[k.rank - 1] == d, q.rank == 2 || v.shape[0] == batches else {
            throw GraftError(.shapeMismatch, "query and key depths (or batches) differ", location: node.name,
                             expected: "query \(q.shape)", found: "key \(k.shape)")
        }
        let scale: T = a.useScale ? try scalar(node, "scale", as: T.self) : 1
        let qs = q.scalars(as: T.self), ks = k.scalars(as: T.self), vs = v.scalars(as: T.self)
        var scores = [T](repeating: 0, count: batches * tq * tv)
        switch a.scoreMode {
        case .dot:
            for b in 0..<batches {
                qs.withUnsafeBufferPointer { qp in
                    ks.withUnsafeBufferPointer { kp in
                        scores.withUnsafeMutableBufferPointer { sp in
                            T.gemm(transA: false, transB: true, m: tq, n: tv, k: d, alpha: scale,
                                   a: qp.baseAddress! + b * tq * d, lda: d, b: kp.baseAddress! + b * tv * d, ldb: d,
                                   beta: 0, c: sp.baseAddress! + b * tq * tv, ldc: tv)
                        }
                    }
                }
            }
        case .concat:
            let weight: T = try scalar(node, "concatScoreWeight", as: T.self)
            for b in 0..<batches {
                for i in 0..<tq {
                    for j in 0..<tv {
                        var sum: T = 0
                        for c in 0..<d {
                            sum += T.tanh(scale * (qs[(b * tq + i) * d + c] + ks[(b * tv + j) * d + c]))
                        }
                        scores[(b * tq + i) * tv + j] = weight * sum
                    }
                }
            }
        }
        let valueMask = q.rank == 3 ? value.mask : nil
        let queryMask = q.rank == 3 ? query.mask : nil
        guard valueMask.map({ $0.count == batches * tv }) ?? true, queryMask.map({ $0.count == batches * tq }) ?? true else {
            throw GraftError(.shapeMismatch, "attention mask does not match its input", location: node.name, field: "mask")
        }
        for b in 0..<batches {
            for i in 0..<tq {
                for j in 0..<tv {
                    let masked = (a.causal && j > i) || (valueMask.map { !$0[b * tv + j] } ?? false)
                    if masked { scores[(b * tq + i) * tv + j] -= 1e9 }
                }
            }
        }
        scores.withUnsafeMutableBufferPointer { Activations.apply(.softmax(axis: -1), to: $0, rowLength: tv) }
        var out = [T](repeating: 0, count: batches * tq * dv)
        for b in 0..<batches {
            scores.withUnsafeBufferPointer { sp in
                vs.withUnsafeBufferPointer { vp in
                    out.withUnsafeMutableBufferPointer { op in
                        T.gemm(transA: false, transB: false, m: tq, n: dv, k: tv, alpha: 1,
                               a: sp.baseAddress! + b * tq * tv, lda: tv, b: vp.baseAddress! + b * tv * dv, ldb: dv,
                               beta: 0, c: op.baseAddress! + b * tq * dv, ldc: dv)
                    }
                }
            }
        }
        if let queryMask {
            for r in 0..<(batches * tq) where !queryMask[r] {
                for c in 0..<dv { out[r * dv + c] = 0 }
            }
        }
        let shape = q.rank == 3 ? [batches, tq, dv] : [tq, dv]
        return RuntimeValue(try Tensor(shape: shape, scalars: out), mask: queryMask)
    }

    /// A scalar parameter (shape [] or [1]).
    static func scalar<T: RuntimeScalar>(_ node: Node, _ name: String, as type: T.Type) throws -> T {
        let values: [T] = try node.parameterValues(name, as: T.self)
        guard values.count == 1 else {
            throw GraftError(.shapeMismatch, "parameter '\(name)' must be a scalar", location: node.name, field: name,
                             expected: "1 value", found: "\(values.count)")
        }
        return values[0]
    }
}
