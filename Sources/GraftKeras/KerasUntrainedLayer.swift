import GraftCore

extension KerasLayerRegistry {
    /// The IR op of a Keras layer given only as a config (`{"class_name": "Dense", "config": {…}}`),
    /// for adding an untrained layer. The layer's family reads the config as it would from a
    /// file; a family that needs weights gets placeholder zero weights shaped for one input
    /// feature (`inputWidth`), which are discarded — only the op is returned.
    public static func untrainedOp(_ json: JSONValue, inputWidth: Int = 1) throws -> Op {
        guard let className = json["class_name"]?.stringValue, let config = json["config"], config.objectValue != nil else {
            throw GraftError(.invalidArgument, "a Keras layer is {\"class_name\": …, \"config\": {…}}", field: "layer",
                             found: json.serialized().prefix(80).description)
        }
        guard let family = family(for: className) else {
            throw GraftError(.unknownLayer, "no Keras layer family reads this class", field: "class_name", found: className)
        }
        let producer = KerasProducer(major: 3, version: "3.0.0", backend: "tensorflow")
        let name = config["name"]?.stringValue ?? className
        func context(_ weights: [KerasWeight]) -> KerasLayerContext {
            KerasLayerContext(name: name, className: className, config: config, producer: producer,
                              weights: weights, inputShapes: [[nil, inputWidth]], file: nil)
        }
        do {
            return try family.map(context([])).op
        } catch let error as GraftError where error.kind == .missingWeights || error.kind == .shapeMismatch {
            let placeholders = try placeholderWeights(className: className, config: config, inputWidth: inputWidth)
            guard !placeholders.isEmpty else { throw error }
            return try family.map(context(placeholders)).op
        }
    }

    /// Zero weights in Keras 2/3 file order for the weighted classes commonly added by surgery.
    static func placeholderWeights(className: String, config: JSONValue, inputWidth: Int) throws -> [KerasWeight] {
        func int(_ key: String) throws -> Int {
            guard let v = config[key]?.intValue, v > 0, v <= 1 << 24 else {
                throw GraftError(.invalidArgument, "missing or invalid layer setting", location: className, field: key,
                                 expected: "a positive integer", found: config[key]?.description ?? "nothing")
            }
            return v
        }
        let useBias = config["use_bias"]?.boolValue ?? true
        func w(_ n: String, _ shape: [Int]) -> KerasWeight { KerasWeight(name: n, tensor: Tensor(zeros: shape)) }
        switch className {
        case "Dense":
            let u = try int("units")
            return [w("kernel", [inputWidth, u])] + (useBias ? [w("bias", [u])] : [])
        case "SimpleRNN", "LSTM", "GRU":
            let u = try int("units")
            let g = className == "LSTM" ? 4 : className == "GRU" ? 3 : 1
            let resetAfter = className == "GRU" && (config["reset_after"]?.boolValue ?? true)
            let bias = resetAfter ? w("bias", [2, 3 * u]) : w("bias", [g * u])
            return [w("kernel", [inputWidth, g * u]), w("recurrent_kernel", [u, g * u])] + (useBias ? [bias] : [])
        case "Conv1D", "Conv2D", "Conv3D":
            let f = try int("filters")
            let rank = className == "Conv1D" ? 1 : className == "Conv2D" ? 2 : 3
            let k = config["kernel_size"]?.arrayValue?.compactMap(\.intValue) ?? config["kernel_size"]?.intValue.map { Array(repeating: $0, count: rank) } ?? []
            guard k.count == rank, k.allSatisfy({ $0 > 0 && $0 <= 1 << 12 }) else {
                throw GraftError(.invalidArgument, "missing or invalid kernel_size", location: className, field: "kernel_size")
            }
            return [w("kernel", k + [inputWidth, f])] + (useBias ? [w("bias", [f])] : [])
        case "Embedding":
            return [w("embeddings", [try int("input_dim"), try int("output_dim")])]
        default:
            return []
        }
    }
}
