import GraftCore

/// How a producer treats masked time steps where Keras and DL4J differ.
enum MaskSemantics: Sendable {
    /// Keras: a recurrent layer keeps h (and c) over a masked step and repeats the previous
    /// output; GlobalMaxPooling1D ignores the mask (GlobalAveragePooling1D honours it).
    case keras
    /// DL4J: recurrent layers multiply the step's output and states by the mask (they become
    /// 0); global pooling (max and average) leaves masked steps out.
    case dl4j
}

/// Dispatch for the recurrent family: SimpleRNN, LSTM (with optional Graves peepholes),
/// GRU (both `resetAfter` variants) and Bidirectional wrappers. Sequences are
/// [batch, time, features]; the input's mask (true = step present) is honoured as Keras does.
///
/// Outputs: the sequence [batch, time, units] (returnSequences, keeping the input mask) or the
/// last output [batch, units]; then, with returnState, h (and c for LSTM). Extra inputs after
/// the sequence are initial states (h, then c), as Keras' `initial_state`.
///
/// `masking` picks what a masked step does: `.keras` (keep the states, repeat the previous
/// output) or `.dl4j` (DL4J's LSTMHelpers/SimpleRnn multiply the step's output and states by
/// the mask: they become 0). Both agree on post-padded sequences.
enum RecurrentKernels {
    static func evaluate<T: RuntimeScalar>(_ node: Node, _ inputs: [RuntimeValue], context: RuntimeContext = RuntimeContext(),
                                           as type: T.Type, masking: MaskSemantics = .keras) throws -> [RuntimeValue] {
        let x = try onlyInput(inputs, node)
        let initial = inputs.dropFirst().map { $0.tensor.converted(to: T.dtype).scalars(as: T.self) }
        switch node.op {
        case .simpleRNN, .lstm, .gru:
            let cell = try RecurrentCell(node.op, node: node)
            let run = try RecurrentSequence.run(node, cell, x, parameterPrefix: "", goBackwards: cell.attributes.goBackwards,
                                                initialStates: initial, zeroOutputForMask: false, masking: masking,
                                                packedWeights: context.packedWeights, as: T.self)
            return try outputs(of: run, cell: cell, batch: x.tensor.shape[0], mask: x.mask)
        case .bidirectional(let a):
            return try bidirectional(node, a, x, initialStates: initial, masking: masking, packedWeights: context.packedWeights,
                                     as: T.self)
        default:
            throw GraftError(.invalidArgument, "not a recurrent op: \(node.op.kindName)", location: node.name)
        }
    }

    /// The layer outputs of one direction: sequence or last output, then the states.
    static func outputs<T: RuntimeScalar>(of run: RecurrentSequence.Result<T>, cell: RecurrentCell, batch: Int,
                                          mask: [Bool]?) throws -> [RuntimeValue] {
        let u = cell.attributes.units
        var result: [RuntimeValue] = []
        if cell.attributes.returnSequences {
            result.append(RuntimeValue(try Tensor(shape: [batch, run.steps, u], scalars: run.sequence), mask: mask))
        } else {
            result.append(RuntimeValue(try Tensor(shape: [batch, u], scalars: run.last)))
        }
        if cell.attributes.returnState {
            for s in run.states { result.append(RuntimeValue(try Tensor(shape: [batch, u], scalars: s))) }
        }
        return result
    }

    /// Keras Bidirectional: the wrapped layer forward (params `forward/…`) and a copy with
    /// `goBackwards` flipped (params `backward/…`). The backward sequence is reversed back to
    /// time order before merging; with returnSequences, masked steps output 0 (Keras sets
    /// `zero_output_for_mask` on both directions then). Outputs: merged (or forward, backward
    /// when the merge mode is none), then forward states, then backward states.
    static func bidirectional<T: RuntimeScalar>(_ node: Node, _ a: BidirectionalAttributes, _ x: RuntimeValue,
                                                initialStates: [[T]], masking: MaskSemantics,
                                                packedWeights: PackedWeightCache? = nil, as type: T.Type) throws -> [RuntimeValue] {
        let cell = try RecurrentCell(a.layer, node: node)
        let attrs = cell.attributes
        let stateCount = cell.stateCount
        guard initialStates.isEmpty || initialStates.count == 2 * stateCount else {
            throw GraftError(.invalidGraph, "wrong number of initial states for a bidirectional layer", location: node.name,
                             field: "inputs", expected: "\(2 * stateCount)", found: "\(initialStates.count)")
        }
        let zero = attrs.returnSequences
        let forward = try RecurrentSequence.run(node, cell, x, parameterPrefix: "forward/", goBackwards: attrs.goBackwards,
                                                initialStates: Array(initialStates.prefix(stateCount)),
                                                zeroOutputForMask: zero, masking: masking, packedWeights: packedWeights,
                                                as: T.self)
        let backward = try RecurrentSequence.run(node, cell, x, parameterPrefix: "backward/", goBackwards: !attrs.goBackwards,
                                                 initialStates: Array(initialStates.dropFirst(stateCount)),
                                                 zeroOutputForMask: zero, masking: masking, packedWeights: packedWeights,
                                                as: T.self)
        let batch = x.tensor.shape[0], u = attrs.units, steps = forward.steps
        var fwd: [T], bwd: [T], shape: [Int]
        if attrs.returnSequences {
            fwd = forward.sequence
            bwd = backward.sequence
            // Reverse the backward sequence along time.
            var reversed = bwd
            for b in 0..<batch {
                for t in 0..<steps {
                    let src = (b * steps + t) * u, dst = (b * steps + (steps - 1 - t)) * u
                    for i in 0..<u { reversed[dst + i] = bwd[src + i] }
                }
            }
            bwd = reversed
            shape = [batch, steps, u]
        } else {
            fwd = forward.last
            bwd = backward.last
            shape = [batch, u]
        }
        let mask = attrs.returnSequences ? x.mask : nil
        var result: [RuntimeValue] = []
        switch a.mergeMode {
        case .concat:
            let rows = fwd.count / max(u, 1)
            var merged = [T](repeating: 0, count: 2 * fwd.count)
            for r in 0..<rows {
                for i in 0..<u {
                    merged[r * 2 * u + i] = fwd[r * u + i]
                    merged[r * 2 * u + u + i] = bwd[r * u + i]
                }
            }
            result.append(RuntimeValue(try Tensor(shape: Array(shape.dropLast()) + [2 * u], scalars: merged), mask: mask))
        case .sum:
            result.append(RuntimeValue(try Tensor(shape: shape, scalars: zip(fwd, bwd).map { $0 + $1 }), mask: mask))
        case .mul:
            result.append(RuntimeValue(try Tensor(shape: shape, scalars: zip(fwd, bwd).map { $0 * $1 }), mask: mask))
        case .average:
            result.append(RuntimeValue(try Tensor(shape: shape, scalars: zip(fwd, bwd).map { ($0 + $1) / 2 }), mask: mask))
        case .none:
            result.append(RuntimeValue(try Tensor(shape: shape, scalars: fwd), mask: mask))
            result.append(RuntimeValue(try Tensor(shape: shape, scalars: bwd), mask: mask))
        }
        if attrs.returnState {
            for s in forward.states + backward.states {
                result.append(RuntimeValue(try Tensor(shape: [batch, u], scalars: s)))
            }
        }
        return result
    }
}
