import Foundation
import GraftCore
import OrderedCollections
import XCTest

/// Bad input never traps: randomly mutated `.npy` bytes, JSON text and `.npz` archives,
/// ops with extreme attribute values and ill-formed graphs must all end in a thrown error
/// or a result, never a crash, and every error is a `GraftError`. Seeded, so a failure
/// reproduces. When first run they found a JSON surrogate-escape trap and shape-arithmetic
/// overflows.
final class RobustnessTests: XCTestCase {
    /// Runs `body`; any error it throws must be a `GraftError`.
    func expectGraftErrorOrValue(_ what: @autoclosure () -> String, _ body: () throws -> Void) {
        do { try body() } catch { XCTAssertTrue(error is GraftError, "\(what()): \(error)") }
    }

    func testMutatedNPYAndJSONNeverTrap() throws {
        var rng = SplitMix64(seed: 1)
        let seeds: [[UInt8]] = [
            NPY.encode(Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])),
            NPY.encode(Tensor(zeros: [], dtype: .float64)),
            NPY.encode(Tensor(zeros: [3, 0, 2], dtype: .int16)),
        ]
        let jsonSeeds = [#"{"a": [1, 2.0, -3e5, {"b": null, "c": "x\u00e9\n"}], "d": true, "e": false}"#, #"[[[]]]"#, #""\ud83d\ude00""#]
        for i in 0..<4000 {
            var b = seeds[i % seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: if !b.isEmpty { b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
                case 1: if !b.isEmpty { b.removeSubrange(Int.random(in: 0..<b.count, using: &rng)...) }
                default: if !b.isEmpty { let at = Int.random(in: 0..<min(b.count, 80), using: &rng); b[at] = Array("(),:'\"TrueFalse-0123456789 ".utf8).randomElement(using: &rng)! }
                }
            }
            expectGraftErrorOrValue("NPY.decode") { _ = try NPY.decode(b) }
            var j = Array(jsonSeeds[i % jsonSeeds.count].utf8)
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                if j.isEmpty { break }
                let at = Int.random(in: 0..<j.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: j[at] = Array("{}[]\",:\\u0123456789eE+-.ntfa ".utf8).randomElement(using: &rng)!
                case 1: j.remove(at: at)
                default: j[at] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            expectGraftErrorOrValue("JSONValue.parse") { _ = try JSONValue.parse(bytes: j) }
        }
    }

    func testMutatedNPZNeverTraps() throws {
        var rng = SplitMix64(seed: 2)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graft-fz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let seed = try ZipWriter.archive([("a.npy", NPY.encode(Tensor(shape: [4], floats: [1, 2, 3, 4]))), ("b.npy", NPY.encode(Tensor(zeros: [50], dtype: .int8)))], deflate: true)
        let path = dir.appendingPathComponent("f.npz").path
        for _ in 0..<300 {
            var b = seed
            for _ in 0..<Int.random(in: 1...3, using: &rng) { b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            try Data(b).write(to: URL(fileURLWithPath: path))
            expectGraftErrorOrValue("NPZ.read") { _ = try NPZ.read(path: path) }
        }
    }

    func testExtremeOpAttributesNeverTrap() {
        var rng = SplitMix64(seed: 3)
        let vals: [Int] = [-3, -1, 0, 1, 2, 3, 5, 1 << 31, 1 << 40, Int.max / 2, Int.max, Int.min]
        func v() -> Int { vals.randomElement(using: &rng)! }
        func arr(_ n: Int) -> [Int] { (0..<n).map { _ in v() } }
        func shape() -> [Int?] { (0..<Int.random(in: 0...5, using: &rng)).map { _ in Bool.random(using: &rng) ? nil : v() } }
        let pads: [Padding] = [.valid, .same, .causal]
        let fmts: [DataFormat] = [.channelsLast, .channelsFirst]
        for _ in 0..<20000 {
            let rank = [1, 2, 3, 0].randomElement(using: &rng)!
            let r = max(rank, 0)
            let rec = RecurrentAttributes(units: v(), returnSequences: Bool.random(using: &rng), returnState: Bool.random(using: &rng))
            let kinds: [ConvAttributes.Kind] = [.standard, .depthwise(multiplier: v()), .separable(multiplier: v()), .transposed(outputPadding: Bool.random(using: &rng) ? arr(r) : nil)]
            let ops: [Op] = [
                .dense(DenseAttributes(units: v())), .flatten, .reshape(targetShape: arr(Int.random(in: 0...3, using: &rng))),
                .permute(dims: arr(Int.random(in: 0...3, using: &rng))), .repeatVector(n: v()),
                .conv(ConvAttributes(kind: kinds.randomElement(using: &rng)!, rank: rank, filters: v(), kernelSize: arr(r), strides: arr(r), padding: pads.randomElement(using: &rng)!, dilation: arr(r), groups: v(), dataFormat: fmts.randomElement(using: &rng)!)),
                .pooling(PoolingAttributes(kind: .max, rank: rank, poolSize: arr(r), strides: arr(r), padding: pads.randomElement(using: &rng)!, dataFormat: fmts.randomElement(using: &rng)!)),
                .globalPooling(GlobalPoolingAttributes(kind: .average, rank: rank, dataFormat: fmts.randomElement(using: &rng)!, keepDims: Bool.random(using: &rng))),
                .zeroPadding(SpatialPadAttributes(rank: rank, amounts: (0..<r).map { _ in .init(v(), v()) })),
                .cropping(SpatialPadAttributes(rank: rank, amounts: (0..<r).map { _ in .init(v(), v()) })),
                .upSampling(UpSamplingAttributes(rank: rank, size: arr(r))),
                .batchNorm(BatchNormAttributes(axis: v())), .layerNorm(LayerNormAttributes(axes: arr(2))),
                .embedding(EmbeddingAttributes(inputDim: v(), outputDim: v(), useBias: true)),
                .simpleRNN(rec), .lstm(LSTMAttributes(rec, peepholes: true)), .gru(GRUAttributes(rec, resetAfter: Bool.random(using: &rng))),
                .bidirectional(BidirectionalAttributes(mergeMode: [.concat, .sum, .none].randomElement(using: &rng)!, layer: .lstm(LSTMAttributes(rec)))),
                .timeDistributed(layer: .dense(DenseAttributes(units: v()))),
                .merge(MergeAttributes(.concatenate(axis: v()))), .merge(MergeAttributes(.add)), .merge(MergeAttributes(.dot(axes: arr(2), normalize: false))),
                .output(OutputAttributes(kind: .dense, units: v(), activation: .linear, loss: "mse")),
                .dl4jVertex(.subset(from: v(), to: v())), .dl4jVertex(.lastTimeStep), .dl4jVertex(.unstack(index: v(), count: v())),
                .dl4jVertex(.preprocessor(.cnnToFeedForward(height: v(), width: v(), channels: v()))),
                .dl4jVertex(.preprocessor(.feedForwardToCnn(height: v(), width: v(), channels: v()))),
                .dl4jVertex(.preprocessor(.cnnToRnn(height: v(), width: v(), channels: v()))),
                .dl4jVertex(.preprocessor(.rnnToCnn(height: v(), width: v(), channels: v()))),
                .prelu(sharedAxes: arr(2)),
                .locallyConnected(LocallyConnectedAttributes(rank: rank, filters: v(), kernelSize: arr(r), strides: arr(r))),
                .convLSTM(ConvLSTMAttributes(rec, rank: rank, kernelSize: arr(r), strides: arr(r))),
            ]
            let op = ops.randomElement(using: &rng)!
            let inputs = (0..<Int.random(in: 1...3, using: &rng)).map { _ in shape() }
            expectGraftErrorOrValue("op.outputShapes") { _ = try op.outputShapes(inputs) }
            _ = op.expectedParameterShapes(inputShapes: inputs)
            _ = op.outputWidth
            _ = op.kindName
        }
    }

    func testIllFormedGraphsNeverTrap() {
        var rng = SplitMix64(seed: 4)
        let names = ["in", "a", "b", "c", "d", "", "e:1"]
        let ops: [Op] = [
            .input(InputAttributes(shape: [4])), .input(InputAttributes(shape: [3, 5], layout: .sequenceFeaturesTime)),
            .input(InputAttributes(shape: [nil, 4], layout: .sequenceTimeMajorFeatures)),
            .dense(DenseAttributes(units: 3)), .flatten, .lstm(LSTMAttributes(RecurrentAttributes(units: 2, returnState: true))),
            .gru(GRUAttributes(RecurrentAttributes(units: 2, returnSequences: true), resetAfter: true)),
            .bidirectional(BidirectionalAttributes(mergeMode: .none, layer: .simpleRNN(RecurrentAttributes(units: 2, returnState: true)))),
            .merge(MergeAttributes(.concatenate(axis: -1))), .merge(MergeAttributes(.add)), .merge(MergeAttributes(.dot(axes: [1, 1], normalize: true))),
            .opaque(OpaqueAttributes(format: "keras", className: "Lambda", config: .null)),
            .opaque(OpaqueAttributes(format: "keras", className: "Lambda", config: .null, outputShape: [4])),
            .dl4jVertex(.duplicateToTimeSeries(reference: "in")), .dl4jVertex(.lastTimeStep), .timeDistributed(layer: .dense(DenseAttributes(units: 2))),
            .embedding(EmbeddingAttributes(inputDim: 5, outputDim: 2)), .reshape(targetShape: [-1]),
        ]
        for _ in 0..<3000 {
            var nodes: [Node] = []
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                let inputs = (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                    NodeOutput(names.randomElement(using: &rng)!, output: Int.random(in: -1...3, using: &rng))
                }
                var params = OrderedDictionary<String, Tensor>()
                if Bool.random(using: &rng) { params["kernel"] = Tensor(zeros: [Int.random(in: 0...4, using: &rng), 3]) }
                if Bool.random(using: &rng) { params["forward/kernel"] = Tensor(zeros: [4, 8]) }
                nodes.append(Node(name: names.randomElement(using: &rng)!, op: ops.randomElement(using: &rng)!, inputs: inputs,
                                  parameters: params, freeze: [.trainable, .frozen, .frozenWithBackprop].randomElement(using: &rng)!))
            }
            let outputs = (0..<Int.random(in: 0...2, using: &rng)).map { _ in NodeOutput(names.randomElement(using: &rng)!, output: Int.random(in: -1...2, using: &rng)) }
            let g = Graph(nodes: nodes, outputs: outputs)
            expectGraftErrorOrValue("g.validate") { _ = try g.validate() }
            expectGraftErrorOrValue("g.inferShapes") { _ = try g.inferShapes() }
            expectGraftErrorOrValue("g.inspectTable") { _ = try g.inspectTable() }
            expectGraftErrorOrValue("g.inspectJSON") { _ = try g.inspectJSON() }
            _ = g.dot()
            var h = g
            if !h.nodes.isEmpty { h.nodes.removeLast() }
            _ = g.diff(h)
            _ = g.movedFrozenParameters(in: h)
        }
    }
}
