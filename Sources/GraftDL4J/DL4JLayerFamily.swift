import GraftCore
import OrderedCollections

/// What flows between DL4J layers, as far as the reader needs it.
public enum DL4JDataKind: String, Sendable {
    /// [batch, features]
    case feedForward
    /// DL4J [batch, features, time]; inside the IR [batch, time, features].
    case recurrent
    /// [batch, channels, height, width]
    case convolutional2D
    /// [batch, channels, depth, height, width]
    case convolutional3D
}

/// The data a layer receives: its kind and feature (channel) count; 0 = unknown.
public struct DL4JLayerInput: Sendable, Equatable {
    public var kind: DL4JDataKind
    public var size: Int
    public init(_ kind: DL4JDataKind, _ size: Int) { self.kind = kind; self.size = size }
}

/// A layer converted to IR: its op, its canonical parameters, what it outputs, and extra
/// nodes placed before it (e.g. explicit zero padding of a convolution).
struct DL4JBuiltLayer {
    var op: Op
    var parameters: OrderedDictionary<String, Tensor> = [:]
    var output: DL4JLayerInput
    /// Nodes inserted before the layer node, each (name suffix, op).
    var before: [(String, Op)] = []
}

/// One layer family: the DL4J type names it handles (legacy short names and `@class`
/// simple names) and how it converts a layer config and its parameter segment to IR.
struct DL4JLayerFamily: Sendable {
    let names: [String]
    /// The data kind the family expects as input, when it fixes one (used to choose the
    /// layout of graph inputs).
    let expects: DL4JDataKind?
    let build: @Sendable (DL4JLayerConfig, DL4JLayerInput, inout DL4JParameterReader) throws -> DL4JBuiltLayer
}

/// The registration table: adding a layer family is one file and one line here.
enum DL4JLayerFamilies {
    static let all: [DL4JLayerFamily] = [
        DL4JDenseFamilies.dense, DL4JDenseFamilies.output, DL4JDenseFamilies.loss, DL4JDenseFamilies.embedding,
        DL4JDenseFamilies.embeddingSequence,
        DL4JConvolutionFamilies.convolution2D, DL4JConvolutionFamilies.convolution1D, DL4JConvolutionFamilies.convolution3D,
        DL4JConvolutionFamilies.deconvolution2D, DL4JConvolutionFamilies.depthwise2D, DL4JConvolutionFamilies.separable2D,
        DL4JPoolingFamilies.subsampling2D, DL4JPoolingFamilies.subsampling1D, DL4JPoolingFamilies.subsampling3D,
        DL4JPoolingFamilies.globalPooling,
        DL4JShapeFamilies.zeroPadding2D, DL4JShapeFamilies.zeroPadding1D, DL4JShapeFamilies.cropping2D,
        DL4JShapeFamilies.cropping1D, DL4JShapeFamilies.upsampling2D, DL4JShapeFamilies.upsampling1D,
        DL4JShapeFamilies.zeroPadding3D, DL4JShapeFamilies.cropping3D, DL4JShapeFamilies.upsampling3D,
        DL4JNormalizationFamilies.batchNormalization, DL4JNormalizationFamilies.localResponseNormalization,
        DL4JRecurrentFamilies.lstm, DL4JRecurrentFamilies.gravesLSTM, DL4JRecurrentFamilies.gravesBidirectionalLSTM,
        DL4JRecurrentFamilies.simpleRnn, DL4JRecurrentFamilies.bidirectional,
        DL4JMiscFamilies.activation, DL4JMiscFamilies.dropout, DL4JMiscFamilies.repeatVector, DL4JMiscFamilies.variationalAutoencoder,
    ]

    static let byName: [String: DL4JLayerFamily] = {
        var table: [String: DL4JLayerFamily] = [:]
        for family in all { for name in family.names { table[name] = family } }
        return table
    }()

    /// Wrapper types handled by the reader itself (they become freeze states or extra nodes).
    static let wrapperNames: Set<String> = ["FrozenLayer", "FrozenLayerWithBackprop", "LastTimeStep", "MaskZeroLayer"]

