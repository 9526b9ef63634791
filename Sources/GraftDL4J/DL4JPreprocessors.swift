import GraftCore

/// DL4J input pre-processors (MultiLayerNetwork `inputPreProcessors`, a LayerVertex's
/// `preProcessor`, PreprocessorVertex) in both JSON generations.
enum DL4JPreprocessors {
    /// The pre-processor's type name: legacy key (`cnnToFeedForward`) or `@class` simple name.
    static func typeName(_ json: JSONValue) -> (String, JSONValue)? {
        if let cls = json["@class"]?.stringValue { return (String(cls.split(separator: ".").last ?? ""), json) }
        if let object = json.objectValue, object.count == 1, let (k, v) = object.elements.first.map({ ($0.key, $0.value) }) { return (k, v) }
        return nil
    }

    static func convert(_ json: JSONValue, input: DL4JLayerInput, location: String) throws -> (Op, DL4JLayerInput) {
        guard let (type, fields) = typeName(json) else {
            throw GraftError(.malformed, "pre-processor has neither '@class' nor a wrapper key", location: location,
                             field: "preProcessor", found: json.serialized().prefix(80).description)
        }
        let h = fields["inputHeight"]?.intValue ?? 0
        let w = fields["inputWidth"]?.intValue ?? 0
        let c = fields["numChannels"]?.intValue ?? 0
        switch type {
        case "cnnToFeedForward", "CnnToFeedForwardPreProcessor":
            return (.dl4jVertex(.preprocessor(.cnnToFeedForward(height: h, width: w, channels: c))),
                    DL4JLayerInput(.feedForward, h * w * c))
        case "feedForwardToCnn", "FeedForwardToCnnPreProcessor":
            return (.dl4jVertex(.preprocessor(.feedForwardToCnn(height: h, width: w, channels: c))),
                    DL4JLayerInput(.convolutional2D, c))
        case "rnnToFeedForward", "RnnToFeedForwardPreProcessor":
            return (.dl4jVertex(.preprocessor(.rnnToFeedForward)), DL4JLayerInput(.feedForward, input.size))
        case "feedForwardToRnn", "FeedForwardToRnnPreProcessor":
            return (.dl4jVertex(.preprocessor(.feedForwardToRnn)), DL4JLayerInput(.recurrent, input.size))
        case "cnnToRnn", "CnnToRnnPreProcessor":
            return (.dl4jVertex(.preprocessor(.cnnToRnn(height: h, width: w, channels: c))),
                    DL4JLayerInput(.recurrent, h * w * c))
        case "rnnToCnn", "RnnToCnnPreProcessor":
            return (.dl4jVertex(.preprocessor(.rnnToCnn(height: h, width: w, channels: c))),
                    DL4JLayerInput(.convolutional2D, c))
        case "Cnn3DToFeedForwardPreProcessor":
            // Channels-first [c, d, h, w] flattened row-major (ncdhw = true) is exactly `flatten`.
            let d = fields["inputDepth"]?.intValue ?? 0
            guard fields["ncdhw"]?.boolValue ?? true else {
                throw GraftError(.unsupported, "channels-last 3-D pre-processor", location: location, field: "ncdhw", found: "false")
            }
            return (.flatten, DL4JLayerInput(.feedForward, d * h * w * c))
        default:
            // Keras-import pre-processors (ReshapePreprocessor, PermutePreprocessor, …) and
            // user classes are carried, not computed.
            if let cls = json["@class"]?.stringValue {
                return (.opaque(OpaqueAttributes(format: "dl4j", className: cls, config: json)), input)
            }
            throw GraftError(.unsupported, "unsupported DL4J input pre-processor", location: location,
                             field: "preProcessor", found: type)
        }
    }

    /// What a pre-processor expects to receive.
    static func expects(_ json: JSONValue) -> DL4JDataKind? {
        guard let (type, _) = typeName(json) else { return nil }
        switch type {
        case "cnnToFeedForward", "CnnToFeedForwardPreProcessor", "cnnToRnn", "CnnToRnnPreProcessor": return .convolutional2D
        case "feedForwardToCnn", "FeedForwardToCnnPreProcessor", "feedForwardToRnn", "FeedForwardToRnnPreProcessor": return .feedForward
        case "rnnToFeedForward", "RnnToFeedForwardPreProcessor", "rnnToCnn", "RnnToCnnPreProcessor": return .recurrent
        case "Cnn3DToFeedForwardPreProcessor": return .convolutional3D
        default: return nil
        }
    }
}
