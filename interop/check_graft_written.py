"""Runs check_keras_load.check_one on every model Graft wrote into a folder (issue 5 interop).

    check_graft_written.py DIR

DIR/interop.tsv lists one written model a line: file, io npz, atol, rtol, frozen layer names...
(written by the Swift tests when GRAFT_INTEROP_DIR is set; see `make interop-keras`). Every
`.h5` must load and reproduce its outputs with tf-keras 2.x and with Keras 3; every `.keras`
with Keras 3; listed frozen layers must come back with trainable == False. Prints a line per
check and totals per loader; exit 1 when anything failed.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_keras_load as ckl  # noqa: E402


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
        name, io, atol, rtol, frozen = row[0], row[1], float(row[2]), float(row[3]), row[4:]
        if name in seen:
            continue
        seen.add(name)
        path = os.path.join(folder, name)
        for loader in ckl.loaders_for(path, None, "auto"):
            ok = ckl.check_one(path, os.path.join(folder, io), loader, None, atol, rtol, frozen, False)
            passed, total = totals.get(loader, (0, 0))
            totals[loader] = (passed + int(ok), total + 1)
            if not ok:
                failed.append(f"{name} [{loader}]")
    for loader, (passed, total) in sorted(totals.items()):
        print(f"TOTAL {loader}: {passed}/{total} passed")
    if failed:
        print("failed: " + ", ".join(failed))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
