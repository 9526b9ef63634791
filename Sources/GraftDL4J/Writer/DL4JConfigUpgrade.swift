import GraftCore
import OrderedCollections

/// Writing back a configuration that came from DL4J: the stored network JSON, upgraded
/// from the legacy wrapper generation (≤ 1.0.0-alpha, `{"dense": {...}}`) to the `@class`
/// generation 1.0.0-beta6 reads and writes. Every stored field stays; the upgrade adds the
/// `@class` and the `@class` forms of the legacy `activationFunction` / `lossFunction` strings.
enum DL4JConfigUpgrade {
    /// The source's network configuration when the graph's nodes are still exactly what
    /// that configuration reads as (no surgery, no freeze change); nil otherwise.
    static func originalConfiguration(of graph: Graph) -> JSONValue? {
        guard graph.source.format == "dl4j", let original = graph.source.extras["configuration"],
              let reference = try? DL4JReader.readConfiguration(json: original) else { return nil }
        guard reference.nodes.count == graph.nodes.count, reference.outputs == graph.outputs else { return nil }
        for (a, b) in zip(reference.nodes, graph.nodes) {
            guard a.name == b.name, sameOp(a.op, b.op), a.inputs == b.inputs, a.freeze == b.freeze else { return nil }
        }
        return original
    }

    /// Ops equal, inputs compared without their dtype (a configuration alone does not fix it).
    static func sameOp(_ a: Op, _ b: Op) -> Bool {
        if case .input(let x) = a, case .input(let y) = b { return x.shape == y.shape && x.layout == y.layout }
        return a == b
    }

    /// Legacy layer keys → `@class` names.
    static let layerClasses: [String: String] = [
        "dense": "DenseLayer", "output": "OutputLayer", "rnnoutput": "RnnOutputLayer", "loss": "LossLayer",
        "convolution": "ConvolutionLayer", "convolution1d": "Convolution1DLayer", "subsampling": "SubsamplingLayer",
        "subsampling1d": "Subsampling1DLayer", "batchNormalization": "BatchNormalization",
        "localResponseNormalization": "LocalResponseNormalization", "embedding": "EmbeddingLayer",
        "activation": "ActivationLayer", "dropout": "DropoutLayer", "gravesLSTM": "GravesLSTM", "LSTM": "LSTM",
        "gravesBidirectionalLSTM": "GravesBidirectionalLSTM", "zeroPadding": "ZeroPaddingLayer",
        "GlobalPooling": "GlobalPoolingLayer", "globalPooling": "GlobalPoolingLayer",
    ]

    /// Legacy pre-processor keys → `@class` names.
    static let preprocessorClasses: [String: String] = [
        "cnnToFeedForward": "CnnToFeedForwardPreProcessor", "feedForwardToCnn": "FeedForwardToCnnPreProcessor",
        "rnnToFeedForward": "RnnToFeedForwardPreProcessor", "feedForwardToRnn": "FeedForwardToRnnPreProcessor",
        "cnnToRnn": "CnnToRnnPreProcessor", "rnnToCnn": "RnnToCnnPreProcessor",
    ]

    static func upgrade(_ configuration: JSONValue, report: inout ConversionReport) throws -> JSONValue {
        guard var root = configuration.objectValue else {
            throw GraftError(.malformed, "network configuration is not an object", location: "configuration.json")
        }
        if var confs = root["confs"]?.arrayValue {
            for i in confs.indices {
                guard var conf = confs[i].objectValue, let layer = conf["layer"] else { continue }
                conf["layer"] = try upgradeLayer(layer, report: &report)
                confs[i] = .object(conf)
            }
            root["confs"] = .array(confs)
            if var pre = root["inputPreProcessors"]?.objectValue {
                for (k, v) in pre { pre[k] = upgradePreprocessor(v) }
                root["inputPreProcessors"] = .object(pre)
            }
        }
        if var vertices = root["vertices"]?.objectValue {
            for (name, vertex) in vertices {
                var v = vertex
                if v["@class"] == nil, let object = v.objectValue, object.count == 1,
                   let (key, inner) = object.elements.first.map({ ($0.key, $0.value) }), var fields = inner.objectValue {
                    fields.updateValue(.string("org.deeplearning4j.nn.conf.graph." + key), forKey: "@class", insertingAt: 0)
                    v = .object(fields)
                }
                if var fields = v.objectValue {
                    if var layerConf = fields["layerConf"]?.objectValue, let layer = layerConf["layer"] {
                        layerConf["layer"] = try upgradeLayer(layer, report: &report)
                        fields["layerConf"] = .object(layerConf)
                    }
                    if let pre = fields["preProcessor"], !pre.isNull { fields["preProcessor"] = upgradePreprocessor(pre) }
                    v = .object(fields)
                }
                vertices[name] = v
            }
            root["vertices"] = .object(vertices)
        }
        return .object(root)
    }

