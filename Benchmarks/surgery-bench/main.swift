// Surgery benchmark (issue 6): widening one Dense layer of a VGG16-sized graph should cost
// time proportional to the tensors it touches, not to the whole model. Times
// `widen(fc2, by: 256, zeroFanOut)` against a full copy of every weight tensor (memcpy into
// fresh storage), in the same run, median of 5. Not a test; run with `make bench-surgery`.
import Foundation
import GraftCore
import GraftSurgery

/// Uniform values in [-0.05, 0.05) from a fixed-seed xorshift generator (fast for 138M values).
func randomTensor(_ shape: [Int], seed: inout UInt64) -> Tensor {
    let count = shape.reduce(1, *)
    var values = [Float](repeating: 0, count: count)
    var s = seed
    for i in 0..<count {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        values[i] = Float(s >> 40) / Float(1 << 24) * 0.1 - 0.05
    }
    seed = s
    return Tensor(shape: shape, floats: values)
}

/// VGG16 in channels-last layout: 13 3×3 convolutions in 5 blocks with max pooling, then
/// fc1 25088→4096, fc2 4096→4096, predictions 4096→1000 (138,357,544 parameters).
func vgg16(seed: UInt64) -> Graph {
    var seed = seed
    var nodes = [Node(name: "input", op: .input(InputAttributes(shape: [224, 224, 3], layout: .channelsLast)))]
    var previous = "input", channels = 3
    for (block, (filters, count)) in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)].enumerated() {
        for i in 1...count {
            let name = "block\(block + 1)_conv\(i)"
            let op = Op.conv(ConvAttributes(rank: 2, filters: filters, kernelSize: [3, 3], padding: .same, activation: .plainRelu))
            nodes.append(Node(name: name, op: op, inputs: [NodeOutput(previous)],
                              parameters: ["kernel": randomTensor([3, 3, channels, filters], seed: &seed),
                                           "bias": randomTensor([filters], seed: &seed)]))
            previous = name; channels = filters
        }
        let pool = "block\(block + 1)_pool"
        nodes.append(Node(name: pool, op: .pooling(PoolingAttributes(kind: .max, rank: 2, poolSize: [2, 2])), inputs: [NodeOutput(previous)]))
        previous = pool
    }
    nodes.append(Node(name: "flatten", op: .flatten, inputs: [NodeOutput(previous)]))
    for (name, units, inputs, activation) in [("fc1", 4096, 25088, ActivationFunction.plainRelu), ("fc2", 4096, 4096, .plainRelu),
                                              ("predictions", 1000, 4096, .softmax(axis: -1))] {
        nodes.append(Node(name: name, op: .dense(DenseAttributes(units: units, activation: activation)),
                          inputs: [NodeOutput(nodes.last!.name)],
                          parameters: ["kernel": randomTensor([inputs, units], seed: &seed), "bias": randomTensor([units], seed: &seed)]))
    }
    return Graph(nodes: nodes, outputs: [NodeOutput("predictions")])
}

/// Every tensor copied into fresh storage.
func fullCopy(_ graph: Graph) throws -> Graph {
    var g = graph
    for i in g.nodes.indices {
        for (key, t) in g.nodes[i].parameters {
            g.nodes[i].parameters[key] = try t.withUnsafeBytes { try Tensor(shape: t.shape, dtype: t.dtype, bytes: $0) }
        }
    }
    return g
}

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

do {
    let graph = vgg16(seed: 0x5EED)
    let parameters = graph.nodes.reduce(0) { $0 + $1.parameterCount }
    let touched = [graph.node(named: "fc2"), graph.node(named: "predictions")].compactMap { $0 }.reduce(0) { $0 + $1.parameterCount }
    var widenTimes: [Double] = [], copyTimes: [Double] = []
    for _ in 0..<5 {
        var widened: Graph?
        widenTimes.append(try seconds { widened = try graph.widen(layer: "fc2", by: 256, mode: .zeroFanOut) })
        guard widened?.node(named: "fc2")?.parameters["kernel"]?.shape == [4096, 4352] else {
            throw GraftError(.invalidGraph, "widen did not produce the expected fc2 kernel")
        }
        var copy: Graph?
        copyTimes.append(try seconds { copy = try fullCopy(graph) })
        _ = copy
    }
    var validateTimes: [Double] = []
    for _ in 0..<5 { validateTimes.append(try seconds { try graph.validate() }) }
    let w = median(widenTimes), c = median(copyTimes)
    print("VGG16-shaped graph: \(parameters) parameters; widen touches fc2 + predictions (\(touched) parameters before)")
    print(String(format: "widen fc2 by 256 (zero-fan-out): median %.4f s over 5", w))
    print(String(format: "full copy of all weights:        median %.4f s over 5", c))
    print(String(format: "ratio widen / full copy: %.3f", w / c))
    print(String(format: "(of which whole-graph validation, run by every op before and after: median %.4f s)", median(validateTimes)))
} catch {
    FileHandle.standardError.write(Data("surgery-bench: \(error)\n".utf8))
    exit(1)
}
