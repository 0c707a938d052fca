# -*- test-case-name: tests.test_benchstages -*-
"""
Where one small keep-alive request's cost goes, stage by stage, in forward
and reverse mode: machine instructions counted by
C{valgrind --tool=callgrind}, so the figures repeat whatever else the
machine is doing (issue 14's per-stage cost table).

    .venv/bin/python bench/stages.py [--requests N] [--mode forward|reverse|both]
                                     [--live [--connections C]] [--json FILE]
                                     [--rev REV ...] [CHECKOUT ...]

The request is relayed as in C{bench/request_cost.py}: C{ProxyProtocol} on
Twisted's in-memory transports (C{tests._harness}), no sockets, one client
connection and one pooled origin connection kept alive.  The request and
the response are the benchmark's: C{GET http://127.0.0.1:ORIGIN/small}
(forward) or C{GET /small} with C{Host: bench.test} (reverse, one route to
the origin), answered as nginx answers it: eight header fields and a
100-byte body.

A small C module (C{bench/stagehook.c}, compiled with C{gcc} against this
Python's headers) evaluates every Python frame and knows which stage the
running frame belongs to (L{stageFor}: by module, and by function for the
header policy's functions in the relay); callgrind collects instructions only
while the measured stage runs.  C code called from a frame (httptools, the
allocator, C{dict} and C{bytes} methods) counts for the frame's stage;
standard-library frames count for their caller's stage; a collection by
CPython's cyclic garbage collector counts for its own.  Each stage is
measured over its own round of C{--requests} requests in one process, after
a warm-up; a last round without the probe gives the true total (the probe
stops CPython inlining Python-to-Python calls, which adds about 9%,
shown).  Microseconds are the stage's share of the CPU time per request
measured without valgrind (the best of five rounds of 2,000 requests).

With C{--live}, C{twistd -n proxykit forward} (or C{reverse --route
bench.test=ORIGIN}) is measured instead, as C{bench/run.py} starts it, on
C{ProxyReactor} and loopback sockets in front of the benchmark's nginx
origin: Twisted's reactor and transports are counted, and there is no
harness.  A client (C{bench/syscalls.py}'s) sends each round's requests
over C{--connections} keep-alive connections and starts and ends each round
with a C{SIGUSR2} to the proxy; the microseconds are the proxy's user CPU
time per request without valgrind.

Each CHECKOUT (default: this one) is measured in subprocesses that import
proxykit and the test harness from it; C{--rev REV} measures a commit of
this repository, exported with C{git archive} to a scratch directory.
Needs valgrind, gcc and CPython 3.11's headers (C{python3-dev}); C{--live}
also nginx.  Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

STAGES: list[tuple[str, str]] = [
    ("parse", "HTTP/1.1 parsing and framing (proxykit.h1, httptools)"),
    ("route", "admission and routing (admission, routing, vhosts, auth, destinations)"),
    ("headers", "header policy (policy.rewrite, policy.forwarded, request ids)"),
    ("relay", "the exchange, client and origin sides and the pool (proxykit.relay)"),
    ("hooks", "hooks and trace (relay.hooks, relay.logfields, proxykit.ops)"),
    ("twisted", "Twisted (reactor, transports, Deferreds, protocols, zope.interface)"),
    ("reactor", "proxykit's event loop and direct writes (proxykit.reactor, _twistedcompat, _directio)"),
    ("gc", "CPython's cyclic garbage collector"),
    ("harness", "the in-memory harness (fake transports and reactor: not in a real run)"),
    ("other", "the rest of proxykit (named below the table)"),
]
"""The stages, in the tables' order: key and description."""

STAGE_KEYS = [key for key, _ in STAGES]

_MODULES: list[tuple[str, str]] = [
    ("h1/", "parse"),
    ("relay/admission.py", "route"),
    ("policy/routing.py", "route"),
    ("policy/vhosts.py", "route"),
    ("policy/auth.py", "route"),
    ("policy/destinations.py", "route"),
    ("policy/balance.py", "route"),
    ("decisions.py", "route"),
    ("policy/rewrite.py", "headers"),
    ("policy/forwarded.py", "headers"),
    ("policy/requestid.py", "headers"),
    ("relay/hooks.py", "hooks"),
    ("relay/logfields.py", "hooks"),
    ("ops/", "hooks"),
    ("relay/", "relay"),
    ("reactor.py", "reactor"),
    ("_twistedcompat.py", "reactor"),
    ("_directio.py", "reactor"),
]
"""proxykit's modules (paths under C{proxykit/}, prefixes) and their stages."""

