import GraftCore

/// One recurrent cell kind with its attributes: how many gate blocks its kernels hold and
/// how many states it carries.
struct RecurrentCell {
    enum Kind: Equatable {
        case simple
        /// Gate blocks [i | f | c | o]; Graves peepholes [3, u] rows (input, forget, output).
        case lstm(peepholes: Bool)
        /// Gate blocks [z | r | h].
        case gru(resetAfter: Bool)
    }
    var kind: Kind
    var attributes: RecurrentAttributes

    init(_ op: Op, node: Node) throws {
        switch op {
        case .simpleRNN(let a): kind = .simple; attributes = a
        case .lstm(let a): kind = .lstm(peepholes: a.peepholes); attributes = a.recurrent
        case .gru(let a): kind = .gru(resetAfter: a.resetAfter); attributes = a.recurrent
        default:
            throw GraftError(.unsupported, "a bidirectional layer must wrap SimpleRNN, LSTM or GRU", location: node.name,
                             found: op.kindName)
        }
        guard attributes.units >= 0 else {
            throw GraftError(.invalidArgument, "negative unit count", location: node.name, field: "units",
                             found: "\(attributes.units)")
        }
    }

    var gates: Int {
        switch kind {
        case .simple: return 1
        case .lstm: return 4
        case .gru: return 3
        }
    }

    /// h, plus c for LSTM.
    var stateCount: Int { if case .lstm = kind { return 2 }; return 1 }
}

/// Runs one direction of a recurrent layer over a sequence: one GEMM x·kernel (+ input
/// bias) for all steps up front, then per step one GEMM h·recurrentKernel and the gate
/// arithmetic. Keras masking: a masked step keeps the states and outputs the previous
/// output (or 0 when `zeroOutputForMask`); the previous output starts at 0.
enum RecurrentSequence {
    struct Result<T: RuntimeScalar> {
        var steps: Int
        /// Outputs [batch, steps, units] in processing order (empty unless returnSequences).
        var sequence: [T]
        /// The output of the last processed step [batch, units].
        var last: [T]
        /// Final states [batch, units] each: h (and c for LSTM).
        var states: [[T]]
    }

