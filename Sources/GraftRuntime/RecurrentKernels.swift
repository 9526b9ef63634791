import GraftCore

/// Dispatch for the recurrent family: SimpleRNN, LSTM (with optional Graves peepholes),
/// GRU (both `resetAfter` variants) and Bidirectional wrappers. Sequences are
/// [batch, time, features]; the input's mask (true = step present) is honoured as Keras does.
enum RecurrentKernels {
    static func evaluate<T: RuntimeScalar>(_ node: Node, _ inputs: [RuntimeValue], as type: T.Type) throws -> [RuntimeValue] {
        throw GraftError(.unsupported, "no kernel yet for op \(node.op.kindName)", location: node.name)
    }
}