_FUNCTIONS: dict[tuple[str, str], str] = {
    ("relay/exchange.py", "upstreamHeaders"): "headers",
    ("relay/exchange.py", "Exchange._head"): "headers",
    ("relay/exchange.py", "Exchange._sendHead"): "headers",
    ("relay/exchange.py", "Exchange._rewritten"): "headers",
    ("relay/client.py", "ProxyProtocol.viaFor"): "headers",
}
"""The relay's functions that apply the header policy (module, qualified name)."""


def stageFor(filename: str, qualname: str, driver: str = "") -> str | None:
    """
    The stage a Python function's frames count for.

    @param filename: The function's C{co_filename}.
    @param qualname: Its C{co_qualname}.
    @param driver: The measuring script's file name (the harness's).
    @return: A key of L{STAGES}, or C{None}: the caller's stage (the
        standard library, generated code such as dataclasses' C{__init__}).
    """
    path = filename.replace(os.sep, "/")
    if (
        (driver and filename == driver)
        or "/proxykit/testing/" in path
        or "/tests/" in path
        or path.endswith("/twisted/internet/testing.py")
    ):
        return "harness"
    if "/proxykit/" in path:
        module = path.rsplit("/proxykit/", 1)[1]
        stage = _FUNCTIONS.get((module, qualname))
        if stage is not None:
            return stage
        for prefix, stage in _MODULES:
            if module.startswith(prefix):
                return stage
        return "other"
    if "/twisted/" in path or "/zope/" in path:
        return "twisted"
    if "/httptools/" in path:
        return "parse"
    return None


def moduleName(filename: str) -> str:
    """
    A short name for the module of C{filename}, for the rest's list.
    """
    path = filename.replace(os.sep, "/")
    for package in ("proxykit", "twisted", "zope"):
        if f"/{package}/" in path:
            tail = path.rsplit(f"/{package}/", 1)[1]
            return f"{package}.{tail[:-3] if tail.endswith('.py') else tail}".replace("/", ".")
    return os.path.basename(path)


def callgrindTotals(text: str) -> tuple[str, int]:
    """
    The trigger's name and the instruction total of one callgrind dump.

    @param text: A callgrind output file (C{callgrind.out.PID.N}) written by
        C{CALLGRIND_DUMP_STATS_AT(name)}.
    @return: C{(name, instructions)}; the name is C{""} when the dump was not
        asked for by name (the one at exit).
    """
    name = ""
    total: int | None = None
    for line in text.splitlines():
        if line.startswith("desc: Trigger: Client Request: "):
            name = line[len("desc: Trigger: Client Request: ") :].strip()
        elif line.startswith(("summary:", "totals:")):
            figures = line.split(":", 1)[1].split()
            if figures:
                total = int(figures[0])
    if total is None:
        raise ValueError("no summary or totals line in the callgrind dump")
    return name, total


OBJECTS: list[tuple[str, str]] = [
    ("libpython", "CPython"),
    ("python3", "CPython"),
    ("libc.so", "libc"),
    ("ld-linux", "libc"),
    ("_stagehook", "probe"),
]
"""Machine-code objects (by file name) and the group they count for; code
under a C{httptools} directory counts as C{"httptools"}, any other object
as C{"other C"}."""

OBJECT_GROUPS = ["CPython", "httptools", "libc", "probe", "other C"]


def objectGroup(path: str) -> str:
    """
    The group of L{OBJECT_GROUPS} an object file's code counts for.
    """
    if "/httptools/" in path:
        return "httptools"
    name = os.path.basename(path)
    for prefix, group in OBJECTS:
        if name.startswith(prefix):
            return group
    return "other C"


