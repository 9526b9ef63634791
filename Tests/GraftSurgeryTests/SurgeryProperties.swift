import Testing
import PropertyBased
import GraftCore
import GraftRuntime
import OrderedCollections
@testable import GraftSurgery

/// Property-based tests (Swift Testing + PropertyBased) of widen, prune and insertLayer over
/// randomly built small graphs: feed-forward (Dense, BatchNorm, Dropout, Activation, Add,
/// Concatenate), convolutional (Conv2D `same`, BatchNorm, Add, Concatenate, then Flatten or
/// global pooling) and recurrent (LSTM, Graves LSTM, GRU in both bias layouts, SimpleRNN,
/// Add, Concatenate). A failing case is shrunk to a smaller graph and reported with its seed.
///
/// Properties: zero-fan-out and noise-free split widening keep the outputs; prune removes
/// exactly the requested units (the pruned layer's other weights bit-identical, every other
/// tensor either bit-identical or the old one with rows/columns removed) and undoes a
/// zero-fan-out widen exactly; an identity insertion keeps the outputs; and no operation
/// changes its input graph.
@Suite struct SurgeryProperties {
    /// The outline of a random graph: a family, blocks (codes read by `RandomGraph.build`),
    /// and a weight seed. Shrinking removes blocks and lowers codes.
    struct Spec: Sendable, CustomStringConvertible {
        var family: Int
        var blocks: [Int]
        var seed: UInt64
        var description: String { "family \(family), blocks \(blocks), seed \(seed)" }
    }

    static let specs = zip(Gen.int(in: 0...2), Gen.int(in: 0...59).array(of: 1...4), Gen.uint64(in: 1...1_000_000))
        .map { t in Spec(family: t.0, blocks: t.1, seed: t.2) }
    /// Which layer (an index into the widenable ones, modulo their count) and how many units.
    static let choice = zip(Gen.int(in: 0...99), Gen.int(in: 1...4))

    @Test func widenZeroFanOutKeepsOutputs() async {
        await propertyCheck(count: 40, input: Self.specs, Self.choice) { spec, choice in
            let r = RandomGraph.build(spec)
            let layer = r.widenable[choice.0 % r.widenable.count]
            let w = try r.graph.widen(layer: layer, by: choice.1, mode: .zeroFanOut, seed: spec.seed)
            try Self.expectSameFunction(r, w, "\(spec) widen \(layer) by \(choice.1)")
            #expect(try channelCount(w.node(named: layer)!) == channelCount(r.graph.node(named: layer)!) + choice.1)
            #expect(r.graph == RandomGraph.build(spec).graph, "widen changed its input graph")
        }
    }

    @Test func widenSplitKeepsOutputs() async {
        await propertyCheck(count: 40, input: Self.specs, Self.choice) { spec, choice in
            let r = RandomGraph.build(spec)
            let layer = r.widenable[choice.0 % r.widenable.count]
            let w = try r.graph.widen(layer: layer, by: choice.1, mode: .split(noise: 0), seed: spec.seed)
            try Self.expectSameFunction(r, w, "\(spec) split \(layer) by \(choice.1)")
            #expect(w.history.last?.functionPreserving == true)
            #expect(r.graph == RandomGraph.build(spec).graph, "split changed its input graph")
        }
    }

