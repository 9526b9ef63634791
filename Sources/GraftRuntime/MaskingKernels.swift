import GraftCore

/// Keras Masking: a step (all axes but the last) is masked when every feature equals
/// `maskValue`; the output is the input with masked steps zeroed, and the mask travels on.
enum MaskingKernels {
    static func masking<T: RuntimeScalar>(_ maskValue: Double, _ x: RuntimeValue, as type: T.Type) throws -> RuntimeValue {
        let t = x.tensor
        let f = t.shape.last ?? 1
        var values = t.scalars(as: T.self)
        let steps = f == 0 ? 0 : values.count / f
        let m = T(maskValue)
        var mask = [Bool](repeating: false, count: steps)
        for s in 0..<steps {
            var present = false
            for j in 0..<f where values[s * f + j] != m { present = true; break }
            mask[s] = present
            if !present { for j in 0..<f { values[s * f + j] = 0 } }
        }
        return RuntimeValue(try Tensor(shape: t.shape, scalars: values), mask: mask)
    }
}