def callgrindObjects(text: str) -> dict[str, int]:
    """
    Instructions executed in each group of machine-code objects (the
    interpreter, httptools, libc...), from one callgrind dump: the self
    costs of the functions of each object (C{ob=}), calls' inclusive costs
    left out.
    """
    names: dict[str, str] = {}
    groups: dict[str, int] = {}
    current = "other C"
    afterCall = False
    for line in text.splitlines():
        if line.startswith(("ob=", "cob=")):
            value = line.split("=", 1)[1]
            if value.startswith("("):
                key, _, name = value.partition(")")
                if name.strip():
                    names[key] = name.strip()
                value = names.get(key, "???")
            if line.startswith("ob="):
                current = objectGroup(value)
        elif line.startswith("calls="):
            afterCall = True
        elif line[:1].isdigit() or line[:1] in "+-*":
            if afterCall:
                afterCall = False
                continue
            figures = line.split()
            if len(figures) >= 2:
                groups[current] = groups.get(current, 0) + int(figures[1])
    return groups


# The benchmark's request (bench/wrk_request.lua) and nginx's response to it.
BODY = b"x" * 99 + b"\n"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"Server: nginx/1.22.1\r\n"
    b"Date: Fri, 04 Dec 2026 18:00:00 GMT\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Length: 100\r\n"
    b"Last-Modified: Fri, 04 Dec 2026 17:59:00 GMT\r\n"
    b"Connection: keep-alive\r\n"
    b'ETag: "6751a9c4-64"\r\n'
    b"Accept-Ranges: bytes\r\n"
    b"\r\n" + BODY
)
REQUESTS = {
    "forward": b"GET http://127.0.0.1:9000/small HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n\r\n",
    "reverse": b"GET /small HTTP/1.1\r\nHost: bench.test\r\n\r\n",
}

_DRIVER = r'''
import gc, json, os, sys, time
mode, requests, hookdir, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
spec = json.loads(os.environ["STAGES_SPEC"])
REQUEST, RESPONSE = spec["request"].encode("latin-1"), spec["response"].encode("latin-1")
sys.path.insert(0, os.path.dirname(spec["stages"]))
import stages
from tests._harness import Harness
import proxykit
if mode == "reverse":
    from proxykit.config import OriginConfig, ProxyConfig, ReverseConfig, RouteConfig, Timeouts
    from proxykit.config import VhostConfig
    from proxykit.policy.vhosts import ReverseRouter, VhostTable
    TIMEOUTS = Timeouts(connect=5, response=30, idle=60, tunnelIdle=100)
    route = RouteConfig(origins=(OriginConfig("http://127.0.0.1:9000"),))
    reverse = ReverseConfig(vhosts=(VhostConfig(("bench.test",), (route,)),))
    h = Harness(ProxyConfig(reverse=reverse, timeouts=TIMEOUTS), router=None)
    h.factory.router = ReverseRouter(VhostTable.fromConfig(reverse, h.reactor), reverse)
else:
    h = Harness()
h.send(REQUEST)
origin, ot = h.acceptOrigin()
origin.dataReceived(RESPONSE)
first = h.received()
assert first.startswith(b"HTTP/1.1 200 OK") and first.endswith(spec["body"].encode()), first

def one():
    h.send(REQUEST)
    origin.dataReceived(RESPONSE)
    h.received()
    ot.clear()

def check():
    h.send(REQUEST)
    origin.dataReceived(RESPONSE)
    answer = h.received()
    ot.clear()
    assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(spec["body"].encode()), answer

result = {"proxykit": proxykit.__file__}
if hookdir == "-":
    for _ in range(2000):
        one()
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(2000):
            one()
        best = min(best, (time.process_time() - started) / 2000)
    check()
    result["us"] = best * 1e6
else:
    sys.path.insert(0, hookdir)
    import _stagehook
    keys = stages.STAGE_KEYS
    driver = os.path.abspath(__file__)
    other = set()
    def classify(code):
        stage = stages.stageFor(code.co_filename, getattr(code, "co_qualname", code.co_name), driver)
        if stage is None:
            return -1
        if stage == "other":
            other.add(stages.moduleName(code.co_filename))
        return keys.index(stage)
    _stagehook.install(classify, keys.index("harness"), keys.index("gc"))
    collected = _stagehook.gcCallback
    gc.callbacks.append(collected)
    for _ in range(300):
        one()
    check()
    _stagehook.startInstrumentation()
    rounds = [("probed", -2)] + [(key, index) for index, key in enumerate(keys)]
    for name, target in rounds:
        _stagehook.zero()
        _stagehook.measure(target)
        for _ in range(requests):
            one()
        _stagehook.measure(-1)
        _stagehook.dump(name)
        check()
    gc.callbacks.remove(collected)
    _stagehook.uninstall()
    for _ in range(50):
        one()
    _stagehook.zero()
    _stagehook.measure(-2)
    for _ in range(requests):
        one()
    _stagehook.measure(-1)
    _stagehook.dump("total")
    check()
    result["other"] = sorted(other)
with open(out, "w") as f:
    json.dump(result, f)
'''

