#!/usr/bin/env python3
"""Draw the benchmark's charts from a results file.

    python3 bench/chart.py                              # bench/results/latest.json -> docs/_static/
    python3 bench/chart.py RESULTS.json --out DIRECTORY

One SVG bar chart per measured mode (``bench-forward.svg``,
``bench-reverse.svg``, ``bench-tls.svg``): the median requests/s of each
proxy for 100-byte responses over 50 connections, as ``bench/run.py``
measured them.  ``docs/performance.md`` shows those in ``docs/_static/``.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.chart import write_charts

BENCH_DIR = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "results", nargs="?", type=Path, default=BENCH_DIR / "results" / "latest.json",
        help="a results file of bench/run.py (default: bench/results/latest.json)",
    )
    parser.add_argument(
        "--out", type=Path, default=BENCH_DIR.parent / "docs" / "_static",
        help="where to write the charts (default: docs/_static)",
    )
    args = parser.parse_args(argv)
    try:
        payload = json.loads(args.results.read_text())
    except (OSError, ValueError) as exc:
        print(f"chart: cannot read {args.results}: {exc}", file=sys.stderr)
        return 1
    for path in write_charts(payload, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
