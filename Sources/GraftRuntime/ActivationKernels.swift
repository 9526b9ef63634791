import GraftCore

/// Activation layers and PReLU. Element-wise ops keep the input's mask.
enum ActivationKernels {
    static func activation<T: RuntimeScalar>(_ f: ActivationFunction, _ x: RuntimeValue, node: Node, as type: T.Type) throws -> RuntimeValue {
        var t = x.tensor
        try applyInPlace(f, &t, featureAxis: nil, as: T.self)
        return RuntimeValue(t, mask: x.mask)
    }

    /// Applies `f` to every element of `t` (converted to `T` first). Softmax runs along its
    /// own axis (counted with batch as 0); its default axis -1 means `featureAxis` when given
    /// (e.g. channels of a DL4J NCHW loss layer), else the last axis.
    static func applyInPlace<T: RuntimeScalar>(_ f: ActivationFunction, _ t: inout Tensor, featureAxis: Int?, as type: T.Type) throws {
        if t.dtype != T.dtype { t = t.converted(to: T.dtype) }
        if case .linear = f { return }
        guard t.count > 0 else { return }
        var rowLength = t.shape.last ?? 1
        if case .softmax(let axis) = f {
            let resolved = axis == -1 ? (featureAxis ?? t.rank - 1) : try Axes.normalize(axis, rank: max(t.rank, 1))
            if t.rank == 0 {
                rowLength = 1
            } else if resolved != t.rank - 1 {
                let (outer, n, inner) = Axes.split(t.shape, at: resolved)
                t.withUnsafeMutableBytes { raw in
                    softmax(raw.bindMemory(to: T.self), outer: outer, n: n, inner: inner)
                }
                return
            } else {
                rowLength = t.shape[resolved]
            }
        }
        let length = rowLength
        t.withUnsafeMutableBytes { raw in
            Activations.apply(f, to: raw.bindMemory(to: T.self), rowLength: length)
        }
    }

    /// Softmax along the middle axis of a tensor viewed as [outer, n, inner].
    static func softmax<T: RuntimeScalar>(_ x: UnsafeMutableBufferPointer<T>, outer: Int, n: Int, inner: Int) {
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * n * inner + i
                var m = -T.infinity
                for k in 0..<n { m = max(m, x[base + k * inner]) }
                var sum: T = 0
                for k in 0..<n { let e = T.exp(x[base + k * inner] - m); x[base + k * inner] = e; sum += e }
                for k in 0..<n { x[base + k * inner] /= sum }
            }
        }
    }

    /// y = x for x > 0, alpha·x otherwise; `alpha` is shaped like the input without batch,
    /// with 1 on shared axes (broadcast).
    static func prelu<T: RuntimeScalar>(_ node: Node, _ x: RuntimeValue, as type: T.Type) throws -> RuntimeValue {
        let t = x.tensor
        guard let alphaTensor = node.parameters["alpha"] else {
            throw GraftError(.missingWeights, "missing parameter 'alpha'", location: node.name, field: "alpha")
        }
        let perSample = Array(t.shape.dropFirst())
        var alphaShape = alphaTensor.shape
        // Accept an alpha of lower rank (e.g. [channels]) aligned to the trailing axes.
        if alphaShape.count < perSample.count {
            alphaShape = Array(repeating: 1, count: perSample.count - alphaShape.count) + alphaShape
        }
        guard alphaShape.count == perSample.count,
              zip(alphaShape, perSample).allSatisfy({ $0 == $1 || $0 == 1 }) else {
            throw GraftError(.shapeMismatch, "PReLU alpha does not fit the input", location: node.name, field: "alpha",
                             expected: "\(perSample) with 1 on shared axes", found: "\(alphaTensor.shape)")
        }
        let alpha = alphaTensor.scalars(as: T.self)
        let alphaStrides = Axes.strides(alphaShape).enumerated().map { alphaShape[$0.offset] == 1 ? 0 : $0.element }
        var values = t.scalars(as: T.self)
        let sampleSize = perSample.reduce(1, *)
        guard sampleSize > 0 else { return x }
        let sampleStrides = Axes.strides(perSample)
        for j in 0..<sampleSize {
            var rem = j, ai = 0
            for axis in 0..<perSample.count {
                let idx = rem / sampleStrides[axis]
                rem %= sampleStrides[axis]
                ai += idx * alphaStrides[axis]
            }
            let a = alpha[ai]
            var i = j
            while i < values.count {
                if values[i] < 0 { values[i] = a * values[i] }
                i += sampleSize
            }
        }
        return RuntimeValue(try Tensor(shape: t.shape, scalars: values), mask: x.mask)
    }
}
