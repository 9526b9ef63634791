import Foundation

/// SplitMix64: a small seeded random generator, so weight initialisers, random inputs and
/// mutation tests are reproducible run to run.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in 0..<bound (0 when bound is 0).
    public mutating func next(_ bound: UInt64) -> UInt64 { bound == 0 ? 0 : next() % bound }
    /// Uniform integer in 0..<n.
    public mutating func index(_ n: Int) -> Int { Int(next(UInt64(max(n, 1)))) }
    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }
    public mutating func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * nextUnit() }
    /// Standard normal by Box-Muller.
    public mutating func normal() -> Double {
        let u1 = max(nextUnit(), 1e-300), u2 = nextUnit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
