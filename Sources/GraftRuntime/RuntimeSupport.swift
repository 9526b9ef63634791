import GraftCore

// Small helpers every kernel family uses: typed access to tensor elements, parameters
// checked against the shapes the op expects, and axis arithmetic.

extension Tensor {
    /// The elements as `T`, row-major (converted when the tensor holds another dtype).
    func scalars<T: RuntimeScalar>(as type: T.Type) -> [T] {
        if dtype == T.dtype {
            let n = count
            return withUnsafeBytes { Array($0.bindMemory(to: T.self).prefix(n)) }
        }
        return doubles().map { T($0) }
    }

    /// Calls `body` with the elements as `T` without copying when the dtype already is
    /// `T.dtype` (large weight matrices), else on a converted copy.
    func withScalars<T: RuntimeScalar, R>(as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R {
        let source = dtype == T.dtype ? self : converted(to: T.dtype)
        let n = source.count
        return try source.withUnsafeBytes { raw in
            try body(UnsafeBufferPointer(start: raw.bindMemory(to: T.self).baseAddress, count: n))
        }
    }

    /// A tensor for a value computed during a forward pass, whose bytes are not initialised:
    /// the kernel then writes it in full (every element, before anything reads it). Heap
    /// storage that the allocator reuses from run to run
    /// (see `TensorStorage.init(uninitializedHeapByteCount:)`).
    init(uninitialized shape: [Int], dtype: DType) throws {
        let bytes = try Tensor.checkedByteCount(shape: shape, dtype: dtype)
        try self.init(shape: shape, dtype: dtype, storage: TensorStorage(uninitializedHeapByteCount: bytes))
    }

    /// A tensor of dtype `T.dtype` holding `scalars` (row-major) with `shape`.
    init<T: RuntimeScalar>(shape: [Int], scalars: [T]) throws {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == scalars.count else {
            throw GraftError(.shapeMismatch, "element count does not match shape",
                             expected: "\(shape.reduce(1, *)) elements for \(shape)", found: "\(scalars.count)")
        }
        // The copy below writes every byte (the counts match): no zero fill first.
        try self.init(uninitialized: shape, dtype: T.dtype)
        if scalars.isEmpty { return }
        scalars.withUnsafeBytes { src in
            self.withUnsafeMutableBytes { dst in dst.copyMemory(from: src) }
        }
    }
}

extension Node {
    /// The parameter `name` as `T` values, with its shape checked when `shape` is given.
    func parameterValues<T: RuntimeScalar>(_ name: String, as type: T.Type, shape: [Int]? = nil) throws -> [T] {
        guard let t = parameters[name] else {
            throw GraftError(.missingWeights, "missing parameter '\(name)'", location: self.name, field: name,
                             expected: "a '\(name)' tensor", found: "parameters \(Array(parameters.keys))")
        }
        if let shape, t.shape != shape {
            // Accept the same element count in another shape only for vectors ([n] vs [1, n]).
            let squeezed = t.shape.filter { $0 != 1 }, wanted = shape.filter { $0 != 1 }
            guard squeezed == wanted else {
                throw GraftError(.shapeMismatch, "parameter '\(name)' has the wrong shape", location: self.name,
                                 field: name, expected: "\(shape)", found: "\(t.shape)")
            }
        }
        return t.scalars(as: T.self)
    }

    /// The parameter `name`, its shape checked as in `parameterValues` (data not touched).
    func checkedParameter(_ name: String, shape: [Int]) throws -> Tensor {
        guard let t = parameters[name] else {
            throw GraftError(.missingWeights, "missing parameter '\(name)'", location: self.name, field: name,
                             expected: "a '\(name)' tensor", found: "parameters \(Array(parameters.keys))")
        }
        if t.shape != shape {
            let squeezed = t.shape.filter { $0 != 1 }, wanted = shape.filter { $0 != 1 }
            guard squeezed == wanted else {
                throw GraftError(.shapeMismatch, "parameter '\(name)' has the wrong shape", location: self.name,
                                 field: name, expected: "\(shape)", found: "\(t.shape)")
            }
        }
        return t
    }

    /// Calls `body` with the parameter `name` as `T` values, shape checked as in
    /// `parameterValues`, without copying when it already has dtype `T.dtype`.
    func withParameter<T: RuntimeScalar, R>(_ name: String, as type: T.Type, shape: [Int],
                                            _ body: (UnsafeBufferPointer<T>) throws -> R) throws -> R {
        try checkedParameter(name, shape: shape).withScalars(as: T.self, body)
    }

    /// The parameter `name` if present.
    func optionalParameterValues<T: RuntimeScalar>(_ name: String, as type: T.Type, shape: [Int]? = nil) throws -> [T]? {
        guard parameters[name] != nil else { return nil }
        return try parameterValues(name, as: T.self, shape: shape)
    }
}

/// Axis and shape arithmetic.
enum Axes {
    /// An axis counted with the batch axis as 0 (negative counts from the end), checked.
    static func normalize(_ axis: Int, rank: Int, location: String? = nil) throws -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0, a < rank else {
            throw GraftError(.invalidArgument, "axis out of range", location: location, field: "axis",
                             expected: "an axis of a rank-\(rank) tensor", found: "\(axis)")
        }
        return a
    }

    /// Row-major strides of `shape`.
    static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
        return s
    }

    /// (outer, n, inner) sizes around `axis`: the tensor viewed as [outer, n, inner].
    static func split(_ shape: [Int], at axis: Int) -> (outer: Int, n: Int, inner: Int) {
        (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }
}

/// The input of a kernel, checked to be present.
func onlyInput(_ inputs: [RuntimeValue], _ node: Node) throws -> RuntimeValue {
    guard let first = inputs.first else {
        throw GraftError(.invalidGraph, "node has no input", location: node.name, field: "inputs",
                         expected: "1 input", found: "0")
    }
    return first
}

/// Checks that a tensor has one of the expected ranks.
func requireRank(_ t: Tensor, _ ranks: Set<Int>, _ node: Node, what: String = "input") throws {
    guard ranks.contains(t.rank) else {
        throw GraftError(.shapeMismatch, "\(what) has an unsupported rank for \(node.op.kindName)", location: node.name,
                         expected: "rank \(ranks.sorted().map(String.init).joined(separator: " or "))",
                         found: "shape \(t.shape)")
    }
}
