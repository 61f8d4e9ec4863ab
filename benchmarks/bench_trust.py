"""What the trust read-outs cost: deletion/insertion curves and integrated gradients, in one run.

Models: the digits CNN (``cnnviz_widget.data.default_model()``, 28x28x1) and the
EfficientNet-Lite0 Keras port with its ImageNet weights (``cnnviz_widget.imagenet``, 224x224x3,
Chelsea the cat); ``--no-imagenet`` skips the second.  The map explained is the image's
Grad-CAM at the default layer (computed once, untimed).

1. A 20-step deletion curve, ``faithfulness(model, x, cam, steps=20)``, against a bare
   forward pass of its 21 images as one batch (a warm ``tf.function`` of ``model(x,
   training=False)``, output to numpy: the fastest fair pass; target <= 2x), and against a
   loop of 21 single-image calls of that same warm function (target: ours >= 5x faster).  A
   loop of ``model.predict`` calls, the tutorial way, is shown for reference.
2. The panel's whole read-out, ``faithfulness_readout`` (deletion and insertion of the map
   and of a random map of the same size), against the bare pass of its 4 x 21 = 84 images
   as one batch (target <= 2x).  The read-out scores the unperturbed and the all-baseline
   image once (they are the same on all four curves): 78 distinct images.
3. Integrated gradients with 50 steps against Captum's ``IntegratedGradients`` (50 steps,
   Gauss-Legendre, all points in one batch) on the same torch model (target <= 1.2x).  With
   the torch adapter (``cnnviz_widget.adapters.torch``) ours runs on that torch model; without
   it ours runs on the Keras model and Captum on its torch twin (same weights: the digits CNN
   rebuilt in torch, and ``efficientnet-lite-pytorch`` for EfficientNet-Lite0), and the table
   says so.

Every path runs once untimed first (tracing); the cases of one comparison alternate within each
repeat; a ratio is the median of the per-repeat ratios of two cases timed back to back (so a
burst of load on the shared machine falls on both sides).  Run:
``.venv/bin/python benchmarks/bench_trust.py`` (about 8 minutes on two cores, most of it
EfficientNet-Lite0's integrated gradients; ``--no-imagenet`` takes about 20 s).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import warnings
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np
import tensorflow as tf
import torch
from _report import interleaved, ms, ratio
from captum.attr import IntegratedGradients

from cnnviz_widget.methods.gradcam import grad_cam
from cnnviz_widget.methods.trust import faithfulness, faithfulness_readout, integrated_gradients

STEPS = 20
IG_STEPS = 50


def timed(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each ``fn()`` per repeat, interleaved, after one untimed call each."""
    calls = {name: (lambda i, fn=fn: fn()) for name, fn in fns.items()}
    return interleaved(calls, repeats, warm=True)


def bare_pass(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    compiled = tf.function(lambda t: model(t, training=False), reduce_retracing=True)
    return lambda x: np.asarray(compiled(tf.constant(x)))


def deletion_images(x: np.ndarray, heat: np.ndarray, steps: int) -> np.ndarray:
    """The ``steps + 1`` images of a deletion curve (baseline 0), as a reference batch."""
    height, width = x.shape[1:3]
    order = np.argsort(-heat.ravel(), kind="stable")
    out = np.repeat(x, steps + 1, axis=0)
    for i in range(steps + 1):
        hidden = order[: round(i / steps * height * width)]
        out[i].reshape(height * width, -1)[hidden] = 0
    return out


def digits_twin(model: Any) -> torch.nn.Module:
    """The digits CNN in pure torch with the same weights (eval mode, logits out).

    Keras Conv2D kernels are (kh, kw, in, out), torch's (out, in, kh, kw); Keras flattens
    (h, w, c), torch (c, h, w), so the first dense layer's rows are reordered.
    """

    def conv(name: str) -> torch.nn.Conv2d:
        kernel, bias = model.get_layer(name).get_weights()
        layer = torch.nn.Conv2d(kernel.shape[2], kernel.shape[3], kernel.shape[:2])
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()))
            layer.bias.copy_(torch.from_numpy(bias))  # type: ignore[union-attr]
        return layer

    def dense(name: str, hwc: tuple[int, int, int] | None = None) -> torch.nn.Linear:
        kernel, bias = model.get_layer(name).get_weights()
        if hwc is not None:
            kernel = kernel.reshape(*hwc, -1).transpose(2, 0, 1, 3).reshape(kernel.shape)
        layer = torch.nn.Linear(*kernel.shape)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(kernel.T.copy()))
            layer.bias.copy_(torch.from_numpy(bias))
        return layer

    height, width, channels = (int(d) for d in model.get_layer("max_pooling2d_1").output.shape[1:])
    return torch.nn.Sequential(
        conv("conv2d"),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        conv("conv2d_1"),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        dense("dense", (height, width, channels)),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.4),
        dense("dense_1"),
    ).eval()


def efficientnet_torch() -> torch.nn.Module:
    from efficientnet_lite_pytorch import EfficientNet

    from cnnviz_widget import imagenet

    network = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(str(imagenet.weights_path()), map_location="cpu", weights_only=True)
    network.load_state_dict(state)
    return network.eval()


def torch_adapter_available() -> bool:
    try:
        from cnnviz_widget.adapters.torch import TorchAdapter  # noqa: F401
    except ImportError:
        return False
    return True


