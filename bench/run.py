#!/usr/bin/env python3
"""proxykit benchmark harness.

    python3 bench/run.py                    # forward + reverse + tls, ~25 minutes
    python3 bench/run.py --quick            # ~3 minutes, 3 s runs, 1 repetition
    python3 bench/run.py --mode forward     # forward mode only, ~9.5 minutes
    python3 bench/run.py --mode reverse     # reverse mode only, ~9 minutes
    python3 bench/run.py --mode tls         # reverse proxies over TLS, ~6.5 minutes
    python3 bench/run.py --mode forward --proxies proxykit \
        --skip http --skip tunnel --skip slow   # the two scale phases alone, ~3 minutes

Starts nginx as the origin on 127.0.0.1, then each proxy in turn, pinned to
CPU 0 while wrk, nginx and this script run on CPU 1.  Forward mode: proxykit
forward, twisted.web.proxy, proxy.py and tinyproxy; keep-alive requests/s and
latency, CONNECT tunnel throughput and memory under a slow client.  Reverse
mode: proxykit reverse, twisted.web.proxy.ReverseProxyResource, proxy.py's
reverse proxy and nginx; keep-alive requests/s and latency.  TLS mode: proxykit
reverse, ReverseProxyResource and nginx terminating TLS (https from wrk, plain
HTTP to the origin).  Forward and reverse mode share the no-proxy baseline.
Forward mode also runs issue 14's two scale phases on proxykit: 10,000 idle
keep-alive client connections (memory per connection) and 1,000 concurrent
CONNECT tunnels (none may stall); they add about 2 minutes.  See
bench/README.md.  Uses the standard library
only; the proxies run from bench/.venv, which this script creates.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness import chart, environment, load, procs, report, scale, servers
from harness.procs import ProcessManager, StartError
from harness.report import Results
from harness.servers import MIB, Origin, ProxySpec, RunningProxy, Settings

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
VENV_DIR = BENCH_DIR / ".venv"
CONNS = (50, 1)
NOISE_SHARE = 0.05
NOISE_MIN_S = 0.05


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, help="seconds per wrk run (default 10)")
    p.add_argument("--reps", type=int, help="repetitions, proxies rotated (default 3)")
    p.add_argument(
        "--quick", action="store_true", help="3 s runs, 1 repetition, 3 s slow client"
    )
    p.add_argument(
        "--baseline-reps",
        type=int,
        default=1,
        help="repetitions of the no-proxy baseline (default 1)",
    )
    p.add_argument(
        "--mode",
        choices=[*servers.MODES, "all"],
        default="all",
        help="forward proxies, reverse proxies, reverse proxies over TLS, or all"
        " three (default all)",
    )
    p.add_argument(
        "--proxies",
        default=",".join(servers.DEFAULT_NAMES),
        help="comma-separated subset of: "
        + ",".join(servers.PROXY_NAMES)
        + " (default: all but proxy.py-threadless)",
    )
    p.add_argument("--proxykit-reactor", help="twistd -r REACTOR for proxykit")
    p.add_argument(
        "--proxykit-arg",
        action="append",
        default=[],
        help="extra argument for 'proxykit forward' (repeatable)",
    )
    p.add_argument(
        "--proxykit-reverse-arg",
        action="append",
        default=[],
        help="extra argument for 'proxykit reverse' (repeatable)",
    )
    p.add_argument(
        "--tunnel-mib",
        type=int,
        default=256,
        help="CONNECT transfer size (default 256)",
    )
    p.add_argument(
        "--slow-mib", type=int, default=64, help="slow-client file size (default 64)"
    )
    p.add_argument("--slow-seconds", type=float, help="slow-client time (default 5)")
    p.add_argument(
        "--slow-rate-kib",
        type=int,
        default=64,
        help="slow-client read rate in KiB/s (default 64)",
    )
    p.add_argument("--proxy-cpu", default="0", help="CPU for the proxies ('' = no pin)")
    p.add_argument(
        "--load-cpu",
        default="1",
        help="CPU for wrk, nginx, the tunnel origin and this script",
    )
    p.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["http", "tunnel", "slow", "idle", "tunnels"],
        help="skip a phase (tunnel, slow, idle and tunnels are forward mode only)",
    )
    p.add_argument(
        "--idle-connections",
        type=int,
        default=10_000,
        help="idle keep-alive client connections the idle phase holds (default 10000)",
    )
    p.add_argument(
        "--tunnels",
        type=int,
        default=1000,
        help="concurrent CONNECT tunnels of the tunnels phase (default 1000)",
    )
    p.add_argument(
        "--tunnels-kib",
        type=int,
        default=1024,
        help="KiB each tunnel echoes through the proxy (default 1024)",
    )
    p.add_argument(
        "--scale-timeout",
        type=float,
        default=300.0,
        help="seconds each scale phase (idle, tunnels) may take (default 300)",
    )
    p.add_argument(
        "--retry-noisy",
        type=int,
        default=1,
        help="re-run a wrk load this many times when other processes "
        "took over 5%% of a CPU during it (default 1)",
    )
    p.add_argument(
        "--no-setup",
        action="store_true",
        help="skip apt-get/pip (use the existing bench/.venv)",
    )
    p.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    args = p.parse_args(argv)
    args.duration = args.duration or (3 if args.quick else 10)
    args.reps = args.reps or (1 if args.quick else 3)
    args.slow_seconds = args.slow_seconds or (3.0 if args.quick else 5.0)
    args.modes = list(servers.MODES) if args.mode == "all" else [args.mode]
    args.proxy_list = [n for n in args.proxies.split(",") if n]
    unknown = set(args.proxy_list) - set(servers.PROXY_NAMES)
    if unknown:
        p.error(f"unknown proxies: {', '.join(sorted(unknown))}")
    return args


@dataclass
class Context:
    """Shared state of one benchmark invocation."""

    args: argparse.Namespace
    pm: ProcessManager
    origin: Origin
    tunnel: procs.Proc
    tunnel_port: int
    settings: Settings
    results: Results

    @property
    def load_cpu(self) -> str | None:
        return self.args.load_cpu or None

    def foreign_cpu(self, proxy: RunningProxy) -> procs.ForeignCpu:
        """Watches for CPU use by anything but the benchmark's processes."""
        roots = [self.origin.proc.pid, self.tunnel.pid]
        return procs.ForeignCpu(roots + ([proxy.proc.pid] if proxy.proc else []))

    def noisy(self, seconds: float, foreign_s: float) -> bool:
        """Other processes took over 5% of a CPU (and over 5 ticks) meanwhile."""
        return foreign_s > max(NOISE_SHARE * seconds, NOISE_MIN_S)


