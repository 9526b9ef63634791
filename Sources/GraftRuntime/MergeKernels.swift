import GraftCore

/// Keras merge layers. Element-wise kinds broadcast as Keras' `_Merge` does: an input of
/// lower rank gets axes inserted after the batch axis until the ranks agree, then sizes of 1
/// broadcast (NumPy rules). Concatenate joins along one axis; Dot is Keras' batched dot.
/// Masks: element-wise merges AND the inputs' masks; concatenate ANDs them for a feature-axis
/// join and joins them for a time-axis join.
enum MergeKernels {
    static func merge<T: RuntimeScalar>(_ node: Node, _ kind: MergeAttributes.Kind, _ inputs: [RuntimeValue], as type: T.Type) throws -> RuntimeValue {
        guard !inputs.isEmpty else {
            throw GraftError(.invalidGraph, "merge has no inputs", location: node.name, field: "inputs")
        }
        switch kind {
        case .add, .subtract, .multiply, .average, .maximum, .minimum:
            if case .subtract = kind, inputs.count != 2 {
                throw GraftError(.invalidGraph, "subtract needs exactly two inputs", location: node.name, field: "inputs",
                                 expected: "2", found: "\(inputs.count)")
            }
            let maxRank = inputs.map(\.tensor.rank).max() ?? 0
            var shape = expanded(inputs[0].tensor.shape, to: maxRank)
            var acc = inputs[0].tensor.scalars(as: T.self)
            for v in inputs.dropFirst() {
                let op: (T, T) -> T
                switch kind {
                case .add, .average: op = { $0 + $1 }
                case .subtract: op = { $0 - $1 }
                case .multiply: op = { $0 * $1 }
                case .maximum: op = { max($0, $1) }
                default: op = { min($0, $1) }
                }
                (acc, shape) = try broadcast(acc, shape, v.tensor.scalars(as: T.self), expanded(v.tensor.shape, to: maxRank),
                                             node: node, op)
            }
            if case .average = kind {
                let n = T(inputs.count)
                for i in acc.indices { acc[i] /= n }
            }
            return RuntimeValue(try Tensor(shape: shape, scalars: acc), mask: andMasks(inputs))
        case .concatenate(let axisAttr):
            return try concatenate(node, axisAttr, inputs, as: T.self)
        case .dot(let axes, let normalize):
            return try dot(node, axes: axes, normalize: normalize, inputs, as: T.self)
        }
    }

    /// Inserts axes of size 1 after the batch axis until the shape has `rank` axes.
    static func expanded(_ shape: [Int], to rank: Int) -> [Int] {
        guard shape.count < rank, !shape.isEmpty else { return shape }
        return [shape[0]] + Array(repeating: 1, count: rank - shape.count) + shape.dropFirst()
    }

