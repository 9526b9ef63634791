import Foundation
import GraftCore
import OrderedCollections

/// The Graft version written into manifests.
public let graftVersion = "0.1.0"

/// The sidecar `OUT.graft.json` every export writes beside its model: where the model came
/// from, which nodes are frozen (with a SHA-256 per frozen parameter tensor), the fine-tune
/// configuration and the surgery history. Formats that lose freeze state or history on
/// save get them back from it on load. Documented in `formats/freeze-manifest.md`.
public struct FreezeManifest: Sendable, Equatable {
    /// The schema version this code writes and reads.
    public static let currentSchemaVersion = 1
    /// Appended to the model's path to name its manifest.
    public static let fileSuffix = ".graft.json"

    /// A model file: its path as given, its format name, and the SHA-256 of its bytes.
    public struct FileRecord: Sendable, Equatable {
        public var path: String
        public var format: String
        public var sha256: String?
        public init(path: String, format: String, sha256: String?) { self.path = path; self.format = format; self.sha256 = sha256 }
    }

    /// A frozen parameter: shape, dtype and the SHA-256 of its elements in the IR's canonical
    /// layout (row-major, little-endian, in the stated dtype) — independent of the file format.
    public struct ParameterRecord: Sendable, Equatable {
        public var shape: [Int]
        public var dtype: String
        public var sha256: String
        public init(shape: [Int], dtype: String, sha256: String) { self.shape = shape; self.dtype = dtype; self.sha256 = sha256 }
    }

    public struct FrozenNode: Sendable, Equatable {
        public var name: String
        public var freeze: FreezeState
        public var parameters: OrderedDictionary<String, ParameterRecord>
        public init(name: String, freeze: FreezeState, parameters: OrderedDictionary<String, ParameterRecord>) {
            self.name = name; self.freeze = freeze; self.parameters = parameters
        }
    }

    public var schemaVersion: Int
    public var graftVersion: String
    public var source: FileRecord?
    public var output: FileRecord
    public var frozen: [FrozenNode]
    /// `{"configuration": …, "layers": {name: …}}`: the last `fineTune` history record's
    /// arguments and the per-node `extras["fineTune"]` settings; nil when neither is recorded.
    public var fineTune: JSONValue?
    public var history: [HistoryRecord]

    public init(schemaVersion: Int = FreezeManifest.currentSchemaVersion, graftVersion: String = GraftIO.graftVersion,
                source: FileRecord?, output: FileRecord, frozen: [FrozenNode], fineTune: JSONValue?, history: [HistoryRecord]) {
        self.schemaVersion = schemaVersion; self.graftVersion = graftVersion; self.source = source; self.output = output
        self.frozen = frozen; self.fineTune = fineTune; self.history = history
    }

    /// The manifest path for a model path.
    public static func path(forModel model: String) -> String { model + fileSuffix }

    /// The SHA-256 (hex) of a tensor's bytes.
    public static func sha256(of tensor: Tensor) -> String { tensor.withUnsafeBytes { SHA256.hex($0) } }

    // MARK: Making

    /// The manifest for `graph` just written to `output` (which must exist: its SHA-256 is
    /// taken). `source` is the file the graph was read from; nil takes `graph.source.path`.
    public static func make(for graph: Graph, source: String?, output: String, outputFormat: ModelFormat) throws -> FreezeManifest {
        var sourceRecord: FileRecord?
        if let sourcePath = source ?? graph.source.path {
            let exists = FileManager.default.fileExists(atPath: sourcePath)
            let format = exists ? ((try? ModelFile.detectFormat(path: sourcePath))?.rawValue ?? graph.source.format) : graph.source.format
            sourceRecord = FileRecord(path: sourcePath, format: format, sha256: exists ? try SHA256.hex(fileAt: sourcePath) : nil)
        }
        let outputRecord = FileRecord(path: output, format: outputFormat.rawValue, sha256: try SHA256.hex(fileAt: output))
        // Input nodes carry no parameters and writers may rename them; freezing them means nothing.
        let frozen = graph.nodes.filter { node in
            if case .input = node.op { return false }
            return node.freeze != .trainable
        }.map { node in
            var parameters = OrderedDictionary<String, ParameterRecord>()
            for (name, tensor) in node.parameters {
                parameters[name] = ParameterRecord(shape: tensor.shape, dtype: tensor.dtype.rawValue, sha256: sha256(of: tensor))
            }
            return FrozenNode(name: node.name, freeze: node.freeze, parameters: parameters)
        }
        return FreezeManifest(source: sourceRecord, output: outputRecord, frozen: frozen,
                              fineTune: fineTuneConfiguration(of: graph), history: graph.history)
    }

