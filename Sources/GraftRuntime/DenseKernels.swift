import GraftCore

/// Dense (fully connected) layers: y = act(x·kernel + bias) on the last axis, for any number
/// of leading axes (Keras applies Dense to [batch, time, features] step by step the same
/// way). In float32 inside an Interpreter the kernel is packed once and multiplied by the
/// packed-weight GEMM (`PackedWeights`) from 2 rows on; otherwise, and for a single row
/// (GEMV), on OpenBLAS.
enum DenseKernels {
    static func dense<T: RuntimeScalar>(_ node: Node, _ a: DenseAttributes, _ x: RuntimeValue,
                                        context: RuntimeContext = RuntimeContext(), as type: T.Type) throws -> RuntimeValue {
        // A plain ReLU runs inside the projection (the packed GEMM's store). Any other
        // activation runs in the projection's bytes: its tensor is the only reference to them
        // (a second reference would make it copy them first).
        let fusedReLU = a.activation == .plainRelu
        var out = try project(node, x.tensor, units: a.units, useBias: a.useBias, relu: fusedReLU, context: context, as: T.self)
        if !fusedReLU { try ActivationKernels.applyInPlace(a.activation, &out, featureAxis: out.rank - 1, as: T.self) }
        return RuntimeValue(out, mask: x.mask)
    }

    /// x·kernel (+ bias) over the last axis, then max(0, ·) when `relu`. `kernel` is [in, units],
    /// `bias` [units].
    static func project<T: RuntimeScalar>(_ node: Node, _ x: Tensor, units: Int, useBias: Bool, relu: Bool = false,
                                          context: RuntimeContext = RuntimeContext(), as type: T.Type) throws -> Tensor {
        guard x.rank >= 1, let inFeatures = x.shape.last else {
            throw GraftError(.shapeMismatch, "dense input needs a feature axis", location: node.name, found: "shape \(x.shape)")
        }
        guard let kernel = node.parameters["kernel"] else {
            throw GraftError(.missingWeights, "missing parameter 'kernel'", location: node.name, field: "kernel",
                             expected: "a [\(inFeatures), \(units)] tensor")
        }
        guard kernel.count == inFeatures * units, kernel.shape.filter({ $0 != 1 }) == [inFeatures, units].filter({ $0 != 1 }) else {
            throw GraftError(.shapeMismatch, "parameter 'kernel' has the wrong shape", location: node.name, field: "kernel",
                             expected: "\([inFeatures, units])", found: "\(kernel.shape)")
        }
        let bias: [T]? = useBias ? try node.parameterValues("bias", as: T.self, shape: [units]) : nil
        let rows = inFeatures == 0 ? x.shape.dropLast().reduce(1, *) : x.count / inFeatures
        // The kernel is used in place (no copy): weight matrices can be hundreds of MB. The
        // result is written straight into the output tensor's bytes, every one of them (the
        // packed GEMM with beta 0, or `gemmRows`' bias or zero rows first): no zero fill.
        var out = try Tensor(uninitialized: Array(x.shape.dropLast()) + [units], dtype: T.dtype)
        if let packed = try packedKernel(node, "kernel", kernel, rows: rows, inFeatures: inFeatures, units: units,
                                         context: context, as: T.self) {
            x.withScalars(as: Float.self) { xs in
                out.withUnsafeMutableBytes { raw in
                    let c = raw.bindMemory(to: Float.self)
                    guard let a = xs.baseAddress, let cp = c.baseAddress else { return }
                    withFloatBias(bias) { packed.gemm(a: a, rows: rows, lda: inFeatures, bias: $0, beta: 0, relu: relu, c: cp, ldc: units) }
                }
            }
            return out
        }
        x.withScalars(as: T.self) { xs in
            kernel.withScalars(as: T.self) { ws in
                out.withUnsafeMutableBytes { raw in
                    let op = raw.bindMemory(to: T.self)
                    gemmRows(xs, rows: rows, inFeatures: inFeatures, weights: ws, units: units, bias: bias,
                             into: UnsafeMutableBufferPointer(rebasing: op[0..<(rows * units)]))
                }
            }
        }
        if relu { try ActivationKernels.applyInPlace(.plainRelu, &out, featureAxis: out.rank - 1, as: T.self) }
        return out
    }