def case(label: str, model: Any, twin: torch.nn.Module, x: np.ndarray, args: Any) -> list[str]:
    """The table rows for one model."""
    rows: list[str] = []
    heat = grad_cam(model, x)[0]
    bare = bare_pass(model)
    batch21 = deletion_images(x, heat, STEPS)
    batch84 = np.concatenate([batch21] * 4)

    # 1. One deletion curve.
    t = timed(
        {
            "ours": lambda: faithfulness(model, x, heat, steps=STEPS),
            "bare": lambda: bare(batch21),
            "loop": lambda: [bare(batch21[i : i + 1]) for i in range(len(batch21))],
        },
        args.repeats,
    )
    r_bare, r_loop = ratio(t, "ours", "bare"), ratio(t, "loop", "ours")
    med = {k: statistics.median(v) for k, v in t.items()}
    rows.append(
        f"| {label} | deletion curve, {STEPS} steps (`faithfulness`) | {ms(med['ours'])} "
        f"| bare pass of its 21 images, one batch: {ms(med['bare'])} | {r_bare:.2f}x "
        f"| <= 2x | {'yes' if r_bare <= 2 else '**NO**'} |"
    )
    rows.append(
        f"| {label} | the same | | loop of 21 single-image calls (same warm function): "
        f"{ms(med['loop'])} | {r_loop:.1f}x faster | >= 5x faster "
        f"| {'yes' if r_loop >= 5 else '**NO**'} |"
    )
    predict = timed(
        {"predict": lambda: [model.predict(batch21[i : i + 1], verbose=0) for i in range(21)]},
        max(1, args.repeats // 3),
    )
    rows.append(
        f"| {label} | the same | | loop of 21 `model.predict` calls (reference): "
        f"{ms(statistics.median(predict['predict']))} "
        f"| {statistics.median(predict['predict']) / med['ours']:.1f}x faster | | |"
    )

    # 2. The panel's read-out.
    t = timed(
        {
            "ours": lambda: faithfulness_readout(model, x, heat, steps=STEPS),
            "bare": lambda: bare(batch84),
        },
        args.repeats,
    )
    r = ratio(t, "ours", "bare")
    med = {k: statistics.median(v) for k, v in t.items()}
    rows.append(
        f"| {label} | read-out: deletion + insertion of map and random map "
        f"(`faithfulness_readout`) | {ms(med['ours'])} | bare pass of its 84 images, one "
        f"batch: {ms(med['bare'])} | {r:.2f}x | <= 2x | {'yes' if r <= 2 else '**NO**'} |"
    )

    # 3. Integrated gradients against Captum.
    nchw = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        top = int(twin(nchw).argmax())
    keras_top = int(np.argmax(bare(x)))
    if top != keras_top:  # pragma: no cover - the twins would not be the same function
        raise RuntimeError(f"{label}: the torch twin predicts {top}, the Keras model {keras_top}")
    explainer = IntegratedGradients(twin)
    on_torch = torch_adapter_available()
    subject = twin if on_torch else model
    given = nchw if on_torch else x
    t = timed(
        {
            "ours": lambda: integrated_gradients(subject, given, top, steps=IG_STEPS),
            "captum": lambda: explainer.attribute(
                nchw, target=top, n_steps=IG_STEPS, method="gausslegendre"
            ),
        },
        args.ig_repeats,
    )
    ours_ig = integrated_gradients(subject, given, top, steps=IG_STEPS)
    theirs_ig = (
        explainer.attribute(nchw, target=top, n_steps=IG_STEPS, method="gausslegendre")
        .detach()
        .numpy()
        .transpose(0, 2, 3, 1)
    )
    agreement = float(np.abs(ours_ig - theirs_ig).max() / np.abs(theirs_ig).max())
    r = ratio(t, "ours", "captum")
    med = {k: statistics.median(v) for k, v in t.items()}
    where = "the same torch model" if on_torch else "the Keras model (Captum: its torch twin)"
    rows.append(
        f"| {label} | integrated gradients, {IG_STEPS} steps, on {where} | {ms(med['ours'])} "
        f"| Captum `IntegratedGradients`, same steps and rule: {ms(med['captum'])} "
        f"| {r:.2f}x | <= 1.2x | {'yes' if r <= 1.2 else '**NO**'} |"
    )
    rows.append(
        f"| {label} | (attributions agree with Captum's to {agreement:.1e} of their maximum) "
        "| | | | | |"
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed runs per case")
    parser.add_argument("--ig-repeats", type=int, default=5, help="timed runs of IG")
    parser.add_argument("--no-imagenet", action="store_true", help="digits CNN only")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", "The structure of `inputs`", UserWarning)

    from cnnviz_widget.data import default_model

    digits_model, digits, _ = default_model(1)
    rows = case("digits CNN", digits_model, digits_twin(digits_model), digits, args)
    if not args.no_imagenet:
        from cnnviz_widget import imagenet

        chelsea = imagenet.preprocess(imagenet.photos(224)["chelsea"])
        rows += case(
            "EfficientNet-Lite0", imagenet.efficientnet_lite0(), efficientnet_torch(), chelsea, args
        )

    print("# Trust read-outs: deletion/insertion curves and integrated gradients, batch 1")
    print(
        f"{datetime.date.today()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, TensorFlow {tf.__version__}, Keras {keras.__version__}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} torch threads; medians of "
        f"{args.repeats} warm runs ({args.ig_repeats} for IG), ratios are medians of "
        "per-run ratios\n"
    )
    print("| model | case | ours (median) | compared with (median) | ratio | target | pass |")
    print("|---|---|---:|---|---:|---|:-:|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
