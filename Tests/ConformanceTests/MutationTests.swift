import Foundation
import GraftCore
import GraftDL4J
import GraftIO
import GraftKeras
import OrderedCollections
import XCTest

/// Deterministic, bounded mutation testing of every reader: a fixed-seed generator mutates
/// small seed files (fixtures and small corpus files) and each reader must either succeed or
/// throw a `GraftError`. A trap kills the test process, so a crash shows as a failed run;
/// `GRAFT_MUTANT_DIR=dir` keeps the mutant being parsed there to reproduce it.
/// Peak RSS (getrusage) must not grow past 4 × the input's size + 64 MB over the run.
/// `GRAFT_SKIP_RSS_CHECK=1` turns that check off (AddressSanitizer runs).
/// `GRAFT_MUTANTS=n` scales the mutant counts (default 1 = the counts below).
final class MutationTests: XCTestCase {
    // MARK: Parsers

    func testNPYMutants() throws {
        var seeds = [NPY.encode(Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6]))]
        seeds += corpusFiles(["dl4j/regression/100b3/CustomLayerExample_Input_100b3_float.npy"])
        try runBytes("npy", seeds: seeds, count: 3000) { _ = try NPY.decode($0) }
    }

    func testNd4jMutants() throws {
        var seeds = [try Nd4jArray.encodeMixedDataTypes(Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6]))]
        seeds += corpusFiles(["dl4j/regression/100b3/CustomLayerExample_Input_100b3_float.bin",
                              "dl4j/regression/100b6/CustomLayerExample_Input_100b6_float.bin"])
        try runBytes("nd4j", seeds: seeds, count: 3000) { _ = try Nd4jArray.decode($0, file: "mutant") }
    }

    func testJSONMutants() throws {
        let seeds = [try fixture("lstm_timeseries_config.json")]
        try runBytes("json", seeds: seeds, count: 1500) { _ = try JSONValue.parse(bytes: $0) }
        try runJSON("json-structure", seeds: seeds, count: 1500) { _ = try JSONValue.parse(bytes: Array($0.serialized().utf8)) }
    }

    func testNPZMutants() throws {
        let seed = try fixture("mlp_io.npz")
        try runFiles("npz", seeds: [seed], count: 1500, ext: "npz") { _ = try NPZ.read(path: $0) }
        try runZipEntries("npz-entries", seed: seed, count: 1500, ext: "npz") { _ = try NPZ.read(path: $0) }
    }

    func testDL4JConfigurationMutants() throws {
        let seeds = corpusFiles(["dl4j/integration/MLPMnist/config.mlc.json"])
        try XCTSkipIf(seeds.isEmpty, "corpus not present")
        try runJSON("dl4j-config", seeds: seeds, count: 3000) {
            _ = try DL4JReader.readConfiguration(json: $0, file: "mutant.json")
        }
    }

    func testDL4JZipMutants() throws {
        let seeds = corpusFiles(["dl4j/regression/050/050_ModelSerializer_Regression_MLP_1.zip",
                                 "dl4j/regression/080/080_ModelSerializer_Regression_LSTM_1.zip"])
        try XCTSkipIf(seeds.isEmpty, "corpus not present")
        try runFiles("dl4j-zip", seeds: seeds, count: 1000, ext: "zip") { _ = try ModelFile.load(path: $0) }
        for (i, seed) in seeds.enumerated() {
            try runZipEntries("dl4j-zip-entries-\(i)", seed: seed, count: 1000, ext: "zip") { _ = try ModelFile.load(path: $0) }
        }
    }

    func testKerasH5Mutants() throws {
        let seed = try fixture("mlp.h5")
        // libhdf5 1.10 decodes attribute messages trusting their inner sizes (out-of-bounds reads,
        // gigabyte allocations for a lying variable-length string): HDF5ObjectHeaderCheck refuses
        // those headers first, so the memory bound holds for these mutants as for every parser.
        try runFiles("keras-h5", seeds: [seed], count: 3000, ext: "h5") {
            _ = try ModelFile.load(path: $0)
        }
    }

    func testKerasJSONConfigMutants() throws {
        let weights = fixturePath("lstm_timeseries_weights.h5")
        let seeds = [try fixture("lstm_timeseries_config.json")]
        let dir = try scratch("keras-json")
        try runJSON("keras-json", seeds: seeds, count: 2000) { json in
            let path = dir + "/config.json"
            try Data(json.serialized().utf8).write(to: URL(fileURLWithPath: path))
            _ = try KerasReader.read(configPath: path, weightsPath: weights)
        }
    }

    func testKeras3ArchiveMutants() throws {
        let seed = try fixture("mlp_keras3.keras")
        try runFiles("keras3", seeds: [seed], count: 1000, ext: "keras") { _ = try ModelFile.load(path: $0) }
        try runZipEntries("keras3-entries", seed: seed, count: 1000, ext: "keras") { _ = try ModelFile.load(path: $0) }
    }

    // MARK: Drivers

    /// Mutates bytes in memory and hands them to `parse`.
    func runBytes(_ name: String, seeds: [[UInt8]], count: Int, parse: ([UInt8]) throws -> Void) throws {
        var rng = SplitMix64(seed: stableHash(name))
        let limit = memoryLimit(seeds)
        let start = peakRSS()
        for i in 0..<scaled(count) {
            let mutant = Mutator.mutate(seeds[i % seeds.count], &rng)
            keep(name, mutant)
            check(name, i) { try parse(mutant) }
            guard withinMemoryBound(name, i, start: start, limit: limit) else { return }
        }
        print("[mutation] \(name): \(scaled(count)) mutants, peak RSS grew \(peakRSS() - start) bytes (asserted limit \(limit))")
    }

    /// Mutates whole files on disk (readers that take a path) and hands the path to `parse`.
    func runFiles(_ name: String, seeds: [[UInt8]], count: Int, ext: String, parse: (String) throws -> Void) throws {
        let dir = try scratch(name)
        let path = dir + "/mutant." + ext
        var rng = SplitMix64(seed: stableHash(name))
        let limit = memoryLimit(seeds)
        let start = peakRSS()
        for i in 0..<scaled(count) {
            let mutant = Mutator.mutate(seeds[i % seeds.count], &rng)
            try Data(mutant).write(to: URL(fileURLWithPath: path))
            keep(name, mutant)
            check(name, i) { try parse(path) }
            guard withinMemoryBound(name, i, start: start, limit: limit) else { return }
        }
        print("[mutation] \(name): \(scaled(count)) mutants, peak RSS grew \(peakRSS() - start) bytes (asserted limit \(limit))")
    }

    /// Mutates one entry of a zip archive (bytes, or JSON structure for `.json` entries) and
    /// re-zips it, so the mutation reaches the parsers behind the zip layer.
    func runZipEntries(_ name: String, seed: [UInt8], count: Int, ext: String, parse: (String) throws -> Void) throws {
        let dir = try scratch(name)
        let seedPath = dir + "/seed." + ext
        try Data(seed).write(to: URL(fileURLWithPath: seedPath))
        let archive = try ZipArchive(path: seedPath)
        var entries: [(String, [UInt8])] = []
        for entry in archive.entryNames { entries.append((entry, try archive.read(entry))) }
        let path = dir + "/mutant." + ext
        var rng = SplitMix64(seed: stableHash(name))
        let limit = memoryLimit([seed])
        let start = peakRSS()
        for i in 0..<scaled(count) {
            var mutated = entries
            let k = Int(rng.next(UInt64(entries.count)))
            let (entryName, bytes) = entries[k]
            if entryName.hasSuffix(".json"), let json = try? JSONValue.parse(bytes: bytes), rng.next(2) == 0 {
                mutated[k].1 = Array(JSONMutator.mutate(json, &rng).serialized().utf8)
            } else {
                mutated[k].1 = Mutator.mutate(bytes, &rng)
            }
            let zipped = try ZipWriter.archive(mutated, deflate: rng.next(2) == 0)
            try Data(zipped).write(to: URL(fileURLWithPath: path))
            keep(name, zipped)
            check(name, i) { try parse(path) }
            guard withinMemoryBound(name, i, start: start, limit: limit) else { return }
        }
        print("[mutation] \(name): \(scaled(count)) mutants, peak RSS grew \(peakRSS() - start) bytes (asserted limit \(limit))")
    }

    /// Structural JSON mutations (dropped keys, changed types, huge numbers, deep nesting).
    func runJSON(_ name: String, seeds: [[UInt8]], count: Int, parse: (JSONValue) throws -> Void) throws {
        let parsed = try seeds.map { try JSONValue.parse(bytes: $0) }
        var rng = SplitMix64(seed: stableHash(name))
        let limit = memoryLimit(seeds)
        let start = peakRSS()
        for i in 0..<scaled(count) {
            let mutant = JSONMutator.mutate(parsed[i % parsed.count], &rng)
            keep(name, Array(mutant.serialized().utf8))
            check(name, i) { try parse(mutant) }
            guard withinMemoryBound(name, i, start: start, limit: limit) else { return }
        }
        print("[mutation] \(name): \(scaled(count)) mutants, peak RSS grew \(peakRSS() - start) bytes (asserted limit \(limit))")
    }

    /// Asserts that peak RSS has not grown past `limit` since `start`.
    func withinMemoryBound(_ name: String, _ index: Int, start: Int, limit: Int) -> Bool {
        let growth = peakRSS() - start
        if growth > limit { XCTFail("\(name): mutant \(index) grew peak RSS by \(growth) bytes (limit \(limit))") }
        return growth <= limit
    }

    /// Runs one mutant: success and `GraftError` pass, any other error fails the test.
    func check(_ name: String, _ index: Int, _ body: () throws -> Void) {
        do { try body() } catch is GraftError {} catch {
            XCTFail("\(name): mutant \(index) threw a non-Graft error: \(error)")
        }
    }

    // MARK: Support

    func scaled(_ count: Int) -> Int {
        let factor = Double(ProcessInfo.processInfo.environment["GRAFT_MUTANTS"] ?? "") ?? 1
        return max(1, Int(Double(count) * factor))
    }

    /// 4 × the largest seed (mutants grow by at most a chunk) + 64 MB. Off under
    /// AddressSanitizer (`GRAFT_SKIP_RSS_CHECK`), whose quarantine inflates RSS by itself.
    func memoryLimit(_ seeds: [[UInt8]]) -> Int {
        if ProcessInfo.processInfo.environment["GRAFT_SKIP_RSS_CHECK"] != nil { return Int.max / 2 }
        return 4 * 2 * (seeds.map(\.count).max() ?? 0) + 64 << 20
    }

    func keep(_ name: String, _ bytes: [UInt8]) {
        guard let dir = ProcessInfo.processInfo.environment["GRAFT_MUTANT_DIR"] else { return }
        try? Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name + ".mutant"))
    }

    func scratch(_ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graft-mutation-\(getpid())/\(name)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.path
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("fixtures")

    func fixturePath(_ name: String) -> String { Self.fixtures.appendingPathComponent(name).path }

    func fixture(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixturePath(name)))) }

    /// Small corpus files that exist (the corpus is optional outside CI).
    func corpusFiles(_ relative: [String]) -> [[UInt8]] {
        relative.compactMap { FileManager.default.contents(atPath: Corpus.path($0)).map { [UInt8]($0) } }
    }

    func stableHash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}

