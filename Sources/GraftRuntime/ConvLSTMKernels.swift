import GraftCore

/// Convolutional LSTM (see `ConvLSTMAttributes`), alone or inside a Bidirectional wrapper.
///
/// One im2col/GEMM convolution of all time steps with `kernel` up front (strides, padding and
/// dilation of the op, plus `bias`), then per step one convolution of h with
/// `recurrentKernel` (stride 1, same padding) and the LSTM gate arithmetic on blocks
/// [i | f | c | o]. Masking as the other recurrent ops: a masked step keeps the states and
/// repeats the previous output (or outputs 0 when `zeroOutputForMask`).
enum ConvLSTMKernels {
    /// One direction's result, channels-last: per-step outputs [batch, steps, positions, f]
    /// in processing order (empty unless returnSequences), the last output and the states
    /// [batch, positions, f].
    struct Result<T: RuntimeScalar> {
        var steps: Int
        var outSpatial: [Int]
        var sequence: [T]
        var last: [T]
        var states: [[T]]
    }

    static func evaluate<T: RuntimeScalar>(_ node: Node, _ a: ConvLSTMAttributes, _ inputs: [RuntimeValue],
                                           as type: T.Type) throws -> [RuntimeValue] {
        let x = try onlyInput(inputs, node)
        let initial = try inputs.dropFirst().map { try channelsLastState($0.tensor, a, as: T.self) }
        let run = try self.run(node, a, x, parameterPrefix: "", goBackwards: a.recurrent.goBackwards,
                               initialStates: initial, zeroOutputForMask: false, as: T.self)
        let batch = x.tensor.shape[0]
        var result: [RuntimeValue] = []
        if a.recurrent.returnSequences {
            result.append(RuntimeValue(try sequenceTensor(run.sequence, a, batch: batch, steps: run.steps,
                                                          outSpatial: run.outSpatial), mask: x.mask))
        } else {
            result.append(RuntimeValue(try stepTensor(run.last, a, batch: batch, outSpatial: run.outSpatial)))
        }
        if a.recurrent.returnState {
            for s in run.states { result.append(RuntimeValue(try stepTensor(s, a, batch: batch, outSpatial: run.outSpatial))) }
        }
        return result
    }

    /// Keras Bidirectional around a ConvLSTM: the forward op (params `forward/…`) and a copy
    /// with `goBackwards` flipped (params `backward/…`); the backward sequence is reversed back
    /// to time order; merged along the last axis (concat) or element-wise, as Keras does.
    static func bidirectional<T: RuntimeScalar>(_ node: Node, _ merge: BidirectionalMerge, _ a: ConvLSTMAttributes,
                                                _ inputs: [RuntimeValue], as type: T.Type) throws -> [RuntimeValue] {
        let x = try onlyInput(inputs, node)
        let initial = try inputs.dropFirst().map { try channelsLastState($0.tensor, a, as: T.self) }
        guard initial.isEmpty || initial.count == 4 else {
            throw GraftError(.invalidGraph, "wrong number of initial states for a bidirectional layer", location: node.name,
                             field: "inputs", expected: "4", found: "\(initial.count)")
        }
        let zero = a.recurrent.returnSequences
        let forward = try run(node, a, x, parameterPrefix: "forward/", goBackwards: a.recurrent.goBackwards,
                              initialStates: Array(initial.prefix(2)), zeroOutputForMask: zero, as: T.self)
        let backward = try run(node, a, x, parameterPrefix: "backward/", goBackwards: !a.recurrent.goBackwards,
                               initialStates: Array(initial.dropFirst(2)), zeroOutputForMask: zero, as: T.self)
        let batch = x.tensor.shape[0], steps = forward.steps
        var fwd: Tensor, bwd: Tensor
        if a.recurrent.returnSequences {
            let per = forward.outSpatial.reduce(1, *) * a.filters
            var reversed = backward.sequence
            for b in 0..<batch {
                for t in 0..<steps {
                    let src = (b * steps + t) * per, dst = (b * steps + (steps - 1 - t)) * per
                    for i in 0..<per { reversed[dst + i] = backward.sequence[src + i] }
                }
            }
            fwd = try sequenceTensor(forward.sequence, a, batch: batch, steps: steps, outSpatial: forward.outSpatial)
            bwd = try sequenceTensor(reversed, a, batch: batch, steps: steps, outSpatial: forward.outSpatial)
        } else {
            fwd = try stepTensor(forward.last, a, batch: batch, outSpatial: forward.outSpatial)
            bwd = try stepTensor(backward.last, a, batch: batch, outSpatial: forward.outSpatial)
        }
        let mask = a.recurrent.returnSequences ? x.mask : nil
        let f: [T] = fwd.scalars(as: T.self), g: [T] = bwd.scalars(as: T.self)
        var result: [RuntimeValue] = []
        switch merge {
        case .concat:
            let last = fwd.shape.last ?? 1
            let rows = last > 0 ? f.count / last : 0
            var merged = [T](repeating: 0, count: 2 * f.count)
            for r in 0..<rows {
                for i in 0..<last {
                    merged[r * 2 * last + i] = f[r * last + i]
                    merged[r * 2 * last + last + i] = g[r * last + i]
                }
            }
            result.append(RuntimeValue(try Tensor(shape: Array(fwd.shape.dropLast()) + [2 * last], scalars: merged), mask: mask))
        case .sum:
            result.append(RuntimeValue(try Tensor(shape: fwd.shape, scalars: zip(f, g).map { $0 + $1 }), mask: mask))
        case .mul:
            result.append(RuntimeValue(try Tensor(shape: fwd.shape, scalars: zip(f, g).map { $0 * $1 }), mask: mask))
        case .average:
            result.append(RuntimeValue(try Tensor(shape: fwd.shape, scalars: zip(f, g).map { ($0 + $1) / 2 }), mask: mask))
        case .none:
            result.append(RuntimeValue(fwd, mask: mask))
            result.append(RuntimeValue(bwd, mask: mask))
        }
        if a.recurrent.returnState {
            for s in forward.states + backward.states {
                result.append(RuntimeValue(try stepTensor(s, a, batch: batch, outSpatial: forward.outSpatial)))
            }
        }
        return result
    }