    @Test func pruneRemovesExactlyTheUnits() async {
        await propertyCheck(count: 40, input: Self.specs, Self.choice, Gen.uint64(in: 0...UInt64.max)) { spec, choice, pick in
            let r = RandomGraph.build(spec)
            let layer = r.widenable[choice.0 % r.widenable.count]
            let node = r.graph.node(named: layer)!
            let n = try channelCount(node)
            guard n > 1 else { return }
            // A non-empty proper subset of the units, from the bits of `pick`.
            var units = (0..<n).filter { (pick >> UInt64($0 % 64)) & 1 == 1 }
            if units.isEmpty { units = [Int(pick % UInt64(n))] }
            if units.count == n { units.removeLast() }
            let p = try r.graph.prune(layer: layer, units: units)
            #expect(r.graph == RandomGraph.build(spec).graph, "prune changed its input graph")
            #expect(p.nodes.map(\.name) == r.graph.nodes.map(\.name))
            let pruned = p.node(named: layer)!
            #expect(try channelCount(pruned) == n - units.count)
            let kept = (0..<n).filter { !units.contains($0) }
            let gates = gateCount(node.op)
            for (key, old) in node.parameters {
                guard let new = pruned.parameters[key] else { Issue.record("\(spec): \(layer)/\(key) missing"); continue }
                #expect(new == Self.selecting(old, key: key, kept: kept, units: n, gates: gates, node: node.op),
                        "\(spec): \(layer)/\(key) is not the old tensor without units \(units)")
            }
            for other in p.nodes where other.name != layer {
                let original = r.graph.node(named: other.name)!
                for (key, t) in other.parameters {
                    guard let o = original.parameters[key] else { Issue.record("\(other.name)/\(key) appeared"); continue }
                    if t.shape == o.shape {
                        #expect(t == o, "\(spec) prune \(layer) \(units): \(other.name)/\(key) changed")
                    } else if zip(t.shape, o.shape).filter({ $0 != $1 }).count > 1 {
                        // A recurrent sibling across an Add loses the same units in both axes.
                        #expect(t == Self.selecting(o, key: key, kept: kept, units: n, gates: gateCount(original.op), node: original.op),
                                "\(spec) prune \(layer) \(units): sibling \(other.name)/\(key)")
                    } else {
                        #expect(Self.isSubSelection(t, of: o), "\(spec) prune \(layer) \(units): \(other.name)/\(key) is not a row selection")
                    }
                }
            }
            // Undoing a zero-fan-out widen gives the original graph back, bit for bit.
            let back = try r.graph.widen(layer: layer, by: choice.1).prune(layer: layer, units: Array(n..<(n + choice.1)))
            #expect(back.nodes == r.graph.nodes, "\(spec): prune does not undo widen of \(layer)")
        }
    }

    @Test func insertIdentityKeepsOutputs() async {
        await propertyCheck(count: 40, input: Self.specs, Self.choice) { spec, choice in
            let r = RandomGraph.build(spec)
            guard !r.identityInsertable.isEmpty else { return }
            let (after, op) = r.identityInsertable[choice.0 % r.identityInsertable.count]
            let i = try r.graph.insertLayer(after: after, name: "inserted", op: op, init: .identity)
            #expect(i.history.last?.functionPreserving == true)
            #expect(i.nodes.count == r.graph.nodes.count + 1)
            try Self.expectSameFunction(r, i, "\(spec) insert identity after \(after)")
            #expect(r.graph == RandomGraph.build(spec).graph, "insertLayer changed its input graph")
            for node in r.graph.nodes { #expect(i.node(named: node.name)?.parameters == node.parameters, "\(node.name) changed") }
        }
    }

    // MARK: Checks

    static func expectSameFunction(_ r: RandomGraph, _ edited: Graph, _ label: String,
                                   sourceLocation: SourceLocation = #_sourceLocation) throws {
        try edited.validate()
        let a = try Interpreter(graph: r.graph).run(r.inputs), b = try Interpreter(graph: edited).run(r.inputs)
        let d = maxDifference(a, b)
        #expect(d <= 1e-5, "\(label): outputs differ by \(d)", sourceLocation: sourceLocation)
    }

    /// The pruned layer's tensor expected from the old one: the kept units' columns in each
    /// gate block of the last axis, and the kept rows of a recurrent kernel.
    static func selecting(_ t: Tensor, key: String, kept: [Int], units: Int, gates: Int, node: Op) -> Tensor {
        var shape = t.shape, v = t.floats()
        let last = shape.last ?? 1
        var columns: [Int] = []
        for g in 0..<(last / units) { columns += kept.map { g * units + $0 } }
        let rows = v.count / last
        var out: [Float] = []
        let rowSelection = key.hasSuffix("recurrentKernel") ? kept : Array(0..<rows)
        for r in rowSelection { for c in columns { out.append(v[r * last + c]) } }
        shape[shape.count - 1] = columns.count
        if key.hasSuffix("recurrentKernel") { shape[0] = kept.count }
        v = out
        return Tensor(shape: shape, floats: v)
    }

    /// Whether `t` is `o` with some indices removed along the axes where their shapes differ.
    static func isSubSelection(_ t: Tensor, of o: Tensor) -> Bool {
        guard t.rank == o.rank, zip(t.shape, o.shape).allSatisfy({ $0 <= $1 }) else { return false }
        let axes = (0..<t.rank).filter { t.shape[$0] != o.shape[$0] }
        guard axes.count == 1, let axis = axes.first else { return false }
        let outer = t.shape[..<axis].reduce(1, *), inner = t.shape[(axis + 1)...].reduce(1, *)
        let tv = t.floats(), ov = o.floats()
        func slice(_ v: [Float], _ n: Int, _ i: Int) -> [Float] {
            var out: [Float] = []
            for a in 0..<outer {
                let start: Int = (a * n + i) * inner
                out.append(contentsOf: v[start..<(start + inner)])
            }
            return out
        }
        // Greedy: each slice of t matches the next equal slice of o, in order.
        var j = 0
        for i in 0..<t.shape[axis] {
            let s = slice(tv, t.shape[axis], i)
            while j < o.shape[axis] && slice(ov, o.shape[axis], j) != s { j += 1 }
            guard j < o.shape[axis] else { return false }
            j += 1
        }
        return true
    }
}

