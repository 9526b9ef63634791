import Foundation
import GraftCore
import OrderedCollections

/// Reads DL4J ModelSerializer zips (any extension; recognised by a `configuration.json`
/// holding `confs` or `vertices`) and bare DL4J configuration JSON into the IR.
///
/// Parameters come from the flat `coefficients.bin` vector, split per layer in DL4J's order
/// (MultiLayerNetwork: layer order; ComputationGraph: topological order) and converted to
/// the IR's canonical layouts. Every node's extras hold its DL4J JSON (`dl4j`) and where
/// its parameters sit in the flat vector (`dl4jParamOffset`, `dl4jParamCount`). The
/// network configuration is kept in `SourceInfo.extras["configuration"]`; every zip entry
/// other than `configuration.json` and `coefficients.bin` (e.g. `updaterState.bin`) is kept
/// byte-exact in `SourceInfo.attachments`.
public enum DL4JReader {
    /// Options for reading.
    public struct Options: Sendable {
        /// Parameter counts of custom (non-DL4J) layer classes, keyed by the class name as
        /// stored (`@class` or legacy key). Unregistered custom layers share whatever the
        /// known layers leave over (possible when there is one, or they are dense-like).
        public var customParameterCounts: [String: @Sendable (DL4JLayerConfig) -> Int]
        public init(customParameterCounts: [String: @Sendable (DL4JLayerConfig) -> Int] = [:]) {
            self.customParameterCounts = customParameterCounts
        }
    }

    /// True when `path` is a zip whose `configuration.json` holds `confs` or `vertices`.
    public static func isDL4JModel(path: String) -> Bool {
        guard ZipArchive.looksLikeZip(path: path), let zip = try? ZipArchive(path: path),
              zip.contains("configuration.json"), let bytes = try? zip.read("configuration.json"),
              let json = try? JSONValue.parse(bytes: bytes) else { return false }
        return json["confs"] != nil || json["vertices"] != nil
    }

    /// Reads a ModelSerializer zip.
    public static func read(path: String, options: Options = Options()) throws -> Graph {
        do {
            let zip = try ZipArchive(path: path)
            guard zip.contains("configuration.json") else {
                throw GraftError(.malformed, "not a DL4J model: the zip has no configuration.json", file: path,
                                 expected: "configuration.json, coefficients.bin", found: "entries \(zip.entryNames.prefix(8))")
            }
            let json = try JSONValue.parse(bytes: try zip.read("configuration.json"))
            let config = try DL4JNetworkConfig.parse(json, file: path)
            var flat: DL4JFlatParameters? = nil
            var coefficients: Nd4jArray.Layout? = nil
            if zip.contains("coefficients.bin") {
                (flat, coefficients) = try streamCoefficients(zip)
            } else if !zip.contains("noParams.marker") {
                throw GraftError(.missingWeights, "the zip has neither coefficients.bin nor noParams.marker", file: path,
                                 location: "coefficients.bin", expected: "coefficients.bin (or noParams.marker)",
                                 found: "entries " + zip.entryNames.joined(separator: ", "))
            }
            var attachments: [String: [UInt8]] = [:]
            for entry in zip.entryNames where entry != "configuration.json" && entry != "coefficients.bin" && !entry.hasSuffix("/") {
                attachments[entry] = try zip.read(entry)
            }
            var graph = try build(config, parameters: flat ?? DL4JFlatParameters(Tensor(zeros: [0])), file: path, options: options)
            graph.source.path = path
            graph.source.attachments = attachments
            if let coefficients, var extras = graph.source.extras.objectValue {
                extras["coefficients"] = .object([
                    "encoding": .string(coefficients.encoding.rawValue),
                    "dtype": .string(coefficients.dataTypeName),
                    "shape": .array(coefficients.shape.map { JSONValue($0) }),
                    "order": .string(String(coefficients.order)),
                ])
                graph.source.extras = .object(extras)
            }
            return graph
        } catch let error as GraftError {
            throw error.inFile(path)
        }
    }

