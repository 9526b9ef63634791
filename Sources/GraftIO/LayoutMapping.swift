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
        for (na, nb) in zip(inputsA, inputsB) {
            guard case .input(let ia) = na.op, case .input(let ib) = nb.op else { perms.append(nil); continue }
            let rank = ia.shape.count + 1
            let perm = LayoutMapping.permutation(from: ia.layout, to: ib.layout, rank: rank)
            perms.append(perm)
            if let perm { back[rank] = LayoutMapping.inverse(perm) }
        }
        inputPermutations = perms
        outputPermutations = back
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