def say(message: str) -> None:
    print(message, flush=True)


def rotated(items: list[ProxySpec], rep: int) -> list[ProxySpec]:
    shift = rep % len(items)
    return items[shift:] + items[:shift]


def request_for(ctx: Context, proxy: RunningProxy, name: str) -> tuple[str, str]:
    """(request target, Host) for file ``name``: absolute-form for forward
    proxies, origin-form with ``Host: bench.test`` for reverse proxies, and
    origin-form with the origin's Host for the no-proxy baseline."""
    if proxy.spec.mode == "forward":
        return ctx.origin.url(name), ctx.origin.host
    if proxy.spec.mode in ("reverse", servers.TLS_MODE):
        return f"/{name}", servers.REVERSE_HOST
    return f"/{name}", ctx.origin.host


def tls_name(proxy: RunningProxy) -> str | None:
    """The server name (SNI) to send: the virtual host in tls mode."""
    return servers.REVERSE_HOST if proxy.spec.mode == servers.TLS_MODE else None


def label(spec: ProxySpec) -> str:
    return spec.name if spec.mode == servers.BASELINE else f"{spec.mode} {spec.name}"


def start(ctx: Context, spec: ProxySpec, rep: int | str) -> RunningProxy | None:
    try:
        proxy = servers.start_proxy(ctx.pm, spec, ctx.settings, ctx.origin)
    except StartError as exc:
        say(f"  {label(spec)}: failed to start: {exc}")
        ctx.results.starts.append(
            {
                "mode": spec.mode,
                "proxy": spec.name,
                "rep": rep,
                "ok": False,
                "error": str(exc),
            }
        )
        return None
    ctx.results.starts.append(
        {
            "mode": spec.mode,
            "proxy": spec.name,
            "rep": rep,
            "ok": True,
            "startup_s": round(proxy.startup_s, 3),
        }
    )
    return proxy


