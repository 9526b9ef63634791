import GraftCore

/// Seeded random inputs shaped like a graph's inputs, for verifying two models agree when
/// no input is given. Unknown sizes become 4; the batch is 2. Integer (token id) inputs get
/// ids in [0, 2).
public enum RandomInputs {
    public static func make(for graph: Graph, seed: UInt64, batch: Int = 2) throws -> [Tensor] {
        var rng = SplitMix64(seed: seed)
        func next() -> Double { rng.uniform(-1, 1) }
        return graph.inputs.map { node in
            guard case .input(let attrs) = node.op else { return Tensor(zeros: [0]) }
            let shape = [batch] + attrs.shape.map { $0 ?? 4 }
            let count = shape.reduce(1, *)
            let values = (0..<count).map { _ in attrs.dtype.isFloatingPoint ? next() : (next() > 0 ? 1 : 0) }
            return Tensor(shape: shape, doubles: values).converted(to: attrs.dtype.isFloatingPoint ? .float32 : attrs.dtype)
        }
    }
}
