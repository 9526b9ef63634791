import CGEMM
import COpenBLAS
import Dispatch
import GraftCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A float32 weight matrix B [K, N] packed once into the column panels of the CGEMM
/// microkernels (32 columns each, k-major; see `Sources/CGEMM/include/cgemm.h`), for
/// C = A·B (+ bias) (+ beta·C) on many A. OpenBLAS packs B again on every call, which at
/// small batches costs about as much as the arithmetic; a layer's constant kernel packed
/// here is reused by every forward pass (the Interpreter caches one per node and parameter,
/// see `PackedWeightCache`).
///
/// Usage: `let w = try PackedWeights(kernel: dense.parameters["kernel"]!)` (a [in, out]
/// tensor), then `w.gemm(a: x, rows: batch, lda: in, bias: b, beta: 0, c: y, ldc: out)`.
public final class PackedWeights: @unchecked Sendable {
    /// K: rows of B (the inner dimension of the product).
    public let rows: Int
    /// N: columns of B (the output width).
    public let columns: Int
    /// The packed panels (read-only after init).
    let packed: UnsafeMutablePointer<Float>?

    /// Packs B read from `b`: element (k, n) at `b[k·ldb + n]`, or at `b[n·ldb + k]` when
    /// `transposed` (B given as its transpose, N × K row-major).
    public init(_ b: UnsafePointer<Float>, rows: Int, columns: Int, ldb: Int, transposed: Bool = false) {
        self.rows = max(rows, 0)
        self.columns = max(columns, 0)
        let count = graft_gemm_packed_count(self.rows, self.columns)
        if count == 0 {
            packed = nil
            return
        }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.size, alignment: 64)
        let p = raw.bindMemory(to: Float.self, capacity: count)
        graft_gemm_pack(b, ldb, transposed ? 1 : 0, self.rows, self.columns, p)
        packed = p
    }

    /// Packs a rank-2 kernel tensor [K, N] (Dense's [in, out] layout; converted to float32
    /// when it holds another dtype). Size-1 axes around it are accepted ([1, K, N]).
    public convenience init(kernel: Tensor) throws {
        let dims = kernel.shape.count > 2 ? kernel.shape.filter { $0 != 1 } : kernel.shape
        guard dims.count == 2 else {
            throw GraftError(.shapeMismatch, "a packed weight matrix must be rank 2", expected: "[K, N]", found: "\(kernel.shape)")
        }
        let (k, n) = (dims[0], dims[1])
        try self.init(kernel: kernel, rows: k, columns: n)
    }

    /// Packs the tensor's elements read as a row-major [rows, columns] matrix.
    convenience init(kernel: Tensor, rows: Int, columns: Int, firstColumn: Int = 0, width: Int? = nil) throws {
        guard kernel.count == rows * columns, firstColumn >= 0, firstColumn + (width ?? columns - firstColumn) <= columns else {
            throw GraftError(.shapeMismatch, "weight matrix does not have the expected size", expected: "[\(rows), \(columns)]",
                             found: "\(kernel.shape)")
        }
        let n = width ?? columns - firstColumn
        let source = kernel.dtype == .float32 ? kernel : kernel.converted(to: .float32)
        self.init(empty: rows, columns: n)
        guard let packed, rows > 0, n > 0 else { return }
        source.withUnsafeBytes { raw in
            let b = raw.bindMemory(to: Float.self)
            if let base = b.baseAddress { graft_gemm_pack(base + firstColumn, columns, 0, rows, n, packed) }
        }
    }

    private init(empty rows: Int, columns: Int) {
        self.rows = max(rows, 0)
        self.columns = max(columns, 0)
        let count = graft_gemm_packed_count(self.rows, self.columns)
        packed = count == 0 ? nil
            : UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.size, alignment: 64)
                .bindMemory(to: Float.self, capacity: count)
    }

    deinit { packed.map { UnsafeMutableRawPointer($0).deallocate() } }

    /// Bytes held by the packed copy.
    public var byteCount: Int { graft_gemm_packed_count(rows, columns) * MemoryLayout<Float>.size }

    /// C = A·B + bias + beta·C, then max(0, ·) when `relu` (fused into the GEMM's last store;
    /// NaN stays NaN). A is [m, K] with leading dimension `lda`, C [m, N] with `ldc`,
    /// bias [N] or nil. beta 0 ignores C's old contents. Runs on `threads` threads (default:
    /// the runtime's thread count, `Runtime.threadCount`), splitting the rows (from 96 per thread on) or else
    /// the column panels (the rows when there are too few panels), when the product is large enough to gain.
    public func gemm(a: UnsafePointer<Float>, rows m: Int, lda: Int, bias: UnsafePointer<Float>?, beta: Float,
                     relu: Bool = false, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int? = nil) {
        gemm(a: a, rows: m, lda: lda, bias: bias, beta: beta, relu: relu, c: c, ldc: ldc, threads: threads,
             variant: PackedGEMM.forcedVariant)
    }

    /// The same with a chosen kernel variant (`PackedGEMM.Variant`), for tests.
    func gemm(a: UnsafePointer<Float>, rows m: Int, lda: Int, bias: UnsafePointer<Float>?, beta: Float,
              relu: Bool = false, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int?, variant: PackedGEMM.Variant) {
        guard m > 0, columns > 0 else { return }
        let panels = (columns + 31) / 32
        let flops = 2 * m * rows * columns
        let wanted = max(threads ?? Runtime.threadCount, 1)
        // Below ~1 MFLOP a thread hand-off costs more than it saves.
        let parts = flops < 1 << 20 ? 1 : min(wanted, max(panels, m))
        let v = Int32(variant.rawValue)
        let r: Int32 = relu ? 1 : 0
        if parts <= 1 {
            graft_gemm_packed(v, m, columns, rows, a, lda, packed, bias, beta, r, c, ldc, 0, panels)
            return
        }
        let o = SharedOperands(a: a, packed: packed, bias: bias, c: c)
        let (k, n) = (rows, columns)
        // Many rows (a recurrent layer's input projection over batch·time rows): row ranges,
        // so that each thread packs only its rows of A (with panel ranges every thread packs
        // all of A). Few rows: panel ranges. Either way each element's arithmetic is the same.
        if m < parts * 96 && (panels >= 2 * parts || panels >= m) {
            // Contiguous panel ranges per thread.
            ParallelWork.parts(parts) { i in
                let begin = panels * i / parts, end = panels * (i + 1) / parts
                graft_gemm_packed(v, m, n, k, o.a, lda, o.packed, o.bias, beta, r, o.c, ldc, begin, end)
            }
        } else {
            // Contiguous row ranges.
            ParallelWork.parts(parts) { i in
                let begin = m * i / parts, end = m * (i + 1) / parts
                guard end > begin else { return }
                graft_gemm_packed(v, end - begin, n, k, o.a + begin * lda, lda, o.packed, o.bias, beta, r,
                                  o.c + begin * ldc, ldc, 0, panels)
            }
        }
    }
}

