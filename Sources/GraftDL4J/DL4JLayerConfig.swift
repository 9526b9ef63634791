import GraftCore

/// One layer configuration as DL4J wrote it, unwrapped from either JSON generation:
/// the legacy wrapper object (`{"dense": {...}}`, up to 1.0.0-alpha) or the `@class` form
/// (1.0.0-beta and later).
public struct DL4JLayerConfig: Sendable, Equatable {
    /// The type as the JSON names it: the legacy short name (`dense`, `gravesLSTM`) or the
    /// simple name of the `@class` (`DenseLayer`, `LSTM`).
    public var type: String
    /// The full `@class`, when the JSON has one.
    public var className: String?
    /// The layer's own fields (the object inside the wrapper, or the `@class` object).
    public var fields: JSONValue
    /// The layer JSON exactly as stored (with its wrapper), for writers.
    public var raw: JSONValue
    /// The wrapped layer of FrozenLayer, FrozenLayerWithBackprop, LastTimeStep, MaskZeroLayer,
    /// and the forward layer of Bidirectional.
    public var wrapped: DL4JLayerConfigBox?

    public var name: String? { fields["layerName"]?.stringValue }
    /// `nIn` as stored (`nin` in every generation; `nIn` accepted too).
    public var nIn: Int? { fields["nin"]?.intValue ?? fields["nIn"]?.intValue }
    public var nOut: Int? { fields["nout"]?.intValue ?? fields["nOut"]?.intValue }

    /// The activation's lowercase name (`relu`, `tanh`, `leakyrelu`, `identity`, …), from
    /// `activationFn` (wrapper or `@class` object) or the older `activationFunction` string.
    public var activationName: String? {
        DL4JActivation.name(of: fields["activationFn"]) ?? DL4JActivation.name(of: fields["activationFunction"])
    }

    /// True when the type is neither a DL4J layer nor one of DL4J's legacy short names.
    public var isCustom: Bool {
        if let className { return !DL4JLayerFamilies.isDL4JClass(className) }
        return !DL4JLayerFamilies.isKnown(type) && !DL4JLayerFamilies.unsupportedLegacyNames.contains(type)
            && type.first?.isLowercase != true
    }

    /// The innermost layer under frozen / LastTimeStep / MaskZero wrappers.
    public var innermost: DL4JLayerConfig { wrapped.map { $0.value.innermost } ?? self }

    /// Parses one layer JSON in either generation.
    public static func parse(_ json: JSONValue, location: String) throws -> DL4JLayerConfig {
        guard let object = json.objectValue else {
            throw GraftError(.malformed, "layer configuration is not a JSON object", location: location,
                             field: "layer", expected: "an object", found: json.serialized().prefix(80).description)
        }
        var type: String
        var className: String?
        var fields: JSONValue
        if let cls = object["@class"]?.stringValue {
            className = cls
            type = String(cls.split(separator: ".").last ?? Substring(cls))
            fields = json
        } else if object.count == 1, let (key, inner) = object.elements.first.map({ ($0.key, $0.value) }), inner.objectValue != nil {
            type = key
            fields = inner
        } else {
            throw GraftError(.malformed, "layer configuration has neither '@class' nor a single wrapper key",
                             location: location, field: "layer", expected: "{\"@class\": …} or {\"dense\": {…}}",
                             found: "keys \(Array(object.keys).prefix(6))")
        }
        if type.hasPrefix("$") { type = String(type.dropFirst()) }
        var config = DL4JLayerConfig(type: type, className: className, fields: fields, raw: json, wrapped: nil)
        // Wrapper layers: inner layer under `layer` (FrozenLayer), `underlying`
        // (BaseWrapperLayer: FrozenLayerWithBackprop, LastTimeStep, MaskZeroLayer), `fwd` (Bidirectional).
        for key in ["layer", "underlying", "fwd"] {
            if let inner = fields[key], inner.objectValue != nil {
                config.wrapped = DL4JLayerConfigBox(try parse(inner, location: location + "/" + key))
                break
            }
        }
        return config
    }
}

/// Indirection so a layer config can hold its wrapped layer.
public final class DL4JLayerConfigBox: Sendable, Equatable {
    public let value: DL4JLayerConfig
    public init(_ value: DL4JLayerConfig) { self.value = value }
    public static func == (a: DL4JLayerConfigBox, b: DL4JLayerConfigBox) -> Bool { a.value == b.value }
}

/// DL4J activation functions: names and their IR equivalents.
public enum DL4JActivation {
    /// The lowercase name of an activation in any stored form: a string (`"relu"`), a legacy
    /// wrapper (`{"ReLU": {}}`) or an `@class` object (`ActivationReLU`).
    public static func name(of json: JSONValue?) -> String? {
        guard let json, !json.isNull else { return nil }
        var raw: String
        if let s = json.stringValue {
            raw = s
        } else if let cls = json["@class"]?.stringValue {
            raw = String(cls.split(separator: ".").last ?? "")
            if raw.hasPrefix("Activation") { raw = String(raw.dropFirst("Activation".count)) }
        } else if let object = json.objectValue, object.count == 1, let key = object.keys.first {
            raw = key
        } else {
            return nil
        }
        let lower = raw.lowercased()
        switch lower {
        case "lrelu": return "leakyrelu"
        default: return lower
        }
    }

    /// The parameters object of an activation (`alpha` of LReLU/ELU, …).
    static func parameters(of json: JSONValue?) -> JSONValue? {
        guard let json else { return nil }
        if json["@class"] != nil { return json }
        if let object = json.objectValue, object.count == 1 { return object.values.first }
        return nil
    }

    /// The IR activation for a layer's activation field.
    static func function(_ json: JSONValue?, location: String) throws -> ActivationFunction {
        guard let name = name(of: json) else { return .linear }
        let p = parameters(of: json)
        switch name {
        case "identity", "linear": return .linear
        case "relu":
            // ActivationReLU(max, threshold, negativeSlope) (1.0.0-beta4+; nulls mean plain ReLU).
            return .relu(maxValue: p?["max"]?.doubleValue, negativeSlope: p?["negativeSlope"]?.doubleValue ?? 0,
                         threshold: p?["threshold"]?.doubleValue ?? 0)
        case "relu6": return .relu6
        case "leakyrelu": return .leakyRelu(alpha: p?["alpha"]?.doubleValue ?? 0.01)
        case "elu": return .elu(alpha: p?["alpha"]?.doubleValue ?? 1.0)
        case "selu": return .selu
        case "tanh": return .tanh
        case "sigmoid": return .sigmoid
        case "hardsigmoid": return .keras2HardSigmoid
        case "hardtanh": return .hardTanh
        case "softmax": return .softmax(axis: -1)
        case "softplus": return .softplus
        case "softsign": return .softsign
        case "swish": return .swish
        case "gelu": return .gelu(approximate: p?["precise"]?.boolValue == false)
        case "cube": return .cube
        case "rationaltanh": return .rationalTanh
        case "rectifiedtanh": return .rectifiedTanh
        case "thresholdedrelu": return .thresholdedRelu(theta: p?["theta"]?.doubleValue ?? 1.0)
        default:
            throw GraftError(.unsupported, "unknown DL4J activation function", location: location,
                             field: "activationFn", expected: "a DL4J activation", found: name)
        }
    }
}
