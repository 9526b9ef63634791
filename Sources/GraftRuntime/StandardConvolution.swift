import CGEMM
import GraftCore

/// Standard (optionally grouped) convolution as im2col + GEMM, channels-last.
///
/// The output rows — (example, output position) pairs over the whole batch — are cut in
/// blocks. Each block: im2col of its rows into a small column buffer (cache-resident), one
/// `convolutionGEMM` per group writing the block's output rows with the bias already in,
/// then the element-wise activation on the block while it is still in cache. With several
/// threads the blocks are shared between them (`ParallelWork`), each with its own column
/// buffer and single-threaded GEMMs; only when there are too few rows to share is the GEMM
/// left to OpenBLAS' threads.
///
/// Inside an Interpreter, float32 convolutions with one group take another path instead
/// (`packedStandard`): the kernel packed once (cached per Interpreter like Dense's) for the
/// CGEMM microkernels, each tile of 12 output pixels' windows packed straight from the input
/// (`graft_conv_packed`), K in blocks of ≤ 256, bias and ReLU in the microkernel's epilogue,
/// output pixels shared between threads. Measured end to end against this im2col + OpenBLAS
/// path in the same runs (batch 32, `graft-bench forward`, `GRAFT_CONV_PACKED=0` for the old
/// path; CPU time per call, the machine being shared): small CNN 1.3× less CPU (1.8× the
/// throughput) on one thread and two, VGG16 1.15–1.2× less CPU. Both models' convolution
/// shapes (C = 1, 3, 32, 64…512; K = 9…4608; N = 32…512) gained together; they were not
/// timed layer by layer, so the choice is by type only (float32, groups = 1, an Interpreter's
/// cache, `GRAFT_CONV_PACKED` not 0). Float64, grouped convolutions, ConvLSTM and direct
/// calls without a cache keep the im2col + OpenBLAS path.
///
/// A 2-D convolution whose only use is a "valid" max pooling with stride = window (Keras'
/// MaxPooling2D default) runs fused with it inside an Interpreter (`maxPooledLayer`,
/// `Interpreter+Fusion.swift`): its rows are pooled from a cache-sized scratch buffer, the full
/// convolution output never being written to memory and read back.
extension ConvolutionOps {
    /// A standard convolution layer: the input read in place when channels-last, the output
    /// written straight into the result tensor with bias and (element-wise) activation fused.
    static func standardLayer<T: RuntimeScalar>(_ node: Node, _ a: ConvAttributes, _ x: Tensor,
                                                context: RuntimeContext = RuntimeContext(), as type: T.Type) throws -> Tensor {
        let (input, view) = try SpatialView.channelsLast(x, rank: a.rank, format: a.dataFormat, node: node)
        let packed = try packedKernel(node, a, view, kernelName: "kernel", context: context, as: T.self)
        let outSpatial = Array(geometry(a, view).map(\.output).suffix(a.rank))
        let filters = a.filters
        let count = try SpatialView.checkedCount([view.batch] + outSpatial + [filters], node: node)
        // Every output element is written by the GEMM (or zero-filled by `standard`).
        var out = try Tensor(uninitialized: [view.batch] + outSpatial + [filters], dtype: T.dtype)
        let fused = Self.isElementwise(a.activation)
        try input.withScalars(as: T.self) { xp in
            try out.withUnsafeMutableBytes { raw in
                let op = UnsafeMutableBufferPointer(rebasing: raw.bindMemory(to: T.self)[0..<count])
                let activation: ActivationFunction = fused ? a.activation : .linear
                if a.useBias {
                    try node.withParameter("bias", as: T.self, shape: [filters]) { bp in
                        try standard(node, a, xp, view, kernelName: "kernel", bias: bp.baseAddress, activation: activation,
                                     packed: packed, into: op)
                    }
                } else {
                    try standard(node, a, xp, view, kernelName: "kernel", activation: activation, packed: packed, into: op)
                }
            }
        }
        if !fused {
            try ActivationKernels.applyInPlace(a.activation, &out, featureAxis: out.rank - 1, as: T.self)
        }
        if a.dataFormat == .channelsFirst {
            out = try out.transposed([0, a.rank + 1] + Array(1...a.rank))
        }
        return out
    }