    /// Runs one direction over the sequence.
    static func run<T: RuntimeScalar>(_ node: Node, _ a: ConvLSTMAttributes, _ x: RuntimeValue, parameterPrefix prefix: String,
                                      goBackwards: Bool, initialStates: [[T]], zeroOutputForMask: Bool,
                                      as type: T.Type) throws -> Result<T> {
        let rank = a.rank
        guard (1...3).contains(rank) else {
            throw GraftError(.unsupported, "ConvLSTM has 1, 2 or 3 spatial axes", location: node.name, field: "rank",
                             expected: "1...3", found: "\(rank)")
        }
        try AxisGeometry.check(a.kernelSize, rank: rank, field: "kernelSize", node: node)
        try AxisGeometry.check(a.strides, rank: rank, field: "strides", node: node)
        try AxisGeometry.check(a.dilation, rank: rank, field: "dilation", node: node)
        if a.padding == .causal {
            throw GraftError(.unsupported, "causal padding for a ConvLSTM", location: node.name, field: "padding")
        }
        var input = x.tensor
        try requireRank(input, [rank + 3], node, what: "ConvLSTM input [batch, time, spatial…, channels]")
        let (batch, steps) = (input.shape[0], input.shape[1])
        // Every step as one batch entry of a channels-last convolution.
        if a.dataFormat == .channelsFirst {
            input = try input.transposed([0, 1] + Array(3..<(rank + 3)) + [2])
        }
        let perStep = try input.reshaped([batch * steps] + Array(input.shape[2...]))
        let u = a.filters, gu = 4 * u
        let inputConv = ConvAttributes(rank: rank, filters: gu, kernelSize: a.kernelSize, strides: a.strides,
                                       padding: a.padding, dilation: a.dilation, useBias: false)
        let (xValues, xView) = try SpatialView.read(perStep, rank: rank, format: .channelsLast, node: node, as: T.self)
        var xw = try ConvolutionOps.standard(node, inputConv, xValues, xView, kernelName: prefix + "kernel", as: T.self)
        if a.recurrent.useBias {
            let bias: [T] = try node.parameterValues(prefix + "bias", as: T.self, shape: [gu])
            for i in 0..<xw.values.count { xw.values[i] += bias[i % gu] }
        }
        let outSpatial = xw.spatial
        let positions = outSpatial.reduce(1, *)
        let rows = batch * positions, n = rows * u
        if let mask = x.mask, mask.count != batch * steps {
            throw GraftError(.shapeMismatch, "mask does not match the sequence", location: node.name, field: "mask",
                             expected: "\(batch * steps) entries", found: "\(mask.count)")
        }
        guard initialStates.isEmpty || initialStates.count == 2 else {
            throw GraftError(.invalidGraph, "wrong number of initial states", location: node.name, field: "inputs",
                             expected: "2 (h, c)", found: "\(initialStates.count)")
        }
        for s in initialStates where s.count != n {
            throw GraftError(.shapeMismatch, "initial state has the wrong size", location: node.name, field: "inputs",
                             expected: "\(n) values", found: "\(s.count) values")
        }
        let recurrentConv = ConvAttributes(rank: rank, filters: gu, kernelSize: a.kernelSize, padding: .same, useBias: false)
        let hView = SpatialView(batch: batch, dims: SpatialView.lift(outSpatial, fill: 1), channels: u, spatial: outSpatial)

        var h = initialStates.first ?? [T](repeating: 0, count: n)
        var c = initialStates.count > 1 ? initialStates[1] : [T](repeating: 0, count: n)
        var previousOutput = [T](repeating: 0, count: n)
        var sequence = [T](repeating: 0, count: a.recurrent.returnSequences ? batch * steps * positions * u : 0)
        var gi = [T](repeating: 0, count: n), gf = gi, gc = gi, go = gi, newC = gi, newH = gi
        let stepSize = positions * gu
        for s in 0..<steps {
            let t = goBackwards ? steps - 1 - s : s
            let rec = try ConvolutionOps.standard(node, recurrentConv, h, hView, kernelName: prefix + "recurrentKernel",
                                                  as: T.self).values
            for b in 0..<batch {
                let xBase = (b * steps + t) * stepSize
                for p in 0..<positions {
                    let r = b * positions + p, src = xBase + p * gu, rs = r * gu
                    for j in 0..<u {
                        let k = r * u + j
                        gi[k] = xw.values[src + j] + rec[rs + j]
                        gf[k] = xw.values[src + u + j] + rec[rs + u + j]
                        gc[k] = xw.values[src + 2 * u + j] + rec[rs + 2 * u + j]
                        go[k] = xw.values[src + 3 * u + j] + rec[rs + 3 * u + j]
                    }
                }
            }
            RecurrentSequence.apply(a.recurrent.recurrentActivation, &gi, rowLength: u)
            RecurrentSequence.apply(a.recurrent.recurrentActivation, &gf, rowLength: u)
            RecurrentSequence.apply(a.recurrent.activation, &gc, rowLength: u)
            RecurrentSequence.apply(a.recurrent.recurrentActivation, &go, rowLength: u)
            for k in 0..<n { newC[k] = gf[k] * c[k] + gi[k] * gc[k] }
            newH = newC
            RecurrentSequence.apply(a.recurrent.activation, &newH, rowLength: u)
            for k in 0..<n { newH[k] *= go[k] }

            let rowSize = positions * u
            for b in 0..<batch {
                let present = x.mask.map { $0[b * steps + t] } ?? true
                let range = (b * rowSize)..<((b + 1) * rowSize)
                if present {
                    for k in range { h[k] = newH[k]; c[k] = newC[k]; previousOutput[k] = newH[k] }
                } else if zeroOutputForMask {
                    for k in range { previousOutput[k] = 0 }
                }
                if a.recurrent.returnSequences {
                    let dst = (b * steps + s) * rowSize
                    for k in 0..<rowSize { sequence[dst + k] = previousOutput[b * rowSize + k] }
                }
            }
        }
        return Result(steps: steps, outSpatial: outSpatial, sequence: sequence, last: previousOutput, states: [h, c])
    }

