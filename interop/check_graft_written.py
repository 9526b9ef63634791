"""Runs check_keras_load.check_one on every model Graft wrote into a folder (issue 5 interop).

    check_graft_written.py DIR

DIR/interop.tsv lists one written model a line: file, io npz, atol, rtol, source model ("-" if none), frozen layer names...
(written by the Swift tests when GRAFT_INTEROP_DIR is set; see `make interop-keras`). Every
`.h5` must load and reproduce its outputs with tf-keras 2.x and with Keras 3; every `.keras`
with Keras 3; listed frozen layers must come back with trainable == False. Prints a line per
check and totals per loader; exit 1 when anything failed.
"""
import contextlib
import io as textio
import os
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_keras_load as ckl  # noqa: E402


def model_config_text(path):
    """The model config JSON text of a written .h5 or .keras, for classifying failures."""
    try:
        if path.endswith(".keras"):
            return zipfile.ZipFile(path).read("config.json").decode("utf8")
        import h5py
        with h5py.File(path, "r") as f:
            value = f.attrs["model_config"]
            return value if isinstance(value, str) else value.decode("utf8")
    except Exception:  # classification only
        return ""


def environment_failure(path, log):
    """TensorFlow's CPU kernels cannot run channels-first convolutions or pooling: a model
    whose config says channels_first fails to predict on this machine whoever wrote it (the
    corpus originals fail the same way), so it is counted apart."""
    return ("UnimplementedError" in log or "InvalidArgumentError" in log) and "FAIL predict" in log \
        and '"channels_first"' in model_config_text(path)


def hard_sigmoid_failure(path, loader, log):
    """Keras 3 changed `hard_sigmoid` (slope 1/6, was 0.2): its legacy loader reads a tf.keras
    2 model using it with the new function, so the outputs differ whoever wrote the file (the
    corpus originals do the same); tf-keras reproduces them. Counted apart."""
    return loader == "keras3" and path.endswith(".h5") and "FAIL output" in log \
        and '"hard_sigmoid"' in model_config_text(path)


def source_fails_too(source, io, loader, atol, rtol):
    """A file Graft wrote is not expected to do better than the file it was read from: when
    the source model itself (written by real Keras) cannot be loaded or run by this loader
    either (e.g. a tf.keras layer class that Keras 3 removed), the failure is counted apart."""
    if source in ("", "-") or not os.path.exists(source):
        return False
    buffer = textio.StringIO()
    with contextlib.redirect_stdout(buffer):
        source_ok = ckl.check_one(source, io, loader, None, atol, rtol, [], False)
    return not source_ok


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    folder = sys.argv[1]
    totals = {}
    failed = []
    with open(os.path.join(folder, "interop.tsv")) as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    seen = set()
    for row in rows:
        name, io, atol, rtol, source, frozen = row[0], row[1], float(row[2]), float(row[3]), row[4], row[5:]
        if name in seen:
            continue
        seen.add(name)
        path = os.path.join(folder, name)
        for loader in ckl.loaders_for(path, None, "auto"):
            buffer = textio.StringIO()
            with contextlib.redirect_stdout(buffer):
                ok = ckl.check_one(path, os.path.join(folder, io), loader, None, atol, rtol, frozen, False)
            log = buffer.getvalue()
            print(log, end="")
            passed, total, env = totals.get(loader, (0, 0, 0))
            if not ok and environment_failure(path, log):
                env += 1
                print("  (channels_first: TensorFlow CPU has no kernel; counted apart)")
            elif not ok and hard_sigmoid_failure(path, loader, log):
                env += 1
                print("  (hard_sigmoid: Keras 3 computes it differently; counted apart)")
            elif not ok and source_fails_too(source, os.path.join(folder, io), loader, atol, rtol):
                env += 1
                print(f"  (the source model {source} fails the same way with {loader}; counted apart)")
            elif not ok:
                failed.append(f"{name} [{loader}]")
            totals[loader] = (passed + int(ok), total + 1, env)
    for loader, (passed, total, env) in sorted(totals.items()):
        print(f"TOTAL {loader}: {passed}/{total} passed, {env} counted apart (channels_first on TensorFlow CPU, "
              f"hard_sigmoid in Keras 3, source fails too), {total - passed - env} failed")
    if failed:
        print("failed: " + ", ".join(failed))
    passed_all = sum(p for p, _, _ in totals.values())
    apart_all = sum(e for _, _, e in totals.values())
    print(f"interop: {passed_all} passed, {len(failed)} failed, {apart_all} skipped")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
