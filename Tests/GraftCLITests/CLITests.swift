import Foundation
import XCTest

/// End-to-end tests: run the built `graft` binary and check stdout, stderr and exit code.
final class CLITests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static func fixture(_ name: String) -> String { packageRoot.appendingPathComponent("fixtures/\(name)").path }

    /// The `graft` executable next to the test bundle.
    static var binary: URL {
        #if os(macOS)
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("graft")
        }
        #endif
        return Bundle.main.bundleURL.appendingPathComponent("graft")
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    func graft(_ arguments: String...) throws -> Result {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    var temp: URL!

    override func setUpWithError() throws {
        temp = FileManager.default.temporaryDirectory.appendingPathComponent("graft-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: temp) }

    func testHelpDescribesEverySubcommand() throws {
        let r = try graft("--help")
        XCTAssertEqual(r.status, 0)
        for command in ["inspect", "predict", "verify", "featurize", "convert-array"] {
            XCTAssertTrue(r.stdout.contains(command), "--help lacks \(command)")
        }
        let inspect = try graft("inspect", "--help")
        XCTAssertEqual(inspect.status, 0)
        XCTAssertTrue(inspect.stdout.contains("--json"))
    }

    /// Usage errors are bad input: exit 2 with the reason on stderr (not ArgumentParser's 64).
    func testUsageErrorsExitWithTwo() throws {
        for arguments in [["inspect"], ["no-such-command"], ["inspect", "x.h5", "--no-such-option"]] {
            let process = Process()
            process.executableURL = Self.binary
            process.arguments = arguments
            let err = Pipe()
            process.standardOutput = Pipe()
            process.standardError = err
            try process.run()
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 2, "\(arguments)")
            XCTAssertFalse(stderr.isEmpty, "\(arguments): no reason on stderr")
        }
        XCTAssertEqual(try graft("--version").status, 0)
    }

    func testMissingFileIsBadInput() throws {
        let r = try graft("inspect", temp.appendingPathComponent("nope.h5").path)
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("nope.h5") && r.stderr.contains("no such file"), r.stderr)
    }

    func testUnrecognisedFileIsBadInput() throws {
        let path = temp.appendingPathComponent("junk.bin").path
        try Data("not a model at all".utf8).write(to: URL(fileURLWithPath: path))
        let r = try graft("inspect", path)
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("unrecognised model file"), r.stderr)
    }

    func testInspectTableAndJSON() throws {
        let table = try graft("inspect", Self.fixture("lstm_timeseries.h5"))
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("lstm"), table.stdout)
        let json = try graft("inspect", Self.fixture("lstm_timeseries.h5"), "--json")
        XCTAssertEqual(json.status, 0, json.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let nodes = object?["nodes"] as? [[String: Any]] ?? []
        XCTAssertFalse(nodes.isEmpty)
        for key in ["name", "op", "inputs", "outputShape", "parameters", "parameterCount", "freeze"] {
            XCTAssertNotNil(nodes.last?[key], "node JSON lacks \(key)")
        }
    }

    func testPredictMatchesKerasAndFailsOnWrongExpectation() throws {
        let model = Self.fixture("lstm_timeseries.h5"), io = Self.fixture("lstm_timeseries_io.npz")
        let out = temp.appendingPathComponent("y.npy").path
        let ok = try graft("predict", model, "--input", io, "--output", out, "--compare", io)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out))
        // Compared against another model's outputs of the same shape: out of tolerance, exit 1.
        let bad = try graft("predict", model, "--input", io, "--compare", Self.fixture("lstm_timeseries_keras3_io.npz"))
        XCTAssertEqual(bad.status, 1, bad.stderr + bad.stdout)
        XCTAssertTrue(bad.stdout.contains("OUT OF TOLERANCE"), bad.stdout)
    }

    func testVerifyFullModelAgainstConfigPlusWeights() throws {
        let r = try graft("verify", Self.fixture("lstm_timeseries.h5"), Self.fixture("lstm_timeseries_config.json"),
                          "--weights-b", Self.fixture("lstm_timeseries_weights.h5"))
        XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        let differ = try graft("verify", Self.fixture("mlp.h5"), Self.fixture("mlp_keras3.keras"))
        XCTAssertEqual(differ.status, 1, differ.stderr + differ.stdout)
    }

    func testFeaturizeAndConvertArrayRoundTrip() throws {
        let features = temp.appendingPathComponent("f.npy").path
        let r = try graft("featurize", Self.fixture("lstm_timeseries.h5"), "--at", "lstm",
                          "--input", Self.fixture("lstm_timeseries_io.npz"), "--output", features)
        XCTAssertEqual(r.status, 0, r.stderr)
        let nd4j = temp.appendingPathComponent("f.bin").path, back = temp.appendingPathComponent("g.npy").path
        XCTAssertEqual(try graft("convert-array", features, nd4j).status, 0)
        XCTAssertEqual(try graft("convert-array", nd4j, back).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: features)), try Data(contentsOf: URL(fileURLWithPath: back)))
    }

    func testDiffRenderAndCheckFrozen() throws {
        let same = try graft("diff", Self.fixture("lstm_timeseries.h5"), Self.fixture("lstm_timeseries_config.json"),
                             "--weights-b", Self.fixture("lstm_timeseries_weights.h5"))
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertTrue(same.stdout.contains("no differences"), same.stdout)
        let differ = try graft("diff", Self.fixture("lstm_timeseries.h5"), Self.fixture("lstm_timeseries_keras3.h5"), "--json")
        XCTAssertEqual(differ.status, 0, differ.stderr)
        XCTAssertTrue(differ.stdout.contains("\"identical\": false"), differ.stdout)

        let dot = temp.appendingPathComponent("g.dot").path
        let render = try graft("render", Self.fixture("frozen_mlp.h5"), "--output", dot)
        XCTAssertEqual(render.status, 0, render.stderr)
        let text = try String(contentsOfFile: dot, encoding: .utf8)
        XCTAssertTrue(text.contains("frozen_dense") && text.contains("#b0c4de"), text)

        let check = try graft("check-frozen", Self.fixture("frozen_mlp.h5"), Self.fixture("frozen_mlp.h5"))
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertTrue(check.stdout.contains("1 frozen layer(s)"), check.stdout)
    }
}
