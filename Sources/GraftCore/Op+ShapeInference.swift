/// Shape inference: what each op produces from the shapes it consumes.
///
/// Shapes exclude the batch dimension; `nil` entries are unknown sizes (e.g. variable time
/// steps). Inside the IR sequences are [time, features] and images follow each op's
/// `dataFormat`. Conv and pooling sizes follow Keras:
/// valid `floor((n − ((k−1)·d+1)) / s) + 1`, same and causal `ceil(n / s)`.
extension Op {
    /// The shapes of this op's outputs (batch excluded) given the shapes of its inputs.
    /// Throws `.shapeMismatch` when the inputs do not fit the op, `.invalidGraph` when the
    /// input count is wrong, `.unsupported` for an opaque op whose output shape is unknown.
    public func outputShapes(_ inputShapes: [[Int?]]) throws -> [[Int?]] {
        try checkInputCount(inputShapes.count)
        try checkSizeLimits(inputShapes)
        let x = inputShapes.first ?? []
        switch self {
        case .input(let a):
            if a.layout == .sequenceFeaturesTime {
                guard a.shape.count == 2 else {
                    throw GraftError(.shapeMismatch, "a [features, time] input needs two dimensions",
                                     expected: "[features, time]", found: ShapeText.of(a.shape))
                }
                return [[a.shape[1], a.shape[0]]]
            }
            return [a.shape]

        case .dense(let a):
            try requireRank(x, atLeast: 1, "dense input")
            return [Array(x.dropLast()) + [a.units]]

        case .activation, .prelu, .dropout, .masking, .batchNorm, .layerNorm:
            return [x]

        case .flatten:
            return [[try Op.checkedProduct(x)]]

        case .reshape(let target):
            return [try Op.reshape(x, to: target)]

        case .permute(let dims):
            guard dims.count == x.count, Set(dims) == Set(1...max(x.count, 1)), !x.isEmpty else {
                throw GraftError(.shapeMismatch, "permute dims must be a permutation of 1...\(x.count)",
                                 expected: "a permutation of 1...\(x.count)", found: "\(dims)")
            }
            return [dims.map { x[$0 - 1] }]

        case .repeatVector(let n):
            try requireRank(x, exactly: 1, "repeatVector input")
            return [[n, x[0]]]

        case .conv(let a):
            return [try Op.convShape(x, a)]

        case .pooling(let a):
            let (spatial, channels) = try Op.splitSpatial(x, rank: a.rank, format: a.dataFormat, what: "pooling input")
            var out: [Int?] = []
            for i in 0..<a.rank {
                out.append(try Op.windowOutput(spatial[i], kernel: a.poolSize[safe: i] ?? 1, stride: a.strides[safe: i] ?? 1,
                                                dilation: 1, padding: a.padding))
            }
            return [Op.joinSpatial(out, channels: channels, format: a.dataFormat)]

        case .globalPooling(let a):
            let (_, channels) = try Op.splitSpatial(x, rank: a.rank, format: a.dataFormat, what: "global pooling input")
            if !a.keepDims { return [[channels]] }
            return [Op.joinSpatial(Array(repeating: 1, count: a.rank), channels: channels, format: a.dataFormat)]

        case .zeroPadding(let a), .cropping(let a):
            let sign = { if case .cropping = self { return -1 } else { return 1 } }()
            let (spatial, channels) = try Op.splitSpatial(x, rank: a.rank, format: a.dataFormat, what: "\(kindName) input")
            guard a.amounts.count == a.rank else {
                throw GraftError(.shapeMismatch, "one (before, after) pair per spatial axis",
                                 expected: "\(a.rank) pairs", found: "\(a.amounts.count)")
            }
            var out: [Int?] = []
            for i in 0..<a.rank {
                guard let n = spatial[i] else { out.append(nil); continue }
                let size = n + sign * (a.amounts[i].before + a.amounts[i].after)
                guard size > 0 else {
                    throw GraftError(.shapeMismatch, "cropping removes the whole axis",
                                     expected: "crop < \(n) on spatial axis \(i)", found: "\(a.amounts[i].before)+\(a.amounts[i].after)")
                }
                out.append(size)
            }
            return [Op.joinSpatial(out, channels: channels, format: a.dataFormat)]

        case .upSampling(let a):
            let (spatial, channels) = try Op.splitSpatial(x, rank: a.rank, format: a.dataFormat, what: "upSampling input")
            let out = (0..<a.rank).map { i in spatial[i].map { $0 * (a.size[safe: i] ?? 1) } }
            return [Op.joinSpatial(out, channels: channels, format: a.dataFormat)]

        case .embedding(let a):
            return [x + [a.outputDim]]

        case .simpleRNN(let r):
            return try Op.recurrentShapes(x, r, stateCount: 1)
        case .lstm(let a):
            return try Op.recurrentShapes(x, a.recurrent, stateCount: 2)
        case .gru(let a):
            return try Op.recurrentShapes(x, a.recurrent, stateCount: 1)

        case .bidirectional(let a):
            guard let r = a.layer.recurrentAttributes else {
                throw GraftError(.shapeMismatch, "bidirectional wraps a recurrent op",
                                 expected: "simpleRNN, lstm or gru", found: a.layer.kindName)
            }
            let inner = try a.layer.outputShapes([x])
            let y = inner[0]
            let states = Array(inner.dropFirst())
            var outputs: [[Int?]]
            switch a.mergeMode {
            case .none: outputs = [y, y]
            case .concat: outputs = [Array(y.dropLast()) + [2 * r.units]]
            case .sum, .mul, .average: outputs = [y]
            }
            return outputs + states + states

        case .timeDistributed(let layer):
            try requireRank(x, atLeast: 1, "timeDistributed input")
            let inner = try layer.outputShapes([Array(x.dropFirst())])
            return inner.map { [x[0]] + $0 }

        case .merge(let a):
            return [try Op.mergeShape(inputShapes, a.kind)]

        case .output(let a):
            switch a.kind {
            case .dense, .rnn, .centerLoss:
                guard let units = a.units else { return [x] }
                try requireRank(x, atLeast: 1, "output layer input")
                return [Array(x.dropLast()) + [units]]
            case .loss, .rnnLoss, .cnnLoss:
                return [x]
            }

        case .dl4jVertex(let v):
            return [try Op.vertexShape(inputShapes, v)]

        case .locallyConnected(let a):
            let (spatial, channels) = try Op.splitSpatial(x, rank: a.rank, format: a.dataFormat, what: "locally connected input")
            _ = channels
            var out: [Int?] = []
            for i in 0..<a.rank {
                out.append(try Op.windowOutput(spatial[i], kernel: a.kernelSize[safe: i] ?? 1, stride: a.strides[safe: i] ?? 1,
                                                dilation: 1, padding: .valid))
            }
            return [Op.joinSpatial(out, channels: a.filters, format: a.dataFormat)]

        case .convLSTM(let a):
            try requireRank(x, exactly: a.rank + 2, "convLSTM input")
            let (spatial, _) = try Op.splitSpatial(Array(x.dropFirst()), rank: a.rank, format: a.dataFormat, what: "convLSTM step")
            var out: [Int?] = []
            for i in 0..<a.rank {
                out.append(try Op.windowOutput(spatial[i], kernel: a.kernelSize[safe: i] ?? 1, stride: a.strides[safe: i] ?? 1,
                                                dilation: a.dilation[safe: i] ?? 1, padding: a.padding))
            }
            let step = Op.joinSpatial(out, channels: a.filters, format: a.dataFormat)
            let main = a.recurrent.returnSequences ? [x[0]] + step : step
            return a.recurrent.returnState ? [main, step, step] : [main]

        case .attention:
            let value = inputShapes[1]
            try requireRank(x, atLeast: 1, "attention query")
            try requireRank(value, atLeast: 1, "attention value")
            return [Array(x.dropLast()) + [value.last ?? nil]]

        case .opaque(let a):
            guard let shape = a.outputShape else {
                throw GraftError(.unsupported, "opaque layer '\(a.className)' states no output shape",
                                 expected: "a known output shape", found: "none")
            }
            return [shape]
        }
    }

