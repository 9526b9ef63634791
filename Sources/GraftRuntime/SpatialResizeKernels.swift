import GraftCore

/// Zero padding, cropping and upsampling of the spatial axes (1-D, 2-D, 3-D, either data format).
enum SpatialResizeKernels {
    static func zeroPad<T: RuntimeScalar>(_ node: Node, _ a: SpatialPadAttributes, _ x: Tensor, as type: T.Type) throws -> Tensor {
        try checkAmounts(node, a)
        let (values, view) = try SpatialView.read(x, rank: a.rank, format: a.dataFormat, node: node, as: T.self)
        let before = SpatialView.lift(a.amounts.map(\.before), fill: 0)
        let outDims = (0..<3).map { view.dims[$0] + before[$0] + (SpatialView.lift(a.amounts.map(\.after), fill: 0))[$0] }
        return try copyWindow(values, view, outDims: outDims, offset: before.map { -$0 }, rank: a.rank, format: a.dataFormat, node: node)
    }

    static func crop<T: RuntimeScalar>(_ node: Node, _ a: SpatialPadAttributes, _ x: Tensor, as type: T.Type) throws -> Tensor {
        try checkAmounts(node, a)
        let (values, view) = try SpatialView.read(x, rank: a.rank, format: a.dataFormat, node: node, as: T.self)
        let before = SpatialView.lift(a.amounts.map(\.before), fill: 0)
        let after = SpatialView.lift(a.amounts.map(\.after), fill: 0)
        let outDims = (0..<3).map { view.dims[$0] - before[$0] - after[$0] }
        guard outDims.allSatisfy({ $0 >= 0 }) else {
            throw GraftError(.shapeMismatch, "cropping removes more than the input has", location: node.name,
                             field: "cropping", expected: "at most \(view.spatial) per axis",
                             found: "\(a.amounts.map { "(\($0.before), \($0.after))" })")
        }
        return try copyWindow(values, view, outDims: outDims, offset: before, rank: a.rank, format: a.dataFormat, node: node)
    }

    /// out[o] = x[o + offset] where inside the input, else 0 (per lifted spatial axis).
    static func copyWindow<T: RuntimeScalar>(_ x: [T], _ view: SpatialView, outDims: [Int], offset: [Int], rank: Int,
                                             format: DataFormat, node: Node) throws -> Tensor {
        let c = view.channels
        var out = [T](repeating: 0, count: try SpatialView.checkedCount([view.batch] + outDims + [c], node: node))
        var o = 0
        for b in 0..<view.batch {
            for z in 0..<outDims[0] {
                let iz = z + offset[0]
                for y in 0..<outDims[1] {
                    let iy = y + offset[1]
                    for xx in 0..<outDims[2] {
                        let ix = xx + offset[2]
                        if iz >= 0, iz < view.dims[0], iy >= 0, iy < view.dims[1], ix >= 0, ix < view.dims[2] {
                            let src = (((b * view.dims[0] + iz) * view.dims[1] + iy) * view.dims[2] + ix) * c
                            for i in 0..<c { out[o + i] = x[src + i] }
                        }
                        o += c
                    }
                }
            }
        }
        return try SpatialView.write(out, batch: view.batch, spatial: Array(outDims.suffix(rank)), channels: c, format: format)
    }

    static func checkAmounts(_ node: Node, _ a: SpatialPadAttributes) throws {
        let limit = 1 << 31
        guard a.amounts.count == a.rank,
              a.amounts.allSatisfy({ $0.before >= 0 && $0.after >= 0 && $0.before < limit && $0.after < limit }) else {
            throw GraftError(.invalidArgument, "bad padding/cropping amounts", location: node.name, field: "amounts",
                             expected: "\(a.rank) non-negative (before, after) pairs",
                             found: "\(a.amounts.map { "(\($0.before), \($0.after))" })")
        }
    }

    /// Nearest-neighbour upsampling repeats each cell `size` times per axis (Keras UpSampling*D);
    /// `bilinear` (2-D) interpolates with half-pixel centres, as tf.image.resize does.
    static func upSample<T: RuntimeScalar>(_ node: Node, _ a: UpSamplingAttributes, _ x: Tensor, as type: T.Type) throws -> Tensor {
        try AxisGeometry.check(a.size, rank: a.rank, field: "size", node: node)
        let (values, view) = try SpatialView.read(x, rank: a.rank, format: a.dataFormat, node: node, as: T.self)
        let size = SpatialView.lift(a.size, fill: 1)
        let outDims = (0..<3).map { view.dims[$0] * size[$0] }
        let c = view.channels
        var out = [T](repeating: 0, count: try SpatialView.checkedCount([view.batch] + outDims + [c], node: node))
        switch a.interpolation.lowercased() {
        case "nearest":
            var o = 0
            for b in 0..<view.batch {
                for z in 0..<outDims[0] {
                    for y in 0..<outDims[1] {
                        for xx in 0..<outDims[2] {
                            let src = (((b * view.dims[0] + z / size[0]) * view.dims[1] + y / size[1]) * view.dims[2] + xx / size[2]) * c
                            for i in 0..<c { out[o + i] = values[src + i] }
                            o += c
                        }
                    }
                }
            }
        case "bilinear" where a.rank == 2:
            let ys = taps(input: view.dims[1], output: outDims[1], as: T.self)
            let xs = taps(input: view.dims[2], output: outDims[2], as: T.self)
            let (h, w) = (view.dims[1], view.dims[2])
            var o = 0
            for b in 0..<view.batch {
                for y in 0..<outDims[1] {
                    let (y0, y1, fy) = ys[y]
                    for xx in 0..<outDims[2] {
                        let (x0, x1, fx) = xs[xx]
                        let base = b * h * w
                        let p00 = (base + y0 * w + x0) * c, p01 = (base + y0 * w + x1) * c
                        let p10 = (base + y1 * w + x0) * c, p11 = (base + y1 * w + x1) * c
                        for i in 0..<c {
                            let top = values[p00 + i] + (values[p01 + i] - values[p00 + i]) * fx
                            let bottom = values[p10 + i] + (values[p11 + i] - values[p10 + i]) * fx
                            out[o + i] = top + (bottom - top) * fy
                        }
                        o += c
                    }
                }
            }
        default:
            throw GraftError(.unsupported, "upsampling interpolation '\(a.interpolation)' for rank \(a.rank)",
                             location: node.name, field: "interpolation", expected: "nearest, or bilinear in 2-D",
                             found: a.interpolation)
        }
        return try SpatialView.write(out, batch: view.batch, spatial: Array(outDims.suffix(a.rank)), channels: c,
                                     format: a.dataFormat)
    }

    /// For each output index: the two source indices and the weight of the second, with
    /// half-pixel centres: src = (o + 0.5)·in/out − 0.5, clamped to the input.
    static func taps<T: RuntimeScalar>(input: Int, output: Int, as type: T.Type) -> [(Int, Int, T)] {
        let scale = Double(input) / Double(max(output, 1))
        return (0..<output).map { o in
            let src = (Double(o) + 0.5) * scale - 0.5
            let floorValue = src.rounded(.down)
            let lower = min(max(Int(floorValue), 0), input - 1)
            let upper = min(max(Int(src.rounded(.up)), 0), input - 1)
            return (lower, upper, T(src - floorValue))
        }
    }
}
