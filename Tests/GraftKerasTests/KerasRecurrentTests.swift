import GraftCore
@testable import GraftKeras
import OrderedCollections
import XCTest

final class KerasRecurrentTests: XCTestCase {
    /// Keras 1 stores one W/U/b per gate, file order i, c, f, o. Each gate's arrays hold
    /// gate·100 + row·10 + column, so every canonical element says where it came from.
    func testKeras1LSTMGatesReorderedToIFCO() throws {
        let real = try CorpusLayers.layer("lstm_1", in: "keras/examples/simple_lstm/simple_lstm_tf_keras_1_config.json")
        XCTAssertEqual(real.className, "LSTM")
        let config = configWith(real.config, ["output_dim": .number("2"), "input_dim": .number("3")])
        let gateValue: [String: Float] = ["i": 1, "f": 2, "c": 3, "o": 4]
        var weights: [(String, Tensor)] = []
        for g in ["i", "c", "f", "o"] {  // Keras 1 file order
            let v = gateValue[g]! * 100
            weights.append(("lstm_1_W_\(g):0", testTensor([3, 2]) { v + Float(($0 / 2) * 10 + $0 % 2) }))
            weights.append(("lstm_1_U_\(g):0", testTensor([2, 2]) { v + 50 + Float(($0 / 2) * 10 + $0 % 2) }))
            weights.append(("lstm_1_b_\(g):0", testTensor([2]) { v + 90 + Float($0) }))
        }
        let (op, params) = try KerasRecurrentFamily.map(layerContext("LSTM", config, producer: Producers.keras1, weights: weights))
        guard case .lstm(let a) = op else { return XCTFail("not an LSTM: \(op)") }
        XCTAssertEqual(a.recurrent.units, 2)
        XCTAssertEqual(a.recurrent.activation, .tanh)
        XCTAssertEqual(a.recurrent.recurrentActivation, .hardSigmoid(slope: 0.2, offset: 0.5))  // inner_activation
        XCTAssertFalse(a.recurrent.returnSequences)
        XCTAssertEqual(Array(params.keys), ["kernel", "recurrentKernel", "bias"])

        let order: [Float] = [1, 2, 3, 4]  // i, f, c, o
        var kernel: [Float] = [], recurrent: [Float] = [], bias: [Float] = []
        for r in 0..<3 { for g in order { for c in 0..<2 { kernel.append(g * 100 + Float(r * 10 + c)) } } }
        for r in 0..<2 { for g in order { for c in 0..<2 { recurrent.append(g * 100 + 50 + Float(r * 10 + c)) } } }
        for g in order { for c in 0..<2 { bias.append(g * 100 + 90 + Float(c)) } }
        XCTAssertEqual(params["kernel"]?.shape, [3, 8])
        XCTAssertEqual(params["kernel"]?.floats(), kernel)
        XCTAssertEqual(params["recurrentKernel"]?.floats(), recurrent)
        XCTAssertEqual(params["bias"]?.floats(), bias)

        // Found by name, not by position: a shuffled file gives the same result.
        let shuffled = layerContext("LSTM", config, producer: Producers.keras1, weights: weights.reversed())
        let again = try KerasRecurrentFamily.map(shuffled).parameters
        XCTAssertEqual(again["kernel"]?.floats(), kernel)
        XCTAssertEqual(again["bias"]?.floats(), bias)
    }

    /// The full-size real Keras 1 layer (50 units, 1 input) with one constant per gate.
    func testKeras1LSTMRealSizeConstantGates() throws {
        let real = try CorpusLayers.layer("lstm_1", in: "keras/examples/simple_lstm/simple_lstm_tf_keras_1_config.json")
        var weights: [(String, Tensor)] = []
        for (g, v) in [("i", Float(1)), ("c", 3), ("f", 2), ("o", 4)] {
            weights += [("lstm_1_W_\(g)", testTensor([1, 50]) { _ in v }), ("lstm_1_U_\(g)", testTensor([50, 50]) { _ in v }),
                        ("lstm_1_b_\(g)", testTensor([50]) { _ in v })]
        }
        let params = try KerasRecurrentFamily.map(layerContext("LSTM", real.config, producer: Producers.keras1, weights: weights)).parameters
        let expected = [Float](repeating: 1, count: 50) + [Float](repeating: 2, count: 50)
            + [Float](repeating: 3, count: 50) + [Float](repeating: 4, count: 50)
        XCTAssertEqual(params["kernel"]?.floats(), expected)
        XCTAssertEqual(params["bias"]?.floats(), expected)
        XCTAssertEqual(params["recurrentKernel"]?.shape, [50, 200])
        XCTAssertEqual(Array(params["recurrentKernel"]!.floats()[200..<400]), expected)
    }

