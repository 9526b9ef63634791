import GraftCore

/// How `widen` fills the new units.
public enum WidenMode: Sendable, Equatable {
    /// New units get fresh incoming, recurrent and bias weights; their outgoing weights, their
    /// recurrent weights into old units and their rows in every consumer are zero: the
    /// network's outputs do not change.
    case zeroFanOut
    /// Net2WiderNet: new units copy randomly chosen existing units; consumer rows of a unit
    /// and its copies are divided by the number of copies. Exact when `noise` is 0.
    case split(noise: Double)

    public var name: String {
        switch self {
        case .zeroFanOut: return "zero-fan-out"
        case .split: return "split"
        }
    }
}

/// The largest unit count widen and nOutReplace accept (2^24), so a typo cannot ask for
/// terabytes before anything is allocated.
let maximumUnits = 1 << 24

/// The number of output channels (units, filters, output dim) a resizable layer has.
func channelCount(_ node: Node) throws -> Int {
    switch node.op {
    case .dense(let a): return a.units
    case .conv(let a) where a.kind == .standard: return a.filters
    case .embedding(let a): return a.outputDim
    case .output(let a):
        if let u = a.units ?? node.parameters["kernel"]?.shape.last { return u }
    case .timeDistributed(.dense(let a)): return a.units
    case .simpleRNN, .lstm, .gru: if let u = recurrentUnits(node.op) { return u }
    case .bidirectional(let a): if let u = recurrentUnits(a.layer) { return u }
    default: break
    }
    throw invalid("a \(node.op.kindName) layer has no units to change", node: node.name,
                  expected: "dense, conv, embedding, simpleRNN, lstm, gru, bidirectional or an output layer with weights",
                  found: node.op.kindName)
}

extension Graph {
    /// Adds `by` units (neurons, filters, output dims) to `layer` and carries the change
    /// through everything downstream (see `WidenMode`). Every trained weight is kept. The
    /// result shares every tensor it does not change with this graph.
    public func widen(layer: String, by k: Int, mode: WidenMode = .zeroFanOut, weightInit: WeightInit = .glorotUniform,
                      seed: UInt64 = 42) throws -> Graph {
        var g = self
        try g.widenInPlace(layer: layer, by: k, mode: mode, weightInit: weightInit, seed: seed)
        return g
    }

    /// `widen` applied to this graph itself: the tensors it changes that this graph holds alone
    /// (no other graph or tensor shares them, as after loading a file) grow in their own bytes
    /// (a large tensor's mapping is grown with mremap and its rows moved, not copied); shared
    /// ones are copied, so other graphs never change. The same bits as `widen`. When it throws,
    /// the graph is unchanged. Returns which parameters were edited in place and which copied.
    @discardableResult
    public mutating func widenInPlace(layer: String, by k: Int, mode: WidenMode = .zeroFanOut,
                                      weightInit: WeightInit = .glorotUniform, seed: UInt64 = 42) throws -> InPlaceReport {
        // No local copy of the node: it would hold its tensors and make them look shared.
        let n = try channelCount(try requireNode(layer, for: "widen"))
        guard k > 0, k <= maximumUnits else {
            throw invalid("widen needs a positive number of new units", node: layer, expected: "0 < by <= \(maximumUnits)", found: "\(k)")
        }
        var rng = SplitMix64(seed: seed)
        var map = ChannelMap(oldCount: n, sources: Array(0..<n) + Array(repeating: nil, count: k),
                             scales: Array(repeating: 1, count: n + k))
        var noise = 0.0
        if case .split(let amount) = mode {
            guard n > 0 else { throw invalid("split needs existing units to copy", node: layer) }
            noise = amount
            var copies = [Int](repeating: 1, count: n)
            for i in n..<(n + k) { let j = rng.index(n); map.sources[i] = j; copies[j] += 1 }
            for i in 0..<(n + k) { map.scales[i] = 1 / Double(copies[map.sources[i]!]) }
        }
        let settings = ResizeSettings(kernelInit: weightInit, consumerInit: nil, noise: noise, rng: rng)
        var arguments: [(String, JSONValue)] = [("layer", .string(layer)), ("by", JSONValue(k)), ("mode", .string(mode.name))]
        if case .split(let amount) = mode, amount != 0 { arguments.append(("noise", JSONValue(amount))) }
        arguments.append(("seed", JSONValue(Int(seed & 0x7FFF_FFFF_FFFF_FFFF))))
        return try resizeInPlace(layer: layer, map: map, settings: settings, operation: "widen", arguments: arguments,
                                 functionPreserving: noise == 0)
    }

