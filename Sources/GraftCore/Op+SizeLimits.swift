/// Size limits that keep shape arithmetic from overflowing, whatever a file states.
///
/// Shape inference and parameter-shape checks add and multiply sizes taken from files
/// (kernel sizes, strides, units, dimensions). Every integer in an op's attributes and every
/// known input dimension must lie within ±`maxSize` (2^30), checked up front, so a sum or a
/// product of two such numbers cannot overflow; products of more sizes use `checkedProduct`.
extension Op {
    /// The largest magnitude any integer attribute or dimension may have: 2^30.
    public static let maxSize = 1 << 30

    /// Throws `.shapeMismatch` naming the first integer attribute or input dimension whose
    /// magnitude exceeds `maxSize`.
    public func checkSizeLimits(_ inputShapes: [[Int?]]) throws {
        for (i, shape) in inputShapes.enumerated() {
            for d in shape {
                guard let d else { continue }
                guard d >= -Op.maxSize, d <= Op.maxSize else {
                    throw GraftError(.shapeMismatch, "input \(i) has a dimension too large to compute with",
                                     field: "inputs", expected: "sizes up to \(Op.maxSize)", found: ShapeText.of(shape))
                }
            }
        }
        if let (path, value) = Op.firstOutOfRange(Mirror(reflecting: self), path: kindName, depth: 0) {
            throw GraftError(.shapeMismatch, "attribute too large to compute with", field: path,
                             expected: "a magnitude up to \(Op.maxSize)", found: "\(value)")
        }
    }

    /// The first integer (depth-first, through structs, enums, arrays, optionals and tuples)
    /// outside ±maxSize, with a dotted path to it.
    private static func firstOutOfRange(_ mirror: Mirror, path: String, depth: Int) -> (String, Int)? {
        guard depth < 16 else { return nil }
        for (index, child) in mirror.children.enumerated() {
            let childPath = path + "." + (child.label ?? "\(index)")
            if let i = child.value as? Int {
                if i < -maxSize || i > maxSize { return (childPath, i) }
                continue
            }
            // Strings, doubles and JSON text carry no sizes shape inference uses.
            if child.value is String || child.value is Double || child.value is JSONValue { continue }
            if let found = firstOutOfRange(Mirror(reflecting: child.value), path: childPath, depth: depth + 1) {
                return found
            }
        }
        return nil
    }

    /// The product of the sizes: nil when any is unknown; throws `.shapeMismatch` on overflow.
    public static func checkedProduct(_ shape: [Int?]) throws -> Int? {
        var total = 1
        for d in shape {
            guard let d else { return nil }
            let (product, overflow) = total.multipliedReportingOverflow(by: d)
            guard !overflow else {
                throw GraftError(.shapeMismatch, "element count overflows", expected: "a product that fits in 64 bits",
                                 found: ShapeText.of(shape))
            }
            total = product
        }
        return total
    }
}