    /// Channels-last [batch, steps, outSpatial…, f] values as a tensor in the op's data format.
    static func sequenceTensor<T: RuntimeScalar>(_ values: [T], _ a: ConvLSTMAttributes, batch: Int, steps: Int,
                                                 outSpatial: [Int]) throws -> Tensor {
        let t = try Tensor(shape: [batch, steps] + outSpatial + [a.filters], scalars: values)
        if a.dataFormat == .channelsLast { return t }
        return try t.transposed([0, 1, a.rank + 2] + Array(2..<(a.rank + 2)))
    }

    /// Channels-last [batch, outSpatial…, f] values as a tensor in the op's data format.
    static func stepTensor<T: RuntimeScalar>(_ values: [T], _ a: ConvLSTMAttributes, batch: Int, outSpatial: [Int]) throws -> Tensor {
        try SpatialView.write(values, batch: batch, spatial: outSpatial, channels: a.filters, format: a.dataFormat)
    }

    /// An initial state given in the op's data format, as channels-last values.
    static func channelsLastState<T: RuntimeScalar>(_ t: Tensor, _ a: ConvLSTMAttributes, as type: T.Type) throws -> [T] {
        let converted = t.converted(to: T.dtype)
        if a.dataFormat == .channelsLast || t.rank < 3 { return converted.scalars(as: T.self) }
        return try converted.transposed([0] + Array(2..<t.rank) + [1]).scalars(as: T.self)
    }
}
