import CGEMM
import GraftCore

/// Max and average pooling over windows, and global pooling over all spatial axes.
/// Cells in padding never count: max ignores them (TensorFlow pads with −∞) and the
/// average divides by the number of real cells in the window, as TensorFlow does.
enum PoolingKernels {
    static func pool<T: RuntimeScalar>(_ node: Node, _ a: PoolingAttributes, _ x: Tensor, as type: T.Type) throws -> Tensor {
        try AxisGeometry.check(a.poolSize, rank: a.rank, field: "poolSize", node: node)
        try AxisGeometry.check(a.strides, rank: a.rank, field: "strides", node: node)
        if a.padding == .causal {
            throw GraftError(.unsupported, "causal padding for pooling", location: node.name, field: "padding")
        }
        let (input, view) = try SpatialView.channelsLast(x, rank: a.rank, format: a.dataFormat, node: node)
        let lead = 3 - a.rank
        let geo: [AxisGeometry] = (0..<3).map { axis in
            guard axis >= lead else { return .identity }
            return AxisGeometry.forward(input: view.dims[axis], kernel: a.poolSize[axis - lead],
                                        stride: a.strides[axis - lead], dilation: 1, padding: a.padding)
        }
        let outDims = geo.map(\.output)
        let c = view.channels
        let (h, w) = (view.dims[1], view.dims[2])
        let outSpatial = Array(outDims.suffix(a.rank))
        _ = try SpatialView.checkedCount([view.batch] + outSpatial + [c], node: node)
        // Every output element is written below.
        var result = try Tensor(uninitialized: [view.batch] + outSpatial + [c], dtype: T.dtype)
        let isMax = a.kind == .max
        let (gz, gy, gx) = (geo[0], geo[1], geo[2])
        let (d, outD, outH, outW) = (view.dims[0], outDims[0], outDims[1], outDims[2])
        // Work items: output lines (example, oz, oy), shared between the runtime's threads.
        let lines = view.batch * outD * outH
        let threads = lines * outW * c >= 1 << 15 ? ParallelWork.threadCount : 1
        if isMax && T.self == Float.self {
            var g = graft_max_pool_geometry()
            (g.batch, g.d, g.h, g.w, g.c) = (view.batch, d, h, w, c)
            (g.kd, g.kh, g.kw) = (gz.kernel, gy.kernel, gx.kernel)
            (g.sd, g.sh, g.sw) = (gz.stride, gy.stride, gx.stride)
            (g.pd, g.ph, g.pw) = (gz.padBefore, gy.padBefore, gx.padBefore)
            (g.od, g.oh, g.ow) = (outD, outH, outW)
            maxPoolFloat(g, input, into: &result, lines: lines, threads: threads)
        } else {
            input.withScalars(as: T.self) { vp in
                result.withUnsafeMutableBytes { raw in
                    let op = raw.bindMemory(to: T.self)
                    guard c > 0, let input = vp.baseAddress, let output = op.baseAddress else { return }
                    ParallelWork.forEachItem(lines, threads: threads) { _, next in
                        while let line = next() {
                            let b = line / (outD * outH), oz = (line / outH) % outD, oy = line % outH
                            let inBase = input + b * view.positions * c
                            // The window's rows inside the input (padding cells never count).
                            let z0 = max(oz * gz.stride - gz.padBefore, 0), z1 = min(oz * gz.stride - gz.padBefore + gz.kernel, d)
                            let y0 = max(oy * gy.stride - gy.padBefore, 0), y1 = min(oy * gy.stride - gy.padBefore + gy.kernel, h)
                            var o = output + line * outW * c
                            for ox in 0..<outW {
                                let x0 = max(ox * gx.stride - gx.padBefore, 0), x1 = min(ox * gx.stride - gx.padBefore + gx.kernel, w)
                                let cells = max(z1 - z0, 0) * max(y1 - y0, 0) * max(x1 - x0, 0)
                                if cells == 0 {
                                    o.update(repeating: isMax ? -T.infinity : 0, count: c)
                                    o += c
                                    continue
                                }
                                // The output row starts as the first cell and accumulates the others in place.
                                o.update(from: inBase + ((z0 * h + y0) * w + x0) * c, count: c)
                                let (xCells, yxCells) = (x1 - x0, (y1 - y0) * (x1 - x0))
                                for cell in 1..<cells {
                                    let iz = z0 + cell / yxCells, iy = y0 + (cell / xCells) % (y1 - y0), ix = x0 + cell % xCells
                                    let src = inBase + ((iz * h + iy) * w + ix) * c
                                    if isMax {
                                        for i in 0..<c {
                                            let v = src[i], m = o[i]
                                            o[i] = v > m || v != v ? v : m
                                        }
                                    } else {
                                        for i in 0..<c { o[i] += src[i] }
                                    }
                                }
                                if !isMax && cells > 1 {
                                    let divisor = T(cells)
                                    for i in 0..<c { o[i] /= divisor }
                                }
                                o += c
                            }
                        }
                    }
                }
            }
        }
        if a.dataFormat == .channelsFirst {
            result = try result.transposed([0, a.rank + 1] + Array(1...a.rank))
        }
        return result
    }

