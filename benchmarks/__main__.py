"""Run every benchmark and print one table: `python -m benchmarks [--quick] [--plots DIR] [AREA ...]`.

Each row gives the figure, the baseline measured in the same run, their ratio, the target and
whether it was met. With `--plots DIR` the curves the benchmarks measured on the way (sync
progress over time, framing rate by message size, RSS against peers, the status page's CPU
against its viewers) are drawn as PNGs in DIR (matplotlib: `pip install '.[plots]'`). The exit status is non-zero if any target was missed, so the command can
gate a release; CI does not run it (timings on shared machines are noise, see README).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from benchmarks.common import Figure, Series


def _format_number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def render(figures: list[Figure]) -> str:
    rows = [("figure", "value", "baseline", "ratio", "target", "met")]
    for figure in figures:
        baseline = ""
        if figure.baseline:
            shown = "" if figure.baseline_value is None else f" {_format_number(figure.baseline_value)}"
            baseline = f"{figure.baseline}{shown}"
        ratio = "" if figure.ratio is None else f"{figure.ratio:.2f}x"
        value = f"{_format_number(figure.value)} {figure.unit}"
        rows.append((figure.name, value, baseline, ratio, figure.target, "yes" if figure.met else "NO"))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    areas = sorted(
        info.name.removeprefix("bench_")
        for info in pkgutil.iter_modules([str(Path(__file__).parent)])
        if info.name.startswith("bench_")
    )
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("areas", nargs="*", metavar="AREA", help=f"which to run (default all): {', '.join(areas)}")
    parser.add_argument("--quick", action="store_true", help="smaller inputs, fewer repeats")
    parser.add_argument("--plots", type=Path, metavar="DIR", help="also draw the measured curves as PNGs in DIR")
    args = parser.parse_args(argv)
    unknown = set(args.areas) - set(areas)
    if unknown:
        parser.error(f"unknown area(s): {', '.join(sorted(unknown))}")
    if args.plots is not None:
        from benchmarks import plots  # before the runs: a missing matplotlib fails at once

    figures: list[Figure] = []
    series: list[Series] = []
    for area in args.areas or areas:
        module = importlib.import_module(f"benchmarks.bench_{area}")
        print(f"running {area} ...", file=sys.stderr, flush=True)
        for result in module.run(args.quick):
            (series if isinstance(result, Series) else figures).append(result)
    print(render(figures))
    if args.plots is not None:
        for path in plots.draw(series, args.plots):
            print(f"plot: {path}")
    return 0 if all(figure.met for figure in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
