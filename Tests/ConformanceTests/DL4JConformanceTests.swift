import Foundation
import GraftCore
import GraftDL4J
import GraftRuntime
import XCTest

/// Walks every `dl4j-zip`, `dl4j-config-only` and `nd4j-array` case of the corpus manifest
/// and acts on each of its `checks`. Prints one line per case and a total per check kind.
final class DL4JConformanceTests: XCTestCase {
    struct Outcome { var passed: [String] = []; var failed: [(String, String)] = [] }

    func testDL4JCorpus() throws {
        let cases = try Corpus.cases(formats: ["dl4j-zip", "dl4j-config-only", "nd4j-array"])
        XCTAssertFalse(cases.isEmpty)
        var totals: [String: (pass: Int, fail: Int)] = [:]
        for testCase in cases {
            let id = testCase["id"]?.stringValue ?? "?"
            var outcome = Outcome()
            for check in testCase["checks"]?.stringArray ?? [] {
                do {
                    try run(check: check, testCase)
                    outcome.passed.append(check)
                    totals[check, default: (0, 0)].pass += 1
                } catch {
                    outcome.failed.append((check, "\(error)"))
                    totals[check, default: (0, 0)].fail += 1
                    XCTFail("\(id): \(check): \(error)")
                }
            }
            let status = outcome.failed.isEmpty ? "PASS" : "FAIL"
            var line = "[dl4j] \(status) \(id): passed \(outcome.passed.joined(separator: ","))"
            for (check, reason) in outcome.failed { line += " | \(check) FAILED: \(reason.prefix(300))" }
            print(line)
        }
        let all = totals.values.reduce((0, 0)) { ($0.0 + $1.pass, $0.1 + $1.fail) }
        for (check, t) in totals.sorted(by: { $0.key < $1.key }) { print("[dl4j] total \(check): \(t.pass) passed, \(t.fail) failed") }
        print("[dl4j] total: \(cases.count) cases, \(all.0) checks passed, \(all.1) failed")
    }

    /// The untrained integration models (no stored outputs) run end to end; the output
    /// shape follows from the layers by hand: CNN1dCharacterTestCase keeps the length T
    /// (Same conv, Same stride-1 pooling, crop 1+1, pad 1+1) and ends in 77 softmax classes,
    /// so [b, 77, T] in DL4J's layout, each time step summing to 1.
    func testCNN1DIntegrationModelRuns() throws {
        _ = try Corpus.cases()
        let g = try DL4JReader.read(path: Corpus.path("dl4j/integration/CNN1dCharacterTestCase/Model_RANDOM_INIT_UNTRAINED.zip"))
        let (b, t) = (2, 9)
        let x = Tensor(shape: [b, 77, t], floats: (0..<(b * 77 * t)).map { Float(($0 * 37) % 11) / 11 - 0.5 })
        let y = try Interpreter(graph: g).run([x])[0]
        XCTAssertEqual(y.shape, [b, 77, t])
        let v = y.doubles()
        for i in 0..<b { for s in 0..<t {
            let sum = (0..<77).reduce(0.0) { $0 + v[(i * 77 + $1) * t + s] }
            XCTAssertEqual(sum, 1, accuracy: 1e-5)
        } }
    }

    /// DL4J's own topological sort, reproduced, must give the order DL4J stored
    /// (`topologicalOrderStr`) for every ComputationGraph in the corpus that has one.
    func testTopologicalSortMatchesStoredOrders() throws {
        var checked = 0
        for c in try Corpus.cases(formats: ["dl4j-zip", "dl4j-config-only"]) {
            guard let cfg = try? config(c), cfg.kind == .computationGraph else { continue }
            let ours = try DL4JTopologicalSort.order(networkInputs: cfg.networkInputs, vertices: cfg.vertices.map { ($0.name, $0.inputs) })
            if let stored = cfg.storedTopologicalOrder {
                XCTAssertEqual(ours, stored, c["id"]?.stringValue ?? "")
                checked += 1
            }
            // Either way the order must respect every edge.
            let position = Dictionary(uniqueKeysWithValues: ours.enumerated().map { ($1, $0) })
            for v in cfg.vertices { for i in v.inputs { XCTAssertLessThan(position[i]!, position[v.name]!) } }
        }
        print("[dl4j] topological sort: \(checked) stored orders reproduced")
        XCTAssertGreaterThan(checked, 0)
    }