/// A random small graph from a `Spec`, with the layers widen/prune may target (not graph
/// outputs) and the places an identity layer fits.
struct RandomGraph {
    var graph: Graph
    var widenable: [String]
    var identityInsertable: [(String, Op)]
    var inputs: [Tensor]

    static func build(_ spec: SurgeryProperties.Spec) -> RandomGraph {
        var b = Builder(seed: spec.seed)
        let activations: [ActivationFunction] = [.plainRelu, .tanh, .linear, .sigmoid]
        switch spec.family {
        case 0:  // feed-forward on [batch, features]
            var last = b.input([3 + spec.blocks.count], layout: .flat), width = 3 + spec.blocks.count
            for code in spec.blocks {
                let units = 1 + code % 5, act = activations[(code / 5) % 4]
                switch (code / 20) % 3 {
                case 0:
                    last = b.dense(last, width, units, act); width = units
                    if act == .plainRelu || act == .linear { b.insertable.append((last, .dense(DenseAttributes(units: units, activation: act)))) }
                    switch code % 3 {
                    case 0: last = b.batchNorm(last, width)
                    case 1: last = b.plain(.dropout(kind: "Dropout", rate: 0.3), [last])
                    default: last = b.plain(.activation(.tanh), [last])
                    }
                case 1:
                    let a = b.dense(last, width, units, act), c = b.dense(last, width, units, .tanh)
                    last = b.plain(.merge(MergeAttributes(.add)), [a, c]); width = units
                default:
                    let a = b.dense(last, width, units, act), c = b.dense(last, width, 1 + (code / 3) % 4, .linear)
                    width = units + 1 + (code / 3) % 4
                    last = b.plain(.merge(MergeAttributes(.concatenate(axis: -1))), [a, c])
                }
            }
            b.head(last, width)
            b.inputs = [TestGraphs.random([3, 3 + spec.blocks.count], seed: spec.seed &+ 1, scale: 1)]
        case 1:  // convolutions on [batch, 5, 5, channels]
            var last = b.input([5, 5, 2], layout: .channelsLast), width = 2
            for code in spec.blocks {
                let filters = 1 + code % 4, act = activations[(code / 4) % 4], k = code % 2 == 0 ? 3 : 1
                switch (code / 16) % 3 {
                case 0:
                    last = b.conv(last, width, filters, k, act); width = filters
                    if act == .plainRelu || act == .linear {
                        b.insertable.append((last, .conv(ConvAttributes(rank: 2, filters: filters, kernelSize: [k, k], padding: .same, activation: act))))
                    }
                    if code % 3 == 0 { last = b.batchNorm(last, width) }
                case 1:
                    let a = b.conv(last, width, filters, k, act), c = b.conv(last, width, filters, 1, .linear)
                    last = b.plain(.merge(MergeAttributes(.add)), [a, c]); width = filters
                default:
                    let a = b.conv(last, width, filters, k, act), c = b.conv(last, width, 2, 1, .plainRelu)
                    last = b.plain(.merge(MergeAttributes(.concatenate(axis: -1))), [a, c]); width = filters + 2
                }
            }
            if spec.seed % 2 == 0 {
                last = b.plain(.flatten, [last]); width *= 25
            } else {
                last = b.plain(.globalPooling(GlobalPoolingAttributes(kind: .average, rank: 2)), [last])
            }
            b.head(last, width)
            b.inputs = [TestGraphs.random([2, 5, 5, 2], seed: spec.seed &+ 1, scale: 1)]
        default:  // recurrent on [batch, time, features]
            var last = b.input([nil, 3], layout: .sequenceTimeMajorFeatures), width = 3
            for (i, code) in spec.blocks.enumerated() {
                let units = 1 + code % 4
                let ops: [Op] = [TestGraphs.lstm(units), TestGraphs.lstm(units, peepholes: true), TestGraphs.gru(units, resetAfter: false),
                                 TestGraphs.gru(units, resetAfter: true), TestGraphs.simpleRNN(units)]
                let op = ops[(code / 4) % 5]
                switch (code / 20) % 3 {
                case 0:
                    last = b.recurrent(last, width, op); width = units
                case 1:
                    let a = b.recurrent(last, width, op), c = b.recurrent(last, width, TestGraphs.gru(units, resetAfter: true))
                    last = b.plain(.merge(MergeAttributes(.add)), [a, c]); width = units
                default:
                    let a = b.recurrent(last, width, op), c = b.recurrent(last, width, TestGraphs.simpleRNN(2))
                    last = b.plain(.merge(MergeAttributes(.concatenate(axis: -1))), [a, c]); width = units + 2
                }
                if i == 0 && code % 2 == 0 { last = b.plain(.dropout(kind: "Dropout", rate: 0.2), [last]) }
            }
            b.head(last, width, sequence: true)
            b.inputs = [TestGraphs.random([2, 4, 3], seed: spec.seed &+ 1, scale: 1)]
        }
        return RandomGraph(graph: Graph(nodes: b.nodes, outputs: [NodeOutput("head")]), widenable: b.widenable,
                           identityInsertable: b.insertable, inputs: b.inputs)
    }

