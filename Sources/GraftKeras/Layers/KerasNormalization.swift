import GraftCore
import OrderedCollections

/// `BatchNormalization` and `LayerNormalization`.
///
/// BatchNormalization weights in file order: `gamma` (when `scale`), `beta` (when `center`),
/// `moving_mean`, `moving_variance` — Keras 1 always stores four (`gamma`, `beta`,
/// `running_mean`, `running_std`, the last one holding the variance despite its name), and
/// only its `mode` 0 (feature-wise) is the inference computation the IR models. Canonical
/// params: `gamma`, `beta` (when present), `movingMean`, `movingVariance`, each [channels].
///
/// LayerNormalization: `gamma` (when `scale`) then `beta` (when `center`), shaped like the
/// normalised axes; `rms_scaling` (Keras 3) is refused.
public enum KerasNormalizationFamily: KerasLayerFamily {
    public static var classNames: Set<String> { ["BatchNormalization", "LayerNormalization"] }

    public static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        layer.className == "LayerNormalization" ? try layerNorm(layer) : try batchNorm(layer)
    }

    static func axisList(_ layer: KerasLayerContext, default fallback: [Int]) throws -> [Int] {
        guard let v = layer.config["axis"], !v.isNull else { return fallback }
        if let i = v.intValue { return [i] }
        if let a = v.intArray, !a.isEmpty { return a }
        throw layer.error(.malformed, "bad axis", field: "axis", found: v.description)
    }

    static func batchNorm(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        let config = KerasConfig(layer)
        let mode = try config.int("mode", default: 0)
        guard mode == 0 else {
            throw layer.error(.unsupported, "Keras 1 BatchNormalization mode other than 0", field: "mode",
                              expected: "0 (feature-wise)", found: "\(mode)")
        }
        let axes = try axisList(layer, default: [-1])
        guard axes.count == 1 else {
            throw layer.error(.unsupported, "batch normalisation over several axes", field: "axis", found: "\(axes)")
        }
        let keras1 = layer.producer.major == 1 && layer.weights.count == 4
        let center = keras1 ? true : try config.bool("center", default: true)
        let scale = keras1 ? true : try config.bool("scale", default: true)
        let epsilon = try config.double("epsilon", default: 1e-3)
        let expected = 2 + (center ? 1 : 0) + (scale ? 1 : 0)
        guard layer.weights.count == expected else {
            throw layer.error(.missingWeights, "unexpected number of weight arrays",
                              expected: "\(expected) (scale \(scale), center \(center))", found: "\(layer.weights.count)")
        }
        let channels = layer.weights[0].tensor.shape
        guard channels.count == 1 else {
            throw layer.error(.shapeMismatch, "batch normalisation weights must be vectors", found: "\(channels)")
        }
        var parameters: OrderedDictionary<String, Tensor> = [:]
        var index = 0
        if scale { parameters["gamma"] = try layer.weight(index, named: "gamma", shape: channels); index += 1 }
        if center { parameters["beta"] = try layer.weight(index, named: "beta", shape: channels); index += 1 }
        parameters["movingMean"] = try layer.weight(index, named: "moving_mean", shape: channels)
        parameters["movingVariance"] = try layer.weight(index + 1, named: "moving_variance", shape: channels)
        return (.batchNorm(BatchNormAttributes(axis: axes[0], epsilon: epsilon, center: center, scale: scale)), parameters)
    }

    static func layerNorm(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        let config = KerasConfig(layer)
        if try config.bool("rms_scaling", default: false) {
            throw layer.error(.unsupported, "RMS layer normalisation", field: "rms_scaling", expected: "false", found: "true")
        }
        let axes = try axisList(layer, default: [-1])
        let center = try config.bool("center", default: true)
        let scale = try config.bool("scale", default: true)
        let expected = (center ? 1 : 0) + (scale ? 1 : 0)
        guard layer.weights.count == expected else {
            throw layer.error(.missingWeights, "unexpected number of weight arrays",
                              expected: "\(expected) (scale \(scale), center \(center))", found: "\(layer.weights.count)")
        }
        var parameters: OrderedDictionary<String, Tensor> = [:]
        var index = 0
        if scale { parameters["gamma"] = try layer.weight(index, named: "gamma"); index += 1 }
        if center {
            parameters["beta"] = try layer.weight(index, named: "beta", shape: scale ? parameters["gamma"]?.shape : nil)
        }
        let attributes = LayerNormAttributes(axes: axes, epsilon: try config.double("epsilon", default: 1e-3),
                                             center: center, scale: scale)
        return (.layerNorm(attributes), parameters)
    }
}
