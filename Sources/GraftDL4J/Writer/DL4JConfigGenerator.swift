import GraftCore
import OrderedCollections

/// Generates a DL4J 1.0.0-beta6 configuration for a graph whose nodes are not (or no longer)
/// exactly what a stored DL4J configuration reads as: graphs from Keras, graphs after
/// surgery or a freeze change. Nodes that came from DL4J keep their layer JSON (upgraded to
/// the `@class` form, re-wrapped for their freeze state); other nodes get layer JSON from
/// their op (`DL4JLayerJSON`). A chain with one input and one output becomes a
/// MultiLayerNetwork, anything else a ComputationGraph.
///
/// Layouts: Keras images are channels-last and DL4J's channels-first, so the written
/// network takes NCHW input, and a Dense after a Flatten of a channels-last image gets its
/// kernel rows permuted from (h, w, c) to DL4J's (c, h, w) flattening order. Sequences are
/// [batch, time, features] inside the IR either way; DL4J's [batch, features, time] I/O is
/// a property of the written input.
enum DL4JConfigGenerator {
    /// One DL4J layer or graph vertex to write.
    struct Unit {
        var name: String
        /// Layer JSON (`@class` form) for layers; vertex JSON for non-layer vertices.
        var json: JSONValue
        var isLayer: Bool
        var preprocessor: JSONValue?
        /// DL4J names of the units (or network inputs) it reads.
        var inputs: [String]
        /// The `NeuralNetConfiguration` fields around the layer, when the node came from DL4J.
        var conf: JSONValue?
    }

    /// What flows out of a node, as DL4J sees it.
    struct Flow {
        var kind: DL4JDataKind
        var size: Int
        /// Image height, width, channels (2-D convolutional data).
        var height = 0, width = 0
        /// The IR tensor is channels-last (from Keras): shapes read [h, w, c].
        var channelsLast = false
        /// A Keras channels_first sequence: the IR shape reads [features, time], as DL4J's does.
        var featuresFirst = false
    }

    /// The sequence layout a 1-D op states, if any.
    static func sequenceFormat(_ op: Op) -> DataFormat? {
        switch op {
        case .conv(let a) where a.rank == 1: return a.dataFormat
        case .pooling(let a) where a.rank == 1: return a.dataFormat
        case .globalPooling(let a) where a.rank == 1: return a.dataFormat
        default: return nil
        }
    }

    static func generate(_ graph: Graph, report: inout ConversionReport) throws -> (JSONValue, Graph) {
        var deferred: [String: RowPermutation]? = nil
        return try generate(graph, report: &report, deferredRowPermutations: &deferred)
    }

    /// A dense kernel whose rows DL4J reads in (c, h, w) order while the graph's are (h, w, c).
    struct RowPermutation { var h: Int, w: Int, c: Int }

