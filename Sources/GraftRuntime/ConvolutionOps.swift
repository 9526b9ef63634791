import GraftCore

/// Convolutions on OpenBLAS GEMM (im2col), on the channels-last `SpatialView`:
/// - standard: kernel [k..., in/groups, filters]; group g reads input channels
///   g·in/groups ..< (g+1)·in/groups and writes filters g·filters/groups ..< (g+1)·filters/groups;
/// - depthwise: kernel [k..., in, multiplier]; output channel c·multiplier + m;
/// - separable: depthwise, then pointwise [1..., in·multiplier, filters], then bias;
/// - transposed: kernel [k..., filters, in] (Keras' Conv*DTranspose layout), output size as
///   Keras computes it (valid: in·s + max(k_eff − s, 0); same: in·s; with output padding
///   (in − 1)·s + k_eff − 2·pad + outputPadding, pad = k_eff/2 for same, 0 for valid).
/// Bias and the fused activation follow.
enum ConvolutionOps {
    static func convolve<T: RuntimeScalar>(_ node: Node, _ a: ConvAttributes, _ x: Tensor, context: RuntimeContext = RuntimeContext(),
                                          as type: T.Type) throws -> Tensor {
        try AxisGeometry.check(a.kernelSize, rank: a.rank, field: "kernelSize", node: node)
        try AxisGeometry.check(a.strides, rank: a.rank, field: "strides", node: node)
        try AxisGeometry.check(a.dilation, rank: a.rank, field: "dilation", node: node)
        if a.padding == .causal && a.rank != 1 {
            throw GraftError(.unsupported, "causal padding exists only for 1-D convolutions", location: node.name,
                             field: "padding", found: "causal on rank \(a.rank)")
        }
        if case .standard = a.kind {
            return try standardLayer(node, a, x, context: context, as: T.self)
        }
        let (values, view) = try SpatialView.read(x, rank: a.rank, format: a.dataFormat, node: node, as: T.self)
        var result: (values: [T], spatial: [Int], channels: Int)
        switch a.kind {
        case .standard:
            result = try standard(node, a, values, view, kernelName: "kernel", as: T.self)
        case .depthwise(let multiplier):
            result = try depthwise(node, a, values, view, multiplier: multiplier, as: T.self)
        case .separable(let multiplier):
            let depth = try depthwise(node, a, values, view, multiplier: multiplier, as: T.self)
            let mid = depth.channels
            let pointwise: [T] = try node.parameterValues("pointwiseKernel", as: T.self,
                                                          shape: Array(repeating: 1, count: a.rank) + [mid, a.filters])
            let rows = view.batch * depth.spatial.reduce(1, *)
            let out = DenseKernels.gemmRows(depth.values, rows: rows, inFeatures: mid, weights: pointwise,
                                            units: a.filters, bias: nil)
            result = (out, depth.spatial, a.filters)
        case .transposed(let outputPadding):
            result = try transposed(node, a, values, view, outputPadding: outputPadding, as: T.self)
        }
        if a.useBias {
            let c = result.channels
            try node.withParameter("bias", as: T.self, shape: [c]) { bp in
                guard c > 0, let bias = bp.baseAddress else { return }
                result.values.withUnsafeMutableBufferPointer { vp in
                    guard let v = vp.baseAddress else { return }
                    for r in 0..<(vp.count / c) {
                        let row = v + r * c
                        for i in 0..<c { row[i] += bias[i] }
                    }
                }
            }
        }
        var out = try SpatialView.write(result.values, batch: view.batch, spatial: result.spatial,
                                        channels: result.channels, format: .channelsLast)
        try ActivationKernels.applyInPlace(a.activation, &out, featureAxis: out.rank - 1, as: T.self)
        if a.dataFormat == .channelsFirst {
            out = try out.transposed([0, a.rank + 1] + Array(1...a.rank))
        }
        return out
    }

    /// The forward geometry of every lifted axis (identity on the padding axes).
    static func geometry(_ a: ConvAttributes, _ view: SpatialView) -> [AxisGeometry] {
        let lead = 3 - a.rank
        return (0..<3).map { axis in
            guard axis >= lead else { return .identity }
            let i = axis - lead
            return AxisGeometry.forward(input: view.dims[axis], kernel: a.kernelSize[i], stride: a.strides[i],
                                        dilation: a.dilation[i], padding: a.padding)
        }
    }