def preflight(ctx: Context, proxy: RunningProxy) -> str | None:
    """Check that the proxy relays both files intact; return an error or None."""
    for name, size in servers.SIZES.items():
        try:
            status, body = load.fetch(
                proxy.port, *request_for(ctx, proxy, name), tls_name=tls_name(proxy)
            )
        except OSError as exc:
            return f"GET /{name}: {type(exc).__name__}: {exc}"
        if status != 200 or body != servers.file_body(size):
            return f"GET /{name}: status {status}, {len(body)} bytes (want {size})"
    try:
        verdict = load.keepalive_probe(
            proxy.port, *request_for(ctx, proxy, "small"), tls_name=tls_name(proxy)
        )
    except OSError as exc:
        return f"keep-alive probe: {type(exc).__name__}: {exc}"
    ctx.results.keepalive.setdefault(proxy.spec.mode, {})[proxy.spec.name] = verdict
    return None


def http_flags(
    result: load.WrkResult, size: int, alive: bool, keepalive: str
) -> list[str]:
    flags = []
    if result.err_status:
        flags.append("non-2xx")
    if result.socket_errors:
        flags.append("socket-errors")
        if keepalive.startswith("no (closes without"):
            # wrk counts every connection the server closes without saying
            # "Connection: close" as a read error, then reconnects.
            flags.append("silent-close")
    if result.requests == 0:
        flags.append("no-responses")
    elif result.bytes_per_response < size:
        flags.append("short-responses")
    if not alive:
        flags.append("proxy-died")
    return flags


def wrk_once(
    ctx: Context, proxy: RunningProxy, rep: int, name: str, conns: int
) -> dict[str, Any]:
    """One wrk run, as a raw result row."""
    row: dict[str, Any] = {
        "mode": proxy.spec.mode,
        "proxy": proxy.spec.name,
        "rep": rep,
        "size": name,
        "conns": conns,
    }
    pid = proxy.proc.pid if proxy.proc else ctx.origin.proc.pid
    hwm_reset = procs.reset_peak_rss(pid)
    # The load core: wrk, this script, and the origin (unless the origin is
    # the peer measured, as for "none").
    load_roots = [ctx.origin.proc.pid] if proxy.proc else []
    load_before = procs.load_seconds(load_roots)
    cpu_before = procs.tree_jiffies(pid)
    try:
        with ctx.foreign_cpu(proxy) as foreign:
            result = load.run_wrk(
                proxy.port,
                *request_for(ctx, proxy, name),
                conns,
                ctx.args.duration,
                ctx.load_cpu,
                tls=tls_name(proxy) is not None,
            )
    except load.LoadError as exc:
        row.update(error=str(exc), flags=["wrk-failed"])
        say(f"    {name:<5} c={conns:<3} wrk failed: {exc}")
        return row
    cpu_s = (procs.tree_jiffies(pid) - cpu_before) / os.sysconf("SC_CLK_TCK")
    load_s = procs.load_seconds(load_roots) - load_before
    alive = proxy.proc is None or proxy.proc.alive()
    keepalive = ctx.results.keepalive.get(proxy.spec.mode, {}).get(proxy.spec.name, "")
    row.update(
        wrk=result.as_dict(),
        peak_rss_kib=procs.tree_kib(pid, "VmHWM"),
        cpu_share=round(cpu_s / (result.duration_us / 1e6), 3)
        if result.duration_us
        else None,
        load_cpu_share=round(load_s / (result.duration_us / 1e6), 3)
        if result.duration_us
        else None,
        rss_of="nginx" if proxy.proc is None else "proxy",
        hwm_reset=hwm_reset,
        alive=alive,
        flags=http_flags(result, servers.SIZES[name], alive, keepalive),
        foreign_cpu_s=round(foreign.seconds(), 2),
    )
    if ctx.noisy(ctx.args.duration, row["foreign_cpu_s"]):
        row["flags"].append("busy-machine")
    if proxy.proc is not None and procs.load_bound(
        row["cpu_share"], row["load_cpu_share"], ctx.load_cpu
    ):
        # The peer had CPU to spare and the load core had none: its req/s
        # is the load generator's limit, not its own.
        row["flags"].append("load-bound")
    say(
        f"    {name:<5} c={conns:<3} {result.rps:>9.1f} req/s  "
        f"p50 {result.p50_us / 1000:.2f} ms  p99 {result.p99_us / 1000:.2f} ms  "
        f"non2xx {result.err_status}  sockerr {result.socket_errors}"
        + (f"  FLAGGED {','.join(row['flags'])}" if row["flags"] else "")
    )
    return row


