import GraftCore
import OrderedCollections

/// `Activation` and the advanced activation layers `ReLU`, `LeakyReLU`, `PReLU`, `ELU`,
/// `ThresholdedReLU`, `Softmax`. Only PReLU has a weight: `alpha`, shaped like the input
/// without batch (1 on shared axes), kept as stored.
public enum KerasActivationFamily: KerasLayerFamily {
    public static var classNames: Set<String> { ["Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU", "Softmax"] }

    public static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        let config = KerasConfig(layer)
        switch layer.className {
        case "Activation":
            return (.activation(try config.activation("activation")), [:])
        case "ReLU":
            let maxValue: Double? = config.value(["max_value"]) == nil ? nil : try config.double("max_value")
            return (.activation(.relu(maxValue: maxValue,
                                      negativeSlope: try config.double("negative_slope", default: 0),
                                      threshold: try config.double("threshold", default: 0))), [:])
        case "LeakyReLU":
            // Keras 1/2 call it `alpha`, Keras 3 `negative_slope`; the default is 0.3 in all.
            return (.activation(.leakyRelu(alpha: try config.double("alpha", "negative_slope", default: 0.3))), [:])
        case "ELU":
            return (.activation(.elu(alpha: try config.double("alpha", default: 1))), [:])
        case "ThresholdedReLU":
            return (.activation(.thresholdedRelu(theta: try config.double("theta", default: 1))), [:])
        case "Softmax":
            var axis = -1
            if let v = config.value(["axis"]) {
                if let i = v.intValue { axis = i } else if let a = v.intArray, a.count == 1 { axis = a[0] } else {
                    throw layer.error(.unsupported, "softmax over several axes", field: "axis", found: v.description)
                }
            }
            return (.activation(.softmax(axis: axis)), [:])
        case "PReLU":
            let alpha = try layer.weight(0, named: "alpha")
            var shared: [Int] = []
            if let v = config.value(["shared_axes"]) {
                if let i = v.intValue { shared = [i] } else if let a = v.intArray { shared = a } else {
                    throw layer.error(.malformed, "bad shared_axes", field: "shared_axes", found: v.description)
                }
            }
            return (.prelu(sharedAxes: shared), ["alpha": alpha])
        default:
            throw layer.error(.unknownLayer, "not an activation layer class this family reads")
        }
    }
}
