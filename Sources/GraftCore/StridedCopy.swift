import CBytes

/// Copies the elements of an n-dimensional index space between two strided layouts in one
/// pass, optionally reversing each element's bytes (big-endian ↔ host). This is the one
/// layout-conversion loop behind `Tensor.transposed`, the DL4J parameter decode (byte swap
/// fused with the transposition) and the DL4J encode.
///
/// Element `(i₀, …, iₙ₋₁)` goes from `source + Σ iₖ·sourceStrides[k]` to
/// `destination + Σ iₖ·destinationStrides[k]` (strides in elements). Axes that are contiguous
/// on both sides are merged first; when the contiguous axes of the two sides differ, the copy
/// runs over 32 × 32 tiles of those two axes (a cache-blocked transposition; for 4-byte
/// elements `graft_transpose32`, which moves 8 × 8 blocks through SIMD registers), otherwise
/// over contiguous runs.
///
/// `streamingStores` asks for non-temporal stores in that 4-byte transposition
/// (`graft_transpose32_streaming`): for a destination far larger than the cache that nobody
/// reads right after (a large tensor being decoded), whole destination lines go straight to
/// memory without first being read from it. Leave it off when the destination is read next
/// (a buffer about to be checksummed and written, a small tensor).
public enum StridedCopy {
    public static func copy(shape: [Int], elementSize: Int,
                            from source: UnsafeRawPointer, strides sourceStrides: [Int],
                            to destination: UnsafeMutableRawPointer, strides destinationStrides: [Int],
                            swapBytes: Bool = false, streamingStores: Bool = false) {
        precondition(shape.count == sourceStrides.count && shape.count == destinationStrides.count)
        if shape.contains(0) { return }
        var axes = simplified(shape: shape, source: sourceStrides, destination: destinationStrides)
        if axes.isEmpty { axes = [Axis(size: 1, source: 1, destination: 1)] }
        switch elementSize {
        case 1: run(UInt8.self, axes, source, destination, swapBytes: false)
        case 2: run(UInt16.self, axes, source, destination, swapBytes: swapBytes)
        case 4: run(UInt32.self, axes, source, destination, swapBytes: swapBytes, streamingStores: streamingStores)
        case 8: run(UInt64.self, axes, source, destination, swapBytes: swapBytes)
        default: preconditionFailure("unsupported element size \(elementSize)")
        }
    }

    /// Row-major (C order) strides of `shape`, in elements.
    public static func rowMajorStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { strides[i] = s; s *= shape[i] }
        return strides
    }

    struct Axis { var size: Int; var source: Int; var destination: Int }

    /// Drops size-1 axes and merges neighbours that are contiguous on both sides.
    static func simplified(shape: [Int], source: [Int], destination: [Int]) -> [Axis] {
        var axes: [Axis] = []
        for k in shape.indices where shape[k] != 1 {
            let next = Axis(size: shape[k], source: source[k], destination: destination[k])
            if let last = axes.last, last.source == next.source * next.size, last.destination == next.destination * next.size {
                axes[axes.count - 1] = Axis(size: last.size * next.size, source: next.source, destination: next.destination)
            } else {
                axes.append(next)
            }
        }
        return axes
    }

    private static let tile = 32

    private static func run<T: FixedWidthInteger>(_: T.Type, _ axes: [Axis], _ sourceRaw: UnsafeRawPointer,
                                                  _ destinationRaw: UnsafeMutableRawPointer, swapBytes: Bool,
                                                  streamingStores: Bool = false) {
        let source = sourceRaw.assumingMemoryBound(to: T.self)
        let destination = destinationRaw.assumingMemoryBound(to: T.self)
        // Tiles span the axis contiguous in the source (columns) and the one contiguous in the
        // destination (rows) when those differ; otherwise runs go along the contiguous axis.
        let sourceContiguous = axes.indices.last { axes[$0].source == 1 }
        let destinationContiguous = axes.indices.last { axes[$0].destination == 1 }
        let inner: Int
        let across: Int?
        if let s = sourceContiguous, let d = destinationContiguous, s != d {
            inner = s
            across = d
        } else {
            inner = destinationContiguous ?? sourceContiguous ?? axes.count - 1
            across = nil
        }
        let outer = axes.indices.filter { $0 != inner && $0 != across }
        var index = [Int](repeating: 0, count: outer.count)
        var s = 0, d = 0
        while true {
            if let j = across {
                transposeTile(source + s, destination + d, rows: axes[j].size, rowSourceStride: axes[j].source,
                              columns: axes[inner].size, columnSourceStride: axes[inner].source,
                              columnDestinationStride: axes[inner].destination, swapBytes: swapBytes,
                              streamingStores: streamingStores)
            } else {
                line(source + s, axes[inner].source, destination + d, axes[inner].destination, axes[inner].size, swapBytes)
            }
            // Odometer over the remaining axes.
            var k = outer.count - 1
            while k >= 0 {
                let a = axes[outer[k]]
                index[k] += 1
                s += a.source
                d += a.destination
                if index[k] < a.size { break }
                s -= a.source * a.size
                d -= a.destination * a.size
                index[k] = 0
                k -= 1
            }
            if k < 0 { return }
        }
    }

    @inline(__always)
    private static func line<T: FixedWidthInteger>(_ s: UnsafePointer<T>, _ sStride: Int, _ d: UnsafeMutablePointer<T>,
                                                   _ dStride: Int, _ n: Int, _ swapBytes: Bool) {
        if sStride == 1 && dStride == 1 {
            if swapBytes {
                for i in 0..<n { d[i] = s[i].byteSwapped }
            } else {
                d.update(from: s, count: n)
            }
        } else if swapBytes {
            for i in 0..<n { d[i * dStride] = s[i * sStride].byteSwapped }
        } else {
            for i in 0..<n { d[i * dStride] = s[i * sStride] }
        }
    }

    /// A 2-D copy whose rows are contiguous in the destination and whose columns are
    /// contiguous (or strided) in the source, in square tiles so both sides stay in cache.
    @inline(__always)
    private static func transposeTile<T: FixedWidthInteger>(_ s: UnsafePointer<T>, _ d: UnsafeMutablePointer<T>,
                                                            rows: Int, rowSourceStride: Int, columns: Int,
                                                            columnSourceStride: Int, columnDestinationStride: Int,
                                                            swapBytes: Bool, streamingStores: Bool) {
        // 4-byte elements with contiguous source columns: the SIMD kernel (8 x 8 register blocks).
        if T.self == UInt32.self, columnSourceStride == 1 {
            if streamingStores {
                graft_transpose32_streaming(s, rowSourceStride, d, columnDestinationStride, rows, columns, swapBytes ? 1 : 0)
            } else {
                graft_transpose32(s, rowSourceStride, d, columnDestinationStride, rows, columns, swapBytes ? 1 : 0)
            }
            return
        }
        var c0 = 0
        while c0 < columns {
            let c1 = min(c0 + tile, columns)
            var r0 = 0
            while r0 < rows {
                let r1 = min(r0 + tile, rows)
                for c in c0..<c1 {
                    let from = s + c * columnSourceStride
                    let to = d + c * columnDestinationStride
                    if swapBytes {
                        for r in r0..<r1 { to[r] = from[r * rowSourceStride].byteSwapped }
                    } else {
                        for r in r0..<r1 { to[r] = from[r * rowSourceStride] }
                    }
                }
                r0 = r1
            }
            c0 = c1
        }
    }
}
