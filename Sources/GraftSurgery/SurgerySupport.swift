import GraftCore
import OrderedCollections

/// Shared helpers of the surgery ops: node lookup with clear errors, history records,
/// and the width (feature/channel count) a node emits.
extension Graph {
    /// The node called `name`, or an `.invalidArgument` error naming it.
    func requireNode(_ name: String, for operation: String) throws -> Node {
        guard let n = node(named: name) else {
            throw GraftError(.invalidArgument, "\(operation): no node named '\(name)'", location: name,
                             expected: "one of \(nodes.map(\.name).prefix(20).joined(separator: ", "))", found: name)
        }
        return n
    }

    func requireIndex(_ name: String, for operation: String) throws -> Int {
        _ = try requireNode(name, for: operation)
        return index(of: name)!
    }

    /// The same graph with one history record appended.
    func recording(_ operation: String, _ arguments: [(String, JSONValue)], functionPreserving: Bool) -> Graph {
        var g = self
        var object = OrderedDictionary<String, JSONValue>()
        for (k, v) in arguments { object[k] = v }
        g.history.append(HistoryRecord(operation: operation, arguments: .object(object), functionPreserving: functionPreserving))
        return g
    }

    /// The same graph with one history record appended, checked: when `original` passes
    /// `Graph.validate()`, the result must too, or the edit is refused (nothing is returned).
    func recording(_ operation: String, _ arguments: [(String, JSONValue)], functionPreserving: Bool,
                   from original: Graph) throws -> Graph {
        let edited = droppingStaleSourceConfigs(comparedTo: original)
        if (try? original.validate()) != nil {
            do { try edited.validate() } catch let e as GraftError {
                throw GraftError(.invalidGraph, "\(operation) would leave an invalid graph: \(e.message)", location: e.location,
                                 field: e.field, expected: e.expected, found: e.found)
            }
        }
        return edited.recording(operation, arguments, functionPreserving: functionPreserving)
    }

    /// Names of every node `name` depends on (not including itself).
    func ancestors(of name: String) -> Set<String> {
        var seen = Set<String>(), stack = [name]
        while let n = stack.popLast() {
            for i in node(named: n)?.inputs ?? [] where !seen.contains(i.node) {
                seen.insert(i.node); stack.append(i.node)
            }
        }
        return seen
    }

    /// Names of every node that depends on `name` (not including itself).
    func descendants(of name: String) -> Set<String> {
        var seen = Set<String>(), stack = [name]
        while let n = stack.popLast() {
            for c in consumers(of: n) where !seen.contains(c.name) { seen.insert(c.name); stack.append(c.name) }
        }
        return seen
    }

    /// The feature (channel) width of one node output, from the ops and parameters alone.
    /// nil when it cannot be told without running shape inference.
    func featureWidth(of output: NodeOutput) -> Int? {
        guard let n = node(named: output.node) else { return nil }
        func inputWidth(_ i: Int = 0) -> Int? { n.inputs.indices.contains(i) ? featureWidth(of: n.inputs[i]) : nil }
        switch n.op {
        case .input(let a):
            if a.layout == .channelsFirst || a.layout == .sequenceFeaturesTime { return a.shape.first ?? nil }
            return a.shape.last ?? nil
        case .dense(let a): return a.units
        case .output(let a): return a.units ?? n.parameters["kernel"]?.shape.last ?? inputWidth()
        case .conv(let a):
            if case .depthwise(let m) = a.kind { return inputWidth().map { $0 * m } }
            return a.filters
        case .embedding(let a): return a.outputDim
        case .simpleRNN(let a): return a.units
        case .lstm(let a): return a.recurrent.units
        case .gru(let a): return a.recurrent.units
        case .bidirectional(let a):
            guard let u = recurrentUnits(a.layer) else { return nil }
            if a.mergeMode == .concat { return 2 * u }
            return u
        case .timeDistributed(let inner):
            switch inner {
            case .dense(let a): return a.units
            case .conv(let a): return a.filters
            default: return inputWidth()
            }
        case .merge(let a):
            if case .concatenate = a.kind {
                var total = 0
                for i in n.inputs.indices { guard let w = featureWidth(of: n.inputs[i]) else { return nil }; total += w }
                return total
            }
            return inputWidth()
        case .dropout, .activation, .masking, .batchNorm, .layerNorm, .pooling, .globalPooling, .zeroPadding,
             .cropping, .upSampling, .prelu, .repeatVector:
            return inputWidth()
        case .dl4jVertex(let v):
            switch v {
            case .subset(let from, let to): return to - from + 1
            case .lastTimeStep, .l2Normalize, .scale, .shift, .localResponseNormalization, .duplicateToTimeSeries,
                 .preprocessor(.rnnToFeedForward), .preprocessor(.feedForwardToRnn):
                return inputWidth()
            case .preprocessor(.cnnToFeedForward(let h, let w, let c)): return h * w * c
            default: return nil
            }
        default:
            // Anything else: the last axis of the inferred shape (a flattened vector's length).
            guard let shapes = try? inferShapes()[output.node], output.output < shapes.count else { return nil }
            return shapes[output.output].last ?? nil
        }
    }
}

func recurrentUnits(_ op: Op) -> Int? {
    switch op {
    case .simpleRNN(let a): return a.units
    case .lstm(let a): return a.recurrent.units
    case .gru(let a): return a.recurrent.units
    default: return nil
    }
}

/// How many gate blocks a recurrent op stacks on the last axis of its kernels.
func gateCount(_ op: Op) -> Int {
    switch op {
    case .lstm: return 4
    case .gru: return 3
    default: return 1
    }
}

func invalid(_ message: String, node: String? = nil, expected: String? = nil, found: String? = nil) -> GraftError {
    GraftError(.invalidArgument, message, location: node, expected: expected, found: found)
}

extension JSONValue {
    init(_ strings: [String]) { self = .array(strings.map { .string($0) }) }
    init(ints: [Int]) { self = .array(ints.map { JSONValue($0) }) }
}
