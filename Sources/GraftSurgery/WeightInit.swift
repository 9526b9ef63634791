import Foundation
import GraftCore

/// Weight initialisers, seeded and reproducible. Fans follow the IR's canonical layouts:
/// dense `[in, out]`, conv `[k..., in, out]` (receptive field × channels), recurrent kernels
/// `[in, gates·u]` (fan-out is the gate-stacked width, as Keras computes it).
public enum WeightInit: Sendable, Equatable {
    case zeros, ones
    case constant(Double)
    case uniform(low: Double, high: Double)
    case normal(mean: Double, stddev: Double)
    case glorotUniform, glorotNormal
    case heUniform, heNormal
    case lecunUniform, lecunNormal
    /// The identity matrix (2-D square, or the centre tap of a conv kernel with in == out).
    case identity
    /// A (semi-)orthogonal matrix over the last axis vs the rest (Gram-Schmidt).
    case orthogonal(gain: Double)

    /// Parses the recipe/CLI names (`zeros`, `xavier`, `glorot_uniform`, `he_normal`, …).
    public static func named(_ raw: String) throws -> WeightInit {
        switch raw.lowercased().replacingOccurrences(of: "-", with: "_") {
        case "zeros", "zero": return .zeros
        case "ones", "one": return .ones
        case "uniform": return .uniform(low: -0.05, high: 0.05)
        case "normal": return .normal(mean: 0, stddev: 0.05)
        case "xavier", "glorot_uniform", "xavier_uniform", "glorotuniform": return .glorotUniform
        case "glorot_normal", "xavier_normal", "glorotnormal": return .glorotNormal
        case "he_uniform", "kaiming_uniform", "relu_uniform", "heuniform": return .heUniform
        case "he_normal", "kaiming_normal", "relu", "henormal": return .heNormal
        case "lecun_uniform", "lecununiform": return .lecunUniform
        case "lecun_normal", "lecun", "lecunnormal": return .lecunNormal
        case "identity": return .identity
        case "orthogonal": return .orthogonal(gain: 1)
        default:
            throw GraftError(.invalidArgument, "unknown weight initialiser", field: "weightInit",
                             expected: "zeros, ones, constant, uniform, normal, xavier, glorot_normal, he_uniform, he_normal, lecun_uniform, lecun_normal, identity, orthogonal",
                             found: raw)
        }
    }

    /// Parses a recipe value: a name, or an object such as `{"name":"constant","value":0.5}`.
    public static func parse(_ json: JSONValue) throws -> WeightInit {
        if let s = json.stringValue { return try named(s) }
        guard let name = json["name"]?.stringValue ?? json["type"]?.stringValue else {
            throw GraftError(.invalidArgument, "a weight initialiser is a name or an object with \"name\"", field: "weightInit", found: json.description)
        }
        switch name {
        case "constant": return .constant(json["value"]?.doubleValue ?? 0)
        case "uniform": return .uniform(low: json["low"]?.doubleValue ?? -0.05, high: json["high"]?.doubleValue ?? 0.05)
        case "normal": return .normal(mean: json["mean"]?.doubleValue ?? 0, stddev: json["stddev"]?.doubleValue ?? 0.05)
        case "orthogonal": return .orthogonal(gain: json["gain"]?.doubleValue ?? 1)
        default: return try named(name)
        }
    }

    /// (fanIn, fanOut) of a tensor shape in the canonical layouts.
    public static func fans(_ shape: [Int]) -> (fanIn: Double, fanOut: Double) {
        switch shape.count {
        case 0: return (1, 1)
        case 1: return (Double(shape[0]), Double(shape[0]))
        case 2: return (Double(shape[0]), Double(shape[1]))
        default:
            let receptive = shape.dropLast(2).reduce(1, *)
            return (Double(receptive * shape[shape.count - 2]), Double(receptive * shape[shape.count - 1]))
        }
    }

    /// Fresh values for `shape`, row-major, from `rng`.
    public func values(shape: [Int], rng: inout SplitMix64) throws -> [Double] {
        let n = shape.reduce(1, *)
        let (fanIn, fanOut) = WeightInit.fans(shape)
        func uniform(_ limit: Double) -> [Double] { (0..<n).map { _ in rng.uniform(-limit, limit) } }
        func normal(_ std: Double) -> [Double] { (0..<n).map { _ in rng.normal() * std } }
        switch self {
        case .zeros: return Array(repeating: 0, count: n)
        case .ones: return Array(repeating: 1, count: n)
        case .constant(let v): return Array(repeating: v, count: n)
        case .uniform(let lo, let hi): return (0..<n).map { _ in rng.uniform(lo, hi) }
        case .normal(let mean, let std): return (0..<n).map { _ in mean + rng.normal() * std }
        case .glorotUniform: return uniform((6 / max(fanIn + fanOut, 1)).squareRoot())
        case .glorotNormal: return normal((2 / max(fanIn + fanOut, 1)).squareRoot())
        case .heUniform: return uniform((6 / max(fanIn, 1)).squareRoot())
        case .heNormal: return normal((2 / max(fanIn, 1)).squareRoot())
        case .lecunUniform: return uniform((3 / max(fanIn, 1)).squareRoot())
        case .lecunNormal: return normal((1 / max(fanIn, 1)).squareRoot())
        case .identity: return try WeightInit.identityValues(shape)
        case .orthogonal(let gain): return WeightInit.orthogonalValues(shape, gain: gain, rng: &rng)
        }
    }

