import Foundation
@testable import GraftCore
@testable import GraftDL4J
import XCTest

/// The streamed writer and reader: `coefficients.bin` encoded from each tensor's planned
/// layout must equal the probe-built vector (an independent route through the reader), and
/// a zip written stored or deflated must read back bit-identical.
final class DL4JStreamingTests: XCTestCase {
    /// conv 3×3 on a channels-last 5×4×2 image → flatten → dense 3 → dense 2 (softmax).
    func cnn() -> Graph {
        var rng = SplitMix64(seed: 7)
        func values(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in Float(rng.next() % 2001) / 1000 - 1 })
        }
        let conv = ConvAttributes(rank: 2, filters: 3, kernelSize: [3, 3], padding: .same, activation: .plainRelu)
        return Graph(nodes: [
            Node(name: "img", op: .input(InputAttributes(shape: [5, 4, 2], layout: .channelsLast))),
            Node(name: "conv", op: .conv(conv), inputs: [NodeOutput("img")],
                 parameters: ["kernel": values([3, 3, 2, 3]), "bias": values([3])]),
            Node(name: "flat", op: .flatten, inputs: [NodeOutput("conv")]),
            Node(name: "fc", op: .dense(DenseAttributes(units: 3, activation: .plainRelu)), inputs: [NodeOutput("flat")],
                 parameters: ["kernel": values([60, 3]), "bias": values([3])]),
            Node(name: "out", op: .dense(DenseAttributes(units: 2, activation: .softmax(axis: -1))), inputs: [NodeOutput("fc")],
                 parameters: ["kernel": values([3, 2]), "bias": values([2])]),
        ], outputs: [NodeOutput("out")])
    }

    func testPlannedEncodingEqualsProbe() throws {
        let graph = cnn()
        let (entries, _) = try DL4JWriter.encode(graph)
        let streamed = try XCTUnwrap(entries.first { $0.0 == "coefficients.bin" }?.1)
        let configuration = try JSONValue.parse(bytes: try XCTUnwrap(entries.first { $0.0 == "configuration.json" }?.1))
        // The probe route: permuted kernel materialised, positions learnt from a probe vector.
        var report = ConversionReport()
        let (_, prepared) = try DL4JConfigGenerator.generate(graph, report: &report)
        let config = try DL4JNetworkConfig.parse(configuration, file: nil)
        let flat = try DL4JWriter.flatParameters(of: prepared, config: config, total: graph.parameterCount, dtype: .float32)
        XCTAssertEqual(streamed, try Nd4jArray.encodeMixedDataTypes(try flat.reshaped([1, flat.count])))
    }

    /// Dense kernels above `DL4JFlatParameters.parallelBytes` take the large-tensor route: read
    /// on `readThreads` threads (stored) and transposed with streaming stores, where the
    /// IR row length (units) is a multiple of 16 (1040: whole 64-byte lines, a short last
    /// slab) and where it is not (1100: the cached kernel). Written stored and deflated, each
    /// must read back bit-identical to the written tensors.
    func testLargeDenseKernelsReadBackBitIdentical() throws {
        var rng = SplitMix64(seed: 11)
        for (inputs, units) in [(2051, 1040), (1999, 1100)] {
            XCTAssertGreaterThanOrEqual(inputs * units * 4, DL4JFlatParameters.parallelBytes)
            let kernel = Tensor(shape: [inputs, units], floats: (0..<inputs * units).map { _ in
                Float(bitPattern: UInt32(truncatingIfNeeded: rng.next() % 0x7F00_0000)) })
            let bias = Tensor(shape: [units], floats: (0..<units).map { Float($0) / 7 })
            let graph = Graph(nodes: [
                Node(name: "in", op: .input(InputAttributes(shape: [inputs]))),
                Node(name: "fc", op: .dense(DenseAttributes(units: units, activation: .plainRelu)), inputs: [NodeOutput("in")],
                     parameters: ["kernel": kernel, "bias": bias]),
            ], outputs: [NodeOutput("fc")])
            for compress in [false, true] {
                let path = NSTemporaryDirectory() + "graft-large-\(getpid())-\(units)-\(compress).zip"
                defer { try? FileManager.default.removeItem(atPath: path) }
                try DL4JWriter.write(graph, to: path, compress: compress)
                let back = try XCTUnwrap(try DL4JReader.read(path: path).node(named: "fc"))
                XCTAssertTrue(try XCTUnwrap(back.parameters["kernel"]).bitwiseEqual(kernel), "\(units) units, compress \(compress)")
                XCTAssertTrue(try XCTUnwrap(back.parameters["bias"]).bitwiseEqual(bias), "\(units) units, compress \(compress)")
            }
        }
    }

    func testStoredAndDeflatedZipsReadBackBitIdentical() throws {
        let graph = cnn()
        for compress in [false, true] {
            let path = NSTemporaryDirectory() + "graft-stream-\(getpid())-\(compress).zip"
            defer { try? FileManager.default.removeItem(atPath: path) }
            try DL4JWriter.write(graph, to: path, compress: compress)
            // Zip compression methods: 0 stored, 8 deflated.
            XCTAssertEqual(try ZipArchive(path: path).stat("coefficients.bin").comp_method, compress ? 8 : 0)
            let back = try DL4JReader.read(path: path)
            // The written graph's own layout (channels-first rows for fc) read back twice is stable,
            // and conv/out parameters come back exactly.
            for name in ["conv", "out"] {
                for (key, tensor) in try XCTUnwrap(graph.node(named: name)).parameters {
                    XCTAssertTrue(try XCTUnwrap(back.node(named: name)?.parameters[key]).bitwiseEqual(tensor), "\(name)/\(key)")
                }
            }
            let fc = try XCTUnwrap(back.node(named: "fc")?.parameters["kernel"])
            let expected = try DL4JConfigGenerator.permuteRowsHWCtoCHW(try XCTUnwrap(graph.node(named: "fc")?.parameters["kernel"]),
                                                                      h: 5, w: 4, c: 3)
            XCTAssertTrue(fc.bitwiseEqual(expected))
        }
    }
}
