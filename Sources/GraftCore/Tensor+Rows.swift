/// Slicing and joining tensors along their first (batch) axis.
extension Tensor {
    /// Rows `range` of the first axis, as a new tensor (a copy of those bytes).
    public func rows(_ range: Range<Int>) throws -> Tensor {
        guard rank > 0, range.lowerBound >= 0, range.upperBound <= shape[0] else {
            throw GraftError(.invalidArgument, "row range out of bounds", expected: "within 0..<\(rank > 0 ? shape[0] : 0)",
                             found: "\(range)")
        }
        let rowBytes = shape.dropFirst().reduce(1, *) * dtype.size
        return try withUnsafeBytes { raw in
            try Tensor(shape: [range.count] + shape.dropFirst(), dtype: dtype,
                       bytes: UnsafeRawBufferPointer(rebasing: raw[(range.lowerBound * rowBytes)..<(range.upperBound * rowBytes)]))
        }
    }

    /// The tensors joined along the first axis; all must agree in dtype and trailing shape.
    public static func concatenatingRows(_ parts: [Tensor]) throws -> Tensor {
        guard let first = parts.first else {
            throw GraftError(.invalidArgument, "nothing to concatenate")
        }
        var bytes: [UInt8] = []
        var count = 0
        for part in parts {
            guard part.rank == first.rank, part.rank > 0, part.dtype == first.dtype,
                  Array(part.shape.dropFirst()) == Array(first.shape.dropFirst()) else {
                throw GraftError(.shapeMismatch, "batches do not agree in shape or type",
                                 expected: "[_, \(first.shape.dropFirst().map(String.init).joined(separator: ", "))] \(first.dtype)",
                                 found: "\(part.shape) \(part.dtype)")
            }
            part.withUnsafeBytes { bytes.append(contentsOf: $0) }
            count += part.shape[0]
        }
        return try bytes.withUnsafeBytes { try Tensor(shape: [count] + first.shape.dropFirst(), dtype: first.dtype, bytes: $0) }
    }
}
