import GraftCore

/// Dispatch from an op to the kernel family that computes it.
enum Kernels {
    static func evaluate(_ node: Node, _ inputs: [RuntimeValue], computeType: DType) throws -> [RuntimeValue] {
        throw GraftError(.unsupported, "no kernel for op \(node.op.kindName)", location: node.name)
    }
}

/// Converts caller tensors into the runtime's internal layout and compute type.
enum InputKernel {
    static func prepare(_ tensor: Tensor, attributes: InputAttributes, node: String, computeType: DType) throws -> RuntimeValue {
        RuntimeValue(tensor.converted(to: computeType))
    }
}

/// Converts internal tensors back to the layout the caller expects.
enum OutputLayout {
    static func toCaller(_ tensor: Tensor, graph: Graph, node: String) throws -> Tensor { tensor }
}
