"""The benchmark's published results: one results file per mode, and its
chart, in ``docs/_static/bench/`` for the documentation's performance page
(``docs/performance.rst``, whose tables the ``proxykit-bench`` directive of
``docs/_ext/proxykit_bench.py`` draws from these files when the
documentation is built).

A results file of ``bench/run.py`` may hold several modes.  Publishing
splits it: ``MODE.json`` keeps the run's ``meta`` (with only that mode's
proxies and command lines) and the rows of its ``summary`` that belong to
that mode (the no-proxy baseline goes with forward and reverse mode, the
CONNECT, slow-client, idle-connection and concurrent-tunnel phases with
forward mode), and leaves out ``raw``,
every repetition of every load, which the page does not show.
``MODE.svg`` is the chart ``harness/chart.py`` draws from ``MODE.json``.
Publishing a published file again writes the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .chart import charts
from .report import BASELINE

# The phases run in forward mode only (bench/run.py).
FORWARD_ONLY = ("tunnel", "slow_client", "idle", "tunnels")


class PublishError(Exception):
    """A set of results files that cannot be published as given."""


def with_baseline(mode: str) -> tuple[str, ...]:
    """The modes of the rows that belong to ``mode``'s tables: the
    no-proxy baseline belongs to forward and reverse mode (TLS mode has
    none: its origin is plain HTTP)."""
    return (mode,) if mode == "tls" else (mode, BASELINE)


def split(payload: dict[str, Any], mode: str) -> dict[str, Any]:
    """The part of the results ``payload`` that belongs to ``mode``, as a
    results file of that one mode, without the raw runs; the keys keep
    their order."""
    modes = with_baseline(mode)
    meta = dict(payload["meta"])
    meta["modes"] = [mode]
    proxies = meta.get("proxies", {})
    meta["proxies"] = {m: list(proxies.get(m, [])) for m in modes}
    if "proxy_commands" in meta:
        named = {f"{m} {name}" for m in modes for name in meta["proxies"][m]}
        meta["proxy_commands"] = {
            key: command for key, command in meta["proxy_commands"].items() if key in named
        }
    summary: dict[str, Any] = {}
    for key, value in payload["summary"].items():
        if key in FORWARD_ONLY:
            summary[key] = list(value) if mode == "forward" else []
        elif key == "client_keepalive":
            summary[key] = {m: value[m] for m in modes if m in value}
        elif isinstance(value, list):
            summary[key] = [row for row in value if row.get("mode", mode) in modes]
        else:
            summary[key] = value
    return {"meta": meta, "summary": summary}


def dumps(payload: dict[str, Any]) -> str:
    """``payload`` as a published file's text."""
    return json.dumps(payload, indent=2) + "\n"


def published(sources: list[tuple[str, dict[str, Any]]]) -> tuple[dict[str, str], list[str]]:
    """The files publishing the results ``sources`` (each a name for
    messages and a results file's content) writes, by file name
    (``forward.json``, ``forward.svg``, ...), and a note for each mode
    left out because it has no requests-per-second results.

    @raise PublishError: When a run was interrupted, or a mode is in more
        than one of them.
    """
    files: dict[str, str] = {}
    notes = []
    origin: dict[str, str] = {}
    for name, payload in sources:
        meta = payload["meta"]
        if meta.get("interrupted"):
            raise PublishError(f"{name}: the run was interrupted; measure again")
        for mode in meta["modes"]:
            if mode in origin:
                raise PublishError(f"{mode} mode is in both {origin[mode]} and {name}: give one")
            origin[mode] = name
            mine = split(payload, mode)
            chart = charts(mine).get(mode)
            if chart is None:
                notes.append(f"{name}: {mode} mode has no req/s results: not published")
                continue
            files[f"{mode}.json"] = dumps(mine)
            files[f"{mode}.svg"] = chart
    return files, notes


def publish(paths: list[Path], directory: Path) -> tuple[list[Path], list[str]]:
    """Publish the results files ``paths`` into ``directory``: each mode's
    ``MODE.json`` and ``MODE.svg``, replacing those of an earlier run of
    that mode (the other modes' files stay).  Nothing is written when any
    of them cannot be published.

    @return: The files written, and the notes of L{published}.
    @raise PublishError: When a file cannot be read, or L{published}
        refuses them.
    """
    sources = []
    for path in paths:
        try:
            sources.append((path.name, json.loads(path.read_text())))
        except (OSError, ValueError) as exc:
            raise PublishError(f"cannot read {path}: {exc}") from exc
    files, notes = published(sources)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        target = directory / name
        target.write_text(text)
        written.append(target)
    return written, notes
