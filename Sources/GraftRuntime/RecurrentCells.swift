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
        let kernel = try node.checkedParameter(prefix + "kernel", shape: [features, gu])
        let recurrent = try node.checkedParameter(prefix + "recurrentKernel", shape: [u, gu])
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

        // The kernels are read in place (no copy per call).
        var xw = kernel.withScalars(as: T.self) { ks in
            input.withScalars(as: T.self) { xs in
                DenseKernels.gemmRows(xs, rows: batch * steps, inFeatures: features, weights: ks, units: gu, bias: inputBias)
            }
        }
        var h = initialStates.first ?? [T](repeating: 0, count: batch * u)
        var c = initialStates.count > 1 ? initialStates[1] : [T](repeating: 0, count: batch * u)
        var previousOutput = [T](repeating: 0, count: batch * u)
        var sequence = [T](repeating: 0, count: cell.attributes.returnSequences ? batch * steps * u : 0)
        let scratch = StepScratch<T>(batch: batch, units: u, gates: cell.gates)
        defer { scratch.release() }
        recurrent.withScalars(as: T.self) { rp in
            xw.withUnsafeMutableBufferPointer { xp in
                h.withUnsafeMutableBufferPointer { hp in
                    c.withUnsafeMutableBufferPointer { cp in
                        previousOutput.withUnsafeMutableBufferPointer { op in
                            sequence.withUnsafeMutableBufferPointer { sp in
                                let buffers = StepBuffers(xw: xp.baseAddress, recurrent: rp.baseAddress, h: hp.baseAddress,
                                                          c: cp.baseAddress, previousOutput: op.baseAddress,
                                                          sequence: sp.isEmpty ? nil : sp.baseAddress)
                                runSteps(cell, buffers, scratch, batch: batch, steps: steps, goBackwards: goBackwards,
                                         mask: x.mask, zeroOutputForMask: zeroOutputForMask, masking: masking,
                                         peepholes: peepholes, recurrentBias: recurrentBias)
                            }
                        }
                    }
                }
            }
        }
        let states = cell.stateCount == 2 ? [h, c] : [h]
        return Result(steps: steps, sequence: sequence, last: previousOutput, states: states)
    }

    /// The arrays a sequence run works on, as base addresses (nil only when empty).
    struct StepBuffers<T: RuntimeScalar> {
        /// Input pre-activations [batch, steps, gates·units]; each step adds its recurrent part in place.
        var xw: UnsafeMutablePointer<T>?
        /// Recurrent kernel [units, gates·units].
        var recurrent: UnsafePointer<T>?
        var h: UnsafeMutablePointer<T>?
        var c: UnsafeMutablePointer<T>?
        var previousOutput: UnsafeMutablePointer<T>?
        /// Outputs [batch, steps, units] (nil unless returnSequences).
        var sequence: UnsafeMutablePointer<T>?
    }

    /// Per-step work buffers, allocated once per run: new h and c [batch, units], the
    /// recurrent product [batch, gates·units] (GRU) and one more [batch, units].
    final class StepScratch<T: RuntimeScalar> {
        let newH: UnsafeMutablePointer<T>, newC: UnsafeMutablePointer<T>, temp: UnsafeMutablePointer<T>
        let rec: UnsafeMutablePointer<T>
        init(batch: Int, units: Int, gates: Int) {
            let n = max(batch * units, 1)
            newH = .allocate(capacity: n); newH.initialize(repeating: 0, count: n)
            newC = .allocate(capacity: n); newC.initialize(repeating: 0, count: n)
            temp = .allocate(capacity: n); temp.initialize(repeating: 0, count: n)
            let r = max(batch * units * gates, 1)
            rec = .allocate(capacity: r); rec.initialize(repeating: 0, count: r)
        }
        func release() { newH.deallocate(); newC.deallocate(); temp.deallocate(); rec.deallocate() }
    }

    /// The time loop. Step t's rows of `xw` (row b at (b·steps + t)·gu, leading dimension
    /// steps·gu) receive h·recurrentKernel by one GEMM with beta 1, then the gate functions
    /// run on contiguous gate blocks of each row.
    static func runSteps<T: RuntimeScalar>(_ cell: RecurrentCell, _ buffers: StepBuffers<T>, _ scratch: StepScratch<T>,
                                           batch: Int, steps: Int, goBackwards: Bool, mask: [Bool]?,
                                           zeroOutputForMask: Bool, masking: MaskSemantics, peepholes: [T]?,
                                           recurrentBias: [T]?) {
        let u = cell.attributes.units, gu = cell.gates * u
        guard batch > 0, steps > 0, u > 0, let xw = buffers.xw, let recurrent = buffers.recurrent, let h = buffers.h,
              let c = buffers.c, let previousOutput = buffers.previousOutput else { return }
        let act = cell.attributes.activation, gate = cell.attributes.recurrentActivation
        let ld = steps * gu
        let newH = scratch.newH, newC = scratch.newC, temp = scratch.temp, rec = scratch.rec
        @inline(__always) func apply(_ f: ActivationFunction, _ p: UnsafeMutablePointer<T>, _ count: Int) {
            Activations.apply(f, to: UnsafeMutableBufferPointer(start: p, count: count), rowLength: u)
        }

        for i in 0..<steps {
            let t = goBackwards ? steps - 1 - i : i
            let pre = xw + t * gu  // row b at pre + b·ld

            switch cell.kind {
            case .simple:
                T.gemm(transA: false, transB: false, m: batch, n: u, k: u, alpha: 1, a: h, lda: u, b: recurrent, ldb: gu,
                       beta: 1, c: pre, ldc: ld)
                for b in 0..<batch {
                    let row = pre + b * ld
                    apply(act, row, u)
                    (newH + b * u).update(from: row, count: u)
                }

            case .lstm:
                // Gate blocks [i | f | c | o] of each row.
                T.gemm(transA: false, transB: false, m: batch, n: gu, k: u, alpha: 1, a: h, lda: u, b: recurrent, ldb: gu,
                       beta: 1, c: pre, ldc: ld)
                for b in 0..<batch {
                    let row = pre + b * ld, cb = c + b * u, ncb = newC + b * u, nhb = newH + b * u
                    if let p = peepholes {
                        for j in 0..<u {
                            row[j] += cb[j] * p[j]
                            row[u + j] += cb[j] * p[u + j]
                        }
                    }
                    apply(gate, row, 2 * u)
                    apply(act, row + 2 * u, u)
                    for j in 0..<u { ncb[j] = row[u + j] * cb[j] + row[j] * row[2 * u + j] }
                    if let p = peepholes {
                        for j in 0..<u { row[3 * u + j] += ncb[j] * p[2 * u + j] }
                    }
                    apply(gate, row + 3 * u, u)
                    nhb.update(from: ncb, count: u)
                    apply(act, nhb, u)
                    for j in 0..<u { nhb[j] *= row[3 * u + j] }
                }

            case .gru(let resetAfter):
                // Gate blocks [z | r | h] of each row.
                if resetAfter {
                    T.gemm(transA: false, transB: false, m: batch, n: gu, k: u, alpha: 1, a: h, lda: u, b: recurrent, ldb: gu,
                           beta: 0, c: rec, ldc: gu)
                    if let rb = recurrentBias {
                        for b in 0..<batch { for j in 0..<gu { rec[b * gu + j] += rb[j] } }
                    }
                    for b in 0..<batch {
                        let row = pre + b * ld, rr = rec + b * gu
                        for j in 0..<(2 * u) { row[j] += rr[j] }
                        apply(gate, row, 2 * u)
                        for j in 0..<u { row[2 * u + j] += row[u + j] * rr[2 * u + j] }
                        apply(act, row + 2 * u, u)
                    }
                } else {
                    T.gemm(transA: false, transB: false, m: batch, n: 2 * u, k: u, alpha: 1, a: h, lda: u, b: recurrent, ldb: gu,
                           beta: 1, c: pre, ldc: ld)
                    for b in 0..<batch {
                        let row = pre + b * ld, hb = h + b * u, tb = temp + b * u
                        apply(gate, row, 2 * u)
                        for j in 0..<u { tb[j] = row[u + j] * hb[j] }
                    }
                    // (r ⊙ h) · U_h added to the candidate block.
                    T.gemm(transA: false, transB: false, m: batch, n: u, k: u, alpha: 1, a: temp, lda: u,
                           b: recurrent + 2 * u, ldb: gu, beta: 1, c: pre + 2 * u, ldc: ld)
                    for b in 0..<batch { apply(act, pre + b * ld + 2 * u, u) }
                }
                for b in 0..<batch {
                    let row = pre + b * ld, hb = h + b * u, nhb = newH + b * u
                    for j in 0..<u { nhb[j] = row[j] * hb[j] + (1 - row[j]) * row[2 * u + j] }
                }
            }

            // Masked rows keep their states and repeat the previous output (or output 0).
            for b in 0..<batch {
                let present = mask.map { $0[b * steps + t] } ?? true
                let k = b * u
                if present {
                    (h + k).update(from: newH + k, count: u)
                    (previousOutput + k).update(from: newH + k, count: u)
                    if cell.stateCount == 2 { (c + k).update(from: newC + k, count: u) }
                } else if masking == .dl4j {
                    (h + k).update(repeating: 0, count: u)
                    (c + k).update(repeating: 0, count: u)
                    (previousOutput + k).update(repeating: 0, count: u)
                } else if zeroOutputForMask {
                    (previousOutput + k).update(repeating: 0, count: u)
                }
                if let sequence = buffers.sequence {
                    (sequence + (b * steps + i) * u).update(from: previousOutput + k, count: u)
                }
            }
        }
    }

    @inline(__always) static func apply<T: RuntimeScalar>(_ f: ActivationFunction, _ v: inout [T], rowLength: Int) {
        v.withUnsafeMutableBufferPointer { Activations.apply(f, to: $0, rowLength: rowLength) }
    }
}
