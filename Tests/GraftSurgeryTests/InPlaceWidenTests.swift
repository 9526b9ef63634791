import XCTest
import GraftCore
@testable import GraftSurgery

/// Copy-on-write widening (`Graph.widenInPlace`): on a graph that holds its tensors alone it
/// edits them in their own bytes and must give exactly the bits of the copying `widen`; on a
/// graph that shares them it copies and the other graph never changes.
final class InPlaceWidenTests: XCTestCase {
    typealias T = TestGraphs
    typealias Widening = (inout Graph) throws -> InPlaceReport

    /// `widening` on a freshly built (sole-owner) graph equals `widen` on a shared one, bit for
    /// bit; on a copy of a shared graph it copies and leaves the shared graph as built.
    func check(_ label: String, _ build: () -> Graph, expectInPlace: Bool = true, _ widening: Widening,
               _ copying: (Graph) throws -> Graph, file: StaticString = #filePath, line: UInt = #line) throws {
        let shared = build()
        let expected = try copying(shared)
        XCTAssertEqual(shared, build(), "\(label): widen changed its input", file: file, line: line)

        var owned = build()
        let report = try widening(&owned)
        XCTAssertEqual(owned, expected, "\(label): in place differs from the copy", file: file, line: line)
        if expectInPlace {
            XCTAssertEqual(report.copied, [], "\(label): copied although the graph held its tensors alone", file: file, line: line)
            XCTAssertFalse(report.inPlace.isEmpty, label, file: file, line: line)
        }

        var copy = shared
        let sharedReport = try widening(&copy)
        XCTAssertEqual(sharedReport.inPlace, [], "\(label): edited shared tensors in place", file: file, line: line)
        XCTAssertEqual(copy, expected, label, file: file, line: line)
        XCTAssertEqual(shared, build(), "\(label): widening a copy changed the original", file: file, line: line)
    }

    /// Every layer type widen supports (the preservation matrix' cases) in every mode.
    func testMatrixLayersBitIdentical() throws {
        for c in PreservationMatrixTests.cases {
            let build = { PreservationMatrixTests.cases.first { $0.label == c.label }!.graph }
            try check("\(c.label) zero-fan-out", build, { try $0.widenInPlace(layer: "L", by: 3) }, { try $0.widen(layer: "L", by: 3) })
            try check("\(c.label) zero-fan-out orthogonal", build, { try $0.widenInPlace(layer: "L", by: 2, weightInit: .orthogonal(gain: 1), seed: 3) },
                      { try $0.widen(layer: "L", by: 2, weightInit: .orthogonal(gain: 1), seed: 3) })
            try check("\(c.label) split", build, { try $0.widenInPlace(layer: "L", by: 3, mode: .split(noise: 0), seed: 9) },
                      { try $0.widen(layer: "L", by: 3, mode: .split(noise: 0), seed: 9) })
            try check("\(c.label) nOutReplace grow", build, { try $0.nOutReplaceInPlace(layer: "L", nOut: 9, fanOutWeightInit: .heNormal, seed: 4) },
                      { try $0.nOutReplace(layer: "L", nOut: 9, fanOutWeightInit: .heNormal, seed: 4) })
            try check("\(c.label) nOutReplace shrink", build, expectInPlace: false, { try $0.nOutReplaceInPlace(layer: "L", nOut: 2) },
                      { try $0.nOutReplace(layer: "L", nOut: 2) })
            // Noise draws while the walk runs, so that mode copies; it must still agree.
            try check("\(c.label) split with noise", build, expectInPlace: false,
                      { try $0.widenInPlace(layer: "L", by: 3, mode: .split(noise: 0.1), seed: 9) },
                      { try $0.widen(layer: "L", by: 3, mode: .split(noise: 0.1), seed: 9) })
        }
    }

