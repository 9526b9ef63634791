import GraftCore

/// Where each output channel (unit, filter, feature) of a resized layer comes from: an old
/// channel index, or nil for a new channel. `scales[i]` multiplies channel i's rows in the
/// consumers (1, or 1/copies for Net2WiderNet splits).
struct ChannelMap: Equatable {
    var oldCount: Int
    var sources: [Int?]
    var scales: [Double]
    var newCount: Int { sources.count }

    static func identity(_ n: Int) -> ChannelMap {
        ChannelMap(oldCount: n, sources: Array(0..<n), scales: Array(repeating: 1, count: n))
    }

    /// This map followed by `other`, with `other`'s channels after this one's (concatenation).
    func concatenated(_ other: ChannelMap) -> ChannelMap {
        ChannelMap(oldCount: oldCount + other.oldCount,
                   sources: sources + other.sources.map { $0.map { $0 + oldCount } },
                   scales: scales + other.scales)
    }

    /// The map over a flattened [positions, channels] (channels-last) or [channels, positions]
    /// (channels-first) feature vector.
    func flattened(positions: Int, channelsFirst: Bool) -> ChannelMap {
        var src: [Int?] = [], sc: [Double] = []
        if channelsFirst {
            for i in 0..<newCount { for s in 0..<positions { src.append(sources[i].map { $0 * positions + s }); sc.append(scales[i]) } }
        } else {
            for s in 0..<positions { for i in 0..<newCount { src.append(sources[i].map { s * oldCount + $0 }); sc.append(scales[i]) } }
        }
        return ChannelMap(oldCount: oldCount * positions, sources: src, scales: sc)
    }
}

/// The shape `remapAxis` gives a tensor of `shape` and `dtype`, or the error it throws.
func remappedShape(_ shape: [Int], dtype: DType, axis: Int, blocks: Int, map: ChannelMap, node: String,
                   parameter: String) throws -> [Int] {
    guard axis >= 0, axis < shape.count, shape[axis] == blocks * map.oldCount else {
        throw GraftError(.shapeMismatch, "parameter '\(parameter)' does not have the width the layer says", location: node,
                         field: parameter, expected: "axis \(axis) of size \(blocks * map.oldCount)", found: "shape \(shape)")
    }
    guard dtype == .float32 || dtype == .float64 else {
        throw GraftError(.unsupported, "surgery edits float32 and float64 parameters only", location: node, field: parameter,
                         found: "\(dtype)")
    }
    var newShape = shape
    newShape[axis] = blocks * map.newCount
    return newShape
}

