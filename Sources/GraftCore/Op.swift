/// The canonical operations of the Graft IR: a closed set of layer kinds with typed
/// attributes. Parameter tensors of each op are stored in the canonical layouts documented
/// in `formats/ir.md`; readers and writers convert to and from exactly those layouts.
///
/// Data layouts inside the IR: sequences are [batch, time, features]; images follow each
/// op's `dataFormat` (channels-last unless it says channels-first). A DL4J graph says
/// [batch, features, time] on its `input` op and the runtime transposes at the boundary.
public indirect enum Op: Sendable, Equatable {
    /// A graph input. `shape` excludes the batch dimension; nil entries are unknown sizes.
    case input(InputAttributes)
    /// y = act(x·kernel + bias). Params: `kernel` [in, units], `bias` [units].
    case dense(DenseAttributes)
    /// An element-wise (or softmax) activation function.
    case activation(ActivationFunction)
    /// Parametric ReLU. Params: `alpha`, shaped like the input without batch (1 on shared axes).
    case prelu(sharedAxes: [Int])
    /// Dropout, SpatialDropout, GaussianNoise, GaussianDropout, AlphaDropout: identity at inference.
    case dropout(kind: String, rate: Double)
    /// Flattens all non-batch axes in row-major order of the input's layout.
    case flatten
    /// Reshape of the non-batch axes; one entry may be -1.
    case reshape(targetShape: [Int])
    /// Permutation of the non-batch axes, 1-based like Keras' `dims`.
    case permute(dims: [Int])
    /// [batch, features] → [batch, n, features].
    case repeatVector(n: Int)
    /// 1-D/2-D/3-D convolutions: standard, depthwise, separable, transposed.
    case conv(ConvAttributes)
    /// Max/average pooling over a window.
    case pooling(PoolingAttributes)
    /// Global max/average pooling over all spatial (or time) axes.
    case globalPooling(GlobalPoolingAttributes)
    /// Zero padding of the spatial axes: `padding[i]` = (before, after) for spatial axis i.
    case zeroPadding(SpatialPadAttributes)
    /// Cropping of the spatial axes: `cropping[i]` = (before, after) for spatial axis i.
    case cropping(SpatialPadAttributes)
    /// Nearest (or bilinear) upsampling by `size` per spatial axis.
    case upSampling(UpSamplingAttributes)
    /// Inference-mode batch normalisation. Params: `gamma`, `beta` (when scale/center),
    /// `movingMean`, `movingVariance`, each [channels].
    case batchNorm(BatchNormAttributes)
    /// Layer normalisation over `axes`. Params: `gamma`, `beta`, shaped like those axes.
    case layerNorm(LayerNormAttributes)
    /// Integer token ids → vectors. Params: `embeddings` [inputDim, outputDim], optional `bias` [outputDim].
    case embedding(EmbeddingAttributes)
    /// Elman RNN. Params: `kernel` [in, units], `recurrentKernel` [units, units], `bias` [units].
    case simpleRNN(RecurrentAttributes)
    /// LSTM. Params: `kernel` [in, 4u], `recurrentKernel` [u, 4u], `bias` [4u], gate blocks
    /// in Keras order **[i | f | c | o]**; Graves LSTM also `peepholes` [3, u], rows
    /// (input gate, forget gate, output gate).
    case lstm(LSTMAttributes)
    /// GRU. Params: `kernel` [in, 3u], `recurrentKernel` [u, 3u], gate blocks in Keras order
    /// **[z | r | h]**; `bias` [3u], or [2, 3u] (input bias row, recurrent bias row) when `resetAfter`.
    case gru(GRUAttributes)
    /// A recurrent layer run forward and backward. Params: the wrapped op's, prefixed
    /// `forward/` and `backward/`.
    case bidirectional(BidirectionalAttributes)
    /// Applies `layer` to every time step. Params: the wrapped op's, unprefixed.
    case timeDistributed(layer: Op)
    /// Locally connected 1-D/2-D layer (unshared convolution weights, valid padding). Params:
    /// `kernel` [outPositions, taps·in, filters], each row's patch flattened in (k…, channel)
    /// order, `bias` [outSpatial…, filters]. See `LocallyConnectedAttributes`.
    case locallyConnected(LocallyConnectedAttributes)
    /// Convolutional LSTM over [batch, time, spatial…, channels] (or channels-first per step).
    /// Params: `kernel` [k…, in, 4f], `recurrentKernel` [k…, f, 4f], `bias` [4f], gate blocks
    /// in Keras order **[i | f | c | o]**. See `ConvLSTMAttributes`.
    case convLSTM(ConvLSTMAttributes)
    /// Dot-product attention (Keras `Attention`): inputs query, value, optional key.
    /// Params: `scale` [] when `useScale`, `concatScoreWeight` [] for the concat score mode.
    case attention(AttentionAttributes)
    /// Marks time steps whose features all equal `maskValue` as masked.
    case masking(maskValue: Double)
    /// Merges several inputs element-wise or by concatenation.
    case merge(MergeAttributes)
    /// A DL4J output layer: a dense (or identity, for loss layers) projection with a loss.
    /// Params as `dense` for `.dense`/`.rnn` kinds, none for loss-only kinds.
    case output(OutputAttributes)
    /// DL4J-specific structure the other ops do not express.
    case dl4jVertex(DL4JVertex)
    /// A layer Graft can carry but not compute (Keras Lambda, custom layers, ops from
    /// TensorFlow). Kept verbatim for same-format round trips.
    case opaque(OpaqueAttributes)

    /// A short name for tables and JSON (`dense`, `lstm`, `conv2d`, …).
    public var kindName: String {
        switch self {
        case .input: return "input"
        case .dense: return "dense"
        case .activation: return "activation"
        case .prelu: return "prelu"
        case .dropout: return "dropout"
        case .flatten: return "flatten"
        case .reshape: return "reshape"
        case .permute: return "permute"
        case .repeatVector: return "repeatVector"
        case .conv(let a):
            switch a.kind {
            case .standard: return "conv\(a.rank)d"
            case .depthwise: return "depthwiseConv\(a.rank)d"
            case .separable: return "separableConv\(a.rank)d"
            case .transposed: return "convTranspose\(a.rank)d"
            }
        case .pooling(let a): return "\(a.kind.rawValue)Pool\(a.rank)d"
        case .globalPooling(let a): return "global\(a.kind == .max ? "Max" : "Average")Pool\(a.rank)d"
        case .zeroPadding(let a): return "zeroPadding\(a.rank)d"
        case .cropping(let a): return "cropping\(a.rank)d"
        case .upSampling(let a): return "upSampling\(a.rank)d"
        case .batchNorm: return "batchNorm"
        case .layerNorm: return "layerNorm"
        case .embedding: return "embedding"
        case .simpleRNN: return "simpleRNN"
        case .lstm(let a): return a.peepholes ? "gravesLSTM" : "lstm"
        case .gru: return "gru"
        case .bidirectional(let a): return "bidirectional(\(a.layer.kindName))"
        case .timeDistributed(let l): return "timeDistributed(\(l.kindName))"
        case .locallyConnected(let a): return "locallyConnected\(a.rank)d"
        case .convLSTM(let a): return "convLSTM\(a.rank)d"
        case .attention: return "attention"
        case .masking: return "masking"
        case .merge(let a): return a.kind.name
        case .output(let a): return "output(\(a.kind.rawValue))"
        case .dl4jVertex(let v): return v.kindName
        case .opaque(let a): return "opaque(\(a.className))"
        }
    }

    public var isOpaque: Bool { if case .opaque = self { return true }; return false }
}

