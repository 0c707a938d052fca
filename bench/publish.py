#!/usr/bin/env python3
"""Publish benchmark results for the documentation's performance page.

    python3 bench/publish.py bench/results/latest.json
    python3 bench/publish.py RESULTS.json [RESULTS.json ...] [--out DIRECTORY]

Writes, for each mode a results file of ``bench/run.py`` measured,
``MODE.json`` (that mode's part of the results, without the raw runs) and
``MODE.svg`` (its chart, drawn by ``harness/chart.py`` from ``MODE.json``)
into ``docs/_static/bench/``, replacing an earlier run's files of the same
mode; ``docs/performance.rst`` shows them.  A mode may come from one of the
files only.  Standard library only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.publish import PublishError, publish

BENCH_DIR = Path(__file__).resolve().parent
PUBLISHED = BENCH_DIR.parent / "docs" / "_static" / "bench"


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument(
        "results", nargs="+", type=Path,
        help="results files of bench/run.py (bench/results/bench-TIME.json)",
    )
    options.add_argument(
        "--out", type=Path, default=PUBLISHED,
        help="where to write them (default: docs/_static/bench)",
    )
    return options


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        written, notes = publish(args.results, args.out)
    except PublishError as exc:
        print(f"publish: {exc}", file=sys.stderr)
        return 1
    for note in notes:
        print(f"publish: {note}", file=sys.stderr)
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
