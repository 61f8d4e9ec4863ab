"""The torch adapter's speed, as ratios measured in one run.

1. **All layers in one pass**: ``adapter.activations(x, every layer)`` (what the explorer's
   per-sample cache asks for) against one bare ``model(x)`` under ``torch.no_grad()``,
   batch 1.  Target: <= 1.3x.  On a ResNet-18 (written out here, torchvision's layout, random
   weights, 224x224) and on EfficientNet-Lite0 (``cnnviz_widget.imagenet_torch``, real
   weights, 224x224).  Two reference rows bound what any recording can reach: a bare hook
   on every module holding its output (the memory of every output kept alive, the floor),
   and the same hooks holding nothing (the hooks alone); the page faults of a run of each
   are printed after the table.
2. **Grad-CAM**: ``grad_cam(model, x, layer, cls, upsample=False, normalize=False)`` against
   Captum's ``LayerGradCam(model, layer).attribute(x, target=cls, relu_attributions=True)``:
   the same numbers (checked), same model and layer.  Target: <= 1.1x.
3. **A layer switch**: the explorer's compute path (every layer's activations for the sample
   from one pass, cached; a switch draws the layer's mosaic PNG with
   ``render.feature_map_picture``) against the tutorial way (a forward hook on the layer, a
   forward pass, a ``plt.subplots`` grid with one ``imshow`` per channel saved as PNG).
   Target: >= 10x faster.  On the lesson-sized ResNet (32x32x3, blocks of 32 and 64
   channels: 4x8 and 8x8 grids); the first view of a sample (pass + PNG) is shown too.

Every path runs once untimed first; the cases of a comparison alternate run by run and a
ratio is the median of per-run ratios (robust to load bursts on a shared machine).

**Memory.**  By default the benchmark runs itself again with glibc told to keep freed memory
in the process (``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TOP_PAD_``),
so every case reuses pages the process already has.  Otherwise each run's outputs go back
to the operating system and the next run maps fresh pages; on the virtual machines this
project is measured on, a fresh page costs the host's fault too (about 4 ms per MiB: 76 MiB
of held activations, 300 ms), which swamps what the code costs, the bare forward pass's own
included (its median halves with memory kept).  ``--system-malloc`` measures without that;
the page faults of a run of each case are printed either way.

Run: ``.venv/bin/python benchmarks/bench_torch.py`` (about a minute on two cores);
``--threads 1`` pins torch to one thread (steadier on a loaded machine).
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from _report import Row, median, ms, print_table, ratio
from captum.attr import LayerGradCam
from torch import nn

from cnnviz_widget import grad_cam
from cnnviz_widget.adapters import adapter_for
from cnnviz_widget.imagenet_torch import efficientnet_lite0
from cnnviz_widget.render import feature_map_picture, grid_shape


# ---------------------------------------------------------------------------- models
class BasicBlock(nn.Module):
    """torchvision's ResNet basic block: one in-place ReLU object called twice."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet-18 (``widths=(64, 128, 256, 512)``, ImageNet stem) or the lesson's small one."""

    def __init__(self, widths: tuple[int, ...], stem: bool, classes: int) -> None:
        super().__init__()
        first = widths[0]
        if stem:
            self.conv1 = nn.Conv2d(3, first, 7, 2, 3, bias=False)
            self.maxpool: nn.Module = nn.MaxPool2d(3, 2, 1)
        else:
            self.conv1 = nn.Conv2d(3, first, 3, 1, 1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(first)
        self.relu = nn.ReLU(inplace=True)
        stages, cin = [], first
        for i, width in enumerate(widths):
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(BasicBlock(cin, width, stride), BasicBlock(width, width)))
            cin = width
        self.layers = nn.Sequential(*stages)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.avgpool(self.layers(x))
        return self.fc(torch.flatten(x, 1))


def resnet18() -> ResNet:
    torch.manual_seed(0)
    return ResNet((64, 128, 256, 512), stem=True, classes=1000).eval()


def lesson_resnet() -> ResNet:
    torch.manual_seed(0)
    return ResNet((32, 64), stem=False, classes=10).eval()


# ------------------------------------------------------------------------- timing
def timings(
    cases: dict[str, Callable[[int], object]],
    repeats: int,
    faults: dict[str, list[int]] | None = None,
) -> dict[str, list[float]]:
    """Seconds of each ``fn(i)`` per run, the cases interleaved run by run.  What ``fn``
    returns is dropped inside the timed span (freeing it is part of the cost).  ``faults``
    collects the page faults of every run when given."""
    for fn in cases.values():
        fn(0)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in cases}
    for i in range(repeats):
        for name, fn in cases.items():
            before = _minor_faults()
            start = time.perf_counter()
            fn(i)
            times[name].append(time.perf_counter() - start)
            if faults is not None:
                faults.setdefault(name, []).append(_minor_faults() - before)
    return times


# --------------------------------------------------------------------------- cases
def hooks_holding_every_output(
    model: nn.Module, x: torch.Tensor, hold: bool = True
) -> list[torch.Tensor]:
    """The least any recording can do: a forward hook on every module keeping a reference
    to its output (no copy, no transpose, no numpy; wrong under in-place ReLUs).  With
    ``hold=False`` the hooks keep nothing: the cost of the hooks alone."""
    kept: list[torch.Tensor] = []
    keep = kept.append if hold else (lambda o: None)
    handles = [m.register_forward_hook(lambda m, i, o: keep(o)) for m in model.modules()]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return kept


def _minor_faults() -> int:
    """Page faults of this process so far (0 where ``resource`` is missing: Windows)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)