// MARK: - Shared attribute types

/// The layout a tensor's axes follow.
public enum DataLayout: String, Sendable, Codable, Equatable {
    /// Plain feature vectors [batch, features] or any layout-free shape.
    case flat
    /// Keras sequences [batch, time, features].
    case sequenceTimeMajorFeatures = "NTC"
    /// DL4J sequences [batch, features, time].
    case sequenceFeaturesTime = "NCT"
    /// Images with channels last [batch, ..., channels].
    case channelsLast = "NHWC"
    /// Images with channels first [batch, channels, ...].
    case channelsFirst = "NCHW"
}

public enum DataFormat: String, Sendable, Codable, Equatable {
    case channelsLast, channelsFirst
}

public enum Padding: String, Sendable, Codable, Equatable {
    case valid, same, causal
}

/// Activation functions, with the parameters that change their numbers.
public enum ActivationFunction: Sendable, Equatable, Hashable {
    case linear
    /// max(x, threshold)-style ReLU: `min(maxValue, x)` for x ≥ threshold, else `negativeSlope·(x − threshold)`.
    case relu(maxValue: Double? = nil, negativeSlope: Double = 0, threshold: Double = 0)
    case relu6
    case leakyRelu(alpha: Double)
    case elu(alpha: Double)
    case selu
    case tanh
    case sigmoid
    /// clip(slope·x + offset, 0, 1): Keras 1/2, tf.keras and DL4J use slope 0.2; Keras 3 uses 1/6.
    case hardSigmoid(slope: Double, offset: Double)
    /// Softmax along `axis` (-1 = last).
    case softmax(axis: Int)
    case softplus
    case softsign
    case swish
    case gelu(approximate: Bool)
    case thresholdedRelu(theta: Double)
    case exponential
    /// DL4J's "cube", rational tanh and the like: named, carried, computed where known.
    case cube
    case rationalTanh
    case rectifiedTanh
    case hardTanh