    /// DL4J legacy short names Graft does not map (so they are errors, not custom layers).
    static let unsupportedLegacyNames: Set<String> = [
        "autoEncoder", "Yolo2OutputLayer", "ElementWiseMult", "MaskLayer", "SpaceToDepthLayer", "SpaceToBatchLayer",
    ]

    /// True for classes of DL4J itself (`org.deeplearning4j.nn.…`, including its Keras-import
    /// layers); anything else — even other `org.deeplearning4j` packages such as DL4J's own
    /// regression-test custom layers — is a user's custom class.
    static func isDL4JClass(_ className: String) -> Bool { className.hasPrefix("org.deeplearning4j.nn.") }

    static func family(for type: String) -> DL4JLayerFamily? {
        byName[type]
    }

    static func isKnown(_ type: String) -> Bool { byName[type] != nil || wrapperNames.contains(type) }
}

/// Reads a layer's parameters from the flat `coefficients.bin` vector in DL4J's order and
/// converts them to IR layouts. Without a vector (configuration only) it just counts, and
/// every method returns an empty placeholder tensor.
struct DL4JParameterReader {
    /// The flat parameter vector, or nil when only counting.
    let flat: DL4JFlatParameters?
    /// Elements consumed so far.
    private(set) var position: Int = 0
    let file: String?
    var location: String = ""

    init(flat: DL4JFlatParameters?, file: String?) { self.flat = flat; self.file = file }

    var counting: Bool { flat == nil }
    static let placeholder = Tensor(zeros: [0])

    /// The next elements as the row-major array `shape`, transposed by `perm`.
    private mutating func read(_ shape: [Int], permutedBy perm: [Int]?, _ field: String) throws -> Tensor {
        let count = shape.reduce(1, *)
        guard count >= 0, shape.allSatisfy({ $0 >= 0 }) else {
            throw GraftError(.malformed, "negative parameter count", file: file, location: location, field: field,
                             found: "\(count)")
        }
        defer { position += count }
        guard let flat else { return Self.placeholder }
        guard position + count <= flat.count else {
            throw GraftError(.shapeMismatch, "coefficients.bin holds fewer parameters than the configuration needs",
                             file: file, location: location, field: field,
                             expected: "\(position + count) or more parameters", found: "\(flat.count)")
        }
        return try flat.read(shape, permutedBy: perm)
    }

    /// The next `count` elements as a 1-D tensor.
    mutating func take(_ count: Int, _ field: String) throws -> Tensor {
        guard count >= 0 else {
            throw GraftError(.malformed, "negative parameter count", file: file, location: location, field: field,
                             found: "\(count)")
        }
        return try read([count], permutedBy: nil, field)
    }

    /// A vector of `n` (DL4J stores biases and BN statistics as [1, n]).
    mutating func vector(_ n: Int, _ field: String) throws -> Tensor { try take(n, field) }

    /// A matrix stored in column-major ('f') order, returned row-major [rows, cols].
    mutating func matrixF(_ rows: Int, _ cols: Int, _ field: String) throws -> Tensor {
        try read([cols, rows], permutedBy: [1, 0], field)
    }

    /// An array stored in row-major ('c') order with `shape`, then permuted by `perm`.
    mutating func arrayC(_ shape: [Int], permutedBy perm: [Int]? = nil, _ field: String) throws -> Tensor {
        if let perm, perm.count != shape.count || Set(perm) != Set(shape.indices) {
            throw GraftError(.invalidArgument, "bad permutation", file: file, location: location, field: field,
                             expected: "a permutation of 0..<\(shape.count)", found: "\(perm)")
        }
        return try read(shape, permutedBy: perm, field)
    }

