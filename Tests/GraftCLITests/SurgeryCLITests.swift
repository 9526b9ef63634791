import Foundation
import XCTest
import GraftCore
import GraftIO
import GraftTestSupport

/// End-to-end tests of the surgery commands: apply, predict --from, render --before.
final class SurgeryCLITests: TemporaryDirectoryTestCase {

    func graft(_ arguments: String...) throws -> CLITests.Result { try CLITests.run(arguments) }

    func write(_ text: String, _ name: String) throws -> String {
        let path = temp.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    let model = CLITests.fixture("lstm_timeseries.h5")
    let io = CLITests.fixture("lstm_timeseries_io.npz")

    /// The question's scenario: widen `lstm` by 3 (zero-fan-out), save, and the saved model
    /// still computes what Keras computed (and what the original computes).
    func testApplyWidenLSTMPreservesOutputs() throws {
        let recipe = try write(#"{"ops": [{"op": "widen", "layer": "lstm", "by": 3, "mode": "zero-fan-out"}, {"op": "freeze", "upTo": "lstm"}]}"#, "r.json")
        let dry = try graft("apply", model, recipe, "--dry-run")
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertTrue(dry.stdout.contains("widen") && dry.stdout.contains("preserves the function"), dry.stdout)
        XCTAssertTrue(dry.stdout.contains("lstm"), dry.stdout)

        let out = temp.appendingPathComponent("wide.h5").path
        let r = try graft("apply", model, recipe, "--output", out)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + ".graft.json"))
        let inspect = try graft("inspect", out)
        XCTAssertTrue(inspect.stdout.contains("9"), inspect.stdout)  // 6 + 3 units
        let verify = try graft("verify", model, out)
        XCTAssertEqual(verify.status, 0, verify.stdout + verify.stderr)
        let predict = try graft("predict", out, "--input", io, "--compare", io, "--atol", "1e-6", "--rtol", "0")
        XCTAssertEqual(predict.status, 0, predict.stdout + predict.stderr)

        // Exported to the other format (DL4J zip), still the same function.
        let zip = temp.appendingPathComponent("wide.zip").path
        let toDL4J = try graft("apply", model, recipe, "--output", zip)
        XCTAssertEqual(toDL4J.status, 0, toDL4J.stderr)
        let verifyZip = try graft("verify", model, zip)
        XCTAssertEqual(verifyZip.status, 0, verifyZip.stdout + verifyZip.stderr)
    }