    /// Fresh values drawn on demand, element index → value, for tensors too large to fill
    /// whole when only some slices are new. Element-wise initialisers draw from a stream
    /// seeded from `rng` (so the values do not depend on which elements are asked for in
    /// what order only through the stream); identity and orthogonal build the full matrix.
    public func sampler(shape: [Int], rng: inout SplitMix64) throws -> @Sendable (Int) -> Double {
        switch self {
        case .identity, .orthogonal:
            let all = try values(shape: shape, rng: &rng)
            return { all[$0] }
        default:
            let box = SamplerState(rng: SplitMix64(seed: rng.next()), initializer: self, shape: shape)
            return { _ in box.next() }
        }
    }

    /// A tensor of `dtype` with fresh values.
    public func tensor(shape: [Int], dtype: DType = .float32, rng: inout SplitMix64) throws -> Tensor {
        Tensor(shape: shape, doubles: try values(shape: shape, rng: &rng)).converted(to: dtype)
    }

    static func identityValues(_ shape: [Int]) throws -> [Double] {
        let n = shape.reduce(1, *)
        var out = [Double](repeating: 0, count: n)
        if shape.count == 1 { return Array(repeating: 1, count: n) }
        guard shape.count >= 2, shape[shape.count - 1] == shape[shape.count - 2],
              shape.dropLast(2).allSatisfy({ $0 % 2 == 1 }) else {
            throw GraftError(.invalidArgument, "identity init needs a square matrix or an odd-sized conv kernel with in == out",
                             field: "weightInit", expected: "[n, n] or [k..., n, n] with odd k", found: "\(shape)")
        }
        let c = shape[shape.count - 1]
        let spatial = Array(shape.dropLast(2))
        // Row-major offset of the centre tap.
        var centre = 0
        for (i, k) in spatial.enumerated() { centre = centre * k + k / 2; _ = i }
        for i in 0..<c { out[(centre * c + i) * c + i] = 1 }
        return out
    }

    static func orthogonalValues(_ shape: [Int], gain: Double, rng: inout SplitMix64) -> [Double] {
        let n = shape.reduce(1, *)
        guard n > 0 else { return [] }
        let cols = shape.last ?? 1, rows = n / max(cols, 1)
        // Orthonormalise the longer side's vectors by Gram-Schmidt, then lay them out.
        let (count, length) = rows >= cols ? (cols, rows) : (rows, cols)
        var vectors: [[Double]] = []
        for _ in 0..<count {
            var v = (0..<length).map { _ in rng.normal() }
            for u in vectors {
                let d = zip(u, v).reduce(0) { $0 + $1.0 * $1.1 }
                for i in 0..<length { v[i] -= d * u[i] }
            }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            vectors.append(v.map { $0 / max(norm, 1e-12) })
        }
        var out = [Double](repeating: 0, count: n)
        for r in 0..<rows {
            for c in 0..<cols {
                out[r * cols + c] = gain * (rows >= cols ? vectors[c][r] : vectors[r][c])
            }
        }
        return out
    }
}

/// The mutable stream behind a `WeightInit.sampler`.
final class SamplerState: @unchecked Sendable {
    var rng: SplitMix64
    let initializer: WeightInit
    let fanIn: Double, fanOut: Double
    init(rng: SplitMix64, initializer: WeightInit, shape: [Int]) {
        self.rng = rng; self.initializer = initializer
        (fanIn, fanOut) = WeightInit.fans(shape)
    }
    func next() -> Double {
        switch initializer {
        case .zeros: return 0
        case .ones: return 1
        case .constant(let v): return v
        case .uniform(let lo, let hi): return rng.uniform(lo, hi)
        case .normal(let mean, let std): return mean + rng.normal() * std
        case .glorotUniform: let l = (6 / max(fanIn + fanOut, 1)).squareRoot(); return rng.uniform(-l, l)
        case .glorotNormal: return rng.normal() * (2 / max(fanIn + fanOut, 1)).squareRoot()
        case .heUniform: let l = (6 / max(fanIn, 1)).squareRoot(); return rng.uniform(-l, l)
        case .heNormal: return rng.normal() * (2 / max(fanIn, 1)).squareRoot()
        case .lecunUniform: let l = (3 / max(fanIn, 1)).squareRoot(); return rng.uniform(-l, l)
        case .lecunNormal: return rng.normal() * (1 / max(fanIn, 1)).squareRoot()
        case .identity, .orthogonal: return 0
        }
    }
}
