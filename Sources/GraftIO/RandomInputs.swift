import GraftCore

/// Seeded random inputs shaped like a graph's inputs, for verifying two models agree when
/// no input is given. Unknown sizes become 4; the batch is 2. Integer (token id) inputs get
/// ids in [0, 2).
public enum RandomInputs {
    public static func make(for graph: Graph, seed: UInt64, batch: Int = 2) throws -> [Tensor] {
        var state = seed
        func next() -> Double {
            // SplitMix64, mapped to [-1, 1).
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Double(z >> 11) / Double(1 << 53) * 2 - 1
        }
        return graph.inputs.map { node in
            guard case .input(let attrs) = node.op else { return Tensor(zeros: [0]) }
            let shape = [batch] + attrs.shape.map { $0 ?? 4 }
            let count = shape.reduce(1, *)
            let values = (0..<count).map { _ in attrs.dtype.isFloatingPoint ? next() : (next() > 0 ? 1 : 0) }
            return Tensor(shape: shape, doubles: values).converted(to: attrs.dtype.isFloatingPoint ? .float32 : attrs.dtype)
        }
    }
}
