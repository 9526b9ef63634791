import XCTest
import Foundation
import GraftCore
@testable import GraftRuntime

final class MergeTests: XCTestCase {
    /// Two inputs `a` and `b` feeding one merge node.
    func mergeGraph(_ kind: MergeAttributes.Kind, _ aShape: [Int?], _ bShape: [Int?]) -> Graph {
        Graph(nodes: [inputNode("a", aShape), inputNode("b", bShape),
                      makeNode("m", .merge(MergeAttributes(kind)), inputs: ["a", "b"])],
              outputs: [NodeOutput("m")])
    }

    let a: [Float] = [1, -2, 3, 4, 5, -6]
    let b: [Float] = [0.5, 2, -1, 4, -5, 2]

    func testElementwiseKinds() throws {
        let cases: [(MergeAttributes.Kind, (Double, Double) -> Double)] = [
            (.add, { $0 + $1 }), (.subtract, { $0 - $1 }), (.multiply, { $0 * $1 }),
            (.average, { ($0 + $1) / 2 }), (.maximum, { max($0, $1) }), (.minimum, { min($0, $1) }),
        ]
        for (kind, f) in cases {
            let y = try runOne(mergeGraph(kind, [3], [3]), [Tensor(shape: [2, 3], floats: a), Tensor(shape: [2, 3], floats: b)])
            assertTensor(y, shape: [2, 3], zip(a, b).map { f(Double($0), Double($1)) })
        }
    }

    func testAddOfThreeInputs() throws {
        let g = Graph(nodes: [inputNode("a", [2]), inputNode("b", [2]), inputNode("c", [2]),
                              makeNode("m", .merge(MergeAttributes(.average)), inputs: ["a", "b", "c"])],
                      outputs: [NodeOutput("m")])
        let y = try runOne(g, [Tensor(shape: [1, 2], floats: [1, 2]), Tensor(shape: [1, 2], floats: [3, 4]),
                               Tensor(shape: [1, 2], floats: [5, 9])])
        assertTensor(y, shape: [1, 2], [3, 5])
    }

    func testBroadcastingOfSizeOneAndLowerRank() throws {
        // [1, 2, 3] + [1, 1, 3]: the single row is added to both rows.
        let y = try runOne(mergeGraph(.add, [2, 3], [1, 3]),
                           [Tensor(shape: [1, 2, 3], floats: a), Tensor(shape: [1, 1, 3], floats: [10, 20, 30])])
        assertTensor(y, shape: [1, 2, 3], [11, 18, 33, 14, 25, 24])
        // [1, 2, 3] · [1, 2]: Keras inserts the axis after batch, [1, 2] → [1, 1, 2], which
        // does not broadcast against [1, 2, 3].
        XCTAssertThrowsError(try runOne(mergeGraph(.multiply, [2, 3], [2]),
                                        [Tensor(shape: [1, 2, 3], floats: a), Tensor(shape: [1, 2], floats: [1, 2])]))
        // [1, 3] with [1, 2, 3]: [1, 3] → [1, 1, 3], broadcast over the two rows.
        let z = try runOne(mergeGraph(.multiply, [3], [2, 3]),
                           [Tensor(shape: [1, 3], floats: [1, 2, 3]), Tensor(shape: [1, 2, 3], floats: a)])
        assertTensor(z, shape: [1, 2, 3], [1, -4, 9, 4, 10, -18])
    }

    func testConcatenateAxes() throws {
        let last = try runOne(mergeGraph(.concatenate(axis: -1), [3], [1]),
                              [Tensor(shape: [2, 3], floats: a), Tensor(shape: [2, 1], floats: [7, 8])])
        assertTensor(last, shape: [2, 4], [1, -2, 3, 7, 4, 5, -6, 8])
        let time = try runOne(mergeGraph(.concatenate(axis: 1), [1, 3], [2, 3]),
                              [Tensor(shape: [1, 1, 3], floats: [9, 9, 9]), Tensor(shape: [1, 2, 3], floats: b)])
        assertTensor(time, shape: [1, 3, 3], [9, 9, 9] + b.map(Double.init))
        XCTAssertThrowsError(try runOne(mergeGraph(.concatenate(axis: -1), [3], [2, 3]),
                                        [Tensor(shape: [1, 3], floats: [1, 2, 3]), Tensor(shape: [1, 2, 3], floats: a)]))
    }

    func testDotOfVectors() throws {
        // [2, 3]·[2, 3] on axis 1 → [2, 1], row-wise inner products.
        let y = try runOne(mergeGraph(.dot(axes: [1, 1], normalize: false), [3], [3]),
                           [Tensor(shape: [2, 3], floats: a), Tensor(shape: [2, 3], floats: b)])
        assertTensor(y, shape: [2, 1], [1 * 0.5 + -2 * 2 + 3 * -1, 4 * 4 + 5 * -5 + -6 * 2])
        // normalize: cosine similarity.
        let c = try runOne(mergeGraph(.dot(axes: [1, 1], normalize: true), [3], [3]),
                           [Tensor(shape: [2, 3], floats: a), Tensor(shape: [2, 3], floats: b)])
        func cosine(_ x: ArraySlice<Float>, _ y: ArraySlice<Float>) -> Double {
            let d = zip(x, y).map { Double($0) * Double($1) }.reduce(0, +)
            let nx = x.map { Double($0 * $0) }.reduce(0, +).squareRoot(), ny = y.map { Double($0 * $0) }.reduce(0, +).squareRoot()
            return d / (nx * ny)
        }
        assertTensor(c, shape: [2, 1], [cosine(a[0..<3], b[0..<3]), cosine(a[3..<6], b[3..<6])])
    }

    func testDotOfSequences() throws {
        // x [1, 2, 3], y [1, 2, 3], axes (2, 2) → [1, 2, 2] with out[i][j] = Σ_k x[i][k]·y[j][k].
        let y = try runOne(mergeGraph(.dot(axes: [2, 2], normalize: false), [2, 3], [2, 3]),
                           [Tensor(shape: [1, 2, 3], floats: a), Tensor(shape: [1, 2, 3], floats: b)])
        var expected: [Double] = []
        for i in 0..<2 { for j in 0..<2 { expected.append((0..<3).map { Double(a[i * 3 + $0]) * Double(b[j * 3 + $0]) }.reduce(0, +)) } }
        assertTensor(y, shape: [1, 2, 2], expected)
        // axes (1, 1) contracts time: out[i][j] = Σ_t x[t][i]·y[t][j], shape [1, 3, 3].
        let z = try runOne(mergeGraph(.dot(axes: [1, 1], normalize: false), [2, 3], [2, 3]),
                           [Tensor(shape: [1, 2, 3], floats: a), Tensor(shape: [1, 2, 3], floats: b)])
        var expected2: [Double] = []
        for i in 0..<3 { for j in 0..<3 { expected2.append((0..<2).map { Double(a[$0 * 3 + i]) * Double(b[$0 * 3 + j]) }.reduce(0, +)) } }
        assertTensor(z, shape: [1, 3, 3], expected2)
    }
}
