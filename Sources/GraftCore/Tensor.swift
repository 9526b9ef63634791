#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Page-aligned, owned byte storage behind a `Tensor`. Shared between tensor copies until
/// one of them writes (copy-on-write, see `Tensor.withUnsafeMutableBytes`).
public final class TensorStorage: @unchecked Sendable {
    public let byteCount: Int
    public let pointer: UnsafeMutableRawPointer
    /// The mapping's length when the bytes are an anonymous memory mapping (large tensors),
    /// 0 when they come from the C allocator or a reusable block, -1 once the mapping has been
    /// handed to another storage (grown in place, Tensor+Growth.swift): then nothing is
    /// released here.
    var mappedLength: Int
    /// The length of the `ReusableBlocks` block behind this storage (given back to it on
    /// release; never grown in place, its bytes past `byteCount` are not zero), 0 for none.
    private var reusableLength = 0

    /// Storage at least this large is its own anonymous mapping rather than a malloc block:
    /// the kernel hands it out already zeroed (no extra pass over the bytes before a file read
    /// fills them) and takes it back on release. Through the allocator, freeing a large block
    /// raises glibc's dynamic mmap threshold, after which later multi-megabyte tensors come from
    /// the heap and fragment it (measured: +50 MB of resident heap per VGG16 read).
    public static let mappingThreshold = 256 * 1024
    /// Mappings at least this large ask for transparent huge pages (Linux).
    public static let hugePageThreshold = 4 * 1024 * 1024

    /// Allocates `byteCount` zeroed bytes aligned to a 4096-byte page, so that file reads
    /// into it run at page-cache speed.
    public init(byteCount: Int) {
        self.byteCount = byteCount
        if byteCount >= TensorStorage.mappingThreshold,
           let mapped = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
           mapped != MAP_FAILED {
            #if os(Linux)
            // Transparent huge pages where the system offers them on request: one fault per
            // 2 MiB instead of per 4 KiB while a read fills the tensor (as NumPy does).
            if byteCount >= TensorStorage.hugePageThreshold { _ = madvise(mapped, byteCount, MADV_HUGEPAGE) }
            #endif
            pointer = mapped
            mappedLength = byteCount
            return
        }
        pointer = TensorStorage.heapBlock(byteCount, alignment: 4096)
        mappedLength = 0
    }

    /// Allocates `byteCount` bytes, 64-byte aligned and not initialised, for short-lived tensors
    /// made and dropped over and over that a kernel then writes in full, such as a forward
    /// pass' intermediate values: from the C allocator, whose freed blocks it hands out again,
    /// or from `ReusableBlocks` from `ReusableBlocks.minimumBytes` on (blocks the allocator
    /// would map afresh, pages faulted in and zero-filled by the kernel, on every call).
    public init(uninitializedHeapByteCount byteCount: Int) {
        self.byteCount = byteCount
        mappedLength = 0
        if byteCount >= ReusableBlocks.minimumBytes, let block = ReusableBlocks.take(byteCount) {
            pointer = block.pointer
            reusableLength = block.length
            return
        }
        pointer = TensorStorage.heapBlock(byteCount, alignment: 64, zeroed: false)
    }

    /// Unmaps the blocks kept for reuse by released forward-pass values
    /// (`init(uninitializedHeapByteCount:)`), e.g. after the last forward pass of a large model.
    public static func releaseReusableBlocks() {
        ReusableBlocks.releaseAll()
    }

    /// `byteCount` (at least 1) bytes from the C allocator at `alignment`, zeroed unless
    /// `zeroed` is false, released with `free`. posix_memalign only fails when memory is
    /// exhausted; then the Swift allocator (malloc underneath) is tried.
    private static func heapBlock(_ byteCount: Int, alignment: Int, zeroed: Bool = true) -> UnsafeMutableRawPointer {
        var raw: UnsafeMutableRawPointer? = nil
        let size = max(byteCount, 1)
        if posix_memalign(&raw, alignment, size) != 0 || raw == nil {
            raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        }
        let pointer = raw.unsafelyUnwrapped
        if zeroed { memset(pointer, 0, size) }
        return pointer
    }

    /// Storage taking over an anonymous mapping of exactly `byteCount` bytes (Tensor+Growth.swift).
    init(adoptingMapping pointer: UnsafeMutableRawPointer, byteCount: Int) {
        self.byteCount = byteCount
        self.pointer = pointer
        mappedLength = byteCount
    }

    deinit {
        if reusableLength > 0 {
            ReusableBlocks.give(pointer, length: reusableLength)
        } else if mappedLength > 0 {
            munmap(pointer, mappedLength)
        } else if mappedLength == 0 {
            free(pointer)
        }
    }

