"""How long a layer switch takes through cnnviz-widget's compute path, in one run.

What is timed is what happens after a click: ``explorer.session.compute(request)``, i.e. the
activations (one forward pass per sample, cached for all layers) and one PNG of the whole
layer.  The explorer has no frontend here; ``send`` is a no-op and nothing is sent.

1. The lesson's digits CNN (28x28x1): a switch to another layer of a seen sample (activations
   warm, picture cold) and the first view of a new sample (activations cold), against the
   tutorial way per layer: ``keras.Model(model.inputs, layer.output).predict(x)`` then a
   ``plt.subplots`` grid with one ``imshow`` per channel saved as PNG.  Target: >= 10x faster.
2. ``VGG16(weights=None)`` at 224x224x3: the first view of a sample against one bare forward
   pass (a warm ``tf.function`` of ``model(x, training=False)``, batch 1), target <= 1.3x;
   a switch to another layer of the same sample, target < 100 ms on every layer.

Every path runs once untimed first (tf.function tracing, matplotlib fonts); times are medians
of ``--repeats`` runs with ``time.perf_counter``; a ratio is the median of per-run ratios of
cases timed back to back.  Run: ``.venv/bin/python
benchmarks/bench_layer_switch.py`` (about a minute on two cores).
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import platform

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib

matplotlib.use("Agg")
import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from _report import Row, interleaved, median, ms, print_table, ratio

from cnnviz_widget import LayerExplorer
from cnnviz_widget.data import default_model
from cnnviz_widget.render import grid_shape
from cnnviz_widget.views import Request

tf.get_logger().setLevel("ERROR")  # the naive way retraces predict per layer, by design

SMALL_LAYERS = ["conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "dense"]
VGG_LAYERS = ["block1_conv1", "block3_conv3", "block5_pool", "fc1", "predictions"]


# ------------------------------------------------------------------ the two approaches
def naive_view(model: keras.Model, layer_name: str, x: np.ndarray) -> bytes:
    """The tutorial way: a sub-model per layer, predict, a subplot per channel, savefig."""
    sub = keras.Model(model.inputs, model.get_layer(layer_name).output)
    maps = sub.predict(x, verbose=0)[0]
    if maps.ndim != 3:  # a dense layer: one strip
        maps = maps.reshape(1, -1, 1)
    rows, cols = grid_shape(maps.shape[-1])
    fig, axes = plt.subplots(rows, cols, figsize=(cols, rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < maps.shape[-1]:
            ax.imshow(maps[..., i], cmap="viridis")
        ax.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def make_explorer(model: keras.Model, images: np.ndarray) -> LayerExplorer:
    explorer = LayerExplorer(model, images)  # draws sample 0's default layer: traces the pass
    explorer.send = lambda *args, **kwargs: None  # no frontend
    return explorer


def forget_pictures(explorer: LayerExplorer) -> None:
    """Empty the cache of drawn results (activations stay cached): the next view draws anew."""
    explorer.session.result_cache.clear()


def explorer_view(explorer: LayerExplorer, layer: str, sample: int) -> bytes:
    """What the worker computes after a click: activations (cached per sample) + PNG."""
    return explorer.session.compute(Request(0, layer, "activations", sample)).pictures[0][1].png


# -------------------------------------------------------------------------- the cases
def bench_small(repeats: int) -> tuple[list[Row], list[bool]]:
    model, images, _ = default_model(repeats + 2)
    explorer = make_explorer(model, images)
    naive_view(model, "conv2d", images[:1])  # warm-up: matplotlib fonts, Keras predict
    rows: list[Row] = []
    verdicts = []
    for layer in SMALL_LAYERS:
        explorer_view(explorer, layer, 0)  # warm-up of this layer's drawing
        t = interleaved(
            {
                "switch": lambda i, layer=layer: explorer_view(explorer, layer, 0),
                "naive": lambda i, layer=layer: naive_view(model, layer, images[:1]),
            },
            repeats,
            setup=lambda i: forget_pictures(explorer),
        )
        speedup = ratio(t, "naive", "switch")
        verdicts.append(speedup >= 10)
        rows.append(
            (
                f"CNN switch to `{layer}` (activations warm)",
                median(t["switch"]),
                f"naive {ms(median(t['naive']))}",
                speedup,
                ">= 10x faster",
                verdicts[-1],
            )
        )
    # A new sample runs the forward pass: samples 1..repeats were never seen.
    t = interleaved(
        {
            "first": lambda i: explorer_view(explorer, "conv2d_1", 1 + i),
            "naive": lambda i: naive_view(model, "conv2d_1", images[1 + i : 2 + i]),
        },
        repeats,
    )
    speedup = ratio(t, "naive", "first")
    verdicts.append(speedup >= 10)
    rows.append(
        (
            "CNN first view of a new sample, `conv2d_1` (activations cold)",
            median(t["first"]),
            f"naive {ms(median(t['naive']))}",
            speedup,
            ">= 10x faster",
            verdicts[-1],
        )
    )
    explorer.close()
    return rows, verdicts


def bench_vgg(repeats: int, naive_repeats: int) -> tuple[list[Row], list[bool]]:
    keras.utils.set_random_seed(0)
    model = keras.applications.VGG16(weights=None)
    images = np.random.default_rng(0).random((repeats + 2, 224, 224, 3), np.float32)
    x = tf.constant(images[:1])
    bare_fn = tf.function(lambda t: model(t, training=False))
    np.asarray(bare_fn(x))  # traces
    model.predict(images[:1], verbose=0)
    explorer = make_explorer(model, images)  # traces the all-layer pass on sample 0
    names = [info.name for info in explorer.session.layers]
    t = interleaved(
        {
            "bare": lambda i: np.asarray(bare_fn(x)),
            "first": lambda i: explorer_view(explorer, "block1_conv1", 1 + i),  # a new sample
            "pass": lambda i: explorer.session.adapter.activations([images[:1]], names),
            "predict": lambda i: model.predict(images[:1], verbose=0),
        },
        repeats,
    )
    slowdown = ratio(t, "first", "bare")
    verdicts = [slowdown <= 1.3]
    rows: list[Row] = [
        (
            "VGG16 bare forward pass, warm tf.function, batch 1",
            median(t["bare"]),
            "",
            None,
            "",
            None,
        ),
        (
            "VGG16 `model.predict`, batch 1 (reference)",
            median(t["predict"]),
            "bare pass",
            ratio(t, "predict", "bare"),
            "",
            None,
        ),
        (
            f"VGG16 explorer's pass recording all {len(names)} layers, to numpy",
            median(t["pass"]),
            "bare pass",
            ratio(t, "pass", "bare"),
            "",
            None,
        ),
        (
            "VGG16 first view of a sample: pass + `block1_conv1` PNG (64x224x224)",
            median(t["first"]),
            "bare pass",
            slowdown,
            "<= 1.3x",
            verdicts[0],
        ),
    ]
    switches = {}
    for layer in names:
        explorer_view(explorer, layer, 0)  # warm-up (sample 0's activations are cached)
        view = {"switch": lambda i, layer=layer: explorer_view(explorer, layer, 0)}
        switches[layer] = median(
            interleaved(view, repeats, setup=lambda i: forget_pictures(explorer))["switch"]
        )
    for layer in VGG_LAYERS:
        verdicts.append(switches[layer] < 0.1)
        rows.append(
            (
                f"VGG16 switch to `{layer}` (activations warm)",
                switches[layer],
                "",
                None,
                "< 100 ms",
                verdicts[-1],
            )
        )
    worst = max(switches, key=switches.get)
    verdicts.append(switches[worst] < 0.1)
    slow = [f"`{name}`" for name, t in switches.items() if t >= 0.1]
    rows.append(
        (
            f"VGG16 slowest switch of all {len(names)} layers: `{worst}`; "
            f"{len(slow)} at 100 ms or more: {', '.join(slow) or 'none'}",
            switches[worst],
            "",
            None,
            "< 100 ms",
            verdicts[-1],
        )
    )
    if naive_repeats:
        naive_view(model, "block1_conv1", images[:1])
        naive = median(
            interleaved(
                {"naive": lambda i: naive_view(model, "block1_conv1", images[:1])}, naive_repeats
            )["naive"]
        )
        rows.append(
            (
                "VGG16 naive view of `block1_conv1` (reference)",
                naive,
                "explorer first view",
                naive / median(t["first"]),
                "",
                None,
            )
        )
    explorer.close()
    return rows, verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed runs per case (>= 5)")
    parser.add_argument(
        "--naive-vgg-repeats",
        type=int,
        default=3,
        help="runs of the slow naive VGG16 reference (0 skips it)",
    )
    args = parser.parse_args()

    print(
        f"# cnnviz-widget layer-switch benchmark, "
        f"{datetime.datetime.now().isoformat(timespec='minutes')}"
    )
    print(
        f"{platform.platform()}, {os.cpu_count()} CPU cores, Python "
        f"{platform.python_version()}, keras {keras.__version__}, tensorflow {tf.__version__}"
        f", backend {keras.backend.backend()}; medians of {args.repeats} runs\n"
    )
    small_rows, small_ok = bench_small(args.repeats)
    vgg_rows, vgg_ok = bench_vgg(args.repeats, args.naive_vgg_repeats)
    print_table(small_rows + vgg_rows)
    print()
    print(f"- small CNN, >= 10x faster than naive: {'PASS' if all(small_ok) else 'FAIL'}")
    print(f"- VGG16 first view <= 1.3x a bare pass: {'PASS' if vgg_ok[0] else 'FAIL'}")
    print(f"- VGG16 layer switch < 100 ms: {'PASS' if all(vgg_ok[1:]) else 'FAIL'}")


if __name__ == "__main__":
    main()
