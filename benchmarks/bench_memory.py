"""Memory over re-run cells: RSS across 30 create/close cycles of an explorer.

Re-running a notebook cell makes a new explorer and drops the old one.  Before explorers were
freed on close (anywidget's file watcher held each one, and with it its activation cache and
the model), ten re-runs on a mid-sized model kept about 390 MiB.  This creates a VGG-style CNN
at 96x96 each cycle (a new model, as a re-run cell would), opens three tabs, closes the
explorer, drops everything and records the process's RSS; with ``--keep-model`` the same model
is reused (a cell that re-runs only the explorer line).

    .venv/bin/python benchmarks/bench_memory.py            # about a minute on two cores
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def make_model(keras):
    x = keras.Input((96, 96, 3))
    h = x
    for i, filters in enumerate((32, 64, 128, 128)):
        h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"c{i}")(h)
        h = keras.layers.MaxPooling2D(name=f"p{i}")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(x, keras.layers.Dense(10)(h))


def wait(explorer, timeout=60.0):
    latest = explorer._latest
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if explorer.snapshot.get("id") == latest:
            return
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--keep-model", action="store_true")
    args = parser.parse_args()
    import keras

    from cnnviz_widget import LayerExplorer

    images = np.random.default_rng(0).random((8, 96, 96, 3), dtype=np.float32)
    kept = make_model(keras) if args.keep_model else None
    readings = []
    for cycle in range(args.cycles):
        model = kept if kept is not None else make_model(keras)
        explorer = LayerExplorer(model, images)
        explorer.send = lambda *a, **k: None
        for sample in range(4):  # fill the activation cache with four samples
            explorer.sample = sample
            wait(explorer)
        explorer.view = "gradcam"
        wait(explorer)
        explorer.close()
        del explorer, model
        gc.collect()
        readings.append(rss_mib())
        print(f"cycle {cycle + 1:2d}: RSS {readings[-1]:7.1f} MiB", flush=True)
    first, last = readings[min(4, len(readings) - 1)], readings[-1]
    per_cycle = (last - first) / max(1, len(readings) - 1 - min(4, len(readings) - 1))
    print(
        f"\nRSS after cycle 5: {first:.1f} MiB, after cycle {len(readings)}: {last:.1f} MiB "
        f"({per_cycle:+.2f} MiB a cycle after warm-up)"
    )


if __name__ == "__main__":
    main()
