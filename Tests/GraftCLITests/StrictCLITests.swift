import Foundation
import GraftCore
import GraftIO
import XCTest

/// `--strict` refuses a model whose weights hold NaN or infinity (exit 2, naming the layer and
/// the parameter) in convert, predict and verify; without it the same model loads.
final class StrictCLITests: XCTestCase {
    func testStrictRefusesNonFiniteWeights() throws {
        let temp = FileManager.default.temporaryDirectory.appendingPathComponent("graft-strict-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: temp) }
        var graph = try ModelFile.load(path: CLITests.fixture("mlp.h5"))
        guard let i = graph.nodes.firstIndex(where: { $0.name == "probabilities" }), var bias = graph.nodes[i].parameters["bias"] else {
            return XCTFail("mlp.h5 has no probabilities bias")
        }
        bias.withUnsafeMutableBytes { $0.bindMemory(to: Float.self)[1] = .infinity }
        graph.nodes[i].parameters["bias"] = bias
        let model = temp.appendingPathComponent("inf.h5").path
        try ModelFile.save(graph, to: model)
        let io = CLITests.fixture("mlp_io.npz")
        let out = temp.appendingPathComponent("out.zip").path

        let strictRuns = [
            ["convert", model, out, "--strict"],
            ["predict", model, "--input", io, "--output", temp.appendingPathComponent("y.npy").path, "--strict"],
            ["verify", model, CLITests.fixture("mlp.h5"), "--strict"],
        ]
        for arguments in strictRuns {
            let r = try CLITests.run(arguments)
            XCTAssertEqual(r.status, 2, "\(arguments[0]): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("layer 'probabilities'") && r.stderr.contains("'bias'")
                          && r.stderr.contains("inf at element 1"), "\(arguments[0]): \(r.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let lenient = try CLITests.run(["convert", model, out])
        XCTAssertEqual(lenient.status, 0, lenient.stderr)
        XCTAssertEqual(try CLITests.run(["convert", CLITests.fixture("mlp.h5"), out + "2.zip", "--strict"]).status, 0)
    }
}
