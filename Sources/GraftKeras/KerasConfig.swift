import GraftCore

/// Typed access to a Keras layer config, accepting the field names of every Keras
/// generation (`units` / `output_dim`, `padding` / `border_mode`, …): pass them all, the
/// first one present wins.
public struct KerasConfig: Sendable {
    public let json: JSONValue
    public let context: KerasLayerContext

    public init(_ context: KerasLayerContext) {
        self.json = context.config
        self.context = context
    }

    public func value(_ keys: [String]) -> JSONValue? {
        for k in keys { if let v = json[k], !v.isNull { return v } }
        return nil
    }

    public func int(_ keys: String..., default fallback: Int? = nil) throws -> Int {
        if let v = value(keys) {
            guard let i = v.intValue else {
                throw context.error(.malformed, "field is not an integer", field: keys[0], found: v.description)
            }
            return i
        }
        if let fallback { return fallback }
        throw context.error(.malformed, "missing field", field: keys.joined(separator: " / "))
    }

    public func double(_ keys: String..., default fallback: Double? = nil) throws -> Double {
        if let v = value(keys) {
            guard let d = v.doubleValue else {
                throw context.error(.malformed, "field is not a number", field: keys[0], found: v.description)
            }
            return d
        }
        if let fallback { return fallback }
        throw context.error(.malformed, "missing field", field: keys.joined(separator: " / "))
    }

    public func bool(_ keys: String..., default fallback: Bool) throws -> Bool {
        guard let v = value(keys) else { return fallback }
        guard let b = v.boolValue else {
            throw context.error(.malformed, "field is not a boolean", field: keys[0], found: v.description)
        }
        return b
    }

    public func string(_ keys: String..., default fallback: String? = nil) throws -> String {
        if let v = value(keys) {
            guard let s = v.stringValue else {
                throw context.error(.malformed, "field is not a string", field: keys[0], found: v.description)
            }
            return s
        }
        if let fallback { return fallback }
        throw context.error(.malformed, "missing field", field: keys.joined(separator: " / "))
    }

    /// An int tuple such as `kernel_size`, also accepting a bare int (repeated `count` times).
    public func ints(_ keys: String..., count: Int, default fallback: [Int]? = nil) throws -> [Int] {
        if let v = value(keys) {
            if let i = v.intValue { return Array(repeating: i, count: count) }
            guard let a = v.intArray, a.count == count else {
                throw context.error(.malformed, "field has the wrong form", field: keys[0],
                                    expected: "\(count) integers", found: v.description)
            }
            return a
        }
        if let fallback { return fallback }
        throw context.error(.malformed, "missing field", field: keys.joined(separator: " / "))
    }

    /// `activation` (or another key) as an IR activation, with the producer's semantics.
    public func activation(_ keys: String..., default fallback: ActivationFunction = .linear) throws -> ActivationFunction {
        guard let v = value(keys) else { return fallback }
        return try KerasActivation.parse(v, producer: context.producer, context: context)
    }

    /// `data_format` (Keras 2/3) or `dim_ordering` (Keras 1: `th` = channels first).
    public func dataFormat() throws -> DataFormat {
        if let s = value(["data_format"])?.stringValue { return s == "channels_first" ? .channelsFirst : .channelsLast }
        if let s = value(["dim_ordering"])?.stringValue {
            if s == "th" { return .channelsFirst }
            if s == "tf" { return .channelsLast }
            if s == "default" { return context.producer.isTheano ? .channelsFirst : .channelsLast }
        }
        // Keras 1 defaulted dim_ordering to the backend's ordering.
        if context.producer.major == 1, context.producer.isTheano { return .channelsFirst }
        return .channelsLast
    }
}

/// Keras activation names (strings, or Keras 3 serialized objects) → IR activations.
public enum KerasActivation {
    public static func parse(_ value: JSONValue, producer: KerasProducer, context: KerasLayerContext? = nil) throws -> ActivationFunction {
        var name: String
        if let s = value.stringValue {
            name = s
        } else if let s = value["class_name"]?.stringValue ?? value["config"]?["name"]?.stringValue {
            // Keras 3 may serialise activations as objects.
            name = s
        } else {
            throw GraftError(.malformed, "unreadable activation", file: context?.file,
                             location: context.map { "layer '\($0.name)'" }, field: "activation", found: value.description)
        }
        name = name.lowercased()
        switch name {
        case "linear", "none": return .linear
        case "relu": return .plainRelu
        case "relu6": return .relu6
        case "leaky_relu": return .leakyRelu(alpha: 0.2)
        case "elu": return .elu(alpha: 1)
        case "selu": return .selu
        case "tanh": return .tanh
        case "sigmoid": return .sigmoid
        case "hard_sigmoid":
            return producer.major >= 3 ? .keras3HardSigmoid : .keras2HardSigmoid
        case "softmax": return .softmax(axis: -1)
        case "softplus": return .softplus
        case "softsign": return .softsign
        case "swish", "silu": return .swish
        case "gelu": return .gelu(approximate: false)
        case "exponential": return .exponential
        default:
            throw GraftError(.unsupported, "unknown activation function", file: context?.file,
                             location: context.map { "layer '\($0.name)' (\($0.className))" }, field: "activation",
                             expected: "a Keras built-in activation", found: name)
        }
    }
}
