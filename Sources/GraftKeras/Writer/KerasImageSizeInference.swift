import Foundation
import GraftCore

/// Fills in the spatial size of channels-first image inputs that a graph leaves open, so a
/// DL4J CNN whose configuration does not state its InputType can be written as a
/// channels-last Keras model (whose flatten → dense needs the image size).
///
/// The size is found downstream of the input, at the first node that fixes it:
/// - a CnnToFeedForward / CnnToRnn pre-processor's `inputHeight`/`inputWidth`;
/// - a Cnn3DToFeedForward pre-processor's `inputDepth`/`inputHeight`/`inputWidth` (kept in
///   the flatten node's `dl4j` extras);
/// - otherwise a dense layer reading the flattened image: its kernel rows divided by the
///   channels give the spatial product, taken as a square (cube) image with a warning.
/// It is then carried back to the input through the convolution/pooling arithmetic:
/// valid windows need (out−1)·stride + (k−1)·dilation + 1, same padding out·stride (any
/// input size that gives the same output behaves the same in DL4J and Keras), padding and
/// cropping add or remove their amounts, upsampling divides. The caller's shape inference
/// then checks the result against every flatten → dense on the way.
enum KerasImageSizeInference {
    static func fill(_ graph: Graph, report: inout ConversionReport) throws -> Graph {
        var result = graph
        for input in graph.inputs {
            guard case .input(var attrs) = input.op, attrs.layout == .channelsFirst, attrs.shape.count >= 3,
                  attrs.shape.dropFirst().contains(where: { $0 == nil }),
                  let index = graph.index(of: input.name) else { continue }
            guard let found = try anchor(graph, from: input.name) else { continue }
            var size = found.size
            var name = found.image
            while name != input.name {
                guard let node = graph.node(named: name), let previous = found.parents[name] else { break }
                size = try inputSize(of: node, output: size)
                name = previous
            }
            guard size.count == attrs.shape.count - 1, size.allSatisfy({ $0 > 0 }) else {
                throw GraftError(.unsupported, "cannot tell the image size of this input from the graph",
                                 location: "node '\(input.name)' (input)", expected: "\(attrs.shape.count - 1) positive sizes",
                                 found: size.map(String.init).joined(separator: "×"))
            }
            attrs.shape = [attrs.shape[0]] + size.map { Optional($0) }
            result.nodes[index].op = .input(attrs)
            report.add(found.assumed ? .warning : .exactConversion, node: input.name,
                       "image size \(size.map(String.init).joined(separator: "×")) (not stated by the model) \(found.how)")
        }
        return result
    }

    /// The first node downstream of `input` whose output spatial size the graph fixes.
    struct Anchor {
        /// The node whose output has `size` spatially.
        var image: String
        var size: [Int]
        /// How the size was found, for the report.
        var how: String
        /// True when the size is an assumption (square/cube image), not stated.
        var assumed: Bool
        /// For each node reached, the node it was reached from (towards the input).
        var parents: [String: String]
    }

    static func anchor(_ graph: Graph, from input: String) throws -> Anchor? {
        var consumers: [String: [Node]] = [:]
        for node in graph.nodes { for i in node.inputs { consumers[i.node, default: []].append(node) } }
        var parents: [String: String] = [:]
        var queue = [input]
        var seen: Set<String> = [input]
        while !queue.isEmpty {
            let name = queue.removeFirst()
            for consumer in consumers[name] ?? [] {
                switch consumer.op {
                case .dl4jVertex(.preprocessor(.cnnToFeedForward(let h, let w, _))),
                     .dl4jVertex(.preprocessor(.cnnToRnn(let h, let w, _))):
                    guard h > 0, w > 0 else { break }
                    return Anchor(image: name, size: [h, w], how: "taken from the pre-processor '\(consumer.name)'",
                                  assumed: false, parents: parents)
                case .flatten:
                    let fields = consumer.extras["dl4j"]
                    let sizes = ["inputDepth", "inputHeight", "inputWidth"].compactMap { fields?[$0]?.intValue }
                    if sizes.count == 3, sizes.allSatisfy({ $0 > 0 }) {
                        return Anchor(image: name, size: sizes, how: "taken from the pre-processor '\(consumer.name)'",
                                      assumed: false, parents: parents)
                    }
                    for dense in consumers[consumer.name] ?? [] where KerasChannelsLast.isDense(dense.op) {
                        return try productAnchor(graph, image: name, dense: dense, parents: parents)
                    }
                case _ where KerasChannelsLast.isDense(consumer.op):
                    return try productAnchor(graph, image: name, dense: consumer, parents: parents)
                default:
                    guard passesImage(consumer.op), !seen.contains(consumer.name) else { break }
                    seen.insert(consumer.name)
                    parents[consumer.name] = name
                    queue.append(consumer.name)
                }
            }
        }
        return nil
    }

