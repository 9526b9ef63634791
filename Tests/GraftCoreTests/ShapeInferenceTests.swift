import GraftCore
import XCTest

/// Shape inference for every op. Expected shapes are computed by hand from the Keras rules
/// (valid: floor((n − ((k−1)·d+1)) / s) + 1; same/causal: ceil(n / s); transposed valid:
/// n·s + max(k − s, 0), same: n·s, with output padding (n−1)·s + k − 2·(k/2) + p).
final class ShapeInferenceTests: XCTestCase {
    struct Row {
        let label: String
        let op: Op
        let inputs: [[Int?]]
        let expected: [[Int?]]
    }

    static let lstm4 = RecurrentAttributes(units: 4, returnSequences: true)

    static let rows: [Row] = [
        Row(label: "input flat", op: .input(InputAttributes(shape: [10])), inputs: [], expected: [[10]]),
        Row(label: "input DL4J [features, time] → [time, features]",
            op: .input(InputAttributes(shape: [6, 10], layout: .sequenceFeaturesTime)), inputs: [], expected: [[10, 6]]),
        Row(label: "input NTC variable time", op: .input(InputAttributes(shape: [nil, 3], layout: .sequenceTimeMajorFeatures)),
            inputs: [], expected: [[nil, 3]]),
        Row(label: "dense", op: .dense(DenseAttributes(units: 4)), inputs: [[10]], expected: [[4]]),
        Row(label: "dense on sequence", op: .dense(DenseAttributes(units: 4)), inputs: [[5, 10]], expected: [[5, 4]]),
        Row(label: "activation", op: .activation(.plainRelu), inputs: [[3, 4]], expected: [[3, 4]]),
        Row(label: "softmax", op: .activation(.softmax(axis: -1)), inputs: [[7]], expected: [[7]]),
        Row(label: "prelu", op: .prelu(sharedAxes: [1]), inputs: [[3, 4]], expected: [[3, 4]]),
        Row(label: "dropout", op: .dropout(kind: "Dropout", rate: 0.5), inputs: [[nil, 4]], expected: [[nil, 4]]),
        Row(label: "flatten", op: .flatten, inputs: [[4, 5, 3]], expected: [[60]]),
        Row(label: "flatten unknown", op: .flatten, inputs: [[nil, 3]], expected: [[nil]]),
        Row(label: "reshape -1", op: .reshape(targetShape: [-1, 4]), inputs: [[3, 8]], expected: [[6, 4]]),
        Row(label: "reshape fixed", op: .reshape(targetShape: [2, 12]), inputs: [[3, 8]], expected: [[2, 12]]),
        Row(label: "permute", op: .permute(dims: [2, 1]), inputs: [[3, 5]], expected: [[5, 3]]),
        Row(label: "permute 3d", op: .permute(dims: [3, 1, 2]), inputs: [[2, 3, 4]], expected: [[4, 2, 3]]),
        Row(label: "repeatVector", op: .repeatVector(n: 3), inputs: [[7]], expected: [[3, 7]]),
        // conv1d valid: (10 − 3)/1 + 1 = 8
        Row(label: "conv1d valid", op: .conv(ConvAttributes(rank: 1, filters: 8, kernelSize: [3])),
            inputs: [[10, 2]], expected: [[8, 8]]),
        Row(label: "conv1d causal dilated", op: .conv(ConvAttributes(rank: 1, filters: 8, kernelSize: [3], padding: .causal, dilation: [2])),
            inputs: [[10, 2]], expected: [[10, 8]]),
        // same, stride 2: ceil(7/2) = 4
        Row(label: "conv2d same stride 2", op: .conv(ConvAttributes(rank: 2, filters: 16, kernelSize: [3, 3], strides: [2, 2], padding: .same)),
            inputs: [[7, 7, 3]], expected: [[4, 4, 16]]),
        // dilated kernel 3·d2 spans 5: 9 − 5 + 1 = 5
        Row(label: "conv2d valid dilated", op: .conv(ConvAttributes(rank: 2, filters: 4, kernelSize: [3, 3], dilation: [2, 2])),
            inputs: [[9, 9, 3]], expected: [[5, 5, 4]]),
        // floor((8 − 3)/2) + 1 = 3
        Row(label: "conv2d valid stride 2", op: .conv(ConvAttributes(rank: 2, filters: 1, kernelSize: [3, 3], strides: [2, 2])),
            inputs: [[8, 8, 1]], expected: [[3, 3, 1]]),
        Row(label: "conv2d channels first", op: .conv(ConvAttributes(rank: 2, filters: 5, kernelSize: [3, 3], dataFormat: .channelsFirst)),
            inputs: [[3, 10, 12]], expected: [[5, 8, 10]]),
        Row(label: "conv2d grouped", op: .conv(ConvAttributes(rank: 2, filters: 6, kernelSize: [1, 1], groups: 2)),
            inputs: [[4, 4, 4]], expected: [[4, 4, 6]]),
        Row(label: "conv3d", op: .conv(ConvAttributes(rank: 3, filters: 2, kernelSize: [2, 2, 2])),
            inputs: [[4, 4, 4, 1]], expected: [[3, 3, 3, 2]]),
        Row(label: "depthwise conv2d", op: .conv(ConvAttributes(kind: .depthwise(multiplier: 2), rank: 2, filters: 0, kernelSize: [3, 3])),
            inputs: [[5, 5, 3]], expected: [[3, 3, 6]]),
        Row(label: "separable conv2d", op: .conv(ConvAttributes(kind: .separable(multiplier: 1), rank: 2, filters: 7, kernelSize: [3, 3], padding: .same)),
            inputs: [[5, 5, 3]], expected: [[5, 5, 7]]),
        Row(label: "separable conv1d", op: .conv(ConvAttributes(kind: .separable(multiplier: 2), rank: 1, filters: 7, kernelSize: [3])),
            inputs: [[5, 3]], expected: [[3, 7]]),
        // 4·2 + max(3 − 2, 0) = 9
        Row(label: "conv2d transpose valid", op: .conv(ConvAttributes(kind: .transposed(outputPadding: nil), rank: 2, filters: 6, kernelSize: [3, 3], strides: [2, 2])),
            inputs: [[4, 4, 3]], expected: [[9, 9, 6]]),
        Row(label: "conv2d transpose same", op: .conv(ConvAttributes(kind: .transposed(outputPadding: nil), rank: 2, filters: 6, kernelSize: [3, 3], strides: [2, 2], padding: .same)),
            inputs: [[4, 4, 3]], expected: [[8, 8, 6]]),
        // (4 − 1)·2 + 3 − 2·1 + 1 = 8
        Row(label: "conv2d transpose output padding", op: .conv(ConvAttributes(kind: .transposed(outputPadding: [1, 1]), rank: 2, filters: 6, kernelSize: [3, 3], strides: [2, 2], padding: .same)),
            inputs: [[4, 4, 3]], expected: [[8, 8, 6]]),
        Row(label: "conv1d transpose", op: .conv(ConvAttributes(kind: .transposed(outputPadding: nil), rank: 1, filters: 2, kernelSize: [4], strides: [1])),
            inputs: [[5, 3]], expected: [[8, 2]]),
        // floor((5 − 2)/2) + 1 = 2
        Row(label: "max pool2d", op: .pooling(PoolingAttributes(kind: .max, rank: 2, poolSize: [2, 2])),
            inputs: [[5, 5, 3]], expected: [[2, 2, 3]]),
        Row(label: "max pool2d same", op: .pooling(PoolingAttributes(kind: .max, rank: 2, poolSize: [2, 2], padding: .same)),
            inputs: [[5, 5, 3]], expected: [[3, 3, 3]]),
        Row(label: "average pool1d stride 1", op: .pooling(PoolingAttributes(kind: .average, rank: 1, poolSize: [3], strides: [1])),
            inputs: [[10, 4]], expected: [[8, 4]]),
        Row(label: "max pool2d channels first", op: .pooling(PoolingAttributes(kind: .max, rank: 2, poolSize: [2, 2], dataFormat: .channelsFirst)),
            inputs: [[3, 6, 4]], expected: [[3, 3, 2]]),
        Row(label: "global average pool2d", op: .globalPooling(GlobalPoolingAttributes(kind: .average, rank: 2)),
            inputs: [[5, 5, 3]], expected: [[3]]),
        Row(label: "global max pool1d", op: .globalPooling(GlobalPoolingAttributes(kind: .max, rank: 1)),
            inputs: [[nil, 3]], expected: [[3]]),
        Row(label: "global pool keepDims", op: .globalPooling(GlobalPoolingAttributes(kind: .average, rank: 2, keepDims: true)),
            inputs: [[5, 5, 3]], expected: [[1, 1, 3]]),
        Row(label: "global pool keepDims channels first", op: .globalPooling(GlobalPoolingAttributes(kind: .max, rank: 2, dataFormat: .channelsFirst, keepDims: true)),
            inputs: [[3, 5, 5]], expected: [[3, 1, 1]]),
        Row(label: "zeroPadding2d", op: .zeroPadding(SpatialPadAttributes(rank: 2, amounts: [.init(1, 2), .init(3, 4)])),
            inputs: [[5, 5, 3]], expected: [[8, 12, 3]]),
        Row(label: "zeroPadding1d", op: .zeroPadding(SpatialPadAttributes(rank: 1, amounts: [.init(2, 2)])),
            inputs: [[5, 3]], expected: [[9, 3]]),
        Row(label: "cropping1d", op: .cropping(SpatialPadAttributes(rank: 1, amounts: [.init(1, 1)])),
            inputs: [[10, 4]], expected: [[8, 4]]),
        Row(label: "cropping2d channels first", op: .cropping(SpatialPadAttributes(rank: 2, amounts: [.init(1, 0), .init(0, 2)], dataFormat: .channelsFirst)),
            inputs: [[3, 6, 6]], expected: [[3, 5, 4]]),
        Row(label: "upSampling2d", op: .upSampling(UpSamplingAttributes(rank: 2, size: [2, 3])),
            inputs: [[4, 5, 3]], expected: [[8, 15, 3]]),
        Row(label: "upSampling1d", op: .upSampling(UpSamplingAttributes(rank: 1, size: [2])),
            inputs: [[4, 3]], expected: [[8, 3]]),
        Row(label: "batchNorm", op: .batchNorm(BatchNormAttributes()), inputs: [[5, 5, 3]], expected: [[5, 5, 3]]),
        Row(label: "layerNorm", op: .layerNorm(LayerNormAttributes()), inputs: [[7, 3]], expected: [[7, 3]]),
        Row(label: "embedding", op: .embedding(EmbeddingAttributes(inputDim: 100, outputDim: 8)), inputs: [[12]], expected: [[12, 8]]),
        Row(label: "simpleRNN last", op: .simpleRNN(RecurrentAttributes(units: 5)), inputs: [[10, 3]], expected: [[5]]),
        Row(label: "simpleRNN sequences", op: .simpleRNN(RecurrentAttributes(units: 5, returnSequences: true)),
            inputs: [[10, 3]], expected: [[10, 5]]),
        Row(label: "simpleRNN state", op: .simpleRNN(RecurrentAttributes(units: 5, returnState: true)),
            inputs: [[10, 3]], expected: [[5], [5]]),
        Row(label: "lstm sequences + state", op: .lstm(LSTMAttributes(RecurrentAttributes(units: 4, returnSequences: true, returnState: true))),
            inputs: [[nil, 3]], expected: [[nil, 4], [4], [4]]),
        Row(label: "lstm last", op: .lstm(LSTMAttributes(RecurrentAttributes(units: 4))), inputs: [[10, 3]], expected: [[4]]),
        Row(label: "graves lstm", op: .lstm(LSTMAttributes(lstm4, peepholes: true)), inputs: [[10, 3]], expected: [[10, 4]]),
        Row(label: "gru state", op: .gru(GRUAttributes(RecurrentAttributes(units: 4, returnState: true), resetAfter: true)),
            inputs: [[10, 3]], expected: [[4], [4]]),
        Row(label: "gru sequences", op: .gru(GRUAttributes(lstm4, resetAfter: false)), inputs: [[10, 3]], expected: [[10, 4]]),
        Row(label: "bidirectional concat", op: .bidirectional(BidirectionalAttributes(mergeMode: .concat, layer: .lstm(LSTMAttributes(lstm4)))),
            inputs: [[10, 3]], expected: [[10, 8]]),
        Row(label: "bidirectional sum", op: .bidirectional(BidirectionalAttributes(mergeMode: .sum, layer: .gru(GRUAttributes(lstm4, resetAfter: true)))),
            inputs: [[10, 3]], expected: [[10, 4]]),
        Row(label: "bidirectional average", op: .bidirectional(BidirectionalAttributes(mergeMode: .average, layer: .simpleRNN(RecurrentAttributes(units: 4)))),
            inputs: [[10, 3]], expected: [[4]]),
        Row(label: "bidirectional none", op: .bidirectional(BidirectionalAttributes(mergeMode: .none, layer: .lstm(LSTMAttributes(lstm4)))),
            inputs: [[10, 3]], expected: [[10, 4], [10, 4]]),
        Row(label: "bidirectional concat with state",
            op: .bidirectional(BidirectionalAttributes(mergeMode: .concat, layer: .lstm(LSTMAttributes(RecurrentAttributes(units: 4, returnState: true))))),
            inputs: [[10, 3]], expected: [[8], [4], [4], [4], [4]]),
        Row(label: "timeDistributed dense", op: .timeDistributed(layer: .dense(DenseAttributes(units: 3))),
            inputs: [[10, 5]], expected: [[10, 3]]),
        Row(label: "timeDistributed conv2d", op: .timeDistributed(layer: .conv(ConvAttributes(rank: 2, filters: 2, kernelSize: [3, 3]))),
            inputs: [[6, 5, 5, 1]], expected: [[6, 3, 3, 2]]),
        Row(label: "masking", op: .masking(maskValue: 0), inputs: [[10, 3]], expected: [[10, 3]]),
        Row(label: "add", op: .merge(MergeAttributes(.add)), inputs: [[4], [4], [4]], expected: [[4]]),
        Row(label: "subtract", op: .merge(MergeAttributes(.subtract)), inputs: [[nil, 4], [3, 4]], expected: [[3, 4]]),
        Row(label: "multiply broadcast", op: .merge(MergeAttributes(.multiply)), inputs: [[3, 1], [1, 4]], expected: [[3, 4]]),
        Row(label: "average", op: .merge(MergeAttributes(.average)), inputs: [[2, 2], [2, 2]], expected: [[2, 2]]),
        Row(label: "maximum", op: .merge(MergeAttributes(.maximum)), inputs: [[5], [5]], expected: [[5]]),
        Row(label: "minimum", op: .merge(MergeAttributes(.minimum)), inputs: [[5], [5]], expected: [[5]]),
        Row(label: "concatenate last", op: .merge(MergeAttributes(.concatenate(axis: -1))), inputs: [[3, 4], [3, 5]], expected: [[3, 9]]),
        Row(label: "concatenate axis 1", op: .merge(MergeAttributes(.concatenate(axis: 1))), inputs: [[3, 4], [2, 4]], expected: [[5, 4]]),
        Row(label: "concatenate unknown", op: .merge(MergeAttributes(.concatenate(axis: 1))), inputs: [[nil, 4], [3, 4]], expected: [[nil, 4]]),
        Row(label: "concatenate three", op: .merge(MergeAttributes(.concatenate(axis: -1))), inputs: [[2], [3], [4]], expected: [[9]]),
        Row(label: "dot vectors", op: .merge(MergeAttributes(.dot(axes: [1], normalize: false))), inputs: [[5], [5]], expected: [[1]]),
        Row(label: "dot matrices", op: .merge(MergeAttributes(.dot(axes: [2, 2], normalize: true))), inputs: [[3, 4], [5, 4]], expected: [[3, 5]]),
        Row(label: "output dense", op: .output(OutputAttributes(kind: .dense, units: 3, activation: .softmax(axis: -1), loss: "MCXENT")),
            inputs: [[10]], expected: [[3]]),
        Row(label: "output rnn", op: .output(OutputAttributes(kind: .rnn, units: 3, activation: .softmax(axis: -1), loss: "MCXENT")),
            inputs: [[7, 10]], expected: [[7, 3]]),
        Row(label: "output centerLoss", op: .output(OutputAttributes(kind: .centerLoss, units: 2, activation: .softmax(axis: -1), loss: "MCXENT")),
            inputs: [[10]], expected: [[2]]),
        Row(label: "loss", op: .output(OutputAttributes(kind: .loss, units: nil, activation: .sigmoid, loss: "XENT")),
            inputs: [[5]], expected: [[5]]),
        Row(label: "rnn loss", op: .output(OutputAttributes(kind: .rnnLoss, units: nil, activation: .sigmoid, loss: "XENT")),
            inputs: [[7, 5]], expected: [[7, 5]]),
        Row(label: "cnn loss", op: .output(OutputAttributes(kind: .cnnLoss, units: nil, activation: .sigmoid, loss: "XENT")),
            inputs: [[3, 4, 4]], expected: [[3, 4, 4]]),
        Row(label: "lastTimeStep", op: .dl4jVertex(.lastTimeStep), inputs: [[10, 6]], expected: [[6]]),
        Row(label: "subset", op: .dl4jVertex(.subset(from: 2, to: 4)), inputs: [[10]], expected: [[3]]),
        Row(label: "stack", op: .dl4jVertex(.stack), inputs: [[4], [4]], expected: [[4]]),
        Row(label: "unstack", op: .dl4jVertex(.unstack(index: 0, count: 2)), inputs: [[4]], expected: [[4]]),
        Row(label: "l2Normalize", op: .dl4jVertex(.l2Normalize(epsilon: 1e-8)), inputs: [[4]], expected: [[4]]),
        Row(label: "scale", op: .dl4jVertex(.scale(factor: 2)), inputs: [[4]], expected: [[4]]),
        Row(label: "shift", op: .dl4jVertex(.shift(value: 1)), inputs: [[4]], expected: [[4]]),
        Row(label: "duplicateToTimeSeries", op: .dl4jVertex(.duplicateToTimeSeries(reference: "in")), inputs: [[6]], expected: [[nil, 6]]),
        Row(label: "localResponseNormalization", op: .dl4jVertex(.localResponseNormalization(k: 2, n: 5, alpha: 1e-4, beta: 0.75)),
            inputs: [[3, 5, 5]], expected: [[3, 5, 5]]),
        Row(label: "cnnToFeedForward", op: .dl4jVertex(.preprocessor(.cnnToFeedForward(height: 2, width: 3, channels: 4))),
            inputs: [[4, 2, 3]], expected: [[24]]),
        Row(label: "feedForwardToCnn", op: .dl4jVertex(.preprocessor(.feedForwardToCnn(height: 2, width: 3, channels: 4))),
            inputs: [[24]], expected: [[4, 2, 3]]),
        Row(label: "rnnToFeedForward", op: .dl4jVertex(.preprocessor(.rnnToFeedForward)), inputs: [[10, 6]], expected: [[6]]),
        Row(label: "feedForwardToRnn", op: .dl4jVertex(.preprocessor(.feedForwardToRnn)), inputs: [[6]], expected: [[nil, 6]]),
        Row(label: "cnnToRnn", op: .dl4jVertex(.preprocessor(.cnnToRnn(height: 2, width: 3, channels: 4))),
            inputs: [[4, 2, 3]], expected: [[nil, 24]]),
        Row(label: "rnnToCnn", op: .dl4jVertex(.preprocessor(.rnnToCnn(height: 2, width: 3, channels: 4))),
            inputs: [[10, 24]], expected: [[4, 2, 3]]),
        Row(label: "opaque with shape", op: .opaque(OpaqueAttributes(format: "keras", className: "Lambda", config: .null, outputShape: [7])),
            inputs: [[3]], expected: [[7]]),
    ]

