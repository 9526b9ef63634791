import GraftCore

/// Maps arrays between two models of the same network saved in formats with different data
/// layouts, so they can be run on the same data: DL4J sequences are [batch, features, time]
/// where Keras uses [batch, time, features]; images may be channels first or last.
public struct LayoutMapping: Sendable, Equatable {
    /// Per input of B: the permutation that turns A's array into B's (nil = as is).
    public var inputPermutations: [[Int]?]
    /// The permutation that turns B's rank-n output back into A's layout, by rank (the
    /// layout change the inputs needed, applied in reverse to outputs of the same rank).
    public var outputPermutations: [Int: [Int]]

    /// The mapping from A's input layouts to B's. Both graphs need the same number of inputs.
    public init(from a: Graph, to b: Graph) throws {
        let inputsA = a.inputs, inputsB = b.inputs
        guard inputsA.count == inputsB.count else {
            throw GraftError(.shapeMismatch, "the two models take different numbers of inputs",
                             expected: "\(inputsA.count)", found: "\(inputsB.count)")
        }
        var perms: [[Int]?] = []
        var back: [Int: [Int]] = [:]
        // Rank-3 arrays at the two boundaries: [batch, features, time] (DL4J) or [batch, time, features].
        let sequencesDiffer = LayoutMapping.sequencesFeaturesFirst(a) != LayoutMapping.sequencesFeaturesFirst(b)
        for (na, nb) in zip(inputsA, inputsB) {
            guard case .input(let ia) = na.op, case .input(let ib) = nb.op else { perms.append(nil); continue }
            let rank = ia.shape.count + 1
            var perm = LayoutMapping.permutation(from: ia.layout, to: ib.layout, rank: rank)
            // An input of unstated kind (a DL4J model starting with e.g. an ActivationLayer)
            // takes sequences in its graph's boundary layout.
            if perm == nil, rank == 3, sequencesDiffer, ia.layout == .flat || ib.layout == .flat { perm = [0, 2, 1] }
            perms.append(perm)
            if let perm { back[rank] = LayoutMapping.inverse(perm) }
        }
        // Sequences made inside the graph (from token ids, repeat vectors…) still leave in its boundary layout.
        if sequencesDiffer, back[3] == nil { back[3] = [0, 2, 1] }
        inputPermutations = perms
        outputPermutations = back
    }

    /// Whether a graph's rank-3 inputs and outputs are [batch, features, time]: when an input
    /// says so (a DL4J sequence, or a Keras channels_first 1-D input), or when the graph comes
    /// from DL4J and no input declares Keras' [batch, time, features] (the runtime's rule,
    /// `OutputLayout.sequencesTransposed`).
    public static func sequencesFeaturesFirst(_ graph: Graph) -> Bool {
        let inputs = graph.inputs.compactMap { node -> InputAttributes? in
            if case .input(let a) = node.op { return a }
            return nil
        }
        if inputs.contains(where: { $0.layout == .sequenceFeaturesTime || $0.layout == .channelsFirst && $0.shape.count == 2 }) {
            return true
        }
        let fromDL4J = graph.source.format.lowercased().hasPrefix("dl4j")
        return fromDL4J && !inputs.contains { $0.layout == .sequenceTimeMajorFeatures }
    }

    /// Whether anything needs moving.
    public var isIdentity: Bool { inputPermutations.allSatisfy { $0 == nil } }

    /// A's inputs rearranged for B.
    public func inputsForB(_ inputs: [Tensor]) throws -> [Tensor] {
        try inputs.enumerated().map { i, t in
            guard i < inputPermutations.count, let perm = inputPermutations[i], perm.count == t.rank else { return t }
            return try t.transposed(perm)
        }
    }

    /// B's outputs rearranged into A's layout.
    public func outputsForA(_ outputs: [Tensor]) throws -> [Tensor] {
        try outputs.map { t in
            guard let perm = outputPermutations[t.rank] else { return t }
            return try t.transposed(perm)
        }
    }

    /// The axis permutation taking an array in layout `from` to layout `to` (batch first in
    /// both), or nil when none is needed or the layouts are not a known pair.
    public static func permutation(from: DataLayout, to: DataLayout, rank: Int) -> [Int]? {
        guard rank >= 3 else { return nil }
        let channelsLastToFirst = [0, rank - 1] + Array(1..<(rank - 1))   // [b, ..., c] → [b, c, ...]
        let channelsFirstToLast = [0] + Array(2..<rank) + [1]             // [b, c, ...] → [b, ..., c]
        switch (from, to) {
        case (.sequenceFeaturesTime, .sequenceTimeMajorFeatures), (.channelsFirst, .channelsLast):
            return channelsFirstToLast
        case (.sequenceTimeMajorFeatures, .sequenceFeaturesTime), (.channelsLast, .channelsFirst):
            return channelsLastToFirst
        default:
            return nil
        }
    }

    static func inverse(_ perm: [Int]) -> [Int] {
        var inv = [Int](repeating: 0, count: perm.count)
        for (i, p) in perm.enumerated() { inv[p] = i }
        return inv
    }
}
