import Foundation
import XCTest
import GraftCore
import GraftRuntime
@testable import GraftSurgery
import GraftTestSupport

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

/// YAML recipes: the same document as JSON, read into the same JSON value.
final class YAMLRecipeTests: TemporaryDirectoryTestCase {
    /// The scratch folder (`temp`).
    var directory: URL { temp }

    func write(_ text: String, _ name: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let json = """
    {"ops": [
      {"op": "widen", "layer": "rnn_1", "by": 3, "mode": "split", "seed": 7},
      {"op": "freeze", "upTo": "rnn_1"},
      {"op": "fineTune", "updater": "nesterovs", "learningRate": 5e-5, "l2": 0.0001},
      {"op": "insertLayer", "after": "rnn_1", "name": "lstm_2", "layer": {"type": "lstm", "units": 6, "returnSequences": true}, "init": {"name": "uniform", "low": -0.1, "high": 0.1}},
      {"op": "unfreeze", "names": ["rnn_1"]}
    ]}
    """
    static let yaml = """
    # The same recipe as JSON above.
    ops:
      - op: widen
        layer: rnn_1
        by: 3
        mode: split
        seed: 7
      - {op: freeze, upTo: rnn_1}
      - op: fineTune
        updater: nesterovs
        learningRate: 5e-5
        l2: 0.0001
      - op: insertLayer
        after: rnn_1
        name: lstm_2
        layer: {type: lstm, units: 6, returnSequences: true}
        init:
          name: uniform
          low: -0.1
          high: 0.1
      - op: unfreeze
        names: [rnn_1]
    """

    func testYAMLRecipeGivesTheSameGraphAsJSON() throws {
        let g = TestGraphs.sequenceModel(TestGraphs.lstm(peepholes: true))
        let fromJSON = try Recipe.load(path: try write(Self.json, "r.json")).apply(to: g)
        for name in ["r.yaml", "r.yml", "r.recipe"] {
            let recipe = try Recipe.load(path: try write(Self.yaml, name))
            XCTAssertEqual(recipe.steps.map(\.op), ["widen", "freeze", "fineTune", "insertLayer", "unfreeze"], name)
            let fromYAML = try recipe.apply(to: g)
            XCTAssertEqual(fromYAML.nodes, fromJSON.nodes, name)
            XCTAssertEqual(fromYAML.history, fromJSON.history, name)
            for (a, b) in zip(fromYAML.nodes, fromJSON.nodes) { XCTAssertEqual(a.parameters, b.parameters, "\(name): \(a.name)") }
        }
        XCTAssertEqual(fromJSON.history[2].arguments["config"]?["learningRate"]?.doubleValue, 5e-5)
        // A JSON file without the .json extension is recognised by its content.
        XCTAssertEqual(try Recipe.load(path: try write(Self.json, "r.recipe")).steps.count, 5)
    }

    func testMalformedYAMLNamesFileAndLine() throws {
        let path = try write("ops:\n  - op: widen\n    layer: [rnn_1\n    by: 3\n", "bad.yaml")
        assertGraftError(.malformed, mentioning: "bad.yaml") { try Recipe.load(path: path) }
        do { _ = try Recipe.load(path: path); XCTFail("parsed") } catch let e as GraftError {
            XCTAssertEqual(e.file, path)
            XCTAssertTrue(e.location?.hasPrefix("line ") ?? false, "\(e)")
        }
        let tab = try write("ops:\n\t- op: widen\n", "tab.yml")
        assertGraftError(.malformed, mentioning: "line 2") { try Recipe.load(path: tab) }
        // A well-formed document with a bad step names the step's line.
        let unknown = try write("ops:\n  - op: freeze\n    names: [a]\n  - op: explode\n", "unknown.yaml")
        assertGraftError(.invalidArgument, mentioning: "ops[1], line 4") { try Recipe.load(path: unknown) }
        let badArgument = try write("ops:\n  - op: widen\n    layer: x\n    by: three\n", "arg.yaml")
        assertGraftError(.invalidArgument, mentioning: "ops[0] (widen), line 2") { try Recipe.load(path: badArgument) }
        assertGraftError(.invalidArgument, mentioning: "arg.yaml") { try Recipe.load(path: badArgument) }
        assertGraftError(.malformed, mentioning: "duplicate") { try Recipe.parse(yaml: "ops:\n  - op: widen\n    op: prune\n") }
        assertGraftError(.io, mentioning: "missing.yaml") { try Recipe.load(path: directory.appendingPathComponent("missing.yaml").path) }
    }
}
