import GraftCore
import OrderedCollections

/// Keras `LocallyConnected1D` / `LocallyConnected2D` (implementation 1, the default and the
/// only layout Keras 1 and 2.0–2.2 write) to the IR's `locallyConnected` op.
///
/// Stored: `kernel` [outPositions, taps·in, filters], each row the flattened input patch of
/// one output position — in (k…, channel) order for channels-last data, (channel, k…) for
/// channels-first; `bias` [outSpatial…, filters] (Keras 2+ channels-first: [filters, outSpatial…]).
/// Canonical (see `LocallyConnectedAttributes`): patch order (k…, channel), bias
/// [outSpatial…, filters]; channels-first layers are converted. Valid padding only.
public enum KerasLocallyConnectedFamily: KerasLayerFamily {
    public static var classNames: Set<String> { ["LocallyConnected1D", "LocallyConnected2D"] }

    public static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        let rank = layer.className.hasSuffix("1D") ? 1 : 2
        let config = KerasConfig(layer)
        let implementation = try config.int("implementation", default: 1)
        guard implementation == 1 else {
            throw layer.error(.unsupported, "only the implementation-1 weight layout is supported", field: "implementation",
                              expected: "1", found: "\(implementation)")
        }
        let dataFormat = try config.spatialDataFormat(rank: rank)
        let kernelSize = try config.spatialInts(["kernel_size", "filter_length"], perAxis: rank == 2 ? ["nb_row", "nb_col"] : [],
                                                rank: rank)
        let strides = try config.spatialInts(["strides", "subsample", "subsample_length"], rank: rank,
                                             default: Array(repeating: 1, count: rank))
        guard try config.convPadding() == .valid else {
            throw layer.error(.unsupported, "locally connected layers support valid padding only", field: "padding",
                              expected: "valid", found: config.value(["padding", "border_mode"])?.description)
        }
        guard (kernelSize + strides).allSatisfy({ $0 >= 1 }) else {
            throw layer.error(.malformed, "kernel sizes and strides must be positive",
                              found: "kernel \(kernelSize), strides \(strides)")
        }
        let useBias = try config.bool("use_bias", "bias", default: true)
        let activation = try config.activation("activation")
        var kernel = try layer.weight(0, named: "kernel")
        guard kernel.rank == 3 else {
            throw layer.error(.shapeMismatch, "kernel has the wrong rank", field: "kernel",
                              expected: "[outPositions, taps·in, filters]", found: "\(kernel.shape)")
        }
        let (positions, rowLength, filters) = (kernel.shape[0], kernel.shape[1], kernel.shape[2])
        let taps = kernelSize.reduce(1, *)
        guard try config.int("filters", "nb_filter", default: filters) == filters, rowLength % taps == 0 else {
            throw layer.error(.shapeMismatch, "kernel does not match filters and kernel_size", field: "kernel",
                              expected: "[outPositions, \(taps)·in, filters]", found: "\(kernel.shape)")
        }
        let channels = rowLength / taps
        if dataFormat == .channelsFirst {
            kernel = try kernel.reshaped([positions, channels, taps, filters]).transposed([0, 2, 1, 3])
                .reshaped([positions, rowLength, filters])
        }
        var parameters: OrderedDictionary<String, Tensor> = ["kernel": kernel]
        if useBias {
            var bias = try layer.weight(1, named: "bias")
            guard bias.count == positions * filters, bias.rank == rank + 1 else {
                throw layer.error(.shapeMismatch, "bias has the wrong shape", field: "bias",
                                  expected: "\(positions * filters) values in \(rank + 1) axes", found: "\(bias.shape)")
            }
            // Keras 2+ stores a channels-first bias [filters, outSpatial…]; Keras 1 always [outSpatial…, filters].
            if dataFormat == .channelsFirst, layer.producer.major >= 2 {
                bias = try bias.transposed(Array(1...rank) + [0])
            }
            guard bias.shape[rank] == filters, bias.shape.reduce(1, *) / filters == positions else {
                throw layer.error(.shapeMismatch, "bias has the wrong shape", field: "bias",
                                  expected: "[outSpatial…, \(filters)]", found: "\(bias.shape)")
            }
            parameters["bias"] = bias
        }
        guard layer.weights.count == (useBias ? 2 : 1) else {
            throw layer.error(.malformed, "unexpected number of weight arrays", expected: "\(useBias ? 2 : 1)",
                              found: "\(layer.weights.count)")
        }
        let attributes = LocallyConnectedAttributes(rank: rank, filters: filters, kernelSize: kernelSize, strides: strides,
                                                    dataFormat: dataFormat, activation: activation, useBias: useBias)
        return (.locallyConnected(attributes), parameters)
    }
}
