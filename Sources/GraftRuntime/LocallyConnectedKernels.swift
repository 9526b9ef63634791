import GraftCore

/// Locally connected layers (see `LocallyConnectedAttributes`): for every output position p,
/// out[b, p, :] = patch(b, p) · kernel[p] + bias[p], then the activation. The patch is the
/// valid-padding window at p flattened in (tap, channel) order — the same im2col row the
/// convolutions use, on the channels-last `SpatialView`.
enum LocallyConnectedKernels {
    static func locallyConnected<T: RuntimeScalar>(_ node: Node, _ a: LocallyConnectedAttributes, _ x: Tensor,
                                                   as type: T.Type) throws -> Tensor {
        guard a.rank == 1 || a.rank == 2 else {
            throw GraftError(.unsupported, "locally connected layers have 1 or 2 spatial axes", location: node.name,
                             field: "rank", expected: "1 or 2", found: "\(a.rank)")
        }
        try AxisGeometry.check(a.kernelSize, rank: a.rank, field: "kernelSize", node: node)
        try AxisGeometry.check(a.strides, rank: a.rank, field: "strides", node: node)
        let (values, view) = try SpatialView.read(x, rank: a.rank, format: a.dataFormat, node: node, as: T.self)
        let lead = 3 - a.rank
        let geo: [AxisGeometry] = (0..<3).map { axis in
            guard axis >= lead else { return .identity }
            let i = axis - lead
            return AxisGeometry.forward(input: view.dims[axis], kernel: a.kernelSize[i], stride: a.strides[i],
                                        dilation: 1, padding: .valid)
        }
        let outSpatial = Array(geo.map(\.output).suffix(a.rank))
        let positions = outSpatial.reduce(1, *)
        let rowLength = a.kernelSize.reduce(1, *) * view.channels
        let filters = a.filters
        let kernel: [T] = try node.parameterValues("kernel", as: T.self, shape: [positions, rowLength, filters])
        let bias: [T]? = a.useBias ? try node.parameterValues("bias", as: T.self, shape: outSpatial + [filters]) : nil
        var out = [T](repeating: 0, count: view.batch * positions * filters)
        var cols = [T](repeating: 0, count: positions * rowLength)
        for b in 0..<view.batch {
            values.withUnsafeBufferPointer { xp in
                cols.withUnsafeMutableBufferPointer { cp in
                    guard let x = xp.baseAddress, let c = cp.baseAddress else { return }
                    ConvolutionOps.im2col(x + b * view.positions * view.channels, view: view, geo: geo, channelOffset: 0,
                                          channelCount: view.channels, positions: 0..<positions, into: c)
                }
            }
            for p in 0..<positions {
                let dst = (b * positions + p) * filters
                for f in 0..<filters { out[dst + f] = bias?[p * filters + f] ?? 0 }
                let kBase = p * rowLength * filters
                for r in 0..<rowLength {
                    let v = cols[p * rowLength + r]
                    if v == 0 { continue }
                    let row = kBase + r * filters
                    for f in 0..<filters { out[dst + f] += v * kernel[row + f] }
                }
            }
        }
        var result = try SpatialView.write(out, batch: view.batch, spatial: outSpatial, channels: filters, format: .channelsLast)
        try ActivationKernels.applyInPlace(a.activation, &result, featureAxis: result.rank - 1, as: T.self)
        if a.dataFormat == .channelsFirst {
            result = try result.transposed([0, a.rank + 1] + Array(1...a.rank))
        }
        return result
    }
}
