import GraftCore
import OrderedCollections

/// Rewrites a channels-first image graph (DL4J CNNs) as the equivalent channels-last graph,
/// because TensorFlow's CPU kernels do not run channels-first convolutions and pooling:
/// - image inputs [c, spatial…] become [spatial…, c];
/// - convolution, pooling, padding, cropping, upsampling ops switch to channels-last
///   (kernels are [k…, in, out] in the IR either way, so weights do not move);
/// - batch norm on axis 1 and concatenation on axis 1 move to the last axis;
/// - a dense layer after a flatten of an image gets its kernel rows permuted from DL4J's
///   (c, spatial…) order to the channels-last (spatial…, c) order.
/// Element-wise ops pass the layout through. Anything else reading an image is an error
/// naming the node. Returns nil when the graph has no channels-first image input. Image
/// sizes the graph leaves open are filled in first (`KerasImageSizeInference`).
enum KerasChannelsLast {
    static func convert(_ graph: Graph, report: inout ConversionReport) throws -> Graph? {
        var deferred: [KerasRowGather]? = nil
        return try convert(graph, report: &report, deferred: &deferred)
    }

    /// `convert`; when `deferred` is non-nil, dense kernels keep their (c, spatial…) rows and
    /// are listed there instead, for the writer to gather the rows while writing (no permuted
    /// copy of the kernel is made).
    static func convert(_ graph: Graph, report: inout ConversionReport, deferred: inout [KerasRowGather]?) throws -> Graph? {
        let hasImageInput = graph.nodes.contains {
            if case .input(let a) = $0.op { return a.layout == .channelsFirst && a.shape.count >= 3 }
            return false
        }
        guard hasImageInput else { return nil }
        let graph = try KerasImageSizeInference.fill(graph, report: &report)
        var shapes: [String: [[Int?]]] = [:]
        for node in graph.nodes {
            if case .input(let a) = node.op { shapes[node.name] = [a.shape]; continue }
            let ins = node.inputs.compactMap { shapes[$0.node]?[safe: $0.output] }
            guard ins.count == node.inputs.count else { continue }
            if let s = try? node.op.outputShapes(ins) { shapes[node.name] = s }
        }
        /// Nodes whose output is a converted image, with its original channels-first shape.
        var images: [String: [Int?]] = [:]
        /// Nodes whose output is a flattened converted image, with the image's channels-first shape.
        var flattened: [String: [Int?]] = [:]
        var result = graph
        func fail(_ node: Node, _ why: String) -> GraftError {
            GraftError(.unsupported, "cannot write this channels-first graph as channels-last Keras: \(why)",
                       location: "node '\(node.name)' (\(node.op.kindName))")
        }
        for (index, node) in graph.nodes.enumerated() {
            var op = node.op
            let imageInputs = node.inputs.filter { images[$0.node] != nil }
            let flatInput = node.inputs.first.flatMap { flattened[$0.node] }
            if case .input(var a) = op {
                guard a.layout == .channelsFirst, a.shape.count >= 3 else { continue }
                images[node.name] = a.shape
                a.shape = Array(a.shape.dropFirst()) + [a.shape[0]]
                a.layout = .channelsLast
                result.nodes[index].op = .input(a)
                report.add(.exactConversion, node: node.name, "channels-first input written as a channels-last Keras input")
                continue
            }
            if let cf = flatInput, isDense(op) {
                // Kernel rows in (c, spatial…) order → (spatial…, c) order.
                guard let kernel = node.parameters["kernel"] else { throw fail(node, "dense without a kernel") }
                let dims = cf.compactMap { $0 }
                guard dims.count == cf.count, dims.reduce(1, *) == kernel.shape.first else {
                    throw fail(node, "unknown image size before the flatten")
                }
                result.nodes[index].parameters["kernel"] = try permuteRows(kernel, channelsFirst: dims, deferred: &deferred)
                report.add(.exactConversion, node: node.name, "kernel rows reordered from channels-first to channels-last flatten order")
                continue
            }
            guard !imageInputs.isEmpty else { continue }
            let cf = images[imageInputs[0].node] ?? []
            switch op {
            case .conv(var a): a.dataFormat = .channelsLast; op = .conv(a)
            case .pooling(var a): a.dataFormat = .channelsLast; op = .pooling(a)
            case .globalPooling(var a):
                a.dataFormat = .channelsLast; op = .globalPooling(a)
                if !a.keepDims { result.nodes[index].op = op; continue }
            case .zeroPadding(var a): a.dataFormat = .channelsLast; op = .zeroPadding(a)
            case .cropping(var a): a.dataFormat = .channelsLast; op = .cropping(a)
            case .upSampling(var a): a.dataFormat = .channelsLast; op = .upSampling(a)
            case .batchNorm(var a):
                guard a.axis == 1 else { throw fail(node, "batch norm not on the channel axis") }
                a.axis = -1; op = .batchNorm(a)
            case .activation, .dropout: break
            case .output(let a) where a.kind == .cnnLoss:
                // Its activation runs over the channel axis: the last axis once channels-last.
                break
            case .merge(let m):
                switch m.kind {
                case .concatenate(let axis):
                    guard axis == 1 else { throw fail(node, "concatenation not on the channel axis") }
                    op = .merge(MergeAttributes(.concatenate(axis: -1)))
                case .add, .subtract, .multiply, .average, .maximum, .minimum: break
                case .dot: throw fail(node, "dot product of images")
                }
            case .flatten, .dl4jVertex(.preprocessor(.cnnToFeedForward)):
                // DL4J's pre-processor states the image size even when the network input leaves it open.
                if case .dl4jVertex(.preprocessor(.cnnToFeedForward(let h, let w, let c))) = op, cf.count == 3,
                   cf.contains(where: { $0 == nil }) {
                    flattened[node.name] = [c, h, w]
                } else {
                    flattened[node.name] = cf
                }
                result.nodes[index].op = .flatten
                continue
            case _ where isDense(op):
                // DL4J flattens implicitly before a dense layer.
                let dims = cf.compactMap { $0 }
                guard let kernel = node.parameters["kernel"], dims.count == cf.count,
                      dims.reduce(1, *) == kernel.shape.first else { throw fail(node, "unknown image size before the dense layer") }
                result.nodes[index].parameters["kernel"] = try permuteRows(kernel, channelsFirst: dims, deferred: &deferred)
                report.add(.exactConversion, node: node.name, "kernel rows reordered from channels-first to channels-last flatten order")
                continue
            default:
                throw fail(node, "\(op.kindName) reads a channels-first image")
            }
            result.nodes[index].op = op
            if let s = shapes[node.name]?.first { images[node.name] = s }
        }
        for out in graph.outputs where images[out.node] != nil {
            report.add(.warning, node: out.node, "image output is channels-last in Keras ([batch, spatial…, channels])")
        }
        return result
    }

