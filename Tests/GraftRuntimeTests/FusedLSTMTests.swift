import GraftCore
import XCTest
@testable import GraftRuntime

/// The fused LSTM step (CGEMM's graft_lstm_step) against a double-precision reference of the
/// Keras cell over shapes with ragged row tiles and unit groups (and u > 256: two K blocks),
/// bit for bit against the unfused step (packed GEMM with beta 1, then VectorMath's sigmoid and
/// tanh and the same products), in place and out of place; and an LSTM layer run on 1 and 2
/// threads giving the same bits.
final class FusedLSTMTests: XCTestCase {
    /// (rows, units): row tiles of 6 (AVX-512) / 2 (AVX2) with remainders, unit groups of 16 / 8
    /// with remainders, two K blocks from 257 units on.
    static let shapes: [(Int, Int)] = [(1, 1), (2, 3), (5, 8), (7, 16), (13, 17), (6, 33), (32, 200), (3, 300)]

    static var variants: [PackedGEMM.Variant] {
        [.avx2, .avx512].filter { $0.isSupported && FusedLSTMWeights.variant(for: $0) != nil }
    }

    struct Case {
        var m: Int, u: Int
        var h: [Float], c: [Float], pre: [Float], recurrent: [Float]
        var ldpre: Int { 4 * u + 3 }
    }

    static func makeCase(_ m: Int, _ u: Int, seed: UInt64) -> Case {
        var rng = SplitMix64(seed: seed)
        func values(_ count: Int, _ scale: Double) -> [Float] { (0..<count).map { _ in Float(rng.uniform(-scale, scale)) } }
        let scale = 2 / Double(u).squareRoot()
        return Case(m: m, u: u, h: values(m * u, 1), c: values(m * u, 2), pre: values(m * (4 * u + 3), 1.5),
                    recurrent: values(u * 4 * u, scale))
    }

    /// h', c' of the Keras cell in double.
    static func reference(_ t: Case) -> (h: [Double], c: [Double]) {
        let u = t.u
        var hOut = [Double](repeating: 0, count: t.m * u), cOut = hOut
        func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
        for r in 0..<t.m {
            var z = [Double](repeating: 0, count: 4 * u)
            for j in 0..<(4 * u) {
                var s = Double(t.pre[r * t.ldpre + j])
                for k in 0..<u { s += Double(t.h[r * u + k]) * Double(t.recurrent[k * 4 * u + j]) }
                z[j] = s
            }
            for j in 0..<u {
                let c = sigmoid(z[u + j]) * Double(t.c[r * u + j]) + sigmoid(z[j]) * Foundation.tanh(z[2 * u + j])
                cOut[r * u + j] = c
                hOut[r * u + j] = Foundation.tanh(c) * sigmoid(z[3 * u + j])
            }
        }
        return (hOut, cOut)
    }

    /// The fused step; in place (h and c overwritten) or into separate outputs.
    static func fused(_ t: Case, variant: PackedGEMM.Variant, inPlace: Bool) throws -> (h: [Float], c: [Float]) {
        let w = try XCTUnwrap(t.recurrent.withUnsafeBufferPointer { FusedLSTMWeights($0.baseAddress!, units: t.u, ldu: 4 * t.u, variant: variant) })
        var pre = t.pre, h = t.h, c = t.c
        var hOut = [Float](repeating: .nan, count: t.m * t.u), cOut = hOut, h2 = hOut
        pre.withUnsafeMutableBufferPointer { p in
            h.withUnsafeMutableBufferPointer { hp in
                c.withUnsafeMutableBufferPointer { cp in
                    hOut.withUnsafeMutableBufferPointer { hop in
                        cOut.withUnsafeMutableBufferPointer { cop in
                            h2.withUnsafeMutableBufferPointer { h2p in
                                w.step(rows: t.m, h: hp.baseAddress!, ldh: t.u, pre: p.baseAddress!, ldpre: t.ldpre, cIn: cp.baseAddress!,
                                       cOut: inPlace ? cp.baseAddress! : cop.baseAddress!, ldc: t.u,
                                       hOut: inPlace ? hp.baseAddress! : hop.baseAddress!, ldho: t.u, hOut2: h2p.baseAddress!, ldho2: t.u)
                            }
                        }
                    }
                }
            }
        }
        let result = inPlace ? (h, c) : (hOut, cOut)
        XCTAssertEqual(h2.map(\.bitPattern), result.0.map(\.bitPattern), "second h output")
        return result
    }

    /// The unfused step of RecurrentSequence.runSteps: z = pre + h·U by the packed GEMM (beta 1),
    /// VectorMath sigmoid/tanh on the gate blocks, then the same products.
    static func unfused(_ t: Case, variant: PackedGEMM.Variant) -> (h: [Float], c: [Float]) {
        let u = t.u
        let w = t.recurrent.withUnsafeBufferPointer { PackedWeights($0.baseAddress!, rows: u, columns: 4 * u, ldb: 4 * u) }
        var pre = t.pre
        t.h.withUnsafeBufferPointer { hp in
            pre.withUnsafeMutableBufferPointer { p in
                w.gemm(a: hp.baseAddress!, rows: t.m, lda: u, bias: nil, beta: 1, c: p.baseAddress!, ldc: t.ldpre, threads: 1,
                       variant: variant)
            }
        }
        var hOut = [Float](repeating: 0, count: t.m * u), cOut = hOut
        for r in 0..<t.m {
            var z = Array(pre[(r * t.ldpre)..<(r * t.ldpre + 4 * u)])
            z.withUnsafeMutableBufferPointer { zp in
                VectorMath.sigmoid(UnsafeMutableBufferPointer(rebasing: zp[0..<(2 * u)]))
                VectorMath.tanh(UnsafeMutableBufferPointer(rebasing: zp[(2 * u)..<(3 * u)]))
                VectorMath.sigmoid(UnsafeMutableBufferPointer(rebasing: zp[(3 * u)..<(4 * u)]))
            }
            var cRow = (0..<u).map { j in z[u + j] * t.c[r * u + j] + z[j] * z[2 * u + j] }
            for j in 0..<u { cOut[r * u + j] = cRow[j] }
            cRow.withUnsafeMutableBufferPointer { VectorMath.tanh($0) }
            for j in 0..<u { hOut[r * u + j] = cRow[j] * z[3 * u + j] }
        }
        return (hOut, cOut)
    }

