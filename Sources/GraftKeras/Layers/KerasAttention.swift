import GraftCore
import OrderedCollections

/// Keras' dot-product `Attention` layer (tf.keras 2.x, Keras 3) to the IR's `attention` op.
/// Inputs in call order: query, value, optional key. Config: `use_scale`, `score_mode`
/// (`dot` default, `concat`), `causal` (tf.keras ≤ 2.9; later a call argument, not stored),
/// `dropout` (inference: none). Weights: `scale` [] when `use_scale`, then
/// `concat_score_weight` [] for `concat`; params `scale` and `concatScoreWeight`.
public enum KerasAttentionFamily: KerasLayerFamily {
    public static var classNames: Set<String> { ["Attention"] }

    public static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        let config = KerasConfig(layer)
        let useScale = try config.bool("use_scale", default: false)
        let modeName = try config.string("score_mode", default: "dot")
        guard let mode = AttentionAttributes.ScoreMode(rawValue: modeName) else {
            throw layer.error(.unsupported, "unknown score mode", field: "score_mode", expected: "dot or concat", found: modeName)
        }
        let attributes = AttentionAttributes(useScale: useScale, scoreMode: mode,
                                             causal: try config.bool("causal", "use_causal_mask", default: false),
                                             dropout: try config.double("dropout", default: 0))
        var expected: [(file: String, param: String)] = []
        if useScale { expected.append(("scale", "scale")) }
        if mode == .concat { expected.append(("concat_score_weight", "concatScoreWeight")) }
        guard layer.weights.count == expected.count else {
            throw layer.error(.missingWeights, "unexpected number of weight arrays",
                              expected: expected.map(\.file).joined(separator: ", ").isEmpty ? "none" : expected.map(\.file).joined(separator: ", "),
                              found: "\(layer.weights.count): \(layer.weights.map(\.name).joined(separator: ", "))")
        }
        var parameters: OrderedDictionary<String, Tensor> = [:]
        for (index, role) in expected.enumerated() {
            let tensor = layer.weights.first { $0.shortName == role.file }?.tensor ?? layer.weights[index].tensor
            guard tensor.count == 1 else {
                throw layer.error(.shapeMismatch, "weight must be a scalar", field: role.file, expected: "[]", found: "\(tensor.shape)")
            }
            parameters[role.param] = tensor
        }
        return (.attention(attributes), parameters)
    }
}
