import GraftCore
import OrderedCollections
import XCTest

final class InspectTests: XCTestCase {
    /// in [10, 6] → lstm(4, sequences, state; frozen) → dense(3) on lstm:0 → lambda (opaque, no shape).
    /// Parameter counts by hand: lstm 6·16 + 4·16 + 16 = 176; dense 4·3 + 3 = 15.
    static func graph() -> Graph {
        Graph(nodes: [
            Node(name: "in", op: .input(InputAttributes(shape: [10, 6], layout: .sequenceTimeMajorFeatures))),
            Node(name: "lstm", op: .lstm(LSTMAttributes(RecurrentAttributes(units: 4, returnSequences: true, returnState: true))),
                 inputs: [NodeOutput("in")],
                 parameters: ["kernel": Tensor(zeros: [6, 16]), "recurrentKernel": Tensor(zeros: [4, 16]), "bias": Tensor(zeros: [16])],
                 freeze: .frozen),
            Node(name: "dense", op: .dense(DenseAttributes(units: 3)), inputs: [NodeOutput("lstm", output: 0)],
                 parameters: ["kernel": Tensor(zeros: [4, 3]), "bias": Tensor(zeros: [3])]),
            Node(name: "lambda", op: .opaque(OpaqueAttributes(format: "keras", className: "Lambda", config: .null)),
                 inputs: [NodeOutput("dense")]),
        ], outputs: [NodeOutput("lambda"), NodeOutput("lstm", output: 2)])
    }

    func testTable() throws {
        let table = try Self.graph().inspectTable()
        let lines = table.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertTrue(lines[0].hasPrefix("Name"))
        // Columns line up: every row's op column starts where the header's does.
        let opColumn = lines[0].range(of: "Op")!.lowerBound.utf16Offset(in: lines[0])
        let rows = lines.filter { $0.hasPrefix("in ") || $0.hasPrefix("lstm ") || $0.hasPrefix("dense ") || $0.hasPrefix("lambda ") }
        XCTAssertEqual(rows.count, 4)
        for row in rows {
            let chars = Array(row)
            XCTAssertEqual(chars[opColumn - 1], " ", row)
            XCTAssertNotEqual(chars[opColumn], " ", row)
        }
        let lstmRow = rows.first { $0.hasPrefix("lstm ") }!
        XCTAssertTrue(lstmRow.contains("(None, 10, 4)"), lstmRow)
        XCTAssertTrue(lstmRow.contains("176"), lstmRow)
        XCTAssertTrue(lstmRow.contains("frozen"), lstmRow)
        let denseRow = rows.first { $0.hasPrefix("dense ") }!
        XCTAssertTrue(denseRow.contains("(None, 10, 3)") && denseRow.contains("15") && denseRow.contains("trainable"), denseRow)
        let lambdaRow = rows.first { $0.hasPrefix("lambda ") }!
        XCTAssertTrue(lambdaRow.contains("opaque(Lambda)") && lambdaRow.contains("?"), lambdaRow)
        XCTAssertTrue(table.contains("Total params: 191"))
        XCTAssertTrue(table.contains("Trainable params: 15"))
        XCTAssertTrue(table.contains("Frozen params: 176"))
    }

    func testJSON() throws {
        let json = try Self.graph().inspectJSON()
        XCTAssertEqual(json.objectValue.map { Array($0.keys) }, ["format", "inputs", "outputs", "nodes"])
        XCTAssertEqual(json["format"], .string("memory"))
        XCTAssertEqual(json["inputs"], try JSONValue.parse(#"[{"name": "in", "shape": [null, 10, 6], "layout": "NTC"}]"#))
        XCTAssertEqual(json["outputs"], try JSONValue.parse(#"["lambda", "lstm:2"]"#))
        let nodes = try XCTUnwrap(json["nodes"]?.arrayValue)
        XCTAssertEqual(nodes.count, 4)
        XCTAssertEqual(nodes[1], try JSONValue.parse("""
            {"name": "lstm", "op": "lstm", "inputs": ["in"], "outputShape": [null, 10, 4],
             "outputShapes": [[null, 10, 4], [null, 4], [null, 4]],
             "parameters": {"kernel": [6, 16], "recurrentKernel": [4, 16], "bias": [16]},
             "parameterCount": 176, "freeze": "frozen", "units": 4}
            """))
        XCTAssertEqual(nodes[2]["outputShape"], try JSONValue.parse("[null, 10, 3]"))
        XCTAssertNil(nodes[2]["outputShapes"])
        XCTAssertEqual(nodes[2]["units"]?.intValue, 3)
        XCTAssertEqual(nodes[2]["inputs"], try JSONValue.parse(#"["lstm"]"#))
        XCTAssertEqual(nodes[0]["parameters"], .object([:]))
        XCTAssertNil(nodes[0]["units"])
        XCTAssertEqual(nodes[3]["outputShape"], .null)
        XCTAssertEqual(nodes[3]["op"], .string("opaque(Lambda)"))
        // The document survives a text round trip.
        XCTAssertEqual(try JSONValue.parse(json.serialized(pretty: true)), json)
    }
}
