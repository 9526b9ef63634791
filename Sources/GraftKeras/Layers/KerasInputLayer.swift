import GraftCore
import OrderedCollections

/// Keras `InputLayer` → the IR `input` op.
///
/// Shape: `batch_shape` (Keras 3), `batch_input_shape` (Keras 1/2, first entry is the batch)
/// or `input_shape` (without batch). Layout: rank 2 → `[time, features]` sequences, rank 3/4
/// → images (channels-last unless the reader learns otherwise from a consumer), else flat.
public enum KerasInputLayerFamily: KerasLayerFamily {
    public static var classNames: Set<String> { ["InputLayer"] }

    public static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        let shape = try inputShape(layer)
        let dtype = try dtype(layer)
        return (.input(InputAttributes(shape: shape, dtype: dtype, layout: defaultLayout(rank: shape.count))), [:])
    }

    /// The layout an input of this rank (without batch) gets by default.
    public static func defaultLayout(rank: Int) -> DataLayout {
        switch rank {
        case 2: return .sequenceTimeMajorFeatures
        case 3, 4: return .channelsLast
        default: return .flat
        }
    }

    /// The input shape without the batch dimension, from any Keras generation's fields.
    static func inputShape(_ layer: KerasLayerContext) throws -> [Int?] {
        func dims(_ value: JSONValue, field: String) throws -> [Int?] {
            guard let array = value.arrayValue else {
                throw layer.error(.malformed, "shape is not a list", field: field, found: value.description)
            }
            return try array.map { d in
                if d.isNull { return nil }
                guard let i = d.intValue, i >= 0 else {
                    throw layer.error(.malformed, "bad dimension", field: field, found: d.description)
                }
                return i
            }
        }
        for field in ["batch_shape", "batch_input_shape"] {
            if let v = layer.config[field], !v.isNull {
                let all = try dims(v, field: field)
                guard !all.isEmpty else { throw layer.error(.malformed, "shape without a batch axis", field: field) }
                return Array(all.dropFirst())
            }
        }
        if let v = layer.config["input_shape"], !v.isNull { return try dims(v, field: "input_shape") }
        if let v = layer.config["shape"], !v.isNull { return try dims(v, field: "shape") }
        throw layer.error(.malformed, "input layer without a shape", field: "batch_input_shape")
    }

    /// The dtype from `dtype` / `input_dtype` (a string, or a Keras 3 DTypePolicy object).
    static func dtype(_ layer: KerasLayerContext) throws -> DType {
        guard let v = layer.config["dtype"] ?? layer.config["input_dtype"], !v.isNull else { return .float32 }
        let name = v.stringValue ?? v["config"]?["name"]?.stringValue ?? "float32"
        switch name {
        case "float32", "mixed_float16", "mixed_bfloat16": return .float32
        case "float64": return .float64
        case "float16": return .float16
        case "int32": return .int32
        case "int64": return .int64
        case "int16": return .int16
        case "int8": return .int8
        case "uint8": return .uint8
        case "bool": return .bool
        default:
            throw layer.error(.unsupported, "unsupported input dtype", field: "dtype", found: name)
        }
    }
}
