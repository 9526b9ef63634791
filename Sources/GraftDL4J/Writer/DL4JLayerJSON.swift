import Foundation
import GraftCore
import OrderedCollections

/// Layer JSON in DL4J 1.0.0-beta6's `@class` form, generated from an IR op (for nodes that
/// did not come from DL4J), one section per layer family. Field sets follow what beta6
/// writes (e.g. DenseLayer: activationFn, biasInit, hasBias, hasLayerNorm, iupdater,
/// layerName, nin, nout, weightInitFn, …). What DL4J 1.0.0-beta6 cannot express throws
/// `.unsupported` naming the node and its op.
enum DL4JLayerJSON {
    static let layers = "org.deeplearning4j.nn.conf.layers."

    /// The layer without FrozenLayer / FrozenLayerWithBackprop wrappers (the writer re-wraps
    /// from the node's freeze state).
    static func unfrozen(_ json: JSONValue) -> JSONValue {
        let cls = json["@class"]?.stringValue ?? ""
        if cls.hasSuffix(".FrozenLayer"), let inner = json["layer"] { return unfrozen(inner) }
        if cls.hasSuffix(".FrozenLayerWithBackprop"), let inner = json["underlying"] { return unfrozen(inner) }
        return json
    }

    static func unsupported(_ node: Node, _ why: String) -> GraftError {
        GraftError(.unsupported, "DL4J 1.0.0-beta6 cannot express node '\(node.name)' (\(node.op.kindName)): \(why)",
                   location: node.name, field: "op", found: node.op.kindName)
    }

    static func activation(_ f: ActivationFunction, _ node: Node) throws -> JSONValue {
        let impl = "org.nd4j.linalg.activations.impl."
        switch f {
        case .linear: return .object(["@class": .string(impl + "ActivationIdentity")])
        case .relu(nil, 0, 0): return .object(["@class": .string(impl + "ActivationReLU")])
        case .relu(let maxValue, let slope, let threshold):
            return .object(["@class": .string(impl + "ActivationReLU"), "max": maxValue.map { JSONValue($0) } ?? .null,
                            "negativeSlope": JSONValue(slope), "threshold": JSONValue(threshold)])
        case .relu6: return .object(["@class": .string(impl + "ActivationReLU6")])
        case .leakyRelu(let a): return .object(["@class": .string(impl + "ActivationLReLU"), "alpha": JSONValue(a)])
        case .elu(let a): return .object(["@class": .string(impl + "ActivationELU"), "alpha": JSONValue(a)])
        case .selu: return .object(["@class": .string(impl + "ActivationSELU")])
        case .tanh: return .object(["@class": .string(impl + "ActivationTanH")])
        case .sigmoid: return .object(["@class": .string(impl + "ActivationSigmoid")])
        case .hardSigmoid(0.2, 0.5): return .object(["@class": .string(impl + "ActivationHardSigmoid")])
        case .softmax(-1): return .object(["@class": .string(impl + "ActivationSoftmax")])
        case .softplus: return .object(["@class": .string(impl + "ActivationSoftPlus")])
        case .softsign: return .object(["@class": .string(impl + "ActivationSoftSign")])
        case .swish: return .object(["@class": .string(impl + "ActivationSwish")])
        case .hardTanh: return .object(["@class": .string(impl + "ActivationHardTanH")])
        case .cube: return .object(["@class": .string(impl + "ActivationCube")])
        case .rationalTanh: return .object(["@class": .string(impl + "ActivationRationalTanh")])
        case .rectifiedTanh: return .object(["@class": .string(impl + "ActivationRectifiedTanh")])
        case .thresholdedRelu(let t): return .object(["@class": .string(impl + "ActivationThresholdedReLU"), "theta": JSONValue(t)])
        default: throw unsupported(node, "no DL4J activation for \(f.name)")
        }
    }

    /// Fields every beta6 layer with parameters writes.
    static func base(_ cls: String, _ node: Node) -> OrderedDictionary<String, JSONValue> {
        [
            "@class": .string(cls), "biasInit": JSONValue(0.0), "biasUpdater": .null, "constraints": .null,
            "gainInit": JSONValue(1.0), "gradientNormalization": .string("None"), "gradientNormalizationThreshold": JSONValue(1.0),
            "idropout": .null, "iupdater": .null, "layerName": .string(node.name),
            "regularization": .array([]), "regularizationBias": .array([]),
            "weightInitFn": .object(["@class": .string("org.deeplearning4j.nn.weights.WeightInitXavier")]), "weightNoise": .null,
        ]
    }