#: Per model, the median page faults of one run of each all-layers case (printed after the
#: table: fresh memory the kernel has to map is what keeping every output costs most).
FAULTS: dict[str, dict[str, float]] = {}


def bench_all_layers(name: str, model: nn.Module, x: torch.Tensor, repeats: int) -> list[Row]:
    adapter = adapter_for(model)
    inputs = adapter.model_inputs(x, None)
    names = [info.name for info in adapter.list_layers()]
    recorded = adapter.activations(inputs, names)
    megabytes = sum(a.nbytes for a in recorded.values()) / 2**20

    def bare(i: int) -> object:
        with torch.no_grad():
            return model(x)

    faults: dict[str, list[int]] = {}
    t = timings(
        {
            "ours": lambda i: adapter.activations(inputs, names),
            "bare": bare,
            "hooks": lambda i: hooks_holding_every_output(model, x),
            "hooks only": lambda i: hooks_holding_every_output(model, x, hold=False),
        },
        repeats,
        faults,
    )
    FAULTS[name] = {case: statistics.median(n) for case, n in faults.items()}
    r = ratio(t, "ours", "bare")
    return [
        (
            f"{name}: all {len(recorded)} layers' activations ({megabytes:.0f} MiB) in one pass",
            median(t["ours"]),
            f"bare forward {ms(median(t['bare']))}",
            r,
            "<= 1.3x",
            r <= 1.3,
        ),
        (
            f"{name}: reference, a bare hook on every module holding its output",
            median(t["hooks"]),
            "bare forward",
            ratio(t, "hooks", "bare"),
            "",
            None,
        ),
        (
            f"{name}: reference, a bare hook on every module holding nothing",
            median(t["hooks only"]),
            "bare forward",
            ratio(t, "hooks only", "bare"),
            "",
            None,
        ),
    ]


def bench_grad_cam(
    name: str, model: nn.Module, x: torch.Tensor, layer: str, repeats: int
) -> tuple[Row, float]:
    with torch.no_grad():
        cls = int(model(x).argmax())
    captum = LayerGradCam(model, model.get_submodule(layer))

    def ours(i: int) -> np.ndarray:
        return grad_cam(model, x, layer, cls, upsample=False, normalize=False)

    def theirs(i: int) -> np.ndarray:
        return captum.attribute(x, target=cls, relu_attributions=True).detach().numpy()

    reference = theirs(0)[:, 0]
    agreement = float(np.abs(ours(0) - reference).max() / max(np.abs(reference).max(), 1e-12))
    t = timings({"ours": ours, "captum": theirs}, repeats)
    r = ratio(t, "ours", "captum")
    return (
        f"{name}: `grad_cam` at `{layer}` (raw CAM)",
        median(t["ours"]),
        f"Captum `LayerGradCam` {ms(median(t['captum']))}",
        r,
        "<= 1.1x",
        r <= 1.1,
    ), agreement


