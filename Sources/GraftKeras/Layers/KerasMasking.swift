import GraftCore
import OrderedCollections

/// Keras `Masking`: time steps whose features all equal `mask_value` (default 0) are masked.
public enum KerasMaskingFamily: KerasLayerFamily {
    public static var classNames: Set<String> { ["Masking"] }

    public static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        (.masking(maskValue: try KerasConfig(layer).double("mask_value", default: 0)), [:])
    }
}