/// Peak resident set size of this process, in bytes (Linux reports ru_maxrss in KiB).
func peakRSS() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}

/// Byte-level mutations: bit flips, interesting bytes and integers, truncation, chunk
/// duplication and deletion. One to four per mutant.
enum Mutator {
    static let interestingBytes: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, 0x20, 0x7B, 0x22]
    static let interestingInts: [UInt64] = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000,
                                            0xFFFF_FFFF, 0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000,
                                            0xFFFF_FFFF_FFFF_FFFF, 1 << 40, 1 << 20]

    static func mutate(_ seed: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = seed
        for _ in 0...rng.next(3) {
            guard !b.isEmpty else { return b }
            switch rng.next(7) {
            case 0:
                b[rng.index(b.count)] ^= UInt8(1) << UInt8(rng.next(8))
            case 1:
                b[rng.index(b.count)] = interestingBytes[rng.index(interestingBytes.count)]
            case 2:
                let width = [2, 4, 8][rng.index(3)]
                let at = rng.index(b.count)
                let value = interestingInts[rng.index(interestingInts.count)]
                let bigEndian = rng.next(2) == 0
                for k in 0..<width where at + k < b.count {
                    let shift = UInt64(bigEndian ? (width - 1 - k) * 8 : k * 8)
                    b[at + k] = UInt8(truncatingIfNeeded: value >> shift)
                }
            case 3:
                b = Array(b.prefix(rng.index(b.count)))
            case 4:
                let at = rng.index(b.count)
                let length = min(b.count - at, 1 + rng.index(64))
                b.insert(contentsOf: b[at..<at + length], at: rng.index(b.count))
            case 5:
                let at = rng.index(b.count)
                b.removeSubrange(at..<min(b.count, at + 1 + rng.index(64)))
            default:
                b[rng.index(b.count)] = UInt8(truncatingIfNeeded: rng.next())
            }
        }
        return b
    }
}

