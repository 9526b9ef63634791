import Foundation
import GraftCore
import GraftDL4J
import GraftIO
import GraftTestSupport
import XCTest

/// Cross-format through the built `graft` executable, for every corpus model with a forward
/// case: `graft convert ORIGINAL OUT.<other format>`, then `graft verify ORIGINAL OUT` on the
/// case's inputs (written as .npy) and once on random inputs, at the case's tolerance. A
/// converted model must verify (exit 0, every output OK, the largest error within the
/// tolerance of the corpus outputs); a model the other format cannot express must make
/// `convert` exit 1 with an error naming a node of the model, its kind and the reason.
/// Keras (.h5, .keras, JSON + weights) → DL4J (.zip) and DL4J → Keras (.h5).
final class CrossFormatCLITests: TemporaryDirectoryTestCase {
    /// One corpus model to convert and verify.
    struct Job: Sendable {
        var id: String
        var original: String
        var weights: String?
        var output: String
        var inputs: [String]
        var atol: Double
        var rtol: Double
        /// The largest magnitude among the corpus' expected outputs.
        var maxExpected: Double
    }

    /// What the CLI did with a job.
    struct Outcome: Sendable {
        var job: Job
        var convert: GraftProcess.Result
        var verify: GraftProcess.Result?
        var verifyRandom: GraftProcess.Result?
    }


    func testKerasToDL4JThroughCLI() throws {
        let cases = try Corpus.cases(formats: ["keras-h5", "keras3", "keras-weights+json"])
            .filter { ($0["checks"]?.stringArray ?? []).contains("forward") }
        XCTAssertFalse(cases.isEmpty)
        var jobs: [Job] = []
        for (i, c) in cases.enumerated() {
            let model = c["model"]
            guard let original = model?["h5"]?.stringValue ?? model?["keras"]?.stringValue ?? model?["config_json"]?.stringValue,
                  let inputSpec = c["inputs"], let expectedSpec = c["expected"] else { continue }
            let weights = model?["h5"] == nil && model?["keras"] == nil ? model?["weights_h5"]?.stringValue : nil
            let inputs = try KerasCaseArrays.load(inputSpec)
            jobs.append(try job(c, index: i, original: original, weights: weights, ext: "zip", inputs: inputs,
                                expected: try KerasCaseArrays.load(expectedSpec)))
        }
        try check(jobs, direction: "keras→dl4j")
    }

    func testDL4JToKerasThroughCLI() throws {
        let cases = try Corpus.cases(formats: ["dl4j-zip"]).filter { ($0["checks"]?.stringArray ?? []).contains("forward") }
        XCTAssertFalse(cases.isEmpty)
        var jobs: [Job] = []
        for (i, c) in cases.enumerated() {
            guard let zip = c["model"]?["zip"]?.stringValue, let inputSpec = c["inputs"], let expectedSpec = c["expected"] else { continue }
            jobs.append(try job(c, index: i, original: zip, weights: nil, ext: "h5", inputs: [try dl4jArray(inputSpec)],
                                expected: [try dl4jArray(expectedSpec)]))
        }
        try check(jobs, direction: "dl4j→keras")
    }

    /// A DL4J case array: its .npy (the file itself or the twin of an ND4J .bin).
    func dl4jArray(_ spec: JSONValue) throws -> Tensor {
        guard let file = spec["npy"]?.stringValue ?? spec["file"]?.stringValue else {
            throw GraftError(.malformed, "array spec without file", found: spec.description)
        }
        return try ArrayFile.read(Corpus.path(file))
    }

    func job(_ c: JSONValue, index: Int, original: String, weights: String?, ext: String, inputs: [Tensor],
             expected: [Tensor]) throws -> Job {
        let id = c["id"]?.stringValue ?? "case\(index)"
        var paths: [String] = []
        for (k, t) in inputs.enumerated() {
            let path = temp.appendingPathComponent("case\(index)_input\(k).npy").path
            try NPY.write(t, to: path)
            paths.append(path)
        }
        let maxExpected = expected.flatMap { $0.doubles() }.map(abs).filter(\.isFinite).max() ?? 0
        return Job(id: id, original: Corpus.path(original), weights: weights.map(Corpus.path),
                   output: temp.appendingPathComponent("case\(index).\(ext)").path, inputs: paths,
                   atol: c["tolerance"]?["atol"]?.doubleValue ?? 1e-5, rtol: c["tolerance"]?["rtol"]?.doubleValue ?? 1e-4,
                   maxExpected: maxExpected)
    }

