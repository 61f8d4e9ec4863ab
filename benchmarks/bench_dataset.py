"""top_activations over a dataset: throughput, peak memory, and a Dask LocalCluster run.

The model is the bundled digits CNN (``cnnviz_widget.data.digits_cnn()``); the dataset is
the 5,000 bundled MNIST digits (``digits(None, split="test")`` and ``"train"``), and larger
datasets repeat them, each repetition shifted right by one more pixel (``np.roll``), so the
5,000 and the 50,000 images are the same digits, made the same way.

1. **Throughput**: ``top_activations(model, images, layer, batch_size=64)`` against bare
   forward passes over the same batches: a ``tf.function`` of
   ``keras.Model(model.inputs, layer.output)`` (the pass a person would write to get the
   layer), output to numpy.  Target: the scan at least 0.8x the bare passes' images/s.
   Cases alternate within each repeat; times are medians.
2. **Peak memory** of a scan of a generator of 5,000 against 50,000 images, each in a fresh
   process after a warm-up scan: the tracemalloc peak (what Python and numpy allocate) and
   the growth of the peak resident set (``VmHWM``, reset through ``/proc/self/clear_refs``).
   Target: the same for both sizes.
3. **LocalCluster** (2 worker processes, 1 thread each) against the local run on the same
   array: the first call (workers import TensorFlow and load the model) and warm calls, and
   whether the results are identical.

Run: ``.venv/bin/python benchmarks/bench_dataset.py`` (a few minutes on two cores);
``--quick`` for a short check.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
from _report import in_child, medians

BATCH = 64
THROUGHPUT_LAYERS = (["conv2d"], ["conv2d_1"], ["dense"], ["conv2d", "conv2d_1", "dense"])


def bundled_digits() -> np.ndarray:
    from cnnviz_widget.data import digits

    test, _ = digits(None, split="test")
    train, _ = digits(None, split="train")
    return np.concatenate([test, train])


def augmented(base: np.ndarray, n: int, batch: int = BATCH) -> Iterator[np.ndarray]:
    """``n`` images: ``base`` repeated, repetition r shifted right by r pixels."""
    for start in range(0, n, batch):
        rows = np.arange(start, min(start + batch, n))
        yield np.stack([np.roll(base[i % len(base)], i // len(base), axis=1) for i in rows])


def throughput(model, images: np.ndarray, repeats: int) -> list[tuple[str, float, float]]:
    import keras
    import tensorflow as tf

    from cnnviz_widget.methods.dataset import top_activations

    rows = []
    for layers in THROUGHPUT_LAYERS:
        outputs = [model.get_layer(name).output for name in layers]
        sub = keras.Model(model.inputs, outputs)
        bare_fn = tf.function(lambda t, sub=sub: sub(t, training=False))
        spec_batches = [images[s : s + BATCH] for s in range(0, len(images), BATCH)]

        def bare(bare_fn=bare_fn, spec_batches=spec_batches) -> None:
            for batch in spec_batches:
                out = bare_fn(tf.constant(batch))
                [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]

        def scan(layers=layers) -> None:
            top_activations(model, images, layers, batch_size=BATCH, progress=False)

        bare()
        scan()  # warm: tracing
        t = medians({"bare": bare, "scan": scan}, repeats)
        rows.append(("`" + "`, `".join(layers) + "`", t["bare"], t["scan"]))
    return rows


def memory_child(n: int) -> None:
    """In a fresh process: peaks of one scan of ``n`` generated images, as JSON on stdout."""
    from cnnviz_widget.data import digits_cnn
    from cnnviz_widget.methods.dataset import top_activations

    model = digits_cnn()
    base = bundled_digits()
    layers = ["conv2d", "conv2d_1", "dense"]
    top_activations(model, augmented(base, 2 * BATCH), layers, progress=False)  # warm
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    rss_before = _status_kib("VmRSS")
    tracemalloc.start()
    start = time.perf_counter()
    result = top_activations(model, augmented(base, n), layers, progress=False)
    seconds = time.perf_counter() - start
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result["dense"].indices.max() >= n - len(base)
    print(
        json.dumps(
            {
                "n": n,
                "tracemalloc_peak": traced_peak,
                "rss_peak_growth": (_status_kib("VmHWM") - rss_before) * 1024,
                "seconds": seconds,
            }
        )
    )


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def memory(sizes: list[int]) -> list[dict]:
    results = []
    for n in sizes:
        results.append(in_child(__file__, "--memory-child", str(n)))
    return results


def cluster(model, images: np.ndarray, repeats: int) -> dict:
    import distributed

    from cnnviz_widget.methods.dataset import top_activations

    layers = ["conv2d", "conv2d_1", "dense"]
    start = time.perf_counter()
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as local_cluster,
        distributed.Client(local_cluster) as client,
    ):
        started = time.perf_counter() - start
        start = time.perf_counter()
        first = top_activations(model, images, layers, client=client, progress=False)
        cold = time.perf_counter() - start
        local = top_activations(model, images, layers, progress=False)
        identical = all(
            np.array_equal(first[n].indices, local[n].indices)
            and np.array_equal(first[n].values, local[n].values)
            for n in layers
        )
        t = medians(
            {
                "local": lambda: top_activations(model, images, layers, progress=False),
                "cluster": lambda: top_activations(
                    model, images, layers, client=client, progress=False
                ),
            },
            repeats,
        )
    return {"started": started, "cold": cold, "identical": identical, **t}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1,000 images, 3 repeats")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return

    import keras
    import tensorflow as tf

    from cnnviz_widget.data import digits_cnn

    model = digits_cnn()
    images = bundled_digits()
    repeats = args.repeats
    if args.quick:
        images, repeats = images[:1000], 3
    n = len(images)

    print(f"# top_activations on the digits CNN, {n:,} bundled digits, batch {BATCH}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{datetime.datetime.now():%Y-%m-%dT%H:%M}, {platform.platform()}, "
        f"{os.cpu_count()} CPUs (load average {load} at the start), TensorFlow "
        f"{tf.__version__}, Keras {keras.__version__}, medians of {repeats} runs\n"
    )
    print("| layers | bare passes | scan | scan / bare throughput | target | pass |")
    print("|---|---:|---:|---:|---|:-:|")
    for label, bare, scan in throughput(model, images, repeats):
        ratio = bare / scan
        print(
            f"| {label} | {n / bare:,.0f} img/s | {n / scan:,.0f} img/s | {ratio:.2f}x "
            f"| >= 0.8x | {'yes' if ratio >= 0.8 else '**NO**'} |"
        )

    sizes = [1_000, 5_000] if args.quick else [5_000, 50_000]
    peaks = memory(sizes)
    print("\n| images (generator) | tracemalloc peak | peak RSS growth | scan time |")
    print("|---:|---:|---:|---:|")
    for p in peaks:
        print(
            f"| {p['n']:,} | {p['tracemalloc_peak'] / 2**20:.2f} MiB "
            f"| {p['rss_peak_growth'] / 2**20:.1f} MiB | {p['seconds']:.1f} s |"
        )
    ratio = peaks[1]["tracemalloc_peak"] / peaks[0]["tracemalloc_peak"]
    print(
        f"\ntracemalloc peak, {sizes[1]:,} / {sizes[0]:,} images: {ratio:.2f}x "
        f"(target: the same) {'yes' if ratio < 1.2 else '**NO**'}"
    )

    c = cluster(model, images, repeats)
    print("\n| LocalCluster, 2 processes x 1 thread | time |")
    print("|---|---:|")
    print(f"| cluster start | {c['started']:.1f} s |")
    print(f"| first call (workers import TensorFlow, load the model) | {c['cold']:.1f} s |")
    print(f"| warm call on the cluster | {c['cluster']:.2f} s |")
    print(f"| local run, same array | {c['local']:.2f} s |")
    print(f"\nCluster result identical to the local run: {c['identical']}")


if __name__ == "__main__":
    main()