def naive_view(model: nn.Module, module: nn.Module, x: torch.Tensor) -> bytes:
    """The tutorial way: a forward hook, a forward pass, a subplot per channel, savefig."""
    captured: dict[str, torch.Tensor] = {}
    handle = module.register_forward_hook(lambda m, i, o: captured.setdefault("a", o.detach()))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    maps = captured["a"][0].numpy()
    rows, cols = grid_shape(maps.shape[0])
    fig, axes = plt.subplots(rows, cols, figsize=(cols, rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < maps.shape[0]:
            ax.imshow(maps[i], cmap="viridis")
        ax.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def bench_switch(repeats: int) -> list[Row]:
    model = lesson_resnet()
    samples = torch.randn(repeats + 2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    adapter = adapter_for(model)
    inputs = adapter.model_inputs(samples, None)
    names = [info.name for info in adapter.list_layers()]
    cache = adapter.activations([inputs[0][:1]], names)  # sample 0, as the explorer caches it
    rows: list[Row] = []
    for layer in ("conv1", "layers.0.0.bn1", "layers.0.1", "layers.1.0.conv2", "layers.1"):
        module = model.get_submodule(layer)
        t = timings(
            {
                "switch": lambda i, layer=layer: feature_map_picture(cache[layer][0]).png,
                "naive": lambda i, module=module: naive_view(model, module, samples[:1]),
            },
            repeats,
        )
        r = ratio(t, "naive", "switch")
        channels = cache[layer].shape[-1]
        rows.append(
            (
                f"lesson ResNet: switch to `{layer}` ({channels} maps, activations cached)",
                median(t["switch"]),
                f"tutorial way {ms(median(t['naive']))}",
                r,
                ">= 10x faster",
                r >= 10,
            )
        )

    def first_view(i: int) -> bytes:
        acts = adapter.activations([inputs[0][1 + i : 2 + i]], names)
        return feature_map_picture(acts["layers.1"][0]).png

    module = model.get_submodule("layers.1")
    t = timings(
        {
            "first": first_view,
            "naive": lambda i: naive_view(model, module, samples[1 + i : 2 + i]),
        },
        repeats,
    )
    r = ratio(t, "naive", "first")
    rows.append(
        (
            "lesson ResNet: first view of a new sample, `layers.1` (pass over all layers + PNG)",
            median(t["first"]),
            f"tutorial way {ms(median(t['naive']))}",
            r,
            ">= 10x faster",
            r >= 10,
        )
    )
    return rows


#: glibc's tunables that keep freed memory in the process (see Memory in the docstring).
KEEP_MEMORY = {
    "MALLOC_TRIM_THRESHOLD_": str(2**32),
    "MALLOC_MMAP_THRESHOLD_": str(2**32),
    "MALLOC_TOP_PAD_": str(2**28),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed runs per case (>= 5)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's)")
    parser.add_argument(
        "--system-malloc",
        action="store_true",
        help="leave glibc's defaults (freed memory goes back to the system; see Memory above)",
    )
    args = parser.parse_args()
    if not args.system_malloc and not KEEP_MEMORY.items() <= os.environ.items():
        # The variables take effect at start-up only: run again with them.
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **KEEP_MEMORY})
    if args.threads:
        torch.set_num_threads(args.threads)

    print(
        f"# cnnviz-widget torch benchmark, {datetime.datetime.now().isoformat(timespec='minutes')}"
    )
    print(
        f"{platform.platform()}, {os.cpu_count()} CPU cores, Python "
        f"{platform.python_version()}, torch {torch.__version__} with "
        f"{torch.get_num_threads()} threads; medians of {args.repeats} runs, batch 1; "
        + (
            "glibc's default malloc (freed memory goes back to the system)\n"
            if args.system_malloc
            else "freed memory kept in the process (glibc MALLOC_* variables)\n"
        )
    )
    image = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    resnet, lite0 = resnet18(), efficientnet_lite0()
    rows = [
        *bench_all_layers("ResNet-18", resnet, image, args.repeats),
        *bench_all_layers("EfficientNet-Lite0", lite0, image, args.repeats),
    ]
    agreements = []
    for name, model, layer in (
        ("ResNet-18", resnet, "layers.3"),
        ("ResNet-18", resnet, "layers.2.1.conv2"),
        ("EfficientNet-Lite0", lite0, "_conv_head"),
    ):
        row, agreement = bench_grad_cam(name, model, image, layer, args.repeats)
        rows.append(row)
        agreements.append(agreement)
    rows += bench_switch(args.repeats)
    print_table(rows)
    print("\nPage faults per run (median): fresh memory the kernel maps for the outputs kept.")
    for model_name, counts in FAULTS.items():
        shown = ", ".join(f"{case} {n:,.0f}" for case, n in counts.items())
        print(f"- {model_name}: {shown}")
    print(
        f"\nRaw CAMs agree with Captum's to {max(agreements):.1e} of their maximum.  "
        f"Overall: {'PASS' if all(r[-1] is not False for r in rows) else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