/// The pointers of one GEMM handed to its worker threads: each thread writes a disjoint
/// part of C and only reads the rest.
struct SharedOperands: @unchecked Sendable {
    var a: UnsafePointer<Float>
    var packed: UnsafeMutablePointer<Float>?
    var bias: UnsafePointer<Float>?
    var c: UnsafeMutablePointer<Float>
}

/// Kernel selection of the packed GEMM.
public enum PackedGEMM {
    /// The microkernel families; `auto` is the best the CPU runs.
    public enum Variant: Int, Sendable, CaseIterable {
        case auto = -1
        case portable = 0
        case avx2 = 2
        case avx512 = 3

        /// Whether this CPU runs the variant (`auto` always).
        public var isSupported: Bool { self == .auto || graft_gemm_variant_supported(Int32(rawValue)) != 0 }
    }

    /// The variant every packed GEMM uses: `GRAFT_GEMM_VARIANT` (portable, avx2, avx512) when
    /// set, else `auto`. An unsupported choice falls back to the best supported.
    static let forcedVariant: Variant = {
        guard let raw = getenv("GRAFT_GEMM_VARIANT") else { return .auto }
        switch String(cString: raw).lowercased() {
        case "portable", "scalar": return .portable
        case "avx2": return .avx2
        case "avx512": return .avx512
        default: return .auto
        }
    }()

