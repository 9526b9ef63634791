import GraftCore
import OrderedCollections

/// DL4J convolutions. Every one stores its bias **first**, then its weights in 'c' order:
/// ConvolutionLayer W [nOut, nIn, kH, kW]; Convolution1DLayer W [nOut, nIn, k, 1];
/// Convolution3D W [nOut, nIn, kD, kH, kW]; Deconvolution2D W [nIn, nOut, kH, kW];
/// DepthwiseConvolution2D W [kH, kW, nIn, multiplier]; SeparableConvolution2D depthwise W
/// [multiplier, nIn, kH, kW] then pointwise W [nOut, nIn·multiplier, 1, 1].
/// 2-D/3-D convolutions work on channels-first images; Convolution1DLayer works on
/// sequences, which are [batch, time, channels] inside the IR (so channels-last, rank 1).
enum DL4JConvolutionFamilies {
    /// The IR padding and any explicit zero padding DL4J applies before the convolution.
    static func padding(_ layer: DL4JLayerConfig, rank: Int, dataFormat: DataFormat) throws -> (Padding, [(String, Op)]) {
        switch layer.string("convolutionMode") ?? "Truncate" {
        case "Same": return (.same, [])
        case "Causal": return (.causal, [])
        default:
            let pad = Array((layer.ints("padding") ?? []).prefix(rank))
            if pad.allSatisfy({ $0 == 0 }) { return (.valid, []) }
            let amounts = pad.map { SpatialPadAttributes.Pair($0, $0) }
            return (.valid, [("padding", .zeroPadding(SpatialPadAttributes(rank: rank, amounts: amounts, dataFormat: dataFormat)))])
        }
    }

    static func spatial(_ layer: DL4JLayerConfig, _ key: String, rank: Int, default value: Int) -> [Int] {
        guard let v = layer.ints(key), v.count >= rank else { return Array(repeating: value, count: rank) }
        return Array(v.prefix(rank))
    }

    /// The conv op every convolution family builds: strides, dilation and padding (DL4J's
    /// explicit padding becomes a zero-padding node `before`), activation and bias from the layer.
    static func convOp(_ layer: DL4JLayerConfig, kind: ConvAttributes.Kind, rank: Int, filters: Int, kernel: [Int],
                       dataFormat: DataFormat) throws -> (Op, before: [(String, Op)]) {
        let (padding, before) = try padding(layer, rank: rank, dataFormat: dataFormat)
        let op = Op.conv(ConvAttributes(kind: kind, rank: rank, filters: filters, kernelSize: kernel,
                                        strides: spatial(layer, "stride", rank: rank, default: 1), padding: padding,
                                        dilation: spatial(layer, "dilation", rank: rank, default: 1),
                                        dataFormat: dataFormat, activation: try layer.activation(), useBias: layer.hasBias))
        return (op, before)
    }

    static func buildStandard(_ layer: DL4JLayerConfig, _ input: DL4JLayerInput, _ params: inout DL4JParameterReader,
                              rank: Int) throws -> DL4JBuiltLayer {
        try layer.requireChannelsFirst()
        let nIn = try layer.resolvedNIn(input), nOut = try layer.requireNOut()
        let kernel = try layer.requireInts("kernelSize", count: rank)
        let dataFormat: DataFormat = rank == 1 ? .channelsLast : .channelsFirst
        var p: OrderedDictionary<String, Tensor> = [:]
        let bias = layer.hasBias ? try params.vector(nOut, "b") : nil
        // Stored [nOut, nIn, k...] ('c'); canonical [k..., nIn, nOut].
        let perm = Array(2..<(2 + rank)) + [1, 0]
        p["kernel"] = try params.arrayC([nOut, nIn] + kernel, permutedBy: perm, "W")
        if let bias { p["bias"] = bias }
        let (op, before) = try convOp(layer, kind: .standard, rank: rank, filters: nOut, kernel: kernel, dataFormat: dataFormat)
        let kind: DL4JDataKind = rank == 1 ? .recurrent : rank == 2 ? .convolutional2D : .convolutional3D
        return DL4JBuiltLayer(op: op, parameters: p, output: DL4JLayerInput(kind, nOut), before: before)
    }