def measure_http(
    ctx: Context, proxy: RunningProxy, rep: int, name: str, conns: int
) -> bool:
    """wrk runs until one is not disturbed by other processes (or retries run
    out); returns False if the proxy is no longer usable."""
    for attempt in range(1 + ctx.args.retry_noisy):
        row = wrk_once(ctx, proxy, rep, name, conns)
        ctx.results.http.append(row)
        if (
            "busy-machine" not in row.get("flags", [])
            or attempt == ctx.args.retry_noisy
        ):
            break
        row["discarded"] = "busy machine, measured again"
        say(
            f"    {name:<5} c={conns:<3} discarded: other processes used "
            f"{row['foreign_cpu_s']:.2f} CPU-s; again"
        )
    return bool(row.get("alive"))


def measure_tunnel(ctx: Context, proxy: RunningProxy, rep: int) -> None:
    spec = proxy.spec
    row: dict[str, Any] = {"proxy": spec.name, "rep": rep}
    if not spec.supports_connect:
        row.update(ok=False, error="unsupported (no CONNECT)", mb_per_s=0.0)
    else:
        expected = ctx.args.tunnel_mib * MIB
        direct = proxy.proc is None
        port = ctx.tunnel_port if direct else proxy.port
        with ctx.foreign_cpu(proxy) as foreign:
            result = load.tunnel_transfer(
                port, ctx.tunnel_port, expected, via_proxy=not direct
            )
        row.update(
            ok=result.ok,
            error=result.error,
            nbytes=result.nbytes,
            seconds=round(result.seconds, 4),
            mb_per_s=round(result.mb_per_s, 1),
            foreign_cpu_s=round(foreign.seconds(), 2),
        )
        row["busy_machine"] = ctx.noisy(result.seconds, row["foreign_cpu_s"])
    ctx.results.tunnel.append(row)
    shown = f"{row['mb_per_s']:.1f} MB/s" if row["ok"] else row["error"]
    if row.get("busy_machine"):
        shown += f"  FLAGGED busy-machine ({row['foreign_cpu_s']:.2f} CPU-s)"
    say(f"    CONNECT {ctx.args.tunnel_mib} MiB: {shown}")


def warm_up(ctx: Context, proxy: RunningProxy) -> None:
    try:
        load.run_wrk(
            proxy.port,
            *request_for(ctx, proxy, "small"),
            10,
            1,
            ctx.load_cpu,
            tls=tls_name(proxy) is not None,
        )
    except load.LoadError as exc:
        say(f"    warm-up failed: {exc}")


def http_session(ctx: Context, spec: ProxySpec, rep: int) -> None:
    """Start one proxy, run every (size, conns) load and the tunnel, stop it."""
    say(f"  [{label(spec)}]")
    proxy = start(ctx, spec, rep)
    if proxy is None:
        return
    try:
        error = preflight(ctx, proxy)
        if error:
            say(f"    preflight failed: {error}")
            ctx.results.http.append(
                {
                    "mode": spec.mode,
                    "proxy": spec.name,
                    "rep": rep,
                    "size": "small",
                    "conns": 50,
                    "error": error,
                    "log_tail": proxy.proc.log_tail(12) if proxy.proc else "",
                    "flags": ["preflight-failed"],
                }
            )
            return
        usable = True
        if "http" not in ctx.args.skip:
            warm_up(ctx, proxy)
            usable = all(
                measure_http(ctx, proxy, rep, name, conns)
                for name in servers.SIZES
                for conns in CONNS
            )
        if usable and wants_tunnel(ctx, spec):
            measure_tunnel(ctx, proxy, rep)
    finally:
        if proxy.proc:
            ctx.pm.stop(proxy.proc)


def wants_tunnel(ctx: Context, spec: ProxySpec) -> bool:
    """CONNECT is a forward-proxy feature: measured in forward mode (and for
    the baseline when forward mode runs)."""
    return (
        "tunnel" not in ctx.args.skip
        and "forward" in ctx.args.modes
        and spec.mode in ("forward", servers.BASELINE)
    )