    func testEveryOp() throws {
        for row in Self.rows {
            XCTAssertEqual(try row.op.outputShapes(row.inputs), row.expected, row.label)
            if let count = row.op.outputCount {
                XCTAssertEqual(count, row.expected.count, "output count of \(row.label)")
            }
        }
        // Every op kind appears in the table at least once.
        let kinds = Set(Self.rows.map { Self.caseName($0.op) })
        let all: Set<String> = ["input", "dense", "activation", "prelu", "dropout", "flatten", "reshape", "permute",
                                "repeatVector", "conv", "pooling", "globalPooling", "zeroPadding", "cropping", "upSampling",
                                "batchNorm", "layerNorm", "embedding", "simpleRNN", "lstm", "gru", "bidirectional",
                                "timeDistributed", "masking", "merge", "output", "dl4jVertex", "opaque"]
        XCTAssertEqual(kinds, all)
    }

    static func caseName(_ op: Op) -> String {
        String(String(describing: op).prefix { $0 != "(" })
    }

    func testBadInputsAreShapeErrors() {
        let cases: [(String, Op, [[Int?]], GraftError.Kind)] = [
            ("dense on scalar", .dense(DenseAttributes(units: 2)), [[]], .shapeMismatch),
            ("kernel larger than input", .conv(ConvAttributes(rank: 1, filters: 2, kernelSize: [5])), [[3, 1]], .shapeMismatch),
            ("conv wrong rank", .conv(ConvAttributes(rank: 2, filters: 2, kernelSize: [3, 3])), [[5, 1]], .shapeMismatch),
            ("concatenate mismatch", .merge(MergeAttributes(.concatenate(axis: -1))), [[3, 4], [2, 4]], .shapeMismatch),
            ("add mismatch", .merge(MergeAttributes(.add)), [[3], [4]], .shapeMismatch),
            ("merge of one", .merge(MergeAttributes(.add)), [[3]], .invalidGraph),
            ("reshape count", .reshape(targetShape: [5, 5]), [[3, 8]], .shapeMismatch),
            ("lstm on flat", .lstm(LSTMAttributes(RecurrentAttributes(units: 2))), [[3]], .shapeMismatch),
            ("subset beyond", .dl4jVertex(.subset(from: 0, to: 10)), [[4]], .shapeMismatch),
            ("opaque without shape", .opaque(OpaqueAttributes(format: "keras", className: "Lambda", config: .null)), [[3]], .unsupported),
        ]
        for (label, op, inputs, kind) in cases {
            XCTAssertThrowsError(try op.outputShapes(inputs), label) { error in
                XCTAssertEqual((error as? GraftError)?.kind, kind, label)
            }
        }
    }