    /// Standard (optionally grouped) convolution without bias: per group, im2col over the
    /// whole batch then one GEMM [batch·positions, k·in/groups] · [k·in/groups, filters/groups]
    /// (a 1×1 window with stride 1 needs no im2col). The column buffer holds at most
    /// `columnBudget` values (whole rows; at least one; by default see below), filled and
    /// multiplied block by block.
    static func standard<T: RuntimeScalar>(_ node: Node, _ a: ConvAttributes, _ x: [T], _ view: SpatialView,
                                           kernelName: String, columnBudget: Int? = nil,
                                           as type: T.Type) throws -> (values: [T], spatial: [Int], channels: Int) {
        let outDims = geometry(a, view).map(\.output)
        var out = [T](repeating: 0, count: view.batch * outDims.reduce(1, *) * a.filters)
        try x.withUnsafeBufferPointer { xp in
            try out.withUnsafeMutableBufferPointer { op in
                try standard(node, a, xp, view, kernelName: kernelName, columnBudget: columnBudget, into: op)
            }
        }
        return (out, Array(outDims.suffix(a.rank)), a.filters)
    }

    /// Depthwise convolution without bias: out[p, c·multiplier + m] = Σ_taps x[window(p), c]·k[tap, c, m].
    static func depthwise<T: RuntimeScalar>(_ node: Node, _ a: ConvAttributes, _ x: [T], _ view: SpatialView,
                                            multiplier: Int, as type: T.Type) throws -> (values: [T], spatial: [Int], channels: Int) {
        let cin = view.channels
        guard multiplier >= 1 else {
            throw GraftError(.invalidArgument, "depth multiplier must be positive", location: node.name,
                             field: "multiplier", found: "\(multiplier)")
        }
        let kernel: [T] = try node.parameterValues("depthwiseKernel", as: T.self, shape: a.kernelSize + [cin, multiplier])
        let geo = geometry(a, view)
        let outDims = geo.map(\.output)
        let positions = outDims.reduce(1, *)
        let cout = cin * multiplier
        var out = [T](repeating: 0, count: view.batch * positions * cout)
        let (h, w) = (view.dims[1], view.dims[2])
        for b in 0..<view.batch {
            let inBase = b * view.positions * cin
            var p = 0
            for oz in 0..<geo[0].output {
                for oy in 0..<geo[1].output {
                    for ox in 0..<geo[2].output {
                        let outBase = (b * positions + p) * cout
                        var tap = 0
                        for kz in 0..<geo[0].kernel {
                            let iz = oz * geo[0].stride - geo[0].padBefore + kz * geo[0].dilation
                            for ky in 0..<geo[1].kernel {
                                let iy = oy * geo[1].stride - geo[1].padBefore + ky * geo[1].dilation
                                for kx in 0..<geo[2].kernel {
                                    let ix = ox * geo[2].stride - geo[2].padBefore + kx * geo[2].dilation
                                    defer { tap += 1 }
                                    if iz < 0 || iz >= view.dims[0] || iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
                                    let src = inBase + ((iz * h + iy) * w + ix) * cin
                                    let kBase = tap * cout
                                    for c in 0..<cin {
                                        let v = x[src + c]
                                        for m in 0..<multiplier {
                                            out[outBase + c * multiplier + m] += v * kernel[kBase + c * multiplier + m]
                                        }
                                    }
                                }
                            }
                        }
                        p += 1
                    }
                }
            }
        }
        return (out, Array(outDims.suffix(a.rank)), cout)
    }

