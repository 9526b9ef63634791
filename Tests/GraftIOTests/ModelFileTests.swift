import Foundation
import GraftCore
import GraftIO
import XCTest
import GraftTestSupport

/// Format detection is by content, never by extension.
final class ModelFileTests: TemporaryDirectoryTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static func fixture(_ name: String) -> String { root.appendingPathComponent("fixtures/\(name)").path }
    static let corpus = root.appendingPathComponent("../shared/corpus").standardizedFileURL


    /// Copies a file under a misleading name, so only its bytes can tell what it is.
    func disguised(_ path: String, as name: String) throws -> String {
        let target = temp.appendingPathComponent(name).path
        try FileManager.default.copyItem(atPath: path, toPath: target)
        return target
    }

    func testFixturesAreRecognisedByContent() throws {
        let cases: [(String, ModelFormat)] = [
            ("lstm_timeseries.h5", .kerasH5),
            ("mlp_keras3.keras", .keras3),
            ("lstm_timeseries_config.json", .kerasJSON),
        ]
        for (file, format) in cases {
            let path = try disguised(Self.fixture(file), as: "model-\(format.rawValue).dat")
            XCTAssertEqual(try ModelFile.detectFormat(path: path), format, file)
        }
    }

    func testDL4JZipAndConfigAreRecognisedByContent() throws {
        let zip = Self.corpus.appendingPathComponent("dl4j/regression/080/080_ModelSerializer_Regression_MLP_1.zip").path
        let config = Self.corpus.appendingPathComponent("dl4j/integration/MLPMnist/config.mlc.json").path
        guard FileManager.default.fileExists(atPath: zip) else {
            if ProcessInfo.processInfo.environment["CI"] != nil { return XCTFail("corpus missing in CI") }
            throw XCTSkip("corpus not found")
        }
        XCTAssertEqual(try ModelFile.detectFormat(path: try disguised(zip, as: "weights.h5")), .dl4jZip)
        XCTAssertEqual(try ModelFile.detectFormat(path: try disguised(config, as: "x.txt")), .dl4jConfig)
        let graph = try ModelFile.load(path: zip)
        XCTAssertEqual(graph.source.format, "dl4j")
    }

    func testLoadEveryFixtureFormat() throws {
        let full = try ModelFile.load(path: Self.fixture("lstm_timeseries.h5"))
        let split = try ModelFile.load(path: Self.fixture("lstm_timeseries_config.json"),
                                       weights: Self.fixture("lstm_timeseries_weights.h5"))
        XCTAssertEqual(full.nodes.map(\.name), split.nodes.map(\.name))
        for (a, b) in zip(full.nodes, split.nodes) { XCTAssertEqual(a.parameters, b.parameters, a.name) }
        XCTAssertFalse(try ModelFile.load(path: Self.fixture("mlp_keras3.keras")).nodes.isEmpty)
    }

    func testBadFilesGiveClearErrors() throws {
        let junk = temp.appendingPathComponent("junk.h5").path
        try Data("hello".utf8).write(to: URL(fileURLWithPath: junk))
        let foreignZip = temp.appendingPathComponent("other.zip").path
        try Data(ZipWriter.archive([("readme.txt", Array("hi".utf8))])).write(to: URL(fileURLWithPath: foreignZip))
        let cases: [(String, String?, GraftError.Kind, String)] = [
            (junk, nil, .unsupported, "unrecognised model file"),
            (foreignZip, nil, .unsupported, "neither a DL4J model nor a Keras 3 archive"),
            (temp.appendingPathComponent("missing.h5").path, nil, .io, "no such file"),
            (Self.fixture("lstm_timeseries_config.json"), nil, .invalidArgument, "--weights"),
        ]
        for (path, weights, kind, text) in cases {
            XCTAssertThrowsError(try ModelFile.load(path: path, weights: weights)) { error in
                guard let e = error as? GraftError else { return XCTFail("not a GraftError: \(error)") }
                XCTAssertEqual(e.kind, kind, path)
                XCTAssertTrue(e.description.contains(text) && e.description.contains(URL(fileURLWithPath: path).lastPathComponent),
                              e.description)
            }
        }
    }

    func testArrayFilesReadInputsAndOutputsByConvention() throws {
        let io = Self.fixture("two_in_two_out_io.npz")
        let inputs = try ArrayFile.readInputs([io])
        XCTAssertEqual(inputs.map(\.shape), [[3, 6], [3, 4]])
        XCTAssertEqual(try ArrayFile.readOutputs(io).map(\.shape), [[3, 3], [3, 1]])
        // .npy -> Nd4j -> .npy keeps the bytes.
        let npy = temp.appendingPathComponent("a.npy").path, nd4j = temp.appendingPathComponent("a.bin").path
        let back = temp.appendingPathComponent("b.npy").path
        try NPY.write(inputs[0], to: npy)
        try ArrayFile.convert(npy, to: nd4j)
        try ArrayFile.convert(nd4j, to: back)
        XCTAssertTrue(try NPY.read(path: back).bitwiseEqual(inputs[0]))
    }
}
