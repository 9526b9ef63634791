import GraftCore
import OrderedCollections

/// Keras `Dense` (all generations) and Keras 1 `TimeDistributedDense` (→ `timeDistributed(dense)`).
///
/// Weights in file order: kernel [in, units] (Keras 1 `<name>_W`), then bias [units] when
/// `use_bias` (Keras 1 `bias`). Canonical params: `kernel` [in, units], `bias` [units], unchanged.
public enum KerasDenseFamily: KerasLayerFamily {
    public static var classNames: Set<String> { ["Dense", "TimeDistributedDense"] }

    public static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        let config = KerasConfig(layer)
        let units = try config.int("units", "output_dim")
        guard units > 0 else { throw layer.error(.malformed, "units must be positive", field: "units", found: "\(units)") }
        let useBias = try config.bool("use_bias", "bias", default: true)
        let activation = try config.activation("activation")
        let kernel = try layer.weight(0, named: "kernel")
        guard kernel.rank == 2, kernel.shape[1] == units else {
            throw layer.error(.shapeMismatch, "kernel has the wrong shape", field: "kernel",
                              expected: "[in, \(units)]", found: "\(kernel.shape)")
        }
        var parameters: OrderedDictionary<String, Tensor> = ["kernel": kernel]
        if useBias { parameters["bias"] = try layer.weight(1, named: "bias", shape: [units]) }
        guard layer.weights.count == (useBias ? 2 : 1) else {
            throw layer.error(.shapeMismatch, "unexpected number of weight arrays",
                              expected: "\(useBias ? 2 : 1)", found: "\(layer.weights.count)")
        }
        let dense = Op.dense(DenseAttributes(units: units, activation: activation, useBias: useBias))
        return (layer.className == "TimeDistributedDense" ? .timeDistributed(layer: dense) : dense, parameters)
    }
}
