extension Op {
    /// The parameter tensors this op expects, by name, with their canonical shapes (see
    /// `formats/ir.md`), given the shapes of its inputs (batch excluded). Nil when unknown:
    /// an opaque op, a center-loss output layer, or a size that depends on an unknown input size.
    public func expectedParameterShapes(inputShapes: [[Int?]]) -> [String: [Int]]? {
        guard (try? checkSizeLimits(inputShapes)) != nil else { return nil }
        let x = inputShapes.first ?? []
        /// The known size of the input's last axis.
        var lastIn: Int? { x.last ?? nil }
        switch self {
        case .input, .activation, .dropout, .flatten, .reshape, .permute, .repeatVector, .pooling,
             .globalPooling, .zeroPadding, .cropping, .upSampling, .masking, .merge, .dl4jVertex:
            return [:]

        case .dense(let a):
            guard let n = lastIn else { return nil }
            return Op.denseParameters(inputs: n, units: a.units, useBias: a.useBias)

        case .prelu(let sharedAxes):
            var shape: [Int] = []
            for (i, d) in x.enumerated() {
                if sharedAxes.contains(i + 1) { shape.append(1); continue }
                guard let d else { return nil }
                shape.append(d)
            }
            return ["alpha": shape]

        case .conv(let a):
            let channelAxis = a.dataFormat == .channelsLast ? x.count - 1 : 0
            guard x.count == a.rank + 1, let c = x[channelAxis] else { return nil }
            let k = a.kernelSize
            var out: [String: [Int]]
            switch a.kind {
            case .standard:
                guard a.groups > 0 else { return nil }
                out = ["kernel": k + [c / a.groups, a.filters]]
                if a.useBias { out["bias"] = [a.filters] }
            case .depthwise(let m):
                out = ["depthwiseKernel": k + [c, m]]
                if a.useBias { out["bias"] = [c * m] }
            case .separable(let m):
                out = ["depthwiseKernel": k + [c, m],
                       "pointwiseKernel": Array(repeating: 1, count: a.rank) + [c * m, a.filters]]
                if a.useBias { out["bias"] = [a.filters] }
            case .transposed:
                out = ["kernel": k + [a.filters, c]]
                if a.useBias { out["bias"] = [a.filters] }
            }
            return out

        case .batchNorm(let a):
            let axis = a.axis < 0 ? x.count + 1 + a.axis : a.axis
            guard axis >= 1, axis <= x.count, let c = x[axis - 1] else { return nil }
            var out = ["movingMean": [c], "movingVariance": [c]]
            if a.scale { out["gamma"] = [c] }
            if a.center { out["beta"] = [c] }
            return out

        case .layerNorm(let a):
            var shape: [Int] = []
            let axes = a.axes.map { $0 < 0 ? x.count + 1 + $0 : $0 }.sorted()
            for axis in axes {
                guard axis >= 1, axis <= x.count, let d = x[axis - 1] else { return nil }
                shape.append(d)
            }
            var out: [String: [Int]] = [:]
            if a.scale { out["gamma"] = shape }
            if a.center { out["beta"] = shape }
            return out

        case .embedding(let a):
            var out = ["embeddings": [a.inputDim, a.outputDim]]
            if a.useBias { out["bias"] = [a.outputDim] }
            return out

        case .simpleRNN(let r):
            guard let n = lastIn else { return nil }
            return Op.recurrentParameters(inputs: n, units: r.units, gates: 1, useBias: r.useBias)

        case .lstm(let a):
            guard let n = lastIn else { return nil }
            var out = Op.recurrentParameters(inputs: n, units: a.recurrent.units, gates: 4, useBias: a.recurrent.useBias)
            if a.peepholes { out["peepholes"] = [3, a.recurrent.units] }
            return out

        case .gru(let a):
            guard let n = lastIn else { return nil }
            let u = a.recurrent.units
            var out = Op.recurrentParameters(inputs: n, units: u, gates: 3, useBias: a.recurrent.useBias)
            if a.recurrent.useBias, a.resetAfter { out["bias"] = [2, 3 * u] }
            return out

        case .bidirectional(let a):
            guard let inner = a.layer.expectedParameterShapes(inputShapes: inputShapes) else { return nil }
            var out: [String: [Int]] = [:]
            for (name, shape) in inner {
                out["forward/" + name] = shape
                out["backward/" + name] = shape
            }
            return out

        case .timeDistributed(let layer):
            guard !x.isEmpty else { return nil }
            return layer.expectedParameterShapes(inputShapes: [Array(x.dropFirst())])

        case .output(let a):
            switch a.kind {
            case .dense, .rnn:
                guard let n = lastIn, let units = a.units else { return nil }
                return Op.denseParameters(inputs: n, units: units, useBias: a.useBias)
            case .loss, .rnnLoss, .cnnLoss:
                return [:]
            case .centerLoss:
                return nil
            }

        case .locallyConnected(let a):
            guard let outShape = try? outputShapes(inputShapes).first, outShape.allSatisfy({ $0 != nil }),
                  x.count == a.rank + 1, let c = (a.dataFormat == .channelsLast ? x.last : x.first) ?? nil else { return nil }
            let outSpatial = (a.dataFormat == .channelsLast ? outShape.dropLast() : outShape.dropFirst()).compactMap { $0 }
            var out = ["kernel": [outSpatial.reduce(1, *), a.kernelSize.reduce(1, *) * c, a.filters]]
            if a.useBias { out["bias"] = outSpatial + [a.filters] }
            return out

        case .convLSTM(let a):
            let step = Array(x.dropFirst())
            guard step.count == a.rank + 1, let c = (a.dataFormat == .channelsLast ? step.last : step.first) ?? nil else { return nil }
            let f = a.filters
            var out = ["kernel": a.kernelSize + [c, 4 * f], "recurrentKernel": a.kernelSize + [f, 4 * f]]
            if a.recurrent.useBias { out["bias"] = [4 * f] }
            return out

        case .attention, .opaque:
            return nil
        }
    }

