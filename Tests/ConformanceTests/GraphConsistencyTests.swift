import Foundation
import GraftCore
import GraftDL4J
import GraftIO
import GraftRuntime
import XCTest

/// Every corpus model, read through the format-detecting loader, is a valid graph; and where
/// the case has inputs, the shape inference agrees with what the runtime computes at every node.
final class GraphConsistencyTests: XCTestCase {
    static let modelFormats: Set<String> = ["keras-h5", "keras3", "keras-weights+json", "dl4j-zip"]

    func testEveryCorpusModelValidatesAndShapesMatchTheRuntime() throws {
        var validated = 0, shapeChecked = 0, nodesCompared = 0
        var failures: [String] = []
        for c in try Corpus.cases(formats: Self.modelFormats) {
            let id = c["id"]?.stringValue ?? "?"
            guard let model = c["model"] else { continue }
            let path = model["h5"]?.stringValue ?? model["keras"]?.stringValue ?? model["zip"]?.stringValue
                ?? model["config_json"]?.stringValue
            guard let path else { continue }
            do {
                let graph = try ModelFile.load(path: Corpus.path(path), weights: model["weights_h5"]?.stringValue.map(Corpus.path))
                try graph.validate()
                validated += 1
                guard c["checks"]?.stringArray.contains("forward") == true, let spec = c["inputs"],
                      !graph.nodes.contains(where: \.op.isOpaque) else { continue }
                let inputs = try Self.arrays(spec)
                let shapes = try graph.inferShapes()
                let wanted = graph.nodes.filter { if case .input = $0.op { return false }; return true }
                let values = try Interpreter(graph: graph).run(inputs, outputs: wanted.map { NodeOutput($0.name) })
                let featuresFirst = graph.inputs.contains { if case .input(let a) = $0.op { return a.layout == .sequenceFeaturesTime }; return false }
                for (node, value) in zip(wanted, values) {
                    guard var inferred = shapes[node.name]?.first else { continue }
                    // The runtime hands rank-3 values of DL4J sequence graphs back as [batch, features, time].
                    if featuresFirst, inferred.count == 2 { inferred.swapAt(0, 1) }
                    let actual = Array(value.shape.dropFirst())
                    let agrees = inferred.count == actual.count && zip(inferred, actual).allSatisfy { $0 == nil || $0 == $1 }
                    if !agrees { failures.append("\(id): node \(node.name) inferred \(ShapeText.of(inferred)), runtime \(actual)") }
                    nodesCompared += 1
                }
                shapeChecked += 1
            } catch {
                failures.append("\(id): \(error)")
            }
        }
        print("[consistency] \(validated) models validated, \(shapeChecked) shape-checked over \(nodesCompared) nodes, \(failures.count) failures")
        for f in failures { print("[consistency] FAIL \(f)") }
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
        XCTAssertGreaterThan(validated, 150)
    }

    /// The input arrays of a case: Nd4j binary files, or what the Keras loader reads.
    static func arrays(_ spec: JSONValue) throws -> [Tensor] {
        if spec["format"]?.stringValue == "nd4j-bin", let file = spec["file"]?.stringValue {
            return [try Nd4jArray.read(path: Corpus.path(file)).tensor]
        }
        return try KerasCaseArrays.load(spec)
    }
}
