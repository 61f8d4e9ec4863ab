"""How long filter patterns take: 16 filters in one batch against 16 single-filter runs.

1. **One batch against one run per filter**: 16 patterns of one layer from
   ``maximize_filters(model, layer, range(16))`` (all 16 images climb together, one compiled
   forward and backward pass per step) against 16 calls of ``maximize_filter`` one after
   another (the same images: a filter's pattern does not depend on its batch).  Target: the
   batch at least 3x faster.  On the bundled digits CNN (the demo's model, 28x28) and a
   VGG-style model at 32x32.
2. **Time per step at 128x128** on ``keras.applications.VGG16(weights=None,
   include_top=False, input_shape=(128, 128, 3))``, layer ``block3_conv1``, 16 filters,
   with the same comparison; within one step of a batch run, the time in the adapter's
   pass (``filter_gradients``) and the rest (jitter, Fourier reweighting, blur and clipping
   in numpy); and the cost of drawing the 16 tiles (``pattern_picture``, what the widget
   does every few steps).

Every path runs once untimed first (tracing); the batch and the sequential runs alternate,
and times are medians of ``--repeats`` runs with ``time.perf_counter``.  Run:
``.venv/bin/python benchmarks/bench_filters.py`` (about two minutes on two cores).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf
from _report import medians, ms

from cnnviz_widget.adapters import adapter_for
from cnnviz_widget.data import digits_cnn
from cnnviz_widget.methods.maximize import maximize_filter, maximize_filters
from cnnviz_widget.render import pattern_picture

FILTERS = list(range(16))


def vgg_small() -> keras.Model:
    keras.utils.set_random_seed(0)
    x = keras.Input((32, 32, 3))
    h = x
    for block, width in ((1, 32), (2, 64), (3, 128)):
        for i in (1, 2):
            h = keras.layers.Conv2D(
                width, 3, padding="same", activation="relu", name=f"block{block}_conv{i}"
            )(h)
        h = keras.layers.MaxPooling2D(name=f"block{block}_pool")(h)
    return keras.Model(x, h, name="vgg_small")


def batch_against_sequential(
    model: keras.Model, layer: str, steps: int, repeats: int
) -> dict[str, float]:
    def batch() -> np.ndarray:
        return maximize_filters(model, layer, FILTERS, steps=steps)

    def sequential() -> np.ndarray:
        return np.stack([maximize_filter(model, layer, f, steps=steps) for f in FILTERS])

    together, alone = batch(), sequential()  # traces, and the same images either way
    assert np.allclose(together, alone, atol=1e-4), np.abs(together - alone).max()
    return medians({"batch": batch, "sequential": sequential}, repeats)


def time_steps(model: keras.Model, layer: str, steps: int) -> tuple[list[float], list[float]]:
    """Seconds of each step of one batch run (from ``on_step`` to ``on_step``), and of the
    adapter's pass within it (timed by wrapping the model's cached adapter)."""
    adapter = adapter_for(model)
    original = adapter.filter_gradients
    passes: list[float] = []

    def timed_pass(*args: object) -> tuple[np.ndarray, np.ndarray]:
        start = time.perf_counter()
        result = original(*args)
        passes.append(time.perf_counter() - start)
        return result

    marks = [time.perf_counter()]
    adapter.filter_gradients = timed_pass  # type: ignore[method-assign]
    try:
        maximize_filters(
            model, layer, FILTERS, steps=steps, on_step=lambda *_: marks.append(time.perf_counter())
        )
    finally:
        del adapter.filter_gradients  # the class's method again
    # The first step also holds the set-up before it: leave it out.
    return np.diff(marks)[1:].tolist(), passes[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case")
    parser.add_argument("--steps", type=int, default=30, help="steps of the small models")
    parser.add_argument("--vgg-steps", type=int, default=4, help="steps per run at 128x128")
    args = parser.parse_args()

    rows: list[tuple[str, float, float]] = []
    for label, model, layer in (
        ("digits CNN 28x28, `conv2d_1`", digits_cnn(), "conv2d_1"),
        ("VGG-style 32x32, `block2_conv1`", vgg_small(), "block2_conv1"),
    ):
        t = batch_against_sequential(model, layer, args.steps, args.repeats)
        rows.append((f"{label}, {args.steps} steps", t["batch"], t["sequential"]))

    keras.utils.set_random_seed(0)
    vgg16 = keras.applications.VGG16(weights=None, include_top=False, input_shape=(128, 128, 3))
    layer, steps = "block3_conv1", args.vgg_steps
    repeats = max(3, args.repeats // 2)
    t = batch_against_sequential(vgg16, layer, steps, repeats)
    rows.append((f"VGG16 128x128, `{layer}`, {steps} steps", t["batch"], t["sequential"]))

    step_times, pass_times = time_steps(vgg16, layer, steps=max(6, 2 * steps))
    per_step = statistics.median(step_times)
    in_pass = statistics.median(pass_times)
    in_numpy = statistics.median(a - b for a, b in zip(step_times, pass_times, strict=True))
    images = maximize_filters(vgg16, layer, FILTERS, steps=2)
    picture = medians(
        {"picture": lambda: pattern_picture(images, filter_indices=FILTERS, step=2, steps=30)},
        repeats,
    )["picture"]

    print("# Filter patterns: 16 filters in one batch against 16 single-filter runs")
    print(
        f"{datetime.date.today()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, TensorFlow {tf.__version__}, Keras {keras.__version__}, "
        f"medians of {args.repeats} warm runs ({repeats} for VGG16)\n"
    )
    print("| model, layer | one batch of 16 | 16 runs of 1 | speed-up | target >= 3x |")
    print("|---|---:|---:|---:|:-:|")
    for label, batch, sequential in rows:
        ratio = sequential / batch
        print(
            f"| {label} | {ms(batch)} | {ms(sequential)} | {ratio:.1f}x "
            f"| {'yes' if ratio >= 3 else '**no**'} |"
        )
    print(f"\n## VGG16 at 128x128, `{layer}`, 16 filters: one step")
    print("| part | time | share of the step |")
    print("|---|---:|---:|")
    print(f"| whole step (batch of 16) | {ms(per_step)} | 100% |")
    print(
        f"| of which the adapter pass (forward + backward to the input) | {ms(in_pass)} "
        f"| {in_pass / per_step:.0%} |"
    )
    print(
        f"| of which numpy (jitter, Fourier reweighting, blur, clip) | {ms(in_numpy)} "
        f"| {in_numpy / per_step:.0%} |"
    )
    print(
        f"| per step per filter in 16 single-filter runs | "
        f"{ms(t['sequential'] / steps / len(FILTERS))} | |"
    )
    print(
        f"| drawing the 16 tiles (`pattern_picture`, PNG) | {ms(picture)} "
        f"| {picture / per_step:.0%} |"
    )


if __name__ == "__main__":
    main()