/// Structural JSON mutations on one random node: drop a key, change a value's type, put in a
/// huge or negative number, nest the node deeply, or duplicate an array element.
enum JSONMutator {
    static let replacements: [JSONValue] = [
        .null, .bool(true), .string(""), .string("Lambda"), .number("-1"), .number("0"),
        .number("1e308"), .number("99999999999999999999"), .number("2147483648"), .number("-9223372036854775809"),
        .number("1.5"), .array([]), .object([:]), .array([.number("4294967296"), .number("-3")]),
    ]

    static func mutate(_ value: JSONValue, _ rng: inout SplitMix64) -> JSONValue {
        var v = value
        for _ in 0...rng.next(2) {
            let total = count(v)
            var target = rng.index(total)
            v = apply(v, &target, &rng)
        }
        return v
    }

    static func count(_ v: JSONValue) -> Int {
        switch v {
        case .array(let a): return 1 + a.reduce(0) { $0 + count($1) }
        case .object(let o): return 1 + o.values.reduce(0) { $0 + count($1) }
        default: return 1
        }
    }

    /// Walks to the `target`-th node (pre-order) and mutates it.
    static func apply(_ v: JSONValue, _ target: inout Int, _ rng: inout SplitMix64) -> JSONValue {
        if target == 0 {
            target = -1
            return mutateNode(v, &rng)
        }
        target -= 1
        switch v {
        case .array(var a):
            for i in a.indices where target >= 0 { a[i] = apply(a[i], &target, &rng) }
            return .array(a)
        case .object(var o):
            for key in o.keys where target >= 0 { o[key] = apply(o[key]!, &target, &rng) }
            return .object(o)
        default:
            return v
        }
    }

    static func mutateNode(_ v: JSONValue, _ rng: inout SplitMix64) -> JSONValue {
        switch rng.next(5) {
        case 0:  // drop a key / element
            if case .object(var o) = v, !o.isEmpty { o.remove(at: rng.index(o.count)); return .object(o) }
            if case .array(var a) = v, !a.isEmpty { a.remove(at: rng.index(a.count)); return .array(a) }
            return .null
        case 1:  // deep nesting: the node wrapped in itself (a nested-model depth bomb) or in arrays
            var n = v
            let depth = 50 + rng.index(300)
            if case .object(let o) = v, o["config"] != nil, rng.next(2) == 0 {
                for _ in 0..<min(depth, 80) {
                    var o2 = o
                    o2["config"] = .object(["layers": .array([n])])
                    n = .object(o2)
                }
            } else {
                for _ in 0..<depth { n = .array([n]) }
            }
            return n
        case 2:  // duplicate an element
            if case .array(var a) = v, let first = a.first { a.append(contentsOf: Array(repeating: first, count: 1 + rng.index(3))); return .array(a) }
            return v
        default:  // change the type / value
            return replacements[rng.index(replacements.count)]
        }
    }
}
