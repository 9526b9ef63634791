import GraftCore

/// The table of Keras layer families. Adding a layer type is one file and one line here.
public enum KerasLayerRegistry {
    nonisolated(unsafe) public static let families: [any KerasLayerFamily.Type] = [
        KerasInputLayerFamily.self,
        KerasDenseFamily.self,
        KerasActivationFamily.self,
        KerasDropoutFamily.self,
        KerasReshapingFamily.self,
        KerasMaskingFamily.self,
        KerasMergeFamily.self,
        KerasNormalizationFamily.self,
        KerasEmbeddingFamily.self,
        KerasTimeDistributedFamily.self,
        KerasRecurrentFamily.self,
        KerasBidirectionalFamily.self,
        KerasConvolutionFamily.self,
        KerasPoolingFamily.self,
        KerasGlobalPoolingFamily.self,
        KerasPaddingCroppingFamily.self,
        KerasUpSamplingFamily.self,
        KerasLocallyConnectedFamily.self,
        KerasConvLSTMFamily.self,
        KerasAttentionFamily.self,
    ]

    /// Class name → family, built once; a class claimed by two families is a programming error
    /// caught by the registry test.
    nonisolated(unsafe) static let byClassName: [String: any KerasLayerFamily.Type] = {
        var table: [String: any KerasLayerFamily.Type] = [:]
        for family in families {
            for name in family.classNames where table[name] == nil { table[name] = family }
        }
        return table
    }()

    /// The family that reads `className`, or nil.
    public static func family(for className: String) -> (any KerasLayerFamily.Type)? {
        byClassName[className]
    }

    /// Classes that are carried as opaque ops (Python code or TensorFlow ops Graft cannot run).
    public static let opaqueClassNames: Set<String> = ["Lambda", "TensorFlowOpLayer", "TFOpLambda", "SlicingOpLambda"]
}
