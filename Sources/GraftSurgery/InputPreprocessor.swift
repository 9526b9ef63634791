import GraftCore

/// DL4J input pre-processors in recipe notation: `{"type": "rnnToFeedForward"}`,
/// `{"type": "cnnToFeedForward", "height": 7, "width": 7, "channels": 64}`, ….
enum DL4JPreprocessorNotation {
    static func parse(_ json: JSONValue) throws -> DL4JPreprocessor {
        guard let type = json["type"]?.stringValue else {
            throw GraftError(.invalidArgument, "a preprocessor needs a \"type\"", field: "preprocessor", found: json.description)
        }
        func dims() throws -> (Int, Int, Int) {
            guard let h = json["height"]?.intValue, let w = json["width"]?.intValue, let c = json["channels"]?.intValue,
                  h > 0, w > 0, c > 0 else {
                throw GraftError(.invalidArgument, "\(type) needs positive height, width and channels", field: "preprocessor", found: json.description)
            }
            return (h, w, c)
        }
        switch type {
        case "rnnToFeedForward": return .rnnToFeedForward
        case "feedForwardToRnn": return .feedForwardToRnn
        case "cnnToFeedForward": let (h, w, c) = try dims(); return .cnnToFeedForward(height: h, width: w, channels: c)
        case "feedForwardToCnn": let (h, w, c) = try dims(); return .feedForwardToCnn(height: h, width: w, channels: c)
        case "cnnToRnn": let (h, w, c) = try dims(); return .cnnToRnn(height: h, width: w, channels: c)
        case "rnnToCnn": let (h, w, c) = try dims(); return .rnnToCnn(height: h, width: w, channels: c)
        default:
            throw GraftError(.invalidArgument, "unknown preprocessor", field: "preprocessor",
                             expected: "rnnToFeedForward, feedForwardToRnn, cnnToFeedForward, feedForwardToCnn, cnnToRnn, rnnToCnn", found: type)
        }
    }
}

extension Graph {
    /// DL4J `setInputPreProcessor`: puts a pre-processor node (named `<layer>/preprocessor`)
    /// in front of a single-input layer, replacing one already there.
    public func setInputPreProcessor(layer: String, _ preprocessor: DL4JPreprocessor) throws -> Graph {
        let node = try requireNode(layer, for: "setInputPreProcessor")
        guard node.inputs.count == 1 else {
            throw invalid("setInputPreProcessor needs a layer with one input", node: layer, expected: "1 input", found: "\(node.inputs.count)")
        }
        var g = self
        let name = "\(layer)/preprocessor"
        var source = node.inputs[0]
        if let existing = g.node(named: name), case .dl4jVertex(.preprocessor) = existing.op {
            source = existing.inputs[0]
            g.nodes.removeAll { $0.name == name }
        } else if g.node(named: name) != nil {
            throw invalid("a node named '\(name)' already exists", node: name)
        }
        let index = g.index(of: layer)!
        g.nodes.insert(Node(name: name, op: .dl4jVertex(.preprocessor(preprocessor)), inputs: [source]), at: index)
        g.nodes[index + 1].inputs = [NodeOutput(name)]
        return try g.recording("setInputPreProcessor", [("layer", .string(layer)), ("preprocessor", .string(preprocessor.kindName))],
                           functionPreserving: false, from: self)
    }
}