    /// The same scenario starting from a DL4J model (the Keras fixture converted to a DL4J zip):
    /// widen its LSTM by 3, then add an untrained LSTM layer in DL4J notation, export to Keras.
    func testApplyOnDL4JModel() throws {
        let dl4j = temp.appendingPathComponent("base.zip").path
        let convert = try graft("convert", model, dl4j)
        XCTAssertEqual(convert.status, 0, convert.stderr)
        let names = try graft("inspect", dl4j).stdout
        guard let lstmName = names.split(separator: "\n").map({ $0.split(separator: " ").map(String.init) })
            .first(where: { $0.count > 1 && $0[1] == "lstm" })?.first else {
            return XCTFail("no lstm layer in \(names)")
        }
        let widen = try write(#"{"ops": [{"op": "widen", "layer": "\#(lstmName)", "by": 3}]}"#, "w.json")
        let wide = temp.appendingPathComponent("wide.zip").path
        let r = try graft("apply", dl4j, widen, "--output", wide)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try graft("verify", dl4j, wide).status, 0)
        let deeper = try write(#"""
            {"ops": [{"op": "insertLayer", "after": "\#(lstmName)", "name": "lstm_new", "init": "glorotUniform",
                      "layer": {"@class": "org.deeplearning4j.nn.conf.layers.LSTM", "nin": 9, "nout": 5,
                                "activationFn": {"@class": "org.nd4j.linalg.activations.impl.ActivationTanH"}}}]}
            """#, "d.json")
        let keras = temp.appendingPathComponent("deeper.h5").path
        let d = try graft("apply", wide, deeper, "--output", keras)
        XCTAssertEqual(d.status, 0, d.stdout + d.stderr)
        XCTAssertTrue(try graft("inspect", keras).stdout.contains("lstm_new"))
    }

    /// A new layer given as a Keras config is added through the foreign-layer hook.
    func testApplyAddsKerasConfigLayer() throws {
        let recipe = try write(#"""
            {"ops": [{"op": "insertLayer", "after": "lstm", "name": "lstm_new", "layer": {"class_name": "LSTM", "config": {"name": "lstm_new", "units": 6, "return_sequences": true}}, "init": "glorotUniform"}]}
            """#, "r.json")
        let r = try graft("apply", model, recipe, "--dry-run")
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("insertLayer") && r.stdout.contains("changes the function"), r.stdout)
    }

    /// Invalid requests fail with a clear error (exit 2, naming what is wrong) and leave no
    /// output file and no manifest, whichever output format was asked for.
    func testInvalidRequestsFailAndWriteNothing() throws {
        let mlp = CLITests.fixture("mlp.h5")  // features(10) → hidden(16) → dropout → probabilities(3)
        let residual = try residualModel()    // in(4) → a(4) → add(a, in) → out(2): in cannot be widened
        let cases: [(label: String, model: String, recipe: String, mentions: [String])] = [
            ("unknown layer", model, #"{"ops": [{"op": "widen", "layer": "nope", "by": 3}]}"#, ["nope", "no node"]),
            ("unknown layer in a later step", mlp,
             #"{"ops": [{"op": "freeze", "names": ["hidden"]}, {"op": "prune", "layer": "missing", "units": [0]}]}"#, ["ops[1] (prune)", "missing"]),
            ("widening into an Add with an unwidenable sibling", residual, #"{"ops": [{"op": "widen", "layer": "a", "by": 2}]}"#,
             ["sibling", "a"]),
            ("nIn mismatch: bypassing a width-changing layer", mlp, #"{"ops": [{"op": "removeVertexKeepConnections", "name": "hidden"}]}"#,
             ["nIn mismatch", "hidden"]),
            ("nIn mismatch: a DL4J layer declaring the wrong nIn", mlp, #"""
                {"ops": [{"op": "insertLayer", "after": "hidden", "name": "extra", "init": "xavier",
                          "layer": {"@class": "org.deeplearning4j.nn.conf.layers.DenseLayer", "nin": 10, "nout": 16,
                                    "activationFn": {"@class": "org.nd4j.linalg.activations.impl.ActivationReLU"}}}]}
                """#, ["nIn mismatch", "16", "10"]),
            ("nIn mismatch: legacy DL4J layer JSON in addLayer", mlp, #"""
                {"ops": [{"op": "addLayer", "name": "extra", "inputs": ["hidden"], "layer": {"dense": {"nin": 7, "nout": 4}}}]}
                """#, ["nIn mismatch", "16", "7"]),
            ("pruning every unit", mlp, #"{"ops": [{"op": "prune", "layer": "probabilities", "units": [0, 1, 2]}]}"#, ["every unit"]),
            ("pruning every unit of a hidden layer", mlp,
             #"{"ops": [{"op": "prune", "layer": "hidden", "units": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]}]}"#, ["every unit", "hidden"]),
            ("malformed YAML", mlp, "ops:\n  - op: widen\n    layer: [hidden\n", ["line", "r.yaml"]),
        ]
        for (i, c) in cases.enumerated() {
            let recipe = try write(c.recipe, c.label.hasPrefix("malformed YAML") ? "r.yaml" : "r\(i).json")
            for ext in ["h5", "zip"] {
                let out = temp.appendingPathComponent("out\(i).\(ext)").path
                let r = try graft("apply", c.model, recipe, "--output", out)
                XCTAssertEqual(r.status, 2, "\(c.label): \(r.stdout) \(r.stderr)")
                for m in c.mentions { XCTAssertTrue(r.stderr.contains(m), "\(c.label): '\(r.stderr)' does not mention '\(m)'") }
                XCTAssertFalse(FileManager.default.fileExists(atPath: out), c.label)
                XCTAssertFalse(FileManager.default.fileExists(atPath: out + ".graft.json"), c.label)
            }
        }
        // Nothing else was left in the output directory (no temporary files either).
        let left = try FileManager.default.contentsOfDirectory(atPath: temp.path).filter { $0.hasPrefix("out") || $0.hasPrefix(".out") }
        XCTAssertEqual(left, [])
    }

    /// A YAML recipe through `graft apply`, same result as its JSON twin.
    func testApplyYAMLRecipe() throws {
        let json = try write(#"{"ops": [{"op": "widen", "layer": "lstm", "by": 3}, {"op": "freeze", "upTo": "lstm"}]}"#, "r.json")
        let yaml = try write("# widen, then freeze\nops:\n  - op: widen\n    layer: lstm\n    by: 3\n  - {op: freeze, upTo: lstm}\n", "r.yml")
        let a = try graft("apply", model, json, "--dry-run"), b = try graft("apply", model, yaml, "--dry-run")
        XCTAssertEqual(b.status, 0, b.stderr)
        XCTAssertEqual(a.stdout, b.stdout)
    }

    /// in(4) → a: Dense(4) → Add(a, in) → out: Dense(2), written as Keras HDF5 by graft itself.
    func residualModel() throws -> String {
        let path = temp.appendingPathComponent("residual.h5").path
        func dense(_ name: String, _ inputs: [String], _ shape: [Int]) -> Node {
            let values = (0..<shape.reduce(1, *)).map { Float($0 % 7) / 10 - 0.3 }
            return Node(name: name, op: .dense(DenseAttributes(units: shape[1])), inputs: inputs.map { NodeOutput($0) },
                        parameters: ["kernel": Tensor(shape: shape, floats: values), "bias": Tensor(zeros: [shape[1]])])
        }
        let g = Graph(nodes: [Node(name: "in", op: .input(InputAttributes(shape: [4]))), dense("a", ["in"], [4, 4]),
                              Node(name: "sum", op: .merge(MergeAttributes(.add)), inputs: [NodeOutput("a"), NodeOutput("in")]),
                              dense("out", ["sum"], [4, 2])],
                      outputs: [NodeOutput("out")])
        try ModelFile.save(g, to: path)
        return path
    }

    /// DL4J's outputFromFeaturized: featurize at `lstm` (in batches of 1), then predict from
    /// those features equals the full forward pass.
    func testPredictFromFeaturizedEqualsFullPredict() throws {
        let features = temp.appendingPathComponent("f.npy").path
        let f = try graft("featurize", model, "--at", "lstm", "--input", io, "--output", features, "--batch-size", "1")
        XCTAssertEqual(f.status, 0, f.stderr)
        XCTAssertTrue(f.stderr.isEmpty, "no progress bar when stderr is not a terminal: \(f.stderr)")
        let full = temp.appendingPathComponent("full.npy").path, partial = temp.appendingPathComponent("partial.npy").path
        XCTAssertEqual(try graft("predict", model, "--input", io, "--output", full).status, 0)
        let r = try graft("predict", model, "--from", "lstm", "--input", features, "--output", partial)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: full)), try Data(contentsOf: URL(fileURLWithPath: partial)))
        let compare = try graft("predict", model, "--from", "lstm", "--input", features, "--compare", io)
        XCTAssertEqual(compare.status, 0, compare.stdout + compare.stderr)
        let bad = try graft("predict", model, "--from", "nope", "--input", features, "--output", partial)
        XCTAssertEqual(bad.status, 2)
    }

    func testRenderBeforeDrawsTwoClusters() throws {
        let dot = temp.appendingPathComponent("g.dot").path
        let r = try graft("render", CLITests.fixture("lstm_timeseries_keras3.h5"), "--before", model, "--output", dot)
        XCTAssertEqual(r.status, 0, r.stderr)
        let text = try String(contentsOfFile: dot, encoding: .utf8)
        XCTAssertTrue(text.contains("subgraph \"cluster_0\"") && text.contains("subgraph \"cluster_1\""), text)
        XCTAssertTrue(text.contains("\"before/lstm\"") && text.contains("\"after/lstm\""), text)
    }
}
