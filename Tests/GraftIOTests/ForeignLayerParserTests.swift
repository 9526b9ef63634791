import GraftCore
import GraftIO
import XCTest

/// Layers given in Keras or DL4J notation become IR ops through the readers' families.
final class ForeignLayerParserTests: XCTestCase {
    func parse(_ text: String) throws -> Op { try ForeignLayerParser.parse(json: try JSONValue.parse(text)) }

    func testKerasConfigs() throws {
        XCTAssertEqual(try parse(#"{"class_name": "Dense", "config": {"units": 7, "activation": "relu"}}"#),
                       .dense(DenseAttributes(units: 7, activation: .plainRelu)))
        guard case .lstm(let lstm) = try parse(#"{"class_name": "LSTM", "config": {"units": 5, "return_sequences": true}}"#) else {
            return XCTFail("not an LSTM")
        }
        XCTAssertEqual(lstm.recurrent.units, 5)
        XCTAssertTrue(lstm.recurrent.returnSequences)
        XCTAssertEqual(try parse(#"{"class_name": "Dropout", "config": {"rate": 0.5}}"#).kindName, "dropout")
        XCTAssertThrowsError(try parse(#"{"class_name": "NoSuchLayer", "config": {}}"#))
    }

    func testDL4JConfigs() throws {
        let modern = try parse(#"{"@class": "org.deeplearning4j.nn.conf.layers.DenseLayer", "nin": 4, "nout": 3, "activationFn": {"@class": "org.nd4j.linalg.activations.impl.ActivationTanH"}}"#)
        XCTAssertEqual(modern, .dense(DenseAttributes(units: 3, activation: .tanh)))
        let legacy = try parse(#"{"dense": {"nin": 4, "nout": 3, "activationFn": {"TanH": {}}}}"#)
        XCTAssertEqual(legacy, modern)
        XCTAssertThrowsError(try parse(#"{"@class": "com.example.Custom"}"#))
    }
}