    static func layer(for node: Node, input: DL4JConfigGenerator.Flow, isOutput: Bool, trainingConfig: JSONValue? = nil,
                      report: inout ConversionReport) throws -> JSONValue {
        switch node.op {
        case .dense(let a): return try dense(node, a, input: input, isOutput: isOutput, trainingConfig: trainingConfig, report: &report)
        case .timeDistributed(.dense(let a)): return try dense(node, a, input: input, isOutput: isOutput, trainingConfig: trainingConfig, report: &report)
        case .output(let a): return try output(node, a, input: input)
        case .activation(let f):
            var j = base(layers + "ActivationLayer", node)
            j["activationFn"] = try activation(f, node)
            return .object(j)
        case .lstm(let a): return try lstm(node, a, input: input)
        case .simpleRNN(let a): return try simpleRnn(node, a, input: input)
        case .bidirectional(let a): return try bidirectional(node, a, input: input)
        case .conv(let a): return try convolution(node, a, input: input)
        case .pooling(let a): return try pooling(node, a)
        case .globalPooling(let a):
            var j: OrderedDictionary<String, JSONValue> = ["@class": .string(layers + "GlobalPoolingLayer"),
                                                            "layerName": .string(node.name)]
            j["collapseDimensions"] = .bool(!a.keepDims)
            j["poolingDimensions"] = .null
            j["poolingType"] = .string(a.kind == .max ? "MAX" : "AVG")
            j["pnorm"] = JSONValue(2)
            return .object(j)
        case .batchNorm(let a): return try batchNorm(node, a, input: input)
        case .embedding(let a): return try embedding(node, a, input: input)
        case .zeroPadding(let a) where a.rank == 2:
            return .object(["@class": .string(layers + "ZeroPaddingLayer"), "layerName": .string(node.name),
                            "padding": .array(a.amounts.flatMap { [JSONValue($0.before), JSONValue($0.after)] })])
        case .cropping(let a) where a.rank == 2:
            return .object(["@class": .string(layers + "convolutional.Cropping2D"), "layerName": .string(node.name),
                            "cropping": .array(a.amounts.flatMap { [JSONValue($0.before), JSONValue($0.after)] })])
        case .upSampling(let a) where a.rank == 2 && a.interpolation == "nearest":
            return .object(["@class": .string(layers + "Upsampling2D"), "layerName": .string(node.name),
                            "size": .array(a.size.map { JSONValue($0) })])
        case .repeatVector(let n):
            return .object(["@class": .string(layers + "misc.RepeatVector"), "layerName": .string(node.name), "n": JSONValue(n)])
        case .gru: throw unsupported(node, "DL4J 1.0.0-beta6 has no GRU layer")
        case .opaque(let a): throw unsupported(node, "an opaque \(a.format) layer (\(a.className)) has no DL4J form")
        default: throw unsupported(node, "no DL4J layer maps this op")
        }
    }

    // MARK: Dense family (DenseLayer, OutputLayer, RnnOutputLayer, EmbeddingSequenceLayer)

    static func dense(_ node: Node, _ a: DenseAttributes, input: DL4JConfigGenerator.Flow, isOutput: Bool,
                      trainingConfig: JSONValue?, report: inout ConversionReport) throws -> JSONValue {
        let nIn = node.parameters["kernel"]?.shape.first ?? input.size
        if isOutput || input.kind == .recurrent {
            guard isOutput else { throw unsupported(node, "a Dense on sequences is only expressible as the output layer (RnnOutputLayer)") }
            let layerKind = input.kind == .recurrent ? "RnnOutputLayer" : "OutputLayer"
            var loss: String
            if let known = kerasLoss(for: node.name, trainingConfig: trainingConfig) {
                loss = known
                report.add(.exactConversion, node: node.name, "written as \(layerKind) with loss \(loss) from the Keras training configuration")
            } else {
                if case .softmax = a.activation { loss = "MCXENT" } else { loss = "MSE" }
                report.add(.warning, node: node.name, "written as \(layerKind) with loss \(loss) (no loss known from the source)")
            }
            return try output(node, OutputAttributes(kind: input.kind == .recurrent ? .rnn : .dense, units: a.units,
                                                     activation: a.activation, useBias: a.useBias, loss: loss), input: input)
        }
        var j = base(layers + "DenseLayer", node)
        j["activationFn"] = try activation(a.activation, node)
        j["hasBias"] = .bool(a.useBias)
        j["hasLayerNorm"] = .bool(false)
        j["nin"] = JSONValue(nIn)
        j["nout"] = JSONValue(a.units)
        return .object(j.sortedByKey())
    }

