"""Flipping through samples: the explorer's answer to each new sample, clicked at a pace.

A person flipping through the sample strip (or holding an arrow key) asks for new samples
faster than the explorer keeps each one's outputs: the worker copies a new sample's outputs
into its cache (a numpy copy of every layer; 50-150 ms on EfficientNet-Lite0 in memory the
process has not touched) once it has been idle for ``SETTLE_AFTER_S``.  The copy gives way to
the next request, and a sample clicked before the copy is done drops it, so no click waits
for another sample's copy.  This measures that: the explorer on the bundled EfficientNet-Lite0
(Keras), a feature-map layer selected, each of 15 new samples set from Python
(as a click sets the trait) a fixed pause after the answer to the one before, each pace in a
fresh process (as in a notebook just opened: the memory a full cache needs not touched yet),
and the time from setting it to the answer being sent (``LayerExplorer.send``, replaced by a
recorder; nothing crosses a browser).

Reference, in the same process after the clicks: one forward pass recording every layer, as
the explorer runs it for a new sample (the adapter's ``recorded_activations``, outputs left in
TensorFlow; the picture is not drawn), each after the same pause: the least a new sample can
cost.  (The
public ``activations`` also copies every output into numpy, and in a process that has freed
that much memory before, the copies can cost more than the pass.)  Target: at every pace, the
median click within 1.3x of the reference and none over 2.5x.

Run:  .venv/bin/python benchmarks/bench_sample_flip.py          (about a minute)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import time

import numpy as np
from _report import in_child

PACES_S = (0.12, 0.15, 0.3)
LAYER = "blocks_12_project_conv"


def flip(explorer, samples: range, pause: float) -> list[float]:
    """Seconds from setting each sample to its answer, each set ``pause`` after the last."""
    sent: list[dict] = []
    explorer.send = lambda content, buffers=None: sent.append(content)
    explorer.send_state = lambda *args, **kwargs: None
    times = []
    for sample in samples:
        n = len(sent)
        start = time.perf_counter()
        explorer.sample = sample
        while not any(
            c.get("type") in ("result", "error") and c.get("sample") == sample for c in sent[n:]
        ):
            time.sleep(0.0002)
        times.append(time.perf_counter() - start)
        if sent[-1].get("type") == "error":
            raise RuntimeError(sent[-1].get("message"))
        time.sleep(pause)
    return times


def one_pace(pause: float) -> tuple[list[float], list[float], int]:
    """In this process (fresh: memory the explorer's cache needs not touched yet, as when a
    notebook has just opened): the clicks at ``pause``, then the reference passes."""
    from cnnviz_widget import LayerExplorer, list_layers
    from cnnviz_widget.adapters import adapter_for
    from cnnviz_widget.imagenet import demo

    model, photos, preprocess, names = demo()
    # The four photos, mirrored, upside down and both: 16 samples, 15 the explorer has not seen.
    images = np.concatenate([photos, photos[:, :, ::-1], photos[:, ::-1], photos[:, ::-1, ::-1]])
    layers = [info.name for info in list_layers(model)]
    explorer = LayerExplorer(model, images, preprocess=preprocess, class_names=names)
    explorer.layer = LAYER
    time.sleep(0.5)
    clicks = flip(explorer, range(1, len(images)), pause)
    explorer.close()
    adapter = adapter_for(model)
    inputs = adapter.model_inputs(images, preprocess)
    adapter.recorded_activations([x[:1] for x in inputs], layers)  # warm
    reference = []
    for i in range(9):
        time.sleep(pause)
        start = time.perf_counter()
        adapter.recorded_activations([x[i + 1 : i + 2] for x in inputs], layers)
        reference.append(time.perf_counter() - start)
    return clicks, reference, len(layers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pace", type=float, help=argparse.SUPPRESS)  # one pace, in this process
    args = parser.parse_args()
    if args.pace is not None:
        print(json.dumps(one_pace(args.pace)))
        return
    rows = []
    for pause in PACES_S:
        clicks, reference, n_layers = in_child(
            __file__, "--pace", str(pause), env={"TF_CPP_MIN_LOG_LEVEL": "2"}
        )
        ref = statistics.median(reference)
        med, worst = statistics.median(clicks), max(clicks)
        rows.append((pause, med, worst, ref, med <= 1.3 * ref and worst <= 2.5 * ref, clicks))

    print(
        f"# cnnviz-widget sample-flip benchmark, "
        f"{datetime.datetime.now().isoformat(timespec='minutes')}\n{platform.platform()}, "
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}; EfficientNet-Lite0 "
        f"(Keras, {n_layers} layers), layer `{LAYER}`, 15 new samples per pace, each pace in a "
        "fresh process\n"
    )
    print(
        "| pause after each answer | click to answer: median / max | reference pass (median "
        "of 9) | ratio median / max | target | pass |"
    )
    print("|---:|---:|---:|---:|---|:-:|")
    for pause, med, worst, ref, ok, _ in rows:
        print(
            f"| {pause * 1e3:.0f} ms | {med * 1e3:.1f} / {worst * 1e3:.1f} ms | {ref * 1e3:.1f} ms "
            f"| {med / ref:.2f}x / {worst / ref:.2f}x | <= 1.3x / <= 2.5x "
            f"| {'yes' if ok else 'NO'} |"
        )
    print("\nEach click (ms), in order:")
    for pause, *_, clicks in rows:
        print(f"- {pause * 1e3:.0f} ms pace: {', '.join(f'{c * 1e3:.0f}' for c in clicks)}")
    print(f"\nOverall: {'PASS' if all(r[4] for r in rows) else 'FAIL'}")


if __name__ == "__main__":
    main()