    /// A 2-D standard convolution and the max pooling that is its only use, computed together
    /// (`graft_conv_packed_max_pool`): the convolution rows of a few pooled lines at a time are
    /// pooled while in cache, so its full output is never written and read back. The result is
    /// the pooling's output, the same values as the two layers one after the other. Nil when
    /// the pair does not qualify, the caller then runs the two layers: float32 on the packed
    /// path (`packedKernel`), both layers channels-last, the convolution's activation ReLU or
    /// linear, the pooling max, "valid", with strides equal to its window. `variant`: the
    /// microkernel family (tests choose one).
    static func maxPooledLayer(_ node: Node, _ a: ConvAttributes, _ pool: PoolingAttributes, _ x: Tensor,
                               context: RuntimeContext, variant: PackedGEMM.Variant = PackedGEMM.forcedVariant) throws -> Tensor? {
        guard case .standard = a.kind, a.rank == 2, a.dataFormat == .channelsLast, a.padding != .causal,
              pool.kind == .max, pool.rank == 2, pool.dataFormat == .channelsLast, pool.padding == .valid,
              pool.strides == pool.poolSize, pool.poolSize.allSatisfy({ $0 > 0 }), x.dtype == .float32 else { return nil }
        let relu: Bool
        switch a.activation {
        case .relu(nil, 0, 0): relu = true
        case .linear: relu = false
        default: return nil
        }
        try AxisGeometry.check(a.kernelSize, rank: a.rank, field: "kernelSize", node: node)
        try AxisGeometry.check(a.strides, rank: a.rank, field: "strides", node: node)
        try AxisGeometry.check(a.dilation, rank: a.rank, field: "dilation", node: node)
        let (input, view) = try SpatialView.channelsLast(x, rank: a.rank, format: a.dataFormat, node: node)
        guard let weights = try packedKernel(node, a, view, kernelName: "kernel", context: context, as: Float.self),
              let packed = weights.packed else { return nil }
        let geo = geometry(a, view)
        let (poolH, poolW) = (pool.poolSize[0], pool.poolSize[1])
        let filters = a.filters
        let linesPerImage = geo[1].output / poolH, pooledW = geo[2].output / poolW
        let lines = view.batch * linesPerImage
        _ = try SpatialView.checkedCount([view.batch, linesPerImage, pooledW, filters], node: node)
        var out = try Tensor(uninitialized: [view.batch, linesPerImage, pooledW, filters], dtype: .float32)
        guard lines > 0, pooledW > 0 else { return out }
        let g = convGeometry(geo, view)
        // Items: whole images' lines, smaller when there are fewer than 4 images per thread.
        let threads = ParallelWork.threadCount
        let itemLines = max(1, min(linesPerImage, (lines + 4 * threads - 1) / (4 * threads)))
        let items = (lines + itemLines - 1) / itemLines
        let v = Int32(variant.rawValue)
        let done = try input.withScalars(as: Float.self) { xp in
            try out.withUnsafeMutableBytes { raw in
                guard let xs = xp.baseAddress, let o = raw.bindMemory(to: Float.self).baseAddress else { return false }
                let run: (UnsafePointer<Float>?) -> Bool = { bias in
                    // An item fails only when its scratch buffer cannot be allocated: one flag
                    // per worker, and the caller runs the two layers instead.
                    let failed = UnsafeMutableBufferPointer<Bool>.allocate(capacity: threads)
                    failed.initialize(repeating: false)
                    defer { failed.deallocate() }
                    ParallelWork.forEachItem(items, threads: items > 1 ? threads : 1) { worker, next in
                        withUnsafePointer(to: g) { gp in
                            while let item = next() {
                                let start = item * itemLines
                                if graft_conv_packed_max_pool(v, gp, xs, packed, filters, bias, relu ? 1 : 0, poolH, poolW, o,
                                                              start, min(lines, start + itemLines)) == 0 {
                                    failed[worker] = true
                                }
                            }
                        }
                    }
                    return !failed.contains(true)
                }
                if a.useBias {
                    return try node.withParameter("bias", as: Float.self, shape: [filters]) { bp in run(bp.baseAddress) }
                }
                return run(nil)
            }
        }
        return done ? out : nil
    }

    /// Whether `f` works element by element (so it can run on any block of the output).
    static func isElementwise(_ f: ActivationFunction) -> Bool {
        if case .softmax = f { return false }
        return true
    }