    /// How many outputs this op produces; nil for an opaque op (unknown).
    public var outputCount: Int? {
        switch self {
        case .simpleRNN(let r): return r.returnState ? 2 : 1
        case .gru(let a): return a.recurrent.returnState ? 2 : 1
        case .lstm(let a): return a.recurrent.returnState ? 3 : 1
        case .convLSTM(let a): return a.recurrent.returnState ? 3 : 1
        case .bidirectional(let a):
            let main = a.mergeMode == .none ? 2 : 1
            guard let inner = a.layer.outputCount else { return nil }
            return main + 2 * (inner - 1)
        case .timeDistributed(let layer): return layer.outputCount
        case .opaque: return nil
        default: return 1
        }
    }

    /// The number of inputs this op accepts: input 0, merges at least 2 (dot exactly 2),
    /// DL4J stack at least 1, opaque any number, everything else exactly 1.
    public var inputCountRange: ClosedRange<Int> {
        switch self {
        case .input: return 0...0
        case .merge(let a):
            if case .dot = a.kind { return 2...2 }
            return 2...Int.max
        case .dl4jVertex(.stack): return 1...Int.max
        case .attention: return 2...3
        case .opaque: return 0...Int.max
        default: return 1...1
        }
    }

    /// The shared recurrent attributes of a simpleRNN, LSTM or GRU op.
    public var recurrentAttributes: RecurrentAttributes? {
        switch self {
        case .simpleRNN(let r): return r
        case .lstm(let a): return a.recurrent
        case .gru(let a): return a.recurrent
        case .convLSTM(let a): return a.recurrent
        default: return nil
        }
    }