    /// NumPy-broadcast `op` of two same-rank tensors.
    static func broadcast<T: RuntimeScalar>(_ a: [T], _ aShape: [Int], _ b: [T], _ bShape: [Int], node: Node,
                                            _ op: (T, T) -> T) throws -> ([T], [Int]) {
        if aShape == bShape {
            var out = a
            for i in out.indices { out[i] = op(a[i], b[i]) }
            return (out, aShape)
        }
        guard aShape.count == bShape.count,
              zip(aShape, bShape).allSatisfy({ $0 == $1 || $0 == 1 || $1 == 1 }) else {
            throw GraftError(.shapeMismatch, "merge inputs have incompatible shapes", location: node.name,
                             expected: "shapes equal or broadcastable", found: "\(aShape) and \(bShape)")
        }
        let shape = zip(aShape, bShape).map { max($0, $1) == 0 ? 0 : max($0, $1) }
        let aStrides = zip(Axes.strides(aShape), aShape).map { $1 == 1 ? 0 : $0 }
        let bStrides = zip(Axes.strides(bShape), bShape).map { $1 == 1 ? 0 : $0 }
        let n = shape.reduce(1, *)
        var out = [T](repeating: 0, count: n)
        var index = [Int](repeating: 0, count: shape.count)
        var ai = 0, bi = 0
        for flat in 0..<n {
            out[flat] = op(a[ai], b[bi])
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                ai += aStrides[axis]; bi += bStrides[axis]
                if index[axis] < shape[axis] { break }
                ai -= aStrides[axis] * shape[axis]; bi -= bStrides[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return (out, shape)
    }

    /// The AND of the inputs' masks (inputs without a mask count as all present); nil when
    /// no input has one or their sizes differ.
    static func andMasks(_ inputs: [RuntimeValue]) -> [Bool]? {
        let masks = inputs.compactMap(\.mask)
        guard let first = masks.first, masks.allSatisfy({ $0.count == first.count }) else { return nil }
        var out = first
        for m in masks.dropFirst() { for i in out.indices { out[i] = out[i] && m[i] } }
        return out
    }

    static func concatenate<T: RuntimeScalar>(_ node: Node, _ axisAttr: Int, _ inputs: [RuntimeValue], as type: T.Type) throws -> RuntimeValue {
        let rank = inputs[0].tensor.rank
        let axis = try Axes.normalize(axisAttr, rank: rank, location: node.name)
        var outShape = inputs[0].tensor.shape
        outShape[axis] = 0
        for v in inputs {
            var s = v.tensor.shape
            guard s.count == rank else {
                throw GraftError(.shapeMismatch, "concatenate inputs differ in rank", location: node.name,
                                 expected: "rank \(rank)", found: "shape \(s)")
            }
            outShape[axis] += s[axis]
            s[axis] = outShape[axis]
            guard s == outShape else {
                throw GraftError(.shapeMismatch, "concatenate inputs differ outside the join axis", location: node.name,
                                 expected: "\(inputs[0].tensor.shape) except axis \(axis)", found: "\(v.tensor.shape)")
            }
        }
        let outer = outShape[..<axis].reduce(1, *)
        let inner = outShape[(axis + 1)...].reduce(1, *)
        var out = [T](); out.reserveCapacity(outShape.reduce(1, *))
        let parts = inputs.map { $0.tensor.scalars(as: T.self) }
        for o in 0..<outer {
            for (p, v) in zip(parts, inputs) {
                let block = v.tensor.shape[axis] * inner
                out.append(contentsOf: p[(o * block)..<((o + 1) * block)])
            }
        }
        var mask: [Bool]? = nil
        if inputs.contains(where: { $0.mask != nil }) {
            if axis == rank - 1 {
                mask = andMasks(inputs)
            } else if axis == 1 && rank == 3 {
                // Join along time: masks join too, per batch row.
                let batch = outShape[0]
                var joined = [Bool]()
                for b in 0..<batch {
                    for v in inputs {
                        let steps = v.tensor.shape[1]
                        if let m = v.mask, m.count == batch * steps {
                            joined.append(contentsOf: m[(b * steps)..<((b + 1) * steps)])
                        } else {
                            joined.append(contentsOf: repeatElement(true, count: steps))
                        }
                    }
                }
                mask = joined
            }
        }
        return RuntimeValue(try Tensor(shape: outShape, scalars: out), mask: mask)
    }

    /// Keras Dot: for each example, contracts axis `axes[0]` of x with axis `axes[1]` of y
    /// (batch counted as 0). The result is [batch] + x's other axes + y's other axes, or
    /// [batch, 1] when nothing else remains. `normalize` L2-normalises both along those axes first.
    static func dot<T: RuntimeScalar>(_ node: Node, axes: [Int], normalize: Bool, _ inputs: [RuntimeValue], as type: T.Type) throws -> RuntimeValue {
        guard inputs.count == 2 else {
            throw GraftError(.invalidGraph, "dot needs exactly two inputs", location: node.name, field: "inputs",
                             expected: "2", found: "\(inputs.count)")
        }
        guard axes.count == 1 || axes.count == 2 else {
            throw GraftError(.invalidArgument, "dot axes must be one or two integers", location: node.name, field: "axes", found: "\(axes)")
        }
        let x = inputs[0].tensor, y = inputs[1].tensor
        guard x.rank >= 2, y.rank >= 2, x.shape[0] == y.shape[0] else {
            throw GraftError(.shapeMismatch, "dot inputs need a shared batch axis and a feature axis", location: node.name,
                             found: "\(x.shape) and \(y.shape)")
        }
        let ax = try Axes.normalize(axes[0], rank: x.rank, location: node.name)
        let ay = try Axes.normalize(axes.count == 2 ? axes[1] : axes[0], rank: y.rank, location: node.name)
        guard ax > 0, ay > 0, x.shape[ax] == y.shape[ay] else {
            throw GraftError(.shapeMismatch, "dot axes do not match", location: node.name, field: "axes",
                             expected: "equal sizes on non-batch axes", found: "\(x.shape) axis \(ax), \(y.shape) axis \(ay)")
        }
        // x → [batch, xRest, d]; y → [batch, d, yRest].
        let xOrder = (0..<x.rank).filter { $0 != ax } + [ax]
        let yOrder = [0, ay] + (1..<y.rank).filter { $0 != ay }
        var xv = try x.transposed(xOrder).scalars(as: T.self)
        var yv = try y.transposed(yOrder).scalars(as: T.self)
        let batch = x.shape[0], d = x.shape[ax]
        let xRest = xOrder.dropFirst().dropLast().map { x.shape[$0] }
        let yRest = yOrder.dropFirst(2).map { y.shape[$0] }
        let m = xRest.reduce(1, *), n = yRest.reduce(1, *)
        if normalize {
            l2Normalize(&xv, outer: batch * m, n: d, inner: 1)
            l2Normalize(&yv, outer: batch, n: d, inner: n)
        }
        var out = [T](repeating: 0, count: batch * m * n)
        if m > 0, n > 0, d > 0 {
            xv.withUnsafeBufferPointer { xp in
                yv.withUnsafeBufferPointer { yp in
                    out.withUnsafeMutableBufferPointer { op in
                        guard let xb = xp.baseAddress, let yb = yp.baseAddress, let ob = op.baseAddress else { return }
                        for b in 0..<batch {
                            T.gemm(transA: false, transB: false, m: m, n: n, k: d, alpha: 1,
                                   a: xb + b * m * d, lda: d, b: yb + b * d * n, ldb: n, beta: 0, c: ob + b * m * n, ldc: n)
                        }
                    }
                }
            }
        }
        var shape = [batch] + xRest + yRest
        if shape.count == 1 { shape.append(1) }
        return RuntimeValue(try Tensor(shape: shape, scalars: out))
    }

    /// Keras l2_normalize along the middle axis of [outer, n, inner]: x / sqrt(max(Σx², 1e-12)).
    static func l2Normalize<T: RuntimeScalar>(_ v: inout [T], outer: Int, n: Int, inner: Int) {
        for o in 0..<outer {
            for i in 0..<inner {
                var sum: T = 0
                for k in 0..<n { let e = v[(o * n + k) * inner + i]; sum += e * e }
                let scale = 1 / max(sum, T(1e-12)).squareRoot()
                for k in 0..<n { v[(o * n + k) * inner + i] *= scale }
            }
        }
    }
}