    /// DL4J's loss (as `OutputAttributes.loss` names it) for a Keras loss of output `name`:
    /// `training_config.loss` as a string, `{class_name, config}`, or a dict by output name.
    static func kerasLoss(for name: String, trainingConfig: JSONValue?) -> String? {
        guard var loss = trainingConfig?["loss"] else { return nil }
        if let byOutput = loss.objectValue, loss["class_name"] == nil { guard let l = byOutput[name] else { return nil }; loss = l }
        if let list = loss.arrayValue, list.count == 1 { loss = list[0] }
        var keras = loss.stringValue ?? loss["config"]?["name"]?.stringValue ?? loss["class_name"]?.stringValue ?? ""
        keras = keras.lowercased().replacingOccurrences(of: "_", with: "")
        let table: [String: String] = [
            "categoricalcrossentropy": "MCXENT", "sparsecategoricalcrossentropy": "SparseMCXENT",
            "binarycrossentropy": "BinaryXENT", "meansquarederror": "MSE", "mse": "MSE", "meanabsoluteerror": "MAE",
            "mae": "MAE", "meanabsolutepercentageerror": "MAPE", "mape": "MAPE", "meansquaredlogarithmicerror": "MSLE",
            "msle": "MSLE", "hinge": "Hinge", "squaredhinge": "SquaredHinge", "kld": "KLD", "kldivergence": "KLD",
            "kullbackleiblerdivergence": "KLD", "poisson": "Poisson", "cosineproximity": "CosineProximity",
        ]
        return table[keras]
    }

    static func output(_ node: Node, _ a: OutputAttributes, input: DL4JConfigGenerator.Flow) throws -> JSONValue {
        let cls: String
        switch a.kind {
        case .dense: cls = "OutputLayer"
        case .rnn: cls = "RnnOutputLayer"
        case .loss: cls = "LossLayer"
        case .rnnLoss: cls = "RnnLossLayer"
        case .cnnLoss: cls = "CnnLossLayer"
        case .centerLoss: cls = "CenterLossOutputLayer"
        }
        var j = base(layers + cls, node)
        j["activationFn"] = try activation(a.activation, node)
        j["hasBias"] = .bool(a.useBias)
        j["lossFn"] = .object(["@class": .string(DL4JNames.lossClass(a.loss))])
        if let units = a.units {
            j["nin"] = JSONValue(node.parameters["kernel"]?.shape.first ?? input.size)
            j["nout"] = JSONValue(units)
        }
        return .object(j.sortedByKey())
    }

    static func embedding(_ node: Node, _ a: EmbeddingAttributes, input: DL4JConfigGenerator.Flow) throws -> JSONValue {
        if a.maskZero { throw unsupported(node, "mask_zero has no DL4J EmbeddingSequenceLayer equivalent") }
        var j = base(layers + "EmbeddingSequenceLayer", node)
        j["activationFn"] = try activation(a.activation, node)
        j["hasBias"] = .bool(a.useBias)
        j["inferInputLength"] = .bool(true)
        j["inputLength"] = JSONValue(1)
        j["nin"] = JSONValue(a.inputDim)
        j["nout"] = JSONValue(a.outputDim)
        return .object(j.sortedByKey())
    }

    // MARK: Recurrent family (LSTM, GravesLSTM, SimpleRnn, Bidirectional)

    static func checkRecurrent(_ node: Node, _ r: RecurrentAttributes, input: DL4JConfigGenerator.Flow) throws {
        if r.goBackwards { throw unsupported(node, "go_backwards has no DL4J equivalent outside Bidirectional") }
        if r.returnState { throw unsupported(node, "return_state has no DL4J equivalent") }
        if r.stateful { throw unsupported(node, "stateful recurrent layers have no DL4J configuration equivalent") }
        if input.kind != .recurrent { throw unsupported(node, "a recurrent layer needs sequence input") }
    }

    static func lstm(_ node: Node, _ a: LSTMAttributes, input: DL4JConfigGenerator.Flow, inner: Bool = false) throws -> JSONValue {
        var j = try recurrentLayer(a.peepholes ? "GravesLSTM" : "LSTM", node, a.recurrent, input: input, inner: inner)
        j["forgetGateBiasInit"] = JSONValue(1.0)
        j["gateActivationFn"] = try activation(a.recurrent.recurrentActivation, node)
        j["helperAllowFallback"] = .bool(true)
        return .object(j.sortedByKey())
    }