/// Re-lays one axis of `t`, seen as `blocks` blocks of `map.oldCount` entries, to blocks of
/// `map.newCount`: entry i of each block copies old entry `sources[i]` (times `scales[i]` when
/// `scaled`), or comes from `fresh` (row-major values of the result's shape; zero when nil).
func remapAxis(_ t: Tensor, axis: Int, blocks: Int = 1, map: ChannelMap, scaled: Bool = false,
               fresh: ((Int) -> Double)? = nil, node: String, parameter: String) throws -> Tensor {
    let shape = t.shape
    let newShape = try remappedShape(shape, dtype: t.dtype, axis: axis, blocks: blocks, map: map, node: node, parameter: parameter)
    let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
    let oldN = map.oldCount, newN = map.newCount
    // Works on the bytes: whole slices are copied with memcpy, so the cost is proportional
    // to the tensor touched and old values stay bit-identical.
    var out = Tensor(zeros: newShape, dtype: t.dtype)
    let size = t.dtype.size, sliceBytes = inner * size
    t.withUnsafeBytes { src in
        out.withUnsafeMutableBytes { dst in
            func store(_ value: Double, at element: Int) {
                if size == 4 { dst.storeBytes(of: Float(value), toByteOffset: element * 4, as: Float.self) }
                else { dst.storeBytes(of: value, toByteOffset: element * 8, as: Double.self) }
            }
            func load(_ element: Int) -> Double {
                size == 4 ? Double(src.load(fromByteOffset: element * 4, as: Float.self))
                          : src.load(fromByteOffset: element * 8, as: Double.self)
            }
            // Runs of channels copied unscaled from consecutive old channels: one memcpy per run
            // and block (a widened Dense kernel's rows are copied whole, not entry by entry).
            var runs: [(to: Int, from: Int, count: Int)] = []
            var i0 = 0
            while i0 < newN {
                guard let j = map.sources[i0], !scaled || map.scales[i0] == 1 else { i0 += 1; continue }
                var n = 1
                while i0 + n < newN, map.sources[i0 + n] == j + n, !scaled || map.scales[i0 + n] == 1 { n += 1 }
                runs.append((i0, j, n))
                i0 += n
            }
            // The channels the runs do not cover: scaled copies and new channels. Only these are
            // visited per block (widening a Dense kernel by k touches k entries per row here).
            let others = (0..<newN).filter { i in map.sources[i] == nil || (scaled && map.scales[i] != 1) }
            for o in 0..<outer {
                for b in 0..<blocks {
                    if sliceBytes > 0 {
                        for run in runs {
                            let to = ((o * blocks + b) * newN + run.to) * inner
                            let from = ((o * blocks + b) * oldN + run.from) * inner
                            (dst.baseAddress! + to * size).copyMemory(from: src.baseAddress! + from * size, byteCount: sliceBytes * run.count)
                        }
                    }
                    for i in others {
                        let to = ((o * blocks + b) * newN + i) * inner
                        if let j = map.sources[i] {
                            let from = ((o * blocks + b) * oldN + j) * inner
                            let s = map.scales[i]
                            for e in 0..<inner { store(load(from + e) * s, at: to + e) }
                        } else if let fresh {
                            for e in 0..<inner { store(fresh(to + e), at: to + e) }
                        }
                    }
                }
            }
        }
    }
    return out
}

/// How a resize fills what it creates.
struct ResizeSettings {
    /// Incoming (kernel) weights of new channels.
    var kernelInit: WeightInit = .glorotUniform
    /// Recurrent weights of new units (their rows into old units' gates are always zero).
    var recurrentInit: WeightInit = .orthogonal(gain: 1)
    /// Consumers' input rows for new channels; nil = zero (function preserving).
    var consumerInit: WeightInit? = nil
    /// Gaussian noise added to the copied incoming weights of split copies.
    var noise: Double = 0
    /// Whether graph outputs may change width (nOutReplace of an output layer).
    var allowOutputChange = false
    var rng = SplitMix64(seed: 42)
}

/// Applies a channel map to a layer's outputs and carries it through everything downstream.
struct ChannelResizer {
    let original: Graph
    var graph: Graph
    var settings: ResizeSettings
    var visited: Set<String> = []
    let root: String
    /// Parameter edits recorded for later (copy-on-write resizes, InPlaceResize.swift); nil:
    /// every edit is applied at once as a copy.
    var pending: [PendingRemap]? = nil

    init(graph: Graph, root: String, settings: ResizeSettings) {
        original = graph; self.graph = graph; self.root = root; self.settings = settings
    }

    /// Resizes `layer`'s outputs by `map` and carries the change downstream; the edited graph.
    mutating func run(layer: String, map: ChannelMap) throws -> Graph {
        visited.insert(layer)
        let out = try resizeProducer(layer, map)
        let channelsFirst: Bool
        if case .conv(let a) = original.node(named: layer)?.op { channelsFirst = a.dataFormat == .channelsFirst } else { channelsFirst = false }
        try propagate(from: layer, out, channelsFirst: channelsFirst)
        return graph
    }

    mutating func values(_ initializer: WeightInit, _ shape: [Int]) throws -> (Int) -> Double {
        try initializer.sampler(shape: shape, rng: &settings.rng)
    }

    // MARK: Producer