_LIVE = r"""
import gc, os, signal, sys
markers, hookdir, stagesFile = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, hookdir)
sys.path.insert(0, os.path.dirname(stagesFile))
import _stagehook
import stages
keys = stages.STAGE_KEYS
other = set()

def classify(code):
    stage = stages.stageFor(code.co_filename, getattr(code, "co_qualname", code.co_name))
    if stage is None:
        return -1
    if stage == "other":
        other.add(stages.moduleName(code.co_filename))
    return keys.index(stage)

collected = _stagehook.gcCallback

rounds = [("probed", -2)] + [(key, index) for index, key in enumerate(keys)] + [("total", -2)]
done = [-1]

def advance(signum, frame):
    # Each SIGUSR2 ends the round being measured (if any) and starts the next.
    n = done[0]
    if 0 <= n < len(rounds):
        _stagehook.measure(-1)
        _stagehook.dump(rounds[n][0])
    n += 1
    done[0] = n
    if n == 0:
        _stagehook.startInstrumentation()
    if n < len(rounds):
        if rounds[n][0] == "total":
            gc.callbacks.remove(collected)
            _stagehook.uninstall()
        _stagehook.zero()
        _stagehook.measure(rounds[n][1])
    else:
        with open(os.path.join(markers, "other"), "w") as f:
            f.write("\n".join(sorted(other)))
    open(os.path.join(markers, str(n)), "w").close()

signal.signal(signal.SIGUSR2, advance)
_stagehook.install(classify, keys.index("twisted"), keys.index("gc"))
gc.callbacks.append(collected)
from twisted.scripts.twistd import run
sys.argv = ["twistd"] + sys.argv[4:]
run()
"""


def probeMissing() -> str | None:
    """
    Why the probe cannot be built here, or C{None}: it needs gcc, valgrind's
    C{callgrind.h}, and the headers of this CPython (3.11 or 3.12: it reads
    the frame's C{f_code}), internal ones included.
    """
    if not ((3, 11) <= sys.version_info[:2] <= (3, 12)):
        return f"the probe reads CPython 3.11 and 3.12 frames, not {sys.version.split()[0]}'s"
    if shutil.which("gcc") is None:
        return "gcc is not installed"
    include = sysconfig.get_paths()["include"]
    if not os.path.exists(os.path.join(include, "internal", "pycore_frame.h")):
        return f"CPython's headers are not installed ({include}; python3-dev)"
    if not os.path.exists("/usr/include/valgrind/callgrind.h"):
        return "valgrind's headers are not installed (valgrind)"
    return None


def buildHook(directory: str) -> str:
    """
    Compile C{bench/stagehook.c} for this Python into C{directory}.

    @return: C{directory}, to put on C{sys.path}.
    """
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    include = sysconfig.get_paths()["include"]
    subprocess.run(
        [
            "gcc", "-shared", "-fPIC", "-O2", "-fno-optimize-sibling-calls",
            f"-I{include}", os.path.join(HERE, "stagehook.c"),
            "-o", os.path.join(directory, "_stagehook" + suffix),
        ],
        check=True,
    )  # fmt: skip
    return directory


