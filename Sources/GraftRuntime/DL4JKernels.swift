import GraftCore

/// DL4J graph vertices and input pre-processors, in the runtime's layouts: sequences are
/// [batch, time, features] (DL4J's [batch, features, time] transposed at the boundary),
/// images NCHW.
///
/// Row order of flattened sequences: DL4J reshapes [batch, features, time] to
/// [batch·time, features] in Fortran order, so row r holds example r mod batch at step
/// r div batch (time-major rows). The pre-processors here use the same order, so a
/// [batch·time, …] output matches DL4J's row for row. Masks, one entry per (batch, time),
/// are reordered with the rows.
enum DL4JKernels {
    static func evaluate<T: RuntimeScalar>(_ node: Node, _ v: DL4JVertex, _ inputs: [RuntimeValue],
                                           context: RuntimeContext, as type: T.Type) throws -> RuntimeValue {
        switch v {
        case .lastTimeStep:
            return try lastTimeStep(node, onlyInput(inputs, node), as: T.self)
        case .subset(let from, let to):
            return try subset(node, from: from, to: to, onlyInput(inputs, node), as: T.self)
        case .stack:
            return try stack(node, inputs, as: T.self)
        case .unstack(let index, let count):
            return try unstack(node, index: index, count: count, onlyInput(inputs, node), as: T.self)
        case .l2Normalize(let eps):
            let x = try onlyInput(inputs, node)
            let batch = x.tensor.shape.first ?? 0
            var values = x.tensor.scalars(as: T.self)
            let per = batch == 0 ? 0 : values.count / batch
            for b in 0..<batch {
                var sum: T = 0
                for i in 0..<per { sum += values[b * per + i] * values[b * per + i] }
                let norm = max(sum.squareRoot(), T(eps))
                for i in 0..<per { values[b * per + i] /= norm }
            }
            return RuntimeValue(try Tensor(shape: x.tensor.shape, scalars: values), mask: x.mask)
        case .scale(let factor):
            return try elementwise(onlyInput(inputs, node)) { $0 * T(factor) }
        case .shift(let value):
            return try elementwise(onlyInput(inputs, node)) { $0 + T(value) }
        case .duplicateToTimeSeries(let reference):
            return try duplicateToTimeSeries(node, reference: reference, onlyInput(inputs, node), context: context, as: T.self)
        case .localResponseNormalization(let k, let n, let alpha, let beta):
            return try NormalizationKernels.localResponse(node, k: k, n: n, alpha: alpha, beta: beta,
                                                          onlyInput(inputs, node), as: T.self)
        case .preprocessor(let p):
            return try preprocess(node, p, onlyInput(inputs, node), context: context, as: T.self)
        }
    }

    static func elementwise<T: RuntimeScalar>(_ x: RuntimeValue, _ f: (T) -> T) throws -> RuntimeValue {
        let values = x.tensor.scalars(as: T.self).map(f)
        return RuntimeValue(try Tensor(shape: x.tensor.shape, scalars: values), mask: x.mask)
    }

    /// [batch, time, features] → [batch, features] at each example's last present step
    /// (the last step when there is no mask; step 0 when every step is masked).
    static func lastTimeStep<T: RuntimeScalar>(_ node: Node, _ x: RuntimeValue, as type: T.Type) throws -> RuntimeValue {
        let t = x.tensor
        try requireRank(t, [3], node)
        let (batch, steps, f) = (t.shape[0], t.shape[1], t.shape[2])
        let src = t.scalars(as: T.self)
        var out = [T](repeating: 0, count: batch * f)
        for b in 0..<batch {
            var step = steps - 1
            if let m = x.mask, m.count == batch * steps {
                step = (0..<steps).last { m[b * steps + $0] } ?? 0
            }
            guard step >= 0 else { continue }
            for j in 0..<f { out[b * f + j] = src[(b * steps + step) * f + j] }
        }
        return RuntimeValue(try Tensor(shape: [batch, f], scalars: out))
    }

