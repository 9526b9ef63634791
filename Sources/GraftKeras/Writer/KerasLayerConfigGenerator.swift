import GraftCore
import OrderedCollections

/// Builds Keras layer configs from IR ops, for nodes without a Keras config to reuse (nodes
/// from DL4J, built by surgery, or read from another Keras generation). One section per
/// layer family; each returns the layer's class, its config fields (beyond `name`,
/// `trainable`, `dtype`) and where its weights go. Ops Keras cannot express throw an error
/// naming the node.
struct KerasLayerConfigGenerator {
    let dialect: KerasDialect
    let node: Node
    /// The name the Keras layer gets.
    let name: String

    typealias Fields = OrderedDictionary<String, JSONValue>

    func error(_ message: String, expected: String? = nil, found: String? = nil) -> GraftError {
        GraftError(.unsupported, message, location: "node '\(node.name)' (\(node.op.kindName))",
                   expected: expected, found: found)
    }

    func ints(_ values: [Int]) -> JSONValue { .array(values.map { JSONValue($0) }) }

    // MARK: Activations

    /// The Keras activation string for `f`, or nil when only a layer can express it.
    func activationName(_ f: ActivationFunction) throws -> String? {
        switch f {
        case .linear: return "linear"
        case .relu(nil, 0, 0): return "relu"
        case .tanh: return "tanh"
        case .sigmoid: return "sigmoid"
        case .softmax(-1): return "softmax"
        case .softplus: return "softplus"
        case .softsign: return "softsign"
        case .selu: return "selu"
        case .elu(1.0): return "elu"
        case .swish: return "swish"
        case .gelu(false): return "gelu"
        case .exponential: return "exponential"
        case .hardSigmoid(let slope, let offset):
            switch dialect {
            case .tfKeras2 where slope == 0.2 && offset == 0.5: return "hard_sigmoid"
            case .keras3 where abs(slope - 1.0 / 6.0) < 1e-12 && offset == 0.5: return "hard_sigmoid"
            default:
                throw error("hard sigmoid with this slope has no Keras \(dialect == .keras3 ? "3" : "2") equivalent",
                            expected: dialect == .keras3 ? "slope 1/6" : "slope 0.2", found: "slope \(slope)")
            }
        default: return nil
        }
    }

    /// A standalone layer computing `f` (Activation, ReLU, LeakyReLU, ELU, Softmax, …).
    func activationLayer(_ f: ActivationFunction) throws -> (className: String, fields: Fields) {
        if let name = try activationName(f) { return ("Activation", ["activation": .string(name)]) }
        switch f {
        case .relu(let maxValue, let slope, let threshold):
            return ("ReLU", ["max_value": maxValue.map { JSONValue($0) } ?? .null, "negative_slope": JSONValue(slope),
                             "threshold": JSONValue(threshold)])
        case .relu6:
            return ("ReLU", ["max_value": JSONValue(6.0), "negative_slope": JSONValue(0.0), "threshold": JSONValue(0.0)])
        case .leakyRelu(let alpha):
            return ("LeakyReLU", [dialect == .keras3 ? "negative_slope" : "alpha": JSONValue(alpha)])
        case .elu(let alpha): return ("ELU", ["alpha": JSONValue(alpha)])
        case .softmax(let axis): return ("Softmax", ["axis": JSONValue(axis)])
        case .thresholdedRelu(let theta) where dialect == .tfKeras2:
            return ("ThresholdedReLU", ["theta": JSONValue(theta)])
        default:
            throw error("activation has no Keras equivalent", expected: "a Keras activation", found: f.name)
        }
    }

    // MARK: Layers

    /// The Keras class, config fields, weights (short names) and Keras 3 variable groups.
    /// `activationSplit` is set when the op's activation needs a separate layer after it.
    struct Generated {
        var className: String
        var fields: Fields
        var weights: [(short: String, tensor: Tensor)]
        var variableGroups: [(path: String, count: Int)]
        var activationSplit: ActivationFunction?
        var notes: [String] = []
    }

    /// Weights as `parameters` holds them, named by their snake-case roles.
    func plainWeights(_ prefix: String = "", skip: Set<String> = []) -> [(short: String, tensor: Tensor)] {
        node.parameters.filter { !skip.contains($0.key) }.map { (prefix + KerasWriterNames.snakeCase(parameter: $0.key), $0.value) }
    }

    func generate() throws -> Generated {
        try generate(node.op, weights: plainWeights())
    }