@dataclass
class Measured:
    """
    One checkout's figures in one mode.

    @ivar instructions: Instructions per request: C{"total"} (without the
        probe), C{"probed"} (with it) and one per stage key.
    @ivar us: CPU microseconds per request without valgrind.
    @ivar other: The modules whose frames counted as the rest.
    @ivar objects: Per stage (and C{"total"}), instructions per request in
        each of L{OBJECT_GROUPS}.
    """

    label: str
    mode: str
    requests: int
    instructions: dict[str, float] = field(default_factory=dict)
    us: float = 0.0
    other: list[str] = field(default_factory=list)
    objects: dict[str, dict[str, float]] = field(default_factory=dict)

    def share(self, stage: str) -> float:
        """
        The stage's fraction of the probed total.
        """
        return self.instructions[stage] / self.instructions["probed"]


def _spec() -> dict[str, str]:
    return {
        "response": RESPONSE.decode("latin-1"),
        "body": BODY.decode(),
        "stages": os.path.abspath(__file__),
    }


def measure(checkout: str, label: str, mode: str, requests: int, hookdir: str) -> Measured:
    """
    Measure C{checkout} in C{mode}: a run under callgrind and one without.
    """
    spec = dict(_spec(), request=REQUESTS[mode].decode("latin-1"))
    env = dict(os.environ, PYTHONPATH=checkout, PYTHONHASHSEED="0", STAGES_SPEC=json.dumps(spec))
    measured = Measured(label, mode, requests)
    with tempfile.TemporaryDirectory(prefix="stages-") as scratch:
        driver = os.path.join(scratch, "driver.py")
        with open(driver, "w") as f:
            f.write(_DRIVER)
        out = os.path.join(scratch, "result.json")
        grind = os.path.join(scratch, "callgrind.out")
        subprocess.run(
            [sys.executable, driver, mode, "0", "-", out], cwd=checkout, env=env, check=True, timeout=300
        )
        with open(out) as f:
            measured.us = json.load(f)["us"]
        subprocess.run(
            [
                "valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no",
                f"--callgrind-out-file={grind}", sys.executable, driver, mode, str(requests),
                hookdir, out,
            ],
            cwd=checkout, env=env, check=True, timeout=3600,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        with open(out) as f:
            result = json.load(f)
        measured.other = result["other"]
        for name in sorted(os.listdir(scratch)):
            if name.startswith("callgrind.out."):
                with open(os.path.join(scratch, name)) as f:
                    text = f.read()
                trigger, total = callgrindTotals(text)
                if trigger:
                    measured.instructions[trigger] = total / requests
                    measured.objects[trigger] = {
                        group: count / requests for group, count in callgrindObjects(text).items()
                    }
    missing = {"total", "probed", *STAGE_KEYS} - set(measured.instructions)
    if missing:
        raise RuntimeError(f"callgrind wrote no dump for {sorted(missing)}")
    return measured


def _liveArgv(mode: str, port: int, originPort: int) -> list[str]:
    argv = ["-n", "--pidfile=", "proxykit", mode, "--listen", f"tcp:{port}:interface=127.0.0.1"]
    if mode == "reverse":
        argv += ["--route", f"bench.test=http://127.0.0.1:{originPort}"]
    return argv


def _userSeconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / os.sysconf("SC_CLK_TCK")


def measureLive(
    checkout: str, label: str, mode: str, requests: int, hookdir: str, connections: int
) -> Measured:
    """
    Measure C{checkout}'s C{twistd proxykit MODE} on a real reactor and
    sockets: an nginx origin, a client on C{connections} keep-alive
    connections (C{bench/syscalls.py}'s), the proxy under callgrind with
    the probe; each round is started and ended by a C{SIGUSR2} to the
    proxy.  The microseconds are the proxy's user CPU time per request
    without valgrind, over 2,000 requests.
    """
    from pathlib import Path

    import syscalls
    from harness.procs import ProcessManager, free_port, wait_for_port
    from harness.servers import start_nginx

    env = dict(os.environ, PYTHONPATH=checkout, PYTHONHASHSEED="0")
    measured = Measured(label, mode, requests)
    with tempfile.TemporaryDirectory(prefix="stages-live-") as scratch:
        directory = Path(scratch)
        pm = ProcessManager(directory)
        try:
            origin = start_nginx(pm, directory, None, 1024)
            if mode == "forward":
                request = f"GET {origin.url('small')} HTTP/1.1\r\nHost: {origin.host}\r\n\r\n"
            else:
                request = "GET /small HTTP/1.1\r\nHost: bench.test\r\n\r\n"

            def client(port: int) -> syscalls.Client:
                return syscalls.Client(
                    port, request.encode(), origin.files["small"], connections
                )

            # Without valgrind: the user CPU time per request.
            port = free_port()
            twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
            proc = pm.start("proxykit", [twistd, *_liveArgv(mode, port, origin.port)], cwd=Path(checkout), env=env)
            wait_for_port(proc, port)
            load = client(port)
            load.run(500, 60)
            started = _userSeconds(proc.pid)
            load.run(2000, 120)
            measured.us = (_userSeconds(proc.pid) - started) / 2000 * 1e6
            load.close()
            pm.stop(proc)

            markers = directory / "markers"
            markers.mkdir()
            driver = directory / "live.py"
            driver.write_text(_LIVE)
            grind = directory / "callgrind.out"
            port = free_port()
            proc = pm.start(
                "proxykit-callgrind",
                [
                    "valgrind", "--tool=callgrind", "--instr-atstart=no",
                    "--collect-atstart=no", f"--callgrind-out-file={grind}",
                    sys.executable, str(driver), str(markers), hookdir,
                    os.path.abspath(__file__), *_liveArgv(mode, port, origin.port),
                ],
                cwd=Path(checkout), env=env,
            )  # fmt: skip
            wait_for_port(proc, port, timeout=300)
            load = client(port)
            load.run(300, 600)
            for n in range(len(STAGE_KEYS) + 3):
                os.kill(proc.pid, signal.SIGUSR2)
                deadline = time.monotonic() + 120
                while not (markers / str(n)).exists():
                    if time.monotonic() > deadline or not proc.alive():
                        raise RuntimeError(f"the proxy did not start round {n}")
                    time.sleep(0.05)
                if n < len(STAGE_KEYS) + 2:
                    load.run(requests, 600)
            load.close()
            measured.other = [m for m in (markers / "other").read_text().split("\n") if m]
            pm.stop(proc, timeout=60)
            for path in sorted(directory.glob("callgrind.out.*")):
                text = path.read_text()
                trigger, total = callgrindTotals(text)
                if trigger:
                    measured.instructions[trigger] = total / requests
                    measured.objects[trigger] = {
                        group: count / requests
                        for group, count in callgrindObjects(text).items()
                    }
        finally:
            pm.stop_all()
    missing = {"total", "probed", *STAGE_KEYS} - set(measured.instructions)
    if missing:
        raise RuntimeError(f"callgrind wrote no dump for {sorted(missing)}")
    return measured


def table(results: list[Measured]) -> str:
    """
    A Markdown table of one mode's results, a column group per checkout:
    instructions per request, share of the probed total, and microseconds
    (the share of the CPU time per request: approximate, unlike the
    instructions); with more than one checkout, the change of each stage's
    instructions from the first to the last.
    """
    change = len(results) > 1
    head = "| stage |" + "".join(f" {m.label}: instructions | share | µs |" for m in results)
    rule = "| --- |" + " ---: | ---: | ---: |" * len(results)
    if change:
        head += " change |"
        rule += " ---: |"
    lines = [head, rule]

    def row(name: str, values: list[float], shares: list[float | None], us: bool = True) -> None:
        cells = ""
        for m, value, share in zip(results, values, shares, strict=True):
            shown = "" if share is None else f"{share:.1%}"
            micro = f"{share * m.us:.1f}" if us and share is not None else ""
            cells += f" {value:,.0f} | {shown} | {micro} |"
        if change:
            first, last = values[0], values[-1]
            cells += f" {(last - first) / first:+.1%} |" if first else " |"
        lines.append(f"| {name} |{cells}")

    for key, description in STAGES:
        row(description, [m.instructions[key] for m in results], [m.share(key) for m in results])
    row(
        "**proxykit's request path** (the stages without the harness)",
        [m.instructions["probed"] - m.instructions["harness"] for m in results],
        [1 - m.share("harness") for m in results],
    )
    row(
        "sum of the stages (with the probe)",
        [m.instructions["probed"] for m in results],
        [1.0 for _ in results],
    )
    row(
        "total without the probe (harness included)",
        [m.instructions["total"] for m in results],
        [m.instructions["total"] / m.instructions["probed"] for m in results],
        us=False,
    )
    return "\n".join(lines)


def objectTable(m: Measured) -> str:
    """
    A Markdown table of one checkout's stages by the machine code that ran:
    the interpreter (Python code and CPython's objects), httptools, libc
    (the allocator's C{malloc}, C{memcpy}), the probe, and other C
    extensions; instructions per request.
    """
    groups = [g for g in OBJECT_GROUPS if any(m.objects[k].get(g) for k in [*STAGE_KEYS, "total"])]
    lines = [
        "| stage | " + " | ".join(groups) + " |",
        "| --- |" + " ---: |" * len(groups),
    ]
    for key, description in [*STAGES, ("total", "total without the probe")]:
        cells = " | ".join(f"{m.objects[key].get(g, 0):,.0f}" for g in groups)
        lines.append(f"| {description} | {cells} |")
    return "\n".join(lines)


def _label(checkout: str) -> str:
    done = subprocess.run(
        ["git", "-C", checkout, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return done.stdout.strip() if done.returncode == 0 else os.path.basename(checkout)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Instructions per relayed request, by stage.")
    parser.add_argument("--requests", type=int, default=200, help="requests per measured round")
    parser.add_argument("--mode", choices=["forward", "reverse", "both"], default="both")
    parser.add_argument(
        "--rev", action="append", default=[], help="also measure this commit (git archive)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    parser.add_argument(
        "--live",
        action="store_true",
        help="measure twistd proxykit on real sockets (nginx origin) instead of the harness",
    )
    parser.add_argument(
        "--connections", type=int, default=1, help="--live: keep-alive client connections"
    )
    parser.add_argument("checkouts", nargs="*", help="proxykit checkouts (default: this one)")
    args = parser.parse_args(argv)
    if args.live:
        sys.path.insert(0, HERE)
    for tool in ("valgrind", "gcc") + (("nginx",) if args.live else ()):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is needed (apt-get install {tool})")
    missing = probeMissing()
    if missing:
        parser.error(missing)
    modes = ["forward", "reverse"] if args.mode == "both" else [args.mode]
    with tempfile.TemporaryDirectory(prefix="stages-") as scratch:
        hookdir = buildHook(scratch)
        targets: list[tuple[str, str]] = []
        for rev in args.rev:
            commit = subprocess.run(
                ["git", "-C", ROOT, "rev-parse", "--short", rev],
                capture_output=True, text=True, check=True,
            ).stdout.strip()  # fmt: skip
            directory = os.path.join(scratch, commit)
            os.mkdir(directory)
            archive = subprocess.run(["git", "-C", ROOT, "archive", commit], capture_output=True, check=True)
            subprocess.run(["tar", "-x", "-C", directory], input=archive.stdout, check=True)
            targets.append((directory, commit))
        for checkout in args.checkouts or ([] if args.rev else [ROOT]):
            targets.append((os.path.abspath(checkout), _label(os.path.abspath(checkout))))
        everything: list[Measured] = []
        for mode in modes:
            if args.live:
                results = [
                    measureLive(c, label, mode, args.requests, hookdir, args.connections)
                    for c, label in targets
                ]
                how = f"twistd on real sockets, {args.connections} connections"
            else:
                results = [measure(c, label, mode, args.requests, hookdir) for c, label in targets]
                how = "in-memory harness"
            everything.extend(results)
            print(f"\n### {mode} mode ({how}, {args.requests} requests per round)\n")
            print(table(results))
            print(f"\nby machine code, {results[-1].label}:\n")
            print(objectTable(results[-1]))
            for m in results:
                if m.other:
                    print(
                        f"\nthe rest of proxykit, {m.label} (the modules of it that ran,"
                        f" start-up included): {', '.join(m.other)}"
                    )
    if args.json:
        sys.stdout.flush()
        with open(args.json, "w") as f:
            json.dump([m.__dict__ for m in everything], f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
