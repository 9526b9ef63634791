import GraftCore
import OrderedCollections

/// Convolutions of every Keras generation to the IR's `conv` op: standard, depthwise,
/// separable and transposed, 1-D to 3-D, including the Keras 1 classes (`Convolution2D`,
/// `AtrousConvolution2D`, `SeparableConvolution2D`, `Deconvolution2D`, …).
///
/// Canonical kernels are the Keras 2 layouts, channels-last whatever the data format:
/// standard `kernel` [k…, in/groups, filters]; depthwise `depthwiseKernel` [k…, in, multiplier];
/// separable adds `pointwiseKernel` [1…, in·multiplier, filters]; transposed `kernel`
/// [k…, filters, in]; `bias` [filters].
///
/// Conversions:
/// - Keras 1 with `dim_ordering: th` stores kernels output-channel first
///   ([filters, in, k…]; transposed conv [filters, in, k…] → [k…, filters, in]); they are
///   transposed. Keras 1 `Convolution1D` stores [k, 1, in, filters] (Keras 1.1: [filters, in, k, 1]).
/// - Theano computes a true convolution, so a kernel trained under Theano is the
///   cross-correlation kernel rotated 180°: its spatial axes are reversed. This applies when
///   the file says `backend: theano`, and to Keras 1 files (which do not record the backend)
///   whose layer uses Theano's `th` dim ordering.
public enum KerasConvolutionFamily: KerasLayerFamily {
    public static var classNames: Set<String> {
        ["Conv1D", "Conv2D", "Conv3D", "SeparableConv1D", "SeparableConv2D", "DepthwiseConv1D", "DepthwiseConv2D",
         "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
         "Convolution1D", "Convolution2D", "Convolution3D", "AtrousConvolution1D", "AtrousConvolution2D",
         "SeparableConvolution1D", "SeparableConvolution2D", "Deconvolution2D", "Deconvolution3D"]
    }

    enum Shape { case standard, depthwise, separable, transposed }

    /// Spatial rank and kind of a class name.
    static func describe(_ className: String) -> (rank: Int, shape: Shape)? {
        let rank: Int
        if className.contains("1D") { rank = 1 } else if className.contains("2D") { rank = 2 }
        else if className.contains("3D") { rank = 3 } else { return nil }
        if className.hasPrefix("Separable") { return (rank, .separable) }
        if className.hasPrefix("Depthwise") { return (rank, .depthwise) }
        if className.hasSuffix("Transpose") || className.hasPrefix("Deconvolution") { return (rank, .transposed) }
        return (rank, .standard)
    }