    /// The same on buffers: `x` channels-last as `view` describes it, `out` [batch, positions,
    /// filters] = conv(x) + `bias` (per filter; none = 0), then `activation` (element-wise
    /// only). `columnBudget` bounds the column buffer (values; whole rows, at least one);
    /// `threads` defaults to the runtime's thread count. With `packed` (the kernel packed by
    /// `packedKernel`; float32, one group) the implicit-im2col packed GEMM runs instead
    /// (`packedStandard`) and `columnBudget` does not apply.
    static func standard<T: RuntimeScalar>(_ node: Node, _ a: ConvAttributes, _ x: UnsafeBufferPointer<T>, _ view: SpatialView,
                                           kernelName: String, columnBudget: Int? = nil, bias: UnsafePointer<T>? = nil,
                                           activation: ActivationFunction = .linear, threads: Int? = nil,
                                           packed: PackedWeights? = nil,
                                           into out: UnsafeMutableBufferPointer<T>) throws {
        let cin = view.channels, filters = a.filters, groups = a.groups
        guard groups >= 1, cin % groups == 0, filters % groups == 0 else {
            throw GraftError(.shapeMismatch, "channels and filters must divide by groups", location: node.name,
                             field: "groups", expected: "divisors of \(cin) input channels and \(filters) filters",
                             found: "\(groups)")
        }
        guard isElementwise(activation) else {
            throw GraftError(.invalidArgument, "only element-wise activations can be fused into a convolution",
                             location: node.name, field: "activation")
        }
        let cg = cin / groups, fg = filters / groups
        let geo = geometry(a, view)
        let positions = geo.map(\.output).reduce(1, *)
        let taps = geo.map(\.kernel).reduce(1, *)
        let rowLength = taps * cg
        guard out.count >= view.batch * positions * filters, x.count >= view.batch * view.positions * cin else {
            throw GraftError(.shapeMismatch, "convolution buffers do not match the input", location: node.name,
                             expected: "\(view.batch * view.positions * cin) input values", found: "\(x.count)")
        }
        let rows = view.batch * positions
        guard rows > 0, filters > 0 else { return }
        guard rowLength > 0 else {
            // No input channels: the output is the bias (then the activation) everywhere.
            for r in 0..<rows {
                let row = out.baseAddress! + r * filters
                if let bias { row.update(from: bias, count: filters) } else { row.update(repeating: 0, count: filters) }
            }
            Activations.apply(activation, to: UnsafeMutableBufferPointer(rebasing: out[0..<(rows * filters)]), rowLength: filters)
            return
        }
        if let packed, T.self == Float.self, groups == 1, packed.rows == rowLength, packed.columns == filters,
           let xs = x.baseAddress, let o = out.baseAddress {
            packedStandard(geo: geo, view: view, x: UnsafeRawPointer(xs).assumingMemoryBound(to: Float.self), weights: packed,
                           bias: bias.map { UnsafeRawPointer($0).assumingMemoryBound(to: Float.self) }, activation: activation,
                           threads: threads ?? ParallelWork.threadCount,
                           out: UnsafeMutableRawPointer(o).assumingMemoryBound(to: Float.self), rows: rows)
            return
        }
        // A 1×1 window with stride 1 and no padding reads each input position as is: the
        // input already is the column matrix.
        let pointwise = taps == 1 && geo.allSatisfy { $0.stride == 1 && $0.padBefore == 0 && $0.output == $0.input }
        let plan = BlockPlan(rows: rows, rowLength: rowLength, filters: filters, columnBudget: columnBudget,
                             threads: threads ?? ParallelWork.threadCount)
        try node.withParameter(kernelName, as: T.self, shape: a.kernelSize + [cg, filters]) { kp in
            guard let k = kp.baseAddress, let xs = x.baseAddress, let o = out.baseAddress else { return }
            ParallelWork.forEachItem(plan.blocks, threads: plan.workers) { _, next in
                // Every row of a block is written by im2col before the GEMM reads it: no zero fill.
                let cols = UnsafeMutablePointer<T>.allocate(capacity: pointwise ? 1 : plan.blockRows * rowLength)
                defer { cols.deallocate() }
                while let block = next() {
                    let start = block * plan.blockRows
                    let count = min(plan.blockRows, rows - start)
                    guard count > 0 else { continue }
                    for g in 0..<groups {
                        let columns: UnsafePointer<T>, ldColumns: Int
                        if pointwise {
                            columns = UnsafePointer(xs + start * cin + g * cg)
                            ldColumns = cin
                        } else {
                            im2col(xs, view: view, geo: geo, channelOffset: g * cg, channelCount: cg,
                                   positions: start..<(start + count), into: cols)
                            columns = UnsafePointer(cols)
                            ldColumns = rowLength
                        }
                        convolutionGEMM(columns: columns, ldColumns: ldColumns, rows: count, depth: rowLength,
                                        kernel: k + g * fg, ldKernel: filters, filters: fg,
                                        bias: bias.map { $0 + g * fg }, output: o + start * filters + g * fg, ldOutput: filters)
                    }
                    if case .linear = activation { continue }
                    Activations.apply(activation, to: UnsafeMutableBufferPointer(start: o + start * filters, count: count * filters),
                                      rowLength: filters)
                }
            }
        }
    }

