"""Run every benchmark and print one table: `python -m benchmarks [--quick] [AREA ...]`.

Each row gives the figure, the baseline measured in the same run, their ratio, the target and
whether it was met. The exit status is non-zero if any target was missed, so the command can
gate a release; CI does not run it (timings on shared machines are noise, see README).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from benchmarks.common import Figure


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
    args = parser.parse_args(argv)
    unknown = set(args.areas) - set(areas)
    if unknown:
        parser.error(f"unknown area(s): {', '.join(sorted(unknown))}")
    figures: list[Figure] = []
    for area in args.areas or areas:
        module = importlib.import_module(f"benchmarks.bench_{area}")
        print(f"running {area} ...", file=sys.stderr, flush=True)
        figures.extend(module.run(args.quick))
    print(render(figures))
    return 0 if all(figure.met for figure in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
