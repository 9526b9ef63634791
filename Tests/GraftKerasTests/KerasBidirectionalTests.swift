import GraftCore
@testable import GraftKeras
import OrderedCollections
import XCTest

final class KerasBidirectionalTests: XCTestCase {
    /// Keras 1: 24 arrays, forward LSTM's 12 then backward's, named `forward_lstm_1_W_i` …
    func testKeras1BidirectionalLSTM() throws {
        let real = try CorpusLayers.layer("bidirectional_1", in: "keras/weights/bidirectional_lstm_theano_1.h5")
        XCTAssertEqual(real.className, "Bidirectional")
        var weights: [(String, Tensor)] = []
        for (direction, base) in [("forward", Float(0)), ("backward", Float(100))] {
            for (g, v) in [("i", Float(1)), ("c", 3), ("f", 2), ("o", 4)] {
                weights += [("\(direction)_lstm_1_W_\(g)", testTensor([10, 10]) { _ in base + v }),
                            ("\(direction)_lstm_1_U_\(g)", testTensor([10, 10]) { _ in base + v }),
                            ("\(direction)_lstm_1_b_\(g)", testTensor([10]) { _ in base + v })]
            }
        }
        let (op, params) = try KerasBidirectionalFamily.map(layerContext("Bidirectional", real.config, producer: Producers.keras1,
                                                                    weights: weights, name: "bidirectional_1"))
        guard case .bidirectional(let a) = op, case .lstm(let inner) = a.layer else { return XCTFail("\(op)") }
        XCTAssertEqual(a.mergeMode, .concat)
        XCTAssertEqual(inner.recurrent.units, 10)
        XCTAssertFalse(inner.recurrent.goBackwards)
        XCTAssertTrue(inner.recurrent.returnSequences)
        XCTAssertEqual(Array(params.keys), ["forward/kernel", "forward/recurrentKernel", "forward/bias",
                                            "backward/kernel", "backward/recurrentKernel", "backward/bias"])
        let blocks: (Float) -> [Float] = { base in [1, 2, 3, 4].flatMap { [Float](repeating: base + $0, count: 10) } }
        XCTAssertEqual(params["forward/bias"]?.floats(), blocks(0))
        XCTAssertEqual(params["backward/bias"]?.floats(), blocks(100))
        XCTAssertEqual(Array(params["backward/kernel"]!.floats()[0..<40]), blocks(100))
    }

    /// Keras 3: `backward_layer` with go_backwards true equals the forward layer reversed.
    func testKeras3BidirectionalWithBackwardLayer() throws {
        let real = try CorpusLayers.layer("bi_a", in: "modern/bilstm/bilstm__keras3.keras")
        XCTAssertNotNil(real.config["backward_layer"])
        let w: [(String, Tensor)] = [
            ("forward_layer/cell/vars/0", testTensor([4, 20])), ("forward_layer/cell/vars/1", testTensor([5, 20])),
            ("forward_layer/cell/vars/2", testTensor([20])),
            ("backward_layer/cell/vars/0", testTensor([4, 20]) { -Float($0) }), ("backward_layer/cell/vars/1", testTensor([5, 20])),
            ("backward_layer/cell/vars/2", testTensor([20]))]
        let (op, params) = try KerasBidirectionalFamily.map(layerContext("Bidirectional", real.config, producer: Producers.keras3, weights: w))
        guard case .bidirectional(let a) = op, case .lstm(let inner) = a.layer else { return XCTFail("\(op)") }
        XCTAssertFalse(inner.recurrent.goBackwards)
        XCTAssertEqual(inner.recurrent.units, 5)
        XCTAssertTrue(params["backward/kernel"]!.bitwiseEqual(w[3].1))

        // merge_mode null: two outputs.
        let none = configWith(real.config, ["merge_mode": .null])
        guard case .bidirectional(let n) = try KerasBidirectionalFamily.map(layerContext("Bidirectional", none, producer: Producers.keras3, weights: w)).op
        else { return XCTFail() }
        XCTAssertEqual(n.mergeMode, .none)
        let sum = configWith(real.config, ["merge_mode": .string("ave")])
        guard case .bidirectional(let s) = try KerasBidirectionalFamily.map(layerContext("Bidirectional", sum, producer: Producers.keras3, weights: w)).op
        else { return XCTFail() }
        XCTAssertEqual(s.mergeMode, .average)
    }

    func testUnknownWrappedLayerIsNamed() throws {
        let real = try CorpusLayers.layer("bidirectional_1", in: "keras/weights/bidirectional_lstm_theano_1.h5")
        let inner = JSONValue.object(["class_name": .string("RNN"), "config": .object(["name": .string("c")])])
        do {
            _ = try KerasBidirectionalFamily.map(layerContext("Bidirectional", configWith(real.config, ["layer": inner]), producer: Producers.keras1))
            XCTFail("expected an error")
        } catch let e as GraftError {
            XCTAssertEqual(e.kind, .unknownLayer)
            XCTAssertEqual(e.found, "RNN")
        }
    }
}
