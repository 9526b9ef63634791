/// The `--strict` check: every floating-point parameter is finite. A NaN or infinity in a
/// trained model's weights is valid in every format but makes every output it reaches NaN;
/// strict loading refuses it, naming the layer, the parameter and the first bad element.
extension Graph {
    public func checkFiniteParameters() throws {
        for node in nodes {
            for (name, tensor) in node.parameters where tensor.dtype.isFloatingPoint {
                let values = tensor.doubles()
                guard let first = values.firstIndex(where: { !$0.isFinite }) else { continue }
                let bad = values.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
                throw GraftError(.malformed, "parameter has non-finite values (refused by --strict)",
                                 file: source.path, location: "layer '\(node.name)'", field: name,
                                 expected: "finite values",
                                 found: "\(values[first]) at element \(first) (\(bad) non-finite of \(values.count))")
            }
        }
    }
}