    static let convolution2D = DL4JLayerFamily(names: ["convolution", "ConvolutionLayer"], expects: .convolutional2D) { l, i, p in
        try buildStandard(l, i, &p, rank: 2)
    }
    static let convolution1D = DL4JLayerFamily(names: ["convolution1d", "Convolution1DLayer", "Convolution1D"], expects: .recurrent) { l, i, p in
        try buildStandard(l, i, &p, rank: 1)
    }
    static let convolution3D = DL4JLayerFamily(names: ["Convolution3D"], expects: .convolutional3D) { l, i, p in
        try buildStandard(l, i, &p, rank: 3)
    }

    static let deconvolution2D = DL4JLayerFamily(names: ["Deconvolution2D"], expects: .convolutional2D) { layer, input, params in
        try layer.requireChannelsFirst()
        let nIn = try layer.resolvedNIn(input), nOut = try layer.requireNOut()
        let kernel = try layer.requireInts("kernelSize", count: 2)
        var p: OrderedDictionary<String, Tensor> = [:]
        let bias = layer.hasBias ? try params.vector(nOut, "b") : nil
        // Stored [nIn, nOut, kH, kW]; canonical (Keras transposed) [kH, kW, nOut, nIn].
        p["kernel"] = try params.arrayC([nIn, nOut] + kernel, permutedBy: [2, 3, 1, 0], "W")
        if let bias { p["bias"] = bias }
        let (op, before) = try convOp(layer, kind: .transposed(outputPadding: nil), rank: 2, filters: nOut, kernel: kernel, dataFormat: .channelsFirst)
        return DL4JBuiltLayer(op: op, parameters: p, output: DL4JLayerInput(.convolutional2D, nOut), before: before)
    }

    static let depthwise2D = DL4JLayerFamily(names: ["DepthwiseConvolution2D"], expects: .convolutional2D) { layer, input, params in
        try layer.requireChannelsFirst()
        let nIn = try layer.resolvedNIn(input)
        let multiplier = layer.int("depthMultiplier") ?? 1
        let nOut = nIn * multiplier
        let kernel = try layer.requireInts("kernelSize", count: 2)
        var p: OrderedDictionary<String, Tensor> = [:]
        let bias = layer.hasBias ? try params.vector(nOut, "b") : nil
        // Stored [kH, kW, nIn, multiplier] — already the canonical layout.
        p["depthwiseKernel"] = try params.arrayC(kernel + [nIn, multiplier], "W")
        if let bias { p["bias"] = bias }
        let (op, before) = try convOp(layer, kind: .depthwise(multiplier: multiplier), rank: 2, filters: nOut, kernel: kernel, dataFormat: .channelsFirst)
        return DL4JBuiltLayer(op: op, parameters: p, output: DL4JLayerInput(.convolutional2D, nOut), before: before)
    }

    static let separable2D = DL4JLayerFamily(names: ["SeparableConvolution2D"], expects: .convolutional2D) { layer, input, params in
        try layer.requireChannelsFirst()
        let nIn = try layer.resolvedNIn(input), nOut = try layer.requireNOut()
        let multiplier = layer.int("depthMultiplier") ?? 1
        let kernel = try layer.requireInts("kernelSize", count: 2)
        var p: OrderedDictionary<String, Tensor> = [:]
        let bias = layer.hasBias ? try params.vector(nOut, "b") : nil
        // Depthwise stored [multiplier, nIn, kH, kW] → [kH, kW, nIn, multiplier];
        // pointwise stored [nOut, nIn·multiplier, 1, 1] → [1, 1, nIn·multiplier, nOut].
        p["depthwiseKernel"] = try params.arrayC([multiplier, nIn] + kernel, permutedBy: [2, 3, 1, 0], "W")
        p["pointwiseKernel"] = try params.arrayC([nOut, nIn * multiplier, 1, 1], permutedBy: [2, 3, 1, 0], "pW")
        if let bias { p["bias"] = bias }
        let (op, before) = try convOp(layer, kind: .separable(multiplier: multiplier), rank: 2, filters: nOut, kernel: kernel, dataFormat: .channelsFirst)
        return DL4JBuiltLayer(op: op, parameters: p, output: DL4JLayerInput(.convolutional2D, nOut), before: before)
    }
}