    /// Keras 2 (Theano backend) LSTM: three arrays, already canonical, passed through bit for bit.
    func testKeras2LSTMPassesThrough() throws {
        let real = try CorpusLayers.layer("lstm_1", in: "keras/fullconfigs/lstm/lstm_th_keras_2_config.json")
        let u = try XCTUnwrap(real.config["units"]?.intValue)
        let kernel = testTensor([12, 4 * u]), recurrent = testTensor([u, 4 * u]) { Float($0) * 0.5 }, bias = testTensor([4 * u])
        let (op, params) = try KerasRecurrentFamily.map(layerContext("LSTM", real.config, producer: Producers.keras2Theano,
            weights: [("lstm_1/kernel", kernel), ("lstm_1/recurrent_kernel", recurrent), ("lstm_1/bias", bias)]))
        guard case .lstm(let a) = op else { return XCTFail("\(op)") }
        XCTAssertEqual(a.recurrent.recurrentActivation, .keras2HardSigmoid)
        XCTAssertTrue(a.recurrent.returnSequences)
        XCTAssertTrue(params["kernel"]!.bitwiseEqual(kernel))
        XCTAssertTrue(params["recurrentKernel"]!.bitwiseEqual(recurrent))
        XCTAssertTrue(params["bias"]!.bitwiseEqual(bias))
    }

    /// Keras 3 reads `hard_sigmoid` as x/6 + 1/2; tf.keras as 0.2x + 1/2.
    func testHardSigmoidFollowsProducer() throws {
        let real = try CorpusLayers.layer("lstm_1", in: "keras/fullconfigs/lstm/lstm_th_keras_2_config.json")
        let u = real.config["units"]!.intValue!
        let w: [(String, Tensor)] = [("0", testTensor([12, 4 * u])), ("1", testTensor([u, 4 * u])), ("2", testTensor([4 * u]))]
        let op3 = try KerasRecurrentFamily.map(layerContext("LSTM", real.config, producer: Producers.keras3, weights: w)).op
        guard case .lstm(let a3) = op3 else { return XCTFail() }
        XCTAssertEqual(a3.recurrent.recurrentActivation, .hardSigmoid(slope: 1.0 / 6.0, offset: 0.5))
        // Absent gate activation: the producer's default.
        var stripped = real.config.objectValue!
        stripped.removeValue(forKey: "recurrent_activation")
        let opTF = try KerasRecurrentFamily.map(layerContext("LSTM", .object(stripped), producer: Producers.tfKeras, weights: w)).op
        let opK2 = try KerasRecurrentFamily.map(layerContext("LSTM", .object(stripped), producer: Producers.keras2, weights: w)).op
        guard case .lstm(let tf) = opTF, case .lstm(let k2) = opK2 else { return XCTFail() }
        XCTAssertEqual(tf.recurrent.recurrentActivation, .sigmoid)
        XCTAssertEqual(k2.recurrent.recurrentActivation, .keras2HardSigmoid)
    }

    /// tf.keras GRU with reset_after: bias [2, 3u] kept as is.
    func testTFKerasGRUResetAfter() throws {
        let real = try CorpusLayers.layer("gru_a", in: "modern/gru/gru__tfkeras.h5")
        XCTAssertEqual(real.className, "GRU")
        let bias = testTensor([2, 24])
        let (op, params) = try KerasRecurrentFamily.map(layerContext("GRU", real.config, producer: Producers.tfKeras,
            weights: [("gru_a/gru_cell/kernel:0", testTensor([4, 24])), ("gru_a/gru_cell/recurrent_kernel:0", testTensor([8, 24])),
                      ("gru_a/gru_cell/bias:0", bias)]))
        guard case .gru(let a) = op else { return XCTFail("\(op)") }
        XCTAssertTrue(a.resetAfter)
        XCTAssertEqual(a.recurrent.units, 8)
        XCTAssertTrue(a.recurrent.returnSequences)
        XCTAssertEqual(a.recurrent.recurrentActivation, .sigmoid)
        XCTAssertTrue(params["bias"]!.bitwiseEqual(bias))
    }

