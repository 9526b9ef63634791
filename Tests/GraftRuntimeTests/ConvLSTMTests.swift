import XCTest
import Foundation
import GraftCore
@testable import GraftRuntime

/// ConvLSTM against the Keras cell written out in the test: 1-D, one input channel, one
/// filter, kernel 3 with same padding, so each gate at position p reads x[p−1], x[p], x[p+1]
/// and h[p−1], h[p], h[p+1] (zeros outside).
final class ConvLSTMTests: XCTestCase {
    // kernel [3, 1, 4] and recurrent kernel [3, 1, 4]: tap k, gate g at index k·4 + g (gates i, f, c, o).
    let w: [Double] = [0.1, -0.2, 0.3, 0.4, 0.5, 0.6, -0.7, 0.8, -0.9, 0.15, 0.25, -0.35]
    let u: [Double] = [0.05, 0.1, -0.15, 0.2, -0.25, 0.3, 0.35, -0.4, 0.45, -0.5, 0.55, 0.6]
    let bias: [Double] = [0.01, 1, -0.02, 0.03]

    var params: [String: Tensor] {
        ["kernel": Tensor(shape: [3, 1, 4], doubles: w), "recurrentKernel": Tensor(shape: [3, 1, 4], doubles: u),
         "bias": Tensor(shape: [4], doubles: bias)]
    }

    func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }

    /// One Keras step over a length-n row: returns (h, c).
    func step(_ x: [Double], _ h: [Double], _ c: [Double]) -> ([Double], [Double]) {
        let n = x.count
        func at(_ v: [Double], _ p: Int) -> Double { p >= 0 && p < n ? v[p] : 0 }
        var newH = [Double](repeating: 0, count: n), newC = newH
        for p in 0..<n {
            var z = bias
            for g in 0..<4 {
                for k in 0..<3 {
                    z[g] += w[k * 4 + g] * at(x, p + k - 1) + u[k * 4 + g] * at(h, p + k - 1)
                }
            }
            let i = sigmoid(z[0]), f = sigmoid(z[1]), cc = Foundation.tanh(z[2]), o = sigmoid(z[3])
            newC[p] = f * c[p] + i * cc
            newH[p] = o * Foundation.tanh(newC[p])
        }
        return (newH, newC)
    }

    func attributes(returnSequences: Bool = false, goBackwards: Bool = false, returnState: Bool = false) -> ConvLSTMAttributes {
        ConvLSTMAttributes(RecurrentAttributes(units: 1, returnSequences: returnSequences, returnState: returnState,
                                               goBackwards: goBackwards),
                           rank: 1, kernelSize: [3], padding: .same)
    }

    // Two steps of length-3 rows (one batch entry).
    let x0: [Double] = [1, -0.5, 2], x1: [Double] = [0.3, 0.7, -1]
    var input: Tensor { Tensor(shape: [1, 2, 3, 1], doubles: x0 + x1) }

    func testSequenceAndStates() throws {
        let zero = [Double](repeating: 0, count: 3)
        let (h1, c1) = step(x0, zero, zero)
        let (h2, c2) = step(x1, h1, c1)
        let g = singleOpGraph(.convLSTM(attributes(returnSequences: true, returnState: true)), inputShape: [2, 3, 1],
                              parameters: params)
        let outs = try Interpreter(graph: g).run([input])
        assertTensor(outs[0], shape: [1, 2, 3, 1], h1 + h2, tol: 1e-9)
        let all = try Interpreter(graph: Graph(nodes: g.nodes, outputs: [NodeOutput("op"), NodeOutput("op", output: 1),
                                                                         NodeOutput("op", output: 2)])).run([input])
        assertTensor(all[1], shape: [1, 3, 1], h2, tol: 1e-9)
        assertTensor(all[2], shape: [1, 3, 1], c2, tol: 1e-9)
    }

    func testGoBackwardsProcessesLastStepFirst() throws {
        let zero = [Double](repeating: 0, count: 3)
        let (h1, c1) = step(x1, zero, zero)
        let (h2, _) = step(x0, h1, c1)
        let seq = try runOne(singleOpGraph(.convLSTM(attributes(returnSequences: true, goBackwards: true)),
                                           inputShape: [2, 3, 1], parameters: params), [input])
        assertTensor(seq, shape: [1, 2, 3, 1], h1 + h2, tol: 1e-9)
        let last = try runOne(singleOpGraph(.convLSTM(attributes(goBackwards: true)), inputShape: [2, 3, 1], parameters: params), [input])
        assertTensor(last, shape: [1, 3, 1], h2, tol: 1e-9)
    }

    /// Bidirectional(sum), last output: forward h after x0, x1 plus backward h after x1, x0
    /// (the backward direction uses its own `backward/` weights, here the same numbers).
    func testBidirectionalSum() throws {
        let zero = [Double](repeating: 0, count: 3)
        let (f1, fc1) = step(x0, zero, zero)
        let (f2, _) = step(x1, f1, fc1)
        let (b1, bc1) = step(x1, zero, zero)
        let (b2, _) = step(x0, b1, bc1)
        var p: [String: Tensor] = [:]
        for (k, v) in params { p["forward/" + k] = v; p["backward/" + k] = v }
        let op = Op.bidirectional(BidirectionalAttributes(mergeMode: .sum, layer: .convLSTM(attributes())))
        let out = try runOne(singleOpGraph(op, inputShape: [2, 3, 1], parameters: p), [input])
        assertTensor(out, shape: [1, 3, 1], zip(f2, b2).map { $0 + $1 }, tol: 1e-9)
    }

    /// Channels-first data [batch, time, channels, steps] gives the same numbers in
    /// [batch, time, filters, steps].
    func testChannelsFirst() throws {
        let zero = [Double](repeating: 0, count: 3)
        let (h1, c1) = step(x0, zero, zero)
        let (h2, _) = step(x1, h1, c1)
        var a = attributes(returnSequences: true)
        a.dataFormat = .channelsFirst
        let seq = try runOne(singleOpGraph(.convLSTM(a), inputShape: [2, 1, 3], parameters: params),
                             [Tensor(shape: [1, 2, 1, 3], doubles: x0 + x1)])
        assertTensor(seq, shape: [1, 2, 1, 3], h1 + h2, tol: 1e-9)
    }
}