    /// Reorders equal column blocks of a row-major matrix (or vector): result block k is
    /// source block `order[k]`.
    func reorderColumnBlocks(_ t: Tensor, blockSize: Int, order: [Int]) throws -> Tensor {
        if counting { return t }
        let rows = t.rank == 1 ? 1 : t.shape[0]
        let cols = t.rank == 1 ? t.shape[0] : t.shape[1]
        guard cols == blockSize * order.count else {
            throw GraftError(.shapeMismatch, "gate blocks do not divide the columns", file: file, location: location,
                             expected: "\(order.count) blocks of \(blockSize)", found: "\(cols) columns")
        }
        var out = Tensor(zeros: t.shape, dtype: t.dtype)
        let size = t.dtype.size
        t.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                for r in 0..<rows {
                    for (k, from) in order.enumerated() {
                        let s = (r * cols + from * blockSize) * size
                        let d = (r * cols + k * blockSize) * size
                        dst.baseAddress!.advanced(by: d).copyMemory(from: src.baseAddress!.advanced(by: s), byteCount: blockSize * size)
                    }
                }
            }
        }
        return out
    }

    /// Selected columns of a row-major matrix, as rows of the result ([cols.count, rows]).
    func columnsAsRows(_ t: Tensor, _ columns: [Int]) throws -> Tensor {
        if counting { return t }
        let rows = t.shape[0], cols = t.shape[1]
        var out = Tensor(zeros: [columns.count, rows], dtype: t.dtype)
        let size = t.dtype.size
        t.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                for (k, c) in columns.enumerated() {
                    for r in 0..<rows {
                        dst.baseAddress!.advanced(by: (k * rows + r) * size)
                            .copyMemory(from: src.baseAddress!.advanced(by: (r * cols + c) * size), byteCount: size)
                    }
                }
            }
        }
        _ = cols
        return out
    }

    /// The first `count` columns of a row-major matrix.
    func leadingColumns(_ t: Tensor, _ count: Int) throws -> Tensor {
        if counting { return t }
        let rows = t.shape[0], cols = t.shape[1]
        var out = Tensor(zeros: [rows, count], dtype: t.dtype)
        let size = t.dtype.size
        t.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                for r in 0..<rows {
                    dst.baseAddress!.advanced(by: r * count * size)
                        .copyMemory(from: src.baseAddress!.advanced(by: r * cols * size), byteCount: count * size)
                }
            }
        }
        return out
    }
}

/// Typed access to DL4J layer fields, with errors naming the layer and field.
extension DL4JLayerConfig {
    var location: String { name ?? type }

    func int(_ key: String) -> Int? { fields[key]?.intValue }
    func double(_ key: String) -> Double? { fields[key]?.doubleValue }
    func string(_ key: String) -> String? { fields[key]?.stringValue }
    func bool(_ key: String) -> Bool? { fields[key]?.boolValue }
    func ints(_ key: String) -> [Int]? { fields[key]?.intArray }

    func requireInts(_ key: String, count: Int) throws -> [Int] {
        guard let v = ints(key), v.count >= count else {
            throw GraftError(.malformed, "missing or short integer array", location: location, field: key,
                             expected: "\(count) integers", found: fields[key]?.serialized() ?? "nothing")
        }
        return Array(v.prefix(count))
    }

    /// nOut, required.
    func requireNOut() throws -> Int {
        guard let n = nOut, n > 0 else {
            throw GraftError(.malformed, "layer has no output size", location: location, field: "nOut",
                             expected: "a positive integer", found: fields["nout"]?.serialized() ?? "nothing")
        }
        return n
    }

    /// nIn from the config, or else the size of the incoming data (legacy configs may omit it).
    func resolvedNIn(_ input: DL4JLayerInput) throws -> Int {
        if let n = nIn, n > 0 { return n }
        guard input.size > 0 else {
            throw GraftError(.malformed, "cannot determine the layer's input size", location: location, field: "nIn",
                             expected: "nIn in the configuration or a known previous layer", found: "nothing")
        }
        return input.size
    }

    func activation() throws -> ActivationFunction {
        try DL4JActivation.function(fields["activationFn"] ?? fields["activationFunction"], location: location)
    }

    /// Refuses channels-last image layouts (DL4J ≥ 1.0.0-beta7 `cnn2dDataFormat: NHWC`,
    /// 3-D `dataFormat: NDHWC`): this reader maps DL4J's channels-first layouts only.
    func requireChannelsFirst() throws {
        for key in ["cnn2dDataFormat", "dataFormat"] {
            if let format = string(key), format == "NHWC" || format == "NDHWC" || format == "NWC" {
                throw GraftError(.unsupported, "channels-last DL4J image layout is not supported yet", location: location,
                                 field: key, expected: "NCHW / NCDHW / NCW", found: format)
            }
        }
    }

    /// `hasBias`, default true.
    var hasBias: Bool { bool("hasBias") ?? true }
}