    static func simpleRnn(_ node: Node, _ a: RecurrentAttributes, input: DL4JConfigGenerator.Flow, inner: Bool = false) throws -> JSONValue {
        var j = try recurrentLayer("recurrent.SimpleRnn", node, a, input: input, inner: inner)
        j["hasLayerNorm"] = .bool(false)
        return .object(j.sortedByKey())
    }

    /// The fields LSTM, GravesLSTM and SimpleRnn share: class, activation, nIn (from the
    /// kernel; `forward/kernel` inside a Bidirectional), nOut, NCW data format. `inner`
    /// layers are checked by their Bidirectional wrapper.
    static func recurrentLayer(_ cls: String, _ node: Node, _ r: RecurrentAttributes, input: DL4JConfigGenerator.Flow,
                               inner: Bool) throws -> OrderedDictionary<String, JSONValue> {
        if !inner { try checkRecurrent(node, r, input: input) }
        let name = cls.split(separator: ".").last.map(String.init) ?? cls
        if !r.useBias { throw unsupported(node, "DL4J \(name) always has a bias") }
        var j = base(layers + cls, node)
        j["activationFn"] = try activation(r.activation, node)
        j["nin"] = JSONValue(node.parameters[inner ? "forward/kernel" : "kernel"]?.shape.first ?? input.size)
        j["nout"] = JSONValue(r.units)
        j["rnnDataFormat"] = .string("NCW")
        return j
    }

    static func bidirectional(_ node: Node, _ a: BidirectionalAttributes, input: DL4JConfigGenerator.Flow) throws -> JSONValue {
        let mode: String
        switch a.mergeMode {
        case .concat: mode = "CONCAT"
        case .sum: mode = "ADD"
        case .mul: mode = "MUL"
        case .average: mode = "AVERAGE"
        case .none: throw unsupported(node, "Bidirectional without merging has no DL4J equivalent")
        }
        let fwd: JSONValue
        let r: RecurrentAttributes
        switch a.layer {
        case .lstm(let l) where !l.peepholes: fwd = try lstm(node, l, input: input, inner: true); r = l.recurrent
        case .simpleRNN(let s): fwd = try simpleRnn(node, s, input: input, inner: true); r = s
        default: throw unsupported(node, "Bidirectional wraps \(a.layer.kindName)")
        }
        try checkRecurrent(node, r, input: input)
        if !r.returnSequences {
            throw unsupported(node, "Bidirectional with return_sequences=false: DL4J's LastTimeStep would take the backward layer's first step")
        }
        return .object(["@class": .string(layers + "recurrent.Bidirectional"), "bwd": fwd, "fwd": fwd,
                        "layerName": .string(node.name), "mode": .string(mode)])
    }

    // MARK: Convolution family (ConvolutionLayer, Convolution1DLayer, SubsamplingLayer, Subsampling1DLayer)

    static func convolutionMode(_ p: Padding) -> String {
        switch p { case .same: return "Same"; case .causal: return "Causal"; case .valid: return "Truncate" }
    }

