import GraftCore
import GraftIO
import XCTest

/// Layout mapping between formats, checked element by element against hand-computed indices.
final class LayoutMappingTests: XCTestCase {
    func graph(layout: DataLayout, shape: [Int?]) -> Graph {
        Graph(nodes: [Node(name: "in", op: .input(InputAttributes(shape: shape, layout: layout)))], outputs: [NodeOutput("in")])
    }

    func testDL4JSequencesMapToKerasAndBack() throws {
        let dl4j = graph(layout: .sequenceFeaturesTime, shape: [3, 5])
        let keras = graph(layout: .sequenceTimeMajorFeatures, shape: [5, 3])
        let mapping = try LayoutMapping(from: dl4j, to: keras)
        XCTAssertFalse(mapping.isIdentity)
        // x[b, f, t] = 100b + 10f + t
        var values: [Double] = []
        for b in 0..<2 { for f in 0..<3 { for t in 0..<5 { values.append(Double(100 * b + 10 * f + t)) } } }
        let x = Tensor(shape: [2, 3, 5], doubles: values)
        let y = try XCTUnwrap(try mapping.inputsForB([x]).first)
        XCTAssertEqual(y.shape, [2, 5, 3])
        let yv = y.doubles()
        for b in 0..<2 { for t in 0..<5 { for f in 0..<3 {
            XCTAssertEqual(yv[(b * 5 + t) * 3 + f], Double(100 * b + 10 * f + t))
        } } }
        let back = try XCTUnwrap(try mapping.outputsForA([y]).first)
        XCTAssertEqual(back.shape, [2, 3, 5])
        XCTAssertEqual(back.doubles(), values)
        // Rank-2 outputs (e.g. a final Dense) are left alone.
        let flat = Tensor(shape: [2, 4], doubles: [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(try mapping.outputsForA([flat]).first?.doubles(), flat.doubles())
    }

    func testImagesChannelsLastToFirst() throws {
        let mapping = try LayoutMapping(from: graph(layout: .channelsLast, shape: [2, 2, 3]),
                                        to: graph(layout: .channelsFirst, shape: [3, 2, 2]))
        XCTAssertEqual(mapping.inputPermutations.first ?? nil, [0, 3, 1, 2])
        XCTAssertEqual(mapping.outputPermutations[4], [0, 2, 3, 1])
    }

    func testSameLayoutIsIdentityAndInputCountsMustAgree() throws {
        let a = graph(layout: .sequenceTimeMajorFeatures, shape: [5, 3])
        XCTAssertTrue(try LayoutMapping(from: a, to: a).isIdentity)
        XCTAssertThrowsError(try LayoutMapping(from: a, to: Graph()))
    }
}