    /// One layer JSON in the `@class` form: wrapper removed, `@class` first, legacy string
    /// activation / loss also given as `activationFn` / `lossFn` objects; wrapped layers too.
    static func upgradeLayer(_ json: JSONValue, report: inout ConversionReport) throws -> JSONValue {
        var fields: OrderedDictionary<String, JSONValue>
        if json["@class"] != nil {
            fields = json.objectValue ?? [:]
        } else {
            guard let object = json.objectValue, object.count == 1,
                  let (key, inner) = object.elements.first.map({ ($0.key, $0.value) }), let innerFields = inner.objectValue else {
                throw GraftError(.malformed, "layer configuration has neither '@class' nor a single wrapper key", location: "configuration.json")
            }
            guard let cls = layerClassName(legacy: key) else {
                // A custom layer's legacy key names no package: kept in the wrapper form,
                // which DL4J resolves through the layer's registered subtype name.
                report.add(.warning, node: innerFields["layerName"]?.stringValue,
                           "custom layer '\(key)' kept in the legacy wrapper form: its full class name is not stored")
                return json
            }
            fields = innerFields
            fields.updateValue(.string(cls), forKey: "@class", insertingAt: 0)
        }
        if fields["activationFn"] == nil || fields["activationFn"]?.isNull == true,
           let name = fields["activationFunction"]?.stringValue, let cls = DL4JNames.activationClass(name) {
            fields["activationFn"] = .object(["@class": .string(cls)])
        } else if let fn = fields["activationFn"], fn["@class"] == nil, let object = fn.objectValue, object.count == 1,
                  let (key, inner) = object.elements.first.map({ ($0.key, $0.value) }), let cls = DL4JNames.activationClass(key) {
            var f = inner.objectValue ?? [:]
            f.updateValue(.string(cls), forKey: "@class", insertingAt: 0)
            fields["activationFn"] = .object(f)
        }
        if fields["lossFn"] == nil || fields["lossFn"]?.isNull == true, let loss = fields["lossFunction"]?.stringValue {
            fields["lossFn"] = .object(["@class": .string(DL4JNames.lossClass(loss))])
        } else if let fn = fields["lossFn"], fn["@class"] == nil, let object = fn.objectValue, object.count == 1,
                  let (key, inner) = object.elements.first.map({ ($0.key, $0.value) }) {
            var f = inner.objectValue ?? [:]
            f.updateValue(.string(DL4JNames.lossClass(key)), forKey: "@class", insertingAt: 0)
            fields["lossFn"] = .object(f)
        }
        for key in ["layer", "underlying", "fwd", "bwd"] {
            if let inner = fields[key], inner.objectValue != nil { fields[key] = try upgradeLayer(inner, report: &report) }
        }
        return .object(fields)
    }

    /// The `@class` of a legacy layer key, nil for keys that are not DL4J's (custom layers).
    static func layerClassName(legacy key: String) -> String? {
        if key == "FrozenLayer" || key == "FrozenLayerWithBackprop" { return "org.deeplearning4j.nn.conf.layers.misc." + key }
        if key.contains(".") { return key }
        if let simple = layerClasses[key] { return "org.deeplearning4j.nn.conf.layers." + simple }
        if DL4JLayerFamilies.isKnown(key) && key.first?.isUppercase == true { return "org.deeplearning4j.nn.conf.layers." + key }
        return nil
    }

    static func upgradePreprocessor(_ json: JSONValue) -> JSONValue {
        if json["@class"] != nil { return json }
        guard let object = json.objectValue, object.count == 1,
              let (key, inner) = object.elements.first.map({ ($0.key, $0.value) }), var fields = inner.objectValue else { return json }
        fields.updateValue(.string("org.deeplearning4j.nn.conf.preprocessor." + (preprocessorClasses[key] ?? key)),
                           forKey: "@class", insertingAt: 0)
        return .object(fields)
    }
}

/// DL4J class names of activations, losses, weight inits.
enum DL4JNames {
    static let activations: [String: String] = [
        "identity": "ActivationIdentity", "linear": "ActivationIdentity", "relu": "ActivationReLU", "relu6": "ActivationReLU6",
        "leakyrelu": "ActivationLReLU", "lrelu": "ActivationLReLU", "elu": "ActivationELU", "selu": "ActivationSELU",
        "tanh": "ActivationTanH", "sigmoid": "ActivationSigmoid", "hardsigmoid": "ActivationHardSigmoid",
        "hardtanh": "ActivationHardTanH", "softmax": "ActivationSoftmax", "softplus": "ActivationSoftPlus",
        "softsign": "ActivationSoftSign", "swish": "ActivationSwish", "gelu": "ActivationGELU", "cube": "ActivationCube",
        "rationaltanh": "ActivationRationalTanh", "rectifiedtanh": "ActivationRectifiedTanh",
        "thresholdedrelu": "ActivationThresholdedReLU",
    ]

    static func activationClass(_ name: String) -> String? {
        activations[name.lowercased()].map { "org.nd4j.linalg.activations.impl." + $0 }
    }

    static func lossClass(_ name: String) -> String {
        let simple: String
        switch name.uppercased() {
        case "MCXENT": simple = "LossMCXENT"
        case "NEGATIVELOGLIKELIHOOD": simple = "LossNegativeLogLikelihood"
        case "MSE", "SQUARED_LOSS": simple = "LossMSE"
        case "XENT": simple = "LossBinaryXENT"
        case "L1", "MEAN_ABSOLUTE_ERROR": simple = "LossL1"
        case "L2": simple = "LossL2"
        case "HINGE": simple = "LossHinge"
        case "SQUARED_HINGE": simple = "LossSquaredHinge"
        case "KL_DIVERGENCE": simple = "LossKLD"
        case "POISSON": simple = "LossPoisson"
        case "COSINE_PROXIMITY": simple = "LossCosineProximity"
        default: simple = name.hasPrefix("Loss") ? name : "Loss" + name
        }
        return "org.nd4j.linalg.lossfunctions.impl." + simple
    }
}
