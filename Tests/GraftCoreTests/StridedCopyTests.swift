import XCTest
import CBytes
@testable import GraftCore

/// `StridedCopy.copy` against the definition (each element placed by its index, computed
/// one element at a time), over the layouts the DL4J writer encodes: contiguous runs, 32 × 32
/// tiles, a conv kernel, and a dense kernel [in, units] with rows in (h, w, c) order written
/// as DL4J's 'f'-order W with rows in (c, h, w) order (tiles as narrow as w).
final class StridedCopyTests: XCTestCase {
    /// (shape, source strides, destination strides) in elements.
    let layouts: [(String, [Int], [Int], [Int])] = [
        ("contiguous", [5, 6, 7], [42, 7, 1], [42, 7, 1]),
        ("2-D transpose", [70, 45], [1, 70], [45, 1]),
        ("conv kernel to DL4J [o, i, kh, kw]", [40, 24, 3, 3], [1, 40, 3 * 24 * 40, 24 * 40], [24 * 9, 9, 3, 1]),
        ("dense rows (h, w, c) as 'f' W with (c, h, w) rows", [33, 20, 7, 7], [1, 33, 7 * 20 * 33, 20 * 33],
         [20 * 49, 49, 7, 1]),
        ("short destination axis", [64, 5], [1, 64], [5, 1]),
        ("large ragged transpose", [300, 257], [1, 300], [257, 1]),
        ("transpose of a padded source", [37, 29], [1, 41], [29, 1]),
        ("8 x 8 blocks only", [64, 16], [1, 64], [16, 1]),
    ]

    func testCopyMatchesElementByElementDefinition() {
        for (label, shape, sourceStrides, destinationStrides) in layouts {
            let count = shape.reduce(1, *)
            let sourceSize = zip(shape, sourceStrides).map { ($0 - 1) * $1 }.reduce(0, +) + 1
            let source = (0..<sourceSize).map { UInt32($0) &* 2_654_435_761 }
            for swap in [false, true] {
                var expected = [UInt32](repeating: 0, count: count)
                var index = [Int](repeating: 0, count: shape.count)
                for _ in 0..<count {
                    let s = zip(index, sourceStrides).map(*).reduce(0, +)
                    let d = zip(index, destinationStrides).map(*).reduce(0, +)
                    expected[d] = swap ? source[s].byteSwapped : source[s]
                    var k = shape.count - 1
                    while k >= 0 {
                        index[k] += 1
                        if index[k] < shape[k] { break }
                        index[k] = 0
                        k -= 1
                    }
                }
                var got = [UInt32](repeating: 0, count: count)
                source.withUnsafeBytes { from in
                    got.withUnsafeMutableBytes { to in
                        StridedCopy.copy(shape: shape, elementSize: 4, from: from.baseAddress!, strides: sourceStrides,
                                         to: to.baseAddress!, strides: destinationStrides, swapBytes: swap)
                    }
                }
                XCTAssertEqual(got, expected, "\(label) swap \(swap)")
            }
        }
    }
}

/// `graft_transpose32` (the SIMD kernel when the CPU has AVX2) against its element-by-element
/// twin over ragged sizes, padded strides and both byte orders.
final class Transpose32Tests: XCTestCase {
    func testSIMDMatchesPortable() {
        for (rows, columns, sourcePad, destinationPad) in [(1, 1, 0, 0), (7, 9, 0, 3), (8, 8, 0, 0), (33, 65, 5, 0),
                                                           (64, 64, 1, 1), (129, 31, 0, 7), (5, 200, 3, 0)] {
            let sourceStride = columns + sourcePad, destinationStride = rows + destinationPad
            let source = (0..<rows * sourceStride).map { UInt32(truncatingIfNeeded: $0 &* 2_246_822_519 &+ 3) }
            for swap: Int32 in [0, 1] {
                var simd = [UInt32](repeating: 0xDEAD_BEEF, count: columns * destinationStride)
                var portable = simd
                graft_transpose32(source, sourceStride, &simd, destinationStride, rows, columns, swap)
                graft_transpose32_portable(source, sourceStride, &portable, destinationStride, rows, columns, swap)
                XCTAssertEqual(simd, portable, "\(rows) x \(columns) swap \(swap)")
                // And the definition, for one element per row.
                for c in 0..<columns {
                    let r = (c * 7) % rows
                    let value = source[r * sourceStride + c]
                    XCTAssertEqual(simd[c * destinationStride + r], swap == 1 ? value.byteSwapped : value)
                }
            }
        }
    }

    /// `graft_transpose32_streaming` against the element-by-element kernel: destinations that
    /// start on, just after and just before a 64-byte boundary (ordinary-store heads and tails
    /// around the streamed lines), row strides that are and are not a multiple of 16 elements
    /// (the latter fall back to the cached kernel), ragged columns; padding left untouched.
    func testStreamingMatchesPortable() {
        for (rows, columns, sourcePad, destinationPad) in [(16, 8, 0, 0), (32, 9, 0, 0), (300, 27, 1, 4), (48, 64, 3, 16),
                                                           (17, 5, 0, 15), (5, 3, 0, 11), (513, 40, 0, 15), (20, 9, 0, 1)] {
            let sourceStride = columns + sourcePad, destinationStride = rows + destinationPad
            let source = (0..<rows * sourceStride).map { UInt32(truncatingIfNeeded: $0 &* 2_654_435_761 &+ 11) }
            for skew in [0, 1, 15] {  // elements between a 64-byte boundary and the destination
                for swap: Int32 in [0, 1] {
                    let total = columns * destinationStride + skew + 16
                    var portable = [UInt32](repeating: 0xDEAD_BEEF, count: total)
                    let streamed = UnsafeMutableRawPointer.allocate(byteCount: total * 4, alignment: 64)
                    defer { streamed.deallocate() }
                    let out = streamed.bindMemory(to: UInt32.self, capacity: total)
                    out.initialize(repeating: 0xDEAD_BEEF, count: total)
                    graft_transpose32_streaming(source, sourceStride, out + skew, destinationStride, rows, columns, swap)
                    portable.withUnsafeMutableBufferPointer {
                        graft_transpose32_portable(source, sourceStride, $0.baseAddress! + skew, destinationStride,
                                                   rows, columns, swap)
                    }
                    XCTAssertEqual(Array(UnsafeBufferPointer(start: out, count: total)), portable,
                                   "\(rows) x \(columns) pad \(destinationPad) skew \(skew) swap \(swap)")
                }
            }
        }
    }
}