    /// Without `reset_after` in the config: the bias shape decides, else the producer default.
    func testGRUResetAfterDefaults() throws {
        var cfg = try CorpusLayers.layer("gru_a", in: "modern/gru/gru__tfkeras.h5").config.objectValue!
        cfg.removeValue(forKey: "reset_after")
        func resetAfter(_ producer: KerasProducer, _ weights: [(String, Tensor)], useBias: Bool = true) throws -> Bool {
            var c = cfg
            c["use_bias"] = .bool(useBias)
            guard case .gru(let a) = try KerasRecurrentFamily.map(layerContext("GRU", .object(c), producer: producer, weights: weights)).op
            else { throw GraftError(.invalidArgument, "not a GRU") }
            return a.resetAfter
        }
        let k = ("kernel", testTensor([4, 24])), r = ("recurrent_kernel", testTensor([8, 24]))
        XCTAssertFalse(try resetAfter(Producers.keras2, [k, r, ("bias", testTensor([24]))]))
        XCTAssertTrue(try resetAfter(Producers.keras2, [k, r, ("bias", testTensor([2, 24]))]))
        XCTAssertFalse(try resetAfter(Producers.keras2, [k, r], useBias: false))
        XCTAssertTrue(try resetAfter(Producers.tfKeras, [k, r], useBias: false))
        XCTAssertTrue(try resetAfter(Producers.keras3, [k, r], useBias: false))
    }

    /// Keras 1 GRU: 9 arrays W/U/b for z, r, h, concatenated in that order.
    func testKeras1GRU() throws {
        let real = try CorpusLayers.layer("lstm_1", in: "keras/examples/simple_lstm/simple_lstm_tf_keras_1_config.json")
        let config = configWith(real.config, ["output_dim": .number("2")])
        var weights: [(String, Tensor)] = []
        for (g, v) in [("z", Float(1)), ("r", 2), ("h", 3)] {
            weights += [("gru_1_W_\(g)", testTensor([1, 2]) { v * 10 + Float($0) }), ("gru_1_U_\(g)", testTensor([2, 2]) { _ in v }),
                        ("gru_1_b_\(g)", testTensor([2]) { _ in -v })]
        }
        let (op, params) = try KerasRecurrentFamily.map(layerContext("GRU", config, producer: Producers.keras1, weights: weights))
        guard case .gru(let a) = op else { return XCTFail("\(op)") }
        XCTAssertFalse(a.resetAfter)
        XCTAssertEqual(params["kernel"]?.floats(), [10, 11, 20, 21, 30, 31])
        XCTAssertEqual(params["bias"]?.floats(), [-1, -1, -2, -2, -3, -3])
        XCTAssertEqual(params["recurrentKernel"]?.floats(), [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3])
    }

    /// Keras 1 SimpleRNN: W, U, b.
    func testKeras1SimpleRNN() throws {
        let real = try CorpusLayers.layer("simplernn_1", in: "keras/weights/simple_rnn_theano_1.h5")
        let w = testTensor([1, 6]), u = testTensor([6, 6]), b = testTensor([6])
        let (op, params) = try KerasRecurrentFamily.map(layerContext("SimpleRNN", real.config, producer: Producers.keras1,
            weights: [("simplernn_1_W", w), ("simplernn_1_U", u), ("simplernn_1_b", b)]))
        guard case .simpleRNN(let a) = op else { return XCTFail("\(op)") }
        XCTAssertEqual(a.units, 6)
        XCTAssertEqual(a.activation, .tanh)
        XCTAssertTrue(params["kernel"]!.bitwiseEqual(w))
        XCTAssertTrue(params["recurrentKernel"]!.bitwiseEqual(u))
        XCTAssertTrue(params["bias"]!.bitwiseEqual(b))
    }