    static func denseParameters(inputs: Int, units: Int, useBias: Bool) -> [String: [Int]] {
        var out = ["kernel": [inputs, units]]
        if useBias { out["bias"] = [units] }
        return out
    }

    /// `kernel` [in, gates·u], `recurrentKernel` [u, gates·u], `bias` [gates·u].
    static func recurrentParameters(inputs: Int, units: Int, gates: Int, useBias: Bool) -> [String: [Int]] {
        var out = ["kernel": [inputs, gates * units], "recurrentKernel": [units, gates * units]]
        if useBias { out["bias"] = [gates * units] }
        return out
    }
}

extension Graph {
    /// Checks the graph's structure and parameters, throwing the first problem found:
    /// empty or duplicate node names, inputs that name no earlier node or an output index the
    /// node does not have (this also catches cycles and non-topological order), graph outputs
    /// naming unknown nodes, wrong input counts, shapes that do not fit an op, and parameters
    /// missing, unexpected or of the wrong shape. Errors are `.invalidGraph` (structure) or
    /// `.shapeMismatch` (shapes), with `location` = the node's name.
    public func validate() throws {
        try validateStructure()
        let shapes = try shapePass(strict: true)
        for node in nodes {
            guard let inputs = try? Graph.inputShapes(of: node, known: shapes.known) else { continue }
            guard let expected = node.op.expectedParameterShapes(inputShapes: inputs) else { continue }
            for (name, shape) in expected.sorted(by: { $0.key < $1.key }) {
                guard let tensor = node.parameters[name] else {
                    throw GraftError(.shapeMismatch, "node '\(node.name)' (\(node.op.kindName)) lacks parameter '\(name)'",
                                     location: node.name, field: name, expected: "\(shape)", found: "no such parameter")
                }
                guard tensor.shape == shape else {
                    throw GraftError(.shapeMismatch, "node '\(node.name)' (\(node.op.kindName)): parameter '\(name)' has the wrong shape",
                                     location: node.name, field: name, expected: "\(shape)", found: "\(tensor.shape)")
                }
            }
            for name in node.parameters.keys where expected[name] == nil {
                throw GraftError(.shapeMismatch, "node '\(node.name)' (\(node.op.kindName)) has unexpected parameter '\(name)'",
                                 location: node.name, field: name,
                                 expected: "one of \(expected.keys.sorted())", found: name)
            }
        }
    }

