#!/usr/bin/env python3
"""Write the models `make bench` measures (bench/README.md), seeded, into one folder.

    models.py OUT_DIR

For each model NAME: `NAME.h5` written by tf-keras itself (`model.save(..., save_format="h5")`)
and `NAME.onnx`, the same tf-keras model in ONNX (tf2onnx's conversion; for VGG16, on which
tf2onnx runs out of memory, built node by node from the weights), checked here: onnxruntime's
output on a seeded batch must equal tf-keras' own: the largest absolute difference, over the largest
absolute output, at most 1e-4 (printed with the absolute difference). Writes `OUT_DIR/models.json`:
per model its file names, ONNX converter, parameter count, weight bytes and those errors.
Every weight is a seeded random normal (scaled per model, biases included, so nothing is zero).

  vgg16      tf_keras.applications.VGG16(weights=None): 138,357,544 parameters, 224×224×3 input
  char_rnn   DL4J's character-model example: LSTM 200 → LSTM 200 → time-distributed softmax
             over 77 classes, sequences of 50 one-hot-sized inputs (77 features)
  mlp        784 → Dense 1000 relu → Dense 1000 relu → Dense 10 softmax
  small_cnn  28×28×1 → Conv 32 3×3 relu → max pool 2 → Conv 64 3×3 relu → max pool 2 → flatten
             → Dense 128 relu → Dense 10 softmax
"""

import argparse
import json
import os
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

warnings.filterwarnings("ignore", message=".*HDF5 file via `model.save\\(\\)`")  # the legacy format is the point

SEED = 16
ORT_TOLERANCE = 1e-4


def vgg16():
    return keras.applications.VGG16(weights=None)


def char_rnn():
    return keras.Sequential([
        keras.layers.Input((50, 77)),
        keras.layers.LSTM(200, return_sequences=True),
        keras.layers.LSTM(200, return_sequences=True),
        keras.layers.TimeDistributed(keras.layers.Dense(77, activation="softmax")),
    ], name="char_rnn")


def mlp():
    return keras.Sequential([
        keras.layers.Input((784,)),
        keras.layers.Dense(1000, activation="relu"),
        keras.layers.Dense(1000, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ], name="mlp")


def small_cnn():
    return keras.Sequential([
        keras.layers.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ], name="small_cnn")


# name → (builder, scale of the random-normal weights: small enough that activations stay finite,
# ONNX converter: tf2onnx, or the direct build for VGG16)
MODELS = {"vgg16": (vgg16, 0.01, "direct"), "char_rnn": (char_rnn, 0.1, "tf2onnx"),
          "mlp": (mlp, 0.05, "tf2onnx"), "small_cnn": (small_cnn, 0.05, "tf2onnx")}


def build(name):
    builder, scale, _ = MODELS[name]
    keras.utils.set_random_seed(SEED)
    model = builder()
    rng = np.random.default_rng(SEED)
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([rng.standard_normal(w.shape, dtype=np.float32) * scale for w in weights])
    return model


def sample_input(model, batch, seed=SEED):
    shape = (batch,) + tuple(model.input_shape[1:])
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def tf2onnx_model(model):
    """tf2onnx's conversion of `model`, batch dimension left free."""
    import tf2onnx
    spec = (tf.TensorSpec((None,) + tuple(model.input_shape[1:]), tf.float32, name="input"),)
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=17)
    return proto