    static func run<T: RuntimeScalar>(_ node: Node, _ cell: RecurrentCell, _ x: RuntimeValue, parameterPrefix prefix: String,
                                      goBackwards: Bool, initialStates: [[T]], zeroOutputForMask: Bool,
                                      masking: MaskSemantics = .keras, as type: T.Type) throws -> Result<T> {
        let input = x.tensor
        try requireRank(input, [3], node, what: "recurrent input [batch, time, features]")
        let (batch, steps, features) = (input.shape[0], input.shape[1], input.shape[2])
        let u = cell.attributes.units, gu = cell.gates * u
        let kernel: [T] = try node.parameterValues(prefix + "kernel", as: T.self, shape: [features, gu])
        let recurrent: [T] = try node.parameterValues(prefix + "recurrentKernel", as: T.self, shape: [u, gu])
        var inputBias: [T]? = nil, recurrentBias: [T]? = nil
        if cell.attributes.useBias {
            if cell.kind == .gru(resetAfter: true) {
                let both: [T] = try node.parameterValues(prefix + "bias", as: T.self, shape: [2, gu])
                inputBias = Array(both[0..<gu])
                recurrentBias = Array(both[gu..<(2 * gu)])
            } else {
                inputBias = try node.parameterValues(prefix + "bias", as: T.self, shape: [gu])
            }
        }
        var peepholes: [T]? = nil
        if cell.kind == .lstm(peepholes: true) {
            peepholes = try node.parameterValues(prefix + "peepholes", as: T.self, shape: [3, u])
        }
        if let mask = x.mask, mask.count != batch * steps {
            throw GraftError(.shapeMismatch, "mask does not match the sequence", location: node.name, field: "mask",
                             expected: "\(batch * steps) entries", found: "\(mask.count)")
        }
        guard initialStates.isEmpty || initialStates.count == cell.stateCount else {
            throw GraftError(.invalidGraph, "wrong number of initial states", location: node.name, field: "inputs",
                             expected: "\(cell.stateCount)", found: "\(initialStates.count)")
        }
        for s in initialStates where s.count != batch * u {
            throw GraftError(.shapeMismatch, "initial state has the wrong size", location: node.name, field: "inputs",
                             expected: "[\(batch), \(u)]", found: "\(s.count) values")
        }

        let xw = DenseKernels.gemmRows(input.scalars(as: T.self), rows: batch * steps, inFeatures: features,
                                       weights: kernel, units: gu, bias: inputBias)
        var h = initialStates.first ?? [T](repeating: 0, count: batch * u)
        var c = initialStates.count > 1 ? initialStates[1] : [T](repeating: 0, count: batch * u)
        var previousOutput = [T](repeating: 0, count: batch * u)
        var sequence = [T](repeating: 0, count: cell.attributes.returnSequences ? batch * steps * u : 0)
        let act = cell.attributes.activation, gate = cell.attributes.recurrentActivation

        var rec = [T](repeating: 0, count: batch * gu)
        var newH = [T](repeating: 0, count: batch * u), newC = newH
        var g0 = newH, g1 = newH, g2 = newH, g3 = newH

        for i in 0..<steps {
            let t = goBackwards ? steps - 1 - i : i
            // Pre-activations from the input, row b at xw[(b·steps + t)·gu].
            @inline(__always) func pre(_ b: Int, _ j: Int) -> T { xw[(b * steps + t) * gu + j] }

            switch cell.kind {
            case .simple:
                multiply(h, recurrent, rows: batch, inner: u, columns: u, ldb: gu, columnOffset: 0, into: &rec, ldc: gu)
                for b in 0..<batch { for j in 0..<u { newH[b * u + j] = pre(b, j) + rec[b * gu + j] } }
                apply(act, &newH, rowLength: u)

            case .lstm:
                multiply(h, recurrent, rows: batch, inner: u, columns: gu, ldb: gu, columnOffset: 0, into: &rec, ldc: gu)
                for b in 0..<batch {
                    for j in 0..<u {
                        let r = b * gu, k = b * u + j
                        g0[k] = pre(b, j) + rec[r + j]
                        g1[k] = pre(b, u + j) + rec[r + u + j]
                        g2[k] = pre(b, 2 * u + j) + rec[r + 2 * u + j]
                        g3[k] = pre(b, 3 * u + j) + rec[r + 3 * u + j]
                        if let p = peepholes {
                            g0[k] += c[k] * p[j]
                            g1[k] += c[k] * p[u + j]
                        }
                    }
                }
                apply(gate, &g0, rowLength: u)
                apply(gate, &g1, rowLength: u)
                apply(act, &g2, rowLength: u)
                for k in 0..<(batch * u) { newC[k] = g1[k] * c[k] + g0[k] * g2[k] }
                if let p = peepholes {
                    for b in 0..<batch { for j in 0..<u { g3[b * u + j] += newC[b * u + j] * p[2 * u + j] } }
                }
                apply(gate, &g3, rowLength: u)
                newH = newC
                apply(act, &newH, rowLength: u)
                for k in 0..<(batch * u) { newH[k] *= g3[k] }

            case .gru(let resetAfter):
                // g0 = z, g1 = r, g2 = candidate.
                if resetAfter {
                    multiply(h, recurrent, rows: batch, inner: u, columns: gu, ldb: gu, columnOffset: 0, into: &rec, ldc: gu)
                    if let rb = recurrentBias {
                        for b in 0..<batch { for j in 0..<gu { rec[b * gu + j] += rb[j] } }
                    }
                } else {
                    multiply(h, recurrent, rows: batch, inner: u, columns: 2 * u, ldb: gu, columnOffset: 0, into: &rec, ldc: gu)
                }
                for b in 0..<batch {
                    for j in 0..<u {
                        g0[b * u + j] = pre(b, j) + rec[b * gu + j]
                        g1[b * u + j] = pre(b, u + j) + rec[b * gu + u + j]
                    }
                }
                apply(gate, &g0, rowLength: u)
                apply(gate, &g1, rowLength: u)
                if resetAfter {
                    for b in 0..<batch {
                        for j in 0..<u { g2[b * u + j] = pre(b, 2 * u + j) + g1[b * u + j] * rec[b * gu + 2 * u + j] }
                    }
                } else {
                    for k in 0..<(batch * u) { g3[k] = g1[k] * h[k] }
                    // (r ⊙ h) · U_h, written into rec's candidate block.
                    multiply(g3, recurrent, rows: batch, inner: u, columns: u, ldb: gu, columnOffset: 2 * u, into: &rec, ldc: gu)
                    for b in 0..<batch {
                        for j in 0..<u { g2[b * u + j] = pre(b, 2 * u + j) + rec[b * gu + 2 * u + j] }
                    }
                }
                apply(act, &g2, rowLength: u)
                for k in 0..<(batch * u) { newH[k] = g0[k] * h[k] + (1 - g0[k]) * g2[k] }
            }

            // Masked rows keep their states and repeat the previous output (or output 0).
            for b in 0..<batch {
                let present = x.mask.map { $0[b * steps + t] } ?? true
                let range = (b * u)..<(b * u + u)
                if present {
                    for k in range {
                        h[k] = newH[k]
                        previousOutput[k] = newH[k]
                    }
                    if cell.stateCount == 2 { for k in range { c[k] = newC[k] } }
                } else if masking == .dl4j {
                    for k in range { h[k] = 0; c[k] = 0; previousOutput[k] = 0 }
                } else if zeroOutputForMask {
                    for k in range { previousOutput[k] = 0 }
                }
                if cell.attributes.returnSequences {
                    let dst = (b * steps + i) * u
                    for j in 0..<u { sequence[dst + j] = previousOutput[b * u + j] }
                }
            }
        }
        let states = cell.stateCount == 2 ? [h, c] : [h]
        return Result(steps: steps, sequence: sequence, last: previousOutput, states: states)
    }

    /// out[:, columnOffset ..< columnOffset + columns] = a[rows, inner] · w[:, columnOffset ..< columnOffset + columns]
    /// (w row-major with leading dimension `ldb`, out with `ldc`).
    static func multiply<T: RuntimeScalar>(_ a: [T], _ w: [T], rows: Int, inner: Int, columns: Int, ldb: Int,
                                           columnOffset: Int, into out: inout [T], ldc: Int) {
        guard rows > 0, columns > 0 else { return }
        if inner == 0 {
            for r in 0..<rows { for j in 0..<columns { out[r * ldc + columnOffset + j] = 0 } }
            return
        }
        a.withUnsafeBufferPointer { ap in
            w.withUnsafeBufferPointer { wp in
                out.withUnsafeMutableBufferPointer { op in
                    T.gemm(transA: false, transB: false, m: rows, n: columns, k: inner, alpha: 1,
                           a: ap.baseAddress!, lda: inner, b: wp.baseAddress! + columnOffset, ldb: ldb,
                           beta: 0, c: op.baseAddress! + columnOffset, ldc: ldc)
                }
            }
        }
    }

    @inline(__always) static func apply<T: RuntimeScalar>(_ f: ActivationFunction, _ v: inout [T], rowLength: Int) {
        v.withUnsafeMutableBufferPointer { Activations.apply(f, to: $0, rowLength: rowLength) }
    }
}
