"""Collects raw results, summarises them (medians, ratios, targets) and
prints/writes them."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .scale import IDLE_KIB_LIMIT, STALL_FACTOR

PROXYKIT = "proxykit"
BASELINE = "baseline"
PEERS: dict[str, tuple[str, ...]] = {
    "forward": ("proxykit-pure", "proxykit+accesslog", "twisted.web.proxy", "proxy.py", "tinyproxy", "none"),
    "reverse": (
        "proxykit-pure",
        "ReverseProxyResource",
        "proxykit.web",
        "proxy.py",
        "proxy.py-threadless",
        "nginx",
        "none",
    ),
    # TLS mode has no no-proxy row: the baseline is plain HTTP.
    "tls": ("ReverseProxyResource", "nginx"),
}
MODE_TITLES = {
    "forward": "Forward proxy",
    "reverse": "Reverse proxy",
    "tls": "Reverse proxy over TLS",
}
Row = dict[str, Any]


@dataclass
class Results:
    """Everything measured in one invocation of bench/run.py."""

    meta: dict[str, Any]
    starts: list[Row] = field(default_factory=list)
    http: list[Row] = field(default_factory=list)
    tunnel: list[Row] = field(default_factory=list)
    slow: list[Row] = field(default_factory=list)
    idle: list[Row] = field(default_factory=list)
    tunnels: list[Row] = field(default_factory=list)
    keepalive: dict[str, dict[str, str]] = field(default_factory=dict)

    def failed_to_start(self, mode: str, proxy: str) -> bool:
        return any(
            s["mode"] == mode and s["proxy"] == proxy and not s["ok"]
            for s in self.starts
        )

    def failed_preflight(self, mode: str, proxy: str) -> bool:
        return any(
            r["mode"] == mode
            and r["proxy"] == proxy
            and "preflight-failed" in r.get("flags", [])
            for r in self.http
        )


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def undisturbed(rows: list[Row], busy: Callable[[Row], bool]) -> list[Row]:
    """The runs that no other process disturbed, or all if none was spared."""
    return [r for r in rows if not busy(r)] or rows


def http_busy(row: Row) -> bool:
    return "busy-machine" in row.get("flags", [])


def summarise_http(rows: list[Row]) -> list[Row]:
    """Median req/s, p50, p99, CPU share and max peak RSS per (mode, proxy,
    size, conns).

    Medians use the undisturbed runs when there are any; error counts are
    summed over every kept run.
    """
    groups: dict[tuple[str, str, str, int], list[Row]] = {}
    for row in (r for r in rows if not r.get("discarded")):
        key = (row["mode"], row["proxy"], row["size"], row["conns"])
        groups.setdefault(key, []).append(row)
    summary = []
    for (mode, proxy, size, conns), group in groups.items():
        done = [r for r in group if r.get("wrk")]
        used = undisturbed(done, http_busy)
        rss = [r["peak_rss_kib"] for r in done if r.get("peak_rss_kib")]
        flags = {f for r in group for f in r.get("flags", []) if f != "busy-machine"}
        if any(http_busy(r) for r in used):
            flags.add("busy-machine")
        cpu = [r["cpu_share"] for r in used if r.get("cpu_share") is not None]
        loadCpu = [r["load_cpu_share"] for r in used if r.get("load_cpu_share") is not None]
        # The proxy's CPU time per request: its CPU share of the wall time
        # over the requests per second of the same run.
        perRequest = [
            r["cpu_share"] / r["wrk"]["rps"] * 1e6
            for r in used
            if r.get("cpu_share") is not None and r["wrk"]["rps"]
        ]
        summary.append(
            {
                "mode": mode,
                "proxy": proxy,
                "size": size,
                "conns": conns,
                "runs": len(done),
                "runs_in_median": len(used),
                "failed_runs": len(group) - len(done),
                "rps": median([r["wrk"]["rps"] for r in used]),
                "p50_ms": median([r["wrk"]["p50_us"] / 1000 for r in used]),
                "p99_ms": median([r["wrk"]["p99_us"] / 1000 for r in used]),
                "peak_rss_mib": max(rss) / 1024 if rss else None,
                "cpu_share": median(cpu),
                "cpu_us_per_request": median(perRequest),
                "load_cpu_share": median(loadCpu),
                "non2xx": sum(r["wrk"]["err_status"] for r in done),
                "socket_errors": sum(r["wrk"]["socket_errors"] for r in done),
                "flags": sorted(flags),
            }
        )
    return summary


def summarise_tunnel(rows: list[Row]) -> list[Row]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row["proxy"], []).append(row)
    summary = []
    for proxy, group in groups.items():
        used = undisturbed([r for r in group if r["ok"]], lambda r: r["busy_machine"])
        errors = sorted({r["error"] for r in group if not r["ok"]})
        if any(r["busy_machine"] for r in used):
            errors.append("busy-machine")
        summary.append(
            {
                "proxy": proxy,
                "runs": len(used),
                "mb_per_s": median([r["mb_per_s"] for r in used]),
                "errors": errors,
            }
        )
    return summary


def find(rows: list[Row], **match: Any) -> Row | None:
    for row in rows:
        if all(row.get(k) == v for k, v in match.items()):
            return row
    return None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def peer_mode(mode: str, peer: str) -> str:
    return BASELINE if peer == "none" else mode


def http_ratios(summary: list[Row]) -> list[Row]:
    """proxykit / peer for req/s (higher is better) and p99 (lower is better),
    within each mode (the no-proxy baseline is a peer in both)."""
    out = []
    for mine in (r for r in summary if r["proxy"] == PROXYKIT):
        mode = mine["mode"]
        for peer in PEERS.get(mode, ()):
            other = find(
                summary,
                mode=peer_mode(mode, peer),
                proxy=peer,
                size=mine["size"],
                conns=mine["conns"],
            )
            if other is None:
                continue
            out.append(
                {
                    "mode": mode,
                    "peer": peer,
                    "size": mine["size"],
                    "conns": mine["conns"],
                    "rps_ratio": ratio(mine["rps"], other["rps"]),
                    "p99_ratio": ratio(mine["p99_ms"], other["p99_ms"]),
                }
            )
    return out


def targets(
    http: list[Row], idle: list[Row] | None = None, tunnels: list[Row] | None = None
) -> list[Row]:
    """Every target of issue 14, and issue 11's on the access log, evaluated
    on the summary (``http``: L{summarise_http}'s medians; ``idle`` and
    ``tunnels``: the scale phases' rows), whatever modes the run had: PASS,
    FAIL, or pending when the run lacks a figure (a mode or phase not run,
    a peer that failed).  Each row's ``mode`` is where the target is shown;
    some need another mode's figures too (nginx's CPU per request comes
    from reverse mode).  ``better``: "higher" means ``measured`` must be at
    least ``needed``, "lower" at most; ``note`` says why a target failed
    outside its figure, or when a peer's figure flatters the ratio."""

    def row(mode: str, proxy: str, size: str = "small") -> Row | None:
        return find(http, mode=mode, proxy=proxy, size=size, conns=50)

    def rps(mode: str, proxy: str, size: str = "small") -> float | None:
        found = row(mode, proxy, size)
        return found["rps"] if found else None

    def cpu(mode: str, proxy: str) -> float | None:
        found = row(mode, proxy)
        return found.get("cpu_us_per_request") if found else None

    def vs(mode: str, peer: str, size: str = "small") -> float | None:
        return ratio(rps(mode, PROXYKIT, size), rps(mode, peer, size))

    def bound(mode: str, peer: str, size: str = "small") -> str:
        found = row(mode, peer, size)
        if found and "load-bound" in found.get("flags", []):
            return (
                f"{peer} was load-bound: its req/s is the load generator's limit,"
                " so the ratio flatters proxykit"
            )
        return ""

    def cpuBound() -> str:
        found = row("reverse", "nginx")
        if found and "load-bound" in found.get("flags", []):
            return (
                "nginx was load-bound: it ran below its core's capacity, where"
                " a request costs it more CPU than at saturation, so the ratio"
                " flatters proxykit"
            )
        return ""

    checks: list[tuple[str, str, float | None, float, str, str]] = [
        (
            "forward",
            "small, 50 conns: proxykit forward's CPU per request <= 3x nginx's"
            " (nginx proxy_pass, reverse mode)",
            ratio(cpu("forward", PROXYKIT), cpu("reverse", "nginx")),
            3.0,
            "lower",
            cpuBound(),
        ),
        (
            "reverse",
            "small, 50 conns: proxykit reverse's CPU per request <= 3x nginx's",
            ratio(cpu("reverse", PROXYKIT), cpu("reverse", "nginx")),
            3.0,
            "lower",
            cpuBound(),
        ),
        (
            "forward",
            "small, 50 conns: proxykit >= 5x twisted.web.proxy req/s",
            vs("forward", "twisted.web.proxy"),
            5.0,
            "higher",
            "",
        ),
        (
            "forward",
            "small, 50 conns: proxykit >= 1.5x proxy.py req/s",
            vs("forward", "proxy.py"),
            1.5,
            "higher",
            "",
        ),
        (
            "forward",
            "small, 50 conns: access log to a file costs <= 10%"
            " (proxykit+accesslog >= 0.9x proxykit req/s; issue 11)",
            ratio(rps("forward", "proxykit+accesslog"), rps("forward", PROXYKIT)),
            0.9,
            "higher",
            "",
        ),
        (
            "reverse",
            "small, 50 conns: proxykit reverse >= 5x ReverseProxyResource req/s",
            vs("reverse", "ReverseProxyResource"),
            5.0,
            "higher",
            "",
        ),
        (
            "reverse",
            "small, 50 conns: proxykit reverse's CPU per request <= 1.10x forward's",
            ratio(cpu("reverse", PROXYKIT), cpu("forward", PROXYKIT)),
            1.1,
            "lower",
            "",
        ),
        (
            "forward",
            "100 KiB, 50 conns: proxykit forward >= 70% of nginx req/s"
            " (nginx proxy_pass, reverse mode)",
            ratio(rps("forward", PROXYKIT, "100k"), rps("reverse", "nginx", "100k")),
            0.7,
            "higher",
            bound("reverse", "nginx", "100k"),
        ),
        (
            "reverse",
            "100 KiB, 50 conns: proxykit reverse >= 70% of nginx req/s",
            vs("reverse", "nginx", "100k"),
            0.7,
            "higher",
            bound("reverse", "nginx", "100k"),
        ),
        (
            "tls",
            "TLS, small, 50 conns: proxykit >= 50% of nginx req/s",
            vs("tls", "nginx"),
            0.5,
            "higher",
            bound("tls", "nginx"),
        ),
        idle_check(idle or []),
        tunnels_check(tunnels or []),
    ]
    out = []
    for mode, name, value, need, better, note in checks:
        if note.startswith("FAIL: "):
            verdict, note = "FAIL", note.removeprefix("FAIL: ")
        elif value is None:
            verdict = "pending"
        elif better == "lower":
            verdict = "PASS" if value <= need else "FAIL"
        else:
            verdict = "PASS" if value >= need else "FAIL"
        out.append(
            {
                "mode": mode,
                "target": name,
                "measured": value,
                "needed": need,
                "better": better,
                "verdict": verdict,
                "note": note,
            }
        )
    return out


