#!/usr/bin/env python3
"""Interop check: does real Keras load a model file and reproduce the expected outputs?

    check_keras_load.py MODEL INPUT.npz [--atol A] [--rtol R] [--loader ...] [--frozen LAYER ...]
    check_keras_load.py CONFIG.json INPUT.npz --weights WEIGHTS.h5 [...]
    check_keras_load.py --all DIR        (every fixture in DIR/manifest.json, every file of it)

MODEL is a Keras HDF5 file (`.h5`/`.hdf5`) or a Keras 3 archive (`.keras`). INPUT.npz holds
`input_0`, `input_1`, ... in the model's input order and `output_0`, ... in its output order
(the `_io.npz` convention of fixtures/ and of the corpus). An element passes when
`abs(pred - expected) <= atol + rtol * abs(expected)`; shapes must match exactly.

Loaders (`--loader`): `tf-keras` (tf.keras 2.x `load_model`), `keras3` (Keras 3 `load_model`,
which for `.h5` is its legacy-HDF5 loader), `auto` (default: both for `.h5`, Keras 3 for `.keras`,
tf-keras for config JSON + weights).
`--frozen LAYER` (repeatable) also requires that layer to come back with `trainable == False`;
`--frozen-exact` requires that no other layer is frozen.

Prints one line per loader and output, and exits 0 when everything passed, 1 on a mismatch or a
load failure, 2 on bad arguments.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.pop("TF_USE_LEGACY_KERAS", None)

import numpy as np  # noqa: E402

DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-4


class CheckFailed(Exception):
    pass


def load_model(loader, model_path, weights_path):
    """Load with the named Keras generation, without compiling (no optimizer/loss needed)."""
    if loader == "tf-keras":
        import tf_keras as K
    else:
        import keras as K
    if weights_path is not None:
        with open(model_path) as f:
            model = K.models.model_from_json(f.read())
        model.load_weights(weights_path)
        return model
    return K.models.load_model(model_path, compile=False)


def read_npz(path):
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    inputs = [arrays[f"input_{i}"] for i in range(count_keys(arrays, "input_"))]
    outputs = [arrays[f"output_{i}"] for i in range(count_keys(arrays, "output_"))]
    if not inputs or not outputs:
        raise CheckFailed(f"{path}: needs input_0.. and output_0.. arrays, has {sorted(arrays)}")
    return inputs, outputs


def count_keys(arrays, prefix):
    n = 0
    while f"{prefix}{n}" in arrays:
        n += 1
    return n


def last_line(error):
    """TensorFlow wraps errors in pages of traceback; the last non-empty line says what failed."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else repr(error)


def compare(label, predicted, expected, atol, rtol):
    """One line per output; returns True when it is within tolerance."""
    predicted = np.asarray(predicted)
    if predicted.shape != expected.shape:
        print(f"  FAIL {label}: shape {list(predicted.shape)}, expected {list(expected.shape)}")
        return False
    diff = np.abs(predicted.astype(np.float64) - expected.astype(np.float64))
    allowed = atol + rtol * np.abs(expected.astype(np.float64))
    bad = int(np.count_nonzero(~(diff <= allowed)))
    max_abs = float(diff.max()) if diff.size else 0.0
    max_rel = float((diff / np.maximum(np.abs(expected), 1e-30)).max()) if diff.size else 0.0
    status = "ok  " if bad == 0 else "FAIL"
    print(f"  {status} {label}: shape {list(expected.shape)}, max abs err {max_abs:.3g}, "
          f"max rel err {max_rel:.3g}, {bad} of {diff.size} elements over tolerance")
    return bad == 0


def check_one(model_path, npz_path, loader, weights_path, atol, rtol, frozen, frozen_exact):
    """Load, predict, compare, check freeze flags. Returns True when everything passed."""
    what = model_path if weights_path is None else f"{model_path} + {weights_path}"
    print(f"{what} [{loader}]")
    try:
        model = load_model(loader, model_path, weights_path)
    except Exception as error:  # any load failure is a failed check, reported with its reason
        print(f"  FAIL load: {type(error).__name__}: {error}")
        return False
    inputs, expected = read_npz(npz_path)
    if len(inputs) != len(model.inputs):
        print(f"  FAIL inputs: model takes {len(model.inputs)}, npz has {len(inputs)}")
        return False
    feed = inputs if len(inputs) > 1 else inputs[0]
    try:
        predicted = model.predict(feed, verbose=0)
    except Exception as error:  # e.g. an input shape the model does not take
        print(f"  FAIL predict: {type(error).__name__}: {last_line(error)}")
        return False
    predicted = list(predicted) if isinstance(predicted, (list, tuple)) else [predicted]
    if len(predicted) != len(expected):
        print(f"  FAIL outputs: model gives {len(predicted)}, npz has {len(expected)}")
        return False
    passed = all([compare(f"output_{i}", p, e, atol, rtol)
                  for i, (p, e) in enumerate(zip(predicted, expected))])
    layers = {layer.name: layer for layer in model.layers}
    for name in frozen:
        if name not in layers:
            print(f"  FAIL frozen: no layer named {name!r}")
            passed = False
        elif layers[name].trainable:
            print(f"  FAIL frozen: layer {name!r} came back with trainable == True")
            passed = False
        else:
            print(f"  ok   frozen: {name} has trainable == False")
    if frozen_exact:
        others = [n for n, layer in layers.items()
                  if not layer.trainable and n not in frozen
                  and type(layer).__name__ != "InputLayer"]
        if others:
            print(f"  FAIL frozen: unexpected frozen layers {others}")
            passed = False
    return passed


