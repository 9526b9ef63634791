import GraftCore

/// Dispatch for the convolution family: convolutions (standard, depthwise, separable,
/// transposed), pooling, global pooling, zero padding, cropping and upsampling.
/// Images follow each op's `dataFormat`; a 1-D op works on sequences [batch, steps, channels]
/// (channelsLast) or [batch, channels, steps] (channelsFirst).
enum ConvolutionKernels {
    static func evaluate<T: RuntimeScalar>(_ node: Node, _ inputs: [RuntimeValue], as type: T.Type) throws -> [RuntimeValue] {
        throw GraftError(.unsupported, "no kernel yet for op \(node.op.kindName)", location: node.name)
    }
}
