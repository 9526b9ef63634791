#!/usr/bin/env python3
"""The reference side of `make bench` (bench/README.md): times one operation of a reference tool
in this process and prints one JSON object, as graft-bench does for Graft's side.

    reference.py h5py-read FILE.h5          every weight dataset read with h5py (walked as Keras does)
    reference.py tfkeras-load FILE.h5       tf_keras.models.load_model(compile=False)
    reference.py tfkeras-save FILE.h5 OUT   FILE loaded once; model.save(OUT, save_format="h5")
    reference.py keras3-load FILE.h5        Keras 3 keras.saving.load_model(compile=False)
    reference.py tf-forward FILE.h5 --batches 1,32 --threads T
                                            model(x, training=False) under tf.function
    reference.py ort-forward FILE.onnx --batches 1,32 --threads T
                                            onnxruntime InferenceSession.run, intra-op threads T

Common: --runs N (default 5 timed runs after an untimed warm-up). Forward passes: each timed run
makes enough calls to last --min-time seconds (default 0.5; fixed from warm-up calls) and reports
the mean time of one call, one result per batch size. Every result has median_s/min_s/max_s/
times_s, and this process' RSS before the operation and its peak (getrusage ru_maxrss).
Run one operation per process, so peaks don't mix.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
warnings.filterwarnings("ignore", message=".*HDF5 file via `model.save\\(\\)`")

import numpy as np  # noqa: E402


def rss_now_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def timed(runs, body, min_time=None, set_up=lambda: None):
    """One untimed warm-up call, then `runs` timed runs: one call each, or (with min_time) the
    call count that warm-up calls show lasts at least min_time seconds, reported per call.
    `set_up` runs untimed before each run (e.g. removing the previous run's output)."""
    set_up()
    body()
    calls = 1
    if min_time is not None:
        calls, started = 0, time.perf_counter()
        while True:
            body()
            calls += 1
            if time.perf_counter() - started >= min_time:
                break
    times = []
    for _ in range(runs):
        set_up()
        started = time.perf_counter()
        for _ in range(calls):
            body()
        times.append((time.perf_counter() - started) / calls)
    return {"runs": runs, "calls_per_run": calls, "median_s": statistics.median(times),
            "min_s": min(times), "max_s": max(times), "times_s": times}


def as_str(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def h5py_read(args):
    import h5py

    def read_all():
        arrays = []
        with h5py.File(args.file, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            for layer_name in root.attrs["layer_names"]:
                group = root[as_str(layer_name)]
                for weight_name in group.attrs["weight_names"]:
                    arrays.append(group[as_str(weight_name)][()])
        return arrays

    result = timed(args.runs, read_all)
    arrays = read_all()
    result.update(weights_bytes=sum(a.nbytes for a in arrays), tensors=len(arrays),
                  versions={"h5py": h5py.__version__, "hdf5": h5py.version.hdf5_version})
    return result


def configure_tf_threads(threads):
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    return tf


def tfkeras_load(args):
    import tf_keras
    result = timed(args.runs, lambda: tf_keras.models.load_model(args.file, compile=False))
    result["versions"] = {"tf_keras": tf_keras.__version__}
    return result


def tfkeras_save(args):
    import tf_keras
    model = tf_keras.models.load_model(args.file, compile=False)

    def remove_output():
        if os.path.exists(args.out):
            os.remove(args.out)

    result = timed(args.runs, lambda: model.save(args.out, save_format="h5"), set_up=remove_output)
    result.update(output_bytes=os.path.getsize(args.out), versions={"tf_keras": tf_keras.__version__})
    os.remove(args.out)
    return result


def keras3_load(args):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    result = timed(args.runs, lambda: keras.saving.load_model(args.file, compile=False))
    result["versions"] = {"keras": keras.__version__}
    return result


def forward_input(shape, batch):
    return np.random.default_rng(8).uniform(-1, 1, (batch,) + tuple(shape)).astype(np.float32)


def tf_forward(args):
    tf = configure_tf_threads(args.threads)
    import tf_keras
    model = tf_keras.models.load_model(args.file, compile=False)
    call = tf.function(lambda x: model(x, training=False))
    results = []
    for batch in args.batches:
        x = tf.constant(forward_input(model.input_shape[1:], batch))
        result = timed(args.runs, lambda: call(x).numpy(), min_time=args.min_time)
        result.update(batch=batch, threads=args.threads)
        results.append(result)
    return {"per_batch": results, "versions": {"tensorflow": tf.__version__}}


def ort_forward(args):
    import onnxruntime
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    session = onnxruntime.InferenceSession(args.file, options, providers=["CPUExecutionProvider"])
    feed = session.get_inputs()[0]
    results = []
    for batch in args.batches:
        x = forward_input(feed.shape[1:], batch)
        result = timed(args.runs, lambda: session.run(None, {feed.name: x}), min_time=args.min_time)
        result.update(batch=batch, threads=args.threads)
        results.append(result)
    return {"per_batch": results, "versions": {"onnxruntime": onnxruntime.__version__}}


OPERATIONS = {"h5py-read": h5py_read, "tfkeras-load": tfkeras_load, "tfkeras-save": tfkeras_save,
              "keras3-load": keras3_load, "tf-forward": tf_forward, "ort-forward": ort_forward}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("operation", choices=sorted(OPERATIONS))
    parser.add_argument("file")
    parser.add_argument("out", nargs="?")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batches", type=lambda s: [int(b) for b in s.split(",")], default=[1])
    parser.add_argument("--min-time", type=float, default=0.5)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.operation == "tfkeras-save" and not args.out:
        parser.error("tfkeras-save needs OUT")
    baseline = rss_now_bytes()
    result = OPERATIONS[args.operation](args)
    json.dump({"benchmark": args.operation, "file": args.file, **result, "baseline_rss_bytes": baseline,
               "peak_rss_bytes": peak_rss_bytes(), "python": sys.version.split()[0]}, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