    /// The MIXED_DATA_TYPES encoder reproduces DL4J's own files byte for byte (for arrays
    /// stored with plain row-major strides).
    func testEncoderReproducesCorpusArrays() throws {
        var files: Set<String> = []
        for c in try Corpus.cases(formats: ["dl4j-zip", "nd4j-array"]) {
            for key in ["inputs", "expected"] {
                guard let spec = c[key], spec["format"]?.stringValue == "nd4j-bin", let file = spec["file"]?.stringValue,
                      spec["array"]?["encoding"]?.stringValue == "MIXED_DATA_TYPES" else { continue }
                files.insert(file)
            }
        }
        var reproduced = 0
        for file in files.sorted() {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Corpus.path(file))))
            let array = try Nd4jArray.decode(bytes)
            var rowMajor = [Int](repeating: 1, count: array.shape.count)
            for i in stride(from: array.shape.count - 2, through: 0, by: -1) { rowMajor[i] = rowMajor[i + 1] * array.shape[i + 1] }
            guard array.strides == rowMajor, array.order == "c" else { continue }
            XCTAssertEqual(try Nd4jArray.encodeMixedDataTypes(array.tensor), bytes, file)
            reproduced += 1
        }
        print("[dl4j] encoder: \(reproduced) of \(files.count) MIXED_DATA_TYPES corpus arrays reproduced byte for byte")
        XCTAssertGreaterThan(reproduced, 0)
    }

    struct CheckFailure: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

    func run(check: String, _ c: JSONValue) throws {
        switch check {
        case "array_decode": try checkArrayDecode(c)
        case "params_equal_1_to_N": try checkParameters(c)
        case "updater_state_equal_1_to_M": try checkUpdaterState(c)
        case "config_fields", "config_parses", "layer_list": try checkConfig(c)
        case "num_params_matches_config": try checkNumParams(c)
        case "frozen_flags", "frozen_layers_detected": try checkFrozen(c)
        case "custom_layer_reported": try checkCustom(c)
        case "import_without_error": _ = try graph(c)
        case "forward": try checkForward(c)
        default: throw CheckFailure("unknown check kind \(check)")
        }
    }

    // MARK: Loading

    func modelPath(_ c: JSONValue) -> String? {
        if let zip = c["model"]?["zip"]?.stringValue { return Corpus.path(zip) }
        if let json = c["model"]?["config_json"]?.stringValue { return Corpus.path(json) }
        return nil
    }

    func graph(_ c: JSONValue) throws -> Graph {
        guard let path = modelPath(c) else { throw CheckFailure("case has no model") }
        let g = c["format"]?.stringValue == "dl4j-config-only"
            ? try DL4JReader.readConfiguration(path: path) : try DL4JReader.read(path: path)
        // Structure: unique names, every input defined earlier, outputs exist.
        var seen: Set<String> = []
        for node in g.nodes {
            guard !seen.contains(node.name) else { throw CheckFailure("duplicate node \(node.name)") }
            for input in node.inputs where !seen.contains(input.node) {
                throw CheckFailure("\(node.name) consumes \(input.node) before it is defined")
            }
            seen.insert(node.name)
        }
        guard !g.outputs.isEmpty, g.outputs.allSatisfy({ seen.contains($0.node) }) else { throw CheckFailure("bad graph outputs \(g.outputs)") }
        return g
    }

    func config(_ c: JSONValue) throws -> DL4JNetworkConfig {
        guard let path = modelPath(c) else { throw CheckFailure("case has no model") }
        let bytes: [UInt8]
        if c["format"]?.stringValue == "dl4j-config-only" {
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } else {
            bytes = try ZipArchive(path: path).read("configuration.json")
        }
        return try DL4JNetworkConfig.parse(try JSONValue.parse(bytes: bytes), file: path)
    }

    // MARK: Checks

    func checkArrayDecode(_ c: JSONValue) throws {
        guard let bin = c["inputs"]?["file"]?.stringValue, let npy = c["expected"]?["file"]?.stringValue else {
            throw CheckFailure("case lacks inputs.file / expected.file")
        }
        let decoded = try Nd4jArray.read(path: Corpus.path(bin)).tensor
        let expected = try NPY.read(path: Corpus.path(npy))
        guard decoded.bitwiseEqual(expected) else {
            throw CheckFailure("decoded \(decoded) differs from .npy \(expected)")
        }
    }

    /// 1, 2, …, N in `dtype`, as a tensor.
    func arange(_ n: Int, start: Double, dtype: DType) -> Tensor {
        Tensor(shape: [n], doubles: (0..<n).map { start + Double($0) }).converted(to: dtype)
    }

    func checkParameters(_ c: JSONValue) throws {
        guard let path = modelPath(c), let n = c["expected"]?["count"]?.intValue else { throw CheckFailure("no arange expectation") }
        let start = c["expected"]?["start"]?.doubleValue ?? 1
        // The flat vector, decoded straight from the zip.
        let flatArray = try Nd4jArray.decode(try ZipArchive(path: path).read("coefficients.bin"))
        let flat = try flatArray.tensor.reshaped([flatArray.tensor.count])
        guard flat.bitwiseEqual(arange(n, start: start, dtype: flat.dtype)) else {
            throw CheckFailure("coefficients.bin is not \(start)...\(n) (shape \(flatArray.shape), \(flat.dtype))")
        }
        let g = try DL4JReader.read(path: path)
        // Every node's parameters are one contiguous block of the vector, blocks in order.
        var expectedOffset = 0
        for node in g.nodes {
            guard let offset = node.extras["dl4jParamOffset"]?.intValue, let count = node.extras["dl4jParamCount"]?.intValue else { continue }
            guard offset == expectedOffset else { throw CheckFailure("\(node.name): parameters start at \(offset), expected \(expectedOffset)") }
            let values = node.parameters.values.flatMap { $0.doubles() }.sorted()
            let wanted = (0..<count).map { start + Double(offset + $0) }
            guard values == wanted else { throw CheckFailure("\(node.name): parameter values are not \(offset + 1)...\(offset + count)") }
            try checkLayout(node, offset: offset, base: start)
            expectedOffset += count
        }
        guard expectedOffset == n else { throw CheckFailure("layers account for \(expectedOffset) of \(n) parameters") }
    }

    /// Hand-derived positions (FORMAT-NOTES §3.1/§3.2): value = base + flat index.
    func checkLayout(_ node: Node, offset: Int, base: Double) throws {
        func value(_ t: Tensor?, _ index: [Int]) throws -> Double {
            guard let t else { throw CheckFailure("\(node.name): missing tensor") }
            var flat = 0
            for (i, d) in zip(index, t.shape) { flat = flat * d + i }
            return t.doubles()[flat]
        }
        func expect(_ got: Double, _ flatIndex: Int, _ what: String) throws {
            guard got == base + Double(offset + flatIndex) else {
                throw CheckFailure("\(node.name): \(what) = \(got), expected \(base + Double(offset + flatIndex))")
            }
        }
        switch node.op {
        case .dense, .output:
            guard let k = node.parameters["kernel"] else { return }
            let (nIn, nOut) = (k.shape[0], k.shape[1])
            for (i, j) in [(0, 0), (nIn - 1, 0), (0, nOut - 1), (nIn - 1, nOut - 1)] {
                try expect(try value(k, [i, j]), i + j * nIn, "W[\(i),\(j)] ('f' order)")
            }
            if let b = node.parameters["bias"] { try expect(try value(b, [nOut - 1]), nIn * nOut + nOut - 1, "b[last]") }
        case .conv(let a) where a.kind == .standard && a.rank == 2:
            guard let k = node.parameters["kernel"] else { return }
            let (kH, kW, nIn, nOut) = (k.shape[0], k.shape[1], k.shape[2], k.shape[3])
            if let b = node.parameters["bias"] { try expect(try value(b, [0]), 0, "b[0] (bias first)") }
            for (h, w, i, o) in [(0, 0, 0, 0), (kH - 1, 0, 0, 0), (0, kW - 1, 0, 0), (0, 0, nIn - 1, 0), (0, 0, 0, nOut - 1)] {
                try expect(try value(k, [h, w, i, o]), nOut + ((o * nIn + i) * kH + h) * kW + w, "W[o=\(o),i=\(i),h=\(h),w=\(w)]")
            }
        case .lstm:
            try checkLSTM(node.parameters["kernel"], node.parameters["recurrentKernel"], node.parameters["bias"],
                          node.parameters["peepholes"], offset: 0, expect: expect)
        case .bidirectional(let a):
            guard case .lstm(let l) = a.layer, let fk = node.parameters["forward/kernel"] else { return }
            let n = l.recurrent.units, nIn = fk.shape[0]
            let half = nIn * 4 * n + n * (4 * n + (l.peepholes ? 3 : 0)) + 4 * n
            try checkLSTM(fk, node.parameters["forward/recurrentKernel"], node.parameters["forward/bias"],
                          node.parameters["forward/peepholes"], offset: 0, expect: expect)
            try checkLSTM(node.parameters["backward/kernel"], node.parameters["backward/recurrentKernel"],
                          node.parameters["backward/bias"], node.parameters["backward/peepholes"], offset: half, expect: expect)
        default:
            break
        }
    }

    /// DL4J blocks [a|f|o|g] ('f' order matrices) vs canonical Keras [i|f|c|o]: canonical
    /// block k is DL4J block [3, 1, 0, 2][k]. Peephole rows (input, forget, output) are RW
    /// columns 4n+2, 4n, 4n+1.
    func checkLSTM(_ k: Tensor?, _ rk: Tensor?, _ b: Tensor?, _ peep: Tensor?, offset: Int,
                   expect: (Double, Int, String) throws -> Void) throws {
        guard let k, let rk, let b else { throw CheckFailure("LSTM tensors missing") }
        let nIn = k.shape[0], n = k.shape[1] / 4
        let dl4jBlock = [3, 1, 0, 2]
        let rwCols = 4 * n + (peep == nil ? 0 : 3)
        let kv = k.doubles(), rv = rk.doubles(), bv = b.doubles()
        for kb in 0..<4 {
            for j in [0, n - 1] {
                let col = kb * n + j, dcol = dl4jBlock[kb] * n + j
                for i in [0, nIn - 1] { try expect(kv[i * 4 * n + col], offset + i + dcol * nIn, "W[\(i),\(col)]") }
                for i in [0, n - 1] { try expect(rv[i * 4 * n + col], offset + nIn * 4 * n + i + dcol * n, "RW[\(i),\(col)]") }
                try expect(bv[col], offset + nIn * 4 * n + n * rwCols + dcol, "b[\(col)]")
            }
        }
        if let peep {
            let pv = peep.doubles()
            for (row, col) in [(0, 4 * n + 2), (1, 4 * n), (2, 4 * n + 1)] {
                for j in [0, n - 1] { try expect(pv[row * n + j], offset + nIn * 4 * n + j + col * n, "peephole[\(row),\(j)]") }
            }
        }
    }

    func checkUpdaterState(_ c: JSONValue) throws {
        guard let m = c["expected_updater_state"]?["count"]?.intValue else { throw CheckFailure("no updater expectation") }
        let g = try graph(c)
        guard let bytes = g.source.attachments["updaterState.bin"] else { throw CheckFailure("updaterState.bin not kept") }
        let t = try Nd4jArray.decode(bytes).tensor
        let flat = try t.reshaped([t.count])
        guard flat.bitwiseEqual(arange(m, start: c["expected_updater_state"]?["start"]?.doubleValue ?? 1, dtype: flat.dtype)) else {
            throw CheckFailure("updater state is not 1...\(m)")
        }
    }

    /// Compares the parsed configuration with `expected_config`, and checks the graph builds.
    func checkConfig(_ c: JSONValue) throws {
        guard let expected = c["expected_config"] else { throw CheckFailure("no expected_config") }
        let cfg = try config(c)
        _ = try graph(c)
        guard cfg.kind.rawValue == expected["network"]?.stringValue else {
            throw CheckFailure("network \(cfg.kind.rawValue), expected \(expected["network"]?.stringValue ?? "?")")
        }
        if let dataType = expected["dataType"], cfg.kind == .multiLayerNetwork {
            guard cfg.dataType == dataType.stringValue else { throw CheckFailure("dataType \(cfg.dataType ?? "nil"), expected \(dataType)") }
        }
        if let layers = expected["layers"]?.arrayValue {
            guard layers.count == cfg.layers.count else { throw CheckFailure("\(cfg.layers.count) layers, expected \(layers.count)") }
            for (i, (want, got)) in zip(layers, cfg.layers).enumerated() { try compare(layer: got, with: want, at: "layer \(i)") }
            let pre = Set(expected["inputPreProcessors"]?.stringArray ?? [])
            guard pre == Set(cfg.inputPreprocessors.keys.map(String.init)) else {
                throw CheckFailure("inputPreProcessors \(cfg.inputPreprocessors.keys.sorted()), expected \(pre.sorted())")
            }
        }
        if let vertices = expected["vertices"]?.objectValue {
            guard cfg.networkInputs == expected["inputs"]?.stringArray, cfg.networkOutputs == expected["outputs"]?.stringArray else {
                throw CheckFailure("inputs/outputs \(cfg.networkInputs)/\(cfg.networkOutputs)")
            }
            guard vertices.count == cfg.vertices.count else { throw CheckFailure("\(cfg.vertices.count) vertices, expected \(vertices.count)") }
            for (name, want) in vertices {
                guard let got = cfg.vertex(named: name) else { throw CheckFailure("vertex \(name) missing") }
                guard got.type == want["vertex"]?.stringValue else { throw CheckFailure("vertex \(name) type \(got.type)") }
                guard got.inputs == expected["vertexInputs"]?[name]?.stringArray else { throw CheckFailure("vertex \(name) inputs \(got.inputs)") }
                if let wantLayer = want["layer"] {
                    guard let layer = got.layer else { throw CheckFailure("vertex \(name) has no layer") }
                    try compare(layer: layer, with: wantLayer, at: "vertex \(name)")
                }
            }
        }
    }

    func compare(layer: DL4JLayerConfig, with want: JSONValue, at place: String) throws {
        guard layer.type == want["type"]?.stringValue else { throw CheckFailure("\(place): type \(layer.type), expected \(want["type"]!)") }
        if let name = want["name"] { guard layer.name == name.stringValue else { throw CheckFailure("\(place): name \(layer.name ?? "nil")") } }
        if let nIn = want["nIn"] { guard layer.nIn == nIn.intValue else { throw CheckFailure("\(place): nIn \(layer.nIn ?? -1), expected \(nIn)") } }
        if let nOut = want["nOut"] { guard layer.nOut == nOut.intValue else { throw CheckFailure("\(place): nOut \(layer.nOut ?? -1), expected \(nOut)") } }
        if let act = want["activation"] {
            guard layer.activationName == act.stringValue else { throw CheckFailure("\(place): activation \(layer.activationName ?? "nil"), expected \(act)") }
        }
        if let wrapped = want["wrapped"] {
            guard let inner = layer.wrapped?.value else { throw CheckFailure("\(place): no wrapped layer") }
            try compare(layer: inner, with: wrapped, at: place + "/wrapped")
        }
    }

    func checkNumParams(_ c: JSONValue) throws {
        guard let n = c["num_params"]?.intValue else { throw CheckFailure("no num_params") }
        let count = try DL4JReader.parameterCount(of: try config(c))
        guard count == n else { throw CheckFailure("configuration implies \(count) parameters, expected \(n)") }
        let g = try graph(c)
        guard g.parameterCount == n else { throw CheckFailure("graph holds \(g.parameterCount) parameters, expected \(n)") }
    }

    func checkFrozen(_ c: JSONValue) throws {
        let g = try graph(c)
        var frozenNames: Set<String> = []
        var layerNames: [String] = []
        for (name, v) in c["expected_config"]?["vertices"]?.objectValue ?? [:] {
            guard let layer = v["layer"] else { continue }
            layerNames.append(name)
            if layer["type"]?.stringValue == "FrozenLayer" { frozenNames.insert(name) }
        }
        for (i, layer) in (c["expected_config"]?["layers"]?.arrayValue ?? []).enumerated() where layer["type"]?.stringValue == "FrozenLayer" {
            frozenNames.insert(layer["name"]?.stringValue ?? "layer\(i)")
        }
        guard !frozenNames.isEmpty else { throw CheckFailure("the expectation names no frozen layer") }
        for name in layerNames {
            guard let node = g.node(named: name) else { throw CheckFailure("no node \(name)") }
            let shouldFreeze = frozenNames.contains(name)
            guard (node.freeze == .frozen) == shouldFreeze else { throw CheckFailure("\(name): freeze \(node.freeze), expected frozen=\(shouldFreeze)") }
        }
        let frozenCount = g.nodes.filter { $0.freeze == .frozen && !$0.name.contains("/") }.count
        guard frozenCount == frozenNames.count else { throw CheckFailure("\(frozenCount) frozen nodes, expected \(frozenNames.count)") }
    }

    func checkCustom(_ c: JSONValue) throws {
        let g = try graph(c)
        let opaque = g.nodes.compactMap { node -> String? in if case .opaque(let a) = node.op { return a.className }; return nil }
        let expectedTypes = (c["expected_config"]?["layers"]?.arrayValue ?? []).compactMap { $0["type"]?.stringValue }
        let customs = expectedTypes.filter { $0 == "CustomLayer" }
        guard !customs.isEmpty, opaque.count == customs.count, opaque.allSatisfy({ $0.hasSuffix("CustomLayer") }) else {
            throw CheckFailure("opaque nodes \(opaque), expected custom layers \(customs)")
        }
    }

    func checkForward(_ c: JSONValue) throws {
        let g = try graph(c)
        guard let input = inputTensor(c["inputs"]), let expected = try expectedTensor(c["expected"]) else {
            throw CheckFailure("case lacks input/expected arrays")
        }
        let got = try runWithCustomLayers(g, input)
        guard got.shape == expected.shape else { throw CheckFailure("output shape \(got.shape), expected \(expected.shape)") }
        let atol = c["tolerance"]?["atol"]?.doubleValue ?? 1e-5, rtol = c["tolerance"]?["rtol"]?.doubleValue ?? 1e-4
        var worst = 0.0
        for (p, e) in zip(got.doubles(), expected.doubles()) {
            let excess = abs(p - e) - (atol + rtol * abs(e))
            worst = max(worst, excess)
            if !(abs(p - e) <= atol + rtol * abs(e)) { throw CheckFailure("output differs: got \(p), expected \(e)") }
        }
    }

    /// Runs the graph; an opaque node of the corpus' custom layer (DL4J's regression-test
    /// `CustomLayer`, described in the case notes: z = x·W + b, W [nIn, nOut] stored 'f'
    /// then b; the configured activation on the first ⌊nOut/2⌋ columns and
    /// `secondActivationFunction` on the rest) is computed here, as a user's registered
    /// implementation would: the graph is run up to it, the layer applied, the rest run.
    func runWithCustomLayers(_ g: Graph, _ input: Tensor) throws -> Tensor {
        guard let index = g.nodes.firstIndex(where: { $0.op.isOpaque }) else {
            guard let out = try Interpreter(graph: g).run([input]).first else { throw CheckFailure("no output") }
            return out
        }
        let node = g.nodes[index]
        guard case .opaque(let attrs) = node.op, attrs.className.hasSuffix("CustomLayer"), node.inputs.count == 1 else {
            throw CheckFailure("opaque node \(node.name) has no registered implementation")
        }
        let head = Graph(nodes: Array(g.nodes[..<index]), outputs: node.inputs, source: g.source)
        let x = try Interpreter(graph: head).run([input])[0]
        let fields = attrs.config["@class"] != nil ? attrs.config : (attrs.config.objectValue?.values.first ?? .null)
        guard let nIn = fields["nin"]?.intValue, let nOut = fields["nout"]?.intValue,
              let params = node.parameters["params"]?.doubles(), params.count == nIn * nOut + nOut else {
            throw CheckFailure("custom layer parameters do not match nIn·nOut + nOut")
        }
        func act(_ json: JSONValue?, _ v: Double) throws -> Double {
            switch DL4JActivation.name(of: json) {
            case "tanh": return Foundation.tanh(v)
            case "sigmoid": return 1 / (1 + exp(-v))
            case "identity": return v
            case "relu": return max(0, v)
            case let other: throw CheckFailure("custom layer activation \(other ?? "nil")")
            }
        }
        let batch = x.shape[0]
        let xv = x.doubles()
        var y = [Double](repeating: 0, count: batch * nOut)
        for r in 0..<batch {
            for j in 0..<nOut {
                var z = params[nIn * nOut + j]
                for i in 0..<nIn { z += xv[r * nIn + i] * params[i + j * nIn] }
                y[r * nOut + j] = try j < nOut / 2 ? act(fields["activationFn"], z) : act(fields["secondActivationFunction"], z)
            }
        }
        let mid = Tensor(shape: [batch, nOut], doubles: y).converted(to: input.dtype)
        var tailNodes = [Node(name: node.name, op: .input(InputAttributes(shape: [nOut], dtype: input.dtype)))]
        tailNodes += g.nodes[(index + 1)...]
        let tail = Graph(nodes: tailNodes, outputs: g.outputs, source: g.source)
        return try runWithCustomLayers(tail, mid)
    }

    func inputTensor(_ spec: JSONValue?) -> Tensor? {
        guard let spec, let file = spec["file"]?.stringValue else { return nil }
        if spec["format"]?.stringValue == "nd4j-bin" { return try? Nd4jArray.read(path: Corpus.path(file)).tensor }
        return try? NPY.read(path: Corpus.path(file))
    }

    func expectedTensor(_ spec: JSONValue?) throws -> Tensor? { inputTensor(spec) }
}