def run_http_phase(ctx: Context, mode: str, with_baseline: bool) -> None:
    """Every repetition of ``mode``'s peers (and of the baseline if asked),
    in an order rotated on each repetition."""
    names = ctx.args.proxy_list
    specs = servers.specs_for(mode, names)
    if with_baseline:
        specs += servers.specs_for(servers.BASELINE, names)
    if not specs:
        return
    for rep in range(ctx.args.reps):
        say(f"{mode} mode, repetition {rep + 1}/{ctx.args.reps}")
        for spec in rotated(specs, rep):
            if ctx.results.failed_to_start(spec.mode, spec.name):
                say(f"  [{label(spec)}] skipped: failed to start earlier")
                continue
            if ctx.results.failed_preflight(spec.mode, spec.name):
                say(f"  [{label(spec)}] skipped: preflight failed earlier")
                continue
            if spec.mode == servers.BASELINE and rep >= ctx.args.baseline_reps:
                continue
            http_session(ctx, spec, rep)


def slow_session(ctx: Context, spec: ProxySpec) -> None:
    row: dict[str, Any] = {"proxy": spec.name}
    ctx.results.slow.append(row)
    proxy = start(ctx, spec, "slow")
    if proxy is None or proxy.proc is None:
        row["error"] = "failed to start"
        return
    try:
        row["error"] = preflight(ctx, proxy)
        if row["error"]:
            return
        result = load.slow_download(
            proxy.port,
            ctx.origin.url(servers.SLOW_FILE),
            ctx.origin.host,
            proxy.proc.pid,
            rate=ctx.args.slow_rate_kib * 1024,
            seconds=ctx.args.slow_seconds,
        )
        row.update(
            status_line=result.status_line,
            received=result.received,
            seconds=round(result.seconds, 2),
            baseline_kib=result.baseline_kib,
            peak_kib=result.peak_kib,
            growth_kib=result.growth_kib,
            samples_kib=result.samples_kib,
        )
        say(
            f"  [{spec.name}] RSS +{result.growth_kib / 1024:.1f} MiB "
            f"(read {result.received // 1024} KiB, {result.status_line!r})"
        )
    except OSError as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"
        say(f"  [{spec.name}] slow client failed: {row['error']}")
    finally:
        ctx.pm.stop(proxy.proc)


def run_slow_phase(ctx: Context) -> None:
    say(
        f"slow client: {ctx.args.slow_rate_kib} KiB/s for {ctx.args.slow_seconds:g} s, "
        f"{ctx.args.slow_mib} MiB file"
    )
    for spec in servers.specs_for("forward", ctx.args.proxy_list):
        if ctx.results.failed_to_start(spec.mode, spec.name):
            ctx.results.slow.append({"proxy": spec.name, "error": "failed to start"})
            continue
        slow_session(ctx, spec)


def wants_scale(ctx: Context, phase: str) -> bool:
    """The scale phases measure proxykit forward: run when forward mode and
    proxykit are in the run and the phase is not skipped."""
    return (
        phase not in ctx.args.skip
        and "forward" in ctx.args.modes
        and "proxykit" in ctx.args.proxy_list
    )


def scale_spec(extra: list[str]) -> ProxySpec:
    """proxykit forward as in the HTTP phase, with ``extra`` arguments."""
    base = servers.specs_for("forward", ["proxykit"])[0]
    return ProxySpec(
        base.name,
        lambda s, port: [*servers.proxykit_argv(s, port), *extra],
        True,
        base.notes + " " + " ".join(extra),
    )


def scale_config(ctx: Context, count: int) -> Path:
    """A configuration file raising proxykit's connection cap to ``count``
    plus a margin."""
    path = ctx.settings.tmp / f"proxykit-scale-{count}.toml"
    path.write_text(scale.proxy_config(count))
    return path