    /// The width of the op's output feature axis where the op declares one (dense units,
    /// conv filters, recurrent units — doubled by a concatenating bidirectional —, embedding
    /// size, output-layer units); nil otherwise.
    public var outputWidth: Int? {
        switch self {
        case .dense(let a): return a.units
        case .conv(let a):
            if case .depthwise = a.kind { return nil }
            return a.filters
        case .embedding(let a): return a.outputDim
        case .simpleRNN, .lstm, .gru, .convLSTM: return recurrentAttributes?.units
        case .locallyConnected(let a): return a.filters
        case .bidirectional(let a):
            guard let u = a.layer.outputWidth else { return nil }
            guard a.mergeMode == .concat else { return u }
            let (doubled, overflow) = u.multipliedReportingOverflow(by: 2)
            return overflow ? nil : doubled
        case .timeDistributed(let layer): return layer.outputWidth
        case .output(let a): return a.units
        default: return nil
        }
    }

    func checkInputCount(_ count: Int) throws {
        let range = inputCountRange
        guard range.contains(count) else {
            let expected = range.lowerBound == range.upperBound ? "\(range.lowerBound)"
                : range.upperBound == Int.max ? "at least \(range.lowerBound)" : "\(range.lowerBound)...\(range.upperBound)"
            throw GraftError(.invalidGraph, "\(kindName) takes \(expected) input(s)", field: "inputs",
                             expected: "\(expected) input(s)", found: "\(count)")
        }
    }

    // MARK: - Helpers

    func requireRank(_ x: [Int?], atLeast n: Int, _ what: String) throws {
        guard x.count >= n else {
            throw GraftError(.shapeMismatch, "\(what) has too few dimensions",
                             expected: "at least \(n) non-batch dimension(s)", found: ShapeText.of(x))
        }
    }

    func requireRank(_ x: [Int?], exactly n: Int, _ what: String) throws {
        guard x.count == n else {
            throw GraftError(.shapeMismatch, "\(what) has the wrong number of dimensions",
                             expected: "\(n) non-batch dimension(s)", found: ShapeText.of(x))
        }
    }

    static func reshape(_ x: [Int?], to target: [Int]) throws -> [Int?] {
        let wildcards = target.filter { $0 == -1 }.count
        guard wildcards <= 1, target.allSatisfy({ $0 == -1 || $0 > 0 }) else {
            throw GraftError(.shapeMismatch, "reshape target may hold one -1 and positive sizes",
                             expected: "positive sizes and at most one -1", found: "\(target)")
        }
        guard let known = try Op.checkedProduct(target.filter { $0 > 0 }) else { return target.map { $0 } }
        let total = try Op.checkedProduct(x)
        if wildcards == 0 {
            if let total, total != known {
                throw GraftError(.shapeMismatch, "reshape changes the element count",
                                 expected: "\(total) elements", found: "\(known) in \(target)")
            }
            return target.map { $0 }
        }
        guard let total else { return target.map { $0 == -1 ? nil : $0 } }
        guard known > 0, total % known == 0 else {
            throw GraftError(.shapeMismatch, "reshape target does not divide the element count",
                             expected: "a divisor of \(total)", found: "\(target)")
        }
        return target.map { $0 == -1 ? total / known : $0 }
    }

