import GraftCore
import OrderedCollections

/// Merge layers: `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`,
/// `Concatenate` (`axis`, default -1), `Dot` (`axes`, `normalize`), and Keras 1 `Merge`
/// whose `mode` names the operation (`sum`, `mul`, `ave`, `max`, `concat` with
/// `concat_axis`, `dot` / `cos` with `dot_axes`). A Keras 1 `Merge` with a Python function
/// as its mode is carried as an opaque op. No weights.
public enum KerasMergeFamily: KerasLayerFamily {
    public static var classNames: Set<String> {
        ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot", "Merge"]
    }

    public static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        let config = KerasConfig(layer)
        let kind: MergeAttributes.Kind
        switch layer.className {
        case "Add": kind = .add
        case "Subtract": kind = .subtract
        case "Multiply": kind = .multiply
        case "Average": kind = .average
        case "Maximum": kind = .maximum
        case "Minimum": kind = .minimum
        case "Concatenate": kind = .concatenate(axis: try config.int("axis", default: -1))
        case "Dot": kind = .dot(axes: try axes(layer, "axes"), normalize: try config.bool("normalize", default: false))
        case "Merge":
            if let modeType = layer.config["mode_type"]?.stringValue, modeType != "raw" {
                return (.opaque(OpaqueAttributes(format: "keras", className: layer.className, config: layer.config)), [:])
            }
            let mode = try config.string("mode", default: "sum")
            switch mode {
            case "sum": kind = .add
            case "mul": kind = .multiply
            case "ave": kind = .average
            case "max": kind = .maximum
            case "concat": kind = .concatenate(axis: try config.int("concat_axis", default: -1))
            case "dot": kind = .dot(axes: try axes(layer, "dot_axes"), normalize: false)
            case "cos": kind = .dot(axes: try axes(layer, "dot_axes"), normalize: true)
            default:
                throw layer.error(.unsupported, "unknown merge mode", field: "mode",
                                  expected: "sum, mul, ave, max, concat, dot or cos", found: mode)
            }
        default:
            throw layer.error(.unknownLayer, "not a merge layer class this family reads")
        }
        guard layer.weights.isEmpty else {
            throw layer.error(.shapeMismatch, "unexpected weights", expected: "none", found: "\(layer.weights.count)")
        }
        return (.merge(MergeAttributes(kind)), [:])
    }

    /// `axes` as given: one int (same axis on both inputs) or a pair.
    static func axes(_ layer: KerasLayerContext, _ field: String) throws -> [Int] {
        guard let v = layer.config[field], !v.isNull else { return [-1, -1] }
        if let i = v.intValue { return [i, i] }
        if let a = v.intArray, a.count == 2 { return a }
        throw layer.error(.malformed, "bad dot axes", field: field, expected: "an int or two ints", found: v.description)
    }
}