    /// Float32 max pooling through CGEMM's one-pass kernel (`graft_max_pool`): `input`
    /// channels-last as `g` describes it, `result` [batch, od, oh, ow, c] (every element
    /// written). Lines are shared between threads in items of ~2¹³ output values.
    static func maxPoolFloat(_ g: graft_max_pool_geometry, _ input: Tensor, into result: inout Tensor, lines: Int, threads: Int,
                             variant: PackedGEMM.Variant = PackedGEMM.forcedVariant) {
        guard g.c > 0, lines > 0 else { return }
        let itemLines = max(1, (1 << 13) / max(g.ow * g.c, 1))
        let items = (lines + itemLines - 1) / itemLines
        let v = Int32(variant.rawValue)
        input.withScalars(as: Float.self) { xp in
            result.withUnsafeMutableBytes { raw in
                guard let x = xp.baseAddress, let out = raw.bindMemory(to: Float.self).baseAddress else { return }
                ParallelWork.forEachItem(items, threads: items > 1 ? threads : 1) { _, next in
                    withUnsafePointer(to: g) { gp in
                        while let item = next() {
                            let start = item * itemLines
                            graft_max_pool(v, gp, x, out, start, min(lines, start + itemLines))
                        }
                    }
                }
            }
        }
    }

    /// Global max/average over all spatial axes → [batch, channels] (or with size-1 spatial
    /// axes when `keepDims`). A 1-D input's mask leaves masked steps out of the average
    /// (Keras' GlobalAveragePooling1D) and, with DL4J semantics, out of the max too (DL4J's
    /// GlobalPoolingLayer; Keras' GlobalMaxPooling1D ignores masks). A fully masked example gives 0.
    static func globalPool<T: RuntimeScalar>(_ node: Node, _ a: GlobalPoolingAttributes, _ x: RuntimeValue,
                                             masking: MaskSemantics = .keras, as type: T.Type) throws -> Tensor {
        let (values, view) = try SpatialView.read(x.tensor, rank: a.rank, format: a.dataFormat, node: node, as: T.self)
        let c = view.channels, positions = view.positions
        var mask: [Bool]? = nil
        if a.rank == 1, let m = x.mask, a.kind == .average || masking == .dl4j {
            guard m.count == view.batch * positions else {
                throw GraftError(.shapeMismatch, "mask does not match the sequence", location: node.name, field: "mask",
                                 expected: "\(view.batch * positions) entries", found: "\(m.count)")
            }
            mask = m
        }
        var out = [T](repeating: 0, count: view.batch * c)
        for b in 0..<view.batch {
            var acc = [T](repeating: a.kind == .max ? -T.infinity : 0, count: c)
            var cells = 0
            for p in 0..<positions {
                if let mask, !mask[b * positions + p] { continue }
                cells += 1
                let src = (b * positions + p) * c
                if a.kind == .max {
                    for i in 0..<c where values[src + i] > acc[i] || values[src + i].isNaN { acc[i] = values[src + i] }
                } else {
                    for i in 0..<c { acc[i] += values[src + i] }
                }
            }
            for i in 0..<c {
                out[b * c + i] = cells == 0 ? 0 : (a.kind == .max ? acc[i] : acc[i] / T(cells))
            }
        }
        let ones = Array(repeating: 1, count: a.rank)
        let shape: [Int]
        if !a.keepDims {
            shape = [view.batch, c]
        } else {
            shape = a.dataFormat == .channelsLast ? [view.batch] + ones + [c] : [view.batch, c] + ones
        }
        return try Tensor(shape: shape, scalars: out)
    }
}
