import GraftCore
@testable import GraftKeras
import OrderedCollections
import XCTest

final class KerasConvolutionTests: XCTestCase {
    func map(_ className: String, _ config: JSONValue, _ producer: KerasProducer, _ weights: [(String, Tensor)]) throws
        -> (attributes: ConvAttributes, parameters: OrderedDictionary<String, Tensor>)
    {
        let (op, params) = try KerasConvolutionFamily.map(layerContext(className, config, producer: producer, weights: weights))
        guard case .conv(let a) = op else { throw GraftError(.invalidArgument, "not a conv: \(op)") }
        return (a, params)
    }

    /// Keras 1, Theano, `th` ordering: stored [filters, in, kH, kW] for true convolution →
    /// [kH, kW, in, filters], rotated 180°.
    func testKeras1TheanoKernelTransposedAndRotated() throws {
        let real = try CorpusLayers.layer("convolution2d_1", in: "keras/weights/conv2d_theano_1.h5")
        XCTAssertEqual(real.className, "Convolution2D")
        let config = configWith(real.config, ["dim_ordering": .string("th"), "nb_filter": .number("2"), "nb_row": .number("2"),
                                        "nb_col": .number("3")])
        // src[f][i][r][c] = f·100 + i·10 + r·3 + c, with 2 filters, 2 input channels, 2×3 window.
        let stored = testTensor([2, 2, 2, 3]) { k in
            let f = k / 12, i = (k / 6) % 2, r = (k / 3) % 2, c = k % 3
            return Float(f * 100 + i * 10 + r * 3 + c)
        }
        var expected: [Float] = []
        for h in 0..<2 { for w in 0..<3 { for i in 0..<2 { for f in 0..<2 {
            expected.append(Float(f * 100 + i * 10 + (1 - h) * 3 + (2 - w)))
        } } } }
        for producer in [Producers.keras1Theano, Producers.keras1] {  // Keras 1 files rarely say their backend
            let (a, p) = try map("Convolution2D", config, producer, [("convolution2d_1_W", stored), ("convolution2d_1_b", testTensor([2]))])
            XCTAssertEqual(a.dataFormat, .channelsFirst)
            XCTAssertEqual(a.kernelSize, [2, 3])
            XCTAssertEqual(a.filters, 2)
            XCTAssertEqual(p["kernel"]?.shape, [2, 3, 2, 2])
            XCTAssertEqual(p["kernel"]?.floats(), expected)
        }
    }

    /// The real Keras 1 layer (`tf` ordering, backend unknown) is stored channels-last and kept.
    func testKeras1TFOrderedKernelKept() throws {
        let real = try CorpusLayers.layer("convolution2d_1", in: "keras/weights/conv2d_theano_1.h5")
        let kernel = testTensor([3, 3, 5, 6])
        let (a, p) = try map("Convolution2D", real.config, Producers.keras1, [("convolution2d_1_W", kernel), ("convolution2d_1_b", testTensor([6]))])
        XCTAssertEqual(a.padding, .valid)
        XCTAssertEqual(a.strides, [1, 1])
        XCTAssertEqual(a.dataFormat, .channelsLast)
        XCTAssertTrue(p["kernel"]!.bitwiseEqual(kernel))
    }

    /// Keras 2 Theano files keep the Keras 2 layout but are still true-convolution kernels.
    func testKeras2TheanoKernelRotated() throws {
        let real = try CorpusLayers.layer("conv2d_1", in: "keras/weights/conv2d_theano_2.h5")
        let stored = testTensor([3, 3, 5, 6])
        var expected: [Float] = []
        for h in 0..<3 { for w in 0..<3 { for i in 0..<5 { for o in 0..<6 {
            expected.append(Float((((2 - h) * 3 + (2 - w)) * 5 + i) * 6 + o))
        } } } }
        let (_, p) = try map("Conv2D", real.config, Producers.keras2Theano, [("conv2d_1/kernel", stored), ("conv2d_1/bias", testTensor([6]))])
        XCTAssertEqual(p["kernel"]?.floats(), expected)
        // The TensorFlow sibling passes through bit for bit.
        let tf = try CorpusLayers.layer("conv2d_1", in: "keras/weights/conv2d_tensorflow_2.h5")
        let (_, q) = try map("Conv2D", tf.config, Producers.keras2, [("conv2d_1/kernel:0", stored), ("conv2d_1/bias:0", testTensor([6]))])
        XCTAssertTrue(q["kernel"]!.bitwiseEqual(stored))
    }