    /// Packed GEMM pays off from 2 rows up to this many; a single row runs as OpenBLAS GEMV on
    /// the unpacked kernel when the runtime computes on one thread (measured ~10 % faster
    /// there), and on the packed GEMM too on more threads: OpenBLAS' own threads, which spin
    /// after its multi-threaded calls, competed with the runtime's pool threads on the same
    /// cores (a small CNN at batch 1 on 2 threads ran 1.8 × slower with its Dense layers on
    /// OpenBLAS). No upper bound: at large M (a recurrent layer's input projection over
    /// batch·time rows) it runs about as fast as OpenBLAS (`graft-bench gemm-shape`), and it
    /// keeps those multi-threaded calls out of the forward pass.
    static let packedRowLimit = Int.max

    /// The packed form of a [inFeatures, units] weight matrix from the Interpreter's cache,
    /// when the packed GEMM applies: float32, inside an Interpreter, 2...packedRowLimit rows (or
    /// one row on more than one thread), a matrix within `PackedGEMM.packLimitBytes`. Nil otherwise.
    static func packedKernel<T: RuntimeScalar>(_ node: Node, _ parameter: String, _ kernel: Tensor, rows: Int,
                                               inFeatures: Int, units: Int, context: RuntimeContext,
                                               as type: T.Type) throws -> PackedWeights? {
        guard T.self == Float.self, let cache = context.packedWeights, rows >= 2 || Runtime.threadCount > 1,
              rows <= packedRowLimit, inFeatures > 0, units > 0,
              PackedWeightCache.shouldPack(rows: inFeatures, columns: units) else { return nil }
        return try cache.weights(node.name + "/" + parameter, kernel, rows: inFeatures, columns: units)
    }

    /// Calls `body` with the bias as float32 values (T is Float on the packed path).
    static func withFloatBias<T: RuntimeScalar>(_ bias: [T]?, _ body: (UnsafePointer<Float>?) -> Void) {
        guard let bias else { body(nil); return }
        if let floats = bias as? [Float] {
            floats.withUnsafeBufferPointer { body($0.baseAddress) }
        } else {
            bias.map { Float($0) }.withUnsafeBufferPointer { body($0.baseAddress) }
        }
    }

    /// [rows, inFeatures] · [inFeatures, units] + bias, row-major.
    static func gemmRows<T: RuntimeScalar>(_ x: [T], rows: Int, inFeatures: Int, weights: [T], units: Int, bias: [T]?) -> [T] {
        x.withUnsafeBufferPointer { xs in
            weights.withUnsafeBufferPointer { ws in
                gemmRows(xs, rows: rows, inFeatures: inFeatures, weights: ws, units: units, bias: bias)
            }
        }
    }

    /// The same on buffers (used to run on a weight tensor's bytes without copying them).
    static func gemmRows<T: RuntimeScalar>(_ x: UnsafeBufferPointer<T>, rows: Int, inFeatures: Int,
                                           weights: UnsafeBufferPointer<T>, units: Int, bias: [T]?) -> [T] {
        var out = [T](repeating: 0, count: rows * units)
        out.withUnsafeMutableBufferPointer { op in
            gemmRows(x, rows: rows, inFeatures: inFeatures, weights: weights, units: units, bias: bias, into: op)
        }
        return out
    }

    /// The same into `out` ([rows, units]): the bias rows first, then one GEMM with beta 1.
    static func gemmRows<T: RuntimeScalar>(_ x: UnsafeBufferPointer<T>, rows: Int, inFeatures: Int,
                                           weights: UnsafeBufferPointer<T>, units: Int, bias: [T]?,
                                           into out: UnsafeMutableBufferPointer<T>) {
        guard rows > 0, units > 0, out.count >= rows * units, let c = out.baseAddress else { return }
        if let bias, bias.count >= units {
            bias.withUnsafeBufferPointer { bp in
                guard let b = bp.baseAddress else { return }
                for r in 0..<rows { (c + r * units).update(from: b, count: units) }
            }
        } else {
            c.update(repeating: 0, count: rows * units)
        }
        guard inFeatures > 0, x.count >= rows * inFeatures, weights.count >= inFeatures * units,
              let a = x.baseAddress, let b = weights.baseAddress else { return }
        T.gemm(transA: false, transB: false, m: rows, n: units, k: inFeatures, alpha: 1,
               a: a, lda: inFeatures, b: b, ldb: units, beta: 1, c: c, ldc: units)
    }
}