    /// `coefficients.bin` as a stream of parameters decoded while they come out of the zip, when
    /// its data buffer holds the [1, N] vector in order (always, as DL4J writes it); otherwise
    /// the whole array decoded first.
    static func streamCoefficients(_ zip: ZipArchive) throws -> (DL4JFlatParameters, Nd4jArray.Layout) {
        let stream = try ZipEntryReader(zip, entry: "coefficients.bin")
        let prefix = try stream.next(min(stream.size, 4096))
        var r = BigEndianReader(Array(prefix), file: zip.path, location: "coefficients.bin")
        let layout = try Nd4jArray.readLayout(&r, totalBytes: stream.size)
        let count = layout.shape.reduce(1, *)
        if layout.isRowMajorFromStart {
            // Re-open and skip the headers: the data values follow them directly.
            let data = try ZipEntryReader(zip, entry: "coefficients.bin")
            _ = try data.next(layout.dataStart)
            return (DL4JFlatParameters(stream: data, count: count, dtype: layout.dtype, swapBytes: hostIsLittleEndian), layout)
        }
        let array = try Nd4jArray.decode(try zip.read("coefficients.bin"), file: zip.path, location: "coefficients.bin")
        return (DL4JFlatParameters(try array.tensor.reshaped([array.tensor.count])), layout)
    }

    /// The decoded `updaterState.bin` of a graph read from a DL4J zip (a flat [1, M] vector
    /// aligned with the parameter blocks), or nil when the zip had none.
    public static func updaterState(of graph: Graph) throws -> Tensor? {
        guard let bytes = graph.source.attachments["updaterState.bin"] else { return nil }
        return try Nd4jArray.decode(bytes, file: graph.source.path, location: "updaterState.bin").tensor
    }