    /// Theano Conv1D (Keras 2 `embedding_conv1d_theano_2`) and depthwise kernels are rotated
    /// too; a separable layer's 1×1 pointwise kernel is left as is.
    func testTheanoConv1DAndDepthwiseRotated() throws {
        let real = try CorpusLayers.layer("conv1d_1", in: "keras/weights/embedding_conv1d_theano_2.h5")
        let (_, p) = try map("Conv1D", real.config, Producers.keras2Theano, [("conv1d_1/kernel", testTensor([3, 5, 6])),
                                                                             ("conv1d_1/bias", testTensor([6]))])
        var expected: [Float] = []
        for k in 0..<3 { for i in 0..<5 { for o in 0..<6 { expected.append(Float(((2 - k) * 5 + i) * 6 + o)) } } }
        XCTAssertEqual(p["kernel"]?.floats(), expected)

        let sep = try CorpusLayers.layer("separable_conv2d_24", in: "keras/tfkeras/cnn2d_76.h5")
        let config = configWith(sep.config, ["kernel_size": .array([.number("1"), .number("2")])])
        let pw = testTensor([1, 1, 3, 4])
        let (_, q) = try map("SeparableConv2D", config, Producers.keras2Theano,
                             [("depthwise_kernel", testTensor([1, 2, 3, 1])), ("pointwise_kernel", pw), ("bias", testTensor([4]))])
        // depthwise [1, 2, 3, 1]: the two columns of the 1×2 window swap.
        XCTAssertEqual(q["depthwiseKernel"]?.floats(), [3, 4, 5, 0, 1, 2])
        XCTAssertTrue(q["pointwiseKernel"]!.bitwiseEqual(pw))
    }

    /// Keras 1 Convolution1D kernels are 4-D: [k, 1, in, filters], or [filters, in, k, 1] (Keras 1.1).
    func testKeras1Convolution1D() throws {
        let real = try CorpusLayers.layer("convolution1d_1", in: "keras/configs/keras1/keras1_tf_embedding_conv1d_config.json")
        let config = configWith(real.config, ["nb_filter": .number("2")])
        let modern = testTensor([3, 1, 4, 2])
        let (a, p) = try map("Convolution1D", config, Producers.keras1, [("convolution1d_1_W", modern), ("convolution1d_1_b", testTensor([2]))])
        XCTAssertEqual(a.rank, 1)
        XCTAssertEqual(a.kernelSize, [3])
        XCTAssertEqual(a.activation, .plainRelu)
        XCTAssertEqual(a.dataFormat, .channelsLast)
        XCTAssertEqual(p["kernel"]?.shape, [3, 4, 2])
        XCTAssertEqual(p["kernel"]?.floats(), modern.floats())
        // Legacy [filters, in, k, 1]: src[f][i][k] = f·100 + i·10 + k.
        let legacy = testTensor([2, 4, 3, 1]) { Float(($0 / 12) * 100 + (($0 / 3) % 4) * 10 + $0 % 3) }
        var expected: [Float] = []
        for k in 0..<3 { for i in 0..<4 { for f in 0..<2 { expected.append(Float(f * 100 + i * 10 + k)) } } }
        let (_, q) = try map("Convolution1D", config, Producers.keras1, [("W", legacy), ("b", testTensor([2]))])
        XCTAssertEqual(q["kernel"]?.floats(), expected)
    }

    /// Conv1D attributes from the Keras 2.3 example configs (channels-first, causal, dilation).
    func testConv1DAttributesFromCorpus() throws {
        let cf = try CorpusLayers.layer("conv0", in: "keras/examples/conv1d/conv1d_k3_s2_d1_cf_same_config.json")
        let (a, _) = try map("Conv1D", cf.config, Producers.keras2, [("kernel", testTensor([3, 3, 4])), ("bias", testTensor([4]))])
        XCTAssertEqual(a, ConvAttributes(rank: 1, filters: 4, kernelSize: [3], strides: [2], padding: .same,
                                         dataFormat: .channelsFirst, activation: .sigmoid))
        let causal = try CorpusLayers.layer("conv0", in: "keras/examples/causal_conv1d/causal_conv1d_k3_s1_d2_cl_config.json")
        let (b, _) = try map("Conv1D", causal.config, Producers.keras2, [("kernel", testTensor([3, 3, 4])), ("bias", testTensor([4]))])
        XCTAssertEqual(b, ConvAttributes(rank: 1, filters: 4, kernelSize: [3], padding: .causal, dilation: [2], activation: .tanh))
    }