    struct Builder {
        var nodes: [Node] = []
        var widenable: [String] = []
        var insertable: [(String, Op)] = []
        var inputs: [Tensor] = []
        var seed: UInt64

        init(seed: UInt64) { self.seed = seed }

        mutating func next() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed }
        mutating func name(_ prefix: String) -> String { "\(prefix)_\(nodes.count)" }

        mutating func input(_ shape: [Int?], layout: DataLayout) -> String {
            nodes.append(Node(name: "in", op: .input(InputAttributes(shape: shape, layout: layout)))); return "in"
        }
        mutating func plain(_ op: Op, _ inputs: [String]) -> String {
            let n = name(op.kindName)
            nodes.append(Node(name: n, op: op, inputs: inputs.map { NodeOutput($0) })); return n
        }
        mutating func dense(_ input: String, _ width: Int, _ units: Int, _ act: ActivationFunction) -> String {
            let n = name("dense")
            nodes.append(TestGraphs.node(n, .dense(DenseAttributes(units: units, activation: act)), [input],
                                         [("kernel", [width, units]), ("bias", [units])], seed: next()))
            widenable.append(n); return n
        }
        mutating func conv(_ input: String, _ width: Int, _ filters: Int, _ k: Int, _ act: ActivationFunction) -> String {
            let n = name("conv")
            nodes.append(TestGraphs.node(n, .conv(ConvAttributes(rank: 2, filters: filters, kernelSize: [k, k], padding: .same, activation: act)),
                                         [input], [("kernel", [k, k, width, filters]), ("bias", [filters])], seed: next()))
            widenable.append(n); return n
        }
        mutating func recurrent(_ input: String, _ width: Int, _ op: Op) -> String {
            let n = name("rnn")
            nodes.append(TestGraphs.node(n, op, [input], TestGraphs.recurrentParams(op, input: width), seed: next()))
            widenable.append(n); return n
        }
        mutating func batchNorm(_ input: String, _ width: Int) -> String {
            let n = name("bn")
            var node = TestGraphs.node(n, .batchNorm(BatchNormAttributes()), [input],
                                       [("gamma", [width]), ("beta", [width]), ("movingMean", [width])], seed: next())
            node.parameters["movingVariance"] = Tensor(shape: [width], floats: (0..<width).map { 0.5 + Float($0) / 8 })
            nodes.append(node); return n
        }
        /// The graph output: a Dense (per time step for sequences), not widenable.
        mutating func head(_ input: String, _ width: Int, sequence: Bool = false) {
            let op: Op = sequence ? .output(OutputAttributes(kind: .rnn, units: 3, activation: .softmax(axis: -1), loss: "MCXENT"))
                                  : .dense(DenseAttributes(units: 3, activation: .linear))
            nodes.append(TestGraphs.node("head", op, [input], [("kernel", [width, 3]), ("bias", [3])], seed: next()))
        }
    }
}
