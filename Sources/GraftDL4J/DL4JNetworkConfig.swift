import GraftCore

/// A parsed `configuration.json`: a MultiLayerNetwork (`confs`) or a ComputationGraph
/// (`vertices`), in any generation DL4J wrote.
public struct DL4JNetworkConfig: Sendable {
    public enum Kind: String, Sendable { case multiLayerNetwork = "MultiLayerNetwork", computationGraph = "ComputationGraph" }

    /// One ComputationGraph vertex.
    public struct Vertex: Sendable {
        public var name: String
        /// The vertex type's simple name (`LayerVertex`, `MergeVertex`, …).
        public var type: String
        public var className: String?
        /// The vertex's own fields.
        public var fields: JSONValue
        /// The layer of a LayerVertex.
        public var layer: DL4JLayerConfig?
        /// The pre-processor of a LayerVertex (`preProcessor`) or PreprocessorVertex.
        public var preprocessor: JSONValue?
        public var inputs: [String]
    }

    public var kind: Kind
    /// MultiLayerNetwork layers in order.
    public var layers: [DL4JLayerConfig] = []
    /// MultiLayerNetwork input pre-processors keyed by layer index.
    public var inputPreprocessors: [Int: JSONValue] = [:]
    /// ComputationGraph vertices in JSON order.
    public var vertices: [Vertex] = []
    public var networkInputs: [String] = []
    public var networkOutputs: [String] = []
    /// `topologicalOrderStr` when the file stores it.
    public var storedTopologicalOrder: [String]?
    /// The network-level `dataType` (1.0.0-beta4+), if stored.
    public var dataType: String?
    /// The whole JSON, for `SourceInfo.extras` and writers.
    public var json: JSONValue

    public func vertex(named name: String) -> Vertex? { vertices.first { $0.name == name } }

    /// Parses configuration JSON text.
    public static func parse(_ json: JSONValue, file: String? = nil) throws -> DL4JNetworkConfig {
        do {
            if let confs = json["confs"]?.arrayValue {
                var config = DL4JNetworkConfig(kind: .multiLayerNetwork, json: json)
                config.dataType = json["dataType"]?.stringValue
                for (i, conf) in confs.enumerated() {
                    guard let layer = conf["layer"] else {
                        throw GraftError(.malformed, "layer configuration missing", location: "confs[\(i)]", field: "layer")
                    }
                    config.layers.append(try DL4JLayerConfig.parse(layer, location: "confs[\(i)]"))
                    if config.dataType == nil { config.dataType = conf["dataType"]?.stringValue }
                }
                if let pre = json["inputPreProcessors"]?.objectValue {
                    for (key, value) in pre {
                        guard let index = Int(key), index >= 0, index < confs.count else {
                            throw GraftError(.malformed, "input pre-processor for a layer that does not exist",
                                             field: "inputPreProcessors", expected: "a layer index 0..<\(confs.count)", found: key)
                        }
                        config.inputPreprocessors[index] = value
                    }
                }
                return config
            }
            if let vertices = json["vertices"]?.objectValue {
                var config = DL4JNetworkConfig(kind: .computationGraph, json: json)
                config.dataType = json["dataType"]?.stringValue
                config.networkInputs = json["networkInputs"]?.arrayValue?.compactMap(\.stringValue) ?? []
                config.networkOutputs = json["networkOutputs"]?.arrayValue?.compactMap(\.stringValue) ?? []
                config.storedTopologicalOrder = json["topologicalOrderStr"]?.arrayValue?.compactMap(\.stringValue)
                let vertexInputs = json["vertexInputs"]
                for (name, value) in vertices {
                    let (type, className, fields) = try unwrapVertex(value, name: name)
                    var vertex = Vertex(name: name, type: type, className: className, fields: fields, layer: nil,
                                        preprocessor: nil,
                                        inputs: vertexInputs?[name]?.arrayValue?.compactMap(\.stringValue) ?? [])
                    if type == "LayerVertex" {
                        guard let layer = fields["layerConf"]?["layer"] else {
                            throw GraftError(.malformed, "LayerVertex without a layer", location: name, field: "layerConf.layer")
                        }
                        vertex.layer = try DL4JLayerConfig.parse(layer, location: name)
                        if config.dataType == nil { config.dataType = fields["layerConf"]?["dataType"]?.stringValue }
                    }
                    if let pre = fields["preProcessor"], !pre.isNull { vertex.preprocessor = pre }
                    config.vertices.append(vertex)
                }
                for input in config.networkInputs where config.vertex(named: input) != nil {
                    throw GraftError(.invalidGraph, "a network input has the name of a vertex", field: "networkInputs", found: input)
                }
                let known = Set(config.networkInputs).union(config.vertices.map(\.name))
                for vertex in config.vertices {
                    for input in vertex.inputs where !known.contains(input) {
                        throw GraftError(.invalidGraph, "vertex input names nothing in the graph", location: vertex.name,
                                         field: "vertexInputs", expected: "a vertex or network input", found: input)
                    }
                }
                for output in config.networkOutputs where config.vertex(named: output) == nil {
                    throw GraftError(.invalidGraph, "network output names no vertex", field: "networkOutputs", found: output)
                }
                return config
            }
            throw GraftError(.malformed, "not a DL4J network configuration", location: "configuration.json",
                             expected: "a 'confs' (MultiLayerNetwork) or 'vertices' (ComputationGraph) key",
                             found: "keys \(Array((json.objectValue ?? [:]).keys).prefix(8))")
        } catch let error as GraftError {
            throw file.map { error.inFile($0) } ?? error
        }
    }

    /// A vertex in either generation: `{"MergeVertex": {...}}` or `{"@class": "...MergeVertex", ...}`.
    static func unwrapVertex(_ json: JSONValue, name: String) throws -> (String, String?, JSONValue) {
        if let cls = json["@class"]?.stringValue {
            return (String(cls.split(separator: ".").last ?? Substring(cls)), cls, json)
        }
        if let object = json.objectValue, object.count == 1, let (key, inner) = object.elements.first.map({ ($0.key, $0.value) }) {
            return (key, nil, inner)
        }
        throw GraftError(.malformed, "vertex has neither '@class' nor a single wrapper key", location: name,
                         field: "vertices", found: json.serialized().prefix(80).description)
    }

    /// The order DL4J allocates parameters in: MultiLayerNetwork layer order, or for a
    /// ComputationGraph the stored `topologicalOrderStr` or DL4J's own sort.
    public func topologicalOrder() throws -> [String] {
        if let stored = storedTopologicalOrder, stored.count == networkInputs.count + vertices.count {
            return stored
        }
        return try DL4JTopologicalSort.order(networkInputs: networkInputs,
                                             vertices: vertices.map { ($0.name, $0.inputs) })
    }
}