def idle_check(idle: list[Row]) -> tuple[str, str, float | None, float, str, str]:
    """Issue 14's idle connections: every one held, <= 5 KiB each.  Not
    measured (no row, or no connection opened: too few descriptors, the
    proxy did not start) is pending; a connection not held is a FAIL."""
    found = next(iter(idle), None)
    count = found.get("connections", 10_000) if found else 10_000
    name = (
        f"{count:,} idle keep-alive client connections held,"
        f" <= {IDLE_KIB_LIMIT:g} KiB each (proxy RSS growth / connections)"
    )
    value = found.get("kib_per_connection") if found else None
    note = ""
    if found and not found.get("opened"):
        value, note = None, found.get("error", "")
    elif found and (found.get("error") or found.get("held") != count):
        note = f"FAIL: held {found.get('held', 0)} of {count}: {found.get('error')}"
    return ("forward", name, value, IDLE_KIB_LIMIT, "lower", note)


def tunnels_check(tunnels: list[Row]) -> tuple[str, str, float | None, float, str, str]:
    """Issue 14's concurrent tunnels: every one echoed all its bytes in
    time, and the slowest took at most twice the median's time.  Not
    measured (no row, or no tunnel opened) is pending; a tunnel that did
    not complete is a FAIL."""
    found = next(iter(tunnels), None)
    count = found.get("tunnels", 1000) if found else 1000
    name = (
        f"{count:,} concurrent CONNECT tunnels each moved their data, none stalled"
        f" (all complete; slowest <= {STALL_FACTOR:g}x the median tunnel's time)"
    )
    value = found.get("stall_ratio") if found else None
    note = ""
    if found and not found.get("opened"):
        value = None
        note = found.get("error") or "; ".join(found.get("errors", []))
    elif found and found.get("completed") != count:
        errors = "; ".join(found.get("errors", [])) or found.get("error", "")
        note = f"FAIL: {found.get('completed', 0)} of {count} completed: {errors}"
    return ("forward", name, value, STALL_FACTOR, "lower", note)