    func copy() -> TensorStorage {
        let fresh = TensorStorage(byteCount: byteCount)
        fresh.pointer.copyMemory(from: pointer, byteCount: byteCount)
        return fresh
    }
}

/// A dense n-dimensional array: a dtype, a shape and contiguous row-major (C order) bytes
/// in the machine's byte order. Tensors are values: copying one shares its bytes until a
/// copy is written to. The bytes a reader stores are the bytes a writer gets back.
public struct Tensor: Sendable, CustomStringConvertible {
    public private(set) var dtype: DType
    public internal(set) var shape: [Int]
    public internal(set) var storage: TensorStorage

    /// Number of elements (product of the shape; 1 for a scalar).
    public var count: Int { shape.reduce(1, *) }
    public var byteCount: Int { count * dtype.size }
    public var rank: Int { shape.count }

    /// A zero-filled tensor.
    public init(zeros shape: [Int], dtype: DType = .float32) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.dtype = dtype
        self.shape = shape
        self.storage = TensorStorage(byteCount: shape.reduce(1, *) * dtype.size)
    }

    /// A tensor over existing storage (e.g. filled by a reader). The storage must hold
    /// exactly `shape.product * dtype.size` bytes.
    public init(shape: [Int], dtype: DType, storage: TensorStorage) throws {
        let needed = try Tensor.checkedByteCount(shape: shape, dtype: dtype)
        guard storage.byteCount == needed else {
            throw GraftError(.shapeMismatch, "tensor storage size does not match its shape",
                             expected: "\(needed) bytes for \(shape) \(dtype)", found: "\(storage.byteCount) bytes")
        }
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
    }

    /// A tensor holding a copy of `bytes`, which must be exactly the shape's size.
    public init(shape: [Int], dtype: DType, bytes: UnsafeRawBufferPointer) throws {
        let needed = try Tensor.checkedByteCount(shape: shape, dtype: dtype)
        guard bytes.count == needed else {
            throw GraftError(.shapeMismatch, "byte count does not match shape",
                             expected: "\(needed) bytes for \(shape) \(dtype)", found: "\(bytes.count) bytes")
        }
        let storage = TensorStorage(byteCount: needed)
        if needed > 0, let base = bytes.baseAddress { storage.pointer.copyMemory(from: base, byteCount: needed) }
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
    }

    /// A float32 tensor from values in row-major order.
    public init(shape: [Int], floats: [Float]) {
        precondition(floats.count == shape.reduce(1, *), "\(floats.count) values for shape \(shape)")
        self.init(zeros: shape, dtype: .float32)
        floats.withUnsafeBytes { storage.pointer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    /// A float64 tensor from values in row-major order.
    public init(shape: [Int], doubles: [Double]) {
        precondition(doubles.count == shape.reduce(1, *), "\(doubles.count) values for shape \(shape)")
        self.init(zeros: shape, dtype: .float64)
        doubles.withUnsafeBytes { storage.pointer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    /// The byte size of a shape, refusing negative dimensions and overflow. Readers call this
    /// before allocating anything a file asked for.
    public static func checkedByteCount(shape: [Int], dtype: DType) throws -> Int {
        var total = dtype.size
        for d in shape {
            guard d >= 0 else {
                throw GraftError(.malformed, "negative dimension", expected: "dimensions >= 0", found: "\(shape)")
            }
            let (product, overflow) = total.multipliedReportingOverflow(by: d)
            guard !overflow else {
                throw GraftError(.malformed, "tensor size overflows", found: "\(shape) \(dtype)")
            }
            total = product
        }
        return total
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage.pointer, count: byteCount))
    }

    /// Mutable access; copies the bytes first if another tensor shares them.
    public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return try body(UnsafeMutableRawBufferPointer(start: storage.pointer, count: byteCount))
    }

    /// True when both tensors hold the same dtype, shape and bytes, bit for bit.
    public func bitwiseEqual(_ other: Tensor) -> Bool {
        guard dtype == other.dtype, shape == other.shape else { return false }
        if storage === other.storage { return true }
        return memcmp(storage.pointer, other.storage.pointer, byteCount) == 0
    }

    /// The same bytes viewed with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        // The element count of newShape, refusing negative sizes and overflow (uint8: 1 byte each).
        guard let newCount = try? Tensor.checkedByteCount(shape: newShape, dtype: .uint8), newCount == count else {
            throw GraftError(.shapeMismatch, "cannot reshape", expected: "\(count) elements",
                             found: "shape \(newShape)")
        }
        var t = self
        t.shape = newShape
        return t
    }

    public var description: String { "Tensor(\(dtype), \(shape))" }
}