    func generate(_ op: Op, weights: [(short: String, tensor: Tensor)]) throws -> Generated {
        let vars = [(path: "vars", count: weights.count)]
        switch op {
        case .dense(let a):
            let act = try activationName(a.activation)
            return Generated(className: "Dense", fields: ["units": JSONValue(a.units), "activation": .string(act ?? "linear"),
                                                          "use_bias": .bool(a.useBias)],
                             weights: weights, variableGroups: vars, activationSplit: act == nil ? a.activation : nil)
        case .output(let a):
            switch a.kind {
            case .dense, .rnn, .centerLoss:
                guard let units = a.units else { throw error("output layer without a unit count") }
                let dense = try generate(.dense(DenseAttributes(units: units, activation: a.activation, useBias: a.useBias)),
                                         weights: plainWeights(skip: ["centers"]))
                var result = a.kind == .rnn ? try wrapTimeDistributed(dense) : dense
                result.notes.append("DL4J output layer written as \(a.kind == .rnn ? "TimeDistributed(Dense)" : "Dense"); loss '\(a.loss)' not carried")
                if node.parameters["centers"] != nil { result.notes.append("center-loss centers dropped") }
                return result
            case .loss, .rnnLoss, .cnnLoss:
                let layer = try activationLayer(a.activation)
                return Generated(className: layer.className, fields: layer.fields, weights: [], variableGroups: [],
                                 activationSplit: nil, notes: ["DL4J loss layer written as its activation; loss '\(a.loss)' not carried"])
            }
        case .activation(let f):
            let layer = try activationLayer(f)
            return Generated(className: layer.className, fields: layer.fields, weights: [], variableGroups: [], activationSplit: nil)
        case .prelu(let axes):
            return Generated(className: "PReLU", fields: ["shared_axes": axes.isEmpty ? .null : ints(axes)],
                             weights: weights, variableGroups: vars, activationSplit: nil)
        case .dropout(let kind, let rate):
            switch kind {
            case "GaussianNoise": return simple("GaussianNoise", ["stddev": JSONValue(rate)])
            case "GaussianDropout", "AlphaDropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D":
                return simple(kind, ["rate": JSONValue(rate)])
            default: return simple("Dropout", ["rate": JSONValue(rate)])
            }
        case .flatten: return simple("Flatten", ["data_format": .string("channels_last")])
        case .reshape(let shape): return simple("Reshape", ["target_shape": ints(shape)])
        case .permute(let dims): return simple("Permute", ["dims": ints(dims)])
        case .repeatVector(let n): return simple("RepeatVector", ["n": JSONValue(n)])
        case .masking(let v): return simple("Masking", ["mask_value": JSONValue(v)])
        case .conv(let a): return try conv(a, weights: weights)
        case .pooling(let a):
            let cls = (a.kind == .max ? "MaxPooling" : "AveragePooling") + "\(a.rank)D"
            return simple(cls, ["pool_size": ints(a.poolSize), "strides": ints(a.strides), "padding": .string(a.padding.rawValue),
                                "data_format": dataFormat(a.dataFormat)])
        case .globalPooling(let a):
            let cls = (a.kind == .max ? "GlobalMaxPooling" : "GlobalAveragePooling") + "\(a.rank)D"
            return simple(cls, ["data_format": dataFormat(a.dataFormat), "keepdims": .bool(a.keepDims)])
        case .zeroPadding(let a):
            // The 1-D layers have no data_format (they pad/crop axis 1 of [batch, steps, channels]).
            var fields: Fields = ["padding": pairs(a)]
            if a.rank > 1 { fields["data_format"] = dataFormat(a.dataFormat) }
            return simple("ZeroPadding\(a.rank)D", fields)
        case .cropping(let a):
            var fields: Fields = ["cropping": pairs(a)]
            if a.rank > 1 { fields["data_format"] = dataFormat(a.dataFormat) }
            return simple("Cropping\(a.rank)D", fields)
        case .upSampling(let a):
            var fields: Fields = ["size": a.rank == 1 ? JSONValue(a.size.first ?? 1) : ints(a.size)]
            if a.rank > 1 { fields["data_format"] = dataFormat(a.dataFormat) }
            if a.rank == 2 { fields["interpolation"] = .string(a.interpolation) }
            return simple("UpSampling\(a.rank)D", fields)
        case .batchNorm(let a):
            return Generated(className: "BatchNormalization",
                             fields: ["axis": JSONValue(a.axis), "momentum": JSONValue(0.99), "epsilon": JSONValue(a.epsilon),
                                      "center": .bool(a.center), "scale": .bool(a.scale)],
                             weights: weights, variableGroups: vars, activationSplit: nil)
        case .layerNorm(let a):
            return Generated(className: "LayerNormalization",
                             fields: ["axis": ints(a.axes), "epsilon": JSONValue(a.epsilon), "center": .bool(a.center),
                                      "scale": .bool(a.scale)],
                             weights: weights, variableGroups: vars, activationSplit: nil)
        case .embedding(let a):
            if a.useBias { throw error("an embedding with a bias has no Keras equivalent", found: "bias") }
            var fields: Fields = ["input_dim": JSONValue(a.inputDim), "output_dim": JSONValue(a.outputDim),
                                  "mask_zero": .bool(a.maskZero)]
            if dialect == .tfKeras2 { fields["input_length"] = .null }
            let act: ActivationFunction? = a.activation == .linear ? nil : a.activation
            return Generated(className: "Embedding", fields: fields, weights: weights, variableGroups: vars, activationSplit: act)
        case .simpleRNN(let r):
            return try recurrent("SimpleRNN", r, extra: [:], weights: weights, cell: "simple_rnn_cell")
        case .lstm(let a):
            var w = weights
            var notes: [String] = []
            if a.peepholes {
                // Inside a Bidirectional the weights come with the direction prefix stripped.
                guard let peep = weights.first(where: { $0.short.hasSuffix("peepholes") })?.tensor else {
                    throw error("Graves LSTM without peephole weights")
                }
                guard peep.doubles().allSatisfy({ $0 == 0 }) else {
                    throw error("Graves LSTM peepholes have no Keras equivalent (they are not all zero)",
                                expected: "a plain LSTM", found: "non-zero peephole weights")
                }
                w.removeAll { $0.short.hasSuffix("peepholes") }
                notes.append("all-zero Graves peepholes dropped: written as a plain LSTM (exact)")
            }
            var g = try recurrent("LSTM", a.recurrent, extra: ["unit_forget_bias": .bool(true)], weights: w, cell: "lstm_cell")
            g.notes += notes
            return g
        case .gru(let a):
            return try recurrent("GRU", a.recurrent, extra: ["reset_after": .bool(a.resetAfter)], weights: weights, cell: "gru_cell")
        case .bidirectional(let a):
            let half = weights.count / 2
            let forward = try generate(a.layer, weights: Array(weights.prefix(half)).map { (strip($0.short, "forward/"), $0.tensor) })
            var backwardOp = a.layer
            if var r = backwardOp.recurrentAttributes { r.goBackwards.toggle(); backwardOp = withRecurrent(backwardOp, r) }
            let backward = try generate(backwardOp, weights: Array(weights.suffix(weights.count - half)).map { (strip($0.short, "backward/"), $0.tensor) })
            let inner: JSONValue = layerEntry(forward, name: "forward_" + name)
            let fields: Fields = ["layer": inner, "merge_mode": a.mergeMode == .none ? .null : .string(a.mergeMode.rawValue)]
            let groups = forward.variableGroups.map { ("forward_layer/" + $0.path, $0.count) }
                + backward.variableGroups.map { ("backward_layer/" + $0.path, $0.count) }
            let named = forward.weights.map { ("forward_\(name)/" + $0.short, $0.tensor) }
                + backward.weights.map { ("backward_\(name)/" + $0.short, $0.tensor) }
            let notes = forward.notes + backward.notes.filter { !forward.notes.contains($0) }
            return Generated(className: "Bidirectional", fields: fields, weights: named, variableGroups: groups, activationSplit: nil,
                             notes: notes)
        case .timeDistributed(let inner):
            return try wrapTimeDistributed(try generate(inner, weights: weights))
        case .merge(let a):
            switch a.kind {
            case .add: return simple("Add", [:])
            case .subtract: return simple("Subtract", [:])
            case .multiply: return simple("Multiply", [:])
            case .average: return simple("Average", [:])
            case .maximum: return simple("Maximum", [:])
            case .minimum: return simple("Minimum", [:])
            case .concatenate(let axis): return simple("Concatenate", ["axis": JSONValue(axis)])
            case .dot(let axes, let normalize):
                return simple("Dot", ["axes": axes.count == 1 ? JSONValue(axes[0]) : ints(axes), "normalize": .bool(normalize)])
            }
        case .dl4jVertex(let v):
            switch v {
            case .preprocessor(.cnnToFeedForward):
                // DL4J flattens [c, h, w] row-major; the Keras tensor is [c, h, w] too (channels_first ops).
                return simple("Flatten", ["data_format": .string("channels_last")])
            case .preprocessor(.feedForwardToCnn(let h, let w, let c)):
                return simple("Reshape", ["target_shape": ints([c, h, w])])
            default:
                throw error("DL4J \(v.kindName) has no exact Keras equivalent", expected: "a layer Keras can express",
                            found: v.kindName)
            }
        case .opaque(let a):
            throw error("opaque \(a.format) layer '\(a.className)' cannot be written as Keras", found: a.className)
        case .input:
            throw error("input written elsewhere")
        case .locallyConnected, .convLSTM, .attention:
            throw error("Keras config generation for \(op.kindName) is not implemented (only its original Keras config can be written)",
                        found: op.kindName)
        }
    }

