import XCTest
import Foundation
import GraftCore
@testable import GraftRuntime

final class ShapeNormalizationTests: XCTestCase {
    let six: [Float] = [1, 2, 3, 4, 5, 6]

    func testFlatten() throws {
        let y = try runOne(singleOpGraph(.flatten, inputShape: [2, 3]), [Tensor(shape: [1, 2, 3], floats: six)])
        assertTensor(y, shape: [1, 6], six.map(Double.init), tol: 0)
    }

    func testReshapeWithMinusOne() throws {
        let y = try runOne(singleOpGraph(.reshape(targetShape: [-1, 2]), inputShape: [6]), [Tensor(shape: [1, 6], floats: six)])
        assertTensor(y, shape: [1, 3, 2], six.map(Double.init), tol: 0)
        let bad = singleOpGraph(.reshape(targetShape: [4, -1]), inputShape: [6])
        XCTAssertThrowsError(try runOne(bad, [Tensor(shape: [1, 6], floats: six)])) { e in
            XCTAssertEqual((e as? GraftError)?.kind, .shapeMismatch)
        }
    }

    func testPermute() throws {
        // [1, 2, 3] with dims (2, 1) → [1, 3, 2]: y[j][i] = x[i][j].
        let y = try runOne(singleOpGraph(.permute(dims: [2, 1]), inputShape: [2, 3]), [Tensor(shape: [1, 2, 3], floats: six)])
        assertTensor(y, shape: [1, 3, 2], [1, 4, 2, 5, 3, 6], tol: 0)
    }

    func testRepeatVector() throws {
        let y = try runOne(singleOpGraph(.repeatVector(n: 3), inputShape: [2]), [Tensor(shape: [2, 2], floats: [1, 2, 3, 4])])
        assertTensor(y, shape: [2, 3, 2], [1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4], tol: 0)
    }

    func bnParams(_ c: Int) -> [String: Tensor] {
        ["gamma": Tensor(shape: [c], floats: Array([2, 0.5, 1][..<c])),
         "beta": Tensor(shape: [c], floats: Array([0.1, -0.1, 0][..<c])),
         "movingMean": Tensor(shape: [c], floats: Array([1, 2, 3][..<c])),
         "movingVariance": Tensor(shape: [c], floats: Array([4, 0.25, 1][..<c]))]
    }

    func testBatchNormLastAxis() throws {
        let g = singleOpGraph(.batchNorm(BatchNormAttributes(axis: -1, epsilon: 0.001)), inputShape: [3], parameters: bnParams(3))
        let y = try runOne(g, [Tensor(shape: [2, 3], floats: six)])
        let gamma = [2.0, 0.5, 1], beta = [0.1, -0.1, 0], mean = [1.0, 2, 3], variance = [4.0, 0.25, 1]
        let expected = (0..<6).map { i -> Double in
            let c = i % 3
            return gamma[c] * (Double(six[i]) - mean[c]) / (variance[c] + 0.001).squareRoot() + beta[c]
        }
        assertTensor(y, shape: [2, 3], expected)
    }

    func testBatchNormChannelsFirstAxis() throws {
        // [1, 2 channels, 3 positions], axis 1: each channel row uses its own statistics.
        let g = singleOpGraph(.batchNorm(BatchNormAttributes(axis: 1, epsilon: 0.001)), inputShape: [2, 3], parameters: bnParams(2))
        let y = try runOne(g, [Tensor(shape: [1, 2, 3], floats: six)])
        let gamma = [2.0, 0.5], beta = [0.1, -0.1], mean = [1.0, 2], variance = [4.0, 0.25]
        let expected = (0..<6).map { i -> Double in
            let c = i / 3
            return gamma[c] * (Double(six[i]) - mean[c]) / (variance[c] + 0.001).squareRoot() + beta[c]
        }
        assertTensor(y, shape: [1, 2, 3], expected)
    }

    func testBatchNormWithoutScaleAndCenter() throws {
        var params = bnParams(3)
        params["gamma"] = nil; params["beta"] = nil
        let g = singleOpGraph(.batchNorm(BatchNormAttributes(axis: -1, epsilon: 0.5, center: false, scale: false)),
                              inputShape: [3], parameters: params)
        let y = try runOne(g, [Tensor(shape: [1, 3], floats: [1, 2, 3])])
        assertTensor(y, shape: [1, 3], [0, 0, 0])
    }

    func testLayerNormLastAxis() throws {
        let gamma: [Float] = [1, 2, 0.5], beta: [Float] = [0, 1, -1]
        let g = singleOpGraph(.layerNorm(LayerNormAttributes(axes: [-1], epsilon: 1e-3)), inputShape: [3],
                              parameters: ["gamma": Tensor(shape: [3], floats: gamma), "beta": Tensor(shape: [3], floats: beta)])
        let y = try runOne(g, [Tensor(shape: [2, 3], floats: [1, 2, 6, -1, -1, 2])])
        var expected: [Double] = []
        for row in [[1.0, 2, 6], [-1.0, -1, 2]] {
            let mean = row.reduce(0, +) / 3
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 3
            for j in 0..<3 { expected.append((row[j] - mean) / (variance + 1e-3).squareRoot() * Double(gamma[j]) + Double(beta[j])) }
        }
        assertTensor(y, shape: [2, 3], expected)
    }

    func testLayerNormOverTwoAxes() throws {
        // [1, 2, 2] normalised over axes (1, 2): one group of four values; gamma/beta [2, 2].
        let gamma = Tensor(shape: [2, 2], floats: [1, 2, 3, 4]), beta = Tensor(shape: [2, 2], floats: [0, 0, 1, 1])
        let g = singleOpGraph(.layerNorm(LayerNormAttributes(axes: [1, 2], epsilon: 0)), inputShape: [2, 2],
                              parameters: ["gamma": gamma, "beta": beta])
        let y = try runOne(g, [Tensor(shape: [1, 2, 2], floats: [1, 2, 3, 4])])
        // mean 2.5, variance 1.25
        let s = 1.25.squareRoot()
        assertTensor(y, shape: [1, 2, 2], [-1.5 / s * 1, -0.5 / s * 2, 0.5 / s * 3 + 1, 1.5 / s * 4 + 1])
    }
}
