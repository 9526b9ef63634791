import GraftCore
import OrderedCollections

/// Layers that are the identity at inference: `Dropout`, `SpatialDropout1D/2D/3D`,
/// `GaussianNoise` (rate = stddev), `GaussianDropout`, `AlphaDropout`, `ActivityRegularization`
/// (rate 0). All become `dropout(kind: <class name>, rate:)`; no weights.
public enum KerasDropoutFamily: KerasLayerFamily {
    public static var classNames: Set<String> {
        ["Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout",
         "AlphaDropout", "ActivityRegularization"]
    }

    public static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        let config = KerasConfig(layer)
        let rate: Double
        switch layer.className {
        case "GaussianNoise": rate = try config.double("stddev", "sigma", default: 0)
        case "ActivityRegularization": rate = 0
        default: rate = try config.double("rate", "p", default: 0)
        }
        guard layer.weights.isEmpty else {
            throw layer.error(.shapeMismatch, "unexpected weights", expected: "none", found: "\(layer.weights.count)")
        }
        return (.dropout(kind: layer.className, rate: rate), [:])
    }
}
