import GraftCore

extension DL4JLayerConfig {
    /// The IR op of a DL4J layer given only as its JSON (`@class` form or legacy wrapper),
    /// for adding an untrained layer: the layer's family builds it without parameters.
    public static func untrainedOp(_ json: JSONValue) throws -> Op {
        let config = try parse(json, location: "layer")
        let inner = config.innermost
        guard let family = DL4JLayerFamilies.family(for: inner.type) else {
            throw GraftError(.unknownLayer, "no DL4J layer family reads this type", field: "@class", found: inner.type)
        }
        var reader = DL4JParameterReader(flat: nil, file: nil)
        let input = DL4JLayerInput(family.expects ?? .feedForward, inner.nIn ?? 0)
        return try family.build(inner, input, &reader).op
    }
}
