import XCTest
import GraftCore
@testable import GraftSurgery

final class WeightInitTests: XCTestCase {
    func testSeededAndReproducible() throws {
        for w in [WeightInit.glorotUniform, .glorotNormal, .heUniform, .heNormal, .lecunUniform, .lecunNormal,
                  .uniform(low: -1, high: 1), .normal(mean: 0, stddev: 1), .orthogonal(gain: 1)] {
            var a = SplitMix64(seed: 7), b = SplitMix64(seed: 7), c = SplitMix64(seed: 8)
            let x = try w.values(shape: [20, 30], rng: &a)
            XCTAssertEqual(x, try w.values(shape: [20, 30], rng: &b), "\(w)")
            XCTAssertNotEqual(x, try w.values(shape: [20, 30], rng: &c), "\(w)")
        }
    }

    func testFansFollowCanonicalLayouts() {
        XCTAssertTrue(WeightInit.fans([10, 20]) == (10, 20))
        // conv [kh, kw, in, out]: receptive field 9.
        XCTAssertTrue(WeightInit.fans([3, 3, 4, 8]) == (36, 72))
    }

    func testUniformLimits() throws {
        // Glorot uniform limit sqrt(6 / (fanIn + fanOut)), He sqrt(6 / fanIn), LeCun sqrt(3 / fanIn), by hand for [24, 12].
        let cases: [(WeightInit, Double)] = [(.glorotUniform, (6.0 / 36).squareRoot()), (.heUniform, (6.0 / 24).squareRoot()),
                                             (.lecunUniform, (3.0 / 24).squareRoot())]
        for (w, limit) in cases {
            var rng = SplitMix64(seed: 1)
            let v = try w.values(shape: [24, 12], rng: &rng)
            XCTAssertLessThanOrEqual(v.map(abs).max()!, limit, "\(w)")
            XCTAssertGreaterThan(v.map(abs).max()!, limit * 0.8, "\(w)")
        }
    }

    func testNormalStatistics() throws {
        var rng = SplitMix64(seed: 3)
        let v = try WeightInit.heNormal.values(shape: [200, 100], rng: &rng)
        let mean = v.reduce(0, +) / Double(v.count)
        let std = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.01)
        XCTAssertEqual(std, (2.0 / 200).squareRoot(), accuracy: 0.005)
    }

    func testConstantsIdentityOrthogonal() throws {
        var rng = SplitMix64(seed: 1)
        XCTAssertEqual(try WeightInit.zeros.values(shape: [2, 2], rng: &rng), [0, 0, 0, 0])
        XCTAssertEqual(try WeightInit.ones.values(shape: [3], rng: &rng), [1, 1, 1])
        XCTAssertEqual(try WeightInit.constant(0.5).values(shape: [2], rng: &rng), [0.5, 0.5])
        XCTAssertEqual(try WeightInit.identity.values(shape: [2, 2], rng: &rng), [1, 0, 0, 1])
        // Conv identity: centre tap of a [3, 2, 2] kernel.
        XCTAssertEqual(try WeightInit.identity.values(shape: [3, 2, 2], rng: &rng), [0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0])
        XCTAssertThrowsError(try WeightInit.identity.values(shape: [2, 3], rng: &rng))
        for shape in [[6, 4], [4, 6]] {
            let q = try WeightInit.orthogonal(gain: 1).values(shape: shape, rng: &rng)
            let (r, c) = (shape[0], shape[1])
            // The shorter side's vectors are orthonormal.
            if r >= c {
                for i in 0..<c { for j in 0..<c {
                    let d = (0..<r).reduce(0.0) { $0 + q[$1 * c + i] * q[$1 * c + j] }
                    XCTAssertEqual(d, i == j ? 1 : 0, accuracy: 1e-9)
                } }
            } else {
                for i in 0..<r { for j in 0..<r {
                    let d = (0..<c).reduce(0.0) { $0 + q[i * c + $1] * q[j * c + $1] }
                    XCTAssertEqual(d, i == j ? 1 : 0, accuracy: 1e-9)
                } }
            }
        }
    }

    func testNames() throws {
        XCTAssertEqual(try WeightInit.named("xavier"), .glorotUniform)
        XCTAssertEqual(try WeightInit.named("he_normal"), .heNormal)
        XCTAssertEqual(try WeightInit.parse(JSONValue.parse(#"{"name":"constant","value":0.25}"#)), .constant(0.25))
        assertGraftError(.invalidArgument, mentioning: "bogus") { try WeightInit.named("bogus") }
    }
}