/// Subsampling (pooling) layers, 1-D (on sequences), 2-D and 3-D, and global pooling.
enum DL4JPoolingFamilies {
    static func buildPooling(_ layer: DL4JLayerConfig, _ input: DL4JLayerInput, rank: Int) throws -> DL4JBuiltLayer {
        try layer.requireChannelsFirst()
        let dataFormat: DataFormat = rank == 1 ? .channelsLast : .channelsFirst
        let kernel = try layer.requireInts("kernelSize", count: rank)
        let strides = DL4JConvolutionFamilies.spatial(layer, "stride", rank: rank, default: 1)
        let type = layer.string("poolingType") ?? "MAX"
        let kind: PoolingKind
        switch type {
        case "MAX": kind = .max
        case "AVG": kind = .average
        default:
            return DL4JBuiltLayer(op: .opaque(OpaqueAttributes(format: "dl4j", className: layer.className ?? layer.type,
                                                               config: layer.raw)),
                                  output: input)
        }
        let (padding, before) = try DL4JConvolutionFamilies.padding(layer, rank: rank, dataFormat: dataFormat)
        let op = Op.pooling(PoolingAttributes(kind: kind, rank: rank, poolSize: kernel, strides: strides,
                                              padding: padding, dataFormat: dataFormat))
        return DL4JBuiltLayer(op: op, output: input, before: before)
    }

    static let subsampling2D = DL4JLayerFamily(names: ["subsampling", "SubsamplingLayer"], expects: .convolutional2D) { l, i, _ in
        try buildPooling(l, i, rank: 2)
    }
    static let subsampling1D = DL4JLayerFamily(names: ["subsampling1d", "Subsampling1DLayer"], expects: .recurrent) { l, i, _ in
        try buildPooling(l, i, rank: 1)
    }
    static let subsampling3D = DL4JLayerFamily(names: ["Subsampling3DLayer"], expects: .convolutional3D) { l, i, _ in
        try buildPooling(l, i, rank: 3)
    }

    /// GlobalPoolingLayer: over time for sequences, over the spatial axes for images.
    static let globalPooling = DL4JLayerFamily(names: ["GlobalPooling", "GlobalPoolingLayer"], expects: nil) { layer, input, _ in
        let type = layer.string("poolingType") ?? "MAX"
        let kind: PoolingKind
        switch type {
        case "MAX": kind = .max
        case "AVG": kind = .average
        default:
            return DL4JBuiltLayer(op: .opaque(OpaqueAttributes(format: "dl4j", className: layer.className ?? layer.type,
                                                               config: layer.raw)),
                                  output: DL4JLayerInput(.feedForward, input.size))
        }
        let keepDims = layer.bool("collapseDimensions") == false
        let op: Op
        switch input.kind {
        case .recurrent: op = .globalPooling(GlobalPoolingAttributes(kind: kind, rank: 1, dataFormat: .channelsLast, keepDims: keepDims))
        case .convolutional3D: op = .globalPooling(GlobalPoolingAttributes(kind: kind, rank: 3, dataFormat: .channelsFirst, keepDims: keepDims))
        default: op = .globalPooling(GlobalPoolingAttributes(kind: kind, rank: 2, dataFormat: .channelsFirst, keepDims: keepDims))
        }
        return DL4JBuiltLayer(op: op, output: DL4JLayerInput(keepDims ? input.kind : .feedForward, input.size))
    }
}

/// Zero padding, cropping and upsampling. 2-D amounts are [top, bottom, left, right];
/// 1-D amounts [left, right] along time.
enum DL4JShapeFamilies {
    static func pairs(_ values: [Int], rank: Int) -> [SpatialPadAttributes.Pair] {
        if values.count >= 2 * rank { return (0..<rank).map { SpatialPadAttributes.Pair(values[2 * $0], values[2 * $0 + 1]) } }
        if values.count == rank { return values.map { SpatialPadAttributes.Pair($0, $0) } }
        let v = values.first ?? 0
        return Array(repeating: SpatialPadAttributes.Pair(v, v), count: rank)
    }