    /// Features `from...to` on DL4J's feature axis: the last axis for [batch, features] and
    /// [batch, time, features], the channel axis (1) for NCHW images.
    static func subset<T: RuntimeScalar>(_ node: Node, from: Int, to: Int, _ x: RuntimeValue, as type: T.Type) throws -> RuntimeValue {
        let t = x.tensor
        try requireRank(t, [2, 3, 4, 5], node)
        let axis = t.rank >= 4 ? 1 : t.rank - 1
        let (outer, n, inner) = Axes.split(t.shape, at: axis)
        guard from >= 0, from <= to, to < n else {
            throw GraftError(.shapeMismatch, "subset range outside the feature axis", location: node.name,
                             expected: "0 <= from <= to < \(n)", found: "from \(from) to \(to)")
        }
        let width = to - from + 1
        let src = t.scalars(as: T.self)
        var out = [T](); out.reserveCapacity(outer * width * inner)
        for o in 0..<outer {
            out.append(contentsOf: src[((o * n + from) * inner)..<((o * n + to + 1) * inner)])
        }
        var shape = t.shape
        shape[axis] = width
        return RuntimeValue(try Tensor(shape: shape, scalars: out), mask: x.mask)
    }

    /// Inputs joined along the batch axis.
    static func stack<T: RuntimeScalar>(_ node: Node, _ inputs: [RuntimeValue], as type: T.Type) throws -> RuntimeValue {
        guard let first = inputs.first else {
            throw GraftError(.invalidGraph, "stack has no inputs", location: node.name, field: "inputs")
        }
        let rest = Array(first.tensor.shape.dropFirst())
        var values = [T](), batch = 0
        for v in inputs {
            guard Array(v.tensor.shape.dropFirst()) == rest else {
                throw GraftError(.shapeMismatch, "stacked inputs differ in shape", location: node.name,
                                 expected: "[?, \(rest.map(String.init).joined(separator: ", "))]", found: "\(v.tensor.shape)")
            }
            values.append(contentsOf: v.tensor.scalars(as: T.self))
            batch += v.tensor.shape.first ?? 0
        }
        var mask: [Bool]? = nil
        if inputs.allSatisfy({ $0.mask != nil }) { mask = inputs.flatMap { $0.mask ?? [] } }
        return RuntimeValue(try Tensor(shape: [batch] + rest, scalars: values), mask: mask)
    }

    /// Slice `index` of `count` equal slices along the batch axis.
    static func unstack<T: RuntimeScalar>(_ node: Node, index: Int, count: Int, _ x: RuntimeValue, as type: T.Type) throws -> RuntimeValue {
        let t = x.tensor
        let total = t.shape.first ?? 0
        guard count > 0, index >= 0, index < count, total % count == 0 else {
            throw GraftError(.shapeMismatch, "cannot unstack", location: node.name,
                             expected: "a batch divisible into \(count) slices, index < \(count)", found: "batch \(total), index \(index)")
        }
        let size = total / count
        let per = t.shape.dropFirst().reduce(1, *)
        let src = t.scalars(as: T.self)
        let slice = Array(src[(index * size * per)..<((index + 1) * size * per)])
        var mask: [Bool]? = nil
        if let m = x.mask, m.count % count == 0 {
            let mm = m.count / count
            mask = Array(m[(index * mm)..<((index + 1) * mm)])
        }
        return RuntimeValue(try Tensor(shape: [size] + t.shape.dropFirst(), scalars: slice), mask: mask)
    }

    /// [batch, features] repeated over the time length of graph input `reference`.
    static func duplicateToTimeSeries<T: RuntimeScalar>(_ node: Node, reference: String, _ x: RuntimeValue,
                                                        context: RuntimeContext, as type: T.Type) throws -> RuntimeValue {
        guard let ref = context.graphInputs[reference] else {
            throw GraftError(.invalidGraph, "DuplicateToTimeSeries refers to an unknown graph input", location: node.name,
                             field: "inputName", found: reference)
        }
        guard ref.tensor.rank == 3 else {
            throw GraftError(.shapeMismatch, "DuplicateToTimeSeries reference is not a sequence", location: node.name,
                             found: "\(reference) has shape \(ref.tensor.shape)")
        }
        try requireRank(x.tensor, [2], node)
        let steps = ref.tensor.shape[1]
        let (batch, f) = (x.tensor.shape[0], x.tensor.shape[1])
        let src = x.tensor.scalars(as: T.self)
        var out = [T](repeating: 0, count: batch * steps * f)
        for b in 0..<batch {
            for s in 0..<steps { for j in 0..<f { out[(b * steps + s) * f + j] = src[b * f + j] } }
        }
        return RuntimeValue(try Tensor(shape: [batch, steps, f], scalars: out), mask: ref.mask)
    }

