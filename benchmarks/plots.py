"""`python -m benchmarks --plots DIR`: each plot the benchmarks' `Series` name, drawn with
matplotlib (the `plots` extra) into `DIR/<plot>.png`, every series of it a labelled line."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

try:
    import matplotlib
except ImportError as error:  # pragma: no cover - depends on the install
    raise SystemExit(f"--plots needs matplotlib: pip install '.[plots]' ({error})") from None

matplotlib.use("Agg")  # files only: no display, no GUI toolkit
import matplotlib.pyplot as plt  # noqa: E402

from benchmarks.common import Series  # noqa: E402

__all__ = ["draw"]

DPI = 110
SIZE = (7.0, 4.2)  # inches


def draw(series: list[Series], directory: Path) -> list[Path]:
    """One PNG per plot; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    by_plot: dict[str, list[Series]] = defaultdict(list)
    for one in series:
        by_plot[one.plot].append(one)
    written = []
    for plot, lines in by_plot.items():
        figure, axes = plt.subplots(figsize=SIZE, dpi=DPI)
        first = lines[0]
        for line in lines:
            xs, ys = zip(*line.points) if line.points else ((), ())
            axes.plot(xs, ys, marker="o" if len(xs) <= 20 else None, markersize=4, label=line.label)
        axes.set_title(first.title)
        axes.set_xlabel(first.x_label)
        axes.set_ylabel(first.y_label)
        if first.log_x:
            axes.set_xscale("log")
        if first.log_y:
            axes.set_yscale("log")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
        figure.tight_layout()
        path = directory / f"{plot}.png"
        figure.savefig(path)
        plt.close(figure)
        written.append(path)
    return written