    public static let keras2HardSigmoid = ActivationFunction.hardSigmoid(slope: 0.2, offset: 0.5)
    public static let keras3HardSigmoid = ActivationFunction.hardSigmoid(slope: 1.0 / 6.0, offset: 0.5)
    public static let plainRelu = ActivationFunction.relu()

    public var name: String {
        switch self {
        case .linear: return "linear"
        case .relu(let m, let s, let t): return (m == nil && s == 0 && t == 0) ? "relu" : "relu(max:\(m.map { "\($0)" } ?? "-"),slope:\(s),threshold:\(t))"
        case .relu6: return "relu6"
        case .leakyRelu(let a): return "leakyRelu(\(a))"
        case .elu(let a): return "elu(\(a))"
        case .selu: return "selu"
        case .tanh: return "tanh"
        case .sigmoid: return "sigmoid"
        case .hardSigmoid(let s, _): return s == 0.2 ? "hardSigmoid" : "hardSigmoid(slope:\(s))"
        case .softmax(let axis): return axis == -1 ? "softmax" : "softmax(axis:\(axis))"
        case .softplus: return "softplus"
        case .softsign: return "softsign"
        case .swish: return "swish"
        case .gelu(let a): return a ? "gelu(tanh)" : "gelu"
        case .thresholdedRelu(let t): return "thresholdedRelu(\(t))"
        case .exponential: return "exponential"
        case .cube: return "cube"
        case .rationalTanh: return "rationalTanh"
        case .rectifiedTanh: return "rectifiedTanh"
        case .hardTanh: return "hardTanh"
        }
    }
}

public struct InputAttributes: Sendable, Equatable {
    /// Shape without the batch dimension; nil = unknown (e.g. variable time steps).
    public var shape: [Int?]
    public var dtype: DType
    /// The layout callers feed this input in.
    public var layout: DataLayout
    public init(shape: [Int?], dtype: DType = .float32, layout: DataLayout = .flat) {
        self.shape = shape; self.dtype = dtype; self.layout = layout
    }
}

public struct DenseAttributes: Sendable, Equatable {
    public var units: Int
    public var activation: ActivationFunction
    public var useBias: Bool
    public init(units: Int, activation: ActivationFunction = .linear, useBias: Bool = true) {
        self.units = units; self.activation = activation; self.useBias = useBias
    }
}

