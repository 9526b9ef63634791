import GraftCore
import OrderedCollections

/// SimpleRNN, LSTM, GRU and the Keras 2 CuDNNLSTM / CuDNNGRU layers, from every Keras
/// generation, to the IR's `simpleRNN` / `lstm` / `gru` ops.
///
/// Canonical parameters (see `Op`): `kernel` [in, g·u], `recurrentKernel` [u, g·u], `bias`
/// [g·u] (GRU with `resetAfter`: [2, 3u], input-bias row then recurrent-bias row), gate
/// blocks in Keras 2 order — LSTM **[i | f | c | o]**, GRU **[z | r | h]**.
///
/// What arrives from the file:
/// - Keras 2 / tf.keras / Keras 3: `kernel`, `recurrent_kernel`, `bias`, already canonical.
/// - Keras 1 LSTM: 12 arrays `W_i, U_i, b_i, W_c, U_c, b_c, W_f, U_f, b_f, W_o, U_o, b_o`
///   (file order i, c, f, o), found by name and joined as i, f, c, o. Keras 1 GRU: 9 arrays
///   `W_z, U_z, b_z, W_r, U_r, b_r, W_h, U_h, b_h`. Keras 1 SimpleRNN: `W, U, b`. A Keras 1
///   layer saved with `consume_less='gpu'` stores 3 arrays already in Keras 2 layout.
/// - CuDNNLSTM / CuDNNGRU (and LSTM / GRU configs carrying their weights, told by the bias
///   size): each gate block of the kernels is in cuDNN's layout and is converted (see
///   `fromCuDNN`); the LSTM bias [8u] = input bias then recurrent bias is summed; the GRU
///   bias [6u] becomes [2, 3u] and the op has `resetAfter = true`.
public enum KerasRecurrentFamily: KerasLayerFamily {
    public static var classNames: Set<String> { ["SimpleRNN", "LSTM", "GRU", "CuDNNLSTM", "CuDNNGRU"] }

