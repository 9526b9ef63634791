import XCTest
import GraftCore
import GraftRuntime
@testable import GraftSurgery

final class RecipeTests: XCTestCase {
    func testScenarioRecipe() throws {
        let g = TestGraphs.sequenceModel(TestGraphs.lstm(peepholes: true))
        let recipe = try Recipe.parse(json: """
        {"ops": [
          {"op": "widen", "layer": "rnn_1", "by": 3, "mode": "zero-fan-out"},
          {"op": "freeze", "upTo": "rnn_1"},
          {"op": "insertLayer", "after": "rnn_1", "name": "lstm_2", "layer": {"type": "lstm", "units": 6}, "init": "xavier", "seed": 7},
          {"op": "fineTune", "updater": "adam", "learningRate": 0.001}
        ]}
        """)
        XCTAssertEqual(recipe.steps.map(\.op), ["widen", "freeze", "insertLayer", "fineTune"])
        let out = try recipe.apply(to: g)
        XCTAssertEqual(out.nodes.map(\.name), ["in", "rnn_1", "lstm_2", "out"])
        XCTAssertEqual(out.node(named: "rnn_1")!.freeze, .frozen)
        XCTAssertEqual(out.node(named: "lstm_2")!.parameters["kernel"]!.shape, [8, 24])
        XCTAssertEqual(out.history.map(\.operation), ["widen", "freeze", "insertLayer", "fineTune"])
        XCTAssertNoThrow(try out.validate())
        // The widen step alone keeps the function.
        let widened = try Recipe.parse(json: #"{"ops":[{"op":"widen","layer":"rnn_1","by":3}]}"#).apply(to: g)
        try assertSameFunction(g, widened, inputs: [TestGraphs.random([2, 4, 3], seed: 3, scale: 1)])
    }

    func testEveryOperationParses() throws {
        let steps = [
            #"{"op":"setFeatureExtractor","names":["fc1"]}"#,
            #"{"op":"nOutReplace","layer":"fc2","nOut":7,"weightInit":"xavier","fanOutWeightInit":"zeros"}"#,
            #"{"op":"removeOutputLayer"}"#,
            #"{"op":"removeLayersFromOutput","n":1}"#,
            #"{"op":"removeVertexKeepConnections","name":"drop"}"#,
            #"{"op":"removeVertexAndConnections","name":"fc2"}"#,
            #"{"op":"addLayer","name":"new_dense","layer":{"type":"dense","units":16,"activation":"relu"},"inputs":["fc2"]}"#,
            #"{"op":"addVertex","name":"sum","vertex":{"type":"add"},"inputs":["a","b"]}"#,
            #"{"op":"setOutputs","names":["fc2"]}"#,
            #"{"op":"setInputPreProcessor","layer":"fc1","preprocessor":{"type":"rnnToFeedForward"}}"#,
            #"{"op":"fineTune","updater":"nesterovs","learningRate":0.01,"l2":0.0001,"seed":3}"#,
            #"{"op":"widen","layer":"fc1","by":2,"mode":"split","noise":0.01}"#,
            #"{"op":"prune","layer":"fc1","units":[0,2]}"#,
            #"{"op":"insertLayer","after":"fc1","name":"deeper","layer":{"type":"dense","units":6,"activation":"relu"},"init":"identity"}"#,
            #"{"op":"replaceLayer","name":"fc2","layer":{"type":"dense","units":9}}"#,
            #"{"op":"rename","from":"fc1","to":"hidden"}"#,
            #"{"op":"freeze","regex":"^fc"}"#,
            #"{"op":"unfreeze","names":["fc1"]}"#,
        ]
        let recipe = try Recipe.parse(json: "{\"ops\": [\(steps.joined(separator: ","))]}")
        XCTAssertEqual(Set(recipe.steps.map(\.op)), Set(SurgeryOperations.table.keys))
    }

    func testBadRecipesNameTheStep() {
        assertGraftError(.invalidArgument, mentioning: "ops[0]") { try Recipe.parse(json: #"{"ops":[{"op":"explode"}]}"#) }
        assertGraftError(.invalidArgument, mentioning: "by") { try Recipe.parse(json: #"{"ops":[{"op":"widen","layer":"x"}]}"#) }
        assertGraftError(.invalidArgument, mentioning: "bogus") { try Recipe.parse(json: #"{"ops":[{"op":"widen","layer":"x","by":1,"bogus":2}]}"#) }
        assertGraftError(.invalidArgument, mentioning: "mode") { try Recipe.parse(json: #"{"ops":[{"op":"widen","layer":"x","by":1,"mode":"wide"}]}"#) }
        assertGraftError(.invalidArgument, mentioning: "type") {
            try Recipe.parse(json: #"{"ops":[{"op":"addLayer","name":"n","layer":{"type":"warp"},"inputs":["a"]}]}"#)
        }
        assertGraftError(.invalidArgument, mentioning: "ops") { try Recipe.parse(json: #"{"steps":[]}"#) }
        let g = TestGraphs.sequenceModel(TestGraphs.lstm())
        assertGraftError(.invalidArgument, mentioning: "ops[1] (widen)") {
            try Recipe.parse(json: #"{"ops":[{"op":"freeze","names":["rnn_1"]},{"op":"widen","layer":"missing","by":1}]}"#).apply(to: g)
        }
    }

    func testOpNotationRoundTrip() throws {
        for text in [#"{"type":"dense","units":16,"activation":"relu"}"#, #"{"type":"gravesLSTM","units":4}"#,
                     #"{"type":"conv2d","filters":8,"kernelSize":[3,3],"padding":"same","activation":"relu"}"#,
                     #"{"type":"output","kind":"rnn","units":5,"activation":"softmax","loss":"MCXENT"}"#,
                     #"{"type":"bidirectional","mergeMode":"concat","layer":{"type":"gru","units":3}}"#] {
            let op = try OpNotation.parse(try JSONValue.parse(text))
            XCTAssertEqual(try OpNotation.parse(OpNotation.json(op)), op, text)
        }
    }

    func testForeignLayerParserHook() throws {
        let parser: Recipe.ForeignLayerParser = { json in
            guard json["class_name"]?.stringValue == "Dense", let units = json["config"]?["units"]?.intValue else {
                throw GraftError(.unsupported, "test parser knows Dense only")
            }
            return .dense(DenseAttributes(units: units))
        }
        let r = try Recipe.parse(json: #"{"ops":[{"op":"addLayer","name":"k","layer":{"class_name":"Dense","config":{"units":3}},"inputs":["fc2"]}]}"#,
                                 foreignLayers: parser)
        let out = try r.apply(to: TransferLearningTests.vggHead())
        XCTAssertEqual(out.node(named: "k")!.op, .dense(DenseAttributes(units: 3)))
        assertGraftError(.invalidArgument, mentioning: "type") {
            try Recipe.parse(json: #"{"ops":[{"op":"addLayer","name":"k","layer":{"class_name":"Dense"},"inputs":["fc2"]}]}"#)
        }
    }
}