    func testFusedStepAgainstDoubleReferenceAndUnfusedStep() throws {
        let variants = Self.variants
        try XCTSkipIf(variants.isEmpty, "no fused LSTM step on this CPU (portable GEMM only)")
        for (index, (m, u)) in Self.shapes.enumerated() {
            let t = Self.makeCase(m, u, seed: UInt64(100 + index))
            let expected = Self.reference(t)
            for variant in variants {
                let unfused = Self.unfused(t, variant: variant)
                for inPlace in [false, true] {
                    let got = try Self.fused(t, variant: variant, inPlace: inPlace)
                    let what = "m \(m) u \(u) \(variant) in place \(inPlace)"
                    for i in 0..<(m * u) {
                        XCTAssertEqual(Double(got.h[i]), expected.h[i], accuracy: 1e-5, "h[\(i)] \(what)")
                        XCTAssertEqual(Double(got.c[i]), expected.c[i], accuracy: 1e-5 * max(1, abs(expected.c[i])), "c[\(i)] \(what)")
                    }
                    XCTAssertEqual(got.h.map(\.bitPattern), unfused.h.map(\.bitPattern), "h bits vs unfused, \(what)")
                    XCTAssertEqual(got.c.map(\.bitPattern), unfused.c.map(\.bitPattern), "c bits vs unfused, \(what)")
                }
            }
        }
    }

    /// An LSTM layer (returnSequences, ragged units) in an Interpreter, without and with a
    /// Masking layer in front (some steps of each example all zero: Keras keeps h and c there
    /// and repeats the previous output): 1 and 2 threads give the same bits, and the outputs
    /// match a double-precision run of the cell formulas.
    func testLSTMLayerThreadedEqualsSingleThreadedAndReference() throws {
        let saved = Runtime.threadCount
        defer { Runtime.setThreadCount(saved) }
        let (batch, steps, features, u) = (7, 9, 5, 19)
        var rng = SplitMix64(seed: 7)
        func values(_ count: Int, _ scale: Double) -> [Float] { (0..<count).map { _ in Float(rng.uniform(-scale, scale)) } }
        let kernel = values(features * 4 * u, 0.5), recurrent = values(u * 4 * u, 0.4), bias = values(4 * u, 0.3)
        var x = values(batch * steps * features, 1)
        // Masked steps (for the masked run): step t of example b when (b + 2t) % 5 == 0.
        let masked = { (b: Int, t: Int) in (b + 2 * t) % 5 == 0 }
        for b in 0..<batch { for t in 0..<steps where masked(b, t) { for f in 0..<features { x[(b * steps + t) * features + f] = 0 } } }
        let params = ["kernel": Tensor(shape: [features, 4 * u], floats: kernel),
                      "recurrentKernel": Tensor(shape: [u, 4 * u], floats: recurrent), "bias": Tensor(shape: [4 * u], floats: bias)]
        let lstm = Op.lstm(LSTMAttributes(RecurrentAttributes(units: u, returnSequences: true)))
        for withMask in [false, true] {
            let graph = withMask
                ? Graph(nodes: [inputNode("x", [steps, features]), makeNode("m", .masking(maskValue: 0), inputs: ["x"]),
                                makeNode("lstm", lstm, inputs: ["m"], parameters: params)], outputs: [NodeOutput("lstm")])
                : singleOpGraph(lstm, inputShape: [steps, features], parameters: params)
            var results: [[Float]] = []
            for threads in [1, 2] {
                Runtime.setThreadCount(threads)
                let y = try runOne(graph, [Tensor(shape: [batch, steps, features], floats: x)])
                XCTAssertEqual(y.shape, [batch, steps, u])
                results.append(y.floats())
            }
            XCTAssertEqual(results[0].map(\.bitPattern), results[1].map(\.bitPattern), "2 threads vs 1, mask \(withMask)")
            // Reference: the Keras cell in double.
            func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
            for b in 0..<batch {
                var h = [Double](repeating: 0, count: u), c = h
                for t in 0..<steps {
                    if !(withMask && masked(b, t)) {
                        var z = (0..<(4 * u)).map { Double(bias[$0]) }
                        for j in 0..<(4 * u) {
                            for f in 0..<features { z[j] += Double(x[(b * steps + t) * features + f]) * Double(kernel[f * 4 * u + j]) }
                            for k in 0..<u { z[j] += h[k] * Double(recurrent[k * 4 * u + j]) }
                        }
                        for j in 0..<u {
                            c[j] = sigmoid(z[u + j]) * c[j] + sigmoid(z[j]) * Foundation.tanh(z[2 * u + j])
                            h[j] = Foundation.tanh(c[j]) * sigmoid(z[3 * u + j])
                        }
                    }
                    for j in 0..<u {
                        XCTAssertEqual(Double(results[0][(b * steps + t) * u + j]), h[j], accuracy: 1e-5,
                                       "b \(b) t \(t) j \(j) mask \(withMask)")
                    }
                }
            }
        }
    }
}