    func strip(_ s: String, _ prefix: String) -> String { s.hasPrefix(prefix) ? String(s.dropFirst(prefix.count)) : s }

    func withRecurrent(_ op: Op, _ r: RecurrentAttributes) -> Op {
        switch op {
        case .simpleRNN: return .simpleRNN(r)
        case .lstm(var a): a.recurrent = r; return .lstm(a)
        case .gru(var a): a.recurrent = r; return .gru(a)
        default: return op
        }
    }

    func simple(_ className: String, _ fields: Fields) -> Generated {
        Generated(className: className, fields: fields, weights: [], variableGroups: [], activationSplit: nil)
    }

    func dataFormat(_ f: DataFormat) -> JSONValue { .string(f == .channelsFirst ? "channels_first" : "channels_last") }

    func pairs(_ a: SpatialPadAttributes) -> JSONValue {
        if a.rank == 1, let p = a.amounts.first { return ints([p.before, p.after]) }
        return .array(a.amounts.map { ints([$0.before, $0.after]) })
    }

    /// `{module, class_name, config, registered_name}` of a nested layer (tf-keras 2.13+ writes
    /// `module` too, and Keras 3's legacy loader needs it for nested layers).
    func layerEntry(_ g: Generated, name: String) -> JSONValue {
        var config: Fields = ["name": .string(name), "trainable": .bool(node.freeze == .trainable), "dtype": .string("float32")]
        for (k, v) in g.fields { config[k] = v }
        return .object(["module": .string("keras.layers"), "class_name": .string(g.className), "config": .object(config),
                        "registered_name": .null])
    }