    /// Names, references, order, outputs and input counts.
    func validateStructure() throws {
        var outputCounts: [String: Int?] = [:]
        for (position, node) in nodes.enumerated() {
            guard !node.name.isEmpty else {
                throw GraftError(.invalidGraph, "node #\(position) (\(node.op.kindName)) has an empty name",
                                 location: "node #\(position)", field: "name", expected: "a non-empty name", found: "\"\"")
            }
            guard outputCounts[node.name] == nil else {
                throw GraftError(.invalidGraph, "node name '\(node.name)' is used twice",
                                 location: node.name, field: "name", expected: "unique names", found: "a second '\(node.name)' at #\(position)")
            }
            let range = node.op.inputCountRange
            guard range.contains(node.inputs.count) else {
                let expected = range.lowerBound == range.upperBound ? "\(range.lowerBound)"
                    : range.upperBound == Int.max ? "at least \(range.lowerBound)" : "\(range.lowerBound)...\(range.upperBound)"
                throw GraftError(.invalidGraph, "node '\(node.name)' (\(node.op.kindName)) has \(node.inputs.count) input(s)",
                                 location: node.name, field: "inputs", expected: "\(expected) input(s)", found: "\(node.inputs.count)")
            }
            for ref in node.inputs {
                guard let count = outputCounts[ref.node] else {
                    let later = nodes[position...].contains { $0.name == ref.node }
                    throw GraftError(.invalidGraph,
                                     later ? "node '\(node.name)' reads '\(ref.node)', which comes later (a cycle or nodes out of topological order)"
                                           : "node '\(node.name)' reads '\(ref.node)', which does not exist",
                                     location: node.name, field: "inputs",
                                     expected: "a node before '\(node.name)'", found: ref.description)
                }
                if ref.output < 0 || (count.map { ref.output >= $0 } ?? false) {
                    throw GraftError(.invalidGraph, "node '\(node.name)' reads output \(ref.output) of '\(ref.node)'",
                                     location: node.name, field: "inputs",
                                     expected: "output index < \(count.map(String.init) ?? "?")", found: ref.description)
                }
            }
            outputCounts[node.name] = .some(node.op.outputCount)
        }
        for ref in outputs {
            guard let count = outputCounts[ref.node] else {
                throw GraftError(.invalidGraph, "graph output '\(ref)' names no node",
                                 location: ref.node, field: "outputs", expected: "an existing node", found: ref.description)
            }
            if ref.output < 0 || (count.map { ref.output >= $0 } ?? false) {
                throw GraftError(.invalidGraph, "graph output '\(ref)' names an output node '\(ref.node)' does not have",
                                 location: ref.node, field: "outputs",
                                 expected: "output index < \(count.map(String.init) ?? "?")", found: ref.description)
            }
        }
    }

    /// The result of inferring shapes node by node without stopping at the first failure.
    struct ShapePass {
        /// Nodes whose output shapes are known.
        var known: [String: [[Int?]]] = [:]
        /// Nodes whose own inference failed (not those that merely follow an unknown node).
        var failures: [String: GraftError] = [:]
    }

    /// Infers shapes node by node. A node after one of unknown shape is left unknown. In
    /// `strict` mode a failure throws, except an opaque op stating no shape (left unknown).
    func shapePass(strict: Bool) throws -> ShapePass {
        var pass = ShapePass()
        for node in nodes {
            guard node.inputs.allSatisfy({ pass.known[$0.node] != nil }) else { continue }
            do {
                pass.known[node.name] = try Graph.inferShapes(of: node, known: pass.known)
            } catch let error as GraftError {
                if strict, !(node.op.isOpaque && error.kind == .unsupported) { throw error }
                pass.failures[node.name] = error
            }
        }
        return pass
    }
}
