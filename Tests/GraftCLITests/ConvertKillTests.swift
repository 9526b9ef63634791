import Foundation
import GraftCore
import GraftIO
import XCTest
import GraftTestSupport

/// `graft convert` killed (SIGKILL) at seeded random points while it writes never leaves a
/// partial output: the output path is absent (or, with --force over an existing output, either
/// byte-identical to before or a complete model), and what a killed run leaves is only hidden
/// temporaries named as such, which the next conversion to the same path removes. The input is
/// never opened for writing.
final class ConvertKillTests: TemporaryDirectoryTestCase {

    static let inputs = 2048, units = 4096
    static let parameterCount = inputs * units + units

    /// A Dense model of `inputs` × `units` float32 weights (32 MB: large enough that a debug
    /// build spends a measurable time writing and hashing it), written through the IR and the
    /// Keras writer.
    func bigModel(inputs: Int = ConvertKillTests.inputs, units: Int = ConvertKillTests.units) throws -> String {
        var kernel = Tensor(zeros: [inputs, units])
        kernel.withUnsafeMutableBytes { raw in
            let f = raw.bindMemory(to: Float.self)
            for i in f.indices { f[i] = Float(i % 1009) * 1e-3 }
        }
        let graph = Graph(nodes: [
            Node(name: "x", op: .input(InputAttributes(shape: [inputs]))),
            Node(name: "d", op: .dense(DenseAttributes(units: units, activation: .linear)), inputs: [NodeOutput("x")],
                 parameters: ["kernel": kernel, "bias": Tensor(zeros: [units])]),
        ], outputs: [NodeOutput("d")])
        let path = temp.appendingPathComponent("big.h5").path
        try ModelFile.save(graph, to: path)
        // Without its manifest the input loads without a hash check: the runs stay short.
        try FileManager.default.removeItem(atPath: path + ".graft.json")
        return path
    }

    /// Starts `graft convert IN OUT [extra]`, waits until its temporary output appears, lets it
    /// write for `delay` seconds and kills it. Returns whether it was killed before exiting.
    func killConvert(_ input: String, _ output: String, extra: [String] = [], delay: Double) throws -> Bool {
        let process = Process()
        process.executableURL = CLITests.binary
        process.arguments = ["convert", input, output] + extra
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let prefix = ".\(URL(fileURLWithPath: output).lastPathComponent).\(process.processIdentifier)-"
        let dir = URL(fileURLWithPath: output).deletingLastPathComponent().path
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning, Date() < deadline,
              !((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).contains(where: { $0.hasPrefix(prefix) }) {
            usleep(1000)
        }
        let killAt = Date().addingTimeInterval(delay)
        while process.isRunning, Date() < killAt { usleep(1000) }
        let killed = process.isRunning
        if killed { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return killed && process.terminationReason == .uncaughtSignal
    }

    func contents(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    func mtime(_ path: String) throws -> Date? {
        try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date
    }

    func testKillDuringWriteLeavesNoPartialOutput() throws {
        let input = try bigModel()
        // The input is read-only: a conversion that opened it for writing would fail (as root,
        // which permissions do not bind, its unchanged bytes and mtime are the check).
        try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: input)
        let inputBytes = try contents(input), inputTime = try mtime(input)

        // One complete conversion times the write (from the temporary's appearance to exit).
        let reference = temp.appendingPathComponent("reference.h5").path
        let start = Date()
        XCTAssertFalse(try killConvert(input, reference, delay: 600))
        let writeTime = max(Date().timeIntervalSince(start) * 0.5, 0.05)
        XCTAssertTrue(FileManager.default.fileExists(atPath: reference))
        XCTAssertEqual(try ModelFile.load(path: reference).parameterCount, Self.parameterCount)

        var rng = SplitMix64(seed: 7)
        let output = temp.appendingPathComponent("out.h5").path
        var kills = 0
        for _ in 0..<4 {
            let delay = Double(rng.next(1000)) / 1000 * writeTime
            if try killConvert(input, output, delay: delay) {
                if FileManager.default.fileExists(atPath: output) {
                    // Killed after the rename (while exiting): then the output is the complete one.
                    XCTAssertEqual(try ModelFile.load(path: output).parameterCount, Self.parameterCount,
                                   "killed after \(delay) s: partial output in place")
                } else {
                    kills += 1
                    XCTAssertFalse(FileManager.default.fileExists(atPath: output + ".graft.json"))
                }
            }
            // Whatever is left is a hidden temporary of out.h5, never a file that looks like output.
            for name in try FileManager.default.contentsOfDirectory(atPath: temp.path)
            where name.contains("out.h5") && name != "out.h5" && name != "out.h5.graft.json" {
                XCTAssertTrue(name.hasPrefix(".") && name.contains(".graft-tmp"), "leftover \(name)")
            }
            try? FileManager.default.removeItem(atPath: output)
            try? FileManager.default.removeItem(atPath: output + ".graft.json")
        }
        XCTAssertGreaterThan(kills, 0, "no conversion was killed mid-write")
        print("[kill] \(kills) of 4 conversions killed mid-write (write phase ≈ \(writeTime) s)")

        // --force over an existing output: killed, the old output is intact (or the new one complete).
        try Data("previous output".utf8).write(to: URL(fileURLWithPath: output))
        let before = try contents(output)
        for _ in 0..<2 {
            let delay = Double(rng.next(1000)) / 1000 * writeTime
            _ = try killConvert(input, output, extra: ["--force"], delay: delay)
            if try contents(output) != before {
                XCTAssertEqual(try ModelFile.load(path: output).parameterCount, Self.parameterCount, "killed after \(delay) s")
                try Data("previous output".utf8).write(to: URL(fileURLWithPath: output))
            }
        }

        // A later conversion to the same path removes the temporaries the killed ones left.
        try? FileManager.default.removeItem(atPath: output)
        XCTAssertFalse(try killConvert(input, output, delay: 600))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: temp.path).filter { $0.contains(".graft-tmp") }
        XCTAssertEqual(leftovers, [], "stale temporaries were not cleaned")

        // OUT == IN (also through a symlink) is refused; the input never changed.
        let link = temp.appendingPathComponent("link.h5").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: input)
        for target in [input, link] {
            let same = try CLITests.run(["convert", input, target, "--force"])
            XCTAssertEqual(same.status, 2)
            XCTAssertTrue(same.stderr.contains("refusing to overwrite the input"), same.stderr)
        }
        XCTAssertEqual(try contents(input), inputBytes)
        XCTAssertEqual(try mtime(input), inputTime)
    }
}
