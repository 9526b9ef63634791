import GraftCore

/// Dispatch for the convolution family: convolutions (standard, depthwise, separable,
/// transposed), pooling, global pooling, zero padding, cropping and upsampling.
/// Images follow each op's `dataFormat`; a 1-D op works on sequences [batch, steps, channels]
/// (channelsLast) or [batch, channels, steps] (channelsFirst). Every kernel computes on a
/// channels-last view (see `SpatialView`) and converts back at the end. Outputs carry no mask.
/// `masking` matters only for 1-D global pooling of a masked sequence (see `MaskSemantics`).
enum ConvolutionKernels {
    static func evaluate<T: RuntimeScalar>(_ node: Node, _ inputs: [RuntimeValue], as type: T.Type,
                                           masking: MaskSemantics = .keras,
                                           context: RuntimeContext = RuntimeContext()) throws -> [RuntimeValue] {
        let x = try onlyInput(inputs, node)
        switch node.op {
        case .conv(let a):
            return [RuntimeValue(try ConvolutionOps.convolve(node, a, x.tensor, context: context, as: T.self))]
        case .pooling(let a):
            return [RuntimeValue(try PoolingKernels.pool(node, a, x.tensor, as: T.self))]
        case .globalPooling(let a):
            return [RuntimeValue(try PoolingKernels.globalPool(node, a, x, masking: masking, as: T.self))]
        case .zeroPadding(let a):
            return [RuntimeValue(try SpatialResizeKernels.zeroPad(node, a, x.tensor, as: T.self))]
        case .cropping(let a):
            return [RuntimeValue(try SpatialResizeKernels.crop(node, a, x.tensor, as: T.self))]
        case .upSampling(let a):
            return [RuntimeValue(try SpatialResizeKernels.upSample(node, a, x.tensor, as: T.self))]
        default:
            throw GraftError(.invalidArgument, "not a convolution-family op: \(node.op.kindName)", location: node.name)
        }
    }
}

/// A spatial tensor seen channels-last with exactly three spatial axes [batch, d, h, w, channels]:
/// 1-D and 2-D data get leading spatial axes of size 1, which leaves the row-major bytes
/// unchanged and lets every kernel share one loop nest.
struct SpatialView {
    var batch: Int
    /// Three spatial sizes (leading ones are 1 for rank < 3).
    var dims: [Int]
    var channels: Int
    /// The op's spatial sizes as the data has them (1, 2 or 3 entries).
    var spatial: [Int]
    var positions: Int { dims[0] * dims[1] * dims[2] }

    /// `values` padded on the left with `fill` to three entries.
    static func lift(_ values: [Int], fill: Int) -> [Int] {
        Array(repeating: fill, count: max(0, 3 - values.count)) + values
    }

    /// Reads `t` (rank `rank` + 2, in `format`) as channels-last values of `T`.
    static func read<T: RuntimeScalar>(_ t: Tensor, rank: Int, format: DataFormat, node: Node,
                                       as type: T.Type) throws -> (values: [T], view: SpatialView) {
        let (last, view) = try channelsLast(t, rank: rank, format: format, node: node)
        return (last.scalars(as: T.self), view)
    }

    /// `t` (rank `rank` + 2, in `format`) as a channels-last tensor (itself when already
    /// channels-last) and its view.
    static func channelsLast(_ t: Tensor, rank: Int, format: DataFormat, node: Node) throws -> (tensor: Tensor, view: SpatialView) {
        guard (1...3).contains(rank) else {
            throw GraftError(.unsupported, "spatial rank must be 1, 2 or 3", location: node.name, field: "rank",
                             expected: "1...3", found: "\(rank)")
        }
        try requireRank(t, [rank + 2], node)
        var last = t
        if format == .channelsFirst {
            last = try t.transposed([0] + Array(2..<(rank + 2)) + [1])
        }
        let spatial = Array(last.shape[1...rank])
        let view = SpatialView(batch: last.shape[0], dims: lift(spatial, fill: 1), channels: last.shape[rank + 1],
                               spatial: spatial)
        return (last, view)
    }

    /// The element count of an output of `shape` whose size comes from attributes (strides,
    /// padding, upsampling factors): refuses overflow and anything over 2³¹ elements before
    /// a kernel allocates it.
    static func checkedCount(_ shape: [Int], node: Node) throws -> Int {
        var total = 1
        for d in shape {
            let (product, overflow) = total.multipliedReportingOverflow(by: max(d, 0))
            guard !overflow, product <= 1 << 31 else {
                throw GraftError(.invalidArgument, "output would be too large", location: node.name,
                                 expected: "at most 2^31 elements", found: "shape \(shape)")
            }
            total = product
        }
        return total
    }

    /// Builds the output tensor from channels-last `values` [batch, spatial..., channels],
    /// transposing to channels-first when `format` says so.
    static func write<T: RuntimeScalar>(_ values: [T], batch: Int, spatial: [Int], channels: Int,
                                        format: DataFormat) throws -> Tensor {
        let t = try Tensor(shape: [batch] + spatial + [channels], scalars: values)
        if format == .channelsLast { return t }
        let r = spatial.count
        return try t.transposed([0, r + 1] + Array(1...r))
    }
}

/// The window arithmetic of one spatial axis: output size and padding before the first cell.
struct AxisGeometry {
    var input: Int
    var kernel: Int
    var stride: Int
    var dilation: Int
    var output: Int
    var padBefore: Int

    static let identity = AxisGeometry(input: 1, kernel: 1, stride: 1, dilation: 1, output: 1, padBefore: 0)

    /// A forward window (convolution or pooling) in Keras/TensorFlow terms:
    /// valid: out = floor((in − k_eff)/s) + 1; same: out = ceil(in/s) with total padding
    /// max((out − 1)·s + k_eff − in, 0), half before (the odd cell after);
    /// causal: (k_eff − 1) cells before, out = ceil(in/s). k_eff = (k − 1)·d + 1.
    static func forward(input: Int, kernel: Int, stride: Int, dilation: Int, padding: Padding) -> AxisGeometry {
        let effective = (kernel - 1) * dilation + 1
        switch padding {
        case .valid:
            let out = input >= effective ? (input - effective) / stride + 1 : 0
            return AxisGeometry(input: input, kernel: kernel, stride: stride, dilation: dilation, output: out, padBefore: 0)
        case .same:
            let out = (input + stride - 1) / stride
            let total = max((out - 1) * stride + effective - input, 0)
            return AxisGeometry(input: input, kernel: kernel, stride: stride, dilation: dilation, output: out, padBefore: total / 2)
        case .causal:
            let out = (input + stride - 1) / stride
            return AxisGeometry(input: input, kernel: kernel, stride: stride, dilation: dilation, output: out,
                                padBefore: effective - 1)
        }
    }

    /// Checks window attributes: one positive entry (below 2³¹) per spatial axis.
    static func check(_ values: [Int], rank: Int, field: String, node: Node) throws {
        guard values.count == rank, values.allSatisfy({ $0 >= 1 && $0 < 1 << 31 }) else {
            throw GraftError(.invalidArgument, "bad \(field)", location: node.name, field: field,
                             expected: "\(rank) positive values", found: "\(values)")
        }
    }
}