def run_idle_phase(ctx: Context) -> None:
    count = ctx.args.idle_connections
    say(f"idle: {count} keep-alive client connections held by proxykit forward")
    row: dict[str, Any] = {"proxy": "proxykit", "connections": count}
    ctx.results.idle.append(row)
    try:
        scale.raise_file_limit(scale.descriptors_for_idle(count))
    except scale.ScaleError as exc:
        row["error"] = str(exc)
        say(f"  skipped: {exc}")
        return
    extra = ["--config", str(scale_config(ctx, count)), "--idle-timeout", "3600"]
    proxy = start(ctx, scale_spec(extra), "idle")
    if proxy is None or proxy.proc is None:
        row["error"] = "failed to start"
        return
    try:
        request = (
            f"GET {ctx.origin.url('small')} HTTP/1.1\r\nHost: {ctx.origin.host}\r\n\r\n"
        ).encode()
        result = asyncio.run(
            scale.hold_idle(
                proxy.port, request, proxy.proc.pid, count, timeout=ctx.args.scale_timeout
            )
        )
        row.update(result.as_dict())
        per = row["kib_per_connection"]
        say(
            f"  held {result.held} of {count}: RSS {result.before_kib} -> "
            f"{result.after_kib} KiB, {'-' if per is None else f'{per:.2f}'} KiB per"
            f" connection ({result.seconds:.0f} s)"
            + (f"; {result.error}" if result.error else "")
        )
    finally:
        ctx.pm.stop(proxy.proc)


def run_tunnels_phase(ctx: Context) -> None:
    count, nbytes = ctx.args.tunnels, ctx.args.tunnels_kib * 1024
    say(f"tunnels: {count} CONNECT tunnels through proxykit forward, {nbytes // 1024} KiB each")
    row: dict[str, Any] = {"proxy": "proxykit", "tunnels": count, "bytes_each": nbytes}
    ctx.results.tunnels.append(row)
    try:
        scale.raise_file_limit(scale.descriptors_for_tunnels(count))
    except scale.ScaleError as exc:
        row["error"] = str(exc)
        say(f"  skipped: {exc}")
        return
    origin = scale.echo_listener()
    try:
        settings = replace(ctx.settings, connect_port=origin.getsockname()[1])
        spec = scale_spec(["--config", str(scale_config(ctx, count))])
        try:
            proxy = servers.start_proxy(ctx.pm, spec, settings, ctx.origin)
        except StartError as exc:
            row["error"] = f"failed to start: {exc}"
            say(f"  proxykit: failed to start: {exc}")
            return
        assert proxy.proc is not None
        try:
            result = asyncio.run(
                scale.run_tunnels(
                    proxy.port,
                    origin,
                    proxy.proc.pid,
                    count,
                    nbytes,
                    timeout=ctx.args.scale_timeout,
                )
            )
        finally:
            ctx.pm.stop(proxy.proc)
    finally:
        origin.close()
    row.update(result.as_dict())
    times = row["time_s"]
    say(
        f"  {result.completed} of {count} tunnels done in {row['seconds']} s"
        f" (opened in {row['setup_seconds']} s); per tunnel min/median/max "
        f"{times['min']}/{times['median']}/{times['max']} s; slowest/median "
        f"{row['stall_ratio']}"
        + (f"; {'; '.join(result.errors)}" if result.errors else "")
    )


def pin_self(cpu: str | None) -> None:
    if cpu and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in cpu.split(",")})


def setup(args: argparse.Namespace) -> str | None:
    """Install packages and the venv; return proxykit's install error if any."""
    if args.no_setup:
        return None
    environment.ensure_debs()
    return environment.ensure_venv(VENV_DIR, REPO_ROOT)


