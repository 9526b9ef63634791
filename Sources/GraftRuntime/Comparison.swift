import GraftCore

/// Compares a computed tensor with an expected one, element by element, in float64. An
/// element passes when |a − e| ≤ atol + rtol·|e|; NaN passes only against NaN. Returns the
/// largest absolute difference, the largest relative difference (|a − e| / |e|, over
/// elements with e ≠ 0), and whether every element passed. Shapes must match exactly.
public func compare(actual: Tensor, expected: Tensor, atol: Double, rtol: Double) throws -> (maxAbs: Double, maxRel: Double, pass: Bool) {
    guard actual.shape == expected.shape else {
        throw GraftError(.shapeMismatch, "compared tensors differ in shape", expected: "\(expected.shape)", found: "\(actual.shape)")
    }
    let a = actual.doubles(), e = expected.doubles()
    var maxAbs = 0.0, maxRel = 0.0, pass = true
    for i in a.indices {
        let x = a[i], y = e[i]
        if x.isNaN || y.isNaN {
            if !(x.isNaN && y.isNaN) { pass = false; maxAbs = .nan }
            continue
        }
        if x == y { continue }   // equal infinities included
        let diff = abs(x - y)
        if diff.isNaN || diff.isInfinite { pass = false; maxAbs = .infinity; continue }
        if !maxAbs.isNaN { maxAbs = max(maxAbs, diff) }
        if y != 0 { maxRel = max(maxRel, diff / abs(y)) }
        if diff > atol + rtol * abs(y) { pass = false }
    }
    return (maxAbs, maxRel, pass)
}