    /// The kernel of a standard convolution packed for `packedStandard` (from the
    /// Interpreter's cache, packed on first use), when that path applies: float32, inside an
    /// Interpreter, one group, a kernel within `PackedGEMM.packLimitBytes`, and not turned off
    /// by `GRAFT_CONV_PACKED=0` (or `GRAFT_PACKED_GEMM=0`). Nil otherwise.
    static func packedKernel<T: RuntimeScalar>(_ node: Node, _ a: ConvAttributes, _ view: SpatialView, kernelName: String,
                                               context: RuntimeContext, as type: T.Type) throws -> PackedWeights? {
        guard T.self == Float.self, PackedGEMM.convolutionsEnabled, let cache = context.packedWeights, a.groups == 1,
              view.channels > 0, a.filters > 0 else { return nil }
        let rowLength = a.kernelSize.reduce(1, *) * view.channels
        guard rowLength > 0, PackedWeightCache.shouldPack(rows: rowLength, columns: a.filters) else { return nil }
        let kernel = try node.checkedParameter(kernelName, shape: a.kernelSize + [view.channels, a.filters])
        return try cache.weights(node.name + "/" + kernelName, kernel, rows: rowLength, columns: a.filters)
    }

    /// Output rows (example, position) of a standard convolution through the packed-weight
    /// microkernels, the windows packed straight from the channels-last input tile by tile
    /// (`graft_conv_packed`: no im2col buffer, K blocked, bias and ReLU in the epilogue).
    /// Rows are cut in items of whole 96-row chunks (8 AVX-512 tiles), at most ~2¹⁶ output
    /// values each (so a non-ReLU activation runs on the item while it is in L2), and with
    /// several threads at least 4 items per thread where the rows allow: the packed kernel is
    /// shared read-only, so a thread's share costs no packing of its own.
    static func packedStandard(geo: [AxisGeometry], view: SpatialView, x: UnsafePointer<Float>, weights: PackedWeights,
                               bias: UnsafePointer<Float>?, activation: ActivationFunction, threads: Int,
                               variant: PackedGEMM.Variant = PackedGEMM.forcedVariant,
                               out: UnsafeMutablePointer<Float>, rows: Int) {
        let filters = weights.columns
        guard let packed = weights.packed else { return }
        let geometry = convGeometry(geo, view)
        let relu: Bool
        if case .relu(nil, 0, 0) = activation { relu = true } else { relu = false }
        let chunk = 96
        var itemRows = max(chunk, (1 << 16) / max(filters, 1) / chunk * chunk)
        if threads > 1 {
            let share = (rows + 4 * threads - 1) / (4 * threads)
            itemRows = min(itemRows, max(chunk, (share + chunk - 1) / chunk * chunk))
        }
        let items = (rows + itemRows - 1) / itemRows
        let v = Int32(variant.rawValue)
        ParallelWork.forEachItem(items, threads: items > 1 ? threads : 1) { _, next in
            withUnsafePointer(to: geometry) { gp in
                while let item = next() {
                    let start = item * itemRows, end = min(rows, start + itemRows)
                    graft_conv_packed(v, gp, x, packed, filters, bias, relu ? 1 : 0, out, filters, start, end)
                    if relu { continue }
                    if case .linear = activation { continue }
                    Activations.apply(activation, to: UnsafeMutableBufferPointer(start: out + start * filters,
                                                                                 count: (end - start) * filters),
                                      rowLength: filters)
                }
            }
        }
    }