public struct ConvAttributes: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Params: `kernel` [k..., in/groups, filters], `bias` [filters].
        case standard
        /// Params: `depthwiseKernel` [k..., in, multiplier], `bias` [in·multiplier].
        case depthwise(multiplier: Int)
        /// Params: `depthwiseKernel` [k..., in, multiplier], `pointwiseKernel` [1..., in·multiplier, filters], `bias` [filters].
        case separable(multiplier: Int)
        /// Params: `kernel` [k..., filters, in] (Keras' transposed layout), `bias` [filters].
        case transposed(outputPadding: [Int]?)
    }
    public var kind: Kind
    /// 1, 2 or 3 spatial dimensions.
    public var rank: Int
    public var filters: Int
    public var kernelSize: [Int]
    public var strides: [Int]
    public var padding: Padding
    public var dilation: [Int]
    public var groups: Int
    public var dataFormat: DataFormat
    public var activation: ActivationFunction
    public var useBias: Bool
    public init(kind: Kind = .standard, rank: Int, filters: Int, kernelSize: [Int], strides: [Int]? = nil,
                padding: Padding = .valid, dilation: [Int]? = nil, groups: Int = 1,
                dataFormat: DataFormat = .channelsLast, activation: ActivationFunction = .linear, useBias: Bool = true) {
        self.kind = kind; self.rank = rank; self.filters = filters; self.kernelSize = kernelSize
        self.strides = strides ?? Array(repeating: 1, count: rank)
        self.padding = padding
        self.dilation = dilation ?? Array(repeating: 1, count: rank)
        self.groups = groups; self.dataFormat = dataFormat; self.activation = activation; self.useBias = useBias
    }
}

public enum PoolingKind: String, Sendable, Equatable {
    case max, average
}

public struct PoolingAttributes: Sendable, Equatable {
    public var kind: PoolingKind
    public var rank: Int
    public var poolSize: [Int]
    public var strides: [Int]
    public var padding: Padding
    public var dataFormat: DataFormat
    public init(kind: PoolingKind, rank: Int, poolSize: [Int], strides: [Int]? = nil, padding: Padding = .valid,
                dataFormat: DataFormat = .channelsLast) {
        self.kind = kind; self.rank = rank; self.poolSize = poolSize
        self.strides = strides ?? poolSize
        self.padding = padding; self.dataFormat = dataFormat
    }
}

public struct GlobalPoolingAttributes: Sendable, Equatable {
    public var kind: PoolingKind
    public var rank: Int
    public var dataFormat: DataFormat
    public var keepDims: Bool
    public init(kind: PoolingKind, rank: Int, dataFormat: DataFormat = .channelsLast, keepDims: Bool = false) {
        self.kind = kind; self.rank = rank; self.dataFormat = dataFormat; self.keepDims = keepDims
    }
}

/// Before/after amounts per spatial axis, for zero padding and cropping.
public struct SpatialPadAttributes: Sendable, Equatable {
    public var rank: Int
    public var amounts: [Pair]
    public var dataFormat: DataFormat
    public struct Pair: Sendable, Equatable {
        public var before: Int
        public var after: Int
        public init(_ before: Int, _ after: Int) { self.before = before; self.after = after }
    }
    public init(rank: Int, amounts: [Pair], dataFormat: DataFormat = .channelsLast) {
        self.rank = rank; self.amounts = amounts; self.dataFormat = dataFormat
    }
}

public struct UpSamplingAttributes: Sendable, Equatable {
    public var rank: Int
    public var size: [Int]
    public var dataFormat: DataFormat
    public var interpolation: String
    public init(rank: Int, size: [Int], dataFormat: DataFormat = .channelsLast, interpolation: String = "nearest") {
        self.rank = rank; self.size = size; self.dataFormat = dataFormat; self.interpolation = interpolation
    }
}

public struct BatchNormAttributes: Sendable, Equatable {
    /// The feature axis, counted with the batch axis as 0 (Keras' convention; -1 = last).
    public var axis: Int
    public var epsilon: Double
    public var center: Bool
    public var scale: Bool
    public init(axis: Int = -1, epsilon: Double = 1e-3, center: Bool = true, scale: Bool = true) {
        self.axis = axis; self.epsilon = epsilon; self.center = center; self.scale = scale
    }
}

public struct LayerNormAttributes: Sendable, Equatable {
    /// Normalised axes, counted with the batch axis as 0 (-1 = last).
    public var axes: [Int]
    public var epsilon: Double
    public var center: Bool
    public var scale: Bool
    public init(axes: [Int] = [-1], epsilon: Double = 1e-3, center: Bool = true, scale: Bool = true) {
        self.axes = axes; self.epsilon = epsilon; self.center = center; self.scale = scale
    }
}