    func wrapTimeDistributed(_ inner: Generated) throws -> Generated {
        if inner.activationSplit != nil {
            throw error("time-distributed layer whose activation needs its own Keras layer", found: node.op.kindName)
        }
        return Generated(className: "TimeDistributed", fields: ["layer": layerEntry(inner, name: name + "_inner")],
                         weights: inner.weights, variableGroups: inner.variableGroups.map { ("layer/" + $0.path, $0.count) },
                         activationSplit: nil, notes: inner.notes)
    }

    func conv(_ a: ConvAttributes, weights: [(short: String, tensor: Tensor)]) throws -> Generated {
        var fields: Fields = [:]
        let cls: String
        switch a.kind {
        case .standard:
            cls = "Conv\(a.rank)D"
            fields["filters"] = JSONValue(a.filters)
        case .depthwise(let m):
            cls = "DepthwiseConv\(a.rank)D"
            fields["depth_multiplier"] = JSONValue(m)
        case .separable(let m):
            cls = "SeparableConv\(a.rank)D"
            fields["filters"] = JSONValue(a.filters)
            fields["depth_multiplier"] = JSONValue(m)
        case .transposed(let outputPadding):
            cls = "Conv\(a.rank)DTranspose"
            fields["filters"] = JSONValue(a.filters)
            fields["output_padding"] = outputPadding.map(ints) ?? .null
        }
        fields["kernel_size"] = ints(a.kernelSize)
        fields["strides"] = ints(a.strides)
        fields["padding"] = .string(a.padding.rawValue)
        fields["data_format"] = dataFormat(a.dataFormat)
        fields["dilation_rate"] = ints(a.dilation)
        if case .standard = a.kind { fields["groups"] = JSONValue(a.groups) }
        let act = try activationName(a.activation)
        fields["activation"] = .string(act ?? "linear")
        fields["use_bias"] = .bool(a.useBias)
        return Generated(className: cls, fields: fields, weights: weights, variableGroups: [("vars", weights.count)],
                         activationSplit: act == nil ? a.activation : nil)
    }

    func recurrent(_ cls: String, _ r: RecurrentAttributes, extra: Fields, weights: [(short: String, tensor: Tensor)],
                   cell: String) throws -> Generated {
        guard let act = try activationName(r.activation) else {
            throw error("recurrent activation has no Keras equivalent", found: r.activation.name)
        }
        var fields: Fields = ["return_sequences": .bool(r.returnSequences), "return_state": .bool(r.returnState),
                              "go_backwards": .bool(r.goBackwards), "stateful": .bool(r.stateful), "unroll": .bool(false),
                              "units": JSONValue(r.units), "activation": .string(act)]
        if cls != "SimpleRNN" {
            guard let gate = try activationName(r.recurrentActivation) else {
                throw error("recurrent gate activation has no Keras equivalent", found: r.recurrentActivation.name)
            }
            fields["recurrent_activation"] = .string(gate)
        }
        fields["use_bias"] = .bool(r.useBias)
        for (k, v) in extra { fields[k] = v }
        return Generated(className: cls, fields: fields, weights: weights.map { (cell + "/" + $0.short, $0.tensor) },
                         variableGroups: [("cell/vars", weights.count)], activationSplit: nil)
    }
}