def direct_onnx_model(model):
    """The ONNX graph of a chain of Conv2D (channels-last, stride 1) / MaxPooling2D / Flatten /
    Dense layers built node by node from the Keras weights (for VGG16: tf2onnx's conversion grew
    past 7.7 GB of RSS for its 553 MB of constants and was killed). ONNX convolutions are channels-first: the input
    is transposed NHWC → NCHW once, kernels [kh, kw, in, out] → [out, in, kh, kw], and the
    feature map back to NHWC before Flatten, so the flattened order is Keras'."""
    from onnx import TensorProto, helper, numpy_helper
    nodes, weights = [], []
    current, channels_first = "input", False

    def emit(op, inputs, **attributes):
        nonlocal current
        out = f"t{len(nodes)}"
        nodes.append(helper.make_node(op, [current] + inputs, [out], **attributes))
        current = out

    def constant(name, array):
        weights.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def activation(layer):
        name = layer.get_config().get("activation", "linear")
        if name == "relu":
            emit("Relu", [])
        elif name == "softmax":
            emit("Softmax", [], axis=-1)
        elif name != "linear":
            raise SystemExit(f"direct ONNX build: activation {name} not handled")

    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        if kind == "Conv2D":
            if not channels_first:
                emit("Transpose", [], perm=[0, 3, 1, 2])
                channels_first = True
            kernel, bias = layer.get_weights()
            pad = kernel.shape[0] // 2 if layer.padding == "same" else 0
            emit("Conv", [constant(layer.name + "_W", kernel.transpose(3, 2, 0, 1)), constant(layer.name + "_B", bias)],
                 kernel_shape=list(kernel.shape[:2]), pads=[pad] * 4, strides=list(layer.strides))
            activation(layer)
        elif kind == "MaxPooling2D":
            emit("MaxPool", [], kernel_shape=list(layer.pool_size), strides=list(layer.strides))
        elif kind == "Flatten":
            if channels_first:
                emit("Transpose", [], perm=[0, 2, 3, 1])
                channels_first = False
            emit("Flatten", [], axis=1)
        elif kind == "Dense":
            kernel, bias = layer.get_weights()
            emit("Gemm", [constant(layer.name + "_W", kernel), constant(layer.name + "_B", bias)])
            activation(layer)
        else:
            raise SystemExit(f"direct ONNX build: layer {kind} not handled")
    graph = helper.make_graph(
        nodes, model.name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None] + list(model.input_shape[1:]))],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, [None] + list(model.output_shape[1:]))],
        initializer=weights)
    # IR version 8 (the one of opset 17): onnx 1.23's default is newer than onnxruntime 1.31 reads
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def write_onnx(model, path, converter):
    """Writes `model` as ONNX at `path`; returns onnxruntime's largest absolute difference from
    tf-keras on a seeded batch of 2, and that difference over the largest absolute output."""
    import onnxruntime
    proto = tf2onnx_model(model) if converter == "tf2onnx" else direct_onnx_model(model)
    with open(path + ".partial", "wb") as f:
        f.write(proto.SerializeToString())
    del proto
    os.replace(path + ".partial", path)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = sample_input(model, 2)
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    want = model(x, training=False).numpy()
    error = float(np.abs(got - want).max())
    return error, error / float(np.abs(want).max())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    summary = {}
    for name in MODELS:
        started = time.monotonic()
        model = build(name)
        h5 = os.path.join(args.out_dir, name + ".h5")
        model.save(h5 + ".partial", save_format="h5")
        os.replace(h5 + ".partial", h5)  # a killed run leaves no half-written file under the target name
        onnx_path = os.path.join(args.out_dir, name + ".onnx")
        converter = MODELS[name][2]
        error, relative = write_onnx(model, onnx_path, converter)
        params = model.count_params()
        del model
        keras.backend.clear_session()
        print(f"{name}: {params} parameters, {h5} ({os.path.getsize(h5)} bytes), {onnx_path} ({converter}): "
              f"onnxruntime vs tf-keras max abs error {error:.3g}, "
              f"relative to the largest output {relative:.3g}  ({time.monotonic() - started:.1f} s)", flush=True)
        if not relative <= ORT_TOLERANCE:
            raise SystemExit(f"{name}: onnxruntime's output differs from tf-keras' by {relative} of the largest output (> {ORT_TOLERANCE})")
        summary[name] = {"h5": name + ".h5", "onnx": name + ".onnx", "onnx_converter": converter, "parameters": params,
                         "weights_bytes": params * 4, "onnx_max_abs_error": error,
                         "onnx_max_relative_error": relative}
    with open(os.path.join(args.out_dir, "models.json"), "w") as f:
        json.dump({"seed": SEED, "tf2onnx": __import__("tf2onnx").__version__, "models": summary}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