def build_summary(results: Results) -> dict[str, Any]:
    http = summarise_http(results.http)
    tunnel = summarise_tunnel(results.tunnel)
    return {
        "http": http,
        "tunnel": tunnel,
        "slow_client": results.slow,
        "ratios": http_ratios(http),
        "idle": results.idle,
        "tunnels": results.tunnels,
        "targets": targets(http, results.idle, results.tunnels),
        "preflight_failures": [
            {k: r.get(k) for k in ("mode", "proxy", "rep", "error")}
            for r in results.http
            if "preflight-failed" in r.get("flags", [])
        ],
        "start_failures": [s for s in results.starts if not s["ok"]],
        "client_keepalive": results.keepalive,
    }


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def mode_rows(summary: list[Row], mode: str, proxies: list[str]) -> list[Row]:
    """``mode``'s summary rows plus the baseline's, in table order."""
    order = {name: i for i, name in enumerate(proxies)}
    rows = [
        r
        for r in summary
        if r["mode"] == mode or (r["mode"] == BASELINE and r["proxy"] in proxies)
    ]
    return sorted(
        rows,
        key=lambda r: (r["size"] != "small", -r["conns"], order.get(r["proxy"], 99)),
    )


def table_proxies(meta: dict[str, Any], mode: str) -> list[str]:
    if mode == "tls":
        return meta["proxies"].get(mode, [])
    return meta["proxies"].get(mode, []) + meta["proxies"].get(BASELINE, [])


