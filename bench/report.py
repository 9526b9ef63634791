#!/usr/bin/env python3
"""Combine the Graft and h5py results of the Keras reader benchmark into one table and one JSON.

    report.py GRAFT.json H5PY.json OUT.json

Prints Graft's and h5py's median/min/max read times, the time ratio Graft/h5py and each side's
peak RSS over the weights' bytes, with PASS/MISS against the targets of issue 3: Graft's median
time <= 1.5 x h5py's median, Graft's peak RSS <= 1.3 x the weights' bytes. Writes both inputs, the
ratios and the verdicts to OUT.json. Exits 0 either way (a benchmark, not a test).
"""

import json
import sys

TIME_TARGET = 1.5  # Graft median / h5py median
RSS_TARGET = 1.3   # Graft peak RSS / weights bytes


def verdict(value, target):
    return "PASS" if value <= target else "MISS"


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: report.py GRAFT.json H5PY.json OUT.json")
    with open(sys.argv[1]) as f:
        graft = json.load(f)
    with open(sys.argv[2]) as f:
        h5py = json.load(f)
    if graft["weights_bytes"] != h5py["weights_bytes"]:
        sys.exit(f"weights differ: Graft read {graft['weights_bytes']} bytes, h5py {h5py['weights_bytes']}")
    weights = graft["weights_bytes"]
    time_ratio = graft["median_s"] / h5py["median_s"]
    graft_rss = graft["peak_rss_bytes"] / weights
    h5py_rss = h5py["peak_rss_bytes"] / weights

    mb = 1e6
    print(f"Keras reader benchmark: {graft['file']} ({weights / mb:.1f} MB of weights in {h5py['datasets']} datasets,"
          f" {graft['runs']}/{h5py['runs']} timed runs after one warm-up)")
    print(f"{'':8} {'median s':>9} {'min s':>8} {'max s':>8} {'peak RSS MB':>12} {'RSS/weights':>12}")
    for name, r in (("Graft", graft), ("h5py", h5py)):
        print(f"{name:8} {r['median_s']:9.3f} {r['min_s']:8.3f} {r['max_s']:8.3f}"
              f" {r['peak_rss_bytes'] / mb:12.1f} {r['peak_rss_bytes'] / weights:12.3f}")
    print(f"time   Graft/h5py median      = {time_ratio:.3f}  (target <= {TIME_TARGET})  {verdict(time_ratio, TIME_TARGET)}")
    print(f"memory Graft peak RSS/weights = {graft_rss:.3f}  (target <= {RSS_TARGET})  {verdict(graft_rss, RSS_TARGET)}"
          f"   [h5py: {h5py_rss:.3f}]")

    with open(sys.argv[3], "w") as f:
        json.dump({
            "weights_bytes": weights,
            "time_ratio_graft_over_h5py": round(time_ratio, 4),
            "time_target": TIME_TARGET,
            "time_verdict": verdict(time_ratio, TIME_TARGET),
            "graft_peak_rss_over_weights": round(graft_rss, 4),
            "h5py_peak_rss_over_weights": round(h5py_rss, 4),
            "rss_target": RSS_TARGET,
            "rss_verdict": verdict(graft_rss, RSS_TARGET),
            "graft": graft,
            "h5py": h5py,
        }, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