    /// The spatial size from a dense layer's kernel rows over the image's channels, as a
    /// square (cube) image; an error naming the dense layer when that is not a whole size.
    static func productAnchor(_ graph: Graph, image: String, dense: Node, parents: [String: String]) throws -> Anchor {
        func fail(_ why: String) -> GraftError {
            GraftError(.unsupported, "cannot write this channels-first graph as channels-last Keras: unknown image size before the dense layer (\(why))",
                       location: "node '\(dense.name)' (\(dense.op.kindName))")
        }
        guard let rows = dense.parameters["kernel"]?.shape.first else { throw fail("no kernel") }
        guard let (channels, rank) = channelsAndRank(graph, of: image), channels > 0, rows % channels == 0 else {
            throw fail("the image's channels are unknown or do not divide the \(rows) inputs")
        }
        let product = rows / channels
        let side = Int(pow(Double(product), 1 / Double(rank)).rounded())
        guard side > 0, Array(repeating: side, count: rank).reduce(1, *) == product else {
            throw fail("\(product) positions per channel is not a \(rank == 3 ? "cube" : "square"); the model does not state its input size")
        }
        return Anchor(image: image, size: Array(repeating: side, count: rank),
                      how: "assumed \(rank == 3 ? "cubic" : "square") from the \(rows) inputs of '\(dense.name)' over \(channels) channels",
                      assumed: true, parents: parents)
    }

    /// The channel count and spatial rank of a node's channels-first image output, by shape inference.
    static func channelsAndRank(_ graph: Graph, of name: String) -> (Int, Int)? {
        var shapes: [String: [[Int?]]] = [:]
        for node in graph.nodes {
            if case .input(let a) = node.op { shapes[node.name] = [a.shape] } else {
                let ins = node.inputs.compactMap { shapes[$0.node]?[safe: $0.output] }
                guard ins.count == node.inputs.count, let s = try? node.op.outputShapes(ins) else { continue }
                shapes[node.name] = s
            }
            if node.name == name {
                guard let shape = shapes[name]?.first, shape.count >= 3, let c = shape[0] else { return nil }
                return (c, shape.count - 1)
            }
        }
        return nil
    }

    /// Ops the search walks through (those `inputSize` can invert).
    static func passesImage(_ op: Op) -> Bool {
        switch op {
        case .conv(let a): if case .transposed = a.kind { return false }; return true
        case .pooling, .zeroPadding, .cropping, .upSampling, .activation, .dropout, .batchNorm, .merge: return true
        case .output(let a): return a.kind == .cnnLoss
        default: return false
        }
    }

    /// The spatial input size of `node` that gives `output`.
    static func inputSize(of node: Node, output: [Int]) throws -> [Int] {
        func window(_ o: Int, kernel: Int, stride: Int, dilation: Int, padding: Padding) -> Int {
            switch padding {
            case .valid: return (o - 1) * stride + (kernel - 1) * dilation + 1
            case .same: return o * stride
            case .causal: return (o - 1) * stride + 1
            }
        }
        switch node.op {
        case .conv(let a):
            return output.indices.map { i in
                window(output[i], kernel: a.kernelSize[safe: i] ?? 1, stride: a.strides[safe: i] ?? 1,
                       dilation: a.dilation[safe: i] ?? 1, padding: a.padding)
            }
        case .pooling(let a):
            return output.indices.map { i in
                window(output[i], kernel: a.poolSize[safe: i] ?? 1, stride: a.strides[safe: i] ?? 1, dilation: 1, padding: a.padding)
            }
        case .zeroPadding(let a):
            return output.indices.map { output[$0] - (a.amounts[safe: $0].map { $0.before + $0.after } ?? 0) }
        case .cropping(let a):
            return output.indices.map { output[$0] + (a.amounts[safe: $0].map { $0.before + $0.after } ?? 0) }
        case .upSampling(let a):
            return try output.indices.map { i in
                let f = a.size[safe: i] ?? 1
                guard f > 0, output[i] % f == 0 else {
                    throw GraftError(.unsupported, "cannot carry the image size back through the upsampling",
                                     location: "node '\(node.name)' (\(node.op.kindName))", found: "\(output[i]) / \(f)")
                }
                return output[i] / f
            }
        default:
            return output
        }
    }
}
