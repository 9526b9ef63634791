import GraftCore
@testable import GraftKeras
import OrderedCollections
import XCTest

final class KerasPoolingPaddingTests: XCTestCase {
    typealias Pair = SpatialPadAttributes.Pair

    func testKeras1Pooling1D() throws {
        let real = try CorpusLayers.layer("maxpooling1d_1", in: "keras/configs/keras1/keras1_tf_embedding_conv1d_config.json")
        let (op, params) = try KerasPoolingFamily.map(layerContext(real.className, real.config, producer: Producers.keras1))
        XCTAssertEqual(op, .pooling(PoolingAttributes(kind: .max, rank: 1, poolSize: [3], strides: [3], padding: .valid)))
        XCTAssertTrue(params.isEmpty)
    }

    func testTFKerasPoolingAndGlobalPooling() throws {
        let layers = try CorpusLayers.layers(in: "keras/tfkeras/cnn3d_18.h5")
        let avg = try XCTUnwrap(layers["average_pooling3d_8"])
        XCTAssertEqual(try KerasPoolingFamily.map(layerContext(avg.className, avg.config, producer: Producers.tfKeras)).op,
                       .pooling(PoolingAttributes(kind: .average, rank: 3, poolSize: [2, 2, 2])))
        let gmp = try CorpusLayers.layer("global_max_pooling2d_28", in: "keras/tfkeras/cnn2d_100.h5")
        XCTAssertEqual(try KerasGlobalPoolingFamily.map(layerContext(gmp.className, gmp.config, producer: Producers.tfKeras)).op,
                       .globalPooling(GlobalPoolingAttributes(kind: .max, rank: 2)))
        let kept = configWith(gmp.config, ["keepdims": .bool(true), "data_format": .string("channels_first")])
        XCTAssertEqual(try KerasGlobalPoolingFamily.map(layerContext("GlobalAveragePooling2D", kept, producer: Producers.keras3)).op,
                       .globalPooling(GlobalPoolingAttributes(kind: .average, rank: 2, dataFormat: .channelsFirst, keepDims: true)))
        // `strides: null` means the pool size; Keras 1 `th` ordering is channels-first.
        let k1 = JSONValue.object(["name": .string("p"), "pool_size": .array([.number("2"), .number("3")]), "strides": .null,
                                   "border_mode": .string("same"), "dim_ordering": .string("th")])
        XCTAssertEqual(try KerasPoolingFamily.map(layerContext("AveragePooling2D", k1, producer: Producers.keras1)).op,
                       .pooling(PoolingAttributes(kind: .average, rank: 2, poolSize: [2, 3], strides: [2, 3], padding: .same,
                                                  dataFormat: .channelsFirst)))
    }

    func testPaddingCroppingUpSamplingFromCorpus() throws {
        let layers = try CorpusLayers.layers(in: "keras/tfkeras/cnn2d_76.h5")
        let zp = try XCTUnwrap(layers["zero_padding2d_88"])
        XCTAssertEqual(try KerasPaddingCroppingFamily.map(layerContext(zp.className, zp.config, producer: Producers.tfKeras)).op,
                       .zeroPadding(SpatialPadAttributes(rank: 2, amounts: [Pair(3, 3), Pair(3, 3)])))
        let cr = try XCTUnwrap(layers["cropping2d_88"])
        XCTAssertEqual(try KerasPaddingCroppingFamily.map(layerContext(cr.className, cr.config, producer: Producers.tfKeras)).op,
                       .cropping(SpatialPadAttributes(rank: 2, amounts: [Pair(1, 1), Pair(1, 1)])))
        let up = try XCTUnwrap(layers["up_sampling2d_88"])
        XCTAssertEqual(try KerasUpSamplingFamily.map(layerContext(up.className, up.config, producer: Producers.tfKeras)).op,
                       .upSampling(UpSamplingAttributes(rank: 2, size: [2, 2])))
        let c3 = try CorpusLayers.layer("cropping3d_10", in: "keras/tfkeras/cnn3d_18.h5")
        XCTAssertEqual(try KerasPaddingCroppingFamily.map(layerContext(c3.className, c3.config, producer: Producers.tfKeras)).op,
                       .cropping(SpatialPadAttributes(rank: 3, amounts: [Pair(1, 1), Pair(1, 1), Pair(1, 1)])))
    }

    /// The other amount forms: int, symmetric per-axis ints, 1-D pair, Keras 1 4-tuple and dict.
    func testAmountForms() throws {
        func amounts(_ className: String, _ key: String, _ value: JSONValue, _ producer: KerasProducer = Producers.keras2) throws -> [Pair] {
            let op = try KerasPaddingCroppingFamily.map(layerContext(className, .object(["name": .string("p"), key: value]), producer: producer)).op
            switch op {
            case .zeroPadding(let a), .cropping(let a): return a.amounts
            default: throw GraftError(.invalidArgument, "\(op)")
            }
        }
        XCTAssertEqual(try amounts("ZeroPadding2D", "padding", .number("2")), [Pair(2, 2), Pair(2, 2)])
        XCTAssertEqual(try amounts("ZeroPadding2D", "padding", .array([.number("1"), .number("2")])), [Pair(1, 1), Pair(2, 2)])
        XCTAssertEqual(try amounts("ZeroPadding1D", "padding", .array([.number("1"), .number("2")])), [Pair(1, 2)])
        XCTAssertEqual(try amounts("Cropping1D", "cropping", .array([.number("0"), .number("3")])), [Pair(0, 3)])
        XCTAssertEqual(try amounts("ZeroPadding2D", "padding", .array([1, 2, 3, 4].map { .number("\($0)") }), Producers.keras1),
                       [Pair(1, 2), Pair(3, 4)])
        let dict = JSONValue.object(["top_pad": .number("1"), "bottom_pad": .number("2"), "left_pad": .number("3"), "right_pad": .number("4")])
        XCTAssertEqual(try amounts("ZeroPadding2D", "padding", dict, Producers.keras1), [Pair(1, 2), Pair(3, 4)])
        XCTAssertEqual(try amounts("ZeroPadding3D", "padding", .array([.number("1"), .number("2"), .number("3")])),
                       [Pair(1, 1), Pair(2, 2), Pair(3, 3)])
        assertGraftError(.malformed) { _ = try amounts("ZeroPadding2D", "padding", .array([.number("1"), .number("2"), .number("3")])) }
        assertGraftError(.malformed) { _ = try amounts("Cropping2D", "cropping", .number("-1")) }
    }

    func testKeras1UpSampling1DLength() throws {
        let cfg = JSONValue.object(["name": .string("u"), "length": .number("3")])
        XCTAssertEqual(try KerasUpSamplingFamily.map(layerContext("UpSampling1D", cfg, producer: Producers.keras1)).op,
                       .upSampling(UpSamplingAttributes(rank: 1, size: [3])))
    }
}
