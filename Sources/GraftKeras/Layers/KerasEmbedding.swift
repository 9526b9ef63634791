import GraftCore
import OrderedCollections

/// Keras `Embedding`: weight `embeddings` [input_dim, output_dim] (Keras 1 `<name>_W`),
/// canonical param `embeddings`, unchanged. `mask_zero` is kept on the op.
public enum KerasEmbeddingFamily: KerasLayerFamily {
    public static var classNames: Set<String> { ["Embedding"] }

    public static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        let config = KerasConfig(layer)
        let inputDim = try config.int("input_dim")
        let outputDim = try config.int("output_dim")
        guard inputDim > 0, outputDim > 0 else {
            throw layer.error(.malformed, "embedding sizes must be positive", field: "input_dim / output_dim",
                              found: "\(inputDim), \(outputDim)")
        }
        let embeddings = try layer.weight(0, named: "embeddings", shape: [inputDim, outputDim])
        guard layer.weights.count == 1 else {
            throw layer.error(.shapeMismatch, "unexpected number of weight arrays", expected: "1", found: "\(layer.weights.count)")
        }
        let attributes = EmbeddingAttributes(inputDim: inputDim, outputDim: outputDim,
                                             maskZero: try config.bool("mask_zero", default: false))
        return (.embedding(attributes), ["embeddings": embeddings])
    }
}
