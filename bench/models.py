#!/usr/bin/env python3
"""Write the models `make bench` measures (bench/README.md), seeded, into one folder.

    models.py OUT_DIR [--skip-vgg16]

For each model NAME: `NAME.h5` written by tf-keras itself (`model.save(..., save_format="h5")`)
and `NAME.onnx`, the tf2onnx conversion of the same tf-keras model, checked here: onnxruntime's
output on a seeded batch must equal tf-keras' own (max abs error printed, at most 1e-4). Writes
`OUT_DIR/models.json`: per model its file names, parameter count, weight bytes and that error.
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


# name → (builder, scale of the random-normal weights: small enough that activations stay finite)
MODELS = {"vgg16": (vgg16, 0.01), "char_rnn": (char_rnn, 0.1), "mlp": (mlp, 0.05), "small_cnn": (small_cnn, 0.05)}


def build(name):
    builder, scale = MODELS[name]
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


def write_onnx(model, path):
    """tf2onnx's conversion of `model` (batch dimension left free); returns onnxruntime's max abs
    difference from tf-keras on a seeded batch of 2."""
    import onnxruntime
    import tf2onnx
    spec = (tf.TensorSpec((None,) + tuple(model.input_shape[1:]), tf.float32, name="input"),)
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=17)
    with open(path + ".partial", "wb") as f:
        f.write(proto.SerializeToString())
    os.replace(path + ".partial", path)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = sample_input(model, 2)
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    want = model(x, training=False).numpy()
    return float(np.abs(got - want).max())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--skip-vgg16", action="store_true", help="no VGG16 (BENCH_QUICK without the big model)")
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    summary = {}
    for name in MODELS:
        if name == "vgg16" and args.skip_vgg16:
            continue
        started = time.monotonic()
        model = build(name)
        h5 = os.path.join(args.out_dir, name + ".h5")
        model.save(h5 + ".partial", save_format="h5")
        os.replace(h5 + ".partial", h5)  # a killed run leaves no half-written file under the target name
        onnx_path = os.path.join(args.out_dir, name + ".onnx")
        error = write_onnx(model, onnx_path)
        params = model.count_params()
        print(f"{name}: {params} parameters, {h5} ({os.path.getsize(h5)} bytes), {onnx_path}: "
              f"onnxruntime vs tf-keras max abs error {error:.3g}  ({time.monotonic() - started:.1f} s)", flush=True)
        if not error <= ORT_TOLERANCE:
            raise SystemExit(f"{name}: onnxruntime's output differs from tf-keras' by {error} (> {ORT_TOLERANCE})")
        summary[name] = {"h5": name + ".h5", "onnx": name + ".onnx", "parameters": params,
                         "weights_bytes": params * 4, "onnx_max_abs_error": error}
    with open(os.path.join(args.out_dir, "models.json"), "w") as f:
        json.dump({"seed": SEED, "converter": "tf2onnx " + __import__("tf2onnx").__version__, "models": summary}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
