import Foundation
import GraftCore

/// The flat parameter vector the layer families consume in order, wherever its elements
/// come from: a decoded tensor, `coefficients.bin` streaming out of the zip (big-endian; the
/// byte swap is fused with each parameter's layout conversion, so every value is touched
/// once, straight into its tensor's final storage), or nothing at all (`plan`: the writer
/// learns where each canonical parameter sits in the flat vector).
final class DL4JFlatParameters {
    enum Source {
        /// Host-order values, row-major.
        case tensor(Tensor)
        /// The data values of an Nd4j array, in stored byte order, streaming out of a zip entry.
        case stream(ZipEntryReader, swapBytes: Bool)
        /// No values: tensors come back zero (untouched pages) and each read is recorded.
        case plan
    }

    /// One read of the flat vector: elements `start..<start+count`, viewed as the row-major
    /// array `sourceShape`, landed in `storage` where source element (i₀…) goes to
    /// Σ iₖ·`destinationStrides[k]`.
    struct Placement {
        var start: Int
        var sourceShape: [Int]
        var destinationStrides: [Int]
        var storage: TensorStorage
        var count: Int { sourceShape.reduce(1, *) }
    }

    let count: Int
    let dtype: DType
    private let source: Source
    private(set) var position = 0
    /// The reads made in `plan` mode, in flat order.
    var placements: [Placement] = []

    init(_ tensor: Tensor) {
        count = tensor.count
        dtype = tensor.dtype
        source = .tensor(tensor)
    }

    init(stream: ZipEntryReader, count: Int, dtype: DType, swapBytes: Bool) {
        self.count = count
        self.dtype = dtype
        source = .stream(stream, swapBytes: swapBytes)
    }

    init(planning count: Int, dtype: DType) {
        self.count = count
        self.dtype = dtype
        source = .plan
    }

    /// Bytes streamed per slab: large enough for long sequential reads, small enough to stay
    /// in the cache while the slab is spread into its tensor.
    static let slabBytes = 2 << 20

    /// Rows per slab of a tensor whose rows are `rowBytes` long: as many as fit `slabBytes`,
    /// and at least 32 when that stays within 4 × `slabBytes`, so a transposition's 32 × 32
    /// tiles are whole; a multiple of 16 when 16 or more fit, so that when a slab is transposed
    /// (its rows become destination columns) each 64-byte destination line of 4-byte elements
    /// is written by one slab alone, whole (streaming stores need whole lines; two threads
    /// never share a line). (The DL4J writer cuts its parts the same way.)
    static func rowsPerSlab(rowBytes: Int) -> Int {
        let fitting = max(1, slabBytes / max(rowBytes, 1))
        if fitting < 32 && 32 * rowBytes <= 4 * slabBytes { return 32 }
        return fitting >= 16 ? fitting / 16 * 16 : fitting
    }
    /// Tensors at least this large are read on `readThreads` threads, and transposed into their
    /// storage with streaming stores (`StridedCopy`'s `streamingStores`): such a tensor is
    /// larger than the cache and nothing reads it during the import, so its lines should go
    /// to memory whole rather than be read from memory first and then evicted half-written.
    static let parallelBytes = 8 << 20
    /// Threads for one large tensor's read: the machine's cores, at most 2 (the page cache and
    /// memory bandwidth are the limit beyond that).
    static let readThreads = min(2, max(1, ProcessInfo.processInfo.activeProcessorCount))

    /// The next `sourceShape.product` elements as the row-major array `sourceShape`,
    /// transposed by `permutation` (numpy semantics: result axis i is source axis
    /// `permutation[i]`), in fresh storage.
    func read(_ sourceShape: [Int], permutedBy permutation: [Int]? = nil) throws -> Tensor {
        let perm = permutation ?? Array(sourceShape.indices)
        let shape = perm.map { sourceShape[$0] }
        let n = sourceShape.reduce(1, *)
        guard n <= count - position else {
            throw GraftError(.shapeMismatch, "coefficients.bin holds fewer parameters than the configuration needs",
                             location: "coefficients.bin", expected: "\(position + n) or more parameters", found: "\(count)")
        }
        let storage = TensorStorage(byteCount: n * dtype.size)
        let result = try Tensor(shape: shape, dtype: dtype, storage: storage)
        var destinationStrides = [Int](repeating: 0, count: shape.count)
        for (i, s) in StridedCopy.rowMajorStrides(shape).enumerated() { destinationStrides[perm[i]] = s }
        let size = dtype.size
        switch source {
        case .plan:
            placements.append(Placement(start: position, sourceShape: sourceShape, destinationStrides: destinationStrides,
                                        storage: storage))
        case .tensor(let flat):
            flat.withUnsafeBytes { raw in
                guard n > 0, let base = raw.baseAddress else { return }
                StridedCopy.copy(shape: sourceShape, elementSize: size, from: base + position * size,
                                 strides: StridedCopy.rowMajorStrides(sourceShape), to: storage.pointer,
                                 strides: destinationStrides)
            }
        case .stream(let reader, let swapBytes):
            // Slabs of whole rows along the outermost axis (one element per row for 1-D).
            guard n > 0 else { break }
            let inner = Array(sourceShape.dropFirst())
            let rowBytes = inner.reduce(1, *) * size
            // At least 32 rows when that stays small, so the transposition's tiles are whole.
            let rowsPerSlab = Self.rowsPerSlab(rowBytes: rowBytes)
            let innerStrides = StridedCopy.rowMajorStrides(inner)
            let sourceStrides = [inner.reduce(1, *)] + innerStrides
            let rowStride = destinationStrides.first ?? 0
            let strides = destinationStrides
            // Large tensors (VGG16's fc1: 411 MB) on several threads, each reading, checking and
            // spreading its own run of slabs.
            let large = n * size >= Self.parallelBytes
            let threads = large ? Self.readThreads : 1
            try reader.forEachPiece(n * size, pieceBytes: rowsPerSlab * rowBytes, threads: threads) { offset, bytes in
                guard let from = bytes.baseAddress else { return }
                let row = offset / rowBytes
                StridedCopy.copy(shape: [bytes.count / rowBytes] + inner, elementSize: size, from: from, strides: sourceStrides,
                                 to: storage.pointer + row * rowStride * size, strides: strides, swapBytes: swapBytes,
                                 streamingStores: large)
            }
        }
        position += n
        return result
    }
}