    /// Splits a shape into its spatial axes and channel count by data format.
    static func splitSpatial(_ x: [Int?], rank: Int, format: DataFormat, what: String) throws -> ([Int?], Int?) {
        guard x.count == rank + 1 else {
            throw GraftError(.shapeMismatch, "\(what) has the wrong number of dimensions",
                             expected: "\(rank) spatial axes + channels (\(rank + 1) non-batch dims)",
                             found: ShapeText.of(x))
        }
        switch format {
        case .channelsLast: return (Array(x.dropLast()), x[rank])
        case .channelsFirst: return (Array(x.dropFirst()), x[0])
        }
    }

    static func joinSpatial(_ spatial: [Int?], channels: Int?, format: DataFormat) -> [Int?] {
        format == .channelsLast ? spatial + [channels] : [channels] + spatial
    }

    /// Output length of a sliding window (Keras `conv_output_length`).
    static func windowOutput(_ n: Int?, kernel: Int, stride: Int, dilation: Int, padding: Padding) throws -> Int? {
        guard let n else { return nil }
        guard stride > 0, kernel > 0, dilation > 0 else {
            throw GraftError(.shapeMismatch, "window sizes must be positive",
                             expected: "kernel, stride, dilation > 0", found: "\(kernel), \(stride), \(dilation)")
        }
        let effective = (kernel - 1) * dilation + 1
        guard n > 0, padding != .valid || n >= effective else {
            throw GraftError(.shapeMismatch, "window larger than the input",
                             expected: "input size ≥ \(padding == .valid ? effective : 1)", found: "\(n)")
        }
        switch padding {
        case .valid: return (n - effective) / stride + 1
        case .same, .causal: return (n + stride - 1) / stride
        }
    }

    /// Output length of a transposed convolution (Keras `deconv_output_length`).
    static func transposedOutput(_ n: Int?, kernel: Int, stride: Int, dilation: Int, padding: Padding,
                                 outputPadding: Int?) -> Int? {
        guard let n else { return nil }
        let k = (kernel - 1) * dilation + 1
        guard let outputPadding else {
            switch padding {
            case .valid: return n * stride + max(k - stride, 0)
            case .same, .causal: return n * stride
            }
        }
        let pad = padding == .valid ? 0 : k / 2
        return (n - 1) * stride + k - 2 * pad + outputPadding
    }

    static func convShape(_ x: [Int?], _ a: ConvAttributes) throws -> [Int?] {
        let (spatial, channels) = try splitSpatial(x, rank: a.rank, format: a.dataFormat, what: "conv input")
        guard a.kernelSize.count == a.rank, a.strides.count == a.rank, a.dilation.count == a.rank else {
            throw GraftError(.shapeMismatch, "kernel size, strides and dilation need one entry per spatial axis",
                             expected: "\(a.rank) entries", found: "\(a.kernelSize), \(a.strides), \(a.dilation)")
        }
        if let c = channels, a.groups > 1, c % a.groups != 0 {
            throw GraftError(.shapeMismatch, "input channels not divisible by groups",
                             expected: "a multiple of \(a.groups)", found: "\(c)")
        }
        var out: [Int?] = []
        for i in 0..<a.rank {
            if case .transposed(let outputPadding) = a.kind {
                out.append(transposedOutput(spatial[i], kernel: a.kernelSize[i], stride: a.strides[i],
                                            dilation: a.dilation[i], padding: a.padding,
                                            outputPadding: outputPadding?[safe: i]))
            } else {
                out.append(try windowOutput(spatial[i], kernel: a.kernelSize[i], stride: a.strides[i],
                                            dilation: a.dilation[i], padding: a.padding))
            }
        }
        let outChannels: Int?
        switch a.kind {
        case .depthwise(let m): outChannels = channels.map { $0 * m }
        case .standard, .separable, .transposed: outChannels = a.filters
        }
        return joinSpatial(out, channels: outChannels, format: a.dataFormat)
    }

    static func recurrentShapes(_ x: [Int?], _ r: RecurrentAttributes, stateCount: Int) throws -> [[Int?]] {
        guard x.count == 2 else {
            throw GraftError(.shapeMismatch, "recurrent input must be [time, features]",
                             expected: "2 non-batch dimensions [time, features]", found: ShapeText.of(x))
        }
        let y: [Int?] = r.returnSequences ? [x[0], r.units] : [r.units]
        guard r.returnState else { return [y] }
        return [y] + Array(repeating: [r.units], count: stateCount)
    }

    /// Combines two known-or-unknown sizes that must agree.
    static func agree(_ a: Int?, _ b: Int?) -> (ok: Bool, value: Int?) {
        switch (a, b) {
        case let (p?, q?): return (p == q, p)
        case let (p?, nil): return (true, p)
        case let (nil, q): return (true, q)
        }
    }