def http_lines(
    summary: list[Row], mode: str, proxies: list[str], skipped: bool = False
) -> list[str]:
    """``mode``'s table of loads; a proxy without rows failed to start,
    unless the run skipped the loads (``skipped``)."""
    head = (
        f"{'proxy':<20} {'size':<5} {'conns':>5} {'req/s':>9} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'CPU':>5} {'us/req':>7} {'load':>5} {'RSS MiB':>8} {'non2xx':>7} {'sockerr':>7}  flags"
    )
    lines = [head, "-" * len(head)]
    rows = mode_rows(summary, mode, proxies)
    for r in rows:
        lines.append(
            f"{r['proxy']:<20} {r['size']:<5} {r['conns']:>5} {fmt(r['rps']):>9} "
            f"{fmt(r['p50_ms'], '.2f'):>8} {fmt(r['p99_ms'], '.2f'):>8} "
            f"{pct(r['cpu_share']):>5} {fmt(r.get('cpu_us_per_request'), '.1f'):>7} "
            f"{pct(r.get('load_cpu_share')):>5} "
            f"{fmt(r['peak_rss_mib']):>8} {r['non2xx']:>7} {r['socket_errors']:>7}  "
            f"{','.join(r['flags'])}"
        )
    measured = {r["proxy"] for r in rows}
    why = "(not run: --skip http)" if skipped else "(failed to start)"
    for proxy in proxies:
        if proxy not in measured:
            lines.append(f"{proxy:<20} {'-':<5} {'-':>5} {'no results':>9}  {why}")
    return lines


def keepalive_lines(summary: dict[str, Any], mode: str) -> list[str]:
    lines = ["Client keep-alive honoured:"]
    verdicts = {
        **summary["client_keepalive"].get(mode, {}),
        **(summary["client_keepalive"].get(BASELINE, {}) if mode != "tls" else {}),
    }
    for proxy, verdict in verdicts.items():
        lines.append(f"  {proxy:<20} {verdict}")
    return lines