    static let zeroPadding2D = DL4JLayerFamily(names: ["zeroPadding", "ZeroPaddingLayer"], expects: .convolutional2D) { layer, input, _ in
        let op = Op.zeroPadding(SpatialPadAttributes(rank: 2, amounts: pairs(layer.ints("padding") ?? [], rank: 2), dataFormat: .channelsFirst))
        return DL4JBuiltLayer(op: op, output: input)
    }
    static let zeroPadding1D = DL4JLayerFamily(names: ["zeroPadding1d", "ZeroPadding1DLayer"], expects: .recurrent) { layer, input, _ in
        let op = Op.zeroPadding(SpatialPadAttributes(rank: 1, amounts: pairs(layer.ints("padding") ?? [], rank: 1), dataFormat: .channelsLast))
        return DL4JBuiltLayer(op: op, output: input)
    }
    static let cropping2D = DL4JLayerFamily(names: ["Cropping2D"], expects: .convolutional2D) { layer, input, _ in
        let op = Op.cropping(SpatialPadAttributes(rank: 2, amounts: pairs(layer.ints("cropping") ?? [], rank: 2), dataFormat: .channelsFirst))
        return DL4JBuiltLayer(op: op, output: input)
    }
    static let cropping1D = DL4JLayerFamily(names: ["Cropping1D"], expects: .recurrent) { layer, input, _ in
        let op = Op.cropping(SpatialPadAttributes(rank: 1, amounts: pairs(layer.ints("cropping") ?? [], rank: 1), dataFormat: .channelsLast))
        return DL4JBuiltLayer(op: op, output: input)
    }
    static let zeroPadding3D = DL4JLayerFamily(names: ["ZeroPadding3DLayer"], expects: .convolutional3D) { layer, input, _ in
        try layer.requireChannelsFirst()
        let op = Op.zeroPadding(SpatialPadAttributes(rank: 3, amounts: pairs(layer.ints("padding") ?? [], rank: 3), dataFormat: .channelsFirst))
        return DL4JBuiltLayer(op: op, output: input)
    }
    static let cropping3D = DL4JLayerFamily(names: ["Cropping3D"], expects: .convolutional3D) { layer, input, _ in
        try layer.requireChannelsFirst()
        let op = Op.cropping(SpatialPadAttributes(rank: 3, amounts: pairs(layer.ints("cropping") ?? [], rank: 3), dataFormat: .channelsFirst))
        return DL4JBuiltLayer(op: op, output: input)
    }
    static let upsampling3D = DL4JLayerFamily(names: ["Upsampling3D"], expects: .convolutional3D) { layer, input, _ in
        try layer.requireChannelsFirst()
        return DL4JBuiltLayer(op: .upSampling(UpSamplingAttributes(rank: 3, size: sizes(layer, rank: 3), dataFormat: .channelsFirst)), output: input)
    }

    static func sizes(_ layer: DL4JLayerConfig, rank: Int) -> [Int] {
        if let v = layer.ints("size"), !v.isEmpty { return v.count >= rank ? Array(v.prefix(rank)) : Array(repeating: v[0], count: rank) }
        return Array(repeating: layer.int("size") ?? 2, count: rank)
    }
    static let upsampling2D = DL4JLayerFamily(names: ["Upsampling2D"], expects: .convolutional2D) { layer, input, _ in
        DL4JBuiltLayer(op: .upSampling(UpSamplingAttributes(rank: 2, size: sizes(layer, rank: 2), dataFormat: .channelsFirst)), output: input)
    }
    static let upsampling1D = DL4JLayerFamily(names: ["Upsampling1D"], expects: .recurrent) { layer, input, _ in
        DL4JBuiltLayer(op: .upSampling(UpSamplingAttributes(rank: 1, size: sizes(layer, rank: 1), dataFormat: .channelsLast)), output: input)
    }
}

/// BatchNormalization and LocalResponseNormalization.
enum DL4JNormalizationFamilies {
    /// Params gamma, beta (absent with `lockGammaBeta`), mean, then var — or log10(stdev)
    /// when `useLogStd` (absent = false: JSON from 1.0.0-beta3 and earlier). A log-std is
    /// converted to variance = (10^log10stdev)²: eps is not inside (DL4J's
    /// moving-average update rebuilds var = (10^log10std)² and mixes in the raw batch variance;
    /// `eps` is added at inference, as the IR's batchNorm does).
    static let batchNormalization = DL4JLayerFamily(names: ["batchNormalization", "BatchNormalization"], expects: nil) { layer, input, params in
        let n = (layer.nOut ?? 0) > 0 ? layer.nOut! : try layer.resolvedNIn(input)
        let lock = layer.bool("lockGammaBeta") ?? false
        var p: OrderedDictionary<String, Tensor> = [:]
        if !lock {
            p["gamma"] = try params.vector(n, "gamma")
            p["beta"] = try params.vector(n, "beta")
        }
        p["movingMean"] = try params.vector(n, "mean")
        let stored = try params.vector(n, layer.bool("useLogStd") == true ? "log10stdev" : "var")
        if layer.bool("useLogStd") == true && !params.counting {
            let values = stored.doubles().map { pow10squared($0) }
            p["movingVariance"] = Tensor(shape: [n], doubles: values).converted(to: stored.dtype)
        } else {
            p["movingVariance"] = stored
        }
        let axis = input.kind == .convolutional2D || input.kind == .convolutional3D ? 1 : -1
        let op = Op.batchNorm(BatchNormAttributes(axis: axis, epsilon: layer.double("eps") ?? 1e-5, center: !lock, scale: !lock))
        return DL4JBuiltLayer(op: op, parameters: p, output: DL4JLayerInput(input.kind, n))
    }

