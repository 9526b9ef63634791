import Foundation
import GraftCore
import GraftDL4J
import GraftIO
import GraftKeras
import GraftRuntime
import OrderedCollections
import XCTest

/// The error catalogue (`formats/errors.md`): one case per kind of bad input, each built in
/// the test from fixture or corpus bytes. Every case asserts the error's kind, that the
/// message names the file and the place (entry, layer, dataset, field), and that it says
/// what was expected or what was found.
final class BadInputTests: XCTestCase {
    struct Case {
        var name: String
        var kind: GraftError.Kind
        /// A substring the error's place (location or field) must contain.
        var place: String
        var needsCorpus = false
        /// False where the message itself says what was found (JSON syntax errors, missing parts).
        var statesExpectedOrFound = true
        /// Writes the bad input into `dir` and runs the reader on it; returns the file the
        /// error must name.
        var run: (_ dir: String) throws -> String
    }

    func testCatalogue() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graft-bad-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpusPresent = FileManager.default.fileExists(atPath: Corpus.path("MANIFEST.json"))
        var checked = 0
        for c in Self.cases {
            if c.needsCorpus && !corpusPresent { continue }
            let caseDir = dir.appendingPathComponent(c.name).path
            try FileManager.default.createDirectory(atPath: caseDir, withIntermediateDirectories: true)
            var file = ""
            do {
                file = try c.run(caseDir)
                XCTFail("\(c.name): no error")
            } catch let e as GraftError {
                print("catalogue \(c.name) [\(e.kind.rawValue)]: \(e)")
                file = file.isEmpty ? (e.file ?? "") : file
                XCTAssertEqual(e.kind, c.kind, "\(c.name): \(e)")
                XCTAssertNotNil(e.file, "\(c.name): no file in \(e)")
                if let f = e.file { XCTAssertTrue(f.hasPrefix(caseDir), "\(c.name): file \(f) is not the input") }
                let place = [e.location, e.field].compactMap { $0 }.joined(separator: " ")
                XCTAssertTrue(place.contains(c.place), "\(c.name): place '\(place)' does not name '\(c.place)': \(e)")
                XCTAssertTrue(!c.statesExpectedOrFound || e.expected != nil || e.found != nil, "\(c.name): says neither expected nor found: \(e)")
                XCTAssertTrue(e.description.contains(e.file ?? "\u{0}"), "\(c.name): message does not name the file")
            } catch {
                XCTFail("\(c.name): non-Graft error \(error)")
            }
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, corpusPresent ? 30 : 20)
    }

    // MARK: Inputs

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("fixtures")

    static func fixture(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: fixtures.appendingPathComponent(name)))
    }

    static func corpus(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: Corpus.url(relative)))
    }

    static func write(_ bytes: [UInt8], _ dir: String, _ name: String) throws -> String {
        let path = dir + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func entries(_ zipBytes: [UInt8], _ dir: String) throws -> [(String, [UInt8])] {
        let seed = try write(zipBytes, dir, "seed.zip")
        let archive = try ZipArchive(path: seed)
        return try archive.entryNames.map { ($0, try archive.read($0)) }
    }

    /// A zip with its entries changed by `edit`.
    static func rezip(_ zipBytes: [UInt8], _ dir: String, _ name: String,
                      _ edit: (inout [(String, [UInt8])]) -> Void) throws -> String {
        var e = try entries(zipBytes, dir)
        edit(&e)
        return try write(try ZipWriter.archive(e), dir, name)
    }

    /// `bytes` with every occurrence of `old` replaced by `new` (byte-wise: binary data stays intact).
    static func replacing(_ bytes: [UInt8], _ old: String, _ new: String) -> [UInt8] {
        let o = Array(old.utf8), n = Array(new.utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if i + o.count <= bytes.count && Array(bytes[i..<i + o.count]) == o {
                out += n; i += o.count
            } else {
                out.append(bytes[i]); i += 1
            }
        }
        return out
    }

    static let npySmall = NPY.encode(Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6]))
    static var nd4jSmall: [UInt8] { (try? Nd4jArray.encodeMixedDataTypes(Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6]))) ?? [] }

    /// Offset of the shape-info values in `nd4jSmall`: tag (2 + 16 "MIXED_DATA_TYPES"), count (8), type (2 + 4 "LONG").
    static let nd4jInfoOffset = 2 + 16 + 8 + 2 + 4

    static func putInt64BE(_ bytes: inout [UInt8], _ at: Int, _ v: Int64) {
        for k in 0..<8 { bytes[at + k] = UInt8(truncatingIfNeeded: UInt64(bitPattern: v) >> UInt64(56 - 8 * k)) }
    }

    static func readNd4j(_ bytes: [UInt8], _ dir: String) throws -> String {
        let path = try write(bytes, dir, "array.bin")
        _ = try Nd4jArray.read(path: path)
        return path
    }

    static let dl4jMLP = "dl4j/regression/080/080_ModelSerializer_Regression_MLP_1.zip"
    static let kerasConfig = "lstm_timeseries_config.json"
    static let kerasWeights = fixtures.appendingPathComponent("lstm_timeseries_weights.h5").path

    static func readKerasConfig(_ bytes: [UInt8], _ dir: String) throws -> String {
        let path = try write(bytes, dir, "config.json")
        _ = try KerasReader.read(configPath: path, weightsPath: kerasWeights)
        return path
    }

    static func load(_ path: String) throws -> String {
        _ = try ModelFile.load(path: path)
        return path
    }

    /// Positions in mlp.h5 of a root attribute's message body, datatype and data (an object
    /// header v1 attribute message: version, reserved, name/datatype/dataspace sizes u16, then
    /// name, datatype and dataspace each padded to 8 bytes, then the data).
    static func attributeMessage(_ b: [UInt8], _ attribute: String) throws -> (body: Int, datatype: Int, data: Int) {
        let name = Array((attribute + "\u{0}").utf8)
        guard let at = (0..<(b.count - name.count)).first(where: { Array(b[$0..<$0 + name.count]) == name }) else {
            throw GraftError(.invalidArgument, "fixture has no \(attribute) attribute")
        }
        let body = at - 8
        let pad = { (n: Int) in (n + 7) / 8 * 8 }
        let sizes = (1...3).map { Int(b[body + 2 * $0]) | Int(b[body + 2 * $0 + 1]) << 8 }
        return (body, at + pad(sizes[0]), at + pad(sizes[0]) + pad(sizes[1]) + pad(sizes[2]))
    }

    /// A weights-only file for the lstm_timeseries config whose `lstm` entry `makeLSTM` writes.
    static func readWithWeights(_ dir: String, _ makeLSTM: (HDF5WritableGroup) throws -> Void) throws -> String {
        let weights = dir + "/weights.h5"
        let file = try HDF5WritableFile(creating: weights)
        do {  // every object closed before the file
            let root = try file.root()
            try root.setStringArrayAttribute("layer_names", ["lstm", "per_step_softmax"])
            try makeLSTM(root)
        }
        try file.close()
        let config = try write(try fixture(kerasConfig), dir, "config.json")
        _ = try KerasReader.read(configPath: config, weightsPath: weights)
        return weights
    }

    static var cases: [Case] { [
        // .npy / .npz
        Case(name: "npy-wrong-magic", kind: .malformed, place: "magic") { dir in
            var b = npySmall; b[1] = 0x58
            return try { let p = try write(b, dir, "a.npy"); _ = try NPY.read(path: p); return p }()
        },
        Case(name: "npy-unsupported-dtype", kind: .unsupported, place: "descr") { dir in
            let p = try write(replacing(npySmall, "<f4", "<c8"), dir, "a.npy"); _ = try NPY.read(path: p); return p
        },
        Case(name: "npy-truncated-data", kind: .shapeMismatch, place: "data") { dir in
            let p = try write(Array(npySmall.dropLast(5)), dir, "a.npy"); _ = try NPY.read(path: p); return p
        },
        Case(name: "npy-truncated-header", kind: .malformed, place: "header") { dir in
            let p = try write(Array(npySmall.prefix(40)), dir, "a.npy"); _ = try NPY.read(path: p); return p
        },
        Case(name: "npy-unknown-version", kind: .unsupported, place: "version") { dir in
            var b = npySmall; b[6] = 9
            let p = try write(b, dir, "a.npy"); _ = try NPY.read(path: p); return p
        },
        Case(name: "npy-negative-dimension", kind: .malformed, place: "shape") { dir in
            let p = try write(replacing(npySmall, "(2, 3)", "(2, -3)"), dir, "a.npy"); _ = try NPY.read(path: p); return p
        },
        Case(name: "npz-truncated-member", kind: .shapeMismatch, place: "entry") { dir in
            let p = try rezip(try fixture("mlp_io.npz"), dir, "io.npz") { $0[0].1.removeLast(7) }
            _ = try NPZ.read(path: p); return p
        },
        // zip layer
        Case(name: "zip-parent-path", kind: .malformed, place: "../") { dir in
            let p = try write(try ZipWriter.archive([("../evil.npy", npySmall)]), dir, "a.npz"); _ = try NPZ.read(path: p); return p
        },
        Case(name: "zip-absolute-path", kind: .malformed, place: "/etc") { dir in
            let p = try write(try ZipWriter.archive([("/etc/evil.npy", npySmall)]), dir, "a.npz"); _ = try NPZ.read(path: p); return p
        },
        Case(name: "zip-bomb-ratio", kind: .malformed, place: "zeros.npy") { dir in
            let zeros = [UInt8](repeating: 0, count: 4 << 20)
            let p = try write(try ZipWriter.archive([("zeros.npy", zeros)], deflate: true), dir, "bomb.npz")
            let archive = try ZipArchive(path: p)
            archive.compressionRatioFloorBytes = 1 << 20  // the default floor is 100 MB; the ratio is the point here
            _ = try archive.read("zeros.npy"); return p
        },
        Case(name: "zip-entry-too-large", kind: .malformed, place: "a.npy") { dir in
            let p = try write(try ZipWriter.archive([("a.npy", npySmall)]), dir, "a.npz")
            let archive = try ZipArchive(path: p)
            archive.maxEntryBytes = 16
            _ = try archive.read("a.npy"); return p
        },
        Case(name: "zip-not-an-archive", kind: .malformed, place: "zip") { dir in
            var b = try fixture("mlp_io.npz"); b.removeLast(b.count / 2)
            let p = try write(b, dir, "a.npz"); _ = try NPZ.read(path: p); return p
        },
        // Nd4j arrays
        Case(name: "nd4j-unknown-tag", kind: .unsupported, place: "allocation tag") { dir in
            try readNd4j(replacing(nd4jSmall, "MIXED_DATA_TYPES", "MIXED_DATA_TYPEZ"), dir)
        },
        Case(name: "nd4j-lying-length", kind: .malformed, place: "data") { dir in
            var b = nd4jSmall
            // The data buffer's count follows the shape info (2·2+4 longs) and its tag.
            putInt64BE(&b, nd4jInfoOffset + 8 * 8 + 2 + 16, 1 << 40)
            return try readNd4j(b, dir)
        },
        Case(name: "nd4j-negative-shape", kind: .malformed, place: "shape") { dir in
            var b = nd4jSmall; putInt64BE(&b, nd4jInfoOffset + 8, -2); return try readNd4j(b, dir)
        },
        Case(name: "nd4j-rank-overflow", kind: .malformed, place: "rank") { dir in
            var b = nd4jSmall; putInt64BE(&b, nd4jInfoOffset, Int64.max); return try readNd4j(b, dir)
        },
        Case(name: "nd4j-shape-overflow", kind: .malformed, place: "shape") { dir in
            var b = nd4jSmall
            putInt64BE(&b, nd4jInfoOffset + 8, 1 << 40); putInt64BE(&b, nd4jInfoOffset + 16, 1 << 40)
            return try readNd4j(b, dir)
        },
        Case(name: "nd4j-zero-stride-expansion", kind: .shapeMismatch, place: "data length") { dir in
            var b = nd4jSmall
            putInt64BE(&b, nd4jInfoOffset + 8, 1 << 20); putInt64BE(&b, nd4jInfoOffset + 16, 1 << 10)
            putInt64BE(&b, nd4jInfoOffset + 24, 0); putInt64BE(&b, nd4jInfoOffset + 32, 0)
            return try readNd4j(b, dir)
        },
        Case(name: "nd4j-unsupported-type", kind: .unsupported, place: "data type") { dir in
            try readNd4j(replacing(nd4jSmall, "FLOAT", "CMPLX"), dir)
        },
        Case(name: "nd4j-truncated", kind: .malformed, place: "data") { dir in
            try readNd4j(Array(nd4jSmall.dropLast(3)), dir)
        },
        // DL4J models
        Case(name: "dl4j-missing-coefficients", kind: .missingWeights, place: "coefficients.bin", needsCorpus: true) { dir in
            try load(try rezip(try corpus(dl4jMLP), dir, "model.zip") { $0.removeAll { $0.0 == "coefficients.bin" } })
        },
        Case(name: "dl4j-malformed-configuration", kind: .malformed, place: "byte", needsCorpus: true, statesExpectedOrFound: false) { dir in
            try load(try rezip(try corpus(dl4jMLP), dir, "model.zip") { e in
                if let i = e.firstIndex(where: { $0.0 == "configuration.json" }) { e[i].1 = Array(e[i].1.prefix(200)) }
            })
        },
        Case(name: "dl4j-unknown-layer", kind: .unknownLayer, place: "layer", needsCorpus: true) { dir in
            try load(try rezip(try corpus(dl4jMLP), dir, "model.zip") { e in
                if let i = e.firstIndex(where: { $0.0 == "configuration.json" }) {
                    e[i].1 = replacing(e[i].1, "\"dense\" :", "\"quantumDense\" :")
                }
            })
        },
        Case(name: "dl4j-coefficients-shape-mismatch", kind: .shapeMismatch, place: "coefficients.bin", needsCorpus: true) { dir in
            try load(try rezip(try corpus(dl4jMLP), dir, "model.zip") { e in
                let short = (try? Nd4jArray.encodeMixedDataTypes(Tensor(shape: [1, 3], floats: [1, 2, 3]))) ?? []
                if let i = e.firstIndex(where: { $0.0 == "coefficients.bin" }) { e[i].1 = short }
            })
        },
        Case(name: "zip-neither-dl4j-nor-keras3", kind: .unsupported, place: "archive") { dir in
            try load(try write(try ZipWriter.archive([("readme.txt", Array("hi".utf8))]), dir, "model.zip"))
        },
        // Keras HDF5
        Case(name: "h5-truncated", kind: .malformed, place: "offset") { dir in
            try load(try write(Array(try fixture("mlp.h5").prefix(3000)), dir, "model.h5"))
        },
        Case(name: "h5-wrong-magic", kind: .unsupported, place: "signature") { dir in
            var b = try fixture("mlp.h5"); b[1] = 0x58
            return try load(try write(b, dir, "model.h5"))
        },
        Case(name: "h5-global-heap-lying-size", kind: .malformed, place: "global heap") { dir in
            var b = try fixture("mlp.h5")
            // The first object of the first global heap collection ("GCOL" + 12 header bytes).
            guard let gcol = (0..<(b.count - 4)).first(where: { b[$0] == 0x47 && b[$0 + 1] == 0x43 && b[$0 + 2] == 0x4F && b[$0 + 3] == 0x4C })
            else { throw GraftError(.invalidArgument, "fixture has no global heap") }
            for k in 0..<8 { b[gcol + 16 + 8 + k] = k == 2 ? 0x80 : 0 }
            return try load(try write(b, dir, "model.h5"))
        },
        Case(name: "h5-missing-model-config", kind: .invalidArgument, place: "model_config") { dir in
            let p = dir + "/weights-only.h5"
            try FileManager.default.copyItem(atPath: kerasWeights, toPath: p)
            _ = try KerasReader.read(path: p); return p
        },
        // Keras JSON configs
        Case(name: "keras-malformed-config", kind: .malformed, place: "byte", statesExpectedOrFound: false) { dir in
            try readKerasConfig(Array(try fixture(kerasConfig).prefix(300)), dir)
        },
        Case(name: "keras-unknown-layer", kind: .unknownLayer, place: "lstm") { dir in
            try readKerasConfig(replacing(try fixture(kerasConfig), "\"class_name\": \"LSTM\"", "\"class_name\": \"QuantumLSTM\""), dir)
        },
        Case(name: "keras-shape-mismatch", kind: .shapeMismatch, place: "lstm") { dir in
            try readKerasConfig(replacing(try fixture(kerasConfig), "\"units\": 6", "\"units\": 7"), dir)
        },
        Case(name: "keras-missing-weight-dataset", kind: .missingWeights, place: "lstm_renamed") { dir in
            try readKerasConfig(replacing(try fixture(kerasConfig), "\"name\": \"lstm\"", "\"name\": \"lstm_renamed\""), dir)
        },
        Case(name: "keras-nested-model-depth-bomb", kind: .malformed, place: "byte", statesExpectedOrFound: false) { dir in
            var model = try JSONValue.parse(bytes: try fixture(kerasConfig))
            for _ in 0..<100 {
                model = .object(["class_name": .string("Sequential"), "config": .object(["name": .string("n"), "layers": .array([model])])])
            }
            return try readKerasConfig(Array(model.serialized().utf8), dir)
        },
        Case(name: "keras-nested-model-depth-limit", kind: .malformed, place: "nested model") { dir in
            // 40 levels of Sequential in Sequential: within JSON's nesting limit, past the model limit.
            var model = try JSONValue.parse(bytes: try fixture(kerasConfig))
            for level in 0..<40 {
                model = .object(["class_name": .string("Sequential"),
                                 "config": .object(["name": .string("n\(level)"), "layers": .array([model])])])
            }
            return try readKerasConfig(Array(model.serialized().utf8), dir)
        },
        Case(name: "json-nesting-bomb", kind: .malformed, place: "byte", statesExpectedOrFound: false) { dir in
            let p = try write(Array(("{\"confs\": " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}").utf8), dir, "deep.json")
            return try load(p)
        },
        // Keras 3 archives
        Case(name: "keras3-missing-weights", kind: .missingWeights, place: "model.weights.h5") { dir in
            let p = try rezip(try fixture("mlp_keras3.keras"), dir, "model.keras") { $0.removeAll { $0.0 == "model.weights.h5" } }
            _ = try KerasReader.read(path: p); return p
        },
        Case(name: "keras3-malformed-config", kind: .malformed, place: "byte", statesExpectedOrFound: false) { dir in
            try load(try rezip(try fixture("mlp_keras3.keras"), dir, "model.keras") { e in
                if let i = e.firstIndex(where: { $0.0 == "config.json" }) { e[i].1 = Array(e[i].1.prefix(100)) }
            })
        },
        Case(name: "h5-attribute-sizes-past-message", kind: .malformed, place: "attribute message") { dir in
            var b = try fixture("mlp.h5")
            // The dataspace size of training_config: its data would start past the message.
            b[try attributeMessage(b, "training_config").body + 6] = 0xFC
            return try load(try write(b, dir, "model.h5"))
        },
        Case(name: "h5-variable-length-string-lying-length", kind: .malformed, place: "variable-length element 0") { dir in
            var b = try fixture("mlp.h5")
            // The sequence length of training_config's string (its global heap object is a few hundred bytes).
            let data = try attributeMessage(b, "training_config").data
            for (k, v) in [0, 0, 0, 0x40].enumerated() { b[data + k] = UInt8(v) }
            return try load(try write(b, dir, "model.h5"))
        },
        Case(name: "h5-layer-is-a-dataset", kind: .malformed, place: "/lstm") { dir in
            try readWithWeights(dir) { try $0.writeDataset("lstm", Tensor(shape: [2], floats: [1, 2])) }
        },
        Case(name: "h5-model-config-not-a-string", kind: .malformed, place: "model_config") { dir in
            var b = try fixture("mlp.h5")
            // The datatype class of model_config: variable-length string (9) → floating point (1).
            let datatype = try attributeMessage(b, "model_config").datatype
            b[datatype] = b[datatype] & 0xF0 | 1
            return try load(try write(b, dir, "model.h5"))
        },
        Case(name: "h5-weight-is-a-group", kind: .malformed, place: "kernel:0") { dir in
            try readWithWeights(dir) { root in
                let lstm = try root.group("lstm")
                try lstm.setStringArrayAttribute("weight_names", ["lstm/lstm_cell/kernel:0"])
                _ = try lstm.group("lstm/lstm_cell/kernel:0")
            }
        },
        Case(name: "h5-weight-wrong-rank", kind: .shapeMismatch, place: "lstm") { dir in
            try readWithWeights(dir) { root in
                let lstm = try root.group("lstm")
                let names = ["lstm/lstm_cell/kernel:0", "lstm/lstm_cell/recurrent_kernel:0", "lstm/lstm_cell/bias:0"]
                try lstm.setStringArrayAttribute("weight_names", names)
                try lstm.writeDataset(names[0], Tensor(zeros: [3, 24, 1]))
                try lstm.writeDataset(names[1], Tensor(zeros: [6, 24]))
                try lstm.writeDataset(names[2], Tensor(zeros: [24]))
            }
        },
        Case(name: "h5-extra-weight-array", kind: .shapeMismatch, place: "lstm") { dir in
            // Four arrays where the LSTM config needs three: a config/weights mismatch, not missing weights.
            try readWithWeights(dir) { root in
                let lstm = try root.group("lstm")
                let names = ["lstm/lstm_cell/kernel:0", "lstm/lstm_cell/recurrent_kernel:0", "lstm/lstm_cell/bias:0", "lstm/extra:0"]
                try lstm.setStringArrayAttribute("weight_names", names)
                for (name, shape) in zip(names, [[3, 24], [6, 24], [24], [24]]) { try lstm.writeDataset(name, Tensor(zeros: shape)) }
            }
        },
        Case(name: "h5-layer-group-missing", kind: .missingWeights, place: "/lstm") { dir in
            try readWithWeights(dir) { _ in }
        },
        Case(name: "strict-nan-weights", kind: .malformed, place: "layer 'hidden'") { dir in
            var graph = try ModelFile.load(path: fixtures.appendingPathComponent("mlp.h5").path)
            guard let i = graph.nodes.firstIndex(where: { $0.name == "hidden" }), var kernel = graph.nodes[i].parameters["kernel"]
            else { throw GraftError(.invalidArgument, "mlp.h5 has no hidden kernel") }
            kernel.withUnsafeMutableBytes { $0.bindMemory(to: Float.self)[5] = .nan }
            graph.nodes[i].parameters["kernel"] = kernel
            let p = dir + "/nan.h5"
            try ModelFile.save(graph, to: p)
            let loaded = try ModelFile.load(path: p)  // valid without --strict
            try loaded.checkFiniteParameters()
            return p
        },
    ] }
}