    // MARK: Pre-processors

    static func preprocess<T: RuntimeScalar>(_ node: Node, _ p: DL4JPreprocessor, _ x: RuntimeValue,
                                             context: RuntimeContext, as type: T.Type) throws -> RuntimeValue {
        let t = x.tensor
        switch p {
        case .cnnToFeedForward(let h, let w, let c):
            if t.rank == 2 { return x }
            try requireRank(t, [4], node)
            try expectSize(t.shape.dropFirst().reduce(1, *), c * h * w, node)
            return RuntimeValue(try t.reshaped([t.shape[0], c * h * w]))
        case .feedForwardToCnn(let h, let w, let c):
            if t.rank == 4 { return x }
            try expectSize(t.shape.dropFirst().reduce(1, *), c * h * w, node)
            return RuntimeValue(try t.reshaped([t.shape[0], c, h, w]))
        case .rnnToFeedForward:
            if t.rank == 2 { return x }
            try requireRank(t, [3], node)
            return try sequenceToRows(t, mask: x.mask)
        case .feedForwardToRnn:
            if t.rank == 3 { return x }
            try requireRank(t, [2], node)
            return try rowsToSequence(t, mask: x.mask, batch: context.batchSize, node: node)
        case .cnnToRnn(let h, let w, let c):
            try requireRank(t, [4], node)
            try expectSize(t.shape.dropFirst().reduce(1, *), c * h * w, node)
            return try rowsToSequence(try t.reshaped([t.shape[0], c * h * w]), mask: x.mask, batch: context.batchSize, node: node)
        case .rnnToCnn(let h, let w, let c):
            try requireRank(t, [3], node)
            try expectSize(t.shape[2], c * h * w, node)
            let rows = try sequenceToRows(t, mask: x.mask)
            return RuntimeValue(try rows.tensor.reshaped([rows.tensor.shape[0], c, h, w]), mask: rows.mask)
        }
    }

    static func expectSize(_ found: Int, _ wanted: Int, _ node: Node) throws {
        guard found == wanted else {
            throw GraftError(.shapeMismatch, "pre-processor size does not match its input", location: node.name,
                             expected: "\(wanted) values per example", found: "\(found)")
        }
    }

    /// [batch, time, f] → [time·batch, f] (row = step·batch + example), as DL4J orders rows.
    static func sequenceToRows(_ t: Tensor, mask: [Bool]?) throws -> RuntimeValue {
        let (batch, steps, f) = (t.shape[0], t.shape[1], t.shape[2])
        let rows = try t.transposed([1, 0, 2]).reshaped([steps * batch, f])
        var rowMask: [Bool]? = nil
        if let mask, mask.count == batch * steps {
            var m = [Bool](repeating: true, count: mask.count)
            for b in 0..<batch { for s in 0..<steps { m[s * batch + b] = mask[b * steps + s] } }
            rowMask = m
        }
        return RuntimeValue(rows, mask: rowMask)
    }

    /// [time·batch, f] (row = step·batch + example) → [batch, time, f].
    static func rowsToSequence(_ t: Tensor, mask: [Bool]?, batch: Int, node: Node) throws -> RuntimeValue {
        let rows = t.shape[0], f = t.shape[1]
        guard batch > 0, rows % batch == 0 else {
            throw GraftError(.shapeMismatch, "rows do not split into the batch", location: node.name,
                             expected: "a multiple of the batch size \(batch)", found: "\(rows) rows")
        }
        let steps = rows / batch
        let seq = try t.reshaped([steps, batch, f]).transposed([1, 0, 2])
        var seqMask: [Bool]? = nil
        if let mask, mask.count == rows {
            var m = [Bool](repeating: true, count: rows)
            for b in 0..<batch { for s in 0..<steps { m[b * steps + s] = mask[s * batch + b] } }
            seqMask = m
        }
        return RuntimeValue(seq, mask: seqMask)
    }
}
