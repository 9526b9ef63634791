#!/bin/sh
# Fills OUT/<harness>/ with seed inputs from fixtures/, the shared corpus (when present) and the
# hand-made seeds in Fuzz/seeds/. Copies only what is missing, so a corpus grown by earlier
# campaigns is kept. Seeds larger than 64 KB are skipped (slow to mutate, little to add).
# Usage: Fuzz/seed.sh OUT [CORPUS]   (run from the repository root; CORPUS defaults to ../shared/corpus)
set -eu
out=$1
corpus=${2:-../shared/corpus}
fixtures=fixtures
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# put HARNESS FILE...: copies each file under a name built from its path
put() {
    h=$1; shift
    mkdir -p "$out/$h"
    for f in "$@"; do
        [ -f "$f" ] || continue
        [ "$(wc -c < "$f")" -le 65536 ] || continue
        name=$(echo "$f" | sed "s|^$tmp/||; s|^\\./||; s|^\\.\\./||; s|/|_|g")
        [ -e "$out/$h/$name" ] || cp "$f" "$out/$h/$name"
    done
}
# small FIND-ARGS...: files of the corpus matching, at most 64 KB, first 40 in name order
small() { [ -d "$corpus" ] && find "$corpus" -type f -size -65k "$@" | sort | head -40 || true; }
is_zip() { [ "$(head -c 2 "$1")" = "PK" ]; }

for npz in "$fixtures"/*_io.npz; do
    d="$tmp/npy/$(basename "$npz" .npz)"; mkdir -p "$d"; unzip -q -o "$npz" -d "$d"
done
put FuzzNPY $(small -name '*.npy') $(find "$tmp/npy" -name '*.npy' | sort)
put FuzzNPZ "$fixtures"/*_io.npz $(small -name '*.npz' | head -20)
put FuzzJSON "$fixtures"/*.json $(small -name '*.json' | head -20) Fuzz/seeds/FuzzRecipe/*.json

dl4jzips=""
for f in $(small \( -name '*.zip' -o -name '*.bin' \)); do is_zip "$f" && dl4jzips="$dl4jzips $f"; done
put FuzzDL4JZip $dl4jzips
put FuzzZip "$fixtures"/*.keras "$fixtures"/mlp_io.npz $dl4jzips

nd4j=""
for f in $(small -name '*.bin'); do is_zip "$f" || nd4j="$nd4j $f"; done
for z in $dl4jzips; do
    i=$(basename "$z" | sed 's/\.[^.]*$//'); d="$tmp/dl4j/$i"; mkdir -p "$d"
    unzip -q -o "$z" -d "$d" 2>/dev/null || true
    for e in "$d"/*; do [ -f "$e" ] && mv "$e" "$tmp/dl4j/$i-$(basename "$e")"; done
done
put FuzzNd4j $nd4j $(find "$tmp/dl4j" -maxdepth 1 -name '*.bin' | sort)
put FuzzDL4JConfig $(find "$tmp/dl4j" -maxdepth 1 -name '*configuration.json' | sort) $(small -path '*dl4j*' -name '*.json')

put FuzzKerasH5 $(ls "$fixtures"/*.h5 | grep -v _weights) $(small -path '*keras*' -name '*.h5' -size -24k | head -30)
put FuzzKerasJSON "$fixtures"/lstm_timeseries_config.json $(small -path '*keras/configs*' -name '*.json')
put FuzzKeras3 "$fixtures"/*.keras $(small -name '*.keras')
put FuzzRecipe Fuzz/seeds/FuzzRecipe/*.json
put FuzzManifest Fuzz/seeds/FuzzManifest/*.json

for d in "$out"/*/; do echo "$(ls "$d" | wc -l) seeds in $d"; done
