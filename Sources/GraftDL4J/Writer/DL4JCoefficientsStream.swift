import GraftCore

/// `coefficients.bin` produced in order, a slab at a time: the Nd4j headers of the [1, N]
/// vector (`MIXED_DATA_TYPES`, c order), then each parameter tensor's elements gathered
/// into DL4J's flat layout and byte-swapped to big-endian in one pass. Nothing the size of
/// the vector is ever built (except by `allBytes`).
final class DL4JCoefficientsStream {
    /// A tensor whose elements fill the next flat range: the range, viewed as the row-major
    /// array `sourceShape`, takes element (i₀…) from the tensor's element Σ iₖ·`strides[k]`.
    struct Piece {
        var tensor: Tensor
        var sourceShape: [Int]
        var strides: [Int]
    }

    let size: Int
    private let header: [UInt8]
    private let pieces: [Piece]
    private let elementSize: Int
    private var headerSent = 0
    private var piece = 0
    private var row = 0
    /// Bytes generated but not handed out yet.
    private var slab: UnsafeMutableRawPointer?
    private var slabCapacity = 0
    private var slabFill = 0
    private var slabSent = 0

    init(count: Int, dtype: DType, pieces: [Piece]) throws {
        header = try Nd4jArray.mixedDataTypesHeader(shape: [1, count], dtype: dtype)
        elementSize = dtype.size
        self.pieces = pieces.filter { $0.sourceShape.reduce(1, *) > 0 }
        let covered = pieces.reduce(0) { $0 + $1.sourceShape.reduce(1, *) }
        guard covered == count else {
            throw GraftError(.shapeMismatch, "the graph's parameters do not cover the written layers' parameter vector",
                             location: "coefficients.bin", expected: "\(count) parameters", found: "\(covered)")
        }
        size = header.count + count * elementSize
    }

    deinit { slab?.deallocate() }

    /// Fills the start of `buffer` with the next bytes; 0 at the end.
    func produce(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let out = buffer.baseAddress, buffer.count > 0 else { return 0 }
        if headerSent < header.count {
            let n = min(buffer.count, header.count - headerSent)
            header.withUnsafeBytes { out.copyMemory(from: $0.baseAddress! + headerSent, byteCount: n) }
            headerSent += n
            return n
        }
        if slabSent == slabFill {
            guard fillSlab() else { return 0 }
        }
        guard let slab else { return 0 }
        let n = min(buffer.count, slabFill - slabSent)
        out.copyMemory(from: slab + slabSent, byteCount: n)
        slabSent += n
        return n
    }

    /// Generates the next rows of the current piece (about 2 MiB) into the slab buffer.
    private func fillSlab() -> Bool {
        guard piece < pieces.count else { return false }
        let p = pieces[piece]
        let rows = p.sourceShape.first ?? 1
        let inner = Array(p.sourceShape.dropFirst())
        let rowElements = inner.reduce(1, *)
        let rowBytes = rowElements * elementSize
        var rowsPerSlab = max(1, DL4JFlatParameters.slabBytes / max(rowBytes, 1))
        if rowsPerSlab < 32 && 32 * rowBytes <= 4 * DL4JFlatParameters.slabBytes { rowsPerSlab = 32 }
        let take = min(rowsPerSlab, rows - row)
        let bytes = take * rowBytes
        if slabCapacity < bytes {
            slab?.deallocate()
            slab = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
            slabCapacity = bytes
        }
        guard let slab else { return false }
        let rowStride = p.strides.first ?? 0
        p.tensor.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            StridedCopy.copy(shape: [take] + inner, elementSize: elementSize, from: base + row * rowStride * elementSize,
                             strides: p.strides.isEmpty ? [0] : p.strides, to: slab,
                             strides: [rowElements] + StridedCopy.rowMajorStrides(inner), swapBytes: hostIsLittleEndian)
        }
        slabFill = bytes
        slabSent = 0
        row += take
        if row == rows {
            piece += 1
            row = 0
        }
        return true
    }

    /// The whole content in memory (for `DL4JWriter.encode`).
    func allBytes() throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = try bytes.withUnsafeMutableBytes { try produce(UnsafeMutableRawBufferPointer(rebasing: $0[done...])) }
            guard n > 0 else {
                throw GraftError(.io, "coefficients.bin ended early", expected: "\(size) bytes", found: "\(done) bytes")
            }
            done += n
        }
        return bytes
    }
}
