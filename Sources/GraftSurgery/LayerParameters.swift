import GraftCore
import OrderedCollections

/// Fresh parameters for a new layer, from the width of its input (canonical layouts, see
/// `Op`). Recurrent kernels get `weightInit`, recurrent weights an orthogonal init, biases
/// zero (LSTM forget gate 1.0), batch norm identity statistics.
func initialParameters(for op: Op, name: String, inputWidth: Int?, weightInit: WeightInit,
                       rng: inout SplitMix64) throws -> (Op, OrderedDictionary<String, Tensor>) {
    var p = OrderedDictionary<String, Tensor>()
    func width() throws -> Int {
        guard let w = inputWidth, w > 0 else {
            throw invalid("cannot tell the input width of the new layer", node: name, expected: "an input whose feature width is known")
        }
        return w
    }
    func recurrent(_ inner: Op, prefix: String) throws {
        guard let u = recurrentUnits(inner), u > 0 else { throw invalid("a recurrent layer needs units > 0", node: name) }
        let g = gateCount(inner), w = try width()
        p[prefix + "kernel"] = try weightInit.tensor(shape: [w, g * u], rng: &rng)
        p[prefix + "recurrentKernel"] = try WeightInit.orthogonal(gain: 1).tensor(shape: [u, g * u], rng: &rng)
        var useBias = true
        switch inner {
        case .simpleRNN(let a): useBias = a.useBias
        case .lstm(let a): useBias = a.recurrent.useBias
        case .gru(let a): useBias = a.recurrent.useBias
        default: break
        }
        if useBias {
            if case .gru(let a) = inner, a.resetAfter {
                p[prefix + "bias"] = Tensor(zeros: [2, g * u])
            } else {
                var b = [Float](repeating: 0, count: g * u)
                if case .lstm = inner { for i in u..<(2 * u) { b[i] = 1 } }
                p[prefix + "bias"] = Tensor(shape: [g * u], floats: b)
            }
        }
        if case .lstm(let a) = inner, a.peepholes {
            p[prefix + "peepholes"] = try WeightInit.uniform(low: -0.05, high: 0.05).tensor(shape: [3, u], rng: &rng)
        }
    }
    var result = op
    switch op {
    case .dense(let a), .timeDistributed(.dense(let a)):
        p["kernel"] = try weightInit.tensor(shape: [try width(), a.units], rng: &rng)
        if a.useBias { p["bias"] = Tensor(zeros: [a.units]) }
    case .output(let a) where a.kind == .dense || a.kind == .rnn || a.kind == .centerLoss:
        guard let units = a.units, units > 0 else { throw invalid("an output layer with weights needs units", node: name) }
        p["kernel"] = try weightInit.tensor(shape: [try width(), units], rng: &rng)
        if a.useBias { p["bias"] = Tensor(zeros: [units]) }
    case .conv(let a) where a.kind == .standard:
        let w = try width()
        guard a.groups > 0, w % a.groups == 0 else { throw invalid("input channels not divisible by groups", node: name, found: "\(w)/\(a.groups)") }
        p["kernel"] = try weightInit.tensor(shape: a.kernelSize + [w / a.groups, a.filters], rng: &rng)
        if a.useBias { p["bias"] = Tensor(zeros: [a.filters]) }
    case .embedding(let a):
        p["embeddings"] = try weightInit.tensor(shape: [a.inputDim, a.outputDim], rng: &rng)
        if a.useBias { p["bias"] = Tensor(zeros: [a.outputDim]) }
    case .simpleRNN, .lstm, .gru:
        try recurrent(op, prefix: "")
    case .bidirectional(let a):
        try recurrent(a.layer, prefix: "forward/")
        try recurrent(a.layer, prefix: "backward/")
    case .batchNorm(let a):
        let w = try width()
        if a.scale { p["gamma"] = Tensor(shape: [w], floats: Array(repeating: 1, count: w)) }
        if a.center { p["beta"] = Tensor(zeros: [w]) }
        p["movingMean"] = Tensor(zeros: [w])
        p["movingVariance"] = Tensor(shape: [w], floats: Array(repeating: 1, count: w))
    case .input, .activation, .dropout, .flatten, .reshape, .permute, .repeatVector, .pooling, .globalPooling,
         .zeroPadding, .cropping, .upSampling, .masking, .merge, .dl4jVertex, .output:
        break
    case .opaque, .conv, .prelu, .layerNorm, .timeDistributed, .locallyConnected, .convLSTM, .attention:
        throw invalid("Graft cannot create the parameters of a new \(op.kindName) layer", node: name, found: op.kindName)
    }
    if case .output(var a) = result, a.units == nil, let w = inputWidth, a.kind == .loss || a.kind == .rnnLoss { a.units = w; result = .output(a) }
    return (result, p)
}

/// The output width of a layer op given its input width.
func outputWidth(of op: Op, inputWidth: Int?) -> Int? {
    switch op {
    case .dense(let a), .timeDistributed(.dense(let a)): return a.units
    case .output(let a): return a.units ?? inputWidth
    case .conv(let a) where a.kind == .standard: return a.filters
    case .embedding(let a): return a.outputDim
    case .simpleRNN, .lstm, .gru: return recurrentUnits(op)
    case .bidirectional(let a): return recurrentUnits(a.layer).map { a.mergeMode == .concat ? 2 * $0 : $0 }
    case .flatten, .reshape, .permute, .opaque, .merge, .dl4jVertex: return nil
    default: return inputWidth
    }
}
