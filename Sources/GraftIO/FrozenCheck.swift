import GraftCore

/// `graft check-frozen` as a library call: which frozen parameters of a base model moved in
/// a trained one.
public struct FrozenCheck: Sendable {
    /// One moved (changed, missing or reshaped) frozen parameter.
    public struct Moved: Sendable, Equatable, CustomStringConvertible {
        public var node: String
        public var parameter: String
        public var detail: String
        public var description: String { "\(node)/\(parameter): \(detail)" }
    }

    /// Whether the base's freeze manifest was the reference (else the base file's own freeze state).
    public var usedManifest: Bool
    public var frozenNodeCount: Int
    public var frozenTensorCount: Int
    public var moved: [Moved]

    /// Compares `trained` with the base model at `basePath`. When the base has a matching
    /// freeze manifest beside it, its frozen list and per-parameter SHA-256 are the reference;
    /// otherwise the nodes the base file marks frozen are compared value by value.
    public static func run(basePath: String, baseWeights: String? = nil, trained: Graph) throws -> FrozenCheck {
        if let manifest = (try? FreezeManifest.matching(model: basePath)) ?? nil {
            return FrozenCheck(usedManifest: true, frozenNodeCount: manifest.frozen.count,
                               frozenTensorCount: manifest.frozen.reduce(0) { $0 + $1.parameters.count },
                               moved: manifest.movedParameters(in: trained).map { Moved(node: $0.node, parameter: $0.parameter, detail: $0.detail) })
        }
        let base = try ModelFile.load(path: basePath, weights: baseWeights)
        let frozen = base.nodes.filter { $0.freeze != .trainable }
        return FrozenCheck(usedManifest: false, frozenNodeCount: frozen.count,
                           frozenTensorCount: frozen.reduce(0) { $0 + $1.parameters.count },
                           moved: base.movedFrozenParameters(in: trained).map { Moved(node: $0.node, parameter: $0.parameter, detail: "\($0.kind) \($0.detail)") })
    }
}