    static func mergeShape(_ shapes: [[Int?]], _ kind: MergeAttributes.Kind) throws -> [Int?] {
        switch kind {
        case .concatenate(let axis):
            let first = shapes[0]
            let rank = first.count
            let ax = axis < 0 ? rank + 1 + axis : axis
            guard ax >= 1, ax <= rank else {
                throw GraftError(.shapeMismatch, "concatenation axis out of range (batch is axis 0)",
                                 expected: "axis in 1...\(rank) or -\(rank)...-1", found: "\(axis)")
            }
            var out = first
            var total: Int? = first[ax - 1]
            for s in shapes.dropFirst() {
                guard s.count == rank else {
                    throw GraftError(.shapeMismatch, "concatenated inputs differ in rank",
                                     expected: ShapeText.of(first), found: ShapeText.of(s))
                }
                for i in 0..<rank where i != ax - 1 {
                    let (ok, v) = agree(out[i], s[i])
                    guard ok else {
                        throw GraftError(.shapeMismatch, "concatenated inputs differ off the concatenation axis",
                                         expected: ShapeText.of(first), found: ShapeText.of(s))
                    }
                    out[i] = v
                }
                if let sum = total, let size = s[ax - 1] { total = sum + size } else { total = nil }
            }
            out[ax - 1] = total
            return out
        case .dot(let axes, _):
            var s1 = shapes[0], s2 = shapes[1]
            let withBatch1 = [nil] + s1, withBatch2 = [nil] + s2
            let a1 = axes.first ?? -1, a2 = axes.count > 1 ? axes[1] : a1
            let n1 = a1 < 0 ? withBatch1.count + a1 : a1, n2 = a2 < 0 ? withBatch2.count + a2 : a2
            guard n1 >= 1, n1 < withBatch1.count, n2 >= 1, n2 < withBatch2.count else {
                throw GraftError(.shapeMismatch, "dot axes out of range", expected: "non-batch axes", found: "\(axes)")
            }
            guard agree(s1[n1 - 1], s2[n2 - 1]).ok else {
                throw GraftError(.shapeMismatch, "dot axes differ in size",
                                 expected: ShapeText.of(s1), found: ShapeText.of(s2))
            }
            s1.remove(at: n1 - 1); s2.remove(at: n2 - 1)
            let out = s1 + s2
            return out.isEmpty ? [1] : out
        case .add, .subtract, .multiply, .average, .maximum, .minimum:
            // Keras broadcasting: shapes aligned on the right, size-1 axes stretch.
            var out = shapes[0]
            for s in shapes.dropFirst() {
                let rank = max(out.count, s.count)
                let a = Array(repeating: 1, count: rank - out.count) + out
                let b = Array(repeating: 1, count: rank - s.count) + s
                var merged: [Int?] = []
                for i in 0..<rank {
                    if a[i] == 1 { merged.append(b[i]); continue }
                    if b[i] == 1 { merged.append(a[i]); continue }
                    let (ok, v) = agree(a[i], b[i])
                    guard ok else {
                        throw GraftError(.shapeMismatch, "merged inputs have incompatible shapes",
                                         expected: ShapeText.of(shapes[0]), found: ShapeText.of(s))
                    }
                    merged.append(v)
                }
                out = merged
            }
            return out
        }
    }

