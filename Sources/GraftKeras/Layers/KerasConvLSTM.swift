import GraftCore
import OrderedCollections

/// Keras `ConvLSTM1D` / `ConvLSTM2D` / `ConvLSTM3D` (Keras 2, tf.keras, Keras 3) to the IR's
/// `convLSTM` op. Weights in file order `kernel` [k…, in, 4f], `recurrent_kernel` [k…, f, 4f],
/// `bias` [4f] — already the canonical layout (channels-last kernels whatever the data
/// format), gate blocks **[i | f | c | o]**. The recurrent convolution is always stride 1,
/// same padding, no dilation, as Keras' cell computes it.
public enum KerasConvLSTMFamily: KerasLayerFamily {
    public static var classNames: Set<String> { ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"] }

    public static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        let rank = layer.className.hasSuffix("1D") ? 1 : layer.className.hasSuffix("3D") ? 3 : 2
        let config = KerasConfig(layer)
        let filters = try config.int("filters", "nb_filter")
        guard filters > 0 else { throw layer.error(.malformed, "filters must be positive", field: "filters", found: "\(filters)") }
        let kernelSize = try config.spatialInts(["kernel_size"], perAxis: rank == 2 ? ["nb_row", "nb_col"] : [], rank: rank)
        let strides = try config.spatialInts(["strides", "subsample"], rank: rank, default: Array(repeating: 1, count: rank))
        let dilation = try config.spatialInts(["dilation_rate"], rank: rank, default: Array(repeating: 1, count: rank))
        guard (kernelSize + strides + dilation).allSatisfy({ $0 >= 1 }) else {
            throw layer.error(.malformed, "kernel sizes, strides and dilations must be positive",
                              found: "kernel \(kernelSize), strides \(strides), dilation \(dilation)")
        }
        let padding = try config.convPadding()
        guard padding != .causal else {
            throw layer.error(.unsupported, "causal padding for a ConvLSTM", field: "padding", expected: "valid or same", found: "causal")
        }
        let dataFormat = try config.dataFormat()
        let gateDefault: ActivationFunction = layer.producer.major >= 3 ? .sigmoid : .keras2HardSigmoid
        let recurrent = RecurrentAttributes(
            units: filters, activation: try config.activation("activation", default: .tanh),
            recurrentActivation: try config.activation("recurrent_activation", "inner_activation", default: gateDefault),
            useBias: try config.bool("use_bias", default: true),
            returnSequences: try config.bool("return_sequences", default: false),
            returnState: try config.bool("return_state", default: false),
            goBackwards: try config.bool("go_backwards", default: false),
            stateful: try config.bool("stateful", default: false))
        let expectedCount = recurrent.useBias ? 3 : 2
        guard layer.weights.count == expectedCount else {
            throw layer.error(.missingWeights, "unexpected number of weight arrays",
                              expected: "\(expectedCount) (kernel, recurrent kernel\(recurrent.useBias ? ", bias" : ""))",
                              found: "\(layer.weights.count): \(layer.weights.map(\.name).joined(separator: ", "))")
        }
        let kernel = try layer.weight(0, named: "kernel")
        guard kernel.rank == rank + 2, Array(kernel.shape[..<rank]) == kernelSize, kernel.shape[rank + 1] == 4 * filters else {
            throw layer.error(.shapeMismatch, "kernel has the wrong shape", field: "kernel",
                              expected: "\(kernelSize) + [in, \(4 * filters)]", found: "\(kernel.shape)")
        }
        var parameters: OrderedDictionary<String, Tensor> = [
            "kernel": kernel,
            "recurrentKernel": try layer.weight(1, named: "recurrent_kernel", shape: kernelSize + [filters, 4 * filters]),
        ]
        if recurrent.useBias { parameters["bias"] = try layer.weight(2, named: "bias", shape: [4 * filters]) }
        let attributes = ConvLSTMAttributes(recurrent, rank: rank, kernelSize: kernelSize, strides: strides,
                                            padding: padding, dilation: dilation, dataFormat: dataFormat)
        return (.convLSTM(attributes), parameters)
    }
}
