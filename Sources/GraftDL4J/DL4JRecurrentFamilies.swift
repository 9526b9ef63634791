import GraftCore
import OrderedCollections

/// Recurrent layers. DL4J LSTM/GravesLSTM store W [nIn, 4n], RW [n, 4n] (GravesLSTM
/// [n, 4n+3]) and b [4n], each column-major ('f'), gate blocks **[a | f | o | g]**
/// (a = block input = Keras c, g = input gate = Keras i). The IR wants Keras order
/// **[i | f | c | o]**, i.e. DL4J blocks (3, 1, 0, 2). GravesLSTM's last three RW columns are
/// the peepholes: 4n = forget (wFF), 4n+1 = output (wOO), 4n+2 = input gate (wGG); the IR
/// `peepholes` [3, n] has rows (input, forget, output).
enum DL4JRecurrentFamilies {
    static let dl4jToKerasGates = [3, 1, 0, 2]

    static func recurrentAttributes(_ layer: DL4JLayerConfig, units: Int, defaultActivation: ActivationFunction) throws -> RecurrentAttributes {
        let activation = layer.fields["activationFn"] == nil && layer.fields["activationFunction"] == nil
            ? defaultActivation : try layer.activation()
        let gate = layer.fields["gateActivationFn"].map { try? DL4JActivation.function($0, location: layer.location) } ?? nil
        return RecurrentAttributes(units: units, activation: activation, recurrentActivation: gate ?? .sigmoid,
                                   useBias: true, returnSequences: true)
    }

    static func buildLSTM(_ layer: DL4JLayerConfig, _ input: DL4JLayerInput, _ params: inout DL4JParameterReader,
                          peepholes: Bool, prefix: String = "") throws -> (Op, OrderedDictionary<String, Tensor>, Int) {
        let nIn = try layer.resolvedNIn(input), n = try layer.requireNOut()
        var p: OrderedDictionary<String, Tensor> = [:]
        let w = try params.matrixF(nIn, 4 * n, prefix + "W")
        let rw = try params.matrixF(n, 4 * n + (peepholes ? 3 : 0), prefix + "RW")
        let b = try params.vector(4 * n, prefix + "b")
        if !params.counting {
            p["kernel"] = try params.reorderColumnBlocks(w, blockSize: n, order: dl4jToKerasGates)
            let recurrent = peepholes ? try params.leadingColumns(rw, 4 * n) : rw
            p["recurrentKernel"] = try params.reorderColumnBlocks(recurrent, blockSize: n, order: dl4jToKerasGates)
            p["bias"] = try params.reorderColumnBlocks(b, blockSize: n, order: dl4jToKerasGates)
            if peepholes { p["peepholes"] = try params.columnsAsRows(rw, [4 * n + 2, 4 * n, 4 * n + 1]) }
        }
        let op = Op.lstm(LSTMAttributes(try recurrentAttributes(layer, units: n, defaultActivation: .tanh), peepholes: peepholes))
        return (op, p, n)
    }

    static let lstm = DL4JLayerFamily(names: ["LSTM"], expects: .recurrent) { layer, input, params in
        let (op, p, n) = try buildLSTM(layer, input, &params, peepholes: false)
        return DL4JBuiltLayer(op: op, parameters: p, output: DL4JLayerInput(.recurrent, n))
    }

    static let gravesLSTM = DL4JLayerFamily(names: ["gravesLSTM", "GravesLSTM"], expects: .recurrent) { layer, input, params in
        let (op, p, n) = try buildLSTM(layer, input, &params, peepholes: true)
        return DL4JBuiltLayer(op: op, parameters: p, output: DL4JLayerInput(.recurrent, n))
    }

    /// GravesBidirectionalLSTM: forward W, RW, b then backward W, RW, b; the two directions'
    /// outputs are **added**.
    static let gravesBidirectionalLSTM = DL4JLayerFamily(
        names: ["gravesBidirectionalLSTM", "GravesBidirectionalLSTM"], expects: .recurrent
    ) { layer, input, params in
        let (op, forward, n) = try buildLSTM(layer, input, &params, peepholes: true, prefix: "forward ")
        let (_, backward, _) = try buildLSTM(layer, input, &params, peepholes: true, prefix: "backward ")
        var p: OrderedDictionary<String, Tensor> = [:]
        for (k, v) in forward { p["forward/" + k] = v }
        for (k, v) in backward { p["backward/" + k] = v }
        return DL4JBuiltLayer(op: .bidirectional(BidirectionalAttributes(mergeMode: .sum, layer: op)), parameters: p,
                              output: DL4JLayerInput(.recurrent, n))
    }

    /// SimpleRnn: W [nIn, n], RW [n, n] ('f'), b [n], then layer-norm gains gx, gh when `hasLayerNorm`.
    static let simpleRnn = DL4JLayerFamily(names: ["SimpleRnn"], expects: .recurrent) { layer, input, params in
        let nIn = try layer.resolvedNIn(input), n = try layer.requireNOut()
        var p: OrderedDictionary<String, Tensor> = [:]
        p["kernel"] = try params.matrixF(nIn, n, "W")
        p["recurrentKernel"] = try params.matrixF(n, n, "RW")
        p["bias"] = try params.vector(n, "b")
        if layer.bool("hasLayerNorm") == true {
            p["layerNormGainInput"] = try params.vector(n, "gx")
            p["layerNormGainRecurrent"] = try params.vector(n, "gh")
        }
        let op = Op.simpleRNN(try recurrentAttributes(layer, units: n, defaultActivation: .tanh))
        return DL4JBuiltLayer(op: op, parameters: p, output: DL4JLayerInput(.recurrent, n))
    }

    /// Bidirectional(fwd, bwd): the forward layer's params, then the backward layer's;
    /// mode CONCAT (default), ADD, MUL or AVERAGE.
    static let bidirectional = DL4JLayerFamily(names: ["Bidirectional"], expects: .recurrent) { layer, input, params in
        guard let forwardConfig = layer.wrapped?.value, let bwdJSON = layer.fields["bwd"] else {
            throw GraftError(.malformed, "Bidirectional layer without fwd/bwd layers", location: layer.location, field: "fwd")
        }
        let backwardConfig = try DL4JLayerConfig.parse(bwdJSON, location: layer.location + "/bwd")
        guard let family = DL4JLayerFamilies.family(for: forwardConfig.type) else {
            throw GraftError(.unknownLayer, "Bidirectional wraps an unknown layer", location: layer.location,
                             field: "fwd", found: forwardConfig.className ?? forwardConfig.type)
        }
        let forward = try family.build(forwardConfig, input, &params)
        let backward = try family.build(backwardConfig, input, &params)
        var p: OrderedDictionary<String, Tensor> = [:]
        for (k, v) in forward.parameters { p["forward/" + k] = v }
        for (k, v) in backward.parameters { p["backward/" + k] = v }
        let mode: BidirectionalMerge
        switch layer.string("mode") ?? "CONCAT" {
        case "ADD": mode = .sum
        case "MUL": mode = .mul
        case "AVERAGE": mode = .average
        default: mode = .concat
        }
        let size = mode == .concat ? 2 * forward.output.size : forward.output.size
        return DL4JBuiltLayer(op: .bidirectional(BidirectionalAttributes(mergeMode: mode, layer: forward.op)), parameters: p,
                              output: DL4JLayerInput(.recurrent, size))
    }
}
