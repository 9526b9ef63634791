import XCTest
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
