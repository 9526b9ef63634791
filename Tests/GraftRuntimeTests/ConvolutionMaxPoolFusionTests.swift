import Foundation
import XCTest
import GraftCore
@testable import GraftRuntime

/// A convolution followed by a max pooling that is its only use, computed together
/// (`ConvolutionOps.maxPooledLayer`), against the double-precision direct convolution loops of
/// `ConvolutionPathTests` then a max over each window; and the same graph with the
/// convolution's output also wanted (then the two layers run apart) or with an activation
/// that does not fuse. Odd output sizes (trailing rows and columns dropped), one and many
/// channels, strides, same padding, non-square windows, several calls per image, each kernel
/// variant the CPU runs, one and two threads.
final class ConvolutionMaxPoolFusionTests: XCTestCase {
    typealias Case = ConvolutionPathTests.Case

    static let cases: [(conv: Case, activation: ActivationFunction, pool: [Int])] = [
        (Case(name: "1 channel, odd output", batch: 3, spatial: [13, 12], channels: 1, filters: 20, kernel: [3, 3]),
         .plainRelu, [2, 2]),
        (Case(name: "32 channels, same, linear, 3x2 pool", batch: 2, spatial: [7, 9], channels: 32, filters: 64,
              kernel: [3, 3], padding: .same), .linear, [3, 2]),
        (Case(name: "3 channels, stride 2, one example", batch: 1, spatial: [15, 15], channels: 3, filters: 40,
              kernel: [3, 3], strides: [2, 2]), .plainRelu, [2, 2]),
        // 20 KB of convolution output per pooled line: calls of 2 lines (96 rows at least), 2 + 2 + 1 an image.
        (Case(name: "wide lines, several calls an image", batch: 2, spatial: [12, 42], channels: 2, filters: 64,
              kernel: [3, 3]), .plainRelu, [2, 2]),
        (Case(name: "tanh (not fused)", batch: 2, spatial: [8, 8], channels: 4, filters: 8, kernel: [3, 3]),
         .tanh, [2, 2]),
    ]

