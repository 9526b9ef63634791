import GraftCore

/// Seeded random inputs shaped like a graph's inputs, for verifying two models agree when
/// no input is given. Unknown sizes become 4; the batch is 2. Integer inputs and inputs that
/// feed an embedding (token ids, whatever their dtype) get ids in [0, 2).
public enum RandomInputs {
    public static func make(for graph: Graph, seed: UInt64, batch: Int = 2) throws -> [Tensor] {
        make(shapes: graph.inputs.map { node in
            guard case .input(let attrs) = node.op else { return nil }
            return ([batch] + attrs.shape.map { $0 ?? 4 }, attrs.dtype, feedsEmbedding(graph, node.name))
        }, seed: seed)
    }

    /// Inputs for `graph` where sizes it leaves open are taken from `other`, the same network
    /// in another format (e.g. a DL4J CNN that does not state its image size, converted to
    /// Keras with the size filled in), mapped back through `mapping` (from `graph` to
    /// `other`). Sizes neither states become 4.
    public static func make(for graph: Graph, sizesFrom other: Graph, mapping: LayoutMapping, seed: UInt64,
                            batch: Int = 2) throws -> [Tensor] {
        let otherInputs = other.inputs
        return make(shapes: graph.inputs.enumerated().map { i, node in
            guard case .input(let attrs) = node.op else { return nil }
            var shape: [Int?] = [batch] + attrs.shape
            if i < otherInputs.count, case .input(let b) = otherInputs[i].op, b.shape.count == attrs.shape.count {
                let shapeB: [Int?] = [batch] + b.shape
                // B's axis j holds A's axis perm[j].
                let perm = (i < mapping.inputPermutations.count ? mapping.inputPermutations[i] : nil) ?? Array(shape.indices)
                for (j, axis) in perm.enumerated() where axis < shape.count && j < shapeB.count && shape[axis] == nil {
                    shape[axis] = shapeB[j]
                }
            }
            return (shape.map { $0 ?? 4 }, attrs.dtype, feedsEmbedding(graph, node.name))
        }, seed: seed)
    }

    static func make(shapes: [([Int], DType, ids: Bool)?], seed: UInt64) -> [Tensor] {
        var rng = SplitMix64(seed: seed)
        func next() -> Double { rng.uniform(-1, 1) }
        return shapes.map { entry in
            guard let (shape, dtype, ids) = entry else { return Tensor(zeros: [0]) }
            let count = shape.reduce(1, *)
            let values = (0..<count).map { _ in dtype.isFloatingPoint && !ids ? next() : (next() > 0 ? 1 : 0) }
            return Tensor(shape: shape, doubles: values).converted(to: dtype.isFloatingPoint ? .float32 : dtype)
        }
    }

    /// Whether an input goes straight into an embedding lookup.
    static func feedsEmbedding(_ graph: Graph, _ input: String) -> Bool {
        graph.nodes.contains { node in
            guard node.inputs.contains(where: { $0.node == input }) else { return false }
            if case .embedding = node.op { return true }
            return false
        }
    }
}