def loaders_for(model_path, weights_path, choice):
    if choice != "auto":
        return [choice]
    if weights_path is not None:
        return ["tf-keras"]
    if model_path.endswith(".keras"):
        return ["keras3"]
    return ["tf-keras", "keras3"]


def check_manifest(folder, atol, rtol, loader_choice):
    """Every file of every fixture in folder/manifest.json, with its own tolerance and frozen set.

    Each file must load and reproduce its outputs with the Keras generation that wrote it
    (`generation` in the manifest). With `--loader auto` the other generation is tried too, as
    information only: Keras 3 cannot load tf.keras 2.x RNN configs (they carry `time_major`) and
    tf.keras 2.x cannot load Keras 3 configs (`batch_shape`).
    """
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)
    results, cross = [], []
    for fixture in manifest["fixtures"]:
        files = fixture["files"]
        npz = os.path.join(folder, fixture["io"])
        tol = fixture.get("tolerance", {})
        a = atol if atol is not None else tol.get("atol", DEFAULT_ATOL)
        r = rtol if rtol is not None else tol.get("rtol", DEFAULT_RTOL)
        frozen = fixture.get("frozen_layers", [])
        own = fixture.get("generation", "tf-keras")
        runs = []
        for key in ("h5", "keras"):
            if key in files:
                runs.append((os.path.join(folder, files[key]), None))
        if "config_json" in files and "weights_h5" in files:
            runs.append((os.path.join(folder, files["config_json"]),
                         os.path.join(folder, files["weights_h5"])))
        for model_path, weights_path in runs:
            for loader in loaders_for(model_path, weights_path, loader_choice):
                ok = check_one(model_path, npz, loader, weights_path, a, r, frozen, True)
                if loader == own or loader_choice != "auto":
                    results.append(ok)
                else:
                    cross.append((model_path, loader, ok))
                    print("  (cross-generation load: information only)")
    if cross:
        loaded = [f"{os.path.basename(p)} [{l}]" for p, l, ok in cross if ok]
        refused = [f"{os.path.basename(p)} [{l}]" for p, l, ok in cross if not ok]
        print(f"cross-generation: {len(loaded)} loaded, {len(refused)} did not"
              + (f": {', '.join(refused)}" if refused else ""))
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return passed == len(results)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", help=".h5, .keras, or config .json (with --weights)")
    parser.add_argument("npz", nargs="?", help="npz with input_<i> and output_<i>")
    parser.add_argument("--weights", help="weights-only .h5 for a config JSON model")
    parser.add_argument("--atol", type=float, default=None, help=f"default {DEFAULT_ATOL}")
    parser.add_argument("--rtol", type=float, default=None, help=f"default {DEFAULT_RTOL}")
    parser.add_argument("--loader", choices=["auto", "tf-keras", "keras3"], default="auto")
    parser.add_argument("--frozen", action="append", default=[], metavar="LAYER",
                        help="layer that must load with trainable == False (repeatable)")
    parser.add_argument("--frozen-exact", action="store_true",
                        help="no layer other than the --frozen ones may be frozen")
    parser.add_argument("--all", metavar="DIR", help="check every fixture in DIR/manifest.json")
    args = parser.parse_args()

    try:
        if args.all:
            if args.model or args.npz:
                parser.error("--all takes no MODEL/INPUT arguments")
            return 0 if check_manifest(args.all, args.atol, args.rtol, args.loader) else 1
        if not args.model or not args.npz:
            parser.error("MODEL and INPUT.npz are required")
        if args.model.endswith(".json") and not args.weights:
            parser.error("a config JSON model needs --weights WEIGHTS.h5")
        for path in [args.model, args.npz] + ([args.weights] if args.weights else []):
            if not os.path.isfile(path):
                parser.error(f"no such file: {path}")
        atol = DEFAULT_ATOL if args.atol is None else args.atol
        rtol = DEFAULT_RTOL if args.rtol is None else args.rtol
        results = [check_one(args.model, args.npz, loader, args.weights, atol, rtol,
                             args.frozen, args.frozen_exact)
                   for loader in loaders_for(args.model, args.weights, args.loader)]
    except CheckFailed as error:
        print(f"FAIL: {error}")
        return 1
    print("PASS" if all(results) else "FAIL")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
