"""How long one Grad-CAM takes through cnnviz-widget, against tf-keras-vis, in one run.

``keras.applications.VGG16(weights=None)`` (functional, ends in softmax) at 224x224x3, layer
``block5_conv3``, one image:

1. ``grad_cam(model, x, "block5_conv3", cls)`` (upsampled to 224x224, min-max scaled) against
   tf-keras-vis 0.8.7 ``Gradcam(model, model_modifier=ReplaceToLinear())`` called with
   ``penultimate_layer="block5_conv3", seek_penultimate_conv_layer=False`` (also upsampled
   and scaled).  Target: ours <= 0.8x theirs.  The visualizer is built once, untimed (it
   clones the model); each of its calls builds a sub-model and runs eagerly.
2. Where our time goes: the adapter's pass (one compiled forward + backward to the layer),
   next to the same pass written by hand (a ``tf.function`` of a sub-model and a
   ``GradientTape``); the numpy after it (weights, resize, scaling) is what a cached class
   switch below costs.
3. Switching the class on the same sample and layer with a ``CamCache``: to a class not
   seen yet (one forward + backward pass: gradients depend on the class) and back to one
   seen before (no pass).  ``--scorecam`` adds Score-CAM, whose masked passes give every
   class at once: its first call runs 512 masked forward passes (minutes on a laptop CPU),
   a class switch runs none.

Every path runs once untimed first (tracing); the timed runs of the two libraries alternate
and times are medians of ``--repeats`` runs with ``time.perf_counter``.  Run:
``.venv/bin/python benchmarks/bench_gradcam.py`` (about a minute on two cores).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
import warnings
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf
from _report import interleaved, median, ms
from tf_keras_vis.gradcam import Gradcam
from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
from tf_keras_vis.utils.scores import CategoricalScore

from cnnviz_widget.adapters import adapter_for
from cnnviz_widget.methods.gradcam import CamCache, cam_details, grad_cam

LAYER = "block5_conv3"


def medians(fns: dict[str, Callable[[int], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each ``fn(i)``; the functions alternate within each repeat."""
    return {name: median(t) for name, t in interleaved(fns, repeats).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per case (>= 5)")
    parser.add_argument("--scorecam", action="store_true", help="also time Score-CAM")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", "The structure of `inputs`", UserWarning)

    keras.utils.set_random_seed(0)
    model = keras.applications.VGG16(weights=None)
    x = np.random.default_rng(0).random((1, 224, 224, 3), dtype=np.float32)
    cls = int(np.argmax(model.predict(x, verbose=0)))
    visualizer = Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)

    def ours(i: int) -> np.ndarray:
        return grad_cam(model, x, LAYER, cls)

    def theirs(i: int) -> np.ndarray:
        return visualizer(
            CategoricalScore([cls]), x, penultimate_layer=LAYER, seek_penultimate_conv_layer=False
        )

    # The same numbers first: raw CAMs agree (the upsampled ones differ by the resize
    # convention, half-pixel against tf-keras-vis's aligned corners).
    raw_ours = grad_cam(model, x, LAYER, cls, upsample=False, normalize=False)
    raw_theirs = visualizer(
        CategoricalScore([cls]),
        x,
        penultimate_layer=LAYER,
        seek_penultimate_conv_layer=False,
        expand_cam=False,
        normalize_cam=False,
    )
    agreement = float(np.abs(raw_ours - raw_theirs).max() / np.abs(raw_theirs).max())
    assert ours(0).shape == np.asarray(theirs(0)).shape == (1, 224, 224)

    adapter = adapter_for(model)
    request = np.array([cls], np.int32)
    pass_only = lambda i: adapter.class_gradients([x], LAYER, request)  # noqa: E731
    pass_only(0)
    tensor = tf.constant(x)
    probe = keras.Model(model.inputs[0], [model.get_layer(LAYER).output, model.output])

    @tf.function
    def hand_written(t: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        # What a person would write, compiled: forward and backward to the layer only.  The
        # score here is the softmax output, so it is a reference for the pass, not a CAM.
        with tf.GradientTape() as tape:
            activations, probabilities = probe(t, training=False)
            score = probabilities[:, cls]
        return activations, tape.gradient(score, activations)

    hand_written(tensor)
    t = medians(
        {
            "ours": ours,
            "theirs": theirs,
            "pass": pass_only,
            "hand": lambda i: [np.asarray(a) for a in hand_written(tensor)],
        },
        args.repeats,
    )

    cache = CamCache()
    cam_details(model, x, LAYER, cls, cache=cache)
    fresh = [c for c in range(1000) if c != cls][: args.repeats + 1]
    cam_details(model, x, LAYER, fresh[-1], cache=cache)  # warm
    switch = medians(
        {
            "new": lambda i: cam_details(model, x, LAYER, fresh[i], cache=cache),
            "seen": lambda i: cam_details(model, x, LAYER, cls, cache=cache),
        },
        args.repeats,
    )

    ratio = t["ours"] / t["theirs"]
    print(f"# Grad-CAM on VGG16(weights=None), 224x224, `{LAYER}`, batch 1")
    print(
        f"{datetime.date.today()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, TensorFlow {tf.__version__}, Keras {keras.__version__}, "
        f"medians of {args.repeats} warm runs\n"
    )
    print("| case | time (median) | ratio | target | pass |")
    print("|---|---:|---:|---|:-:|")
    print(f"| tf-keras-vis `Gradcam` (expand + normalize) | {ms(t['theirs'])} | 1.00x | | |")
    print(
        f"| cnnviz `grad_cam` (upsample + normalize) | {ms(t['ours'])} | {ratio:.2f}x "
        f"| <= 0.8x | {'yes' if ratio <= 0.8 else '**NO**'} |"
    )
    print(
        f"| of which the adapter pass (forward + backward, to numpy) | {ms(t['pass'])} | "
        f"{t['pass'] / t['theirs']:.2f}x | | |"
    )
    print(
        f"| hand-written compiled forward + backward to the layer (reference) | "
        f"{ms(t['hand'])} | {t['hand'] / t['theirs']:.2f}x | | |"
    )
    print(
        f"| class switch, same sample and layer, new class (one pass) | {ms(switch['new'])} "
        f"| {switch['new'] / t['theirs']:.2f}x | | |"
    )
    print(
        f"| class switch back to a class seen before (no pass: hashing the input, weights, "
        f"resize, scaling) | {ms(switch['seen'])} "
        f"| {switch['seen'] / t['theirs']:.3f}x | | |"
    )
    print(f"\nRaw CAMs (no resize, no scaling) agree to {agreement:.1e} of their maximum.")

    if args.scorecam:
        start = time.perf_counter()
        cam_details(model, x, LAYER, cls, method="scorecam", cache=cache)
        first = time.perf_counter() - start
        other = medians(
            {
                "switch": lambda i: cam_details(
                    model, x, LAYER, fresh[i], method="scorecam", cache=cache
                )
            },
            args.repeats,
        )
        print(
            f"Score-CAM: first call {first:.1f} s (512 masked passes); class switch "
            f"{ms(other['switch'])} (no pass)."
        )


if __name__ == "__main__":
    main()
