"""Bar charts of a benchmark's results, as hand-written SVG (no plotting
library): requests per second per proxy, one chart per mode, from the
``summary`` of a results file (``bench/results/latest.json``).

``bench/run.py`` writes them beside its results; ``bench/chart.py`` draws
them from a results file into ``docs/_static/`` for ``docs/performance.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from .report import BASELINE, MODE_TITLES, PROXYKIT

WIDTH = 640
LABEL_WIDTH = 170
VALUE_WIDTH = 80
ROW = 26
BAR = 18
TOP = 44
BOTTOM = 16
COLOURS = {PROXYKIT: "#2f6f9f", "proxykit+accesslog": "#5b93bd"}
OTHER = "#9aa5ad"


def bars(payload: dict[str, Any], mode: str, size: str = "small", conns: int = 50) -> list[tuple[str, float | None]]:
    """The median req/s of each proxy of ``mode`` (the no-proxy baseline
    last), for responses of ``size`` over ``conns`` connections, in the
    order of the results' tables; ``None`` for a proxy without results."""
    meta = payload["meta"]
    proxies = list(meta["proxies"].get(mode, []))
    if mode != "tls":
        proxies += [p for p in meta["proxies"].get(BASELINE, []) if p not in proxies]
    rows = payload["summary"]["http"]
    found: list[tuple[str, float | None]] = []
    for proxy in proxies:
        rps = None
        for row in rows:
            if (
                row["proxy"] == proxy
                and row["mode"] in (mode, BASELINE)
                and row["size"] == size
                and row["conns"] == conns
            ):
                rps = row["rps"]
                break
        found.append((proxy, rps))
    return found


def svg(title: str, values: list[tuple[str, float | None]], unit: str = "req/s") -> str:
    """A horizontal bar chart: one bar per (label, value), scaled to the
    largest value; a missing value is written as such, without a bar."""
    top = max((v for _, v in values if v), default=0.0)
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = TOP + ROW * len(values) + BOTTOM
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}"'
        f' viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="13">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="8" y="22" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    for index, (label, value) in enumerate(values):
        y = TOP + ROW * index
        middle = y + BAR / 2 + 4
        out.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{middle:.0f}" text-anchor="end">{escape(label)}</text>'
        )
        if not value:
            out.append(f'<text x="{LABEL_WIDTH}" y="{middle:.0f}" fill="#a33">no result</text>')
            continue
        width = span * value / top
        colour = COLOURS.get(label, OTHER)
        out.append(
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}" height="{BAR}"'
            f' fill="{colour}"><title>{escape(label)}: {value:,.0f} {unit}</title></rect>'
        )
        out.append(f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{middle:.0f}">{value:,.0f}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def charts(payload: dict[str, Any]) -> dict[str, str]:
    """A chart per measured mode with results, by mode."""
    meta = payload["meta"]
    drawn = {}
    for mode in meta["modes"]:
        values = bars(payload, mode)
        if not any(value for _, value in values):
            continue
        title = f"{MODE_TITLES.get(mode, mode)}: req/s, 100 B responses, 50 connections"
        drawn[mode] = svg(title, values)
    return drawn


def write_charts(payload: dict[str, Any], directory: Path, stem: str = "bench") -> list[Path]:
    """Write each chart of ``payload`` into ``directory`` as
    ``STEM-MODE.svg`` (``bench-forward.svg``)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for mode, text in charts(payload).items():
        path = directory / f"{stem}-{mode}.svg"
        path.write_text(text)
        written.append(path)
    return written
