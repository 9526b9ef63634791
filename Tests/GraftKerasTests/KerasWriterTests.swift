import Foundation
import GraftCore
@testable import GraftKeras
import GraftRuntime
import OrderedCollections
import XCTest
import GraftTestSupport

/// `KerasWriter` on the bundled fixtures (written by tf-keras 2.21 and Keras 3.15): read →
/// write `.h5` / `.keras` → read gives the same ops, freeze states and bit-identical
/// parameters, and the fixtures' Keras-computed outputs. With `GRAFT_INTEROP_DIR` set, the
/// written files and their `_io.npz` are kept there for `make interop-keras`.
final class KerasWriterTests: TemporaryDirectoryTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("fixtures")

    /// The scratch folder (`temp`).
    var scratch: URL { temp }

    struct Fixture {
        var name: String
        var files: [String]
        var io: String
        var frozen: [String]
        var atol: Double
        var rtol: Double
    }

    func fixtures() throws -> [Fixture] {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("manifest.json"))
        let manifest = try JSONValue.parse(bytes: [UInt8](data))
        return (manifest["fixtures"]?.arrayValue ?? []).compactMap { f in
            guard let name = f["name"]?.stringValue, let io = f["io"]?.stringValue else { return nil }
            let files = ["h5", "keras"].compactMap { f["files"]?[$0]?.stringValue }
            return Fixture(name: name, files: files, io: io,
                           frozen: f["frozen_layers"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                           atol: f["tolerance"]?["atol"]?.doubleValue ?? 1e-5, rtol: f["tolerance"]?["rtol"]?.doubleValue ?? 1e-4)
        }
    }

    func testFixturesRoundTripThroughBothContainers() throws {
        var passed = 0
        let interop = ProcessInfo.processInfo.environment["GRAFT_INTEROP_DIR"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
        if let interop { try FileManager.default.createDirectory(at: interop, withIntermediateDirectories: true) }
        for fixture in try fixtures() {
            let arrays = try NPZ.read(path: Self.fixtures.appendingPathComponent(fixture.io).path)
            let inputs = arrays.filter { $0.key.hasPrefix("input_") }.sorted { $0.key < $1.key }.map(\.value)
            let expected = arrays.filter { $0.key.hasPrefix("output_") }.sorted { $0.key < $1.key }.map(\.value)
            for file in fixture.files {
                let original = try KerasReader.read(path: Self.fixtures.appendingPathComponent(file).path)
                for container in [KerasWriter.Container.h5, .keras] {
                    let ext = container == .h5 ? "h5" : "keras"
                    let name = "fixture__\(file.replacingOccurrences(of: ".", with: "_")).\(ext)"
                    let out = scratch.appendingPathComponent(name).path
                    let report = try KerasWriter.write(original, to: out, container: container)
                    XCTAssertTrue(report.notes.allSatisfy { $0.kind != .warning }, "\(name): \(report.notes)")
                    let back = try KerasReader.read(path: out)
                    try assertSameModel(original, back, name)
                    let outputs = try Interpreter(graph: back).run(inputs)
                    try assertClose(outputs, expected, atol: fixture.atol, rtol: fixture.rtol, name)
                    for layer in fixture.frozen {
                        XCTAssertEqual(back.node(named: layer)?.freeze, .frozen, "\(name): \(layer) not frozen")
                    }
                    passed += 1
                    if let interop {
                        let target = interop.appendingPathComponent(name)
                        try? FileManager.default.removeItem(at: target)
                        try FileManager.default.copyItem(atPath: out, toPath: target.path)
                        let io = interop.appendingPathComponent(name + "_io.npz")
                        try? FileManager.default.removeItem(at: io)
                        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent(fixture.io), to: io)
                        let source = Self.fixtures.appendingPathComponent(file).path
                        let line = ([name, name + "_io.npz", "\(fixture.atol)", "\(fixture.rtol)", source] + fixture.frozen)
                            .joined(separator: "\t") + "\n"
                        let list = interop.appendingPathComponent("interop.tsv")
                        if let handle = FileHandle(forWritingAtPath: list.path) {
                            handle.seekToEndOfFile(); handle.write(Data(line.utf8)); try handle.close()
                        } else {
                            try Data(line.utf8).write(to: list)
                        }
                    }
                }
            }
        }
        XCTAssertEqual(passed, 20, "every fixture file through both containers")
    }

    func assertSameModel(_ a: Graph, _ b: Graph, _ what: String) throws {
        XCTAssertEqual(a.nodes.count, b.nodes.count, what)
        for (x, y) in zip(a.nodes, b.nodes) {
            XCTAssertEqual(x.name, y.name, what)
            XCTAssertEqual(x.op, y.op, "\(what): \(x.name)")
            XCTAssertEqual(x.freeze, y.freeze, "\(what): \(x.name)")
            XCTAssertEqual(Array(x.parameters.keys), Array(y.parameters.keys), "\(what): \(x.name)")
            for (p, q) in zip(x.parameters.values, y.parameters.values) {
                XCTAssertTrue(p.bitwiseEqual(q), "\(what): \(x.name) parameters differ")
            }
        }
        XCTAssertEqual(a.outputs, b.outputs, what)
    }

    func assertClose(_ got: [Tensor], _ want: [Tensor], atol: Double, rtol: Double, _ what: String) throws {
        XCTAssertEqual(got.count, want.count, what)
        for (g, w) in zip(got, want) {
            XCTAssertEqual(g.shape, w.shape, what)
            for (p, e) in zip(g.doubles(), w.doubles()) where !(abs(p - e) <= atol + rtol * abs(e)) {
                XCTFail("\(what): output \(p) differs from Keras' \(e)")
                return
            }
        }
    }

    /// A frozen node written and read back stays frozen, in both containers; the others stay trainable.
    func testFreezeStateSurvives() throws {
        var graph = try KerasReader.read(path: Self.fixtures.appendingPathComponent("mlp.h5").path)
        guard let index = graph.nodes.firstIndex(where: { !$0.parameters.isEmpty }) else { return XCTFail("no layer with weights") }
        graph.nodes[index].freeze = .frozenWithBackprop
        for container in [KerasWriter.Container.h5, .keras] {
            let out = scratch.appendingPathComponent("frozen.\(container == .h5 ? "h5" : "keras")").path
            _ = try KerasWriter.write(graph, to: out, container: container)
            let back = try KerasReader.read(path: out)
            // Keras has one frozen state: `trainable: false`.
            XCTAssertEqual(back.nodes[index].freeze, .frozen)
            XCTAssertEqual(back.nodes.filter { $0.freeze != .trainable }.count, 1)
        }
    }

    /// A graph built in code (no Keras extras) gets generated configs; a leaky-ReLU dense
    /// becomes Dense + LeakyReLU (exact), and the outputs are the same.
    func testGeneratedConfigsAndActivationSplit() throws {
        let kernel = Tensor(shape: [3, 2], floats: [0.5, -1, 2, 0.25, -0.75, 1.5])
        let bias = Tensor(shape: [2], floats: [0.1, -0.2])
        let graph = Graph(nodes: [
            Node(name: "x", op: .input(InputAttributes(shape: [3]))),
            Node(name: "d", op: .dense(DenseAttributes(units: 2, activation: .leakyRelu(alpha: 0.1))), inputs: [NodeOutput("x")],
                 parameters: ["kernel": kernel, "bias": bias]),
        ], outputs: [NodeOutput("d")])
        let x = Tensor(shape: [2, 3], floats: [1, 2, 3, -1, -2, -3])
        // Hand computation: z = x·W + b, then leaky ReLU with slope 0.1.
        let w = kernel.floats(), b = bias.floats(), xv = x.floats()
        var want: [Float] = []
        for r in 0..<2 {
            for j in 0..<2 {
                var z = b[j]
                for i in 0..<3 { z += xv[r * 3 + i] * w[i * 2 + j] }
                want.append(z >= 0 ? z : 0.1 * z)
            }
        }
        for container in [KerasWriter.Container.h5, .keras] {
            let out = scratch.appendingPathComponent("gen.\(container == .h5 ? "h5" : "keras")").path
            let report = try KerasWriter.write(graph, to: out, container: container)
            XCTAssertTrue(report.notes.contains { $0.kind == .exactConversion && $0.node == "d" }, "\(report.notes)")
            let back = try KerasReader.read(path: out)
            XCTAssertEqual(back.nodes.map(\.op.kindName), ["input", "dense", "activation"])
            let got = try Interpreter(graph: back).run([x])[0].floats()
            for (g, e) in zip(got, want) { XCTAssertEqual(g, e, accuracy: 1e-6) }
        }
    }

    /// What Keras cannot express is an error naming the node.
    func testInexpressibleNodesNameTheNode() throws {
        let graph = Graph(nodes: [
            Node(name: "x", op: .input(InputAttributes(shape: [3]))),
            Node(name: "cube_it", op: .activation(.cube), inputs: [NodeOutput("x")]),
        ], outputs: [NodeOutput("cube_it")])
        let out = scratch.appendingPathComponent("bad.h5").path
        XCTAssertThrowsError(try KerasWriter.write(graph, to: out, container: .h5)) { error in
            XCTAssertTrue("\(error)".contains("node 'cube_it'"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no partial file on failure")
    }

    /// Keras 3's `naming.to_snake_case` of class names, as it names `layers/<…>` groups.
    func testKeras3SnakeCase() {
        XCTAssertEqual(KerasWriterNames.snakeCase(className: "SimpleRNN"), "simple_rnn")
        XCTAssertEqual(KerasWriterNames.snakeCase(className: "Conv2D"), "conv2d")
        XCTAssertEqual(KerasWriterNames.snakeCase(className: "GlobalAveragePooling2D"), "global_average_pooling2d")
        XCTAssertEqual(KerasWriterNames.snakeCase(className: "TimeDistributed"), "time_distributed")
        XCTAssertEqual(KerasWriterNames.snakeCase(className: "LSTM"), "lstm")
        XCTAssertEqual(KerasWriterNames.snakeCase(className: "BatchNormalization"), "batch_normalization")
        XCTAssertEqual(KerasWriterNames.snakeCase(parameter: "recurrentKernel"), "recurrent_kernel")
    }
}
