import GraftCore
import OrderedCollections

/// The IR's own JSON notation for a layer in recipes: `{"type": "dense", "units": 16,
/// "activation": "relu"}`. Documented in `formats/recipe.md`.
public enum OpNotation {
    static let activationNames: [String: ActivationFunction] = [
        "linear": .linear, "relu": .plainRelu, "relu6": .relu6, "tanh": .tanh, "sigmoid": .sigmoid,
        "softmax": .softmax(axis: -1), "softplus": .softplus, "softsign": .softsign, "selu": .selu, "swish": .swish,
        "elu": .elu(alpha: 1), "leakyRelu": .leakyRelu(alpha: 0.3), "hardSigmoid": .keras2HardSigmoid,
        "gelu": .gelu(approximate: false), "exponential": .exponential, "hardTanh": .hardTanh, "cube": .cube,
    ]

    static func activation(_ json: JSONValue?, default fallback: ActivationFunction) throws -> ActivationFunction {
        guard let json else { return fallback }
        guard let name = json.stringValue, let f = activationNames[name] else {
            throw GraftError(.invalidArgument, "unknown activation", field: "activation",
                             expected: activationNames.keys.sorted().joined(separator: ", "), found: json.description)
        }
        return f
    }

    /// Parses a layer object in IR notation.
    public static func parse(_ json: JSONValue) throws -> Op {
        guard let type = json["type"]?.stringValue else {
            throw GraftError(.invalidArgument, "a layer needs a \"type\"", field: "type", found: json.description)
        }
        func int(_ key: String) throws -> Int {
            guard let v = json[key]?.intValue, v > 0, v <= maximumUnits else {
                throw GraftError(.invalidArgument, "\(type) needs a positive integer '\(key)'", field: key,
                                 expected: "1...\(maximumUnits)", found: json[key]?.description ?? "nothing")
            }
            return v
        }
        func bool(_ key: String, _ d: Bool) -> Bool { json[key]?.boolValue ?? d }
        func recurrent() throws -> RecurrentAttributes {
            RecurrentAttributes(units: try int("units"), activation: try activation(json["activation"], default: .tanh),
                                recurrentActivation: try activation(json["recurrentActivation"], default: .sigmoid),
                                useBias: bool("useBias", true), returnSequences: bool("returnSequences", true),
                                goBackwards: bool("goBackwards", false))
        }
        switch type {
        case "dense":
            return .dense(DenseAttributes(units: try int("units"), activation: try activation(json["activation"], default: .linear),
                                          useBias: bool("useBias", true)))
        case "lstm", "gravesLSTM":
            return .lstm(LSTMAttributes(try recurrent(), peepholes: type == "gravesLSTM" || bool("peepholes", false)))
        case "gru": return .gru(GRUAttributes(try recurrent(), resetAfter: bool("resetAfter", true)))
        case "simpleRNN": return .simpleRNN(try recurrent())
        case "bidirectional":
            guard let inner = json["layer"] else { throw GraftError(.invalidArgument, "bidirectional needs a \"layer\"", field: "layer") }
            let mode = json["mergeMode"]?.stringValue ?? "concat"
            guard let m = BidirectionalMerge(rawValue: mode) else {
                throw GraftError(.invalidArgument, "unknown merge mode", field: "mergeMode", expected: "concat, sum, mul, ave, none", found: mode)
            }
            return .bidirectional(BidirectionalAttributes(mergeMode: m, layer: try parse(inner)))
        case "timeDistributed":
            guard let inner = json["layer"] else { throw GraftError(.invalidArgument, "timeDistributed needs a \"layer\"", field: "layer") }
            return .timeDistributed(layer: try parse(inner))
        case "conv1d", "conv2d", "conv3d":
            let rank = Int(String(type.dropFirst(4).prefix(1))) ?? 2
            let kernel = json["kernelSize"]?.intArray ?? json["kernelSize"]?.intValue.map { Array(repeating: $0, count: rank) } ?? []
            guard kernel.count == rank else {
                throw GraftError(.invalidArgument, "\(type) needs kernelSize with \(rank) entries", field: "kernelSize", found: json["kernelSize"]?.description ?? "nothing")
            }
            let padding = Padding(rawValue: json["padding"]?.stringValue ?? "valid") ?? .valid
            let format: DataFormat = json["dataFormat"]?.stringValue == "channelsFirst" ? .channelsFirst : .channelsLast
            return .conv(ConvAttributes(rank: rank, filters: try int("filters"), kernelSize: kernel, strides: json["strides"]?.intArray,
                                        padding: padding, dataFormat: format,
                                        activation: try activation(json["activation"], default: .linear), useBias: bool("useBias", true)))
        case "output", "rnnOutput":
            let kindName = json["kind"]?.stringValue ?? (type == "rnnOutput" ? "rnn" : "dense")
            guard let kind = OutputAttributes.Kind(rawValue: kindName) else {
                throw GraftError(.invalidArgument, "unknown output kind", field: "kind", expected: "dense, rnn, loss, rnnLoss, cnnLoss, centerLoss", found: kindName)
            }
            let needsUnits = kind == .dense || kind == .rnn || kind == .centerLoss
            return .output(OutputAttributes(kind: kind, units: needsUnits ? try int("units") : json["units"]?.intValue,
                                            activation: try activation(json["activation"], default: .softmax(axis: -1)),
                                            useBias: bool("useBias", true), loss: json["loss"]?.stringValue ?? "MCXENT"))
        case "activation": return .activation(try activation(json["activation"] ?? json["function"], default: .linear))
        case "dropout": return .dropout(kind: json["kind"]?.stringValue ?? "Dropout", rate: json["rate"]?.doubleValue ?? 0.5)
        case "batchNorm":
            return .batchNorm(BatchNormAttributes(axis: json["axis"]?.intValue ?? -1, epsilon: json["epsilon"]?.doubleValue ?? 1e-3))
        case "embedding":
            return .embedding(EmbeddingAttributes(inputDim: try int("inputDim"), outputDim: try int("outputDim"),
                                                  maskZero: bool("maskZero", false)))
        case "flatten": return .flatten
        case "masking": return .masking(maskValue: json["maskValue"]?.doubleValue ?? 0)
        case "add": return .merge(MergeAttributes(.add))
        case "subtract": return .merge(MergeAttributes(.subtract))
        case "multiply": return .merge(MergeAttributes(.multiply))
        case "average": return .merge(MergeAttributes(.average))
        case "maximum": return .merge(MergeAttributes(.maximum))
        case "minimum": return .merge(MergeAttributes(.minimum))
        case "concatenate": return .merge(MergeAttributes(.concatenate(axis: json["axis"]?.intValue ?? -1)))
        case "lastTimeStep": return .dl4jVertex(.lastTimeStep)
        default:
            throw GraftError(.invalidArgument, "unknown layer type in IR notation", field: "type",
                             expected: "dense, lstm, gravesLSTM, gru, simpleRNN, bidirectional, timeDistributed, conv1d/2d/3d, output, rnnOutput, activation, dropout, batchNorm, embedding, flatten, masking, add, subtract, multiply, average, maximum, minimum, concatenate, lastTimeStep",
                             found: type)
        }
    }