    static func fineTuneConfiguration(of graph: Graph) -> JSONValue? {
        var result = OrderedDictionary<String, JSONValue>()
        if let record = graph.history.last(where: { $0.operation == "fineTune" }) { result["configuration"] = record.arguments }
        var layers = OrderedDictionary<String, JSONValue>()
        for node in graph.nodes { if let settings = node.extras["fineTune"] { layers[node.name] = settings } }
        if !layers.isEmpty { result["layers"] = .object(layers) }
        return result.isEmpty ? nil : .object(result)
    }

    // MARK: JSON

    public var json: JSONValue {
        func file(_ r: FileRecord) -> JSONValue {
            .object(["path": .string(r.path), "format": .string(r.format), "sha256": r.sha256.map { .string($0) } ?? .null])
        }
        var o = OrderedDictionary<String, JSONValue>()
        o["schemaVersion"] = JSONValue(schemaVersion)
        o["graftVersion"] = .string(graftVersion)
        o["source"] = source.map(file) ?? .null
        o["output"] = file(output)
        o["frozen"] = .array(frozen.map { node in
            var parameters = OrderedDictionary<String, JSONValue>()
            for (name, p) in node.parameters {
                parameters[name] = .object(["shape": .array(p.shape.map { JSONValue($0) }), "dtype": .string(p.dtype), "sha256": .string(p.sha256)])
            }
            return .object(["name": .string(node.name), "freeze": .string(node.freeze.rawValue), "parameters": .object(parameters)])
        })
        o["fineTune"] = fineTune ?? .null
        o["history"] = .array(history.map {
            .object(["operation": .string($0.operation), "arguments": $0.arguments, "functionPreserving": .bool($0.functionPreserving)])
        })
        return .object(o)
    }

    /// Parses a manifest, checking every field's type; a newer schema version is refused.
    public init(json: JSONValue, file: String? = nil) throws {
        func bad(_ field: String, _ expected: String, _ found: JSONValue?) -> GraftError {
            GraftError(.malformed, "freeze manifest field has the wrong type", file: file, field: field, expected: expected,
                       found: found.map { String($0.serialized().prefix(60)) } ?? "nothing")
        }
        guard json.objectValue != nil else { throw bad("(root)", "an object", json) }
        guard let version = json["schemaVersion"]?.intValue else { throw bad("schemaVersion", "an integer", json["schemaVersion"]) }
        guard version >= 1, version <= FreezeManifest.currentSchemaVersion else {
            throw GraftError(.unsupported, "unsupported freeze manifest schema version", file: file, field: "schemaVersion",
                             expected: "1...\(FreezeManifest.currentSchemaVersion)", found: "\(version)")
        }
        guard let graft = json["graftVersion"]?.stringValue else { throw bad("graftVersion", "a string", json["graftVersion"]) }
        func fileRecord(_ field: String, _ v: JSONValue?) throws -> FileRecord {
            guard let path = v?["path"]?.stringValue else { throw bad("\(field).path", "a string", v?["path"]) }
            guard let format = v?["format"]?.stringValue else { throw bad("\(field).format", "a string", v?["format"]) }
            let sha = v?["sha256"]
            guard sha == nil || sha!.isNull || sha!.stringValue != nil else { throw bad("\(field).sha256", "a string or null", sha) }
            return FileRecord(path: path, format: format, sha256: sha?.stringValue)
        }
        let sourceRecord: FileRecord? = (json["source"] == nil || json["source"]!.isNull) ? nil : try fileRecord("source", json["source"])
        let outputRecord = try fileRecord("output", json["output"])
        guard let frozenArray = json["frozen"]?.arrayValue else { throw bad("frozen", "an array", json["frozen"]) }
        var frozen: [FrozenNode] = []
        for (i, entry) in frozenArray.enumerated() {
            let at = "frozen[\(i)]"
            guard let name = entry["name"]?.stringValue else { throw bad("\(at).name", "a string", entry["name"]) }
            guard let state = entry["freeze"]?.stringValue.flatMap(FreezeState.init(rawValue:)), state != .trainable else {
                throw bad("\(at).freeze", "\"frozen\" or \"frozenWithBackprop\"", entry["freeze"])
            }
            guard let params = entry["parameters"]?.objectValue else { throw bad("\(at).parameters", "an object", entry["parameters"]) }
            var parameters = OrderedDictionary<String, ParameterRecord>()
            for (pname, p) in params {
                guard let shape = p["shape"]?.intArray, shape.allSatisfy({ $0 >= 0 }) else {
                    throw bad("\(at).parameters.\(pname).shape", "an array of non-negative integers", p["shape"])
                }
                guard let dtype = p["dtype"]?.stringValue else { throw bad("\(at).parameters.\(pname).dtype", "a string", p["dtype"]) }
                guard let sha = p["sha256"]?.stringValue else { throw bad("\(at).parameters.\(pname).sha256", "a string", p["sha256"]) }
                parameters[pname] = ParameterRecord(shape: shape, dtype: dtype, sha256: sha)
            }
            frozen.append(FrozenNode(name: name, freeze: state, parameters: parameters))
        }
        let fineTune = json["fineTune"].flatMap { $0.isNull ? nil : $0 }
        guard let historyArray = json["history"]?.arrayValue else { throw bad("history", "an array", json["history"]) }
        var history: [HistoryRecord] = []
        for (i, entry) in historyArray.enumerated() {
            guard let operation = entry["operation"]?.stringValue else { throw bad("history[\(i)].operation", "a string", entry["operation"]) }
            guard let preserving = entry["functionPreserving"]?.boolValue else {
                throw bad("history[\(i)].functionPreserving", "a boolean", entry["functionPreserving"])
            }
            history.append(HistoryRecord(operation: operation, arguments: entry["arguments"] ?? .object([:]), functionPreserving: preserving))
        }
        self.init(schemaVersion: version, graftVersion: graft, source: sourceRecord, output: outputRecord, frozen: frozen,
                  fineTune: fineTune, history: history)
    }