    /// `generate`; when `deferredRowPermutations` is non-nil, dense kernels after a flatten of a
    /// channels-last image are left as they are and listed there by node name, for the writer
    /// to fold the row permutation into its encoding (no permuted copy of the kernel is made).
    static func generate(_ graph: Graph, report: inout ConversionReport,
                         deferredRowPermutations: inout [String: RowPermutation]?) throws -> (JSONValue, Graph) {
        var prepared = graph
        let shapes = try graph.inferShapes()
        var units: [Unit] = []
        /// IR node name → (DL4J name producing it, its flow).
        var producer: [String: (String, Flow)] = [:]
        var networkInputs: [String] = []
        /// Pending pre-processor for the next layer reading a node, by IR node name.
        var pendingPreprocessor: [String: JSONValue] = [:]
        /// Nodes whose dense consumer must permute its rows from (h, w, c) to (c, h, w): (h, w, c).
        var permuteRows: [String: (Int, Int, Int)] = [:]
        let outputs = Set(graph.outputs.map(\.node))
        let dtypeName = dl4jDataType(graph)

        func flow(of node: Node, previous: Flow?) -> Flow {
            let shape = shapes[node.name]?.first ?? []
            let dims = shape.map { $0 ?? 0 }
            let channelsLast: Bool
            switch node.op {
            case .conv(let a): channelsLast = a.dataFormat == .channelsLast
            case .pooling(let a): channelsLast = a.dataFormat == .channelsLast
            default: channelsLast = previous?.channelsLast ?? false
            }
            switch dims.count {
            case 0, 1: return Flow(kind: .feedForward, size: dims.first ?? 0)
            case 2:
                let first = sequenceFormat(node.op).map { $0 == .channelsFirst } ?? (previous?.featuresFirst ?? false)
                return Flow(kind: .recurrent, size: first ? dims[0] : dims[1], featuresFirst: first)
            case 3:
                return channelsLast ? Flow(kind: .convolutional2D, size: dims[2], height: dims[0], width: dims[1], channelsLast: true)
                    : Flow(kind: .convolutional2D, size: dims[0], height: dims[1], width: dims[2], channelsLast: false)
            default: return Flow(kind: .convolutional3D, size: channelsLast ? dims.last ?? 0 : dims[0], channelsLast: channelsLast)
            }
        }

        for node in graph.nodes {
            let inputFlows = node.inputs.compactMap { producer[$0.node]?.1 }
            let inputNames = node.inputs.compactMap { producer[$0.node]?.0 }
            func alias(_ flow: Flow? = nil) {
                guard let src = node.inputs.first, let p = producer[src.node] else { return }
                producer[node.name] = (p.0, flow ?? p.1)
                if pendingPreprocessor[node.name] == nil, let pending = pendingPreprocessor[src.node] { pendingPreprocessor[node.name] = pending }
            }
            switch node.op {
            case .input(let a):
                networkInputs.append(node.name)
                let sequenceFirst = graph.consumers(of: node.name).lazy.compactMap { sequenceFormat($0.op) }.first == .channelsFirst
                var f = flow(of: node, previous: a.shape.count == 2 && sequenceFirst ? Flow(kind: .recurrent, size: 0, featuresFirst: true) : nil)
                // Images: channels-last unless the layers reading them say channels-first.
                let consumerFormat: DataFormat? = graph.consumers(of: node.name).lazy.compactMap { consumer -> DataFormat? in
                    switch consumer.op {
                    case .conv(let c): return c.dataFormat
                    case .pooling(let p): return p.dataFormat
                    case .globalPooling(let p): return p.dataFormat
                    default: return nil
                    }
                }.first
                if a.shape.count == 3 && a.layout != .channelsFirst && consumerFormat != .channelsFirst {
                    f = flow(of: node, previous: Flow(kind: .convolutional2D, size: 0, channelsLast: true))
                    report.add(.warning, node: node.name, "input layout changed from channels-last to channels-first (NCHW): feed DL4J images as [batch, channels, height, width]")
                }
                if f.kind == .recurrent {
                    report.add(.warning, node: node.name, f.featuresFirst
                               ? "sequence input kept as [batch, features, time] (channels_first), DL4J's own layout"
                               : "sequence input changed from [batch, time, features] to DL4J's [batch, features, time]")
                }
                producer[node.name] = (node.name, f)
                if case .input(var attrs) = node.op, f.kind == .convolutional2D, f.channelsLast {
                    attrs.layout = .channelsFirst
                    attrs.shape = [attrs.shape[2], attrs.shape[0], attrs.shape[1]]
                    if let i = prepared.index(of: node.name) { prepared.nodes[i].op = .input(attrs) }
                }
                continue
            default: break
            }
            guard let inFlow = inputFlows.first, inputNames.count == node.inputs.count else {
                throw GraftError(.invalidGraph, "node reads an input the writer did not place", location: node.name)
            }
            let fromDL4J = node.extras["dl4j"] != nil
            // Reader helper nodes of DL4J layers are written by their layer.
            if node.name.hasSuffix("/preprocessor"), let json = node.extras["dl4j"], node.parameters.isEmpty {
                pendingPreprocessor[node.name] = DL4JConfigUpgrade.upgradePreprocessor(json)
                alias(flow(of: node, previous: inFlow))
                continue
            }
            if case .dl4jVertex(.lastTimeStep) = node.op, node.name.hasSuffix("/lastTimeStep"),
               let last = units.indices.last, units[last].name == inputNames[0], units[last].isLayer {
                units[last].json = wrap(units[last].json, in: "org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep", key: "underlying")
                alias(Flow(kind: .feedForward, size: inFlow.size))
                continue
            }
            if !fromDL4J, node.name.hasSuffix("/padding"), graph.nodes.contains(where: { $0.name + "/padding" == node.name && $0.extras["dl4j"] != nil }) {
                alias(); continue
            }
            if case .dropout = node.op, !fromDL4J {
                report.add(.exactConversion, node: node.name, "dropout left out: identity at inference")
                alias(); continue
            }
            if case .flatten = node.op {
                switch inFlow.kind {
                case .feedForward: alias(); continue
                case .convolutional2D:
                    if outputs.contains(node.name) {
                        throw GraftError(.unsupported, "DL4J 1.0.0-beta6 cannot express node '\(node.name)' (flatten) as a graph output: "
                                         + "DL4J flattens images in (c, h, w) order only inside a layer's pre-processor",
                                         location: node.name, field: "op", found: "flatten")
                    }
                    pendingPreprocessor[node.name] = .object([
                        "@class": .string("org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor"),
                        "inputHeight": JSONValue(inFlow.height), "inputWidth": JSONValue(inFlow.width),
                        "numChannels": JSONValue(inFlow.size)])
                    if inFlow.channelsLast { permuteRows[node.name] = (inFlow.height, inFlow.width, inFlow.size) }
                    alias(Flow(kind: .feedForward, size: inFlow.height * inFlow.width * inFlow.size))
                    continue
                default:
                    throw GraftError(.unsupported, "DL4J 1.0.0-beta6 cannot express node '\(node.name)' (flatten) of \(inFlow.kind.rawValue) data: "
                                     + (inFlow.kind == .recurrent ? "its pre-processors do not flatten time steps into features"
                                        : "the writer has no pre-processor for this data (written: feed-forward and 2-D images)"),
                                     location: node.name, field: "op",
                                     expected: "flatten of feed-forward or 2-D image data", found: "\(inFlow.kind.rawValue) input")
                }
            }
            // Graph vertices that came from DL4J are written as stored.
            if !fromDL4J, let vertex = node.extras["dl4jVertex"], vertex["@class"] != nil {
                units.append(Unit(name: node.name, json: vertex, isLayer: false, inputs: inputNames))
                producer[node.name] = (node.name, flow(of: node, previous: inFlow))
                continue
            }
            // Merges become graph vertices.
            if case .merge(let m) = node.op {
                if let pending = node.inputs.first(where: { pendingPreprocessor[$0.node] != nil }) {
                    throw GraftError(.unsupported, "DL4J 1.0.0-beta6 cannot express node '\(node.name)' (\(node.op.kindName)): its input "
                                     + "'\(pending.node)' needs a pre-processor, which DL4J applies only in front of a layer",
                                     location: node.name, field: "inputs")
                }
                let vertex: JSONValue
                switch m.kind {
                case .add, .subtract, .multiply, .average, .maximum:
                    let op = ["add": "Add", "subtract": "Subtract", "multiply": "Product", "average": "Average", "maximum": "Max"][m.kind.name]!
                    vertex = .object(["@class": .string("org.deeplearning4j.nn.conf.graph.ElementWiseVertex"), "op": .string(op)])
                case .concatenate(let axis):
                    let rank = shapes[node.name]?.first?.count ?? 1
                    let featureAxis = inFlow.kind == .convolutional2D && !inFlow.channelsLast ? 0 : rank - 1
                    guard axis == -1 || axis == rank || axis - 1 == featureAxis || axis == featureAxis + 1 else {
                        throw GraftError(.unsupported, "DL4J 1.0.0-beta6 cannot express node '\(node.name)' (\(node.op.kindName)): DL4J's MergeVertex concatenates on the feature axis only", location: node.name,
                                         field: "axis", expected: "the feature/channel axis", found: "\(axis)")
                    }
                    vertex = .object(["@class": .string("org.deeplearning4j.nn.conf.graph.MergeVertex")])
                default:
                    throw GraftError(.unsupported, "DL4J 1.0.0-beta6 cannot express node '\(node.name)' (\(node.op.kindName)): DL4J has no vertex for this merge", location: node.name, field: "op", found: node.op.kindName)
                }
                units.append(Unit(name: node.name, json: vertex, isLayer: false, inputs: inputNames))
                producer[node.name] = (node.name, flow(of: node, previous: inFlow))
                continue
            }
            // A layer.
            var layer: JSONValue
            var conf: JSONValue? = nil
            var preprocessor = pendingPreprocessor[node.inputs[0].node]
            // A Dense inside a sequence model: DL4J's RnnToFeedForward / FeedForwardToRnn pair around a DenseLayer.
            let denseOnSequence = !fromDL4J && inFlow.kind == .recurrent && !outputs.contains(node.name) && {
                switch node.op { case .dense, .timeDistributed(.dense): return true; default: return false }
            }()
            if denseOnSequence {
                guard preprocessor == nil else {
                    throw GraftError(.unsupported, "DL4J 1.0.0-beta6 cannot express node '\(node.name)' (\(node.op.kindName)) behind two pre-processors",
                                     location: node.name, field: "inputs")
                }
                preprocessor = .object(["@class": .string("org.deeplearning4j.nn.conf.preprocessor.RnnToFeedForwardPreProcessor"),
                                        "rnnDataFormat": .string("NCW")])
            }
            if fromDL4J, let json = node.extras["dl4j"] {
                layer = DL4JLayerJSON.unfrozen(try DL4JConfigUpgrade.upgradeLayer(json, report: &report))
                conf = node.extras["dl4jConf"]
            } else {
                if inFlow.kind == .convolutional2D, let format = imageFormat(node.op), (format == .channelsLast) != inFlow.channelsLast {
                    throw GraftError(.unsupported, "DL4J 1.0.0-beta6 cannot express node '\(node.name)' (\(node.op.kindName)): "
                                     + "it reads its image \(format == .channelsLast ? "channels-last" : "channels-first") while the data "
                                     + "reaching it is laid out the other way", location: node.name, field: "dataFormat")
                }
                if inFlow.kind == .recurrent, (sequenceFormat(node.op) == .channelsFirst) != inFlow.featuresFirst {
                    if case .activation = node.op {} else {
                        throw GraftError(.unsupported, "DL4J 1.0.0-beta6 cannot express node '\(node.name)' (\(node.op.kindName)) on "
                                         + (inFlow.featuresFirst ? "channels_first sequences" : "sequences in this layout"),
                                         location: node.name, field: "dataFormat")
                    }
                }
                if node.inputs.count != 1 {
                    throw GraftError(.unsupported, "DL4J 1.0.0-beta6 cannot express node '\(node.name)' (\(node.op.kindName)): DL4J layers take one input", location: node.name, found: "\(node.inputs.count) inputs")
                }
                layer = try DL4JLayerJSON.layer(for: node, input: denseOnSequence ? Flow(kind: .feedForward, size: inFlow.size) : inFlow,
                                                isOutput: outputs.contains(node.name),
                                                trainingConfig: graph.source.extras["training_config"], report: &report)
                if let (h, w, c) = permuteRows[node.inputs[0].node], let i = prepared.index(of: node.name),
                   let kernel = prepared.nodes[i].parameters["kernel"] {
                    if deferredRowPermutations != nil {
                        guard kernel.rank == 2, kernel.shape[0] == h * w * c else {
                            throw GraftError(.shapeMismatch, "dense kernel rows do not match the flattened image",
                                             expected: "\(h * w * c) rows", found: "\(kernel.shape)")
                        }
                        deferredRowPermutations?[node.name] = RowPermutation(h: h, w: w, c: c)
                    } else {
                        prepared.nodes[i].parameters["kernel"] = try permuteRowsHWCtoCHW(kernel, h: h, w: w, c: c)
                    }
                    report.add(.exactConversion, node: node.name, "kernel rows permuted from (h, w, c) to DL4J's (c, h, w) flatten order")
                }
            }
            switch node.freeze {
            case .trainable: break
            case .frozen: layer = wrap(layer, in: "org.deeplearning4j.nn.conf.layers.misc.FrozenLayer", key: "layer")
            case .frozenWithBackprop:
                layer = wrap(layer, in: "org.deeplearning4j.nn.conf.layers.misc.FrozenLayerWithBackprop", key: "underlying")
            }
            if let r = node.op.recurrentAttributes, !r.returnSequences, !fromDL4J {
                layer = wrap(layer, in: "org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep", key: "underlying")
            }
            units.append(Unit(name: node.name, json: layer, isLayer: true, preprocessor: preprocessor, inputs: inputNames, conf: conf))
            if denseOnSequence {
                pendingPreprocessor[node.name] = .object([
                    "@class": .string("org.deeplearning4j.nn.conf.preprocessor.FeedForwardToRnnPreProcessor"),
                    "rnnDataFormat": .string("NCW")])
                report.add(.exactConversion, node: node.name, "Dense on sequences written as DenseLayer between RnnToFeedForward and FeedForwardToRnn pre-processors")
            }
            producer[node.name] = (node.name, flow(of: node, previous: inFlow))
        }
        let outputNames = try graph.outputs.map { out -> String in
            guard let p = producer[out.node] else { throw GraftError(.invalidGraph, "graph output not written", location: out.node) }
            return p.0
        }
        let isChain = networkInputs.count == 1 && outputNames.count == 1 && units.allSatisfy(\.isLayer)
            && units.enumerated().allSatisfy { i, u in u.inputs == [i == 0 ? networkInputs[0] : units[i - 1].name] }
            && outputNames[0] == units.last?.name
        let json = isChain ? multiLayer(units, dtypeName: dtypeName) : try computationGraph(units, inputs: networkInputs,
                                                                                              outputs: outputNames, dtypeName: dtypeName)
        return (json, prepared)
    }

