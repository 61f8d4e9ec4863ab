"""What the benchmarks share: cases timed interleaved, medians of ratios, the Markdown table.

Imported by the ``bench_*.py`` scripts, which run from this folder (``python
benchmarks/bench_x.py`` puts it first on ``sys.path``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

#: ``(case, seconds, compared with, ratio, target, pass)``; None leaves a cell empty.
Row = tuple[str, float, str, float | None, str, bool | None]


def interleaved(
    cases: dict[str, Callable[[int], object]],
    repeats: int,
    *,
    setup: Callable[[int], object] | None = None,
    warm: bool = False,
) -> dict[str, list[float]]:
    """Seconds of each ``fn(i)`` per run ``i``, the cases interleaved run by run so that the
    load of a shared machine falls on all of them alike.  ``setup(i)`` runs untimed before
    each; with ``warm`` every case runs once, untimed, first (tracing, first allocations)."""
    if warm:
        for fn in cases.values():
            fn(0)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for i in range(repeats):
        for name, fn in cases.items():
            if setup is not None:
                setup(i)
            start = time.perf_counter()
            fn(i)
            times[name].append(time.perf_counter() - start)
    return times


def medians(cases: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each ``fn()``, the cases interleaved within each run."""
    calls = {name: (lambda i, fn=fn: fn()) for name, fn in cases.items()}
    return {name: median(t) for name, t in interleaved(calls, repeats).items()}


def median(times: list[float]) -> float:
    return statistics.median(times)


def ratio(times: dict[str, list[float]], a: str, b: str) -> float:
    """Median over runs of a/b, each pair timed back to back (robust to load bursts)."""
    return statistics.median(x / y for x, y in zip(times[a], times[b], strict=True))


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms"


def in_child(script: str, *args: str, env: dict[str, str] | None = None) -> Any:
    """Run ``script`` with ``args`` in a fresh interpreter and decode the JSON it prints last
    (a case that must start with a process of its own: its memory, its first touches)."""
    out = subprocess.run(
        [sys.executable, script, *args],
        capture_output=True,
        text=True,
        check=True,
        env=None if env is None else {**os.environ, **env},
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def print_table(rows: list[Row]) -> None:
    print("| case | time (median) | compared with | ratio (median of pairs) | target | pass |")
    print("|---|---:|---|---:|---|:-:|")
    for case, t, ref, r, target, ok in rows:
        shown = "" if r is None else f"{r:.2f}x"
        mark = "" if ok is None else ("yes" if ok else "**NO**")
        print(f"| {case} | {ms(t)} | {ref} | {shown} | {target} | {mark} |")