    /// Transposed convolution without bias: per example one GEMM x[positions, in] · kernelᵀ
    /// [in, taps·filters], then each tap's contribution is added at output position
    /// i·s + k·d − padBefore (col2im). padBefore is the padding of the forward convolution
    /// that maps the output size back to the input size (TensorFlow's conv_transpose).
    static func transposed<T: RuntimeScalar>(_ node: Node, _ a: ConvAttributes, _ x: [T], _ view: SpatialView,
                                             outputPadding: [Int]?, as type: T.Type) throws -> (values: [T], spatial: [Int], channels: Int) {
        guard a.groups == 1 else {
            throw GraftError(.unsupported, "grouped transposed convolution", location: node.name, field: "groups",
                             expected: "1", found: "\(a.groups)")
        }
        if a.padding == .causal {
            throw GraftError(.unsupported, "causal padding for a transposed convolution", location: node.name, field: "padding")
        }
        if let outputPadding, outputPadding.count != a.rank {
            throw GraftError(.invalidArgument, "bad outputPadding", location: node.name, field: "outputPadding",
                             expected: "\(a.rank) values", found: "\(outputPadding)")
        }
        let cin = view.channels, filters = a.filters
        let kernel: [T] = try node.parameterValues("kernel", as: T.self, shape: a.kernelSize + [filters, cin])
        let lead = 3 - a.rank
        let geo: [AxisGeometry] = (0..<3).map { axis in
            guard axis >= lead else { return .identity }
            let i = axis - lead
            let input = view.dims[axis], k = a.kernelSize[i], s = a.strides[i], d = a.dilation[i]
            let effective = (k - 1) * d + 1
            let length: Int
            if let outputPadding {
                let pad = a.padding == .same ? effective / 2 : 0
                length = (input - 1) * s + effective - 2 * pad + outputPadding[i]
            } else {
                length = a.padding == .same ? input * s : input * s + max(effective - s, 0)
            }
            let padBefore = a.padding == .same ? max((input - 1) * s + effective - length, 0) / 2 : 0
            return AxisGeometry(input: input, kernel: k, stride: s, dilation: d, output: max(length, 0), padBefore: padBefore)
        }
        let outDims = geo.map(\.output)
        let outPositions = try SpatialView.checkedCount(outDims, node: node)
        let taps = geo.map(\.kernel).reduce(1, *)
        var out = [T](repeating: 0, count: try SpatialView.checkedCount([view.batch, outPositions, filters], node: node))
        let inPositions = view.positions
        guard inPositions > 0, filters > 0, outPositions > 0, cin > 0 else {
            return (out, Array(outDims.suffix(a.rank)), filters)
        }
        var cols = [T](repeating: 0, count: inPositions * taps * filters)
        let (oh, ow) = (outDims[1], outDims[2])
        for b in 0..<view.batch {
            x.withUnsafeBufferPointer { xp in
                kernel.withUnsafeBufferPointer { kp in
                    cols.withUnsafeMutableBufferPointer { cp in
                        T.gemm(transA: false, transB: true, m: inPositions, n: taps * filters, k: cin, alpha: 1,
                               a: xp.baseAddress! + b * inPositions * cin, lda: cin, b: kp.baseAddress!, ldb: cin,
                               beta: 0, c: cp.baseAddress!, ldc: taps * filters)
                    }
                }
            }
            let outBase = b * outPositions * filters
            var p = 0
            for iz in 0..<view.dims[0] {
                for iy in 0..<view.dims[1] {
                    for ix in 0..<view.dims[2] {
                        var tap = 0
                        for kz in 0..<geo[0].kernel {
                            let oz = iz * geo[0].stride + kz * geo[0].dilation - geo[0].padBefore
                            for ky in 0..<geo[1].kernel {
                                let oy = iy * geo[1].stride + ky * geo[1].dilation - geo[1].padBefore
                                for kx in 0..<geo[2].kernel {
                                    let ox = ix * geo[2].stride + kx * geo[2].dilation - geo[2].padBefore
                                    defer { tap += 1 }
                                    if oz < 0 || oz >= outDims[0] || oy < 0 || oy >= oh || ox < 0 || ox >= ow { continue }
                                    let dst = outBase + ((oz * oh + oy) * ow + ox) * filters
                                    let src = (p * taps + tap) * filters
                                    for f in 0..<filters { out[dst + f] += cols[src + f] }
                                }
                            }
                        }
                        p += 1
                    }
                }
            }
        }
        return (out, Array(outDims.suffix(a.rank)), filters)
    }
}