public struct EmbeddingAttributes: Sendable, Equatable {
    public var inputDim: Int
    public var outputDim: Int
    /// Token 0 produces a mask for downstream recurrent layers (Keras `mask_zero`).
    public var maskZero: Bool
    /// Applied to the looked-up vector (DL4J EmbeddingLayer has one; Keras has none).
    public var activation: ActivationFunction
    public var useBias: Bool
    public init(inputDim: Int, outputDim: Int, maskZero: Bool = false, activation: ActivationFunction = .linear, useBias: Bool = false) {
        self.inputDim = inputDim; self.outputDim = outputDim; self.maskZero = maskZero
        self.activation = activation; self.useBias = useBias
    }
}

/// What every recurrent op shares.
public struct RecurrentAttributes: Sendable, Equatable {
    public var units: Int
    public var activation: ActivationFunction
    public var recurrentActivation: ActivationFunction
    public var useBias: Bool
    /// Emit every time step ([batch, time, units]) rather than the last ([batch, units]).
    public var returnSequences: Bool
    /// Also emit the final states as extra outputs (h, then c for LSTM).
    public var returnState: Bool
    /// Process the sequence in reverse; outputs stay in processing order, as Keras does.
    public var goBackwards: Bool
    public var stateful: Bool
    public init(units: Int, activation: ActivationFunction = .tanh, recurrentActivation: ActivationFunction = .sigmoid,
                useBias: Bool = true, returnSequences: Bool = false, returnState: Bool = false,
                goBackwards: Bool = false, stateful: Bool = false) {
        self.units = units; self.activation = activation; self.recurrentActivation = recurrentActivation
        self.useBias = useBias; self.returnSequences = returnSequences; self.returnState = returnState
        self.goBackwards = goBackwards; self.stateful = stateful
    }
}

public struct LSTMAttributes: Sendable, Equatable {
    public var recurrent: RecurrentAttributes
    /// Graves-style diagonal peepholes (DL4J GravesLSTM); adds the `peepholes` parameter.
    public var peepholes: Bool
    public init(_ recurrent: RecurrentAttributes, peepholes: Bool = false) {
        self.recurrent = recurrent; self.peepholes = peepholes
    }
}

public struct GRUAttributes: Sendable, Equatable {
    public var recurrent: RecurrentAttributes
    /// Apply the reset gate after the recurrent matmul (tf.keras 2 default, CuDNN-compatible).
    public var resetAfter: Bool
    public init(_ recurrent: RecurrentAttributes, resetAfter: Bool) {
        self.recurrent = recurrent; self.resetAfter = resetAfter
    }
}

public enum BidirectionalMerge: String, Sendable, Equatable {
    case concat, sum, mul, average = "ave"
    /// Keras `merge_mode=None`: two outputs, forward then backward.
    case none
}

public struct BidirectionalAttributes: Sendable, Equatable {
    public var mergeMode: BidirectionalMerge
    /// The recurrent op run in each direction (the backward copy has `goBackwards` flipped).
    public var layer: Op
    public init(mergeMode: BidirectionalMerge, layer: Op) { self.mergeMode = mergeMode; self.layer = layer }
}

public struct MergeAttributes: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case add, subtract, multiply, average, maximum, minimum
        /// Concatenation along `axis`, counted with the batch axis as 0 (-1 = last).
        case concatenate(axis: Int)
        /// Batched dot product along `axes` (Keras Dot).
        case dot(axes: [Int], normalize: Bool)

        public var name: String {
            switch self {
            case .add: return "add"
            case .subtract: return "subtract"
            case .multiply: return "multiply"
            case .average: return "average"
            case .maximum: return "maximum"
            case .minimum: return "minimum"
            case .concatenate: return "concatenate"
            case .dot: return "dot"
            }
        }
    }
    public var kind: Kind
    public init(_ kind: Kind) { self.kind = kind }
}

