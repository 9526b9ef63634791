import GraftCore
import OrderedCollections

/// DenseLayer, the output layers (OutputLayer, RnnOutputLayer, CenterLossOutputLayer), the
/// parameter-free loss layers, and the embedding layers. Their `W` is [nIn, nOut] stored
/// column-major ('f'), followed by `b` [nOut] (DefaultParamInitializer).
enum DL4JDenseFamilies {
    static let dense = DL4JLayerFamily(names: ["dense", "DenseLayer"], expects: .feedForward) { layer, input, params in
        let nIn = try layer.resolvedNIn(input), nOut = try layer.requireNOut()
        var p: OrderedDictionary<String, Tensor> = [:]
        p["kernel"] = try params.matrixF(nIn, nOut, "W")
        if layer.hasBias { p["bias"] = try params.vector(nOut, "b") }
        if layer.bool("hasLayerNorm") == true { p["layerNormGain"] = try params.vector(nOut, "g") }
        let op = Op.dense(DenseAttributes(units: nOut, activation: try layer.activation(), useBias: layer.hasBias))
        return DL4JBuiltLayer(op: op, parameters: p, output: DL4JLayerInput(input.kind, nOut))
    }

    /// The loss function's name: `MCXENT`, `NegativeLogLikelihood`, `MSE`, … from `lossFn`
    /// (wrapper or `@class LossMCXENT`) or the older `lossFunction` string.
    static func lossName(_ layer: DL4JLayerConfig) -> String {
        if let fn = layer.fields["lossFn"], !fn.isNull {
            if let cls = fn["@class"]?.stringValue {
                var s = String(cls.split(separator: ".").last ?? "")
                if s.hasPrefix("Loss") { s = String(s.dropFirst(4)) }
                return s
            }
            if let key = fn.objectValue?.keys.first { return key }
        }
        // The legacy enum string, named as its `@class` would be (NEGATIVELOGLIKELIHOOD →
        // NegativeLogLikelihood), so both JSON generations give the same name.
        guard let legacy = layer.string("lossFunction") else { return "unknown" }
        let simple = String(DL4JNames.lossClass(legacy).split(separator: ".").last ?? "")
        return simple.hasPrefix("Loss") ? String(simple.dropFirst(4)) : simple
    }

    static let output = DL4JLayerFamily(
        names: ["output", "OutputLayer", "rnnoutput", "RnnOutputLayer", "CenterLossOutputLayer"], expects: nil
    ) { layer, input, params in
        let nIn = try layer.resolvedNIn(input), nOut = try layer.requireNOut()
        let kind: OutputAttributes.Kind
        switch layer.type {
        case "rnnoutput", "RnnOutputLayer": kind = .rnn
        case "CenterLossOutputLayer": kind = .centerLoss
        default: kind = .dense
        }
        var p: OrderedDictionary<String, Tensor> = [:]
        p["kernel"] = try params.matrixF(nIn, nOut, "W")
        if layer.hasBias { p["bias"] = try params.vector(nOut, "b") }
        if kind == .centerLoss { p["centers"] = try params.matrixF(nOut, nIn, "cL") }
        let op = Op.output(OutputAttributes(kind: kind, units: nOut, activation: try layer.activation(),
                                            useBias: layer.hasBias, loss: lossName(layer)))
        let outKind: DL4JDataKind = kind == .rnn ? .recurrent : .feedForward
        return DL4JBuiltLayer(op: op, parameters: p, output: DL4JLayerInput(outKind, nOut))
    }

    static let loss = DL4JLayerFamily(
        names: ["loss", "LossLayer", "RnnLossLayer", "CnnLossLayer", "Cnn3DLossLayer"], expects: nil
    ) { layer, input, _ in
        let kind: OutputAttributes.Kind
        switch layer.type {
        case "RnnLossLayer": kind = .rnnLoss
        case "CnnLossLayer", "Cnn3DLossLayer": kind = .cnnLoss
        default: kind = .loss
        }
        let op = Op.output(OutputAttributes(kind: kind, units: nil, activation: try layer.activation(),
                                            useBias: false, loss: lossName(layer)))
        return DL4JBuiltLayer(op: op, output: input)
    }

    /// EmbeddingLayer: W [nIn (vocabulary), nOut] 'f', then b unless `hasBias` is false
    /// (absent `hasBias` means true: JSON from before 0.9.2).
    static let embedding = DL4JLayerFamily(names: ["embedding", "EmbeddingLayer"], expects: .feedForward) { layer, input, params in
        try buildEmbedding(layer, input, &params, output: .feedForward)
    }

    static let embeddingSequence = DL4JLayerFamily(names: ["EmbeddingSequenceLayer"], expects: .recurrent) { layer, input, params in
        try buildEmbedding(layer, input, &params, output: .recurrent)
    }

    static func buildEmbedding(_ layer: DL4JLayerConfig, _ input: DL4JLayerInput, _ params: inout DL4JParameterReader,
                               output: DL4JDataKind) throws -> DL4JBuiltLayer {
        guard let nIn = layer.nIn, nIn > 0 else {
            throw GraftError(.malformed, "embedding layer has no vocabulary size", location: layer.location, field: "nIn")
        }
        let nOut = try layer.requireNOut()
        var p: OrderedDictionary<String, Tensor> = [:]
        p["embeddings"] = try params.matrixF(nIn, nOut, "W")
        if layer.hasBias { p["bias"] = try params.vector(nOut, "b") }
        let op = Op.embedding(EmbeddingAttributes(inputDim: nIn, outputDim: nOut, maskZero: false,
                                                  activation: try layer.activation(), useBias: layer.hasBias))
        return DL4JBuiltLayer(op: op, parameters: p, output: DL4JLayerInput(output, nOut))
    }
}