    /// CuDNN layers: each gate block of a kernel is C-ordered bytes of a [u, rows] matrix
    /// applied as W·x, so canonical block = reshape(block, [u, rows])ᵀ; recurrent blocks are
    /// transposed. With in = 2, u = 3 and stored kernel = arange(18) as [2, 9], gate z's
    /// block [[0,1,2],[9,10,11]] reads as W = [[0,1],[2,9],[10,11]], canonical [[0,2,10],[1,9,11]].
    func testCuDNNGRUWeights() throws {
        let cfg = JSONValue.object(["name": .string("cu"), "units": .number("3")])
        for className in ["CuDNNGRU", "GRU"] {  // a GRU config with CuDNN weights is read the same way
            let (op, p) = try KerasRecurrentFamily.map(layerContext(className, cfg, producer: Producers.keras2, weights: [
                ("kernel:0", testTensor([2, 9])), ("recurrent_kernel:0", testTensor([3, 9])), ("bias:0", testTensor([18]))]))
            guard case .gru(let a) = op else { return XCTFail() }
            XCTAssertTrue(a.resetAfter)
            XCTAssertEqual(p["kernel"]?.floats(), [0, 2, 10, 3, 5, 13, 6, 8, 16,
                                                   1, 9, 11, 4, 12, 14, 7, 15, 17])
            XCTAssertEqual(Array(p["recurrentKernel"]!.floats()[0..<9]), [0, 9, 18, 3, 12, 21, 6, 15, 24])
            XCTAssertEqual(p["bias"]?.shape, [2, 9])
            XCTAssertEqual(p["bias"]?.floats(), (0..<18).map(Float.init))
        }
    }

    /// CuDNNLSTM: the same block conversion for 4 gates; the [8u] bias is input + recurrent bias.
    func testCuDNNLSTMWeights() throws {
        let cfg = JSONValue.object(["name": .string("cu"), "units": .number("1"), "return_sequences": .bool(false)])
        // u = 1: kernel blocks are [rows, 1] columns, unchanged by the conversion.
        let (op, p) = try KerasRecurrentFamily.map(layerContext("CuDNNLSTM", cfg, producer: Producers.keras2, weights: [
            ("kernel:0", testTensor([3, 4])), ("recurrent_kernel:0", testTensor([1, 4])), ("bias:0", testTensor([8]))]))
        guard case .lstm(let a) = op else { return XCTFail() }
        XCTAssertEqual(a.recurrent.recurrentActivation, .sigmoid)
        XCTAssertEqual(p["kernel"]?.floats(), (0..<12).map(Float.init))
        XCTAssertEqual(p["bias"]?.floats(), [4, 6, 8, 10])
        // u = 2, in = 1: gate i block [[0, 1]] reads as W = [[0], [1]], canonical [[0, 1]] —
        // but the recurrent block [[0, 1], [8, 9]] is transposed to [[0, 8], [1, 9]].
        let cfg2 = JSONValue.object(["name": .string("cu"), "units": .number("2")])
        let q = try KerasRecurrentFamily.map(layerContext("LSTM", cfg2, producer: Producers.keras2, weights: [
            ("kernel:0", testTensor([1, 8])), ("recurrent_kernel:0", testTensor([2, 8])), ("bias:0", testTensor([16]))])).parameters
        XCTAssertEqual(q["kernel"]?.floats(), (0..<8).map(Float.init))
        XCTAssertEqual(q["recurrentKernel"]?.floats(), [0, 8, 2, 10, 4, 12, 6, 14, 1, 9, 3, 11, 5, 13, 7, 15])
        XCTAssertEqual(q["bias"]?.floats(), (0..<8).map { Float($0 + $0 + 8) })
    }

    func testWrongShapesAreClearErrors() throws {
        let real = try CorpusLayers.layer("lstm_1", in: "keras/fullconfigs/lstm/lstm_th_keras_2_config.json")
        assertGraftError(.shapeMismatch) {
            _ = try KerasRecurrentFamily.map(layerContext("LSTM", real.config, producer: Producers.keras2,
                weights: [("kernel", testTensor([12, 10])), ("recurrent_kernel", testTensor([96, 384])), ("bias", testTensor([384]))]))
        }
        assertGraftError(.missingWeights) {
            _ = try KerasRecurrentFamily.map(layerContext("LSTM", real.config, producer: Producers.keras2, weights: [("kernel", testTensor([12, 384]))]))
        }
    }
}