public struct OutputAttributes: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// OutputLayer: dense + loss on [batch, features].
        case dense
        /// RnnOutputLayer: dense applied per time step + loss.
        case rnn
        /// LossLayer: activation + loss, no parameters.
        case loss
        /// RnnLossLayer / CnnLossLayer: activation + loss per step / per pixel.
        case rnnLoss, cnnLoss
        /// CenterLossOutputLayer: dense + loss, with `centers` carried.
        case centerLoss
    }
    public var kind: Kind
    public var units: Int?
    public var activation: ActivationFunction
    public var useBias: Bool
    /// The loss function's name as the source wrote it (e.g. `MCXENT`, `categorical_crossentropy`).
    public var loss: String
    public init(kind: Kind, units: Int?, activation: ActivationFunction, useBias: Bool = true, loss: String) {
        self.kind = kind; self.units = units; self.activation = activation; self.useBias = useBias; self.loss = loss
    }
}

/// DL4J graph vertices and input pre-processors with no Keras counterpart.
public enum DL4JVertex: Sendable, Equatable {
    /// [batch, features, time] → last time step [batch, features] (honours the mask).
    case lastTimeStep
    /// Features [from, to] inclusive along the feature axis.
    case subset(from: Int, to: Int)
    /// Stacks inputs along the batch axis.
    case stack
    /// Takes slice `index` of `count` equal batch slices.
    case unstack(index: Int, count: Int)
    case l2Normalize(epsilon: Double)
    case scale(factor: Double)
    case shift(value: Double)
    /// Repeats a [batch, features] input over the time length of the named input.
    case duplicateToTimeSeries(reference: String)
    /// Local response normalisation across channels.
    case localResponseNormalization(k: Double, n: Double, alpha: Double, beta: Double)
    /// An input pre-processor, with the sizes DL4J stores for it.
    case preprocessor(DL4JPreprocessor)

    public var kindName: String {
        switch self {
        case .lastTimeStep: return "lastTimeStep"
        case .subset: return "subset"
        case .stack: return "stack"
        case .unstack: return "unstack"
        case .l2Normalize: return "l2Normalize"
        case .scale: return "scale"
        case .shift: return "shift"
        case .duplicateToTimeSeries: return "duplicateToTimeSeries"
        case .localResponseNormalization: return "localResponseNormalization"
        case .preprocessor(let p): return p.kindName
        }
    }
}

public enum DL4JPreprocessor: Sendable, Equatable {
    /// [b, c, h, w] → [b, c·h·w] in c, h, w order.
    case cnnToFeedForward(height: Int, width: Int, channels: Int)
    /// [b, c·h·w] → [b, c, h, w].
    case feedForwardToCnn(height: Int, width: Int, channels: Int)
    /// [b, f, t] → [b·t, f].
    case rnnToFeedForward
    /// [b·t, f] → [b, f, t].
    case feedForwardToRnn
    /// [b·t, c, h, w] → [b, c·h·w, t].
    case cnnToRnn(height: Int, width: Int, channels: Int)
    /// [b, c·h·w, t] → [b·t, c, h, w].
    case rnnToCnn(height: Int, width: Int, channels: Int)

    public var kindName: String {
        switch self {
        case .cnnToFeedForward: return "cnnToFeedForward"
        case .feedForwardToCnn: return "feedForwardToCnn"
        case .rnnToFeedForward: return "rnnToFeedForward"
        case .feedForwardToRnn: return "feedForwardToRnn"
        case .cnnToRnn: return "cnnToRnn"
        case .rnnToCnn: return "rnnToCnn"
        }
    }
}

/// A layer carried but not computed.
public struct OpaqueAttributes: Sendable, Equatable {
    /// The source format (`keras`, `dl4j`).
    public var format: String
    /// The layer's class name as the source wrote it (`Lambda`, `com.example.MyLayer`).
    public var className: String
    /// The layer's configuration, verbatim.
    public var config: JSONValue
    /// Output shape (without batch) where the source states it; nil when unknown.
    public var outputShape: [Int?]?
    public init(format: String, className: String, config: JSONValue, outputShape: [Int?]? = nil) {
        self.format = format; self.className = className; self.config = config; self.outputShape = outputShape
    }
}