    /// Kernel rows in (c, spatial…) order → (spatial…, c) order, or the kernel unchanged and
    /// listed in `deferred` when the caller gathers the rows itself.
    static func permuteRows(_ kernel: Tensor, channelsFirst dims: [Int], deferred: inout [KerasRowGather]?) throws -> Tensor {
        if deferred != nil, let channels = dims.first, channels > 0, kernel.rank >= 1 {
            deferred?.append(KerasRowGather(kernel: kernel, channels: channels))
            return kernel
        }
        let rest = Array(kernel.shape.dropFirst())
        return try kernel.reshaped(dims + rest)
            .transposed(Array(1..<dims.count) + [0] + Array(dims.count..<(dims.count + rest.count)))
            .reshaped(kernel.shape)
    }

    static func isDense(_ op: Op) -> Bool {
        switch op {
        case .dense: return true
        case .output(let a): return a.kind == .dense || a.kind == .centerLoss
        default: return false
        }
    }
}

/// A kernel whose rows are written in (spatial…, c) order while it holds them in
/// (c, spatial…) order: written row r is the kernel's row `sourceRow(r)`.
struct KerasRowGather {
    let kernel: Tensor
    let channels: Int

    func sourceRow(_ r: Int) -> Int {
        let spatial = kernel.shape[0] / channels
        return (r % channels) * spatial + r / channels
    }

    /// True when `tensor` is this kernel (same storage and shape).
    func matches(_ tensor: Tensor) -> Bool { tensor.storage === kernel.storage && tensor.shape == kernel.shape }
}