extension Tensor {
    /// All elements converted to Float, row-major.
    public func floats() -> [Float] {
        let n = count
        return withUnsafeBytes { raw -> [Float] in
            switch dtype {
            case .float32: return Array(raw.bindMemory(to: Float.self).prefix(n))
            case .float64: return raw.bindMemory(to: Double.self).prefix(n).map { Float($0) }
            case .float16: return raw.bindMemory(to: UInt16.self).prefix(n).map { Float(Float16(bitPattern: $0)) }
            case .int8: return raw.bindMemory(to: Int8.self).prefix(n).map { Float($0) }
            case .uint8, .bool: return raw.bindMemory(to: UInt8.self).prefix(n).map { Float($0) }
            case .int16: return raw.bindMemory(to: Int16.self).prefix(n).map { Float($0) }
            case .int32: return raw.bindMemory(to: Int32.self).prefix(n).map { Float($0) }
            case .int64: return raw.bindMemory(to: Int64.self).prefix(n).map { Float($0) }
            }
        }
    }

    /// All elements converted to Double, row-major.
    public func doubles() -> [Double] {
        let n = count
        return withUnsafeBytes { raw -> [Double] in
            switch dtype {
            case .float64: return Array(raw.bindMemory(to: Double.self).prefix(n))
            case .float32: return raw.bindMemory(to: Float.self).prefix(n).map { Double($0) }
            case .float16: return raw.bindMemory(to: UInt16.self).prefix(n).map { Double(Float(Float16(bitPattern: $0))) }
            case .int8: return raw.bindMemory(to: Int8.self).prefix(n).map { Double($0) }
            case .uint8, .bool: return raw.bindMemory(to: UInt8.self).prefix(n).map { Double($0) }
            case .int16: return raw.bindMemory(to: Int16.self).prefix(n).map { Double($0) }
            case .int32: return raw.bindMemory(to: Int32.self).prefix(n).map { Double($0) }
            case .int64: return raw.bindMemory(to: Int64.self).prefix(n).map { Double($0) }
            }
        }
    }

    /// This tensor converted to another floating-point dtype (float16/32/64).
    public func converted(to target: DType) -> Tensor {
        if target == dtype { return self }
        switch target {
        case .float32: return Tensor(shape: shape, floats: floats())
        case .float64: return Tensor(shape: shape, doubles: doubles())
        case .float16:
            var t = Tensor(zeros: shape, dtype: .float16)
            let values = floats()
            t.withUnsafeMutableBytes { raw in
                let out = raw.bindMemory(to: UInt16.self)
                for i in values.indices { out[i] = Float16(values[i]).bitPattern }
            }
            return t
        case .int32, .int64, .int8, .uint8, .int16, .bool:
            var t = Tensor(zeros: shape, dtype: target)
            let values = doubles()
            t.withUnsafeMutableBytes { raw in
                for i in values.indices {
                    let v = values[i]
                    switch target {
                    case .int32: raw.storeBytes(of: Int32(clamping: Int64(v)), toByteOffset: i * 4, as: Int32.self)
                    case .int64: raw.storeBytes(of: Int64(v), toByteOffset: i * 8, as: Int64.self)
                    case .int16: raw.storeBytes(of: Int16(clamping: Int64(v)), toByteOffset: i * 2, as: Int16.self)
                    case .int8: raw.storeBytes(of: Int8(clamping: Int64(v)), toByteOffset: i, as: Int8.self)
                    default: raw.storeBytes(of: UInt8(clamping: Int64(v)), toByteOffset: i, as: UInt8.self)
                    }
                }
            }
            return t
        }
    }

    /// Axes permuted: result axis i is source axis `axes[i]` (like numpy.transpose).
    public func transposed(_ axes: [Int]) throws -> Tensor {
        guard axes.count == rank, Set(axes) == Set(0..<rank) else {
            throw GraftError(.invalidArgument, "bad permutation", expected: "a permutation of 0..<\(rank)", found: "\(axes)")
        }
        if axes == Array(0..<rank) { return self }
        let newShape = axes.map { shape[$0] }
        var srcStrides = [Int](repeating: 1, count: rank)
        var s = 1
        for i in stride(from: rank - 1, through: 0, by: -1) { srcStrides[i] = s; s *= shape[i] }
        let permutedStrides = axes.map { srcStrides[$0] }
        var result = Tensor(zeros: newShape, dtype: dtype)
        // One pass, cache-blocked when the innermost axis moves (StridedCopy).
        withUnsafeBytes { src in
            result.withUnsafeMutableBytes { dst in
                guard let from = src.baseAddress, let to = dst.baseAddress else { return }
                StridedCopy.copy(shape: newShape, elementSize: dtype.size, from: from, strides: permutedStrides,
                                 to: to, strides: StridedCopy.rowMajorStrides(newShape))
            }
        }
        return result
    }
}
