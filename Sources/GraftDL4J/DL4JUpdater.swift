import GraftCore
import OrderedCollections

/// A layer's updater (optimizer) configuration, normalised across JSON generations:
/// `iupdater` objects (`{"@class": "org.nd4j.linalg.learning.config.Adam", "learningRate": …}`,
/// 0.9+) and the older flat fields (`"updater": "NESTEROVS"`, `learningRate`, `momentum`,
/// `rmsDecay`, `adamMeanDecay`, …). Stored in each layer node's extras under `updater` as
/// `{"type": "Adam", "learningRate": 0.005, …}`; the verbatim JSON stays under `dl4j`.
public enum DL4JUpdater {
    static let legacyNames: [String: String] = [
        "SGD": "Sgd", "NESTEROVS": "Nesterovs", "ADAM": "Adam", "ADAMAX": "AdaMax", "NADAM": "Nadam",
        "RMSPROP": "RmsProp", "ADAGRAD": "AdaGrad", "ADADELTA": "AdaDelta", "NONE": "NoOp", "AMSGRAD": "AMSGrad",
    ]

    /// The normalised updater of a layer, or nil when the layer states none.
    public static func normalized(_ layer: DL4JLayerConfig) -> JSONValue? {
        let fields = layer.fields
        if let updater = fields["iupdater"], let cls = updater["@class"]?.stringValue {
            var out: OrderedDictionary<String, JSONValue> = ["type": .string(String(cls.split(separator: ".").last ?? ""))]
            for (k, v) in updater.objectValue ?? [:] where k != "@class" { out[k] = v }
            return .object(out)
        }
        guard let name = fields["updater"]?.stringValue else { return nil }
        var out: OrderedDictionary<String, JSONValue> = ["type": .string(legacyNames[name] ?? name)]
        func copy(_ from: String, as to: String) {
            if let v = fields[from], v.doubleValue != nil { out[to] = v }
        }
        copy("learningRate", as: "learningRate")
        switch name {
        case "NESTEROVS": copy("momentum", as: "momentum")
        case "RMSPROP": copy("rmsDecay", as: "rmsDecay"); copy("epsilon", as: "epsilon")
        case "ADAM", "ADAMAX", "NADAM", "AMSGRAD":
            copy("adamMeanDecay", as: "beta1"); copy("adamVarDecay", as: "beta2"); copy("epsilon", as: "epsilon")
        case "ADADELTA": copy("rho", as: "rho"); copy("epsilon", as: "epsilon")
        case "ADAGRAD": copy("epsilon", as: "epsilon")
        default: break
        }
        if let schedule = fields["learningRateSchedule"], !schedule.isNull { out["learningRateSchedule"] = schedule }
        return .object(out)
    }
}