def forward_lines(summary: dict[str, Any]) -> list[str]:
    """The CONNECT throughput and slow-client phases, when they ran."""
    lines = []
    if summary["tunnel"]:
        lines += ["", "CONNECT tunnel (MB/s = 1e6 bytes/s, median):"]
    for r in summary["tunnel"]:
        note = "; ".join(r["errors"])
        lines.append(f"  {r['proxy']:<20} {fmt(r['mb_per_s']):>9}  {note}")
    if summary["slow_client"]:
        lines += ["", "Slow client (RSS growth = max VmRSS - baseline):"]
    for r in summary["slow_client"]:
        if r.get("error"):
            lines.append(f"  {r['proxy']:<20} {'-':>9}  {r['error']}")
            continue
        lines.append(
            f"  {r['proxy']:<20} {r['growth_kib'] / 1024:>7.1f} MiB  "
            f"(baseline {r['baseline_kib'] / 1024:.1f} MiB, read "
            f"{r['received'] / 1024:.0f} KiB in {r['seconds']:.1f} s)"
        )
    return lines


def mode_lines(summary: dict[str, Any], meta: dict[str, Any], mode: str) -> list[str]:
    proxies = table_proxies(meta, mode)
    lines = [
        f"== {MODE_TITLES[mode]} ==",
        *http_lines(summary["http"], mode, proxies, "http" in meta.get("skip", [])),
        "(CPU = the proxy's CPU time / wall time; us/req = the proxy's CPU microseconds"
        " per request; load = the load core's CPU time (wrk, the origin, this script) /"
        " wall time; for 'none', nginx's CPU and RSS. load-bound: the proxy below 95%"
        " of its core while the load core was 95% busy or more, so its req/s is the"
        " load's limit, not its own.)",
        "",
        *keepalive_lines(summary, mode),
    ]
    if mode == "forward":
        lines += forward_lines(summary) + scale_lines(summary)
    lines += ["", "proxykit / peer (req/s ratio; p99 ratio, lower is better):"]
    for r in (r for r in summary["ratios"] if r["mode"] == mode):
        lines.append(
            f"  vs {r['peer']:<20} {r['size']:<5} c={r['conns']:<3} "
            f"req/s x{fmt(r['rps_ratio'], '.2f')}  p99 x{fmt(r['p99_ratio'], '.2f')}"
        )
    return lines


def _target_body(t: Row, at_most: str, at_least: str) -> str:
    """A target after its verdict: what, measured, needed (with the given
    signs), note."""
    sign = at_most if t.get("better") == "lower" else at_least
    text = f"{t['target']} (measured {fmt(t['measured'], '.2f')}, needed {sign} {t['needed']:g})"
    return text + (f": {t['note']}" if t.get("note") else "")


def target_text(t: Row) -> str:
    """One target's verdict as a line: what, measured, needed, note."""
    return f"[{t['verdict']}] " + _target_body(t, "<=", ">=")


def scale_lines(summary: dict[str, Any]) -> list[str]:
    """The idle-connection and concurrent-tunnel phases (forward mode)."""
    lines = []
    for r in summary.get("idle", []):
        lines += ["", f"Idle keep-alive connections ({r['connections']:,}, proxykit):"]
        if r.get("opened"):
            lines.append(
                f"  held {r['held']} of {r['connections']}; proxy RSS "
                f"{r['rss_before_kib'] / 1024:.1f} -> {r['rss_after_kib'] / 1024:.1f} MiB,"
                f" {fmt(r['kib_per_connection'], '.2f')} KiB per connection"
                f" ({r['seconds']:.0f} s)"
            )
        if r.get("error"):
            lines.append(f"  {r['error']}")
    for r in summary.get("tunnels", []):
        lines += [
            "",
            f"Concurrent CONNECT tunnels ({r['tunnels']:,} x "
            f"{r['bytes_each'] // 1024} KiB echoed, proxykit):",
        ]
        if r.get("opened"):
            t, m, f = r["time_s"], r["mb_per_s"], r["first_byte_s"]
            lines += [
                f"  {r['completed']} of {r['tunnels']} completed in {r['seconds']:.1f} s"
                f" (opened in {r['setup_seconds']:.1f} s);"
                f" {fmt(r['aggregate_mb_per_s'])} MB/s each way in all",
                f"  per tunnel, min / median / max: time {fmt(t['min'], '.2f')} /"
                f" {fmt(t['median'], '.2f')} / {fmt(t['max'], '.2f')} s;"
                f" MB/s {fmt(m['min'], '.2f')} / {fmt(m['median'], '.2f')} /"
                f" {fmt(m['max'], '.2f')}; first byte back {fmt(f['min'], '.2f')} /"
                f" {fmt(f['median'], '.2f')} / {fmt(f['max'], '.2f')} s",
                f"  slowest / median {fmt(r['stall_ratio'], '.2f')}; longest wait between"
                f" two reads {fmt(r['longest_silence_s'], '.2f')} s; CPU: proxy"
                f" {pct(r['proxy_cpu_share'])}, harness {pct(r['harness_cpu_share'])}",
                f"  proxy RSS {r['rss_before_kib'] / 1024:.1f} MiB, with the tunnels open"
                f" {r['rss_open_kib'] / 1024:.1f} MiB, peak while moving"
                f" {r['rss_peak_kib'] / 1024:.1f} MiB",
            ]
        for error in r.get("errors", []) + ([r["error"]] if r.get("error") else []):
            lines.append(f"  {error}")
    return lines


