import GraftCore
import OrderedCollections

/// Which Keras generation a config is written for.
enum KerasDialect {
    /// tf.keras 2.x (`.h5`): `batch_input_shape`, `inbound_nodes` as nested lists.
    case tfKeras2
    /// Keras 3 (`.keras`): `module` / `registered_name`, `batch_shape`, `inbound_nodes` as args.
    case keras3
}

/// A reference to one output of one call of a Keras layer: `[layer, call, tensor]`.
struct KerasTensorReference: Equatable {
    var layer: String
    var call: Int
    var tensor: Int
}

/// One Keras layer as the writer emits it: its class and config, the tensors each call
/// consumes, and its weight arrays in Keras order.
struct KerasExportLayer {
    var name: String
    var className: String
    /// The layer's `config` object (including `name` and `trainable`).
    var config: OrderedDictionary<String, JSONValue>
    /// Keras 3 entry fields kept from a Keras 3 source (`module`, `registered_name`, `build_config`).
    var keras3Fields: OrderedDictionary<String, JSONValue> = [:]
    /// Per call: the tensors consumed, and the call's keyword arguments.
    var calls: [(inputs: [KerasTensorReference], kwargs: JSONValue)] = []
    /// Weight arrays in Keras order; `name` is the tf.keras name relative to the layer's
    /// group (`dense/kernel:0`).
    var weights: [(name: String, tensor: Tensor)] = []
    /// Where Keras 3 keeps the variables, relative to the layer's path, with how many each
    /// holds, in weight order (`[("vars", 2)]`, `[("cell/vars", 3)]`, bidirectional has two).
    var keras3VariableGroups: [(path: String, count: Int)] = []
}

/// Names and layouts shared by the writer's generators.
enum KerasWriterNames {
    /// `recurrentKernel` → `recurrent_kernel`, `movingMean` → `moving_mean`.
    static func snakeCase(parameter: String) -> String {
        var out = ""
        for ch in parameter {
            if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) }
        }
        return out
    }

    /// Keras 3's `naming.to_snake_case` of a class name: `SimpleRNN` → `simple_rnn`,
    /// `Conv2D` → `conv2d`, `GlobalAveragePooling2D` → `global_average_pooling2d`.
    static func snakeCase(className: String) -> String {
        let chars = Array(className.filter { $0.isLetter || $0.isNumber || $0 == "_" })
        // Pass 1: "(.)([A-Z][a-z]+)" → "\1_\2".
        var pass1: [Character] = []
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if i > 0, c.isUppercase, i + 1 < chars.count, chars[i + 1].isLowercase {
                pass1.append("_")
            }
            pass1.append(c)
            i += 1
        }
        // Pass 2: "([a-z])([A-Z])" → "\1_\2".
        var pass2: [Character] = []
        for (j, c) in pass1.enumerated() {
            if j > 0, c.isUppercase, pass1[j - 1].isLowercase { pass2.append("_") }
            pass2.append(c)
        }
        return String(pass2).lowercased()
    }
}