    /// Writes the manifest as pretty JSON, atomically.
    public func write(to path: String) throws {
        try AtomicFile.write(Data((json.serialized(pretty: true) + "\n").utf8), to: path)
    }

    /// Reads a manifest file.
    public static func read(path: String) throws -> FreezeManifest {
        guard let data = FileManager.default.contents(atPath: path) else { throw GraftError(.io, "cannot read file", file: path) }
        let json: JSONValue
        do { json = try JSONValue.parse(bytes: [UInt8](data)) } catch { throw error.graftError(file: path) }
        return try FreezeManifest(json: json, file: path)
    }

    // MARK: Applying

    /// Puts the manifest's freeze states and history onto a graph read from its output file.
    /// Nodes the manifest names but the graph lacks are skipped; a node frozen in the file
    /// stays frozen. History is taken from the manifest when the graph carries none.
    public func apply(to graph: Graph) -> Graph {
        var g = graph
        let states = Dictionary(frozen.map { ($0.name, $0.freeze) }, uniquingKeysWith: { a, _ in a })
        for i in g.nodes.indices where g.nodes[i].freeze == .trainable {
            if let state = states[g.nodes[i].name] { g.nodes[i].freeze = state }
        }
        if g.history.isEmpty { g.history = history }
        return g
    }

    /// One frozen parameter of the manifest that does not match a graph.
    public struct Mismatch: Sendable, Equatable, CustomStringConvertible {
        public var node: String
        public var parameter: String
        public var detail: String
        public var description: String { "\(node)/\(parameter): \(detail)" }
    }

    /// Every frozen parameter whose tensor in `graph` is missing or differs from the
    /// recorded shape, dtype or SHA-256.
    public func movedParameters(in graph: Graph) -> [Mismatch] {
        var out: [Mismatch] = []
        for entry in frozen {
            guard let node = graph.node(named: entry.name) else {
                // A parameterless node (e.g. a Dropout a writer left out) has nothing that can move.
                if !entry.parameters.isEmpty {
                    out.append(Mismatch(node: entry.name, parameter: "*", detail: "frozen node missing from the model"))
                }
                continue
            }
            for (name, record) in entry.parameters {
                guard let tensor = node.parameters[name] else {
                    out.append(Mismatch(node: entry.name, parameter: name, detail: "parameter missing")); continue
                }
                if tensor.shape != record.shape {
                    out.append(Mismatch(node: entry.name, parameter: name, detail: "shape \(tensor.shape), recorded \(record.shape)"))
                } else if tensor.dtype.rawValue != record.dtype {
                    out.append(Mismatch(node: entry.name, parameter: name, detail: "dtype \(tensor.dtype.rawValue), recorded \(record.dtype)"))
                } else if FreezeManifest.sha256(of: tensor) != record.sha256 {
                    out.append(Mismatch(node: entry.name, parameter: name, detail: "values changed (SHA-256 differs)"))
                }
            }
        }
        return out
    }
}

extension FreezeManifest {
    /// The manifest beside `model` when there is one and it matches the file's bytes; nil otherwise.
    public static func matching(model: String) throws -> FreezeManifest? {
        let path = FreezeManifest.path(forModel: model)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let manifest = try read(path: path)
        guard manifest.output.sha256 == (try SHA256.hex(fileAt: model)) else { return nil }
        return manifest
    }
}
