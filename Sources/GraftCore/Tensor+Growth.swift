import CMemory

/// Growing a tensor in place: the cheap half of copy-on-write surgery. When a tensor is the
/// only holder of its bytes, making it larger need not copy them: an anonymous mapping (tensors
/// of `TensorStorage.mappingThreshold` bytes and more) is grown with mremap, which moves page
/// table entries rather than bytes; smaller heap blocks are copied into a new block.
extension TensorStorage {
    /// Storage of `newByteCount` (>= `byteCount`) bytes starting with these bytes, the rest
    /// zero. A mapping is grown in place (this storage gives its bytes up to the result and must
    /// not be used again); otherwise the bytes are copied into fresh storage and this one is
    /// left as it is.
    func grown(to newByteCount: Int) -> TensorStorage {
        precondition(newByteCount >= byteCount, "storage can only grow")
        if mappedLength > 0, newByteCount >= TensorStorage.mappingThreshold,
           let moved = graft_mremap_grow(pointer, mappedLength, newByteCount) {
            mappedLength = -1
            return TensorStorage(adoptingMapping: moved, byteCount: newByteCount)
        }
        let fresh = TensorStorage(byteCount: newByteCount)
        if byteCount > 0 { fresh.pointer.copyMemory(from: pointer, byteCount: byteCount) }
        return fresh
    }
}

extension Tensor {
    /// True when no other tensor shares this tensor's bytes, so writing them changes nothing
    /// anyone else can see.
    public mutating func holdsUniqueStorage() -> Bool {
        isKnownUniquelyReferenced(&storage)
    }

    /// Gives the tensor `newShape` (of at least as many bytes, same dtype) without copying its
    /// bytes when it holds them alone: its old bytes become the first `byteCount` bytes of the
    /// new shape's row-major buffer and the added bytes are zero. Rearranging them is the
    /// caller's job. Returns false and changes nothing when the bytes are shared (then copy).
    public mutating func growInPlace(to newShape: [Int]) throws -> Bool {
        let needed = try Tensor.checkedByteCount(shape: newShape, dtype: dtype)
        guard needed >= byteCount else {
            throw GraftError(.invalidArgument, "a tensor can only grow in place", expected: "at least \(byteCount) bytes",
                             found: "\(needed) bytes for \(newShape)")
        }
        guard isKnownUniquelyReferenced(&storage) else { return false }
        if needed != storage.byteCount { storage = storage.grown(to: needed) }
        shape = newShape
        return true
    }
}