    func testGraphInferenceNamesTheFailingNode() throws {
        var graph = Graph(nodes: [
            Node(name: "in", op: .input(InputAttributes(shape: [6, 10], layout: .sequenceFeaturesTime))),
            Node(name: "rnn", op: .lstm(LSTMAttributes(RecurrentAttributes(units: 3, returnSequences: true))), inputs: [NodeOutput("in")]),
            Node(name: "last", op: .dl4jVertex(.lastTimeStep), inputs: [NodeOutput("rnn")]),
        ], outputs: [NodeOutput("last")])
        let shapes = try graph.inferShapes()
        XCTAssertEqual(shapes["in"], [[10, 6]])
        XCTAssertEqual(shapes["rnn"], [[10, 3]])
        XCTAssertEqual(shapes["last"], [[3]])

        graph.nodes.append(Node(name: "bad_pool", op: .pooling(PoolingAttributes(kind: .max, rank: 2, poolSize: [2, 2])),
                                inputs: [NodeOutput("last")]))
        XCTAssertThrowsError(try graph.inferShapes()) { error in
            let e = error as? GraftError
            XCTAssertEqual(e?.kind, .shapeMismatch)
            XCTAssertEqual(e?.location, "bad_pool")
            XCTAssertTrue(e?.message.contains("bad_pool") ?? false)
            XCTAssertNotNil(e?.expected)
            XCTAssertNotNil(e?.found)
        }
    }
}
