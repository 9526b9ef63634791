import GraftCore
import OrderedCollections

/// Max and average pooling, 1-D to 3-D, to the IR's `pooling` op. Keras 1 fields:
/// `pool_length` / `stride` (1-D), `border_mode`, `dim_ordering`; `strides: null` means the
/// pool size. No parameters.
public enum KerasPoolingFamily: KerasLayerFamily {
    public static var classNames: Set<String> {
        ["MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
         "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D"]
    }

    public static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        guard let rank = spatialRank(layer.className) else {
            throw layer.error(.unknownLayer, "not a pooling class this family reads")
        }
        let kind: PoolingKind = layer.className.hasPrefix("Max") ? .max : .average
        let config = KerasConfig(layer)
        let poolSize = try config.spatialInts(["pool_size", "pool_length"], rank: rank,
                                              default: Array(repeating: 2, count: rank))
        let strides = try config.spatialInts(["strides", "stride"], rank: rank, default: poolSize)
        let padding = try config.convPadding()
        guard padding != .causal, (poolSize + strides).allSatisfy({ $0 >= 1 }) else {
            throw layer.error(.malformed, "pooling needs positive sizes and valid or same padding",
                              found: "pool \(poolSize), strides \(strides), padding \(padding.rawValue)")
        }
        let attributes = PoolingAttributes(kind: kind, rank: rank, poolSize: poolSize, strides: strides,
                                           padding: padding, dataFormat: try config.spatialDataFormat(rank: rank))
        return (.pooling(attributes), [:])
    }
}

/// Global max and average pooling, 1-D to 3-D, to the IR's `globalPooling` op (`keepdims`
/// from tf.keras 2.6 / Keras 3). No parameters.
public enum KerasGlobalPoolingFamily: KerasLayerFamily {
    public static var classNames: Set<String> {
        ["GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
         "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
         "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D"]
    }

    public static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        guard let rank = spatialRank(layer.className) else {
            throw layer.error(.unknownLayer, "not a global pooling class this family reads")
        }
        let kind: PoolingKind = layer.className.hasPrefix("GlobalMax") ? .max : .average
        let config = KerasConfig(layer)
        let attributes = GlobalPoolingAttributes(kind: kind, rank: rank, dataFormat: try config.spatialDataFormat(rank: rank),
                                                 keepDims: try config.bool("keepdims", default: false))
        return (.globalPooling(attributes), [:])
    }
}

/// 1, 2 or 3 from a class name ending in `1D`/`2D`/`3D`.
func spatialRank(_ className: String) -> Int? {
    if className.hasSuffix("1D") { return 1 }
    if className.hasSuffix("2D") { return 2 }
    if className.hasSuffix("3D") { return 3 }
    return nil
}