    /// Resizes the node's own output channels; returns the map of its output tensor.
    mutating func resizeProducer(_ name: String, _ map: ChannelMap) throws -> ChannelMap {
        guard let index = graph.index(of: name) else { throw invalid("no node named '\(name)'", node: name) }
        var node = graph.nodes[index]
        let out: ChannelMap
        switch node.op {
        case .dense(var a):
            try resizeDenseLike(&node, map, prefix: "")
            a.units = map.newCount; node.op = .dense(a); out = map
        case .output(var a) where a.kind == .dense || a.kind == .rnn || a.kind == .centerLoss:
            try resizeDenseLike(&node, map, prefix: "")
            a.units = map.newCount; node.op = .output(a); out = map
        case .timeDistributed(.dense(var a)):
            try resizeDenseLike(&node, map, prefix: "")
            a.units = map.newCount; node.op = .timeDistributed(layer: .dense(a)); out = map
        case .conv(var a) where a.kind == .standard && a.groups == 1:
            try resizeDenseLike(&node, map, prefix: "")
            a.filters = map.newCount; node.op = .conv(a); out = map
        case .embedding(var a):
            try resizeDenseLike(&node, map, prefix: "", kernelName: "embeddings")
            a.outputDim = map.newCount; node.op = .embedding(a); out = map
        case .simpleRNN, .lstm, .gru:
            try resizeRecurrent(&node, node.op, map, prefix: "")
            node.op = withUnits(node.op, map.newCount); out = map
        case .bidirectional(var a):
            try resizeRecurrent(&node, a.layer, map, prefix: "forward/")
            try resizeRecurrent(&node, a.layer, map, prefix: "backward/")
            a.layer = withUnits(a.layer, map.newCount); node.op = .bidirectional(a)
            out = a.mergeMode == .concat ? map.concatenated(map) : map
        default:
            throw invalid("cannot change the width of a \(node.op.kindName) layer", node: name,
                          expected: "dense, conv (standard), embedding, simpleRNN, lstm, gru, bidirectional, DL4J output layer",
                          found: node.op.kindName)
        }
        graph.nodes[index] = node
        return out
    }

    func withUnits(_ op: Op, _ units: Int) -> Op {
        switch op {
        case .simpleRNN(var a): a.units = units; return .simpleRNN(a)
        case .lstm(var a): a.recurrent.units = units; return .lstm(a)
        case .gru(var a): a.recurrent.units = units; return .gru(a)
        default: return op
        }
    }

    /// Kernel (last axis = output channels) and bias of dense, conv, embedding and output layers.
    mutating func resizeDenseLike(_ node: inout Node, _ map: ChannelMap, prefix: String, kernelName: String = "kernel") throws {
        let kName = prefix + kernelName
        guard let kernel = node.parameters[kName] else {
            throw GraftError(.missingWeights, "layer has no '\(kName)' parameter", location: node.name, field: kName)
        }
        var newShape = kernel.shape
        newShape[newShape.count - 1] = map.newCount
        try remap(&node, kName, axis: kernel.rank - 1, map: map, fresh: try values(settings.kernelInit, newShape))
        try addNoise(&node, kName, axis: kernel.rank - 1, blocks: 1, map: map)
        if let bias = node.parameters[prefix + "bias"] {
            try remap(&node, prefix + "bias", axis: bias.rank - 1, map: map, fresh: nil)
        }
    }

