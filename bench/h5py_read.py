#!/usr/bin/env python3
"""Baseline for the Keras reader benchmark: time h5py reading every weight dataset of a Keras .h5.

    h5py_read.py FILE.h5 [--runs N]      prints one JSON object on stdout

One run opens the file, walks `model_weights` the way Keras does (`layer_names`, then each layer's
`weight_names`), reads every dataset completely into a NumPy array (`dataset[()]`) and keeps them
all until the run ends, then closes the file. One untimed warm-up run first, so every timed run
reads from the page cache (the Graft side must do the same). Reports the median, min and max wall
time of N runs (default 5), the number of datasets and their bytes, and this process' peak RSS
(getrusage ru_maxrss) next to its RSS before the first read (Python + NumPy + h5py).
"""

import argparse
import json
import resource
import statistics
import sys
import time

import h5py
import numpy as np


def as_str(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def read_all(path):
    """Read every weight dataset; returns (number of datasets, bytes read)."""
    arrays = []
    with h5py.File(path, "r") as f:
        root = f["model_weights"] if "model_weights" in f else f
        for layer_name in root.attrs["layer_names"]:
            group = root[as_str(layer_name)]
            for weight_name in group.attrs["weight_names"]:
                arrays.append(group[as_str(weight_name)][()])
    return len(arrays), sum(a.nbytes for a in arrays)


def rss_now_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    parser = argparse.ArgumentParser(description="h5py read baseline for a Keras .h5")
    parser.add_argument("path")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    baseline_rss = rss_now_bytes()
    datasets, weight_bytes = read_all(args.path)  # warm-up: page cache, h5py/HDF5 code paths
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        read_all(args.path)
        times.append(time.perf_counter() - started)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux

    json.dump({
        "reader": "h5py",
        "file": args.path,
        "datasets": datasets,
        "weights_bytes": weight_bytes,
        "runs": args.runs,
        "times_s": [round(t, 6) for t in times],
        "median_s": round(statistics.median(times), 6),
        "min_s": round(min(times), 6),
        "max_s": round(max(times), 6),
        "baseline_rss_bytes": baseline_rss,
        "peak_rss_bytes": peak_rss,
        "peak_rss_over_weights": round(peak_rss / weight_bytes, 3),
        "peak_rss_minus_baseline_over_weights": round((peak_rss - baseline_rss) / weight_bytes, 3),
        "versions": {"h5py": h5py.__version__, "hdf5": h5py.version.hdf5_version,
                     "numpy": np.__version__, "python": sys.version.split()[0]},
    }, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
