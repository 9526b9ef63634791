import GraftCore

/// Byte-exact tensor rearrangements the layer families use to bring stored Keras weights
/// into the IR's canonical layouts: concatenating gate blocks, flipping convolution
/// kernels, summing split biases. Everything except `sum` moves bytes without touching
/// values, so a weight's bits survive the conversion.
enum KerasWeightLayout {
    /// The tensors joined along `axis` (all other dimensions and the dtype must agree).
    static func concatenate(_ tensors: [Tensor], axis: Int) throws -> Tensor {
        guard let first = tensors.first else {
            throw GraftError(.invalidArgument, "nothing to concatenate")
        }
        let rank = first.rank
        guard axis >= 0, axis < rank else {
            throw GraftError(.invalidArgument, "bad concatenation axis", expected: "0..<\(rank)", found: "\(axis)")
        }
        for t in tensors {
            var a = t.shape, b = first.shape
            guard t.dtype == first.dtype, a.count == rank else {
                throw GraftError(.shapeMismatch, "tensors to join disagree", expected: "\(first.dtype) rank \(rank)",
                                 found: "\(t.dtype) \(t.shape)")
            }
            a[axis] = 0; b[axis] = 0
            guard a == b else {
                throw GraftError(.shapeMismatch, "tensors to join disagree off the joined axis",
                                 expected: "\(first.shape) except axis \(axis)", found: "\(t.shape)")
            }
        }
        var shape = first.shape
        shape[axis] = tensors.reduce(0) { $0 + $1.shape[axis] }
        var result = Tensor(zeros: shape, dtype: first.dtype)
        // Rows = product of the dims before `axis`; each tensor contributes a contiguous chunk per row.
        let outer = first.shape[..<axis].reduce(1, *)
        let size = first.dtype.size
        let chunks = tensors.map { $0.shape[axis...].reduce(1, *) * size }
        let rowBytes = chunks.reduce(0, +)
        result.withUnsafeMutableBytes { dst in
            guard let dstBase = dst.baseAddress else { return }
            var offset = 0
            for (t, chunk) in zip(tensors, chunks) {
                t.withUnsafeBytes { src in
                    guard let srcBase = src.baseAddress else { return }
                    for row in 0..<outer {
                        (dstBase + row * rowBytes + offset).copyMemory(from: srcBase + row * chunk, byteCount: chunk)
                    }
                }
                offset += chunk
            }
        }
        return result
    }

    /// The tensor with the order of elements reversed along each of `axes` (a 180° rotation
    /// of a convolution kernel when `axes` are its spatial axes).
    static func reversed(_ tensor: Tensor, axes: [Int]) -> Tensor {
        let shape = tensor.shape
        let rank = shape.count
        let flip = (0..<rank).map { axes.contains($0) }
        var strides = [Int](repeating: 1, count: rank)
        var s = 1
        for i in stride(from: rank - 1, through: 0, by: -1) { strides[i] = s; s *= shape[i] }
        var result = Tensor(zeros: shape, dtype: tensor.dtype)
        let size = tensor.dtype.size
        let n = tensor.count
        guard n > 0 else { return result }
        tensor.withUnsafeBytes { src in
            result.withUnsafeMutableBytes { dst in
                guard let srcBase = src.baseAddress, let dstBase = dst.baseAddress else { return }
                var index = [Int](repeating: 0, count: rank)
                for flat in 0..<n {
                    var from = 0
                    for a in 0..<rank {
                        let i = flip[a] ? shape[a] - 1 - index[a] : index[a]
                        from += i * strides[a]
                    }
                    (dstBase + flat * size).copyMemory(from: srcBase + from * size, byteCount: size)
                    var a = rank - 1
                    while a >= 0 {
                        index[a] += 1
                        if index[a] < shape[a] { break }
                        index[a] = 0
                        a -= 1
                    }
                }
            }
        }
        return result
    }

    /// A contiguous slice `[start, start + length)` of a rank-1 tensor.
    static func slice(_ tensor: Tensor, start: Int, length: Int) throws -> Tensor {
        guard tensor.rank == 1, start >= 0, length >= 0, start + length <= tensor.count else {
            throw GraftError(.shapeMismatch, "cannot slice", expected: "a vector of at least \(start + length)",
                             found: "\(tensor.shape)")
        }
        let size = tensor.dtype.size
        return try tensor.withUnsafeBytes { raw in
            try Tensor(shape: [length], dtype: tensor.dtype,
                       bytes: UnsafeRawBufferPointer(rebasing: raw[(start * size)..<((start + length) * size)]))
        }
    }

    /// Element-wise sum of two floating-point tensors of one shape, in their dtype
    /// (computed in Double and rounded once, which equals the dtype's own addition).
    static func sum(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard a.shape == b.shape, a.dtype == b.dtype, a.dtype.isFloatingPoint else {
            throw GraftError(.shapeMismatch, "cannot add", expected: "\(a.dtype) \(a.shape)", found: "\(b.dtype) \(b.shape)")
        }
        let x = a.doubles(), y = b.doubles()
        let total = Tensor(shape: a.shape, doubles: zip(x, y).map { $0 + $1 })
        return total.converted(to: a.dtype)
    }
}
