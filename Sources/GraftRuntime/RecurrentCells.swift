import Dispatch
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
///
/// In float32 inside an Interpreter (`packedWeights` given) the kernels are packed once for
/// the packed-weight GEMM, and with several threads (`Runtime.threadCount`) the batch is
/// split: each thread runs the whole time loop for its rows (batch rows are independent),
/// so the steps need no synchronisation.
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
                                      masking: MaskSemantics = .keras, packedWeights cache: PackedWeightCache? = nil,
                                      as type: T.Type) throws -> Result<T> {
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

        // The kernels are read in place (no copy per call), or packed once (cached).
        let rows = batch * steps
        var xw: [T]
        if let packed = try DenseKernels.packedKernel(node, prefix + "kernel", kernel, rows: rows, inFeatures: features,
                                                      units: gu, context: contextFor(cache), as: T.self) {
            // beta 0 writes every element: no zero fill first (megabytes per layer and call).
            xw = input.withScalars(as: Float.self) { xs in
                [T](unsafeUninitializedCapacity: rows * gu) { buffer, initialized in
                    let c = UnsafeMutableRawPointer(buffer.baseAddress).map { $0.assumingMemoryBound(to: Float.self) }
                    if let a = xs.baseAddress, let c {
                        DenseKernels.withFloatBias(inputBias) { packed.gemm(a: a, rows: rows, lda: features, bias: $0, beta: 0, c: c, ldc: gu) }
                    } else {
                        buffer.initialize(repeating: 0)
                    }
                    initialized = rows * gu
                }
            }
        } else {
            xw = kernel.withScalars(as: T.self) { ks in
                input.withScalars(as: T.self) { xs in
                    DenseKernels.gemmRows(xs, rows: rows, inFeatures: features, weights: ks, units: gu, bias: inputBias)
                }
            }
        }
        let stepWeights = try PackedRecurrent.make(node, cell, prefix + "recurrentKernel", recurrent, units: u, cache: cache,
                                                   as: T.self)
        // Split the batch over threads when each part still has a step GEMM worth running.
        let threads = stepWeights == nil ? 1 : Runtime.threadCount
        let parts = batch >= 2 && steps * batch * u * gu >= 1 << 18 ? min(threads, batch) : 1
        var h = initialStates.first ?? [T](repeating: 0, count: batch * u)
        var c = initialStates.count > 1 ? initialStates[1] : [T](repeating: 0, count: batch * u)
        var previousOutput = [T](repeating: 0, count: batch * u)
        var sequence = [T](repeating: 0, count: cell.attributes.returnSequences ? batch * steps * u : 0)
        recurrent.withScalars(as: T.self) { rp in
            xw.withUnsafeMutableBufferPointer { xp in
                h.withUnsafeMutableBufferPointer { hp in
                    c.withUnsafeMutableBufferPointer { cp in
                        previousOutput.withUnsafeMutableBufferPointer { op in
                            sequence.withUnsafeMutableBufferPointer { sp in
                                let buffers = StepBuffers(xw: xp.baseAddress, recurrent: rp.baseAddress, h: hp.baseAddress,
                                                          c: cp.baseAddress, previousOutput: op.baseAddress,
                                                          sequence: sp.isEmpty ? nil : sp.baseAddress)
                                let run = StepRun(cell: cell, steps: steps, goBackwards: goBackwards, mask: x.mask,
                                                  zeroOutputForMask: zeroOutputForMask, masking: masking,
                                                  peepholes: peepholes, recurrentBias: recurrentBias, weights: stepWeights)
                                if parts <= 1 {
                                    run.callAsFunction(buffers, batch: batch, firstRow: 0, threads: nil)
                                } else {
                                    ParallelWork.parts(parts) { i in
                                        let b0 = batch * i / parts, b1 = batch * (i + 1) / parts
                                        guard b1 > b0 else { return }
                                        run.callAsFunction(buffers.rows(from: b0, units: u, gatesUnits: gu, steps: steps),
                                                           batch: b1 - b0, firstRow: b0, threads: 1)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let states = cell.stateCount == 2 ? [h, c] : [h]
        return Result(steps: steps, sequence: sequence, last: previousOutput, states: states)
    }

    /// A context carrying only the packed-weight cache (for `DenseKernels.packedKernel`).
    static func contextFor(_ cache: PackedWeightCache?) -> RuntimeContext {
        var context = RuntimeContext()
        context.packedWeights = cache
        return context
    }

    /// One direction's time loop with everything but the buffers fixed, run on all rows or,
    /// per thread, on a contiguous range of batch rows.
    struct StepRun<T: RuntimeScalar>: Sendable {
        var cell: RecurrentCell
        var steps: Int
        var goBackwards: Bool
        var mask: [Bool]?
        var zeroOutputForMask: Bool
        var masking: MaskSemantics
        var peepholes: [T]?
        var recurrentBias: [T]?
        var weights: PackedRecurrent?

        /// Runs rows firstRow..<firstRow+batch (`buffers` already offset to firstRow).
        func callAsFunction(_ buffers: StepBuffers<T>, batch: Int, firstRow: Int, threads: Int?) {
            let scratch = StepScratch<T>(batch: batch, units: cell.attributes.units, gates: cell.gates)
            defer { scratch.release() }
            runSteps(cell, buffers, scratch, batch: batch, steps: steps, goBackwards: goBackwards, mask: mask,
                     maskOffset: firstRow * steps, zeroOutputForMask: zeroOutputForMask, masking: masking,
                     peepholes: peepholes, recurrentBias: recurrentBias, weights: weights, threads: threads)
        }
    }

    /// The arrays a sequence run works on, as base addresses (nil only when empty). Rows of
    /// different threads are disjoint.
    struct StepBuffers<T: RuntimeScalar>: @unchecked Sendable {
        /// Input pre-activations [batch, steps, gates·units]; each step adds its recurrent part in place.
        var xw: UnsafeMutablePointer<T>?
        /// Recurrent kernel [units, gates·units].
        var recurrent: UnsafePointer<T>?
        var h: UnsafeMutablePointer<T>?
        var c: UnsafeMutablePointer<T>?
        var previousOutput: UnsafeMutablePointer<T>?
        /// Outputs [batch, steps, units] (nil unless returnSequences).
        var sequence: UnsafeMutablePointer<T>?

        /// The same buffers from batch row `b` on.
        func rows(from b: Int, units u: Int, gatesUnits gu: Int, steps: Int) -> StepBuffers {
            StepBuffers(xw: xw.map { $0 + b * steps * gu }, recurrent: recurrent, h: h.map { $0 + b * u },
                        c: c.map { $0 + b * u }, previousOutput: previousOutput.map { $0 + b * u },
                        sequence: sequence.map { $0 + b * steps * u })
        }
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
                                           batch: Int, steps: Int, goBackwards: Bool, mask: [Bool]?, maskOffset: Int = 0,
                                           zeroOutputForMask: Bool, masking: MaskSemantics, peepholes: [T]?,
                                           recurrentBias: [T]?, weights: PackedRecurrent? = nil, threads: Int? = nil) {
        let u = cell.attributes.units, gu = cell.gates * u
        guard batch > 0, steps > 0, u > 0, let xw = buffers.xw, let recurrent = buffers.recurrent, let h = buffers.h,
              let c = buffers.c, let previousOutput = buffers.previousOutput else { return }
        let act = cell.attributes.activation, gate = cell.attributes.recurrentActivation
        let ld = steps * gu
        let newH = scratch.newH, newC = scratch.newC, temp = scratch.temp, rec = scratch.rec
        @inline(__always) func apply(_ f: ActivationFunction, _ p: UnsafeMutablePointer<T>, _ count: Int) {
            Activations.apply(f, to: UnsafeMutableBufferPointer(start: p, count: count), rowLength: u)
        }
        // a·B (+ beta·c) for the batch rows: B is `packed` or `columns` columns of the recurrent
        // kernel from `b` on. One row on one thread stays on OpenBLAS' GEMV.
        @inline(__always) func product(_ packed: PackedWeights?, _ a: UnsafeMutablePointer<T>, columns: Int,
                                       _ b: UnsafePointer<T>, beta: T, _ out: UnsafeMutablePointer<T>, ldc: Int) {
            if let packed, batch > 1 || threads == 1 {
                packed.gemm(a: UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), rows: batch, lda: u, bias: nil,
                            beta: Float(beta), c: UnsafeMutableRawPointer(out).assumingMemoryBound(to: Float.self), ldc: ldc,
                            threads: threads)
            } else {
                T.gemm(transA: false, transB: false, m: batch, n: columns, k: u, alpha: 1, a: a, lda: u, b: b, ldb: gu,
                       beta: beta, c: out, ldc: ldc)
            }
        }

        // The fused LSTM step applies (float32, packed, tanh/sigmoid, no peepholes).
        let fused = FusedLSTMWeights.applies(to: cell) ? weights?.lstm : nil
        defer {
            // The unmasked fused step updates h in place and skips the per-step copies: the
            // previous output is the last h.
            if fused != nil, mask == nil { previousOutput.update(from: h, count: batch * u) }
        }
        for i in 0..<steps {
            let t = goBackwards ? steps - 1 - i : i
            let pre = xw + t * gu  // row b at pre + b·ld

            switch cell.kind {
            case .simple:
                product(weights?.full, h, columns: u, recurrent, beta: 1, pre, ldc: ld)
                for b in 0..<batch {
                    let row = pre + b * ld
                    apply(act, row, u)
                    (newH + b * u).update(from: row, count: u)
                }

            case .lstm where fused != nil:
                // The fused step (z, gates, c' and h' in one pass), bit-identical to the
                // unfused one below. Without a mask the states update in place and h' goes
                // straight to the output sequence; with one, to newH/newC for the mask loop.
                guard let fused else { break }
                let f = { (p: UnsafeMutablePointer<T>) in UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self) }
                if mask == nil {
                    fused.step(rows: batch, h: f(h), ldh: u, pre: f(pre), ldpre: ld, cIn: f(c), cOut: f(c), ldc: u,
                               hOut: f(h), ldho: u, hOut2: buffers.sequence.map { f($0 + i * u) }, ldho2: steps * u)
                    continue
                }
                fused.step(rows: batch, h: f(h), ldh: u, pre: f(pre), ldpre: ld, cIn: f(c), cOut: f(newC), ldc: u,
                           hOut: f(newH), ldho: u, hOut2: nil, ldho2: 0)

            case .lstm:
                // Gate blocks [i | f | c | o] of each row.
                product(weights?.full, h, columns: gu, recurrent, beta: 1, pre, ldc: ld)
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
                    product(weights?.full, h, columns: gu, recurrent, beta: 0, rec, ldc: gu)
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
                    product(weights?.gates, h, columns: 2 * u, recurrent, beta: 1, pre, ldc: ld)
                    for b in 0..<batch {
                        let row = pre + b * ld, hb = h + b * u, tb = temp + b * u
                        apply(gate, row, 2 * u)
                        for j in 0..<u { tb[j] = row[u + j] * hb[j] }
                    }
                    // (r ⊙ h) · U_h added to the candidate block.
                    product(weights?.candidate, temp, columns: u, recurrent + 2 * u, beta: 1, pre + 2 * u, ldc: ld)
                    for b in 0..<batch { apply(act, pre + b * ld + 2 * u, u) }
                }
                for b in 0..<batch {
                    let row = pre + b * ld, hb = h + b * u, nhb = newH + b * u
                    for j in 0..<u { nhb[j] = row[j] * hb[j] + (1 - row[j]) * row[2 * u + j] }
                }
            }

            // Masked rows keep their states and repeat the previous output (or output 0).
            for b in 0..<batch {
                let present = mask.map { $0[maskOffset + b * steps + t] } ?? true
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

/// A recurrent kernel [units, gates·units] packed for the step GEMMs (float32 inside an
/// Interpreter): the whole matrix, or for GRU without resetAfter its [z | r] columns and its
/// candidate columns apart (they multiply different left operands).
struct PackedRecurrent: Sendable {
    var full: PackedWeights?
    var gates: PackedWeights?
    var candidate: PackedWeights?
    /// The fused LSTM step's packing (`FusedLSTMWeights`), when it applies to the cell.
    var lstm: FusedLSTMWeights?

    /// Nil when the packed GEMM does not apply (not float32, no cache, a matrix too large).
    static func make<T: RuntimeScalar>(_ node: Node, _ cell: RecurrentCell, _ key: String, _ recurrent: Tensor, units u: Int,
                                       cache: PackedWeightCache?, as type: T.Type) throws -> PackedRecurrent? {
        let gu = cell.gates * u
        guard T.self == Float.self, let cache, u > 0, PackedWeightCache.shouldPack(rows: u, columns: gu) else { return nil }
        let name = node.name + "/" + key
        if cell.kind == .gru(resetAfter: false) {
            return PackedRecurrent(
                gates: try cache.weights(name + "[z|r]", recurrent, rows: u, columns: gu, firstColumn: 0, width: 2 * u),
                candidate: try cache.weights(name + "[h]", recurrent, rows: u, columns: gu, firstColumn: 2 * u, width: u))
        }
        let fused = FusedLSTMWeights.applies(to: cell) ? try cache.lstmWeights(name + "[fused]", recurrent, units: u) : nil
        return PackedRecurrent(full: try cache.weights(name, recurrent, rows: u, columns: gu), lstm: fused)
    }
}
