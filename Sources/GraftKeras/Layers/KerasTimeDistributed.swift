import GraftCore
import OrderedCollections

/// Keras `TimeDistributed(layer)`: the wrapped layer (config under `layer`) is mapped through
/// the registry with the wrapper's weights; its params are kept unprefixed.
public enum KerasTimeDistributedFamily: KerasLayerFamily {
    public static var classNames: Set<String> { ["TimeDistributed"] }

    public static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        guard let inner = layer.config["layer"], let innerClass = inner["class_name"]?.stringValue,
              let innerConfig = inner["config"] else {
            throw layer.error(.malformed, "missing wrapped layer", field: "layer", expected: "{class_name, config}")
        }
        guard let family = KerasLayerRegistry.family(for: innerClass) else {
            throw layer.error(.unknownLayer, "TimeDistributed wraps a layer class Graft cannot read", field: "layer",
                              found: innerClass)
        }
        let context = KerasLayerContext(name: "\(layer.name)/\(innerConfig["name"]?.stringValue ?? innerClass)",
                                        className: innerClass, config: innerConfig, producer: layer.producer,
                                        weights: layer.weights, inputShapes: layer.inputShapes, file: layer.file)
        let mapped = try family.map(context)
        if mapped.op.isOpaque {
            throw layer.error(.unsupported, "TimeDistributed around a layer Graft can only carry", field: "layer",
                              found: innerClass)
        }
        return (.timeDistributed(layer: mapped.op), mapped.parameters)
    }
}