    /// The geometry CGEMM's packed convolution kernels read: `view`'s channels-last input and
    /// the three axes of `geo` (depth, height, width; size 1 where the convolution has fewer).
    static func convGeometry(_ geo: [AxisGeometry], _ view: SpatialView) -> graft_conv_geometry {
        let (gz, gy, gx) = (geo[0], geo[1], geo[2])
        var g = graft_conv_geometry()
        (g.batch, g.d, g.h, g.w, g.c) = (view.batch, view.dims[0], view.dims[1], view.dims[2], view.channels)
        (g.kd, g.kh, g.kw) = (gz.kernel, gy.kernel, gx.kernel)
        (g.sd, g.sh, g.sw) = (gz.stride, gy.stride, gx.stride)
        (g.dd, g.dh, g.dw) = (gz.dilation, gy.dilation, gx.dilation)
        (g.pd, g.ph, g.pw) = (gz.padBefore, gy.padBefore, gx.padBefore)
        (g.od, g.oh, g.ow) = (gz.output, gy.output, gx.output)
        return g
    }

    /// The one GEMM every standard convolution runs (the place to route a prepacked kernel):
    /// `output`[rows, filters] = `columns`[rows, depth] · `kernel`[depth, filters] + `bias`
    /// (one value per filter added to every row; nil = none), all row-major with the given
    /// leading dimensions. `kernel` is the convolution kernel [k..., in, filters] read as a
    /// matrix (im2col column order = kernel order). Inside `ParallelWork` it runs on one
    /// thread; called outside, OpenBLAS may thread it.
    static func convolutionGEMM<T: RuntimeScalar>(columns: UnsafePointer<T>, ldColumns: Int, rows: Int, depth: Int,
                                                  kernel: UnsafePointer<T>, ldKernel: Int, filters: Int,
                                                  bias: UnsafePointer<T>?, output: UnsafeMutablePointer<T>, ldOutput: Int) {
        guard rows > 0, filters > 0 else { return }
        if let bias {
            // The bias as C's initial value and beta = 1: no separate pass over the output,
            // and no zeroing of C inside the GEMM.
            output.update(from: bias, count: filters)
            if ldOutput == filters {
                // Contiguous rows: the filled part doubles with each copy (few, long copies).
                var filled = 1
                while filled < rows {
                    let n = min(filled, rows - filled)
                    (output + filled * filters).update(from: output, count: n * filters)
                    filled += n
                }
            } else {
                for r in 1..<rows { (output + r * ldOutput).update(from: bias, count: filters) }
            }
        }
        T.gemm(transA: false, transB: false, m: rows, n: filters, k: depth, alpha: 1,
               a: columns, lda: ldColumns, b: kernel, ldb: ldKernel, beta: bias == nil ? 0 : 1, c: output, ldc: ldOutput)
    }

    /// How the output rows of one convolution are cut in blocks and shared between threads.
    struct BlockPlan {
        var blockRows: Int
        var blocks: Int
        var workers: Int

        /// Blocks of `columnBudget` column values when given (whole rows, at least one). By
        /// default a block's columns and output rows together hold about 2¹⁷ values (512 KiB
        /// of float32, so that the bias fill, GEMM and activation of a block stay in the L2
        /// cache: a small CNN's first layer, 9 columns and 32 filters a row, was memory-bound
        /// with the whole batch in one block), at least 64 rows, and at least one row per 2048
        /// kernel values, since the GEMM packs the whole kernel once per block (VGG16's
        /// 3×3×512×512 kernel: 1152 rows; packing then costs a few percent). With several
        /// threads, rows are shared when each thread gets enough of them to amortise its own
        /// packing of the kernel (≥ 128 rows, or ≥ 16 when the kernel is small): there are
        /// then at least four blocks per thread where the rows allow, so that a thread slowed
        /// by other work on the machine leaves its share to the others.
        init(rows: Int, rowLength: Int, filters: Int, columnBudget: Int?, threads: Int) {
            let target: Int
            if let columnBudget {
                target = max(1, min(rows, columnBudget / max(rowLength, 1)))
            } else {
                let kernelRows = min(rowLength * filters / 2048, 4096)
                let cacheRows = (1 << 17) / (rowLength + filters)
                target = max(1, min(rows, max(cacheRows, kernelRows, 64)))
            }
            var blocks = (rows + target - 1) / target
            let smallKernel = rowLength * filters <= 1 << 16
            let minimumShare = smallKernel ? 16 : 128
            if threads > 1 && rows >= threads * minimumShare {
                blocks = max(blocks, min(4 * threads, rows / minimumShare))
                workers = threads
            } else {
                workers = 1
            }
            blockRows = (rows + blocks - 1) / blocks
            self.blocks = (rows + blockRows - 1) / blockRows
        }
    }

