import GraftCore

/// Activation functions applied in place. `softmax` works on rows of length `rowLength`
/// (the size of the last axis); all others are element-wise.
public enum Activations {
    public static func apply<T: RuntimeScalar>(_ f: ActivationFunction, to x: UnsafeMutableBufferPointer<T>, rowLength: Int) {
        if T.self == Float.self, applyFloat(f, to: UnsafeMutableRawBufferPointer(x).bindMemory(to: Float.self), rowLength: rowLength) {
            return
        }
        switch f {
        case .linear: return
        case .relu(nil, 0, 0):
            for i in x.indices { x[i] = max(x[i], 0) }
        case .relu(let maxValue, let slope, let threshold):
            // Keras' formula: positive part x·[x > threshold] (relu(x) when threshold is 0),
            // clipped to [0, maxValue] when a maximum is set, minus slope·relu(threshold − x).
            let m = maxValue.map { T($0) }, s = T(slope), t = T(threshold)
            for i in x.indices {
                let v = x[i]
                var positive: T = t != 0 ? (v > t ? v : 0) : max(v, 0)
                if let m { positive = min(max(positive, 0), m) }
                x[i] = s != 0 ? positive - s * max(t - v, 0) : positive
            }
        case .relu6: for i in x.indices { x[i] = min(max(x[i], 0), 6) }
        case .leakyRelu(let alpha):
            let a = T(alpha)
            for i in x.indices where x[i] < 0 { x[i] = a * x[i] }
        case .elu(let alpha):
            let a = T(alpha)
            for i in x.indices where x[i] < 0 { x[i] = a * (T.exp(x[i]) - 1) }
        case .selu:
            let alpha = T(1.6732632423543772848170429916717), scale = T(1.0507009873554804934193349852946)
            for i in x.indices { x[i] = x[i] > 0 ? scale * x[i] : scale * alpha * (T.exp(x[i]) - 1) }
        case .tanh: for i in x.indices { x[i] = T.tanh(x[i]) }
        case .sigmoid: for i in x.indices { x[i] = sigmoid(x[i]) }
        case .hardSigmoid(let slope, let offset):
            let s = T(slope), o = T(offset)
            for i in x.indices { x[i] = min(max(s * x[i] + o, 0), 1) }
        case .softmax:
            let n = max(rowLength, 1)
            var start = 0
            while start < x.count {
                let end = min(start + n, x.count)
                var m = -T.infinity
                for i in start..<end { m = max(m, x[i]) }
                var sum: T = 0
                for i in start..<end { x[i] = T.exp(x[i] - m); sum += x[i] }
                for i in start..<end { x[i] /= sum }
                start = end
            }
        case .softplus: for i in x.indices { x[i] = softplus(x[i]) }
        case .softsign: for i in x.indices { x[i] = x[i] / (1 + abs(x[i])) }
        case .swish: for i in x.indices { x[i] = x[i] * sigmoid(x[i]) }
        case .gelu(let approximate):
            if approximate {
                let c = T(0.7978845608028654)  // sqrt(2/pi)
                for i in x.indices { let v = x[i]; x[i] = T(0.5) * v * (1 + T.tanh(c * (v + T(0.044715) * v * v * v))) }
            } else {
                let r = T(0.7071067811865476)  // 1/sqrt(2)
                for i in x.indices { let v = x[i]; x[i] = T(0.5) * v * (1 + T.erf(v * r)) }
            }
        case .thresholdedRelu(let theta):
            let t = T(theta)
            for i in x.indices where !(x[i] > t) { x[i] = 0 }
        case .exponential: for i in x.indices { x[i] = T.exp(x[i]) }
        case .cube: for i in x.indices { x[i] = x[i] * x[i] * x[i] }
        case .hardTanh: for i in x.indices { x[i] = min(max(x[i], -1), 1) }
        case .rationalTanh:
            // DL4J: 1.7159 · tanh_approx(2x/3), tanh_approx(y) = sgn(y)(1 − 1/(1 + |y| + y² + 1.41645·y⁴)).
            for i in x.indices {
                let y = T(2.0 / 3.0) * x[i]
                let a = abs(y)
                let t = 1 - 1 / (1 + a + y * y + T(1.41645) * y * y * y * y)
                x[i] = T(1.7159) * (y < 0 ? -t : t)
            }
        case .rectifiedTanh: for i in x.indices { x[i] = max(0, T.tanh(x[i])) }
        }
    }

    /// The float32 versions of the functions built on exp (tanh, sigmoid, swish, softmax,
    /// exp), on `VectorMath`; false for every other function.
    static func applyFloat(_ f: ActivationFunction, to x: UnsafeMutableBufferPointer<Float>, rowLength: Int) -> Bool {
        guard let p = x.baseAddress else { return true }
        let n = x.count
        switch f {
        case .tanh: VectorMath.tanh(x)
        case .sigmoid: VectorMath.sigmoid(x)
        case .exponential: VectorMath.exp(x)
        case .swish: for i in 0..<n { p[i] = p[i] * VectorMath.sigmoid(p[i]) }
        case .softmax:
            let length = max(rowLength, 1)
            let rows = (n + length - 1) / length
            // Rows are independent: large batches (a time-distributed softmax over
            // batch·time rows) are split over the runtime's threads, same bits.
            let parts = n >= 1 << 15 ? min(Runtime.threadCount, rows) : 1
            let shared = SharedFloats(p)
            ParallelWork.parts(parts) { part in
                softmaxRows(shared.base, count: n, length: length, rows: (rows * part / parts)..<(rows * (part + 1) / parts))
            }
        default: return false
        }
        return true
    }

    /// Softmax of the given rows of `p` (rows of `length`, the last one possibly shorter, `count`
    /// values in all): max, exp(x − max) (VectorMath's buffer exp, the same bits as its
    /// scalar one), the sum in order, times 1/sum.
    static func softmaxRows(_ p: UnsafeMutablePointer<Float>, count n: Int, length: Int, rows: Range<Int>) {
        for r in rows {
            let start = r * length
            let row = p + start, count = min(length, n - start)
            var m = -Float.infinity
            for i in 0..<count { m = max(m, row[i]) }
            for i in 0..<count { row[i] = row[i] - m }
            VectorMath.exp(UnsafeMutableBufferPointer(start: row, count: count))
            var sum: Float = 0
            for i in 0..<count { sum += row[i] }
            let inverse = 1 / sum
            for i in 0..<count { row[i] *= inverse }
        }
    }

    /// A float buffer handed to the threads of a row split (each writes its own rows).
    struct SharedFloats: @unchecked Sendable {
        let base: UnsafeMutablePointer<Float>
        init(_ base: UnsafeMutablePointer<Float>) { self.base = base }
    }

    @inline(__always) public static func sigmoid<T: RuntimeScalar>(_ v: T) -> T {
        v >= 0 ? 1 / (1 + T.exp(-v)) : { let e = T.exp(v); return e / (1 + e) }()
    }

    @inline(__always) static func softplus<T: RuntimeScalar>(_ v: T) -> T {
        v > 20 ? v : T.log(1 + T.exp(v))
    }
}