    /// Recurrent kernels with gate blocks on the last axis (see `Op.lstm`/`Op.gru`).
    mutating func resizeRecurrent(_ node: inout Node, _ op: Op, _ map: ChannelMap, prefix: String) throws {
        let g = gateCount(op), u2 = map.newCount
        let kName = prefix + "kernel", rName = prefix + "recurrentKernel", bName = prefix + "bias"
        guard let kernel = node.parameters[kName], let recurrent = node.parameters[rName] else {
            throw GraftError(.missingWeights, "recurrent layer lacks '\(kName)' or '\(rName)'", location: node.name)
        }
        try remap(&node, kName, axis: 1, blocks: g, map: map, fresh: try values(settings.kernelInit, [kernel.shape[0], g * u2]))
        try addNoise(&node, kName, axis: 1, blocks: g, map: map)
        // Columns first (old rows), then rows: new units' rows are fresh only into new units' columns.
        try remap(&node, rName, axis: 1, blocks: g, map: map, fresh: try values(settings.recurrentInit, [recurrent.shape[0], g * u2]))
        let rowValues = try values(settings.recurrentInit, [u2, g * u2])
        let freshRows: (Int) -> Double = { e in map.sources[(e % (g * u2)) % u2] == nil ? rowValues(e) : 0 }
        try remap(&node, rName, axis: 0, map: map, scaled: true, fresh: freshRows)
        if let bias = node.parameters[bName] {
            var biasValues = [Double](repeating: 0, count: bias.rank == 2 ? 2 * g * u2 : g * u2)
            if case .lstm = op { for i in 0..<u2 where map.sources[i] == nil { biasValues[u2 + i] = 1 } }
            let fresh: (Int) -> Double = { biasValues[$0] }
            try remap(&node, bName, axis: bias.rank - 1, blocks: g, map: map, fresh: fresh)
        }
        if node.parameters[prefix + "peepholes"] != nil {
            try remap(&node, prefix + "peepholes", axis: 1, map: map, fresh: try values(.uniform(low: -0.05, high: 0.05), [3, u2]))
        }
    }

    /// Split copies (new channels with a source) get Gaussian noise on their incoming weights
    /// (`node.parameters[key]`; never deferred: see `Graph.resizeInPlace`).
    mutating func addNoise(_ node: inout Node, _ key: String, axis: Int, blocks: Int, map: ChannelMap) throws {
        guard settings.noise != 0, let t = node.parameters[key] else { return }
        var v = t.doubles()
        let shape = t.shape, n = map.newCount
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        for o in 0..<outer { for b in 0..<blocks { for i in map.oldCount..<n where map.sources[i] != nil {
            for e in 0..<inner { v[((o * blocks + b) * n + i) * inner + e] += settings.noise * settings.rng.normal() }
        } } }
        node.parameters[key] = Tensor(shape: shape, doubles: v).converted(to: t.dtype)
    }

    // MARK: Downstream

    /// Carries `map` (the channels of `name`'s outputs) into every consumer.
    mutating func propagate(from name: String, _ map: ChannelMap, channelsFirst: Bool) throws {
        if original.outputs.contains(where: { $0.node == name }) && !settings.allowOutputChange {
            throw invalid("the change would alter the width of graph output '\(name)'", node: name,
                          expected: "a layer whose width change stops at a consumer with weights", found: "graph output \(name)")
        }
        for consumer in original.consumers(of: name) where !visited.contains(consumer.name) {
            visited.insert(consumer.name)
            try carry(into: consumer, from: name, map, channelsFirst: channelsFirst)
        }
    }

