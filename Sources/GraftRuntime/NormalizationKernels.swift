import GraftCore

/// Inference-mode normalisations: batch norm with moving statistics, layer norm, and
/// DL4J's local response normalisation across channels. All keep the input's mask.
enum NormalizationKernels {
    /// y = gamma·(x − mean)/sqrt(var + eps) + beta along `axis` (batch counted as 0).
    static func batchNorm<T: RuntimeScalar>(_ node: Node, _ a: BatchNormAttributes, _ x: RuntimeValue, as type: T.Type) throws -> RuntimeValue {
        let t = x.tensor
        let axis = try Axes.normalize(a.axis, rank: t.rank, location: node.name)
        let (outer, c, inner) = Axes.split(t.shape, at: axis)
        let mean: [T] = try node.parameterValues("movingMean", as: T.self, shape: [c])
        let variance: [T] = try node.parameterValues("movingVariance", as: T.self, shape: [c])
        let gamma: [T]? = a.scale ? try node.parameterValues("gamma", as: T.self, shape: [c]) : nil
        let beta: [T]? = a.center ? try node.parameterValues("beta", as: T.self, shape: [c]) : nil
        let eps = T(a.epsilon)
        var values = t.scalars(as: T.self)
        for ch in 0..<c {
            let inv = 1 / (variance[ch] + eps).squareRoot()
            let g = gamma?[ch] ?? 1, b = beta?[ch] ?? 0, m = mean[ch]
            for o in 0..<outer {
                let base = (o * c + ch) * inner
                for i in 0..<inner { values[base + i] = (values[base + i] - m) * inv * g + b }
            }
        }
        return RuntimeValue(try Tensor(shape: t.shape, scalars: values), mask: x.mask)
    }

    /// Normalises over `axes` (batch counted as 0) with the population variance, then
    /// scales by `gamma` and shifts by `beta`, both shaped like the normalised axes.
    static func layerNorm<T: RuntimeScalar>(_ node: Node, _ a: LayerNormAttributes, _ x: RuntimeValue, as type: T.Type) throws -> RuntimeValue {
        let t = x.tensor
        let axes = try Set(a.axes.map { try Axes.normalize($0, rank: t.rank, location: node.name) }).sorted()
        guard !axes.isEmpty, !axes.contains(0) || t.rank == 1 else {
            throw GraftError(.unsupported, "layer normalisation over the batch axis", location: node.name, field: "axis",
                             found: "\(a.axes)")
        }
        let kept = (0..<t.rank).filter { !axes.contains($0) }
        let order = kept + axes
        let moved = try t.transposed(order)
        let groupShape = axes.map { t.shape[$0] }
        let group = groupShape.reduce(1, *)
        let gamma: [T]? = a.scale ? try node.parameterValues("gamma", as: T.self, shape: groupShape) : nil
        let beta: [T]? = a.center ? try node.parameterValues("beta", as: T.self, shape: groupShape) : nil
        var values = moved.scalars(as: T.self)
        let eps = T(a.epsilon)
        if group > 0 {
            for start in stride(from: 0, to: values.count, by: group) {
                var mean: T = 0
                for i in 0..<group { mean += values[start + i] }
                mean /= T(group)
                var variance: T = 0
                for i in 0..<group { let d = values[start + i] - mean; variance += d * d }
                variance /= T(group)
                let inv = 1 / (variance + eps).squareRoot()
                for i in 0..<group {
                    var v = (values[start + i] - mean) * inv
                    if let gamma { v *= gamma[i] }
                    if let beta { v += beta[i] }
                    values[start + i] = v
                }
            }
        }
        var inverse = [Int](repeating: 0, count: order.count)
        for (i, o) in order.enumerated() { inverse[o] = i }
        let normalized = try Tensor(shape: moved.shape, scalars: values).transposed(inverse)
        return RuntimeValue(normalized, mask: x.mask)
    }

    /// DL4J LocalResponseNormalization on channels (axis 1, NCHW):
    /// y_c = x_c / (k + alpha·Σ_{c' = c−⌊n/2⌋ … c+⌊n/2⌋} x_{c'}²)^beta.
    static func localResponse<T: RuntimeScalar>(_ node: Node, k: Double, n: Double, alpha: Double, beta: Double,
                                                _ x: RuntimeValue, channelAxis: Int = 1, as type: T.Type) throws -> RuntimeValue {
        let t = x.tensor
        try requireRank(t, [3, 4, 5], node)
        let (outer, c, inner) = Axes.split(t.shape, at: channelAxis)
        let src = t.scalars(as: T.self)
        var out = src
        let half = Int((n / 2).rounded(.down))
        let kk = T(k), aa = T(alpha), bb = T(beta)
        for o in 0..<outer {
            for ch in 0..<c {
                let lo = max(0, ch - half), hi = min(c - 1, ch + half)
                for i in 0..<inner {
                    var sum: T = 0
                    for j in lo...hi { let v = src[(o * c + j) * inner + i]; sum += v * v }
                    let index = (o * c + ch) * inner + i
                    out[index] = src[index] / T.exp(bb * T.log(kk + aa * sum))
                }
            }
        }
        return RuntimeValue(try Tensor(shape: t.shape, scalars: out), mask: x.mask)
    }
}