    /// Runs the jobs on two workers, then checks every outcome and prints totals.
    func check(_ jobs: [Job], direction: String) throws {
        defer { fflush(nil) }
        let outcomes = try Self.runAll(jobs)
        var verified = 0, refused = 0, failed = 0
        for o in outcomes {
            let problems = try problems(o)
            if !problems.isEmpty {
                failed += 1
                XCTFail("\(direction) \(o.job.id): \(problems.joined(separator: "; "))")
                print("[cli \(direction)] FAIL \(o.job.id): \(problems.joined(separator: "; "))")
            } else if o.convert.status == 0 {
                verified += 1
                print("[cli \(direction)] VERIFIED \(o.job.id): \(Self.maxErrors(o.verify?.stdout ?? "").map { "\($0.abs)" }.joined(separator: ", "))")
            } else {
                refused += 1
                print("[cli \(direction)] REFUSED \(o.job.id): \(o.convert.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
        }
        print("[cli \(direction)] total: \(jobs.count) models, \(verified) converted and verified, \(refused) refused with a clear error, \(failed) failed")
    }

    /// What is wrong with an outcome (empty when it passes).
    func problems(_ o: Outcome) throws -> [String] {
        let job = o.job
        switch o.convert.status {
        case 0:
            var problems: [String] = []
            for (what, run) in [("verify --input", o.verify), ("verify (random inputs)", o.verifyRandom)] {
                guard let run else { problems.append("\(what) not run"); continue }
                guard run.status == 0 else { problems.append("\(what) exit \(run.status): \(run.stdout) \(run.stderr)"); continue }
                let errors = Self.maxErrors(run.stdout)
                if errors.isEmpty || run.stdout.contains("OUT OF TOLERANCE") { problems.append("\(what): \(run.stdout)") }
                // Every element passed abs ≤ atol + rtol·|expected|, so the largest error is
                // at most atol + rtol·max|expected| (the corpus outputs, for the case input).
                if what == "verify --input", let worst = errors.map(\.abs).max(),
                   !(worst <= job.atol + job.rtol * job.maxExpected * 1.01) {
                    problems.append("\(what): max abs error \(worst) beyond atol \(job.atol) + rtol \(job.rtol) · \(job.maxExpected)")
                }
            }
            return problems
        case 1:
            // The refusal names a node of the original model, with its kind.
            let graph = try ModelFile.load(path: job.original, weights: job.weights)
            let text = o.convert.stderr
            guard let start = text.range(of: "node '"), let end = text[start.upperBound...].firstIndex(of: "'") else {
                return ["refusal does not name a node: \(text)"]
            }
            let name = String(text[start.upperBound..<end])
            guard let node = graph.node(named: name) else { return ["refusal names '\(name)', not a node of the model: \(text)"] }
            guard text.contains("node '\(name)' (\(node.op.kindName))") else {
                return ["refusal does not give the kind \(node.op.kindName) of '\(name)': \(text)"]
            }
            guard text.contains("cannot") || text.contains("no ") else { return ["refusal gives no reason: \(text)"] }
            guard !FileManager.default.fileExists(atPath: job.output) else { return ["refused but wrote \(job.output)"] }
            return []
        default:
            return ["convert exit \(o.convert.status): \(o.convert.stderr)"]
        }
    }

    /// The (max abs, max rel) pairs `graft verify` printed, one per output.
    static func maxErrors(_ stdout: String) -> [(abs: Double, rel: Double)] {
        stdout.split(separator: "\n").compactMap { line in
            guard let a = line.range(of: "max abs error "), let r = line.range(of: ", max rel error ") else { return nil }
            let abs = Double(line[a.upperBound..<r.lowerBound])
            let rel = Double(line[r.upperBound...].prefix { !$0.isWhitespace })
            guard let abs, let rel else { return nil }
            return (abs, rel)
        }
    }

    /// Runs every job's commands, two jobs at a time.
    static func runAll(_ jobs: [Job]) throws -> [Outcome] {
        let pool = Pool()
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            while let index = pool.take(below: jobs.count) {
                do { pool.store(index, try run(jobs[index])) } catch { pool.fail(error) }
            }
        }
        if let error = pool.error { throw error }
        return jobs.indices.compactMap { pool.outcomes[$0] }
    }

    /// The workers' shared state, behind a lock.
    final class Pool: @unchecked Sendable {
        private let lock = NSLock()
        private var next = 0
        private(set) var outcomes: [Int: Outcome] = [:]
        private(set) var error: Error?

        func take(below count: Int) -> Int? {
            lock.withLock {
                guard next < count, error == nil else { return nil }
                defer { next += 1 }
                return next
            }
        }

        func store(_ index: Int, _ outcome: Outcome) { lock.withLock { outcomes[index] = outcome } }

        func fail(_ e: Error) { lock.withLock { error = error ?? e } }
    }

    static func run(_ job: Job) throws -> Outcome {
        var convert = [job.original, job.output]
        if let w = job.weights { convert += ["--weights", w] }
        let converted = try GraftProcess.run(["convert"] + convert)
        var outcome = Outcome(job: job, convert: converted)
        guard converted.status == 0 else { return outcome }
        var verify = ["verify", job.original, job.output, "--atol", "\(job.atol)", "--rtol", "\(job.rtol)"]
        if let w = job.weights { verify += ["--weights-a", w] }
        outcome.verify = try GraftProcess.run(verify + job.inputs.flatMap { ["--input", $0] })
        outcome.verifyRandom = try GraftProcess.run(verify)
        return outcome
    }
}