    /// Max over non-overlapping windows (stride = window, trailing rows/columns dropped) of
    /// [batch, h, w, c] values.
    static func pooled(_ v: [Double], shape: [Int], pool: [Int]) -> (values: [Double], shape: [Int]) {
        let (batch, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        let (ph, pw) = (h / pool[0], w / pool[1])
        var out: [Double] = []
        for b in 0..<batch { for py in 0..<ph { for px in 0..<pw { for ch in 0..<c {
            var m = -Double.infinity
            for dy in 0..<pool[0] { for dx in 0..<pool[1] {
                m = max(m, v[((b * h + py * pool[0] + dy) * w + px * pool[1] + dx) * c + ch])
            } }
            out.append(m)
        } } } }
        return (out, [batch, ph, pw, c])
    }

    func testFusedConvolutionMaxPoolingMatchesReference() throws {
        let saved = Runtime.threadCount
        defer { Runtime.setThreadCount(saved) }
        for (i, (c, activation, pool)) in Self.cases.enumerated() {
            let x = ConvolutionPathTests.random(c.batch * c.spatial.reduce(1, *) * c.channels, seed: UInt64(600 + i))
            let kernel = ConvolutionPathTests.random(c.kernel.reduce(1, *) * c.channels * c.filters, seed: UInt64(700 + i))
            let bias = ConvolutionPathTests.random(c.filters, seed: UInt64(800 + i))
            let convShape = ConvolutionPathTests.reference(c, x: x, kernel: kernel, bias: bias).shape
            let plain = PackedConvolutionTests.plainReference(c, x: x, kernel: kernel, bias: bias)
            let convValues: [Double]
            switch activation {
            case .linear: convValues = plain
            case .tanh: convValues = plain.map { Foundation.tanh($0) }
            default: convValues = plain.map { max($0, 0) }
            }
            let expected = Self.pooled(convValues, shape: convShape, pool: pool)

            let a = ConvAttributes(rank: 2, filters: c.filters, kernelSize: c.kernel, strides: c.strides, padding: c.padding,
                                   activation: activation)
            let p = PoolingAttributes(kind: .max, rank: 2, poolSize: pool)
            let parameters = ["kernel": Tensor(shape: c.kernel + [c.channels, c.filters], floats: kernel),
                              "bias": Tensor(shape: [c.filters], floats: bias)]
            let input = Node(name: "in", op: .input(InputAttributes(shape: c.spatial + [c.channels], dtype: .float32, layout: .flat)))
            let conv = makeNode("c", .conv(a), inputs: ["in"], parameters: parameters)
            let pooling = makeNode("p", .pooling(p), inputs: ["c"])
            let graph = Graph(nodes: [input, conv, pooling], outputs: [NodeOutput("p")], source: SourceInfo(format: "memory"))
            let xt = Tensor(shape: [c.batch] + c.spatial + [c.channels], floats: x)

            // The pair qualifies exactly when the convolution's activation is ReLU or linear;
            // each microkernel variant the CPU runs.
            var context = RuntimeContext()
            context.packedWeights = PackedWeightCache()
            for variant in PackedGEMM.Variant.allCases where variant != .auto && variant.isSupported {
                let direct = try ConvolutionOps.maxPooledLayer(conv, a, p, xt, context: context, variant: variant)
                XCTAssertEqual(direct != nil, PackedGEMM.convolutionsEnabled && activation != .tanh, "\(c.name), \(variant)")
                if let direct { assertTensor(direct, shape: expected.shape, expected.values, tol: 1e-4) }
            }

            for threads in [1, 2] {
                Runtime.setThreadCount(threads)
                let interpreter = Interpreter(graph: graph)
                let fused = try interpreter.run([xt])
                assertTensor(fused[0], shape: expected.shape, expected.values, tol: 1e-4)
                // The convolution's output wanted too: the layers run apart.
                let apart = try interpreter.run([xt], outputs: [NodeOutput("c"), NodeOutput("p")])
                assertTensor(apart[0], shape: convShape, convValues, tol: 1e-4)
                assertTensor(apart[1], shape: expected.shape, expected.values, tol: 1e-4)
            }
        }
    }

    /// Only a max pooling reading a convolution that nothing else reads is paired.
    func testPairsOnlyAConvolutionsOnlyUse() {
        let a = ConvAttributes(rank: 2, filters: 2, kernelSize: [1, 1])
        let input = Node(name: "in", op: .input(InputAttributes(shape: [4, 4, 1], dtype: .float32, layout: .flat)))
        let nodes = [input,
                     makeNode("c1", .conv(a), inputs: ["in"]),
                     makeNode("p1", .pooling(PoolingAttributes(kind: .max, rank: 2, poolSize: [2, 2])), inputs: ["c1"]),
                     makeNode("c2", .conv(a), inputs: ["p1"]),
                     makeNode("p2", .pooling(PoolingAttributes(kind: .max, rank: 2, poolSize: [2, 2])), inputs: ["c2"]),
                     makeNode("c3", .conv(a), inputs: ["c2"]),
                     makeNode("p3", .pooling(PoolingAttributes(kind: .average, rank: 2, poolSize: [2, 2])), inputs: ["c3"])]
        let graph = Graph(nodes: nodes, outputs: [NodeOutput("p2"), NodeOutput("p3")], source: SourceInfo(format: "memory"))
        var uses: [String: Int] = [:]
        for node in nodes { for i in node.inputs { uses[i.node, default: 0] += 1 } }
        for w in graph.outputs { uses[w.node, default: 0] += 1 }
        let pairs = Interpreter.convolutionMaxPoolings(in: graph, needed: Set(nodes.map(\.name)), uses: uses)
        // c2 also feeds c3; p3 averages.
        XCTAssertEqual(pairs.mapValues(\.name), ["c1": "p1"])
    }
}