    static func vertexShape(_ shapes: [[Int?]], _ v: DL4JVertex) throws -> [Int?] {
        let x = shapes[0]
        switch v {
        case .lastTimeStep:
            guard x.count == 2 else {
                throw GraftError(.shapeMismatch, "lastTimeStep input must be [time, features]",
                                 expected: "2 non-batch dimensions", found: ShapeText.of(x))
            }
            return [x[1]]
        case .subset(let from, let to):
            guard let last = x.last, from >= 0, to >= from else {
                throw GraftError(.shapeMismatch, "subset range is empty or the input has no feature axis",
                                 expected: "0 ≤ from ≤ to", found: "[\(from), \(to)] on \(ShapeText.of(x))")
            }
            if let last, to >= last {
                throw GraftError(.shapeMismatch, "subset range beyond the feature axis",
                                 expected: "to < \(last)", found: "\(to)")
            }
            return Array(x.dropLast()) + [to - from + 1]
        case .stack:
            var out = x
            for s in shapes.dropFirst() {
                guard s.count == out.count else {
                    throw GraftError(.shapeMismatch, "stacked inputs differ in rank",
                                     expected: ShapeText.of(x), found: ShapeText.of(s))
                }
                for i in out.indices {
                    let (ok, value) = agree(out[i], s[i])
                    guard ok else {
                        throw GraftError(.shapeMismatch, "stacked inputs differ in shape",
                                         expected: ShapeText.of(x), found: ShapeText.of(s))
                    }
                    out[i] = value
                }
            }
            return out
        case .unstack, .l2Normalize, .scale, .shift, .localResponseNormalization:
            return x
        case .duplicateToTimeSeries:
            guard x.count == 1 else {
                throw GraftError(.shapeMismatch, "duplicateToTimeSeries input must be [features]",
                                 expected: "1 non-batch dimension", found: ShapeText.of(x))
            }
            return [nil, x[0]]
        case .preprocessor(let p):
            switch p {
            case .cnnToFeedForward(let h, let w, let c): return [try Op.checkedProduct([c, h, w])]
            case .feedForwardToCnn(let h, let w, let c): return [c, h, w]
            case .rnnToFeedForward:
                guard x.count == 2 else {
                    throw GraftError(.shapeMismatch, "rnnToFeedForward input must be [time, features]",
                                     expected: "2 non-batch dimensions", found: ShapeText.of(x))
                }
                return [x[1]]
            case .feedForwardToRnn:
                guard x.count == 1 else {
                    throw GraftError(.shapeMismatch, "feedForwardToRnn input must be [features]",
                                     expected: "1 non-batch dimension", found: ShapeText.of(x))
                }
                return [nil, x[0]]
            case .cnnToRnn(let h, let w, let c): return [nil, try Op.checkedProduct([c, h, w])]
            case .rnnToCnn(let h, let w, let c): return [c, h, w]
            }
        }
    }
}

extension Graph {
    /// Output shapes (batch excluded) of every node, by node name, computed in node order.
    /// Throws the first failure, naming the node (`location`) and what was expected and found.
    public func inferShapes() throws -> [String: [[Int?]]] {
        var shapes: [String: [[Int?]]] = [:]
        for node in nodes {
            shapes[node.name] = try Graph.inferShapes(of: node, known: shapes)
        }
        return shapes
    }

    /// One node's output shapes from the shapes already inferred for earlier nodes.
    static func inferShapes(of node: Node, known: [String: [[Int?]]]) throws -> [[Int?]] {
        let inputs = try inputShapes(of: node, known: known)
        do {
            return try node.op.outputShapes(inputs)
        } catch let error as GraftError {
            throw error.naming(node)
        }
    }

    static func inputShapes(of node: Node, known: [String: [[Int?]]]) throws -> [[Int?]] {
        try node.inputs.map { ref in
            guard let outs = known[ref.node] else {
                throw GraftError(.invalidGraph, "node '\(node.name)' reads '\(ref)', which is not an earlier node",
                                 location: node.name, field: "inputs", expected: "an earlier node", found: ref.description)
            }
            guard ref.output >= 0, ref.output < outs.count else {
                throw GraftError(.invalidGraph, "node '\(node.name)' reads output \(ref.output) of '\(ref.node)', which has \(outs.count)",
                                 location: node.name, field: "inputs", expected: "output index < \(outs.count)", found: ref.description)
            }
            return outs[ref.output]
        }
    }
}

extension GraftError {
    /// The same error with the node named in its location and message.
    func naming(_ node: Node) -> GraftError {
        var copy = self
        if copy.location == nil { copy.location = node.name }
        if !copy.message.contains("'\(node.name)'") {
            copy.message = "node '\(node.name)' (\(node.op.kindName)): " + copy.message
        }
        return copy
    }
}

/// Text forms of shapes for tables and messages.
public enum ShapeText {
    /// `[3, ?, 4]` — a shape in messages.
    public static func of(_ shape: [Int?]) -> String {
        "[" + shape.map { $0.map(String.init) ?? "?" }.joined(separator: ", ") + "]"
    }

    /// `(None, 10, 6)` — a shape with its batch axis, as Keras prints it.
    public static func withBatch(_ shape: [Int?]) -> String {
        let dims = ["None"] + shape.map { $0.map(String.init) ?? "None" }
        return "(" + dims.joined(separator: ", ") + ")"
    }

    /// The product of the sizes, nil when any is unknown or the product overflows.
    public static func product(_ shape: [Int?]) -> Int? {
        (try? Op.checkedProduct(shape)) ?? nil
    }
}

extension Array {
    fileprivate subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