    /// Reads a configuration-only file (`configuration.json`, `*.mlc.json`): the graph has no parameters.
    public static func readConfiguration(path: String) throws -> Graph {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GraftError(.io, "cannot read file", file: path)
        }
        do {
            var graph = try readConfiguration(json: try JSONValue.parse(bytes: [UInt8](data)), file: path)
            graph.source.path = path
            return graph
        } catch let error as GraftError {
            throw error.inFile(path)
        }
    }

    /// Builds the graph of a configuration without parameters.
    public static func readConfiguration(json: JSONValue, file: String? = nil) throws -> Graph {
        try build(try DL4JNetworkConfig.parse(json, file: file), flat: nil, file: file)
    }

    /// Builds the graph of a configuration given as JSON text, without parameters.
    public static func readConfiguration(json text: String, file: String? = nil) throws -> Graph {
        try readConfiguration(json: try JSONValue.parse(text), file: file)
    }

    /// The number of parameters the configuration implies (custom layers count 0).
    public static func parameterCount(of config: DL4JNetworkConfig) throws -> Int {
        var builder = DL4JGraphBuilder(flat: nil, file: nil)
        try assemble(config, into: &builder)
        return builder.params.position
    }

    // MARK: - Assembly

    static func build(_ config: DL4JNetworkConfig, flat: Tensor?, file: String?, options: Options = Options()) throws -> Graph {
        try build(config, parameters: flat.map { DL4JFlatParameters($0) }, file: file, options: options)
    }

    static func build(_ config: DL4JNetworkConfig, parameters flat: DL4JFlatParameters?, file: String?,
                      options: Options = Options()) throws -> Graph {
        var customCounts: [String: Int] = [:]
        if let flat {
            // Known layers first; parameters left over belong to custom layers.
            var counter = DL4JGraphBuilder(flat: nil, file: file)
            try assemble(config, into: &counter)
            let leftover = flat.count - counter.params.position
            if leftover < 0 {
                throw GraftError(.shapeMismatch, "coefficients.bin holds fewer parameters than the configuration needs",
                                 file: file, location: "coefficients.bin", expected: "\(counter.params.position) parameters",
                                 found: "\(flat.count)")
            }
            if leftover > 0 && counter.customLayers.isEmpty {
                throw GraftError(.shapeMismatch, "coefficients.bin holds more parameters than the configuration uses",
                                 file: file, location: "coefficients.bin", expected: "\(counter.params.position) parameters",
                                 found: "\(flat.count)")
            }
            var unregistered: [(node: String, className: String)] = []
            var remaining = leftover
            for custom in counter.customLayers {
                if let count = options.customParameterCounts[custom.className] {
                    customCounts[custom.node] = count(custom.layer)
                    remaining -= count(custom.layer)
                } else {
                    unregistered.append((custom.node, custom.className))
                }
            }
            if remaining < 0 {
                throw GraftError(.shapeMismatch, "coefficients.bin holds fewer parameters than the custom layers' registered counts",
                                 file: file, location: "coefficients.bin", found: "\(flat.count)")
            }
            if unregistered.isEmpty && remaining > 0 {
                throw GraftError(.shapeMismatch, "coefficients.bin holds more parameters than the configuration uses",
                                 file: file, location: "coefficients.bin", expected: "\(flat.count - remaining) parameters",
                                 found: "\(flat.count)")
            }
            if !unregistered.isEmpty {
                for (node, count) in try assignCustomParameters(unregistered, leftover: remaining, config: config, file: file) {
                    customCounts[node] = count
                }
            }
        }
        var builder = DL4JGraphBuilder(flat: flat, file: file)
        builder.customParameterCounts = customCounts
        try assemble(config, into: &builder)
        if let flat, builder.params.position != flat.count {
            throw GraftError(.shapeMismatch, "coefficients.bin holds more parameters than the configuration uses",
                             file: file, location: "coefficients.bin", expected: "\(builder.params.position) parameters",
                             found: "\(flat.count)")
        }
        let outputs: [NodeOutput]
        switch config.kind {
        case .multiLayerNetwork:
            outputs = builder.nodes.last.map { [NodeOutput($0.name)] } ?? []
        case .computationGraph:
            outputs = try config.networkOutputs.map { name in
                guard let out = builder.outputOf[name] else {
                    throw GraftError(.invalidGraph, "network output was not built", file: file, field: "networkOutputs", found: name)
                }
                return out.0
            }
        }
        var extras: OrderedDictionary<String, JSONValue> = [
            "networkType": .string(config.kind.rawValue),
            "configuration": config.json,
        ]
        if let dataType = config.dataType { extras["dataType"] = .string(dataType) }
        let generation = isClassForm(config) ? "@class JSON (1.0.0-beta+)" : "legacy wrapper JSON (≤ 1.0.0-alpha)"
        let source = SourceInfo(format: "dl4j", producer: "dl4j, \(generation)", path: file, extras: .object(extras))
        return Graph(nodes: builder.nodes, outputs: outputs, source: source)
    }

    static func isClassForm(_ config: DL4JNetworkConfig) -> Bool {
        (config.layers.first?.className ?? config.vertices.compactMap { $0.layer?.className ?? $0.className }.first) != nil
    }

    /// Splits leftover parameters among custom layers: all of it to a single custom layer,
    /// or nIn·nOut + nOut each when that accounts for all of it.
    static func assignCustomParameters(_ customs: [(node: String, className: String)], leftover: Int,
                                       config: DL4JNetworkConfig, file: String?) throws -> [String: Int] {
        if leftover == 0 { return [:] }
        if customs.count == 1 { return [customs[0].node: leftover] }
        let layers = config.layers.isEmpty ? config.vertices.compactMap(\.layer) : config.layers
        var guess: [String: Int] = [:]
        for custom in customs {
            let layer = layers.first { ($0.name ?? "") == custom.node }
            let nIn = layer?.nIn ?? 0, nOut = layer?.nOut ?? 0
            guess[custom.node] = nIn * nOut + nOut
        }
        if guess.values.reduce(0, +) == leftover { return guess }
        throw GraftError(.unsupported, "cannot tell how the custom layers' parameters are split", file: file,
                         location: customs.map(\.className).joined(separator: ", "),
                         expected: "one custom layer, or dense-like custom layers", found: "\(leftover) parameters to share")
    }

    static func assemble(_ config: DL4JNetworkConfig, into builder: inout DL4JGraphBuilder) throws {
        switch config.kind {
        case .multiLayerNetwork: try assembleMultiLayer(config, into: &builder)
        case .computationGraph: try assembleGraph(config, into: &builder)
        }
    }

    static func inputDType(_ config: DL4JNetworkConfig, _ builder: DL4JGraphBuilder) -> DType {
        if let flat = builder.params.flat, flat.dtype.isFloatingPoint { return flat.dtype }
        return DType(dl4jName: config.dataType) ?? .float32
    }

    static func assembleMultiLayer(_ config: DL4JNetworkConfig, into builder: inout DL4JGraphBuilder) throws {
        guard let first = config.layers.first else {
            throw GraftError(.malformed, "MultiLayerNetwork without layers", file: builder.file, field: "confs")
        }
        let (expected, embedding) = DL4JGraphBuilder.expectedInput(of: first, preprocessor: config.inputPreprocessors[0])
        try builder.add(Node(name: "input", op: DL4JGraphBuilder.inputOp(kind: expected.kind, size: expected.size,
                                                                          dtype: inputDType(config, builder), embedding: embedding)))
        var current = (NodeOutput("input"), expected)
        var used = Set<String>(["input"])
        let confs = config.json["confs"]?.arrayValue ?? []
        for (i, layer) in config.layers.enumerated() {
            var name = layer.name ?? layer.innermost.name ?? "layer\(i)"
            if used.contains(name) { name = "\(name)_\(i)" }
            used.insert(name)
            if let pre = config.inputPreprocessors[i] {
                current = try builder.addPreprocessor(pre, name: name + "/preprocessor", input: current)
            }
            var extras: OrderedDictionary<String, JSONValue> = ["dl4j": layer.raw, "sourceClass": .string(layer.summaryClassName)]
            if i < confs.count { extras["dl4jConf"] = confs[i] }
            current = try builder.addLayer(layer, name: name, input: current, extras: .object(extras))
        }
    }

    static func assembleGraph(_ config: DL4JNetworkConfig, into builder: inout DL4JGraphBuilder) throws {
        let order = try config.topologicalOrder()
        let dtype = inputDType(config, builder)
        for name in order {
            if config.networkInputs.contains(name) {
                // The input's kind and size come from its first consuming layer.
                var expected = DL4JLayerInput(.feedForward, 0)
                var embedding = false
                if let consumer = order.compactMap({ config.vertex(named: $0) }).first(where: { $0.inputs.contains(name) }) {
                    if let layer = consumer.layer {
                        (expected, embedding) = DL4JGraphBuilder.expectedInput(of: layer, preprocessor: consumer.preprocessor)
                    } else if let pre = consumer.preprocessor, let kind = DL4JPreprocessors.expects(pre) {
                        expected = DL4JLayerInput(kind, 0)
                    }
                }
                try builder.add(Node(name: name, op: DL4JGraphBuilder.inputOp(kind: expected.kind, size: expected.size,
                                                                              dtype: dtype, embedding: embedding)))
                builder.outputOf[name] = (NodeOutput(name), expected)
                continue
            }
            guard let vertex = config.vertex(named: name) else {
                throw GraftError(.invalidGraph, "topological order names an unknown vertex", file: builder.file,
                                 field: "topologicalOrderStr", found: name)
            }
            let inputs = try vertex.inputs.map { input -> (NodeOutput, DL4JLayerInput) in
                guard let out = builder.outputOf[input] else {
                    throw GraftError(.invalidGraph, "vertex input not built before the vertex", file: builder.file,
                                     location: name, field: "vertexInputs", found: input)
                }
                return out
            }
            builder.outputOf[name] = try addVertex(vertex, inputs: inputs, into: &builder)
        }
    }

    static func addVertex(_ vertex: DL4JNetworkConfig.Vertex, inputs: [(NodeOutput, DL4JLayerInput)],
                          into builder: inout DL4JGraphBuilder) throws -> (NodeOutput, DL4JLayerInput) {
        let name = vertex.name
        let f = vertex.fields
        let extras: JSONValue = .object(["dl4jVertex": f])
        func single() throws -> (NodeOutput, DL4JLayerInput) {
            guard inputs.count == 1 else {
                throw GraftError(.invalidGraph, "vertex takes one input", file: builder.file, location: name,
                                 field: "vertexInputs", expected: "1 input", found: "\(inputs.count)")
            }
            return inputs[0]
        }
        func simple(_ op: Op, _ info: DL4JLayerInput) throws -> (NodeOutput, DL4JLayerInput) {
            try builder.add(Node(name: name, op: op, inputs: inputs.map(\.0), extras: extras))
            return (NodeOutput(name), info)
        }
        let first = inputs.first?.1 ?? DL4JLayerInput(.feedForward, 0)
        switch vertex.type {
        case "LayerVertex":
            guard let layer = vertex.layer else {
                throw GraftError(.malformed, "LayerVertex without a layer", file: builder.file, location: name)
            }
            var current = try single()
            if let pre = vertex.preprocessor {
                current = try builder.addPreprocessor(pre, name: name + "/preprocessor", input: current)
            }
            var nodeExtras: OrderedDictionary<String, JSONValue> = ["dl4j": layer.raw, "sourceClass": .string(layer.summaryClassName)]
            var vertexFields = f.objectValue ?? [:]
            if var conf = vertexFields["layerConf"]?.objectValue {
                conf["layer"] = nil
                vertexFields["layerConf"] = .object(conf)
            }
            nodeExtras["dl4jVertex"] = .object(vertexFields)
            return try builder.addLayer(layer, name: name, input: current, extras: .object(nodeExtras))
        case "MergeVertex":
            let axis = first.kind == .convolutional2D || first.kind == .convolutional3D ? 1 : -1
            return try simple(.merge(MergeAttributes(.concatenate(axis: axis))),
                              DL4JLayerInput(first.kind, inputs.reduce(0) { $0 + $1.1.size }))
        case "ElementWiseVertex":
            let kind: MergeAttributes.Kind
            switch f["op"]?.stringValue ?? "Add" {
            case "Add": kind = .add
            case "Subtract": kind = .subtract
            case "Product": kind = .multiply
            case "Average": kind = .average
            case "Max": kind = .maximum
            case let other:
                throw GraftError(.unsupported, "unknown ElementWiseVertex op", file: builder.file, location: name,
                                 field: "op", expected: "Add, Subtract, Product, Average or Max", found: other)
            }
            return try simple(.merge(MergeAttributes(kind)), first)
        case "SubsetVertex":
            let from = f["from"]?.intValue ?? 0, to = f["to"]?.intValue ?? 0
            return try simple(.dl4jVertex(.subset(from: from, to: to)), DL4JLayerInput(first.kind, to - from + 1))
        case "StackVertex":
            return try simple(.dl4jVertex(.stack), first)
        case "UnstackVertex":
            return try simple(.dl4jVertex(.unstack(index: f["from"]?.intValue ?? 0, count: f["stackSize"]?.intValue ?? 1)), first)
        case "PreprocessorVertex":
            guard let pre = f["preProcessor"] else {
                throw GraftError(.malformed, "PreprocessorVertex without a pre-processor", file: builder.file, location: name)
            }
            let (op, info) = try DL4JPreprocessors.convert(pre, input: try single().1, location: name)
            return try simple(op, info)
        case "L2NormalizeVertex":
            return try simple(.dl4jVertex(.l2Normalize(epsilon: f["eps"]?.doubleValue ?? 1e-8)), first)
        case "ScaleVertex":
            return try simple(.dl4jVertex(.scale(factor: f["scaleFactor"]?.doubleValue ?? 1)), first)
        case "ShiftVertex":
            return try simple(.dl4jVertex(.shift(value: f["shiftFactor"]?.doubleValue ?? 0)), first)
        case "LastTimeStepVertex":
            return try simple(.dl4jVertex(.lastTimeStep), DL4JLayerInput(.feedForward, first.size))
        case "DuplicateToTimeSeriesVertex":
            return try simple(.dl4jVertex(.duplicateToTimeSeries(reference: f["inputName"]?.stringValue ?? "")),
                              DL4JLayerInput(.recurrent, first.size))
        default:
            if let cls = vertex.className, !DL4JLayerFamilies.isDL4JClass(cls) {
                return try simple(.opaque(OpaqueAttributes(format: "dl4j", className: cls, config: f)), first)
            }
            throw GraftError(.unsupported, "unsupported DL4J graph vertex", file: builder.file, location: name,
                             field: "vertices", found: vertex.className ?? vertex.type)
        }
    }
}
