"""
The performance page's figures, drawn from the benchmark's published
results when the documentation is built, so that the page cannot drift
from them.

C{.. proxykit-bench:: MODE} shows, for one mode (C{forward}, C{reverse}
or C{tls}), what C{python3 bench/publish.py} wrote into
C{docs/_static/bench/}: the chart C{MODE.svg}, the run (date, command,
repetitions, commit, machine, pinning, versions) and, from C{MODE.json},
a table per load (response size and connections) with each proxy's
requests per second, p99 latency, CPU share and CPU time per request, and
the ratio of proxykit's requests per second to the proxy's; the CONNECT,
slow-client, idle-connection and concurrent-tunnel phases in forward mode;
and the verdict of each target the run checked.  Where a mode has no published results the directive says
so.

L{benchLines} produces the reStructuredText from a results file's content;
the tests call it without building the docs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

__all__ = ["benchLines", "escape", "setup"]

PROXYKIT = "proxykit"
BASELINE = "baseline"
PUBLISHED = "_static/bench"
"""Where C{bench/publish.py} writes, relative to C{docs/}."""

MODE_TITLES = {
    "forward": "forward proxy",
    "reverse": "reverse proxy",
    "tls": "reverse proxy over TLS",
}

Row = dict[str, Any]


def escape(text: str) -> str:
    """
    C{text} as reST plain text: the characters of inline markup escaped.
    """
    return re.sub(r"([\\*`|_\[\]<>])", r"\\\1", text)


def literal(text: str) -> str:
    """
    C{text} as a reST inline literal.
    """
    return f"``{text}``" if text.strip() and "``" not in text else escape(text)


def sizeName(size: str, sizes: dict[str, int]) -> str:
    """
    A response size of the results (C{"small"}) in bytes (C{"100 B"}).
    """
    count = sizes.get(size)
    if count is None:
        return size
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale and count % scale == 0:
            return f"{count // scale} {unit}"
    return f"{count} B"


def number(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def proxiesOf(meta: dict[str, Any], mode: str) -> list[str]:
    """
    The proxies of C{mode} in the results' order, the no-proxy baseline
    last (TLS mode has none).
    """
    names = list(meta.get("proxies", {}).get(mode, []))
    if mode != "tls":
        names += [n for n in meta.get("proxies", {}).get(BASELINE, []) if n not in names]
    return names


def find(rows: list[Row], proxy: str, size: str, conns: int, mode: str) -> Row | None:
    for row in rows:
        if (
            row.get("proxy") == proxy
            and row.get("mode") in (mode, BASELINE)
            and row.get("size") == size
            and row.get("conns") == conns
        ):
            return row
    return None


def listTable(caption: str, head: list[str], rows: list[list[str]]) -> list[str]:
    """
    A C{list-table} with a header row; empty cells are written as C{–}.
    """
    lines = [f".. list-table:: {caption}", "   :header-rows: 1", ""]
    for cells in [head, *rows]:
        first, *rest = [cell or "–" for cell in cells]
        lines.append(f"   * - {first}")
        lines += [f"     - {cell}" for cell in rest]
    return lines + [""]


def runLines(meta: dict[str, Any]) -> list[str]:
    """
    The run's description, as a field list: when, how, which proxykit, on
    which machine.
    """
    fields = []
    started = meta.get("started_at", "")
    when = re.fullmatch(r"(\d{4})(\d\d)(\d\d)-(\d\d)(\d\d)(\d\d)", started)
    if when:
        y, mo, d, h, mi, s = when.groups()
        fields.append(("Run", f"{y}-{mo}-{d} {h}:{mi}:{s} (results ``bench-{started}.json``)"))
    if meta.get("command"):
        fields.append(("Command", literal(meta["command"])))
    if meta.get("duration_s") is not None:
        reps = f"{meta['duration_s']} s per load, {meta.get('reps', '?')} repetitions"
        if meta.get("baseline_reps") is not None:
            reps += f" (the no-proxy baseline: {meta['baseline_reps']})"
        fields.append(("Loads", reps + "; the figures are medians"))
    source = meta.get("proxykit_source")
    if source:
        version = meta.get("machine", {}).get("versions", {}).get("proxykit")
        text = f"commit {literal(source)}"
        if version:
            text = f"{escape(version)}, {text}"
        if meta.get("proxykit_reactor"):
            text += f", reactor: {escape(meta['proxykit_reactor'])}"
        fields.append(("proxykit", text))
    machine = meta.get("machine", {})
    parts = []
    if machine.get("cpu_model"):
        parts.append(machine["cpu_model"])
    if machine.get("cpus"):
        parts.append(f"{machine['cpus']} CPUs")
    memory = re.search(r"(\d+)\s*kB", machine.get("mem_total", ""))
    if memory:
        parts.append(f"{int(memory.group(1)) / (1 << 20):.1f} GiB of memory")
    if machine.get("os"):
        parts.append(machine["os"])
    if machine.get("kernel"):
        parts.append(f"Linux {machine['kernel']}")
    if machine.get("venv_python"):
        parts.append(machine["venv_python"])
    if parts:
        fields.append(("Machine", escape(", ".join(parts))))
    pinning = meta.get("pinning", {})
    if pinning.get("proxy_cpu") is not None:
        text = f"each proxy on CPU {pinning['proxy_cpu']}"
        if pinning.get("load_cpu") is not None:
            text += f"; {pinning.get('on_load_cpu', 'the load')} on CPU {pinning['load_cpu']}"
        fields.append(("Pinning", escape(text)))
    else:
        fields.append(("Pinning", "none"))
    versions = machine.get("versions", {})
    if versions:
        fields.append(
            (
                "Versions",
                ", ".join(
                    literal(str(v)) if k.lower() in str(v).lower() else f"{escape(k)} {literal(str(v))}"
                    for k, v in versions.items()
                ),
            )
        )
    lines = [f":{name}: {text}" for name, text in fields]
    return lines + [""] if lines else []


def notes(row: Row, keepalive: str | None, proxy: str) -> str:
    """
    What a reader should know about a row: the baseline, flags, errors,
    runs left out, client keep-alive not honoured.
    """
    found = []
    if proxy == "none":
        found.append("no proxy: wrk straight at the origin; CPU is the origin's")
    found += list(row.get("flags", []))
    if row.get("non2xx"):
        found.append(f"{row['non2xx']} non-2xx")
    if row.get("socket_errors"):
        found.append(f"{row['socket_errors']} socket errors")
    used, runs = row.get("runs_in_median"), row.get("runs")
    if used is not None and runs is not None and used != runs:
        found.append(f"median of {used} of {runs} runs")
    if keepalive and keepalive != "yes":
        found.append(f"client keep-alive: {keepalive}")
    return escape("; ".join(found))


def httpLines(payload: dict[str, Any], mode: str) -> list[str]:
    """
    A table per load the results have, proxies in the results' order.
    """
    meta, summary = payload["meta"], payload["summary"]
    rows = summary.get("http", [])
    keepalive: dict[str, str] = {}
    for part in (BASELINE, mode):
        keepalive.update(summary.get("client_keepalive", {}).get(part, {}))
    sizes = meta.get("sizes", {})
    loads = [
        (size, conns)
        for size in [*sizes, *sorted({r["size"] for r in rows} - set(sizes))]
        for conns in meta.get("conns", sorted({r["conns"] for r in rows}, reverse=True))
    ]
    head = [
        "proxy", "req/s", "p99 ms", "CPU", "CPU µs/request",
        "proxykit ÷ proxy (req/s)", "notes",
    ]  # fmt: skip
    lines: list[str] = []
    for size, conns in loads:
        mine = find(rows, PROXYKIT, size, conns, mode)
        table = []
        for proxy in proxiesOf(meta, mode):
            row = find(rows, proxy, size, conns, mode)
            if row is None:
                continue
            name = f"**{escape(proxy)}**" if proxy == PROXYKIT else escape(proxy)
            share = row.get("cpu_share")
            ratio = (
                mine["rps"] / row["rps"] if mine and mine.get("rps") and row.get("rps") else None
            )
            table.append(
                [
                    name,
                    number(row.get("rps"), ",.0f"),
                    number(row.get("p99_ms"), ".2f"),
                    "–" if share is None else f"{share:.0%}",
                    number(row.get("cpu_us_per_request"), ".1f"),
                    number(ratio, ".2f"),
                    notes(row, keepalive.get(proxy), proxy),
                ]
            )
        if table:
            caption = f"{sizeName(size, sizes)} responses, {conns} connection{'s' if conns != 1 else ''}"
            lines += listTable(caption, head, table)
    return lines


def tunnelLines(payload: dict[str, Any]) -> list[str]:
    """
    The CONNECT throughput and slow-client tables (forward mode), when the
    run measured them.
    """
    summary = payload["summary"]
    lines: list[str] = []
    tunnel = summary.get("tunnel", [])
    if tunnel:
        mine = next((r.get("mb_per_s") for r in tunnel if r["proxy"] == PROXYKIT), None)
        rows = []
        for row in tunnel:
            speed = row.get("mb_per_s")
            rows.append(
                [
                    f"**{escape(row['proxy'])}**" if row["proxy"] == PROXYKIT else escape(row["proxy"]),
                    number(speed, ",.0f"),
                    number(mine / speed if mine and speed else None, ".2f"),
                    escape("; ".join(row.get("errors", []))),
                ]
            )
        size = payload["meta"].get("tunnel_bytes")
        what = f"{size >> 20} MiB" if size else "a large body"
        lines += listTable(
            f"CONNECT tunnel, {what} from the origin",
            ["proxy", "MB/s", "proxykit ÷ proxy", "notes"],
            rows,
        )
    slow = summary.get("slow_client", [])
    if slow:
        rows = [
            [
                f"**{escape(row['proxy'])}**" if row["proxy"] == PROXYKIT else escape(row["proxy"]),
                number(row["growth_kib"] / 1024 if row.get("growth_kib") is not None else None, ".1f"),
                escape(row.get("error") or ""),
            ]
            for row in slow
        ]
        lines += listTable(
            "A slow client reading a large response: the proxy's memory growth",
            ["proxy", "RSS growth MiB", "notes"],
            rows,
        )
    return lines + scaleLines(payload)


def spread(values: dict[str, float | None] | None, spec: str) -> str:
    """A min / median / max triple."""
    if not values:
        return "–"
    return " / ".join(number(values.get(k), spec) for k in ("min", "median", "max"))


def scaleLines(payload: dict[str, Any]) -> list[str]:
    """The idle-connection and concurrent-tunnel tables (forward mode),
    when the run measured them."""
    summary = payload["summary"]
    lines: list[str] = []
    idle = summary.get("idle", [])
    if idle:
        rows = [
            [
                f"{row['connections']:,}",
                number(row.get("held"), ","),
                number(row["rss_before_kib"] / 1024 if row.get("opened") else None, ".1f"),
                number(row["rss_after_kib"] / 1024 if row.get("opened") else None, ".1f"),
                number(row.get("kib_per_connection"), ".2f"),
                escape(row.get("error") or ""),
            ]
            for row in idle
        ]
        lines += listTable(
            "Idle keep-alive client connections held by proxykit: memory per connection",
            ["connections", "held", "RSS before MiB", "RSS after MiB", "KiB per connection", "notes"],
            rows,
        )
    tunnels = summary.get("tunnels", [])
    if tunnels:
        rows = [
            [
                f"{row['tunnels']:,} × {row['bytes_each'] >> 10} KiB",
                number(row.get("completed"), ","),
                number(row.get("seconds"), ".1f"),
                spread(row.get("time_s"), ".2f"),
                spread(row.get("mb_per_s"), ".2f"),
                number(row.get("stall_ratio"), ".2f"),
                escape("; ".join(row.get("errors", []) + ([row["error"]] if row.get("error") else []))),
            ]
            for row in tunnels
        ]
        lines += listTable(
            "Concurrent CONNECT tunnels through proxykit, each echoing its bytes at once",
            [
                "tunnels", "completed", "s", "time per tunnel s (min / median / max)",
                "MB/s per tunnel (min / median / max)", "slowest ÷ median", "notes",
            ],
            rows,
        )  # fmt: skip
    return lines


def targetLines(payload: dict[str, Any], mode: str) -> list[str]:
    """
    The verdict of each target the run checked for C{mode}.
    """
    found = [t for t in payload["summary"].get("targets", []) if t.get("mode") == mode]
    if not found:
        return []
    lines = ["The targets this run checked:", ""]
    for target in found:
        # "ratio" in results files written before the scale phases.
        value = target.get("measured", target.get("ratio"))
        measured = "not measured" if value is None else f"measured {value:.2f}"
        sign = "≤" if target.get("better") == "lower" else "≥"
        note = f": {escape(target['note'])}" if target.get("note") else ""
        lines.append(
            f"- **{escape(target['verdict'])}** {escape(target['target'])}"
            f" ({measured}, needed {sign} {target['needed']:g}){note}"
        )
    return lines + [""]


def failureLines(payload: dict[str, Any], mode: str) -> list[str]:
    """
    The proxies of C{mode} that failed to start or failed their preflight
    check.
    """
    summary = payload["summary"]
    modes = (mode, BASELINE)
    found = [
        f"- {escape(row['proxy'])} failed its preflight check: {escape(str(row.get('error')))}"
        for row in summary.get("preflight_failures", [])
        if row.get("mode") in modes
    ] + [
        f"- {escape(row['proxy'])} failed to start"
        for row in summary.get("start_failures", [])
        if row.get("mode") in modes
    ]
    return ["Proxies without figures:", "", *found, ""] if found else []


def benchLines(payload: dict[str, Any] | None, mode: str, chart: str | None = None) -> list[str]:
    """
    The reST the directive shows for C{mode}: the chart (the document path
    C{chart}, when given), the run, a table per load, forward mode's
    CONNECT and slow-client tables, failures and the targets' verdicts.

    @param payload: A published results file's content (that of
        C{bench/publish.py}, or any results file of C{bench/run.py}), or
        L{None} when none is published for C{mode}.
    """
    title = MODE_TITLES.get(mode, mode)
    if payload is None or mode not in payload["meta"].get("modes", []):
        return [
            f"No results are published for the {title} yet: run the benchmark"
            f" in this mode and publish its results as shown above.",
            "",
        ]
    lines: list[str] = []
    if chart:
        lines += [
            f".. image:: {chart}",
            f"   :alt: Requests per second of each {title}, 100-byte responses, 50 connections",
            "",
        ]
    lines += runLines(payload["meta"])
    lines += httpLines(payload, mode)
    if mode == "forward":
        lines += tunnelLines(payload)
    lines += failureLines(payload, mode)
    lines += targetLines(payload, mode)
    return lines


# ---------------------------------------------------------------- Sphinx


def _directive() -> Any:
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective
    from sphinx.util.nodes import nested_parse_with_titles

    class Bench(SphinxDirective):
        """
        C{.. proxykit-bench:: MODE}: the published results of C{MODE}.
        """

        required_arguments = 1
        has_content = False

        def run(self) -> list[nodes.Node]:
            mode = self.arguments[0]
            directory = Path(self.env.srcdir) / self.config.proxykit_bench_dir
            results = directory / f"{mode}.json"
            svg = directory / f"{mode}.svg"
            payload = None
            if results.exists():
                self.env.note_dependency(str(results))
                payload = json.loads(results.read_text())
            chart = f"/{self.config.proxykit_bench_dir}/{mode}.svg" if svg.exists() else None
            node = nodes.section()
            node.document = self.state.document
            source = self.get_source_info()[0]
            content = StringList(benchLines(payload, mode, chart), source=source)
            nested_parse_with_titles(self.state, content, node)
            return node.children

    return Bench


def setup(app: Any) -> dict[str, Any]:
    app.add_config_value("proxykit_bench_dir", PUBLISHED, "env")
    app.add_directive("proxykit-bench", _directive())
    return {"parallel_read_safe": True, "parallel_write_safe": True}