    /// False when `GRAFT_PACKED_GEMM=0`: every product then runs on OpenBLAS as before the
    /// packed GEMM existed (for comparisons).
    static let isEnabled: Bool = {
        guard let raw = getenv("GRAFT_PACKED_GEMM") else { return true }
        return String(cString: raw) != "0"
    }()

    /// False when `GRAFT_CONV_PACKED=0` (or the packed GEMM is off): standard convolutions
    /// then run as im2col blocks + OpenBLAS (`ConvolutionOps.standard`), for comparisons.
    static let convolutionsEnabled: Bool = {
        guard isEnabled else { return false }
        guard let raw = getenv("GRAFT_CONV_PACKED") else { return true }
        return String(cString: raw) != "0"
    }()

    /// The variant `auto` resolves to on this CPU.
    public static var bestVariant: Variant { Variant(rawValue: Int(graft_gemm_best_variant())) ?? .portable }

    /// The largest weight matrix packed (bytes): larger ones stay on OpenBLAS, so a model's
    /// memory does not double for its biggest layers (VGG16's first Dense is 411 MB).
    static let packLimitBytes = 128 << 20
}

/// Packed weight matrices of one Interpreter, by node and parameter. Entries remember the
/// tensor storage they were packed from and are packed again when a lookup brings another
/// (a graph whose tensors changed); the graph an Interpreter holds is immutable, so in
/// practice each matrix is packed once, on first use.
final class PackedWeightCache: @unchecked Sendable {
    /// What an entry is: a packed matrix (`weights`: its name, shape and column slice) or an
    /// object made by `cachedObject` (its name alone, the sizes 0).
    private struct Key: Hashable {
        let name: String
        let isObject: Bool
        let rows, columns, firstColumn, width: Int
    }

    /// Packed forms by key, each with the tensor storage it was made from.
    private var entries: [Key: (source: TensorStorage, value: Any)] = [:]
    private var mutex = pthread_mutex_t()

    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }

    /// The packed form of `tensor` read as [rows, columns] row-major, or only its columns
    /// firstColumn..<firstColumn+width (`key` must then name that slice).
    func weights(_ key: String, _ tensor: Tensor, rows: Int, columns: Int, firstColumn: Int = 0,
                 width: Int? = nil) throws -> PackedWeights {
        let key = Key(name: key, isObject: false, rows: rows, columns: columns, firstColumn: firstColumn,
                      width: width ?? columns - firstColumn)
        return try entry(key, tensor) {
            try PackedWeights(kernel: tensor, rows: rows, columns: columns, firstColumn: firstColumn, width: width)
        }
    }

    /// The object `make` builds from `tensor` (the fused LSTM step's packing), made once per
    /// key and source storage (nil results are remembered too).
    func cachedObject<O: AnyObject>(_ key: String, _ tensor: Tensor, _ make: () throws -> O?) rethrows -> O? {
        try entry(Key(name: key, isObject: true, rows: 0, columns: 0, firstColumn: 0, width: 0), tensor, make)
    }

    /// The value stored under `key` when it was made from `tensor`'s storage, else `make()`'s,
    /// stored.
    private func entry<V>(_ key: Key, _ tensor: Tensor, _ make: () throws -> V) rethrows -> V {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if let e = entries[key], e.source === tensor.storage, let value = e.value as? V { return value }
        let value = try make()
        entries[key] = (tensor.storage, value)
        return value
    }

    /// Whether a [rows, columns] float matrix is small enough to pack.
    static func shouldPack(rows: Int, columns: Int) -> Bool {
        rows * columns * MemoryLayout<Float>.size <= PackedGEMM.packLimitBytes
    }
}
