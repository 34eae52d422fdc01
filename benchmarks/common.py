"""What every benchmark module shares: a timer that takes the best of several runs, the
`Figure` row the runner prints and the `Series` it draws with `--plots`.

A benchmark module is `benchmarks/bench_<area>.py` with `run(quick: bool) -> list[Figure | Series]`.
Baselines are measured in the same process and run, so ratios hold on a noisy machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable


@dataclass(frozen=True)
class Figure:
    """One row of the table: a measured figure, its baseline and the target it must meet."""

    name: str
    value: float
    unit: str
    target: str
    met: bool
    baseline: str = ""
    baseline_value: float | None = None

    @property
    def ratio(self) -> float | None:
        if not self.baseline_value:
            return None
        return self.value / self.baseline_value


@dataclass(frozen=True)
class Series:
    """One curve of a plot (`python -m benchmarks --plots DIR`): the series that name the same
    `plot` are drawn on one pair of axes, in `DIR/<plot>.png`, each labelled `label`."""

    plot: str
    title: str
    label: str
    x_label: str
    y_label: str
    points: tuple[tuple[float, float], ...]
    log_x: bool = False
    log_y: bool = False


def seconds_per_call(function: Callable[[], object], *, repeat: int = 5, min_time: float = 0.2) -> float:
    """Best-of-`repeat` seconds for one call, each run looping until `min_time` has passed."""
    loops = 1
    while True:  # calibrate the loop count on one run
        started = time.perf_counter()
        for _ in range(loops):
            function()
        elapsed = time.perf_counter() - started
        if elapsed >= min_time / 4:
            break
        loops *= 4
    best = elapsed / loops
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(loops):
            function()
        best = min(best, (time.perf_counter() - started) / loops)
    return best


def rate(function: Callable[[], object], items_per_call: int = 1, **timing: float) -> float:
    """Items per second, from the best run."""
    return items_per_call / seconds_per_call(function, **timing)  # type: ignore[arg-type]


def submit_blocks(submitblock: Callable[[str], object], raws: Iterable[bytes], node: str) -> float:
    """Seconds taken to hand every serialised block to a node's `submitblock` RPC (a callable
    taking the hex); RuntimeError naming `node` on the first block it refuses."""
    started = time.perf_counter()
    for raw in raws:
        refused = submitblock(raw.hex())
        if refused is not None:
            raise RuntimeError(f"{node} refused a generated block: {refused}")
    return time.perf_counter() - started
