import GraftCore

/// `coefficients.bin` as independent parts for the zip writer: the Nd4j headers of the [1, N]
/// vector (`MIXED_DATA_TYPES`, c order), then each parameter tensor's elements gathered into
/// DL4J's flat layout and byte-swapped to big-endian in one pass (`StridedCopy`), a few MiB
/// at a time. Parts are encoded straight into the writer's buffers, on several threads;
/// nothing the size of the vector is ever built (except by `allBytes`).
final class DL4JCoefficientsStream {
    /// A tensor whose elements fill the next flat range: the range, viewed as the row-major
    /// array `sourceShape`, takes element (i₀…) from the tensor's element Σ iₖ·`strides[k]`.
    struct Piece {
        var tensor: Tensor
        var sourceShape: [Int]
        var strides: [Int]
    }

    /// One part of the entry after the header: elements of `piece`'s tensor, viewed as the
    /// row-major array `shape` (consecutive in the flat vector), gathered from the tensor
    /// element `start` + Σ iₖ·`strides[k]`.
    struct Part: Sendable {
        var tensor: Tensor
        var start: Int
        var shape: [Int]
        var strides: [Int]
    }

    /// Bytes per part: small enough to stay in the cache from the gather through the CRC to
    /// the write, large enough for long writes (the reader's slab size).
    static let partBytes = DL4JFlatParameters.slabBytes

    let size: Int
    private let header: [UInt8]
    private let elementSize: Int
    private let parts: [Part]

    init(count: Int, dtype: DType, pieces: [Piece]) throws {
        header = try Nd4jArray.mixedDataTypesHeader(shape: [1, count], dtype: dtype)
        elementSize = dtype.size
        let covered = pieces.reduce(0) { $0 + $1.sourceShape.reduce(1, *) }
        guard covered == count else {
            throw GraftError(.shapeMismatch, "the graph's parameters do not cover the written layers' parameter vector",
                             location: "coefficients.bin", expected: "\(count) parameters", found: "\(covered)")
        }
        var parts: [Part] = []
        for p in pieces where p.sourceShape.reduce(1, *) > 0 {
            // A scalar is a 1-element row.
            let scalar = p.sourceShape.isEmpty
            Self.split(Part(tensor: p.tensor, start: 0, shape: scalar ? [1] : p.sourceShape, strides: scalar ? [0] : p.strides),
                       elementSize: dtype.size, into: &parts)
        }
        self.parts = parts
        size = header.count + count * elementSize
    }

    /// Cuts `part` into parts of about `partBytes` along its outer axes: runs of whole rows
    /// (at least 32 when that stays within 4 × `partBytes`, so the transposition's tiles are
    /// whole), a row larger than `partBytes` cut along its own rows.
    static func split(_ part: Part, elementSize: Int, into parts: inout [Part]) {
        let elements = part.shape.reduce(1, *)
        guard elements * elementSize > partBytes, let rows = part.shape.first else {
            parts.append(part)
            return
        }
        let inner = Array(part.shape.dropFirst())
        let rowBytes = inner.reduce(1, *) * elementSize
        if rows == 1 || rowBytes > partBytes {
            for r in 0..<rows {
                let row = Part(tensor: part.tensor, start: part.start + r * part.strides[0], shape: inner.isEmpty ? [1] : inner,
                               strides: inner.isEmpty ? [0] : Array(part.strides.dropFirst()))
                split(row, elementSize: elementSize, into: &parts)
            }
            return
        }
        let rowsPerPart = DL4JFlatParameters.rowsPerSlab(rowBytes: rowBytes)
        var r = 0
        while r < rows {
            let take = min(rowsPerPart, rows - r)
            parts.append(Part(tensor: part.tensor, start: part.start + r * part.strides[0], shape: [take] + inner,
                              strides: part.strides))
            r += take
        }
    }

    /// The entry for the zip writer: the header, then every part.
    var zipParts: ZipParts {
        let header = header, parts = parts, elementSize = elementSize
        let sizes = [header.count] + parts.map { $0.shape.reduce(1, *) * elementSize }
        return ZipParts(sizes: sizes) { k, buffer in
            guard k > 0 else {
                header.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                return
            }
            Self.encode(parts[k - 1], elementSize: elementSize, into: buffer)
        }
    }

    /// A part's elements, big-endian, row-major at `buffer`.
    static func encode(_ part: Part, elementSize: Int, into buffer: UnsafeMutableRawPointer) {
        part.tensor.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            StridedCopy.copy(shape: part.shape, elementSize: elementSize, from: base + part.start * elementSize,
                             strides: part.strides, to: buffer, strides: StridedCopy.rowMajorStrides(part.shape),
                             swapBytes: hostIsLittleEndian)
        }
    }

    /// The whole content in memory (for `DL4JWriter.encode`).
    func allBytes() throws -> [UInt8] {
        let entry = zipParts
        var bytes = [UInt8](repeating: 0, count: size)
        try bytes.withUnsafeMutableBytes { out in
            var offset = 0
            for (k, count) in entry.sizes.enumerated() {
                try entry.fill(k, out.baseAddress! + offset)
                offset += count
            }
        }
        return bytes
    }
}
