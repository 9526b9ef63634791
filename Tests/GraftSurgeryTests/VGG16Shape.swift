import GraftCore

/// A graph shaped like Keras' `applications.VGG16` (the model DL4J's transfer-learning
/// documentation imports): 224×224×3 channels-last input, 13 3×3 `same` ReLU convolutions in
/// five blocks with 2×2 max pooling, `flatten`, `fc1` 25088→4096 ReLU, `fc2` 4096→4096 ReLU,
/// `predictions` 4096→1000 softmax — 138,357,544 parameters, with Keras' layer names. The
/// weights are seeded uniform random values in ±`scale`, not trained ones.
enum VGG16Shape {
    static let blocks: [(filters: Int, convolutions: Int)] = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]
    static let parameterCount = 138_357_544

    /// The names of the convolution and pooling nodes, in order.
    static var convolutionalNames: [String] {
        blocks.enumerated().flatMap { b, block in
            (1...block.convolutions).map { "block\(b + 1)_conv\($0)" } + ["block\(b + 1)_pool"]
        }
    }

    /// `inputSize` (a multiple of 32), `channelDivisor` (convolution filters ÷) and `fcUnits`
    /// (fc1 and fc2 widths) give smaller graphs of the same layer structure for quick tests.
    static func graph(seed: UInt64, scale: Float = 0.02, inputSize: Int = 224, channelDivisor: Int = 1, fcUnits: Int = 4096) -> Graph {
        var pools: [Float: [Float]] = [:]
        var state = seed | 1
        /// Seeded values in ±scale. A debug build fills ~10 M values/s one by one, so each
        /// distinct scale gets a pool of 2^18 xorshift values and a tensor is a run of
        /// 4096-value chunks copied from seeded positions in its pool (~0.5 GB in well under a second).
        func random(_ shape: [Int], scale: Float) -> Tensor {
            func next() -> UInt64 { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state }
            let poolSize = 1 << 18, chunk = 4096
            if pools[scale] == nil {
                pools[scale] = (0..<poolSize).map { _ in (Float(next() >> 40) * (2 / 16_777_216) - 1) * scale }
            }
            var t = Tensor(zeros: shape)
            let pool = pools[scale] ?? []
            t.withUnsafeMutableBytes { raw in
                let values = raw.bindMemory(to: Float.self)
                pool.withUnsafeBufferPointer { p in
                    var start = 0
                    while start < values.count {
                        let n = min(chunk, values.count - start), from = Int(next() % UInt64(poolSize - chunk))
                        (values.baseAddress! + start).update(from: p.baseAddress! + from, count: n)
                        start += n
                    }
                }
            }
            return t
        }
        var nodes = [Node(name: "input_1", op: .input(InputAttributes(shape: [inputSize, inputSize, 3], layout: .channelsLast)))]
        var previous = "input_1", channels = 3
        for (b, fullBlock) in blocks.enumerated() {
            let block = (filters: fullBlock.filters / channelDivisor, convolutions: fullBlock.convolutions)
            for i in 1...block.convolutions {
                let name = "block\(b + 1)_conv\(i)"
                // He-like scale keeps activations in range through 13 ReLU layers.
                let fanIn = Float(9 * channels)
                nodes.append(Node(name: name, op: .conv(ConvAttributes(rank: 2, filters: block.filters, kernelSize: [3, 3], padding: .same,
                                                                       activation: .plainRelu)),
                                  inputs: [NodeOutput(previous)],
                                  parameters: ["kernel": random([3, 3, channels, block.filters], scale: (6 / fanIn).squareRoot()),
                                               "bias": random([block.filters], scale: scale)]))
                previous = name; channels = block.filters
            }
            let pool = "block\(b + 1)_pool"
            nodes.append(Node(name: pool, op: .pooling(PoolingAttributes(kind: .max, rank: 2, poolSize: [2, 2])), inputs: [NodeOutput(previous)]))
            previous = pool
        }
        nodes.append(Node(name: "flatten", op: .flatten, inputs: [NodeOutput(previous)]))
        previous = "flatten"
        for (name, inputs, units, activation) in [("fc1", (inputSize / 32) * (inputSize / 32) * channels, fcUnits, ActivationFunction.plainRelu),
                                                  ("fc2", fcUnits, fcUnits, .plainRelu), ("predictions", fcUnits, 1000, .softmax(axis: -1))] {
            nodes.append(Node(name: name, op: .dense(DenseAttributes(units: units, activation: activation)), inputs: [NodeOutput(previous)],
                              parameters: ["kernel": random([inputs, units], scale: (6 / Float(inputs)).squareRoot()),
                                           "bias": random([units], scale: scale)]))
            previous = name
        }
        return Graph(nodes: nodes, outputs: [NodeOutput("predictions")])
    }
}