def failure_lines(summary: dict[str, Any]) -> list[str]:
    lines = []
    for s in summary["start_failures"]:
        lines.append(
            f"{s['mode']} {s['proxy']}: failed to start (rep {s['rep']}): {s['error']}"
        )
    for f in summary["preflight_failures"]:
        lines.append(
            f"{f['mode']} {f['proxy']}: preflight failed (rep {f['rep']}): {f['error']}"
        )
    return lines


def render(results: Results, summary: dict[str, Any]) -> str:
    meta = results.meta
    lines = [
        f"HTTP keep-alive via wrk -t1, {meta['duration_s']} s x "
        f"{meta['reps']} reps, medians; RSS = peak VmHWM of the proxy tree"
    ]
    for mode in meta["modes"]:
        lines += ["", *mode_lines(summary, meta, mode)]
    lines += ["", "Targets (issue 14, and issue 11's access log; pending: not measured):"]
    lines += [f"  {target_text(t)}" for t in summary["targets"]]
    failures = failure_lines(summary)
    if failures:
        lines += ["", *failures]
    return "\n".join(lines)


def write_json(results: Results, summary: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"bench-{results.meta['started_at']}.json"
    payload = {
        "meta": results.meta,
        "summary": summary,
        "raw": {
            "starts": results.starts,
            "http": results.http,
            "tunnel": results.tunnel,
            "slow_client": results.slow,
            "idle": results.idle,
            "tunnels": results.tunnels,
        },
    }
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    (directory / "latest.json").write_text(path.read_text())
    text = markdown(results, summary)
    path.with_suffix(".md").write_text(text)
    (directory / "latest.md").write_text(text)
    return path


def md_row(cells: list[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def md_table(head: list[str], rows: list[list[object]]) -> list[str]:
    return [md_row(head), md_row(["---"] * len(head)), *(md_row(r) for r in rows)]


def md_http(summary: list[Row], mode: str, proxies: list[str]) -> list[str]:
    head = ["proxy", "size", "conns", "req/s", "p50 ms", "p99 ms", "CPU", "CPU µs/req"]
    head += ["peak RSS MiB", "non-2xx", "socket errors", "flags"]
    return md_table(
        head,
        [
            [r["proxy"], r["size"], r["conns"], fmt(r["rps"], ".0f")]
            + [fmt(r["p50_ms"], ".2f"), fmt(r["p99_ms"], ".2f"), pct(r["cpu_share"])]
            + [fmt(r.get("cpu_us_per_request"), ".1f")]
            + [fmt(r["peak_rss_mib"]), r["non2xx"], r["socket_errors"]]
            + [", ".join(r["flags"])]
            for r in mode_rows(summary, mode, proxies)
        ],
    )


def md_ratios(ratios: list[Row], mode: str) -> list[str]:
    ratios = [r for r in ratios if r["mode"] == mode]
    combos = sorted(
        {(r["size"], r["conns"]) for r in ratios},
        key=lambda c: (c[0] != "small", -c[1]),
    )
    rows = []
    for peer in PEERS.get(mode, ()):
        cells = [
            find(ratios, peer=peer, size=size, conns=conns) for size, conns in combos
        ]
        if any(cells):
            rows.append(
                [peer] + [fmt(c["rps_ratio"], ".2f") if c else "-" for c in cells]
            )
    return md_table(["proxykit req/s ÷"] + [f"{s}, {c} conn" for s, c in combos], rows)


def md_forward(summary: dict[str, Any], meta: dict[str, Any]) -> list[str]:
    return [
        *md_table(
            [f"CONNECT, {meta['tunnel_bytes'] // 2**20} MiB", "MB/s", "note"],
            [
                [r["proxy"], fmt(r["mb_per_s"]), "; ".join(r["errors"])]
                for r in summary["tunnel"]
            ],
        ),
        "",
        *md_table(
            ["slow client", "RSS growth MiB", "baseline MiB", "note"],
            [
                [r["proxy"]]
                + (
                    ["-", "-", r["error"]]
                    if r.get("error")
                    else [
                        fmt(r["growth_kib"] / 1024),
                        fmt(r["baseline_kib"] / 1024),
                        "",
                    ]
                )
                for r in summary["slow_client"]
            ],
        ),
        "",
    ]


def md_scale(summary: dict[str, Any]) -> list[str]:
    """The scale phases as Markdown tables (forward mode)."""
    lines: list[str] = []
    idle = summary.get("idle", [])
    if idle:
        lines += md_table(
            ["idle connections", "held", "RSS before MiB", "RSS after MiB", "KiB each", "s", "note"],
            [
                [
                    f"{r['connections']:,}",
                    r.get("held", "-"),
                    fmt(r["rss_before_kib"] / 1024) if r.get("opened") else "-",
                    fmt(r["rss_after_kib"] / 1024) if r.get("opened") else "-",
                    fmt(r.get("kib_per_connection"), ".2f"),
                    fmt(r.get("seconds"), ".0f"),
                    r.get("error", ""),
                ]
                for r in idle
            ],
        ) + [""]
    tunnels = summary.get("tunnels", [])
    if tunnels:
        def three(d: dict[str, float | None] | None, spec: str) -> str:
            if not d:
                return "-"
            return " / ".join(fmt(d[k], spec) for k in ("min", "median", "max"))

        lines += md_table(
            [
                "tunnels",
                "completed",
                "s",
                "time per tunnel s (min / median / max)",
                "MB/s per tunnel",
                "first byte back s",
                "slowest ÷ median",
                "note",
            ],
            [
                [
                    f"{r['tunnels']:,} × {r['bytes_each'] // 1024} KiB",
                    r.get("completed", "-"),
                    fmt(r.get("seconds")),
                    three(r.get("time_s"), ".2f"),
                    three(r.get("mb_per_s"), ".2f"),
                    three(r.get("first_byte_s"), ".2f"),
                    fmt(r.get("stall_ratio"), ".2f"),
                    "; ".join(r.get("errors", []) + ([r["error"]] if r.get("error") else [])),
                ]
                for r in tunnels
            ],
        ) + [""]
    return lines


def md_target(t: Row) -> str:
    return f"- **{t['verdict']}** " + _target_body(t, "≤", "≥")


def markdown(results: Results, summary: dict[str, Any]) -> str:
    """The summary as Markdown tables, for docs/performance.md."""
    meta = results.meta
    lines = [
        f"Run {meta['started_at']}: `{meta['command']}`, {meta['duration_s']} s per "
        f"load, {meta['reps']} repetitions (baseline {meta['baseline_reps']}).",
    ]
    for mode in meta["modes"]:
        lines += [
            "",
            f"## {MODE_TITLES[mode]}",
            "",
            *md_http(summary["http"], mode, table_proxies(meta, mode)),
            "",
            *(md_forward(summary, meta) if mode == "forward" else []),
            *(md_scale(summary) if mode == "forward" else []),
            *md_ratios(summary["ratios"], mode),
        ]
    lines += ["", "## Targets", "", *(md_target(t) for t in summary["targets"])]
    failures = failure_lines(summary)
    if failures:
        lines += ["", *(f"- {line}" for line in failures)]
    return "\n".join(lines) + "\n"