    /// A layer in IR notation (for history records); ops without a notation give their kind name.
    public static func json(_ op: Op) -> JSONValue {
        var o = OrderedDictionary<String, JSONValue>()
        func recurrent(_ type: String, _ a: RecurrentAttributes) {
            o["type"] = .string(type); o["units"] = JSONValue(a.units)
            o["activation"] = .string(a.activation.name); o["returnSequences"] = .bool(a.returnSequences)
        }
        switch op {
        case .dense(let a):
            o["type"] = .string("dense"); o["units"] = JSONValue(a.units); o["activation"] = .string(a.activation.name)
        case .lstm(let a): recurrent(a.peepholes ? "gravesLSTM" : "lstm", a.recurrent)
        case .gru(let a): recurrent("gru", a.recurrent); o["resetAfter"] = .bool(a.resetAfter)
        case .simpleRNN(let a): recurrent("simpleRNN", a)
        case .bidirectional(let a): o["type"] = .string("bidirectional"); o["mergeMode"] = .string(a.mergeMode.rawValue); o["layer"] = json(a.layer)
        case .timeDistributed(let l): o["type"] = .string("timeDistributed"); o["layer"] = json(l)
        case .conv(let a):
            o["type"] = .string(op.kindName); o["filters"] = JSONValue(a.filters); o["kernelSize"] = JSONValue(ints: a.kernelSize)
            o["padding"] = .string(a.padding.rawValue); o["activation"] = .string(a.activation.name)
        case .output(let a):
            o["type"] = .string("output"); o["kind"] = .string(a.kind.rawValue)
            if let u = a.units { o["units"] = JSONValue(u) }
            o["activation"] = .string(a.activation.name); o["loss"] = .string(a.loss)
        case .activation(let f): o["type"] = .string("activation"); o["activation"] = .string(f.name)
        case .dropout(let kind, let rate): o["type"] = .string("dropout"); o["kind"] = .string(kind); o["rate"] = JSONValue(rate)
        case .embedding(let a): o["type"] = .string("embedding"); o["inputDim"] = JSONValue(a.inputDim); o["outputDim"] = JSONValue(a.outputDim)
        default: o["type"] = .string(op.kindName)
        }
        return .object(o)
    }
}