    public static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        let config = KerasConfig(layer)
        if try config.bool("time_major", default: false) {
            throw layer.error(.unsupported, "time-major recurrent layers are not supported", field: "time_major",
                              expected: "false", found: "true")
        }
        switch layer.className {
        case "SimpleRNN": return try simpleRNN(layer, config)
        case "LSTM", "CuDNNLSTM": return try lstm(layer, config)
        case "GRU", "CuDNNGRU": return try gru(layer, config)
        default:
            throw layer.error(.unknownLayer, "not a recurrent layer class this family reads")
        }
    }

    // MARK: Shared attributes

    /// True for standalone Keras 2.0–2.3 (the multi-backend releases), whose defaults differ
    /// from tf.keras (`hard_sigmoid` gates, GRU `reset_after=False`).
    static func isMultiBackendKeras2(_ producer: KerasProducer) -> Bool {
        guard producer.major == 2, !producer.version.hasSuffix("-tf") else { return false }
        let parts = producer.version.split(separator: ".").compactMap { Int($0.prefix { $0.isNumber }) }
        guard parts.count >= 2 else { return true }
        return parts[1] <= 3
    }

    /// The gate activation the producer used when the config does not name one.
    static func defaultRecurrentActivation(_ producer: KerasProducer) -> ActivationFunction {
        if producer.major == 1 || isMultiBackendKeras2(producer) { return .keras2HardSigmoid }
        return .sigmoid
    }

    static func recurrentAttributes(_ layer: KerasLayerContext, _ config: KerasConfig, hasGates: Bool) throws -> RecurrentAttributes {
        let units = try config.int("units", "output_dim")
        guard units > 0 else {
            throw layer.error(.malformed, "units must be positive", field: "units", found: "\(units)")
        }
        let isCuDNN = layer.className.hasPrefix("CuDNN")
        let activation = isCuDNN ? .tanh : try config.activation("activation", default: .tanh)
        let recurrentActivation: ActivationFunction
        if isCuDNN {
            recurrentActivation = .sigmoid
        } else if hasGates {
            recurrentActivation = try config.activation("recurrent_activation", "inner_activation",
                                                        default: defaultRecurrentActivation(layer.producer))
        } else {
            recurrentActivation = .sigmoid  // unused by SimpleRNN
        }
        return RecurrentAttributes(
            units: units, activation: activation, recurrentActivation: recurrentActivation,
            useBias: try config.bool("use_bias", default: true),
            returnSequences: try config.bool("return_sequences", default: false),
            returnState: try config.bool("return_state", default: false),
            goBackwards: try config.bool("go_backwards", default: false),
            stateful: try config.bool("stateful", default: false))
    }

    // MARK: Weight lookup

    /// The weight whose name is `key` or ends in `_key` (Keras 1 names such as `lstm_1_W_i:0`).
    static func named(_ layer: KerasLayerContext, _ key: String) -> Tensor? {
        layer.weights.first { $0.shortName == key || $0.shortName.hasSuffix("_" + key) }?.tensor
    }

    /// Keras 1 per-gate arrays: for each gate suffix, the (W, U, b) triple. Looked up by
    /// name; when the names say nothing (e.g. bare indices), by position in Keras 1 file order.
    static func keras1Gates(_ layer: KerasLayerContext, fileOrder: [String], wanted: [String], useBias: Bool)
        throws -> (w: [Tensor], u: [Tensor], b: [Tensor])
    {
        let perGate = useBias ? 3 : 2
        var w: [Tensor] = [], u: [Tensor] = [], b: [Tensor] = []
        let byName = wanted.allSatisfy { named(layer, "W_" + $0) != nil }
        for gate in wanted {
            if byName {
                guard let wt = named(layer, "W_" + gate), let ut = named(layer, "U_" + gate) else {
                    throw layer.error(.missingWeights, "missing Keras 1 weights for gate '\(gate)'",
                                      expected: "W_\(gate), U_\(gate)", found: layer.weights.map(\.name).joined(separator: ", "))
                }
                w.append(wt); u.append(ut)
                if useBias {
                    guard let bt = named(layer, "b_" + gate) else {
                        throw layer.error(.missingWeights, "missing Keras 1 weight b_\(gate)",
                                          found: layer.weights.map(\.name).joined(separator: ", "))
                    }
                    b.append(bt)
                }
            } else {
                guard let index = fileOrder.firstIndex(of: gate) else { continue }
                w.append(try layer.weight(index * perGate, named: "W_" + gate))
                u.append(try layer.weight(index * perGate + 1, named: "U_" + gate))
                if useBias { b.append(try layer.weight(index * perGate + 2, named: "b_" + gate)) }
            }
        }
        return (w, u, b)
    }

    /// Checks a canonical kernel/recurrent/bias triple's shapes for `gates` blocks of `units`.
    static func checkShapes(_ layer: KerasLayerContext, kernel: Tensor, recurrent: Tensor, bias: Tensor?,
                            units: Int, gates: Int, biasShape: [Int]? = nil) throws {
        guard kernel.rank == 2, kernel.shape[1] == gates * units else {
            throw layer.error(.shapeMismatch, "kernel has the wrong shape", field: "kernel",
                              expected: "[input, \(gates * units)]", found: "\(kernel.shape)")
        }
        guard recurrent.shape == [units, gates * units] else {
            throw layer.error(.shapeMismatch, "recurrent kernel has the wrong shape", field: "recurrent_kernel",
                              expected: "\([units, gates * units])", found: "\(recurrent.shape)")
        }
        if let bias {
            let want = biasShape ?? [gates * units]
            guard bias.shape == want else {
                throw layer.error(.shapeMismatch, "bias has the wrong shape", field: "bias",
                                  expected: "\(want)", found: "\(bias.shape)")
            }
        }
    }

    /// Kernel, recurrent kernel and optional bias stored as three (two) Keras 2 arrays.
    static func combinedWeights(_ layer: KerasLayerContext, useBias: Bool) throws -> (Tensor, Tensor, Tensor?) {
        let expected = useBias ? 3 : 2
        guard layer.weights.count == expected else {
            // Fewer arrays than the config needs are missing weights; more are a config/weights mismatch.
            let names = layer.weights.map(\.name).joined(separator: ", ")
            throw layer.error(layer.weights.count < expected ? .missingWeights : .shapeMismatch, "unexpected number of weight arrays",
                              expected: "\(expected) (kernel, recurrent kernel\(useBias ? ", bias" : ""))",
                              found: "\(layer.weights.count)" + (names.isEmpty ? "" : ": " + names))
        }
        let kernel = named(layer, "kernel") ?? layer.weights[0].tensor
        let recurrent = named(layer, "recurrent_kernel") ?? layer.weights[1].tensor
        let bias = useBias ? (named(layer, "bias") ?? layer.weights[2].tensor) : nil
        return (kernel, recurrent, bias)
    }

    /// Keras' CuDNN layers hand each gate's [rows, u] block to cuDNN as C-ordered bytes that
    /// cuDNN reads as a [u, rows] matrix W and applies as W·x. The canonical block (used as
    /// x·K) is therefore Kᵍ = reshape(block, [u, rows])ᵀ — for the square recurrent blocks
    /// just the transpose (Keras' `_convert_rnn_weights` does the same).
    static func fromCuDNN(_ layer: KerasLayerContext, _ t: Tensor, gates: Int, units: Int) throws -> Tensor {
        guard t.rank == 2, t.shape[1] == gates * units else {
            throw layer.error(.shapeMismatch, "CuDNN kernel has the wrong shape", field: "kernel",
                              expected: "[rows, \(gates * units)]", found: "\(t.shape)")
        }
        let rows = t.shape[0]
        let byGate = try t.reshaped([rows, gates, units]).transposed([1, 0, 2]).reshaped([gates * rows * units])
        var blocks: [Tensor] = []
        for g in 0..<gates {
            let flat = try KerasWeightLayout.slice(byGate, start: g * rows * units, length: rows * units)
            blocks.append(try flat.reshaped([units, rows]).transposed([1, 0]))
        }
        return try KerasWeightLayout.concatenate(blocks, axis: 1)
    }

    static func parameters(_ kernel: Tensor, _ recurrent: Tensor, _ bias: Tensor?) -> OrderedDictionary<String, Tensor> {
        var p: OrderedDictionary<String, Tensor> = ["kernel": kernel, "recurrentKernel": recurrent]
        if let bias { p["bias"] = bias }
        return p
    }

    // MARK: Families

    static func simpleRNN(_ layer: KerasLayerContext, _ config: KerasConfig) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        let attributes = try recurrentAttributes(layer, config, hasGates: false)
        let u = attributes.units
        let kernel: Tensor, recurrent: Tensor, bias: Tensor?
        if let w = named(layer, "W"), let r = named(layer, "U") {
            kernel = w; recurrent = r; bias = attributes.useBias ? named(layer, "b") : nil
            if attributes.useBias, bias == nil {
                throw layer.error(.missingWeights, "missing bias", found: layer.weights.map(\.name).joined(separator: ", "))
            }
        } else {
            (kernel, recurrent, bias) = try combinedWeights(layer, useBias: attributes.useBias)
        }
        try checkShapes(layer, kernel: kernel, recurrent: recurrent, bias: bias, units: u, gates: 1)
        return (.simpleRNN(attributes), parameters(kernel, recurrent, bias))
    }

    static func lstm(_ layer: KerasLayerContext, _ config: KerasConfig) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        let attributes = try recurrentAttributes(layer, config, hasGates: true)
        let u = attributes.units
        let useBias = attributes.useBias
        var kernel: Tensor, recurrent: Tensor, bias: Tensor?
        if layer.weights.count == (useBias ? 12 : 8) {
            // Keras 1: per-gate arrays, file order i, c, f, o; canonical order i, f, c, o.
            let g = try keras1Gates(layer, fileOrder: ["i", "c", "f", "o"], wanted: ["i", "f", "c", "o"], useBias: useBias)
            kernel = try KerasWeightLayout.concatenate(g.w, axis: 1)
            recurrent = try KerasWeightLayout.concatenate(g.u, axis: 1)
            bias = useBias ? try KerasWeightLayout.concatenate(g.b, axis: 0) : nil
        } else {
            (kernel, recurrent, bias) = try combinedWeights(layer, useBias: useBias)
        }
        // CuDNN weights: from a CuDNNLSTM, or (as Keras' own loader accepts) an LSTM config
        // paired with CuDNNLSTM weights, recognised by the [8u] bias.
        if layer.className == "CuDNNLSTM" || bias?.shape == [8 * u] {
            guard let b = bias, b.shape == [8 * u] else {
                throw layer.error(.shapeMismatch, "CuDNNLSTM bias has the wrong shape", field: "bias",
                                  expected: "[\(8 * u)]", found: "\(bias.map { "\($0.shape)" } ?? "none")")
            }
            kernel = try fromCuDNN(layer, kernel, gates: 4, units: u)
            recurrent = try fromCuDNN(layer, recurrent, gates: 4, units: u)
            // [8u]: input-side bias then recurrent-side bias; the cell adds both.
            bias = try KerasWeightLayout.sum(KerasWeightLayout.slice(b, start: 0, length: 4 * u),
                                             KerasWeightLayout.slice(b, start: 4 * u, length: 4 * u))
        }
        try checkShapes(layer, kernel: kernel, recurrent: recurrent, bias: bias, units: u, gates: 4)
        return (.lstm(LSTMAttributes(attributes)), parameters(kernel, recurrent, bias))
    }

    static func gru(_ layer: KerasLayerContext, _ config: KerasConfig) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        let attributes = try recurrentAttributes(layer, config, hasGates: true)
        let u = attributes.units
        let useBias = attributes.useBias
        var kernel: Tensor, recurrent: Tensor, bias: Tensor?
        var resetAfter: Bool
        if layer.weights.count == (useBias ? 9 : 6) {
            // Keras 1: per-gate arrays z, r, h (no reset_after in Keras 1).
            let g = try keras1Gates(layer, fileOrder: ["z", "r", "h"], wanted: ["z", "r", "h"], useBias: useBias)
            kernel = try KerasWeightLayout.concatenate(g.w, axis: 1)
            recurrent = try KerasWeightLayout.concatenate(g.u, axis: 1)
            bias = useBias ? try KerasWeightLayout.concatenate(g.b, axis: 0) : nil
            resetAfter = false
        } else {
            (kernel, recurrent, bias) = try combinedWeights(layer, useBias: useBias)
            // CuDNN weights: from a CuDNNGRU, or a GRU config paired with CuDNNGRU weights ([6u] bias).
            if layer.className == "CuDNNGRU" || bias?.shape == [6 * u] {
                resetAfter = true
                guard let b = bias, b.shape == [6 * u] else {
                    throw layer.error(.shapeMismatch, "CuDNNGRU bias has the wrong shape", field: "bias",
                                      expected: "[\(6 * u)]", found: "\(bias.map { "\($0.shape)" } ?? "none")")
                }
                if config.value(["reset_after"])?.boolValue == false {
                    throw layer.error(.unsupported, "CuDNNGRU weights need reset_after=True", field: "reset_after",
                                      expected: "true", found: "false")
                }
                kernel = try fromCuDNN(layer, kernel, gates: 3, units: u)
                recurrent = try fromCuDNN(layer, recurrent, gates: 3, units: u)
                // [6u]: input-side bias then recurrent-side bias.
                bias = try b.reshaped([2, 3 * u])
            } else if let explicit = config.value(["reset_after"]) {
                guard let flag = explicit.boolValue else {
                    throw layer.error(.malformed, "field is not a boolean", field: "reset_after", found: explicit.description)
                }
                resetAfter = flag
            } else if let b = bias {
                resetAfter = b.rank == 2
            } else {
                // Producer defaults: multi-backend Keras 2 False; tf.keras 2 and Keras 3 True.
                resetAfter = !(layer.producer.major == 1 || isMultiBackendKeras2(layer.producer))
            }
        }
        try checkShapes(layer, kernel: kernel, recurrent: recurrent, bias: bias, units: u, gates: 3,
                        biasShape: resetAfter ? [2, 3 * u] : [3 * u])
        return (.gru(GRUAttributes(attributes, resetAfter: resetAfter)), parameters(kernel, recurrent, bias))
    }
}
