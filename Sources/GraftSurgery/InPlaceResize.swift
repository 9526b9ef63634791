#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GraftCore

// Copy-on-write surgery: a resize whose graph holds the only reference to a parameter's bytes
// edits them where they are instead of copying them (issue 8: "an op copies only the tensors
// it changes"). The graph a caller still holds never changes: its tensors are shared, so they
// are copied as before.

extension ChannelMap {
    /// Where each old channel goes when the map keeps every old channel, in their order, at an
    /// index at or after its old one (its first appearance; later ones are copies), and adds
    /// new channels or copies anywhere: a widening, also as carried through a flatten or a
    /// concatenation. Then `remapAxisInPlace` can work in the tensor's own bytes. nil otherwise
    /// (pruning, shrinking).
    var keptPositions: [Int]? {
        guard newCount >= oldCount else { return nil }
        var position = [Int](repeating: -1, count: oldCount)
        var next = 0
        for i in 0..<newCount {
            guard let j = sources[i] else { continue }
            guard j >= 0, j < oldCount else { return nil }
            if position[j] >= 0 { continue }
            guard j == next, i >= j else { return nil }
            position[j] = i
            next += 1
        }
        return next == oldCount ? position : nil
    }
}

/// `remapAxis` in `t`'s own bytes when `t` holds them alone and `map` keeps the old channels
/// in order (`ChannelMap.keptPositions`); otherwise `remapAxis`'s copy. In place, the tensor
/// grows (`Tensor.growInPlace`: mremap for a mapping), the old channels move to their new
/// offsets, last slice and last channel first (no destination lies before its source, so no
/// unread channel is overwritten), then the other channels are filled and kept ones rescaled
/// slice by slice, first to last: the order in which `remapAxis` calls `fresh`, so both give
/// the same bits. Returns true when done in place.
@discardableResult
func remapAxisInPlace(_ t: inout Tensor, axis: Int, blocks: Int = 1, map: ChannelMap, scaled: Bool = false,
                      fresh: ((Int) -> Double)? = nil, node: String, parameter: String) throws -> Bool {
    let shape = t.shape
    let newShape = try remappedShape(shape, dtype: t.dtype, axis: axis, blocks: blocks, map: map, node: node, parameter: parameter)
    guard let position = map.keptPositions, try t.growInPlace(to: newShape) else {
        t = try remapAxis(t, axis: axis, blocks: blocks, map: map, scaled: scaled, fresh: fresh, node: node, parameter: parameter)
        return false
    }
    let size = t.dtype.size
    let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
    let oldN = map.oldCount, newN = map.newCount
    let slices = outer * blocks
    let channelBytes = inner * size
    // Runs of consecutive old channels that stay consecutive: one memmove each per slice.
    var runs: [(from: Int, to: Int, count: Int)] = []
    for j in 0..<oldN {
        if let last = runs.last, last.from + last.count == j, last.to + last.count == position[j] {
            runs[runs.count - 1].count += 1
        } else {
            runs.append((j, position[j], 1))
        }
    }
    var kept = [Bool](repeating: false, count: newN)
    for p in position { kept[p] = true }
    let filled = (0..<newN).filter { !kept[$0] }
    let rescaled = scaled ? (0..<oldN).filter { map.scales[position[$0]] != 1 }.map { position[$0] } : []
    t.withUnsafeMutableBytes { raw in
        guard let base = raw.baseAddress, slices > 0, channelBytes > 0 else { return }
        for s in stride(from: slices - 1, through: 0, by: -1) {
            for run in runs.reversed() where s * newN + run.to != s * oldN + run.from {
                memmove(base + (s * newN + run.to) * channelBytes, base + (s * oldN + run.from) * channelBytes,
                        run.count * channelBytes)
            }
        }
        // Element loads and stores exactly as remapAxis does them (through Double).
        func load(_ element: Int) -> Double {
            size == 4 ? Double(raw.load(fromByteOffset: element * 4, as: Float.self))
                      : raw.load(fromByteOffset: element * 8, as: Double.self)
        }
        func store(_ value: Double, at element: Int) {
            if size == 4 { raw.storeBytes(of: Float(value), toByteOffset: element * 4, as: Float.self) }
            else { raw.storeBytes(of: value, toByteOffset: element * 8, as: Double.self) }
        }
        for s in 0..<slices {
            let first = s * newN
            // New channels and copies first: a copy reads its source before that is rescaled.
            for i in filled {
                let to = (first + i) * inner
                if let j = map.sources[i] {
                    let from = (first + position[j]) * inner
                    if scaled && map.scales[i] != 1 {
                        let factor = map.scales[i]
                        for e in 0..<inner { store(load(from + e) * factor, at: to + e) }
                    } else {
                        memcpy(base + to * size, base + from * size, channelBytes)
                    }
                } else if let fresh {
                    for e in 0..<inner { store(fresh(to + e), at: to + e) }
                } else {
                    memset(base + to * size, 0, channelBytes)
                }
            }
            for i in rescaled {
                let at = (first + i) * inner, factor = map.scales[i]
                for e in 0..<inner { store(load(at + e) * factor, at: at + e) }
            }
        }
    }
    return true
}