    /// Fills `cols` [positions.count, taps·channelCount] with the input window of each output
    /// row in `positions`: flat indices example·(output positions) + position over the batch
    /// starting at `x` (zeros where the window reaches into padding).
    /// Column order = kernel order (tap-major, then channel), matching a kernel
    /// [k..., channels, filters] read as a matrix. When every channel is taken and the window
    /// is not dilated along x, the taps of one kernel row are consecutive input values and are
    /// copied as one run wherever the row lies inside the input.
    static func im2col<T: RuntimeScalar>(_ x: UnsafePointer<T>, view: SpatialView, geo: [AxisGeometry],
                                         channelOffset: Int, channelCount: Int, positions: Range<Int>,
                                         into cols: UnsafeMutablePointer<T>) {
        guard !positions.isEmpty else { return }
        let cin = view.channels
        let (d, h, w) = (view.dims[0], view.dims[1], view.dims[2])
        let (gz, gy, gx) = (geo[0], geo[1], geo[2])
        let (outD, outH, outW) = (gz.output, gy.output, gx.output)
        let outPositions = outD * outH * outW, inStride = view.positions * cin
        let contiguousRows = gx.dilation == 1 && channelCount == cin
        let run = gx.kernel * cin
        let xSpan = (gx.kernel - 1) * gx.dilation
        let (zSpan, ySpan) = ((gz.kernel - 1) * gz.dilation, (gy.kernel - 1) * gy.dilation)
        // Where each kernel row's run starts, relative to the window's first input value.
        let runCount = gz.kernel * gy.kernel
        let runOffsets = UnsafeMutablePointer<Int>.allocate(capacity: runCount)
        defer { runOffsets.deallocate() }
        for kz in 0..<gz.kernel {
            for ky in 0..<gy.kernel {
                runOffsets[kz * gy.kernel + ky] = ((kz * gz.dilation * h) + ky * gy.dilation) * w * cin
            }
        }
        var col = cols
        // The first row's coordinates, then stepped along (ox fastest).
        var b = positions.lowerBound / outPositions
        let p0 = positions.lowerBound % outPositions
        var oz = p0 / (outH * outW), oy = (p0 / outW) % outH, ox = p0 % outW
        for _ in positions {
            let xb = x + b * inStride + channelOffset
            let ix0 = ox * gx.stride - gx.padBefore
            let xInside = ix0 >= 0 && ix0 + xSpan < w
            let iz0 = oz * gz.stride - gz.padBefore, iy0 = oy * gy.stride - gy.padBefore
            if contiguousRows && xInside && iz0 >= 0 && iz0 + zSpan < d && iy0 >= 0 && iy0 + ySpan < h {
                // The whole window inside the input: one run per kernel row.
                let origin = xb + ((iz0 * h + iy0) * w + ix0) * cin
                for r in 0..<runCount {
                    let src = origin + runOffsets[r]
                    copyRun(src, to: col, count: run)
                    col += run
                }
            } else {
                for kz in 0..<gz.kernel {
                    let iz = oz * gz.stride - gz.padBefore + kz * gz.dilation
                    for ky in 0..<gy.kernel {
                        let iy = oy * gy.stride - gy.padBefore + ky * gy.dilation
                        let rowInside = iz >= 0 && iz < d && iy >= 0 && iy < h
                        if rowInside && xInside && contiguousRows {
                            let src = xb + ((iz * h + iy) * w + ix0) * cin
                            copyRun(src, to: col, count: run)
                            col += run
                            continue
                        }
                        for kx in 0..<gx.kernel {
                            let ix = ix0 + kx * gx.dilation
                            if rowInside && ix >= 0 && ix < w {
                                let src = xb + ((iz * h + iy) * w + ix) * cin
                                if channelCount < 16 {
                                    for c in 0..<channelCount { col[c] = src[c] }
                                } else {
                                    col.update(from: src, count: channelCount)
                                }
                            } else {
                                for c in 0..<channelCount { col[c] = 0 }
                            }
                            col += channelCount
                        }
                    }
                }
            }
            ox += 1
            if ox == outW {
                ox = 0; oy += 1
                if oy == outH {
                    oy = 0; oz += 1
                    if oz == outD { oz = 0; b += 1 }
                }
            }
        }
    }

    /// Copies `count` values: short runs (a few channels) inline, longer ones with memcpy.
    @inline(__always) static func copyRun<T>(_ src: UnsafePointer<T>, to dst: UnsafeMutablePointer<T>, count: Int) {
        if count < 32 {
            for i in 0..<count { dst[i] = src[i] }
        } else {
            dst.update(from: src, count: count)
        }
    }
}
