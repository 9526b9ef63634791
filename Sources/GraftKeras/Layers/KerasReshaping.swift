import GraftCore
import OrderedCollections

/// Shape-only layers: `Flatten`, `Reshape` (`target_shape`), `Permute` (`dims`, 1-based),
/// `RepeatVector` (`n`). No weights.
public enum KerasReshapingFamily: KerasLayerFamily {
    public static var classNames: Set<String> { ["Flatten", "Reshape", "Permute", "RepeatVector"] }

    public static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        let config = KerasConfig(layer)
        guard layer.weights.isEmpty else {
            throw layer.error(.shapeMismatch, "unexpected weights", expected: "none", found: "\(layer.weights.count)")
        }
        switch layer.className {
        case "Flatten":
            if let f = layer.config["data_format"]?.stringValue, f == "channels_first" {
                // Keras moves channels last before flattening; the IR flattens as laid out.
                throw layer.error(.unsupported, "Flatten with data_format channels_first", field: "data_format",
                                  expected: "channels_last", found: f)
            }
            return (.flatten, [:])
        case "Reshape":
            guard let shape = config.value(["target_shape", "dims"])?.intArray else {
                throw layer.error(.malformed, "missing target shape", field: "target_shape")
            }
            return (.reshape(targetShape: shape), [:])
        case "Permute":
            guard let dims = config.value(["dims"])?.intArray, Set(dims) == Set(1...max(dims.count, 1)) else {
                throw layer.error(.malformed, "dims is not a permutation of 1...n", field: "dims",
                                  found: layer.config["dims"]?.description)
            }
            return (.permute(dims: dims), [:])
        case "RepeatVector":
            let n = try config.int("n")
            guard n >= 0 else { throw layer.error(.malformed, "negative repeat count", field: "n", found: "\(n)") }
            return (.repeatVector(n: n), [:])
        default:
            throw layer.error(.unknownLayer, "not a reshaping layer class this family reads")
        }
    }
}
