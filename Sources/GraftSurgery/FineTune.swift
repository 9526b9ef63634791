import GraftCore
import OrderedCollections

/// DL4J `FineTuneConfiguration`: training settings for the trainable layers. Nil fields are
/// not set; a layer's own `extras["fineTune"]` entries override these.
public struct FineTuneConfiguration: Sendable, Equatable {
    public var updater: String?
    public var learningRate: Double?
    public var l1: Double?
    public var l2: Double?
    public var dropout: Double?
    public var seed: Int?
    public var weightInit: String?

    public init(updater: String? = nil, learningRate: Double? = nil, l1: Double? = nil, l2: Double? = nil,
                dropout: Double? = nil, seed: Int? = nil, weightInit: String? = nil) {
        self.updater = updater; self.learningRate = learningRate; self.l1 = l1; self.l2 = l2
        self.dropout = dropout; self.seed = seed; self.weightInit = weightInit
    }

    public var json: JSONValue {
        var o = OrderedDictionary<String, JSONValue>()
        if let updater { o["updater"] = .string(updater) }
        if let learningRate { o["learningRate"] = JSONValue(learningRate) }
        if let l1 { o["l1"] = JSONValue(l1) }
        if let l2 { o["l2"] = JSONValue(l2) }
        if let dropout { o["dropout"] = JSONValue(dropout) }
        if let seed { o["seed"] = JSONValue(seed) }
        if let weightInit { o["weightInit"] = .string(weightInit) }
        return .object(o)
    }

    public static func parse(_ json: JSONValue) throws -> FineTuneConfiguration {
        guard json.objectValue != nil else { throw invalid("fineTune expects an object", found: json.description) }
        if let w = json["weightInit"]?.stringValue { _ = try WeightInit.named(w) }
        return FineTuneConfiguration(updater: json["updater"]?.stringValue, learningRate: json["learningRate"]?.doubleValue,
                                     l1: json["l1"]?.doubleValue, l2: json["l2"]?.doubleValue, dropout: json["dropout"]?.doubleValue,
                                     seed: json["seed"]?.intValue, weightInit: json["weightInit"]?.stringValue)
    }
}

extension Graph {
    /// The weight initialiser of the latest fine-tune configuration in the history, if any:
    /// the default for layers added after it.
    func fineTuneWeightInit() throws -> WeightInit? {
        guard let record = history.last(where: { $0.operation == "fineTune" }),
              let name = record.arguments["config"]?["weightInit"]?.stringValue else { return nil }
        return try WeightInit.named(name)
    }

    /// Records `config` in the history and sets it on every trainable node with parameters
    /// as `extras["fineTune"]`, keeping any setting the node already has.
    public func fineTune(_ config: FineTuneConfiguration) -> Graph {
        var g = self
        for i in g.nodes.indices where g.nodes[i].freeze == .trainable && !g.nodes[i].parameters.isEmpty {
            guard case .object(var extras) = g.nodes[i].extras, case .object(let settings) = config.json else { continue }
            var merged = settings
            if case .object(let own)? = extras["fineTune"] { for (k, v) in own { merged[k] = v } }
            extras["fineTune"] = .object(merged)
            g.nodes[i].extras = .object(extras)
        }
        return g.recording("fineTune", [("config", config.json)], functionPreserving: true)
    }
}