    /// Removes the given units (0-based) of `layer` and their rows in every consumer
    /// (kerassurgeon's delete_channels). Not function preserving in general.
    public func prune(layer: String, units: [Int]) throws -> Graph {
        let node = try requireNode(layer, for: "prune")
        let n = try channelCount(node)
        let remove = Set(units)
        guard !units.isEmpty else { throw invalid("prune needs at least one unit", node: layer, expected: "units: [i, …]", found: "[]") }
        guard remove.allSatisfy({ $0 >= 0 && $0 < n }) else {
            throw invalid("unit index out of range", node: layer, expected: "indices in 0..<\(n)", found: "\(units)")
        }
        guard remove.count < n else {
            throw invalid("pruning every unit would leave an empty layer", node: layer, expected: "fewer than \(n) units", found: "\(remove.count)")
        }
        let kept = (0..<n).filter { !remove.contains($0) }
        let map = ChannelMap(oldCount: n, sources: kept, scales: Array(repeating: 1, count: kept.count))
        var g = self
        try g.resizeInPlace(layer: layer, map: map, settings: ResizeSettings(), operation: "prune",
                            arguments: [("layer", .string(layer)), ("units", JSONValue(ints: units.sorted()))], functionPreserving: false)
        return g
    }

    /// DL4J `nOutReplace`, keeping trained weights: growing keeps every unit and initialises
    /// the new ones with `weightInit` (their consumer rows with `fanOutWeightInit`); shrinking
    /// keeps the first `nOut` units. May change a graph output's width.
    public func nOutReplace(layer: String, nOut: Int, weightInit: WeightInit = .glorotUniform,
                            fanOutWeightInit: WeightInit? = nil, seed: UInt64 = 42) throws -> Graph {
        var g = self
        try g.nOutReplaceInPlace(layer: layer, nOut: nOut, weightInit: weightInit, fanOutWeightInit: fanOutWeightInit, seed: seed)
        return g
    }

    /// `nOutReplace` applied to this graph itself, copy-on-write as `widenInPlace`: growing
    /// edits the tensors this graph holds alone in their own bytes; shrinking copies.
    @discardableResult
    public mutating func nOutReplaceInPlace(layer: String, nOut: Int, weightInit: WeightInit = .glorotUniform,
                                            fanOutWeightInit: WeightInit? = nil, seed: UInt64 = 42) throws -> InPlaceReport {
        let n = try channelCount(try requireNode(layer, for: "nOutReplace"))
        guard nOut > 0, nOut <= maximumUnits else {
            throw invalid("nOut must be positive", node: layer, expected: "0 < nOut <= \(maximumUnits)", found: "\(nOut)")
        }
        let sources: [Int?] = nOut >= n ? Array(0..<n) + Array(repeating: nil, count: nOut - n) : Array(0..<nOut)
        let map = ChannelMap(oldCount: n, sources: sources, scales: Array(repeating: 1, count: nOut))
        let fanOut = fanOutWeightInit ?? weightInit
        let settings = ResizeSettings(kernelInit: weightInit, consumerInit: fanOut, allowOutputChange: true, rng: SplitMix64(seed: seed))
        return try resizeInPlace(layer: layer, map: map, settings: settings, operation: "nOutReplace",
                                 arguments: [("layer", .string(layer)), ("nOut", JSONValue(nOut)),
                                             ("weightInit", .string("\(weightInit)")), ("fanOutWeightInit", .string("\(fanOut)"))],
                                 functionPreserving: nOut == n)
    }
}
