import GraftCore

/// Layers that only move elements: flatten, reshape, permute, repeatVector. They change
/// or remove the time axis, so they drop the mask (repeatVector has none to keep).
enum ShapeKernels {
    static func evaluate<T: RuntimeScalar>(_ node: Node, _ x: RuntimeValue, as type: T.Type) throws -> RuntimeValue {
        let t = x.tensor
        guard t.rank >= 1 else {
            throw GraftError(.shapeMismatch, "input needs a batch axis", location: node.name, found: "shape \(t.shape)")
        }
        let batch = t.shape[0]
        switch node.op {
        case .flatten:
            return RuntimeValue(try t.reshaped([batch, t.shape.dropFirst().reduce(1, *)]))
        case .reshape(let target):
            return RuntimeValue(try t.reshaped([batch] + resolve(target, elements: t.shape.dropFirst().reduce(1, *), node: node)))
        case .permute(let dims):
            guard dims.count == t.rank - 1, Set(dims) == Set(1...max(dims.count, 1)) || dims.isEmpty else {
                throw GraftError(.shapeMismatch, "permutation does not fit the input", location: node.name, field: "dims",
                                 expected: "a permutation of 1...\(t.rank - 1)", found: "\(dims)")
            }
            return RuntimeValue(try t.transposed([0] + dims))
        case .repeatVector(let n):
            try requireRank(t, [2], node)
            guard n >= 0 else {
                throw GraftError(.invalidArgument, "negative repeat count", location: node.name, field: "n", found: "\(n)")
            }
            let f = t.shape[1]
            let src: [T] = t.scalars(as: T.self)
            var out = [T](repeating: 0, count: batch * n * f)
            for b in 0..<batch {
                for k in 0..<n {
                    for j in 0..<f { out[(b * n + k) * f + j] = src[b * f + j] }
                }
            }
            return RuntimeValue(try Tensor(shape: [batch, n, f], scalars: out))
        default:
            throw GraftError(.unsupported, "not a shape op: \(node.op.kindName)", location: node.name)
        }
    }

    /// A target shape with at most one -1 resolved against the element count.
    static func resolve(_ target: [Int], elements: Int, node: Node) throws -> [Int] {
        let unknown = target.indices.filter { target[$0] == -1 }
        let known = target.filter { $0 != -1 }
        let bad = GraftError(.shapeMismatch, "cannot reshape", location: node.name, field: "target_shape",
                             expected: "\(elements) elements per sample", found: "target \(target)")
        guard unknown.count <= 1, known.allSatisfy({ $0 >= 0 }) else { throw bad }
        let product = known.reduce(1, *)
        var resolved = target
        if let u = unknown.first {
            guard product > 0, elements % product == 0 else { throw bad }
            resolved[u] = elements / product
        } else if product != elements {
            throw bad
        }
        return resolved
    }
}