    /// Tensors of 256 KB and more are anonymous mappings, grown with mremap: dense, conv and
    /// TimeDistributed(Dense) kernels that large, widened by one unit and by several, and widened again.
    func testLargeMappedTensors() throws {
        let dense: () -> Graph = {
            Graph(nodes: [Node(name: "in", op: .input(InputAttributes(shape: [300]))),
                          T.node("fc1", .dense(DenseAttributes(units: 256, activation: .plainRelu)), ["in"], [("kernel", [300, 256]), ("bias", [256])], seed: 1),
                          T.node("fc2", .dense(DenseAttributes(units: 300, activation: .plainRelu)), ["fc1"], [("kernel", [256, 300]), ("bias", [300])], seed: 2),
                          T.node("out", .dense(DenseAttributes(units: 10)), ["fc2"], [("kernel", [300, 10]), ("bias", [10])], seed: 3)],
                  outputs: [NodeOutput("out")])
        }
        let conv: () -> Graph = {
            func op(_ f: Int) -> Op { .conv(ConvAttributes(rank: 2, filters: f, kernelSize: [3, 3], padding: .same, activation: .plainRelu)) }
            return Graph(nodes: [Node(name: "in", op: .input(InputAttributes(shape: [6, 6, 64], layout: .channelsLast))),
                                 T.node("c1", op(128), ["in"], [("kernel", [3, 3, 64, 128]), ("bias", [128])], seed: 4),
                                 T.node("c2", op(64), ["c1"], [("kernel", [3, 3, 128, 64]), ("bias", [64])], seed: 5),
                                 Node(name: "flat", op: .flatten, inputs: [NodeOutput("c2")]),
                                 T.node("out", .dense(DenseAttributes(units: 4)), ["flat"], [("kernel", [6 * 6 * 64, 4]), ("bias", [4])], seed: 6)],
                         outputs: [NodeOutput("out")])
        }
        // A recurrent producer would add little here (its gate blocks are the blocks of the
        // matrix' small cases) but its orthogonal init takes minutes in a debug build; a
        // TimeDistributed(Dense) consumer of 600 units covers the sequence path.
        let sequence: () -> Graph = {
            Graph(nodes: [Node(name: "in", op: .input(InputAttributes(shape: [nil, 128], layout: .sequenceTimeMajorFeatures))),
                          T.node("td", .timeDistributed(layer: .dense(DenseAttributes(units: 600))), ["in"], [("kernel", [128, 600]), ("bias", [600])], seed: 8),
                          T.node("head", .timeDistributed(layer: .dense(DenseAttributes(units: 3))), ["td"], [("kernel", [600, 3]), ("bias", [3])], seed: 9)],
                  outputs: [NodeOutput("head")])
        }
        XCTAssertGreaterThanOrEqual(dense().node(named: "fc2")!.parameters["kernel"]!.byteCount, TensorStorage.mappingThreshold)
        for (label, build, layer) in [("dense fc1", dense, "fc1"), ("dense fc2", dense, "fc2"), ("conv c1", conv, "c1"),
                                      ("conv c2", conv, "c2"), ("timeDistributed", sequence, "td")] {
            for by in [1, 5] {
                try check("\(label) by \(by)", build, { try $0.widenInPlace(layer: layer, by: by, seed: 11) }, { try $0.widen(layer: layer, by: by, seed: 11) })
            }
            try check("\(label) split", build, { try $0.widenInPlace(layer: layer, by: 2, mode: .split(noise: 0), seed: 12) },
                      { try $0.widen(layer: layer, by: 2, mode: .split(noise: 0), seed: 12) })
            // The first call's report: after it, even a widened copy of a shared graph owns what it changed.
            try check("\(label) three times", build, { g in
                let first = try g.widenInPlace(layer: layer, by: 1, seed: 0)
                for i in 1..<3 { try g.widenInPlace(layer: layer, by: 1, seed: UInt64(i)) }
                return first
            }, { g in try g.widen(layer: layer, by: 1, seed: 0).widen(layer: layer, by: 1, seed: 1).widen(layer: layer, by: 1, seed: 2) })
        }
    }

    /// float64 parameters take the same path.
    func testFloat64() throws {
        let build: () -> Graph = {
            var g = TransferLearningTests.vggHead()
            for i in g.nodes.indices { for (k, t) in g.nodes[i].parameters { g.nodes[i].parameters[k] = t.converted(to: .float64) } }
            return g
        }
        try check("float64", build, { try $0.widenInPlace(layer: "fc1", by: 2) }, { try $0.widen(layer: "fc1", by: 2) })
        try check("float64 split", build, { try $0.widenInPlace(layer: "fc2", by: 2, mode: .split(noise: 0)) },
                  { try $0.widen(layer: "fc2", by: 2, mode: .split(noise: 0)) })
    }

    /// A refused widen leaves the graph as it was.
    func testRefusedWidenChangesNothing() throws {
        var g = TransferLearningTests.vggHead()
        XCTAssertThrowsError(try g.widenInPlace(layer: "predictions", by: 1))  // would change the graph output's width
        XCTAssertThrowsError(try g.widenInPlace(layer: "fc1", by: 0))
        XCTAssertEqual(g, TransferLearningTests.vggHead())
    }

    /// Tensors the widen does not change keep their storage; a shared graph's tensors are
    /// never written.
    func testUntouchedAndSharedStorage() throws {
        var g = TransferLearningTests.vggHead()
        let fc1Kernel = g.node(named: "fc1")!.parameters["kernel"]!.storage
        try g.widenInPlace(layer: "fc2", by: 2)
        XCTAssertTrue(g.node(named: "fc1")!.parameters["kernel"]!.storage === fc1Kernel)
        let kept = g
        var other = g
        try other.widenInPlace(layer: "fc1", by: 1)
        XCTAssertEqual(g, kept)
        XCTAssertEqual(other.node(named: "fc1")?.parameters["kernel"]?.shape, [8, 7])
    }

    /// A recipe applied to the graph itself gives what it gives on a copy, and the copy's
    /// source stays as it was.
    func testRecipeEditingEqualsCopy() throws {
        let recipe = try Recipe.parse(json: """
            {"ops": [{"op": "widen", "layer": "fc1", "by": 2}, {"op": "nOutReplace", "layer": "fc2", "nOut": 7, "seed": 3},
                     {"op": "widen", "layer": "fc2", "by": 1, "mode": "split", "seed": 5}, {"op": "prune", "layer": "fc1", "units": [1]}]}
            """)
        let source = TransferLearningTests.vggHead()
        let copied = try recipe.apply(to: source)
        XCTAssertEqual(source, TransferLearningTests.vggHead())
        var edited = TransferLearningTests.vggHead()
        try recipe.apply(editing: &edited)
        XCTAssertEqual(edited, copied)
        XCTAssertEqual(edited.history.map(\.operation), ["widen", "nOutReplace", "widen", "prune"])
    }
}