    static func pow10squared(_ x: Double) -> Double {
        let s = exp(x * log(10.0))
        return s * s
    }

    static let localResponseNormalization = DL4JLayerFamily(
        names: ["localResponseNormalization", "LocalResponseNormalization"], expects: .convolutional2D
    ) { layer, input, _ in
        let op = Op.dl4jVertex(.localResponseNormalization(k: layer.double("k") ?? 2, n: layer.double("n") ?? 5,
                                                           alpha: layer.double("alpha") ?? 1e-4,
                                                           beta: layer.double("beta") ?? 0.75))
        return DL4JBuiltLayer(op: op, output: input)
    }
}

/// ActivationLayer, DropoutLayer, and VariationalAutoencoder (carried opaque).
enum DL4JMiscFamilies {
    static let activation = DL4JLayerFamily(names: ["activation", "ActivationLayer"], expects: nil) { layer, input, _ in
        DL4JBuiltLayer(op: .activation(try layer.activation()), output: input)
    }

    /// RepeatVector: [batch, features] → a sequence of `n` copies (DL4J layout [b, f, n]).
    static let repeatVector = DL4JLayerFamily(names: ["RepeatVector"], expects: .feedForward) { layer, input, _ in
        guard let n = layer.int("n"), n > 0 else {
            throw GraftError(.malformed, "RepeatVector without a repetition count", location: layer.location, field: "n")
        }
        return DL4JBuiltLayer(op: .repeatVector(n: n), output: DL4JLayerInput(.recurrent, input.size))
    }

    static let dropout = DL4JLayerFamily(names: ["dropout", "DropoutLayer"], expects: nil) { layer, input, _ in
        // DL4J stores the *retain* probability (dropOut / idropout.p); identity at inference.
        let retain = layer.double("dropOut") ?? layer.fields["idropout"]?["p"]?.doubleValue ?? 1
        return DL4JBuiltLayer(op: .dropout(kind: "dropout", rate: retain > 0 && retain <= 1 ? 1 - retain : 0), output: input)
    }

    /// VariationalAutoencoder: carried as an opaque node with its whole flat parameter
    /// segment (`params`), whose size follows VariationalAutoencoderParamInitializer:
    /// encoder layers (W, b each), pZX mean and log-variance (W, b each), decoder layers
    /// (W, b each), and the reconstruction distribution's (W, b).
    static let variationalAutoencoder = DL4JLayerFamily(names: ["VariationalAutoencoder"], expects: .feedForward) { layer, input, params in
        let nIn = try layer.resolvedNIn(input), nOut = try layer.requireNOut()
        let encoder = layer.ints("encoderLayerSizes") ?? []
        let decoder = layer.ints("decoderLayerSizes") ?? []
        var count = 0
        var last = nIn
        for size in encoder { count += last * size + size; last = size }
        count += 2 * (last * nOut + nOut)
        last = nOut
        for size in decoder { count += last * size + size; last = size }
        let distributionInputs = reconstructionSize(layer, nIn: nIn)
        count += last * distributionInputs + distributionInputs
        let flat = try params.take(count, "params")
        let op = Op.opaque(OpaqueAttributes(format: "dl4j", className: layer.className ?? layer.type, config: layer.raw,
                                            outputShape: [nOut]))
        return DL4JBuiltLayer(op: op, parameters: params.counting ? [:] : ["params": flat], output: DL4JLayerInput(.feedForward, nOut))
    }

    /// Bernoulli and Exponential distributions need nIn values, Gaussian 2·nIn.
    static func reconstructionSize(_ layer: DL4JLayerConfig, nIn: Int) -> Int {
        let dist = layer.fields["outputDistribution"]
        let name = dist?["@class"]?.stringValue ?? dist?.objectValue?.keys.first ?? "Gaussian"
        return name.lowercased().contains("gaussian") ? 2 * nIn : nIn
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