    mutating func carry(into consumer: Node, from producer: String, _ map: ChannelMap, channelsFirst: Bool) throws {
        let c = consumer.name
        guard let index = graph.index(of: c) else { return }
        var node = graph.nodes[index]
        switch consumer.op {
        case .dropout, .masking, .pooling, .globalPooling, .zeroPadding, .cropping, .upSampling, .repeatVector,
             .dl4jVertex(.lastTimeStep), .dl4jVertex(.scale), .dl4jVertex(.shift),
             .dl4jVertex(.preprocessor(.rnnToFeedForward)), .dl4jVertex(.preprocessor(.feedForwardToRnn)):
            try propagate(from: c, map, channelsFirst: channelsFirst)
        case .activation(let f):
            if case .softmax = f { throw mixesChannels(consumer) }
            try propagate(from: c, map, channelsFirst: channelsFirst)
        case .output(let a) where a.kind == .loss || a.kind == .rnnLoss || a.kind == .cnnLoss:
            if case .softmax = a.activation { throw mixesChannels(consumer) }
            try propagate(from: c, map, channelsFirst: channelsFirst)
        case .prelu:
            if let alpha = node.parameters["alpha"], alpha.rank > 0 {
                let axis = channelsFirst ? 0 : alpha.rank - 1
                if alpha.shape[axis] != 1 {
                    try remap(&node, "alpha", axis: axis, map: map, fresh: { _ in 0.25 })
                    graph.nodes[index] = node
                }
            }
            try propagate(from: c, map, channelsFirst: channelsFirst)
        case .batchNorm:
            for key in ["gamma", "beta", "movingMean", "movingVariance"] {
                guard node.parameters[key] != nil else { continue }
                let identity: Double = (key == "gamma" || key == "movingVariance") ? 1 : 0
                try remap(&node, key, axis: 0, map: map, fresh: { _ in identity })
            }
            graph.nodes[index] = node
            try propagate(from: c, map, channelsFirst: channelsFirst)
        case .dl4jVertex(.preprocessor(.cnnToFeedForward(let h, let w, let channels))):
            guard channels == map.oldCount else {
                throw invalid("the CNN-to-feed-forward preprocessor's channel count disagrees with its input", node: c,
                              expected: "\(map.oldCount) channels", found: "\(channels)")
            }
            node.op = .dl4jVertex(.preprocessor(.cnnToFeedForward(height: h, width: w, channels: map.newCount)))
            graph.nodes[index] = node
            try propagate(from: c, map.flattened(positions: h * w, channelsFirst: channelsFirst), channelsFirst: false)
        case .flatten:
            guard let rows = firstConsumerRows(after: c), map.oldCount > 0, rows % map.oldCount == 0 else {
                throw invalid("cannot tell how many positions the flatten collects", node: c,
                              expected: "a Dense/output layer after the flatten whose input rows are a multiple of \(map.oldCount)")
            }
            try propagate(from: c, map.flattened(positions: rows / map.oldCount, channelsFirst: channelsFirst), channelsFirst: false)
        case .merge(let m):
            switch m.kind {
            case .concatenate(let axis):
                guard axis == -1 || (channelsFirst && axis == 1) else {
                    throw invalid("concatenation is not along the channel axis", node: c, expected: "axis -1", found: "axis \(axis)")
                }
                var combined = ChannelMap(oldCount: 0, sources: [], scales: [])
                for input in consumer.inputs {
                    if input.node == producer { combined = combined.concatenated(map); continue }
                    guard let w = original.featureWidth(of: input) else {
                        throw invalid("cannot tell the width of concatenated input '\(input)'", node: c)
                    }
                    combined = combined.concatenated(.identity(w))
                }
                try propagate(from: c, combined, channelsFirst: channelsFirst)
            case .add, .subtract, .multiply, .average, .maximum, .minimum:
                for input in consumer.inputs where input.node != producer {
                    try resizeSibling(input.node, of: c, map)
                }
                try propagate(from: c, map, channelsFirst: channelsFirst)
            case .dot:
                throw mixesChannels(consumer)
            }
        case .dense, .output, .timeDistributed(.dense):
            try resizeRows(&node, "kernel", axisFromEnd: 2, map)
            graph.nodes[index] = node
        case .conv(let a) where a.kind == .standard && a.groups == 1:
            try resizeRows(&node, "kernel", axisFromEnd: 2, map)
            graph.nodes[index] = node
        case .conv(let a) where a.groups == 1:
            // Depthwise / separable: each input channel owns `multiplier` depthwise outputs
            // (channel c·m + j), so the map widens to those before it reaches the pointwise
            // kernel (separable) or the next consumer (depthwise).
            let m: Int
            switch a.kind {
            case .depthwise(let mult), .separable(let mult): m = mult
            default: throw invalid("cannot carry a width change into a \(consumer.op.kindName)", node: c, found: consumer.op.kindName)
            }
            guard let dk = node.parameters["depthwiseKernel"] else {
                throw GraftError(.missingWeights, "consumer has no 'depthwiseKernel' parameter", location: c, field: "depthwiseKernel")
            }
            var newShape = dk.shape
            newShape[dk.rank - 2] = map.newCount
            try remap(&node, "depthwiseKernel", axis: dk.rank - 2, map: map, fresh: try values(settings.kernelInit, newShape))
            let expanded = ChannelMap(oldCount: map.oldCount * m,
                                      sources: map.sources.flatMap { s in (0..<m).map { j in s.map { $0 * m + j } } },
                                      scales: map.scales.flatMap { s in Array(repeating: s, count: m) })
            if case .separable = a.kind {
                try resizeRows(&node, "pointwiseKernel", axisFromEnd: 2, expanded)
                graph.nodes[index] = node
            } else {
                if node.parameters["bias"] != nil {
                    try remap(&node, "bias", axis: 0, map: expanded, fresh: nil)
                }
                var attributes = a
                if attributes.filters == map.oldCount * m { attributes.filters = map.newCount * m }
                node.op = .conv(attributes)
                graph.nodes[index] = node
                try propagate(from: c, expanded, channelsFirst: channelsFirst)
            }
        case .simpleRNN, .lstm, .gru:
            try resizeRows(&node, "kernel", axisFromEnd: 2, map)
            graph.nodes[index] = node
        case .bidirectional:
            try resizeRows(&node, "forward/kernel", axisFromEnd: 2, map)
            try resizeRows(&node, "backward/kernel", axisFromEnd: 2, map)
            graph.nodes[index] = node
        default:
            throw invalid("cannot carry a width change through a \(consumer.op.kindName) node", node: c,
                          expected: "dropout, activation, masking, pooling, batchNorm, flatten, concatenate, add/multiply, or a layer with weights",
                          found: consumer.op.kindName)
        }
    }