    /// The image layout a 2-D op states, if any.
    static func imageFormat(_ op: Op) -> DataFormat? {
        switch op {
        case .conv(let a) where a.rank == 2: return a.dataFormat
        case .pooling(let a) where a.rank == 2: return a.dataFormat
        case .globalPooling(let a) where a.rank == 2: return a.dataFormat
        case .zeroPadding(let a) where a.rank == 2: return a.dataFormat
        case .cropping(let a) where a.rank == 2: return a.dataFormat
        case .upSampling(let a) where a.rank == 2: return a.dataFormat
        default: return nil
        }
    }

    static func dl4jDataType(_ graph: Graph) -> String {
        switch graph.nodes.lazy.flatMap(\.parameters.values).first?.dtype {
        case .float64: return "DOUBLE"
        case .float16: return "HALF"
        default: return "FLOAT"
        }
    }

    static func wrap(_ layer: JSONValue, in className: String, key: String) -> JSONValue {
        .object(["@class": .string(className), key: layer, "layerName": layer["layerName"] ?? .null])
    }

    /// The NeuralNetConfiguration around one layer, as beta6 writes it.
    static func conf(_ unit: Unit, dtypeName: String) -> JSONValue {
        var c: OrderedDictionary<String, JSONValue> = unit.conf?.objectValue ?? [
            "cacheMode": .string("NONE"), "dataType": .string(dtypeName), "epochCount": JSONValue(0), "iterationCount": JSONValue(0),
            "maxNumLineSearchIterations": JSONValue(5), "miniBatch": .bool(true), "minimize": .bool(true),
            "optimizationAlgo": .string("STOCHASTIC_GRADIENT_DESCENT"), "seed": JSONValue(0), "stepFunction": .null,
        ]
        c["layer"] = unit.json
        return .object(c)
    }

