import GraftCore
@testable import GraftKeras
import OrderedCollections
import XCTest

/// LocallyConnected, ConvLSTM and Attention families: configs from the corpus, weights
/// built by hand so the expected canonical layouts follow from the stored ones.
final class KerasExtraFamilyTests: XCTestCase {
    let tfKeras = KerasProducer(major: 2, version: "2.2.4-tf", backend: "tensorflow")

    func context(_ className: String, _ config: JSONValue, weights: [(String, Tensor)]) -> KerasLayerContext {
        KerasLayerContext(name: "l", className: className, config: config, producer: tfKeras,
                          weights: weights.map { KerasWeight(name: "l/\($0.0):0", tensor: $0.1) }, inputShapes: [], file: "test.h5")
    }

    func config(_ base: JSONValue, _ changes: [String: JSONValue]) -> JSONValue {
        guard case .object(var o) = base else { return base }
        for (k, v) in changes { o[k] = v }
        return .object(o)
    }

    func testLocallyConnected2DFromCorpusConfig() throws {
        let real = try CorpusLayers.layer("locally_connected2d_8", in: "keras/tfkeras/cnn2d_92.h5")
        let kernel = Tensor(shape: [64, 27, 4], floats: (0..<(64 * 27 * 4)).map { Float($0) })
        let bias = Tensor(shape: [8, 8, 4], floats: (0..<256).map { Float($0) })
        let mapped = try KerasLocallyConnectedFamily.map(context(real.className, real.config, weights: [("kernel", kernel), ("bias", bias)]))
        XCTAssertEqual(mapped.op, .locallyConnected(LocallyConnectedAttributes(rank: 2, filters: 4, kernelSize: [3, 3],
                                                                               activation: .tanh)))
        XCTAssertEqual(mapped.parameters["kernel"], kernel)
        XCTAssertEqual(mapped.parameters["bias"], bias)
    }

    /// Channels-first rows are (channel, tap) ordered and the bias is [filters, out…]:
    /// row (c, t) moves to t·in + c and the bias is transposed.
    func testLocallyConnectedChannelsFirstIsConverted() throws {
        let base = try CorpusLayers.layer("locally_connected2d_8", in: "keras/tfkeras/cnn2d_92.h5").config
        let cf = config(base, ["data_format": .string("channels_first"), "kernel_size": .array([JSONValue(1), JSONValue(2)]),
                               "filters": JSONValue(1)])
        // 1 position, 2 channels × 2 taps, stored (c0t0, c0t1, c1t0, c1t1) = 1, 2, 3, 4.
        let kernel = Tensor(shape: [1, 4, 1], floats: [1, 2, 3, 4])
        let bias = Tensor(shape: [1, 1, 1], floats: [7])
        let mapped = try KerasLocallyConnectedFamily.map(context("LocallyConnected2D", cf, weights: [("kernel", kernel), ("bias", bias)]))
        XCTAssertEqual(mapped.parameters["kernel"]?.doubles(), [1, 3, 2, 4])
        XCTAssertEqual(mapped.parameters["bias"]?.shape, [1, 1, 1])
    }

    func testConvLSTM2DFromCorpusConfig() throws {
        let real = try CorpusLayers.layer("conv_lst_m2d_2", in: "keras/tfkeras/convlstm2d_1.h5")
        let w = [("kernel", Tensor(zeros: [3, 3, 4, 16], dtype: .float32)),
                 ("recurrent_kernel", Tensor(zeros: [3, 3, 4, 16], dtype: .float32)),
                 ("bias", Tensor(zeros: [16], dtype: .float32))]
        let mapped = try KerasConvLSTMFamily.map(context(real.className, real.config, weights: w))
        let recurrent = RecurrentAttributes(units: 4, recurrentActivation: .keras2HardSigmoid, returnSequences: true, goBackwards: true)
        XCTAssertEqual(mapped.op, .convLSTM(ConvLSTMAttributes(recurrent, rank: 2, kernelSize: [3, 3], padding: .same,
                                                              dataFormat: .channelsFirst)))
        XCTAssertEqual(Array(mapped.parameters.keys), ["kernel", "recurrentKernel", "bias"])
        // A recurrent kernel for another filter count is refused.
        var bad = w
        bad[1] = ("recurrent_kernel", Tensor(zeros: [3, 3, 3, 16], dtype: .float32))
        XCTAssertThrowsError(try KerasConvLSTMFamily.map(context(real.className, real.config, weights: bad)))
    }

    func testAttentionFromCorpusConfig() throws {
        let real = try CorpusLayers.layer("attention", in: "keras/weights/keras-attention.h5")
        let plain = try KerasAttentionFamily.map(context(real.className, real.config, weights: []))
        XCTAssertEqual(plain.op, .attention(AttentionAttributes(dropout: 0.2)))
        XCTAssertTrue(plain.parameters.isEmpty)
        let scaled = config(real.config, ["use_scale": .bool(true), "score_mode": .string("concat")])
        let mapped = try KerasAttentionFamily.map(context(real.className, scaled, weights: [
            ("scale", Tensor(shape: [], floats: [2])), ("concat_score_weight", Tensor(shape: [], floats: [3]))]))
        XCTAssertEqual(mapped.parameters["scale"]?.doubles(), [2])
        XCTAssertEqual(mapped.parameters["concatScoreWeight"]?.doubles(), [3])
        XCTAssertThrowsError(try KerasAttentionFamily.map(context(real.className, scaled, weights: [])))
    }
}
