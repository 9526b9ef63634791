import CGEMM

/// Element-wise exp, sigmoid and tanh over float32 buffers without a libm call per element,
/// written as straight-line arithmetic that the compiler vectorises. exp: range reduction
/// x = n·ln2 + r (|r| ≤ ln2/2, n by the round-to-nearest magic constant 1.5·2²³, ln2 split in
/// two parts) and a degree-6 polynomial for e^r (the Cephes expf coefficients, relative
/// error ≈ 1e-7), 2ⁿ built in the exponent bits. tanh: the odd polynomial of Cephes tanhf for
/// |x| < 0.625, else 1 − 2/(e^{2|x|} + 1) with the sign restored. Results agree with libm to
/// a few float32 ulps. The buffer versions run CGEMM's AVX-512/AVX2 loops when the CPU has
/// them: the same operations lane by lane, so the same bits (`VectorMathTests`).
enum VectorMath {
    @inline(__always) static func exp(_ value: Float) -> Float {
        // Beyond these bounds e^x is 0 or +inf in float32 (kept finite here: ±88.7).
        let x = min(max(value, -87.33654), 88.72283)
        let magic: Float = 12582912  // 1.5·2²³: adding it rounds to an integer in the low bits
        let shifted = x * 1.44269504088896341 + magic
        let n = shifted - magic
        var r = x - n * 0.693359375
        r = r + n * 2.12194440e-4
        let z = r * r
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let e = p * z + r + 1
        // 2ⁿ: n + 127 in the exponent field; n sits in the low mantissa bits of `shifted`.
        // n ranges over −126…128; 2¹²⁸ is split as 2¹²⁷·2 to stay representable.
        let bits = shifted.bitPattern &- magic.bitPattern
        let half = Int32(bitPattern: bits) >> 1
        let rest = Int32(bitPattern: bits) &- half
        let a = Float(bitPattern: UInt32(bitPattern: (half &+ 127) << 23))
        let b = Float(bitPattern: UInt32(bitPattern: (rest &+ 127) << 23))
        return e * a * b
    }

    @inline(__always) static func sigmoid(_ x: Float) -> Float {
        1 / (1 + exp(-x))
    }

    @inline(__always) static func tanh(_ x: Float) -> Float {
        let a = abs(x)
        let z = x * x
        var p: Float = -5.70498872745e-3
        p = p * z + 2.06390887954e-2
        p = p * z - 5.37397155531e-2
        p = p * z + 1.33314422036e-1
        p = p * z - 3.33332819422e-1
        let small = p * z * x + x
        let large = 1 - 2 / (exp(2 * a) + 1)
        let signed = x < 0 ? -large : large
        return a < 0.625 ? small : signed
    }

    static func exp(_ x: UnsafeMutableBufferPointer<Float>) {
        guard let p = x.baseAddress else { return }
        if graft_vexp(p, x.count) != 0 { return }
        for i in 0..<x.count { p[i] = exp(p[i]) }
    }

    static func sigmoid(_ x: UnsafeMutableBufferPointer<Float>) {
        guard let p = x.baseAddress else { return }
        if graft_vsigmoid(p, x.count) != 0 { return }
        for i in 0..<x.count { p[i] = sigmoid(p[i]) }
    }

    static func tanh(_ x: UnsafeMutableBufferPointer<Float>) {
        guard let p = x.baseAddress else { return }
        if graft_vtanh(p, x.count) != 0 { return }
        for i in 0..<x.count { p[i] = tanh(p[i]) }
    }

    /// The scalar loops alone (the reference the vector loops must match bit for bit).
    static func scalarLoop(_ f: (Float) -> Float, _ x: UnsafeMutableBufferPointer<Float>) {
        guard let p = x.baseAddress else { return }
        for i in 0..<x.count { p[i] = f(p[i]) }
    }
}