    func testSeparableDepthwiseTransposedAnd3D() throws {
        let sep = try CorpusLayers.layer("separable_conv2d_24", in: "keras/tfkeras/cnn2d_76.h5")
        let d = testTensor([3, 3, 3, 1]), pw = testTensor([1, 1, 3, 4]), b = testTensor([4])
        let (sa, sp) = try map("SeparableConv2D", sep.config, Producers.tfKeras, [("depthwise_kernel:0", d), ("pointwise_kernel:0", pw), ("bias:0", b)])
        XCTAssertEqual(sa.kind, .separable(multiplier: 1))
        XCTAssertEqual(sa.filters, 4)
        XCTAssertEqual(sa.padding, .same)
        XCTAssertEqual(Array(sp.keys), ["depthwiseKernel", "pointwiseKernel", "bias"])
        XCTAssertTrue(sp["pointwiseKernel"]!.bitwiseEqual(pw))

        let dw = try CorpusLayers.layer("depthwise_conv2d_24", in: "keras/tfkeras/cnn2d_100.h5")
        let (da, dp) = try map("DepthwiseConv2D", dw.config, Producers.tfKeras, [("depthwise_kernel:0", d), ("bias:0", testTensor([3]))])
        XCTAssertEqual(da.kind, .depthwise(multiplier: 1))
        XCTAssertEqual(da.filters, 3)
        XCTAssertTrue(dp["depthwiseKernel"]!.bitwiseEqual(d))

        let tr = try CorpusLayers.layer("conv2d_transpose_24", in: "keras/tfkeras/cnn2d_112.h5")
        let tk = testTensor([3, 3, 4, 3])
        let (ta, tp) = try map("Conv2DTranspose", tr.config, Producers.tfKeras, [("kernel:0", tk), ("bias:0", b)])
        XCTAssertEqual(ta.kind, .transposed(outputPadding: nil))
        XCTAssertEqual(ta.filters, 4)
        XCTAssertTrue(tp["kernel"]!.bitwiseEqual(tk))

        let c3 = try CorpusLayers.layer("conv3d_28", in: "keras/tfkeras/cnn3d_18.h5")
        let (ca, _) = try map("Conv3D", c3.config, Producers.tfKeras, [("kernel:0", testTensor([3, 3, 3, 2, 4])), ("bias:0", b)])
        XCTAssertEqual(ca.rank, 3)
        XCTAssertEqual(ca.kernelSize, [3, 3, 3])
    }

    /// Keras 1 Deconvolution2D (`tf` ordering) stores [kH, kW, in, filters]; canonical is [kH, kW, filters, in].
    func testKeras1Deconvolution2D() throws {
        let real = try CorpusLayers.layer("convolution2d_1", in: "keras/weights/conv2d_theano_1.h5")
        let config = configWith(real.config, ["nb_filter": .number("2"), "nb_row": .number("1"), "nb_col": .number("1")])
        let (a, p) = try map("Deconvolution2D", config, Producers.keras1, [("W", testTensor([1, 1, 3, 2])), ("b", testTensor([2]))])
        XCTAssertEqual(a.kind, .transposed(outputPadding: nil))
        XCTAssertEqual(p["kernel"]?.shape, [1, 1, 2, 3])
        // src[i][f] = i·2 + f  →  dst[f][i]
        XCTAssertEqual(p["kernel"]?.floats(), [0, 2, 4, 1, 3, 5])
    }

    /// Keras 1 Deconvolution2D gives `output_shape`; with a 2×2 input, 3×3 kernel, stride 2,
    /// valid padding the natural size is (2 − 1)·2 + 3 = 5, so 6 × 5 needs output padding (1, 0).
    func testKeras1DeconvolutionOutputShape() throws {
        let real = try CorpusLayers.layer("convolution2d_1", in: "keras/weights/conv2d_theano_1.h5")
        let shape = JSONValue.array([.null, .number("6"), .number("5"), .number("2")])
        let config = configWith(real.config, ["nb_filter": .number("2"), "subsample": .array([.number("2"), .number("2")]),
                                              "output_shape": shape])
        var ctx = layerContext("Deconvolution2D", config, producer: Producers.keras1,
                               weights: [("W", testTensor([3, 3, 3, 2])), ("b", testTensor([2]))])
        ctx.inputShapes = [[2, 2, 3]]
        guard case .conv(let a) = try KerasConvolutionFamily.map(ctx).op else { return XCTFail() }
        XCTAssertEqual(a.kind, .transposed(outputPadding: [1, 0]))
        ctx.inputShapes = [[1, 1, 3]]  // natural size 3: 6 is out of reach
        assertGraftError(.unsupported) { _ = try KerasConvolutionFamily.map(ctx) }
    }

    func testBadKernelIsClearError() throws {
        let real = try CorpusLayers.layer("conv2d_1", in: "keras/weights/conv2d_tensorflow_2.h5")
        assertGraftError(.shapeMismatch) {
            _ = try self.map("Conv2D", real.config, Producers.keras2, [("kernel", testTensor([2, 2, 5, 6])), ("bias", testTensor([6]))])
        }
        assertGraftError(.shapeMismatch) {
            _ = try self.map("Conv2D", real.config, Producers.keras2, [("kernel", testTensor([3, 3, 5, 6])), ("bias", testTensor([5]))])
        }
        assertGraftError(.missingWeights) { _ = try self.map("Conv2D", real.config, Producers.keras2, []) }
    }
}
