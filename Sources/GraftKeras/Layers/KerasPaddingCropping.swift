import GraftCore
import OrderedCollections

/// ZeroPadding1D/2D/3D and Cropping1D/2D/3D to the IR's `zeroPadding` / `cropping` ops.
/// Amounts may be an int, one int per axis (symmetric), a (before, after) pair per axis, or
/// Keras 1's 4-tuple / `{top_pad, bottom_pad, left_pad, right_pad}` forms. No parameters.
public enum KerasPaddingCroppingFamily: KerasLayerFamily {
    public static var classNames: Set<String> {
        ["ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D"]
    }

    public static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        guard let rank = spatialRank(layer.className) else {
            throw layer.error(.unknownLayer, "not a padding or cropping class this family reads")
        }
        let config = KerasConfig(layer)
        let isPadding = layer.className.hasPrefix("ZeroPadding")
        let amounts = try config.padAmounts(isPadding ? "padding" : "cropping", rank: rank, default: isPadding ? 1 : 0)
        guard amounts.allSatisfy({ $0.before >= 0 && $0.after >= 0 }) else {
            throw layer.error(.malformed, "negative padding or cropping", field: isPadding ? "padding" : "cropping",
                              found: "\(amounts.map { [$0.before, $0.after] })")
        }
        let attributes = SpatialPadAttributes(rank: rank, amounts: amounts, dataFormat: try config.spatialDataFormat(rank: rank))
        return (isPadding ? .zeroPadding(attributes) : .cropping(attributes), [:])
    }
}

/// UpSampling1D/2D/3D to the IR's `upSampling` op (`size`, Keras 1 `length` for 1-D;
/// `interpolation` nearest or bilinear). No parameters.
public enum KerasUpSamplingFamily: KerasLayerFamily {
    public static var classNames: Set<String> { ["UpSampling1D", "UpSampling2D", "UpSampling3D"] }

    public static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        guard let rank = spatialRank(layer.className) else {
            throw layer.error(.unknownLayer, "not an upsampling class this family reads")
        }
        let config = KerasConfig(layer)
        let size = try config.spatialInts(["size", "length"], rank: rank, default: Array(repeating: 2, count: rank))
        guard size.allSatisfy({ $0 >= 1 }) else {
            throw layer.error(.malformed, "upsampling factors must be positive", field: "size", found: "\(size)")
        }
        let interpolation = try config.string("interpolation", default: "nearest")
        guard interpolation == "nearest" || interpolation == "bilinear" else {
            throw layer.error(.unsupported, "unsupported interpolation", field: "interpolation",
                              expected: "nearest or bilinear", found: interpolation)
        }
        let attributes = UpSamplingAttributes(rank: rank, size: size, dataFormat: try config.spatialDataFormat(rank: rank),
                                              interpolation: interpolation)
        return (.upSampling(attributes), [:])
    }
}
