import GraftCore
import OrderedCollections

/// One weight array of a Keras layer as stored in the file, in `weight_names` order (or
/// `vars/<i>` order for Keras 3 archives).
public struct KerasWeight: Sendable {
    /// The name as the file gives it (`dense_1/kernel:0`, `dense_1_W`, `vars/0`).
    public var name: String
    public var tensor: Tensor
    public init(name: String, tensor: Tensor) { self.name = name; self.tensor = tensor }

    /// The last path component without a `:0` suffix (`kernel`, `dense_1_W`, `0`).
    public var shortName: String {
        var s = name.split(separator: "/").last.map(String.init) ?? name
        if let colon = s.lastIndex(of: ":") { s = String(s[..<colon]) }
        return s
    }
}

/// Who wrote the file: the facts that change how a layer's config and weights are read.
public struct KerasProducer: Sendable, Equatable {
    /// 1, 2 or 3 (tf.keras 2.x counts as 2).
    public var major: Int
    /// The full version string, e.g. `2.1.3`, `2.2.4-tf`, `3.15.1`.
    public var version: String
    /// `tensorflow`, `theano`, `cntk`, `jax`, `torch`, or nil when the file does not say.
    public var backend: String?
    public init(major: Int, version: String, backend: String?) {
        self.major = major; self.version = version; self.backend = backend
    }
    public var isTheano: Bool { backend == "theano" }
}

/// What a layer family sees of one Keras layer.
public struct KerasLayerContext: Sendable {
    public var name: String
    public var className: String
    /// The layer's `config` object, verbatim.
    public var config: JSONValue
    public var producer: KerasProducer
    /// The layer's weights in file order.
    public var weights: [KerasWeight]
    /// Shapes (without batch) of the tensors flowing into the layer, when known.
    public var inputShapes: [[Int?]]
    /// The file being read, for error messages.
    public var file: String?

    public init(name: String, className: String, config: JSONValue, producer: KerasProducer,
                weights: [KerasWeight], inputShapes: [[Int?]], file: String?) {
        self.name = name; self.className = className; self.config = config; self.producer = producer
        self.weights = weights; self.inputShapes = inputShapes; self.file = file
    }

    /// An error about this layer, naming file, layer and class.
    public func error(_ kind: GraftError.Kind, _ message: String, field: String? = nil,
                      expected: String? = nil, found: String? = nil) -> GraftError {
        GraftError(kind, message, file: file, location: "layer '\(name)' (\(className))",
                   field: field, expected: expected, found: found)
    }

    /// The weight at `index`, with its shape checked when `shape` is given.
    public func weight(_ index: Int, named role: String, shape: [Int]? = nil) throws -> Tensor {
        guard index < weights.count else {
            throw error(.missingWeights, "missing weight '\(role)'", expected: "at least \(index + 1) weight arrays",
                        found: "\(weights.count)")
        }
        let t = weights[index].tensor
        if let shape, t.shape != shape {
            throw error(.shapeMismatch, "weight '\(weights[index].name)' has the wrong shape", field: role,
                        expected: "\(shape)", found: "\(t.shape)")
        }
        return t
    }
}

/// A layer family: maps some Keras layer classes to an IR op and canonical parameters.
/// Register a family by adding one line to `KerasLayerRegistry.families`.
public protocol KerasLayerFamily {
    /// The Keras `class_name`s this family reads.
    static var classNames: Set<String> { get }
    /// The IR op and its parameters in canonical layout (see `formats/ir.md`).
    static func map(_ layer: KerasLayerContext) throws -> (op: Op, parameters: OrderedDictionary<String, Tensor>)
}