    static func multiLayer(_ units: [Unit], dtypeName: String) -> JSONValue {
        var pre: OrderedDictionary<String, JSONValue> = [:]
        for (i, u) in units.enumerated() { if let p = u.preprocessor { pre[String(i)] = p } }
        return .object([
            "backpropType": .string("Standard"), "cacheMode": .string("NONE"), "confs": .array(units.map { conf($0, dtypeName: dtypeName) }),
            "dataType": .string(dtypeName), "epochCount": JSONValue(0), "inferenceWorkspaceMode": .string("ENABLED"),
            "inputPreProcessors": .object(pre), "iterationCount": JSONValue(0), "tbpttBackLength": JSONValue(20),
            "tbpttFwdLength": JSONValue(20), "trainingWorkspaceMode": .string("ENABLED"), "validateOutputLayerConfig": .bool(true),
        ])
    }

    static func computationGraph(_ units: [Unit], inputs: [String], outputs: [String], dtypeName: String) throws -> JSONValue {
        var vertices: OrderedDictionary<String, JSONValue> = [:]
        var vertexInputs: OrderedDictionary<String, JSONValue> = [:]
        for u in units {
            if u.isLayer {
                vertices[u.name] = .object([
                    "@class": .string("org.deeplearning4j.nn.conf.graph.LayerVertex"), "layerConf": conf(u, dtypeName: dtypeName),
                    "outputVertex": .bool(false), "preProcessor": u.preprocessor ?? .null,
                ])
            } else {
                vertices[u.name] = u.json
            }
            vertexInputs[u.name] = .array(u.inputs.map { .string($0) })
        }
        let order = try DL4JTopologicalSort.order(networkInputs: inputs, vertices: units.map { ($0.name, $0.inputs) })
        let index = Dictionary(uniqueKeysWithValues: (inputs + units.map(\.name)).enumerated().map { ($1, $0) })
        return .object([
            "backpropType": .string("Standard"), "cacheMode": .string("NONE"), "dataType": .string(dtypeName),
            "defaultConfiguration": conf(Unit(name: "", json: .null, isLayer: false, inputs: []), dtypeName: dtypeName),
            "epochCount": JSONValue(0), "inferenceWorkspaceMode": .string("ENABLED"), "iterationCount": JSONValue(0),
            "networkInputs": .array(inputs.map { .string($0) }), "networkOutputs": .array(outputs.map { .string($0) }),
            "tbpttBackLength": JSONValue(20), "tbpttFwdLength": JSONValue(20),
            "topologicalOrder": .array(order.map { JSONValue(index[$0] ?? 0) }),
            "topologicalOrderStr": .array(order.map { .string($0) }),
            "trainingWorkspaceMode": .string("ENABLED"), "validateOutputLayerConfig": .bool(true),
            "vertexInputs": .object(vertexInputs), "vertices": .object(vertices),
        ])
    }

    /// Rows of a [h·w·c, n] kernel from (h, w, c) order to (c, h, w) order.
    static func permuteRowsHWCtoCHW(_ kernel: Tensor, h: Int, w: Int, c: Int) throws -> Tensor {
        guard kernel.rank == 2, kernel.shape[0] == h * w * c else {
            throw GraftError(.shapeMismatch, "dense kernel rows do not match the flattened image", expected: "\(h * w * c) rows",
                             found: "\(kernel.shape)")
        }
        return try kernel.reshaped([h, w, c, kernel.shape[1]]).transposed([2, 0, 1, 3]).reshaped(kernel.shape)
    }
}