    static func convolution(_ node: Node, _ a: ConvAttributes, input: DL4JConfigGenerator.Flow) throws -> JSONValue {
        guard a.groups == 1 else { throw unsupported(node, "grouped convolutions have no DL4J layer") }
        guard a.rank == 1 || a.rank == 2 else { throw unsupported(node, "rank-\(a.rank) convolutions are not written") }
        let cls: String
        var nIn = node.parameters["kernel"]?.shape[a.rank] ?? input.size
        var multiplier: Int? = nil
        switch a.kind {
        case .standard: cls = a.rank == 1 ? "Convolution1DLayer" : "ConvolutionLayer"
        case .depthwise(let m) where a.rank == 2:
            cls = "DepthwiseConvolution2D"; multiplier = m; nIn = node.parameters["depthwiseKernel"]?.shape[2] ?? input.size
        case .separable(let m) where a.rank == 2:
            cls = "SeparableConvolution2D"; multiplier = m; nIn = node.parameters["depthwiseKernel"]?.shape[2] ?? input.size
        case .transposed(let outputPadding) where a.rank == 2 && (outputPadding ?? []).allSatisfy({ $0 == 0 }):
            cls = "Deconvolution2D"; nIn = node.parameters["kernel"]?.shape[3] ?? input.size
        default: throw unsupported(node, "no DL4J 1.0.0-beta6 layer for a rank-\(a.rank) \(node.op.kindName)")
        }
        if a.padding == .causal && a.rank == 2 { throw unsupported(node, "causal padding of a 2-D convolution") }
        let extra = a.rank == 1 ? [1] : []
        var j = base(layers + cls, node)
        if let multiplier { j["depthMultiplier"] = JSONValue(multiplier) }
        j["activationFn"] = try activation(a.activation, node)
        j["convolutionMode"] = .string(convolutionMode(a.padding))
        j["cudnnAlgoMode"] = .string("PREFER_FASTEST")
        j["cudnnAllowFallback"] = .bool(true)
        j["dilation"] = .array((a.dilation + extra).map { JSONValue($0) })
        j["hasBias"] = .bool(a.useBias)
        j["kernelSize"] = .array((a.kernelSize + extra).map { JSONValue($0) })
        j["nin"] = JSONValue(nIn)
        j["nout"] = JSONValue(a.filters)
        j["padding"] = .array(Array(repeating: JSONValue(0), count: 2))
        j["stride"] = .array((a.strides + extra).map { JSONValue($0) })
        if a.rank == 1 { j["rnnDataFormat"] = .string("NCW") }
        return .object(j.sortedByKey())
    }

    static func pooling(_ node: Node, _ a: PoolingAttributes) throws -> JSONValue {
        guard a.rank == 1 || a.rank == 2 else { throw unsupported(node, "rank-\(a.rank) pooling is not written") }
        let extra = a.rank == 1 ? [1] : []
        var j: OrderedDictionary<String, JSONValue> = ["@class": .string(layers + (a.rank == 1 ? "Subsampling1DLayer" : "SubsamplingLayer"))]
        j["avgPoolIncludePadInDivisor"] = .bool(false)
        j["convolutionMode"] = .string(convolutionMode(a.padding))
        j["cudnnAllowFallback"] = .bool(true)
        j["dilation"] = .array(Array(repeating: JSONValue(1), count: 2))
        j["eps"] = JSONValue(1e-8)
        j["kernelSize"] = .array((a.poolSize + extra).map { JSONValue($0) })
        j["layerName"] = .string(node.name)
        j["padding"] = .array(Array(repeating: JSONValue(0), count: 2))
        j["pnorm"] = JSONValue(0)
        j["poolingType"] = .string(a.kind == .max ? "MAX" : "AVG")
        j["stride"] = .array((a.strides + extra).map { JSONValue($0) })
        return .object(j)
    }

    // MARK: Normalization family (BatchNormalization)

    static func batchNorm(_ node: Node, _ a: BatchNormAttributes, input: DL4JConfigGenerator.Flow) throws -> JSONValue {
        guard a.center && a.scale else { throw unsupported(node, "BatchNormalization without center or scale (DL4J has gamma and beta or neither)") }
        let featureAxisOK: Bool
        switch input.kind {
        case .convolutional2D: featureAxisOK = input.channelsLast ? (a.axis == -1 || a.axis == 3) : a.axis == 1
        case .feedForward: featureAxisOK = a.axis == -1 || a.axis == 1
        default: featureAxisOK = false
        }
        guard featureAxisOK else { throw unsupported(node, "BatchNormalization over axis \(a.axis) of \(input.kind.rawValue) data") }
        let n = node.parameters["movingMean"]?.count ?? input.size
        var j = base(layers + "BatchNormalization", node)
        j["beta"] = JSONValue(0.0)
        j["cudnnAllowFallback"] = .bool(true)
        j["decay"] = JSONValue(0.9)
        j["eps"] = JSONValue(a.epsilon)
        j["gamma"] = JSONValue(1.0)
        j["isMinibatch"] = .bool(true)
        j["lockGammaBeta"] = .bool(false)
        j["nin"] = JSONValue(n)
        j["nout"] = JSONValue(n)
        j["useLogStd"] = .bool(false)
        return .object(j.sortedByKey())
    }
}

extension OrderedDictionary where Key == String {
    /// Keys in alphabetical order, `@class` first (the order DL4J's Jackson writes).
    func sortedByKey() -> OrderedDictionary<String, Value> {
        var out: OrderedDictionary<String, Value> = [:]
        if let c = self["@class"] { out["@class"] = c }
        for k in keys.sorted() where k != "@class" { out[k] = self[k] }
        return out
    }
}
