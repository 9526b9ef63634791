#!/usr/bin/env python3
"""Write the VGG16-sized Keras `.h5` that the Keras reader benchmark reads.

    make_vgg16_h5.py OUT.h5      (`make bench-data` writes .build/bench/vgg16.h5)

The file is what tf.keras 2.x itself writes for `VGG16(weights=None)` (138,357,544 float32
parameters, 553 MB of weights; 16 layers with weights, kernel + bias each): root attributes
`model_config`, `keras_version`, `backend`, group `model_weights` with `layer_names` and per-layer
`weight_names` such as `block1_conv1/kernel:0`. No training config or optimizer state. The weights
are seeded random normals (scaled by 0.01, biases included), so no dataset is all zeros. Nothing is
downloaded: `weights=None` only builds the architecture.
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tf_keras  # noqa: E402

SEED = 16


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    out = sys.argv[1]
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    started = time.monotonic()
    tf_keras.utils.set_random_seed(SEED)
    model = tf_keras.applications.VGG16(weights=None)
    rng = np.random.default_rng(SEED)
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([(rng.standard_normal(w.shape, dtype=np.float32) * 0.01)
                               for w in weights])
    params = model.count_params()
    partial = out + ".partial"
    model.save(partial, save_format="h5")
    os.replace(partial, out)  # a killed run leaves no half-written file under the target name
    print(f"wrote {out}: {params} float32 parameters ({params * 4} bytes of weights), "
          f"{os.path.getsize(out)} bytes on disk, in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
