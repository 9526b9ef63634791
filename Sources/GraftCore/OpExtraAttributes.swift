/// Attributes of the locally connected, convolutional-recurrent and attention ops.

/// A locally connected layer: a convolution whose weights differ at every output position
/// (Keras `LocallyConnected1D` / `LocallyConnected2D`), valid padding only.
///
/// Canonical parameters, channels-last whatever the data format:
/// - `kernel` [outPositions, taps·in, filters]: row p belongs to output position p in
///   row-major order of the output's spatial axes; column (tap, channel) = tap·in + channel,
///   taps in row-major kernel order (Keras' implementation-1 layout for channels-last data);
/// - `bias` [outSpatial…, filters].
public struct LocallyConnectedAttributes: Sendable, Equatable {
    /// 1 or 2 spatial dimensions.
    public var rank: Int
    public var filters: Int
    public var kernelSize: [Int]
    public var strides: [Int]
    public var dataFormat: DataFormat
    public var activation: ActivationFunction
    public var useBias: Bool
    public init(rank: Int, filters: Int, kernelSize: [Int], strides: [Int]? = nil, dataFormat: DataFormat = .channelsLast,
                activation: ActivationFunction = .linear, useBias: Bool = true) {
        self.rank = rank; self.filters = filters; self.kernelSize = kernelSize
        self.strides = strides ?? Array(repeating: 1, count: rank)
        self.dataFormat = dataFormat; self.activation = activation; self.useBias = useBias
    }
}

/// A convolutional LSTM (Keras `ConvLSTM1D/2D/3D`). Input [batch, time, spatial…, in]
/// (channels-first: [batch, time, in, spatial…]); `recurrent.units` is the filter count.
/// Per step: z = conv(x_t, kernel; strides, padding, dilation) + conv(h, recurrentKernel;
/// stride 1, same padding) + bias, split into [i | f | c | o];
/// c = f·c + i·act(z_c), h = o·act(c) with i, f, o = recurrentActivation.
/// Canonical parameters: `kernel` [k…, in, 4f], `recurrentKernel` [k…, f, 4f], `bias` [4f].
/// Outputs as the recurrent ops: the sequence [batch, time, outSpatial…, f] (returnSequences) or
/// the last h, then with returnState h and c, all in the op's data format.
public struct ConvLSTMAttributes: Sendable, Equatable {
    public var recurrent: RecurrentAttributes
    public var rank: Int
    public var kernelSize: [Int]
    public var strides: [Int]
    public var padding: Padding
    public var dilation: [Int]
    public var dataFormat: DataFormat
    public var filters: Int { recurrent.units }
    public init(_ recurrent: RecurrentAttributes, rank: Int, kernelSize: [Int], strides: [Int]? = nil,
                padding: Padding = .valid, dilation: [Int]? = nil, dataFormat: DataFormat = .channelsLast) {
        self.recurrent = recurrent; self.rank = rank; self.kernelSize = kernelSize
        self.strides = strides ?? Array(repeating: 1, count: rank)
        self.padding = padding
        self.dilation = dilation ?? Array(repeating: 1, count: rank)
        self.dataFormat = dataFormat
    }
}

/// Keras' `Attention` layer (Luong-style). Inputs: query [.., Tq, d], value [.., Tv, d] and
/// optionally key [.., Tv, d] (default: value). Rank-3 inputs are batched matrices; rank-2
/// inputs are ONE matrix whose rows are the batch entries (what tf.keras computes for them).
/// scores = query·keyᵀ (×scale when `useScale`) for `dot`;
/// concatScoreWeight·Σ_d tanh(scale·(q + k)) for `concat`; causal masking sets scores of
/// later keys to −1e9; weights = softmax over the key axis; output = weights·value.
public struct AttentionAttributes: Sendable, Equatable {
    public enum ScoreMode: String, Sendable, Equatable { case dot, concat }
    public var useScale: Bool
    public var scoreMode: ScoreMode
    /// Mask keys after the query position (Keras `causal` / `use_causal_mask`).
    public var causal: Bool
    /// Training-time dropout on the weights; identity at inference, carried.
    public var dropout: Double
    public init(useScale: Bool = false, scoreMode: ScoreMode = .dot, causal: Bool = false, dropout: Double = 0) {
        self.useScale = useScale; self.scoreMode = scoreMode; self.causal = causal; self.dropout = dropout
    }
}