    func mixesChannels(_ node: Node) -> GraftError {
        invalid("a \(node.op.kindName) mixes channels, so new channels would change its output", node: node.name,
                expected: "a consumer with weights before any softmax/dot over the channels", found: node.op.kindName)
    }

    /// Rows (input channels) of a consumer's kernel: zero, fresh, or scaled copies.
    mutating func resizeRows(_ node: inout Node, _ key: String, axisFromEnd: Int, _ map: ChannelMap) throws {
        guard let kernel = node.parameters[key] else {
            throw GraftError(.missingWeights, "consumer has no '\(key)' parameter", location: node.name, field: key)
        }
        let axis = kernel.rank - axisFromEnd
        var newShape = kernel.shape
        if axis >= 0 && axis < newShape.count { newShape[axis] = map.newCount }
        let fresh = try settings.consumerInit.map { try values($0, newShape) }
        try remap(&node, key, axis: axis, map: map, scaled: true, fresh: fresh)
    }

    /// The input rows of the first weighted layer after `name` through pass-through nodes.
    func firstConsumerRows(after name: String) -> Int? {
        for c in original.consumers(of: name) {
            switch c.op {
            case .dense, .output: return c.parameters["kernel"]?.shape.first
            case .dropout, .activation, .masking: if let r = firstConsumerRows(after: c.name) { return r }
            default: continue
            }
        }
        return nil
    }

    /// Widens (or prunes) the branch feeding an element-wise merge the same way, or refuses.
    mutating func resizeSibling(_ start: String, of merge: String, _ map: ChannelMap) throws {
        var current = start
        while true {
            if current == root || visited.contains(current) { return }
            guard let n = original.node(named: current) else { return }
            let others = original.consumers(of: current).filter { $0.name != merge }
            switch n.op {
            case .dropout, .activation, .masking:
                guard others.count <= 1, let next = n.inputs.first?.node else { break }
                current = next
                continue
            case .dense, .conv, .simpleRNN, .lstm, .gru, .embedding, .bidirectional, .timeDistributed(.dense):
                guard original.consumers(of: current).count == 1,
                      !original.outputs.contains(where: { $0.node == current }) else { break }
                visited.insert(current)
                let out = try resizeProducer(current, map)
                guard out.newCount == map.newCount else { break }
                return
            default: break
            }
            throw invalid("cannot widen into merge '\(merge)': its sibling input '\(start)' cannot be widened the same way",
                          node: merge, expected: "a sibling branch ending in a widenable layer used only by this merge",
                          found: "\(current) (\(n.op.kindName))")
        }
    }
}
