import GraftCore
import OrderedCollections

/// Keras `Bidirectional` around a recurrent layer (Keras 1, 2, tf.keras, Keras 3).
///
/// The wrapped layer's config is under `layer`; Keras 2.3+/3 may also give `backward_layer`
/// (it must equal the forward layer apart from `go_backwards` and its name, since the IR
/// derives the backward op from the forward one). Weights in the file: the forward layer's,
/// then the backward layer's, each in the wrapped layer's own order. Parameters: the wrapped
/// op's canonical ones, prefixed `forward/` and `backward/`. The op's `layer` is the forward op.
public enum KerasBidirectionalFamily: KerasLayerFamily {
    public static var classNames: Set<String> { ["Bidirectional"] }

    public static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        // Absent: Keras' default `concat`; explicit null: two outputs, forward then backward.
        let merge: BidirectionalMerge
        if let raw = layer.config["merge_mode"] {
            if raw.isNull {
                merge = .none
            } else if let s = raw.stringValue, let m = BidirectionalMerge(rawValue: s), m != .none {
                merge = m
            } else {
                throw layer.error(.unsupported, "unknown merge mode", field: "merge_mode",
                                  expected: "concat, sum, mul, ave or null", found: raw.description)
            }
        } else {
            merge = .concat
        }

        guard let inner = layer.config["layer"], let innerClass = inner["class_name"]?.stringValue,
              let innerConfig = inner["config"] else {
            throw layer.error(.malformed, "missing wrapped layer", field: "layer", expected: "{class_name, config}")
        }
        let readable = KerasRecurrentFamily.classNames.union(KerasConvLSTMFamily.classNames)
        guard readable.contains(innerClass) else {
            throw layer.error(.unknownLayer, "Bidirectional wraps a layer class Graft cannot read", field: "layer",
                              expected: readable.sorted().joined(separator: ", "), found: innerClass)
        }
        let innerFamily: any KerasLayerFamily.Type =
            KerasConvLSTMFamily.classNames.contains(innerClass) ? KerasConvLSTMFamily.self : KerasRecurrentFamily.self
        guard layer.weights.count % 2 == 0 else {
            throw layer.error(.missingWeights, "forward and backward layers need the same number of weights",
                              expected: "an even number of arrays", found: "\(layer.weights.count)")
        }
        let half = layer.weights.count / 2
        func context(_ config: JSONValue, _ weights: ArraySlice<KerasWeight>, _ suffix: String) -> KerasLayerContext {
            KerasLayerContext(name: "\(layer.name)/\(suffix)", className: innerClass, config: config,
                              producer: layer.producer, weights: Array(weights), inputShapes: layer.inputShapes,
                              file: layer.file)
        }
        let forward = try innerFamily.map(context(innerConfig, layer.weights[..<half], "forward"))

        var backwardConfig = innerConfig
        if let b = layer.config["backward_layer"], !b.isNull {
            guard let bClass = b["class_name"]?.stringValue, let bConfig = b["config"] else {
                throw layer.error(.malformed, "unreadable backward layer", field: "backward_layer")
            }
            guard bClass == innerClass else {
                throw layer.error(.unsupported, "backward layer of another class than the forward layer",
                                  field: "backward_layer", expected: innerClass, found: bClass)
            }
            backwardConfig = bConfig
        }
        let backward = try innerFamily.map(context(backwardConfig, layer.weights[half...], "backward"))
        guard sameExceptDirection(forward.op, backward.op) else {
            throw layer.error(.unsupported, "backward layer configured differently from the forward layer",
                              field: "backward_layer", expected: "\(forward.op)", found: "\(backward.op)")
        }
        for (name, tensor) in backward.parameters {
            guard let f = forward.parameters[name], f.shape == tensor.shape else {
                throw layer.error(.shapeMismatch, "backward weights differ in shape from the forward weights",
                                  field: name, expected: "\(forward.parameters[name]?.shape ?? [])", found: "\(tensor.shape)")
            }
        }

        var parameters: OrderedDictionary<String, Tensor> = [:]
        for (name, tensor) in forward.parameters { parameters["forward/" + name] = tensor }
        for (name, tensor) in backward.parameters { parameters["backward/" + name] = tensor }
        return (.bidirectional(BidirectionalAttributes(mergeMode: merge, layer: forward.op)), parameters)
    }

    /// The two ops are equal once the backward one's `goBackwards` is flipped back — or
    /// equal as written (Keras 1/2 store the same config for both directions).
    static func sameExceptDirection(_ forward: Op, _ backward: Op) -> Bool {
        if forward == backward { return true }
        return forward == flippingDirection(backward)
    }

    static func flippingDirection(_ op: Op) -> Op {
        switch op {
        case .simpleRNN(var a): a.goBackwards.toggle(); return .simpleRNN(a)
        case .lstm(var a): a.recurrent.goBackwards.toggle(); return .lstm(a)
        case .gru(var a): a.recurrent.goBackwards.toggle(); return .gru(a)
        case .convLSTM(var a): a.recurrent.goBackwards.toggle(); return .convLSTM(a)
        default: return op
        }
    }
}
