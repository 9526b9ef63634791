import GraftCore

/// DL4J output and loss layers at inference: the loss is not computed, only the layer's
/// output. OutputLayer / CenterLossOutputLayer: dense + activation on [batch, features];
/// RnnOutputLayer: the same dense on every step of [batch, time, features]; loss layers:
/// the activation alone. Softmax runs over the feature axis: the last axis, or the channel
/// axis (1, NCHW) for CnnLossLayer.
enum OutputKernels {
    static func output<T: RuntimeScalar>(_ node: Node, _ a: OutputAttributes, _ x: RuntimeValue,
                                          context: RuntimeContext = RuntimeContext(), as type: T.Type) throws -> RuntimeValue {
        var t = x.tensor
        switch a.kind {
        case .dense, .rnn, .centerLoss:
            let units = a.units ?? node.parameters["kernel"]?.shape.last ?? 0
            t = try DenseKernels.project(node, t, units: units, useBias: a.useBias, context: context, as: T.self)
            try ActivationKernels.applyInPlace(a.activation, &t, featureAxis: t.rank - 1, as: T.self)
        case .loss, .rnnLoss:
            try ActivationKernels.applyInPlace(a.activation, &t, featureAxis: t.rank - 1, as: T.self)
        case .cnnLoss:
            try ActivationKernels.applyInPlace(a.activation, &t, featureAxis: t.rank >= 3 ? 1 : t.rank - 1, as: T.self)
        }
        return RuntimeValue(t, mask: x.mask)
    }
}