    public static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>) {
        guard let (rank, shape) = describe(layer.className) else {
            throw layer.error(.unknownLayer, "not a convolution class this family reads")
        }
        let config = KerasConfig(layer)
        let isKeras1 = layer.producer.major == 1
        let dataFormat = try config.spatialDataFormat(rank: rank)
        let ordering = config.value(["dim_ordering"])?.stringValue
        // Keras 1 `th` layers store kernels output-channel first; `default` follows the backend.
        let theanoOrdered = isKeras1 && rank > 1 && dataFormat == .channelsFirst && ordering != "tf"
        let flip = layer.producer.isTheano || (isKeras1 && layer.producer.backend == nil && theanoOrdered)

        let perAxisKernel: [String] = rank == 1 ? ["filter_length"] : rank == 2 ? ["nb_row", "nb_col"]
            : ["kernel_dim1", "kernel_dim2", "kernel_dim3"]
        let kernelSize = try config.spatialInts(["kernel_size"], perAxis: perAxisKernel, rank: rank)
        let strides = try config.spatialInts(["strides", "subsample", "subsample_length"], rank: rank,
                                             default: Array(repeating: 1, count: rank))
        let dilation = try config.spatialInts(["dilation_rate", "atrous_rate"], rank: rank,
                                              default: Array(repeating: 1, count: rank))
        let padding = try config.convPadding()
        let groups = try config.int("groups", default: 1)
        let activation = try config.activation("activation")
        let useBias = try config.bool("use_bias", "bias", default: true)
        guard groups >= 1, (kernelSize + strides + dilation).allSatisfy({ $0 >= 1 }) else {
            throw layer.error(.malformed, "kernel sizes, strides, dilations and groups must be positive",
                              found: "kernel \(kernelSize), strides \(strides), dilation \(dilation), groups \(groups)")
        }

        let spatialAxes = Array(0..<rank)
        var parameters: OrderedDictionary<String, Tensor> = [:]
        var index = 0
        func next(_ role: String) throws -> Tensor {
            defer { index += 1 }
            return try layer.weight(index, named: role)
        }
        // Keras 1 `th` layout [filters, in, k…] → [k…, in, filters].
        let thToCanonical: [Int]? = theanoOrdered ? Array(2..<(rank + 2)) + [1, 0] : nil
        /// A kernel brought from its stored layout to [k…, a, b] by `order` (when given),
        /// then rotated back for Theano.
        func canonical(_ stored: Tensor, role: String, order: [Int]?) throws -> Tensor {
            var t = stored
            if isKeras1, rank == 1, layer.className.hasSuffix("Convolution1D") {
                t = try keras1Conv1DKernel(t, layer: layer, kernelSize: kernelSize[0])
            } else if let order {
                guard t.rank == order.count else {
                    throw layer.error(.shapeMismatch, "kernel has the wrong rank", field: role,
                                      expected: "rank \(order.count)", found: "\(stored.shape)")
                }
                t = try t.transposed(order)
            }
            let isPointwise = role == "pointwiseKernel"
            guard t.rank == rank + 2, isPointwise || Array(t.shape[..<rank]) == kernelSize else {
                throw layer.error(.shapeMismatch, "kernel has the wrong shape", field: role,
                                  expected: "\(kernelSize) + [in, out]", found: "\(stored.shape)")
            }
            return flip && !isPointwise ? KerasWeightLayout.reversed(t, axes: spatialAxes) : t
        }

        let kind: ConvAttributes.Kind
        let filters: Int
        switch shape {
        case .standard:
            let kernel = try canonical(try next("kernel"), role: "kernel", order: thToCanonical)
            filters = try config.int("filters", "nb_filter", default: kernel.shape[rank + 1])
            guard kernel.shape[rank + 1] == filters else {
                throw layer.error(.shapeMismatch, "kernel does not have `filters` outputs", field: "kernel",
                                  expected: "\(filters) outputs", found: "\(kernel.shape)")
            }
            parameters["kernel"] = kernel
            kind = .standard
        case .depthwise:
            let kernel = try canonical(try next("depthwise_kernel"), role: "depthwiseKernel", order: thToCanonical)
            let multiplier = try config.int("depth_multiplier", default: kernel.shape[rank + 1])
            guard kernel.shape[rank + 1] == multiplier else {
                throw layer.error(.shapeMismatch, "depthwise kernel does not match depth_multiplier",
                                  field: "depthwise_kernel", expected: "last axis \(multiplier)", found: "\(kernel.shape)")
            }
            filters = kernel.shape[rank] * multiplier
            parameters["depthwiseKernel"] = kernel
            kind = .depthwise(multiplier: multiplier)
        case .separable:
            let depthwise = try canonical(try next("depthwise_kernel"), role: "depthwiseKernel", order: thToCanonical)
            let pointwise = try canonical(try next("pointwise_kernel"), role: "pointwiseKernel", order: thToCanonical)
            let multiplier = try config.int("depth_multiplier", default: depthwise.shape[rank + 1])
            filters = try config.int("filters", "nb_filter", default: pointwise.shape[rank + 1])
            let mid = depthwise.shape[rank] * multiplier
            guard depthwise.shape[rank + 1] == multiplier,
                  pointwise.shape == Array(repeating: 1, count: rank) + [mid, filters] else {
                throw layer.error(.shapeMismatch, "separable kernels do not fit together", field: "pointwise_kernel",
                                  expected: "\(Array(repeating: 1, count: rank) + [mid, filters])",
                                  found: "depthwise \(depthwise.shape), pointwise \(pointwise.shape)")
            }
            parameters["depthwiseKernel"] = depthwise
            parameters["pointwiseKernel"] = pointwise
            kind = .separable(multiplier: multiplier)
        case .transposed:
            // Keras 1 Deconvolution: th [filters, in, k…] and tf [k…, in, filters] → [k…, filters, in].
            let deconvOrder = theanoOrdered ? Array(2..<(rank + 2)) + [0, 1] : spatialAxes + [rank + 1, rank]
            let kernel = try canonical(try next("kernel"), role: "kernel", order: isKeras1 ? deconvOrder : nil)
            filters = try config.int("filters", "nb_filter", default: kernel.shape[rank])
            guard kernel.shape[rank] == filters else {
                throw layer.error(.shapeMismatch, "transposed kernel does not have `filters` outputs", field: "kernel",
                                  expected: "[k…, \(filters), in]", found: "\(kernel.shape)")
            }
            parameters["kernel"] = kernel
            var outputPadding: [Int]? = config.value(["output_padding"]) == nil
                ? nil : try config.spatialInts(["output_padding"], rank: rank)
            if isKeras1, outputPadding == nil {
                outputPadding = try keras1OutputPadding(layer, config, rank: rank, dataFormat: dataFormat,
                                                        kernelSize: kernelSize, strides: strides, dilation: dilation,
                                                        padding: padding)
            }
            kind = .transposed(outputPadding: outputPadding)
        }
        if useBias {
            let bias = try layer.weight(index, named: "bias", shape: [filters])
            parameters["bias"] = bias
            index += 1
        }
        guard index == layer.weights.count else {
            throw layer.error(.malformed, "unexpected extra weight arrays", expected: "\(index)",
                              found: "\(layer.weights.count): \(layer.weights.map(\.name).joined(separator: ", "))")
        }
        let attributes = ConvAttributes(kind: kind, rank: rank, filters: filters, kernelSize: kernelSize,
                                        strides: strides, padding: padding, dilation: dilation, groups: groups,
                                        dataFormat: dataFormat, activation: activation, useBias: useBias)
        return (.conv(attributes), parameters)
    }

    /// Keras 1 Deconvolution2D states its full `output_shape` (batch first) instead of an output
    /// padding; turn it into the padding that gives that size, (in − 1)·s + k_eff − 2·pad +
    /// outputPadding with pad = k_eff/2 for `same`. Nil when the config or input size is unknown.
    static func keras1OutputPadding(_ layer: KerasLayerContext, _ config: KerasConfig, rank: Int, dataFormat: DataFormat,
                                    kernelSize: [Int], strides: [Int], dilation: [Int], padding: Padding) throws -> [Int]? {
        guard let shape = config.value(["output_shape"])?.arrayValue, shape.count == rank + 2,
              let input = layer.inputShapes.first, input.count == rank + 1 else { return nil }
        let spatialRange = dataFormat == .channelsFirst ? 2..<(rank + 2) : 1..<(rank + 1)
        let inputRange = dataFormat == .channelsFirst ? 1..<(rank + 1) : 0..<rank
        var result: [Int] = []
        for (i, (o, n)) in zip(spatialRange, inputRange).enumerated() {
            guard let out = shape[o].intValue, let inSize = input[n] else { return nil }
            let effective = (kernelSize[i] - 1) * dilation[i] + 1
            let pad = padding == .same ? effective / 2 : 0
            let extra = out - ((inSize - 1) * strides[i] + effective - 2 * pad)
            guard extra >= 0, extra == 0 || extra < strides[i] else {
                throw layer.error(.unsupported, "output_shape cannot be produced by this deconvolution",
                                  field: "output_shape", found: shape.map(\.description).joined(separator: ", "))
            }
            result.append(extra)
        }
        return result
    }

    /// Keras 1 `Convolution1D` kernels are 4-D (it ran as a 2-D convolution):
    /// [k, 1, in, filters], or [filters, in, k, 1] in Keras 1.1. Returns [k, in, filters].
    static func keras1Conv1DKernel(_ t: Tensor, layer: KerasLayerContext, kernelSize: Int) throws -> Tensor {
        if t.rank == 3 { return t }
        guard t.rank == 4 else {
            throw layer.error(.shapeMismatch, "Keras 1 Convolution1D kernel has the wrong rank", field: "W",
                              expected: "[\(kernelSize), 1, in, filters]", found: "\(t.shape)")
        }
        if t.shape[0] == kernelSize, t.shape[1] == 1 {
            return try t.reshaped([kernelSize, t.shape[2], t.shape[3]])
        }
        if t.shape[2] == kernelSize, t.shape[3] == 1 {
            return try t.transposed([2, 3, 1, 0]).reshaped([kernelSize, t.shape[1], t.shape[0]])
        }
        throw layer.error(.shapeMismatch, "Keras 1 Convolution1D kernel has the wrong shape", field: "W",
                          expected: "[\(kernelSize), 1, in, filters] or [filters, in, \(kernelSize), 1]", found: "\(t.shape)")
    }
}