def make_meta(args: argparse.Namespace, install_error: str | None) -> dict[str, Any]:
    return {
        "started_at": time.strftime("%Y%m%d-%H%M%S"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "duration_s": args.duration,
        "reps": args.reps,
        "baseline_reps": args.baseline_reps,
        "modes": args.modes,
        "proxies": {
            mode: [s.name for s in servers.specs_for(mode, args.proxy_list)]
            for mode in [*args.modes, servers.BASELINE]
        },
        "skip": args.skip,
        "reverse_host": servers.REVERSE_HOST,
        "conns": list(CONNS),
        "sizes": servers.SIZES,
        "tunnel_bytes": args.tunnel_mib * MIB,
        "scale": {
            "idle_connections": args.idle_connections,
            "tunnels": args.tunnels,
            "tunnel_bytes_each": args.tunnels_kib * 1024,
            "timeout_s": args.scale_timeout,
            "idle_kib_limit": scale.IDLE_KIB_LIMIT,
            "stall_factor": scale.STALL_FACTOR,
        },
        "slow_client": {
            "file_bytes": args.slow_mib * MIB,
            "rate_bytes_per_s": args.slow_rate_kib * 1024,
            "seconds": args.slow_seconds,
            "sample_interval_s": 0.25,
        },
        "pinning": {
            "proxy_cpu": args.proxy_cpu or None,
            "load_cpu": args.load_cpu or None,
            "on_load_cpu": "wrk, origin nginx, tunnel origin, harness",
        },
        "wrk": "wrk -t1 -cN -dDs --latency --timeout 5s -s bench/wrk_request.lua",
        "proxy_commands": {f"{s.mode} {s.name}": s.notes for s in servers.PROXIES},
        "proxykit_reactor": args.proxykit_reactor or "twistd default (proxykit.reactor.ProxyReactor)",
        "proxykit_install_error": install_error,
        "proxykit_build": environment.proxykit_build(VENV_DIR),
        "machine": environment.machine_info(VENV_DIR),
        "proxykit_source": environment.git_revision(REPO_ROOT),
        "loadavg_at_start": os.getloadavg(),
    }


def benchmark(args: argparse.Namespace, results: Results, tmp: Path) -> None:
    pm = ProcessManager(tmp)
    load_cpu = args.load_cpu or None
    try:
        origin = servers.start_nginx(pm, tmp, load_cpu, args.slow_mib * MIB)
        tunnel, tunnel_port = servers.start_tunnel_origin(
            pm, args.tunnel_mib * MIB, load_cpu
        )
        cert = key = None
        if servers.TLS_MODE in args.modes:
            try:
                cert, key = servers.make_certificate(tmp)
            except StartError as exc:
                say(f"tls mode skipped: no certificate: {exc}")
                args.modes = [m for m in args.modes if m != servers.TLS_MODE]
        settings = Settings(
            VENV_DIR,
            tmp,
            tunnel_port,
            args.proxy_cpu or None,
            args.proxykit_reactor,
            args.proxykit_arg,
            origin.port,
            args.proxykit_reverse_arg,
            cert,
            key,
        )
        ctx = Context(args, pm, origin, tunnel, tunnel_port, settings, results)
        say(
            f"origin nginx on 127.0.0.1:{origin.port}, tunnel origin on "
            f"127.0.0.1:{tunnel_port}"
        )
        baseline_done = False
        for mode in args.modes:
            if "http" in args.skip and (mode != "forward" or "tunnel" in args.skip):
                continue
            # The no-proxy baseline is the same load in forward and reverse
            # mode: run it once.  It is plain HTTP, so not a peer in tls mode.
            if mode == servers.TLS_MODE:
                run_http_phase(ctx, mode, with_baseline=False)
                continue
            run_http_phase(ctx, mode, with_baseline=not baseline_done)
            baseline_done = True
        if "slow" not in args.skip and "forward" in args.modes:
            run_slow_phase(ctx)
        if wants_scale(ctx, "idle"):
            run_idle_phase(ctx)
        if wants_scale(ctx, "tunnels"):
            run_tunnels_phase(ctx)
    finally:
        pm.stop_all()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    with procs.signals_as_exceptions():
        try:
            install_error = setup(args)
        except environment.SetupError as exc:
            say(f"[setup] {exc}")
            return 2
        if install_error:
            say(
                f"[setup] proxykit not installable, it will be reported as failed:\n"
                f"{install_error}"
            )
        pin_self(args.load_cpu or None)
        results = Results(make_meta(args, install_error))
        tmp = Path(tempfile.mkdtemp(prefix="proxykit-bench-"))
        interrupted = False
        try:
            benchmark(args, results, tmp)
        except KeyboardInterrupt:
            interrupted = True
            say("interrupted: stopped every process, writing partial results")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    results.meta["wall_time_s"] = round(time.monotonic() - began, 1)
    results.meta["interrupted"] = interrupted
    results.meta["loadavg_at_end"] = os.getloadavg()
    summary = report.build_summary(results)
    say("\n" + report.render(results, summary))
    path = report.write_json(results, summary, args.results_dir)
    say(f"\nresults: {path} (wall time {results.meta['wall_time_s']} s)")
    # The charts beside the results (bench-TIME-forward.svg, and
    # latest-forward.svg); bench/chart.py draws them into docs/_static.
    payload = {"meta": results.meta, "summary": summary}
    chart.write_charts(payload, args.results_dir, stem=path.stem)
    chart.write_charts(payload, args.results_dir, stem="latest")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