/// One parameter's remaps, recorded while a resize walks the graph and applied after the
/// walk, once the input graph's references to the tensor are gone (see `ChannelResizer.remap`).
struct PendingRemap {
    struct Step {
        var axis: Int, blocks: Int, map: ChannelMap, scaled: Bool
        var fresh: ((Int) -> Double)?
    }
    var node: String
    var key: String
    /// The parameter before the first step.
    var source: Tensor?
    var steps: [Step]
}

/// Which parameters a copy-on-write resize edited in their own bytes and which it had to copy
/// (because another graph shares them), as "node/parameter".
public struct InPlaceReport: Sendable, Equatable {
    public var inPlace: [String] = []
    public var copied: [String] = []
    public init() {}
}

extension ChannelResizer {
    /// Replaces `node.parameters[key]` by its remap (`remapAxis`'s arguments). Deferred (when
    /// `pending` is not nil), the remap is recorded and the parameter becomes a zero tensor of
    /// the result's shape until `Graph.applyPending` runs it: shapes, checks and validation see
    /// the edited graph while the walk still holds the input graph.
    mutating func remap(_ node: inout Node, _ key: String, axis: Int, blocks: Int = 1, map: ChannelMap, scaled: Bool = false,
                        fresh: ((Int) -> Double)?) throws {
        guard let current = node.parameters[key] else {
            throw GraftError(.missingWeights, "layer has no '\(key)' parameter", location: node.name, field: key)
        }
        guard pending != nil else {
            node.parameters[key] = try remapAxis(current, axis: axis, blocks: blocks, map: map, scaled: scaled, fresh: fresh,
                                                 node: node.name, parameter: key)
            return
        }
        let newShape = try remappedShape(current.shape, dtype: current.dtype, axis: axis, blocks: blocks, map: map,
                                         node: node.name, parameter: key)
        let step = PendingRemap.Step(axis: axis, blocks: blocks, map: map, scaled: scaled, fresh: fresh)
        let name = node.name
        if let p = pending?.firstIndex(where: { $0.node == name && $0.key == key }) {
            pending?[p].steps.append(step)
        } else {
            pending?.append(PendingRemap(node: name, key: key, source: current, steps: [step]))
        }
        node.parameters[key] = Tensor(zeros: newShape, dtype: current.dtype)
    }
}

extension Graph {
    /// Resizes `layer` by `map` in this graph (`ChannelResizer.run`), recording `operation` in the
    /// history. Parameters this graph holds alone are edited in their own bytes; shared ones are
    /// copied, so other graphs sharing them never change. Throws before changing anything when
    /// the resize is refused.
    @discardableResult
    mutating func resizeInPlace(layer: String, map: ChannelMap, settings: ResizeSettings, operation: String,
                                arguments: [(String, JSONValue)], functionPreserving: Bool) throws -> InPlaceReport {
        // Noise draws from the resize's random stream while the walk runs: keep it eager.
        let deferred = settings.noise == 0
        var pending: [PendingRemap]
        (self, pending) = try Graph.planResize(self, layer: layer, map: map, settings: settings, deferred: deferred,
                                               operation: operation, arguments: arguments, functionPreserving: functionPreserving)
        // The input graph's copy is gone: tensors nobody else holds are now referenced only by `pending`.
        return try applyPending(&pending)
    }

    /// The walk (`ChannelResizer.run`) plus its history record and validation, on a copy of
    /// `graph`; with `deferred`, the tensor edits come back unapplied (placeholders in the graph).
    private static func planResize(_ graph: Graph, layer: String, map: ChannelMap, settings: ResizeSettings, deferred: Bool,
                                   operation: String, arguments: [(String, JSONValue)],
                                   functionPreserving: Bool) throws -> (Graph, [PendingRemap]) {
        var resizer = ChannelResizer(graph: graph, root: layer, settings: settings)
        if deferred { resizer.pending = [] }
        let edited = try resizer.run(layer: layer, map: map)
        let recorded = try edited.recording(operation, arguments, functionPreserving: functionPreserving, from: graph)
        return (recorded, resizer.pending ?? [])
    }

    /// Runs the recorded remaps, each on the tensor it started from (in place when nothing
    /// else holds it), and puts the results in place of the placeholders.
    private mutating func applyPending(_ pending: inout [PendingRemap]) throws -> InPlaceReport {
        var report = InPlaceReport()
        for p in pending.indices {
            guard var tensor = pending[p].source, let index = index(of: pending[p].node) else { continue }
            pending[p].source = nil
            var inPlace = true
            for step in pending[p].steps {
                inPlace = try remapAxisInPlace(&tensor, axis: step.axis, blocks: step.blocks, map: step.map, scaled: step.scaled,
                                               fresh: step.fresh, node: pending[p].node, parameter: pending[p].key) && inPlace
            }
            nodes[index].parameters[pending[p].key] = tensor
            let label = pending[p].node + "/" + pending[p].key
            if inPlace { report.inPlace.append(label) } else { report.copied.append(label) }
        }
        return report
    }
}
