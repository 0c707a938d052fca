# -*- test-case-name: tests.test_benchstages -*-
"""
Tests for C{bench/stages.py} (instructions per request by stage) and
C{bench/syscalls.py} (system calls per request against nginx): the
grouping into stages, the parsers of callgrind's and strace's output on
canned text, and short real runs where valgrind, gcc, strace and nginx are
present.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from twisted.trial.unittest import SkipTest, SynchronousTestCase

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DOCS = ROOT / "docs"


def script(name: str) -> ModuleType:
    """
    C{bench/NAME.py}, imported (with C{bench/} on C{sys.path}, as it runs).
    """
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def documented(command: str) -> bool:
    """
    Whether C{docs/performance.md} and C{bench/README.md} both give
    C{command}.
    """
    return all(command in path.read_text() for path in (DOCS / "performance.md", BENCH / "README.md"))


stages = script("stages")


def skipWithoutProbe(*tools: str) -> None:
    """
    Skip the test when C{bench/stagehook.c} cannot be built here, or one of
    C{tools} is missing.
    """
    for tool in tools:
        if shutil.which(tool) is None:
            raise SkipTest(f"{tool} is not installed")
    missing = stages.probeMissing()
    if missing:
        raise SkipTest(missing)
syscalls = script("syscalls")

CHECKOUT = "/src/proxykit"

# A callgrind dump as CALLGRIND_DUMP_STATS_AT("parse") writes it (cut down):
# names compressed as "(id) name" the first time and "(id)" after; the cost
# line after calls= is the call's inclusive cost.
DUMP = """# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 4242
cmd:  /usr/bin/python3 driver.py forward 200 /tmp/hook out.json
part: 3


desc: I1 cache:
desc: Timerange: Basic block 100 - 900
desc: Trigger: Client Request: parse

positions: line
events: Ir
summary: 32000


ob=(1) /usr/lib/libpython3.11.so.1.0
fl=(1) ceval.c
fn=(1) _PyEval_EvalFrameDefault
10 20000
+2 5000
cob=(2) /venv/site-packages/httptools/parser/parser.cpython-311-x86_64-linux-gnu.so
cfn=(2) feed_data
calls=1 0
12 6000

ob=(2)
fl=(2) parser.c
fn=(2)
5 4000
ob=(3) /usr/lib/x86_64-linux-gnu/libc.so.6
fl=(3) memmove.S
fn=(3) __memcpy_avx_unaligned_erms
1 2000
ob=(4) /tmp/hook/_stagehook.cpython-311-x86_64-linux-gnu.so
fl=(4) stagehook.c
fn=(4) evaluate
1 1000

totals: 32000
"""

STRACE = """\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 40.10    0.012000           3      4000           sendto
 35.00    0.010500           2      4000        12 recvfrom
 24.90    0.007470           1      4200           epoll_wait
  0.00    0.000000           0         3           getsockopt
------ ----------- ----------- --------- --------- ----------------
100.00    0.029970           2     12203        12 total
"""


class StageForTests(SynchronousTestCase):
    """
    L{stages.stageFor} puts a function's frames in the stage of its module
    (or of itself, for the relay's header functions).
    """

    def stage(self, module: str, qualname: str = "f") -> str | None:
        result: str | None = stages.stageFor(f"{CHECKOUT}/{module}", qualname, "/tmp/driver.py")
        return result

    def test_proxykitModules(self) -> None:
        """
        proxykit's modules go by their path under C{proxykit/}.
        """
        self.assertEqual(self.stage("proxykit/h1/_connection.py", "H1Connection.on_header"), "parse")
        self.assertEqual(self.stage("proxykit/relay/admission.py"), "route")
        self.assertEqual(self.stage("proxykit/policy/vhosts.py"), "route")
        self.assertEqual(self.stage("proxykit/policy/destinations.py"), "route")
        self.assertEqual(self.stage("proxykit/policy/rewrite.py"), "headers")
        self.assertEqual(self.stage("proxykit/relay/exchange.py", "Exchange.responseEnd"), "relay")
        self.assertEqual(self.stage("proxykit/relay/pool.py"), "relay")
        self.assertEqual(self.stage("proxykit/relay/hooks.py", "Trace.finish"), "hooks")
        self.assertEqual(self.stage("proxykit/ops/accesslog.py"), "hooks")
        self.assertEqual(self.stage("proxykit/reactor.py", "ProxyReactor.doPoll"), "reactor")
        self.assertEqual(self.stage("proxykit/_twistedcompat.py", "directPoll"), "reactor")
        self.assertEqual(self.stage("proxykit/_directio.py", "Poller.doPoll"), "reactor")
        self.assertEqual(self.stage("proxykit/config/values.py"), "other")

    def test_headerFunctions(self) -> None:
        """
        The relay's functions that apply the header policy count for it.
        """
        self.assertEqual(self.stage("proxykit/relay/exchange.py", "upstreamHeaders"), "headers")
        self.assertEqual(self.stage("proxykit/relay/exchange.py", "Exchange._sendHead"), "headers")
        self.assertEqual(self.stage("proxykit/relay/client.py", "ProxyProtocol.viaFor"), "headers")

    def test_libraries(self) -> None:
        """
        Twisted and zope.interface are Twisted's stage, except Twisted's
        in-memory fakes, which are the harness's; the standard library and
        generated code count for their caller (C{None}).
        """
        site = "/venv/lib/python3.11/site-packages"
        self.assertEqual(stages.stageFor(f"{site}/twisted/internet/defer.py", "Deferred.callback"), "twisted")
        self.assertEqual(stages.stageFor(f"{site}/zope/interface/declarations.py", "f"), "twisted")
        self.assertEqual(stages.stageFor(f"{site}/twisted/internet/testing.py", "f"), "harness")
        self.assertIsNone(stages.stageFor("/usr/lib/python3.11/enum.py", "EnumType.__call__"))
        self.assertIsNone(stages.stageFor("<string>", "__init__"))

    def test_harness(self) -> None:
        """
        The measuring script, the tests' harness and C{proxykit.testing}
        are the harness.
        """
        self.assertEqual(self.stage("tests/_harness.py"), "harness")
        self.assertEqual(self.stage("proxykit/testing/_harness.py", "ProxyHarness.send"), "harness")
        self.assertEqual(stages.stageFor("/tmp/driver.py", "one", "/tmp/driver.py"), "harness")

    def test_everyStageListed(self) -> None:
        """
        Every stage L{stages.stageFor} answers is a row of the table.
        """
        answers = {stage for _, stage in stages._MODULES} | set(stages._FUNCTIONS.values())
        answers |= {"harness", "twisted", "other", "gc"}
        self.assertEqual(answers, set(stages.STAGE_KEYS))

    def test_moduleName(self) -> None:
        """
        The rest's modules are named as imported.
        """
        self.assertEqual(stages.moduleName(f"{CHECKOUT}/proxykit/config/checks.py"), "proxykit.config.checks")


class CallgrindTests(SynchronousTestCase):
    """
    The callgrind dumps' parsers.
    """

    def test_totals(self) -> None:
        """
        L{stages.callgrindTotals} reads the dump's name and its total.
        """
        self.assertEqual(stages.callgrindTotals(DUMP), ("parse", 32000))

    def test_totalsOfTheLastDump(self) -> None:
        """
        The dump at exit has no name.
        """
        self.assertEqual(stages.callgrindTotals("events: Ir\nsummary: 12\n"), ("", 12))
        self.assertRaises(ValueError, stages.callgrindTotals, "events: Ir\n")

    def test_objects(self) -> None:
        """
        L{stages.callgrindObjects} adds the self costs of each object's
        functions, by group, and leaves calls' inclusive costs out.
        """
        self.assertEqual(
            stages.callgrindObjects(DUMP),
            {"CPython": 25000, "httptools": 4000, "libc": 2000, "probe": 1000},
        )


def measured(label: str, scale: float) -> object:
    m = stages.Measured(label, "forward", 100, us=30.0)
    for index, key in enumerate(stages.STAGE_KEYS):
        m.instructions[key] = 1000.0 * (index + 1) * scale
    m.instructions["probed"] = sum(m.instructions[k] for k in stages.STAGE_KEYS)
    m.instructions["total"] = m.instructions["probed"] * 0.9
    return m


class TableTests(SynchronousTestCase):
    """
    L{stages.table} lays the stages out per checkout.
    """

    def test_table(self) -> None:
        """
        One row per stage, then proxykit's path (the harness left out), the
        probed sum and the total without the probe; with two checkouts, the
        change from the first to the second.
        """
        text = stages.table([measured("before", 1.0), measured("after", 0.5)])
        lines = text.splitlines()
        self.assertEqual(len(lines), 2 + len(stages.STAGES) + 3)
        parse = lines[2].split("|")
        self.assertEqual(parse[1].strip(), stages.STAGES[0][1])
        # 1,000 of 1,000 + 2,000 + ... instructions, 30 us a request.
        count = len(stages.STAGES)
        total = 1000.0 * count * (count + 1) / 2
        self.assertEqual(
            [c.strip() for c in parse[2:5]],
            ["1,000", f"{1000 / total:.1%}", f"{1000 / total * 30:.1f}"],
        )
        self.assertEqual(parse[-2].strip(), "-50.0%")
        path = lines[2 + len(stages.STAGES)].split("|")
        harness = 1000.0 * (stages.STAGE_KEYS.index("harness") + 1)
        self.assertEqual(path[2].strip(), f"{total - harness:,.0f}")


PROBE_CHECK = """
import gc, sys
sys.path.insert(0, sys.argv[1])
import _stagehook

def inside():
    return _stagehook.current()

def outer():
    seen = [inside(), _stagehook.current()]
    during = []
    def record(phase, info):
        if phase == "start":
            during.append(_stagehook.current())
    gc.callbacks.append(_stagehook.gcCallback)
    gc.callbacks.append(record)
    gc.collect()
    gc.callbacks.remove(record)
    gc.callbacks.remove(_stagehook.gcCallback)
    return seen + during + [_stagehook.current()]

stages = {"inside": 5, "outer": 3}
_stagehook.install(lambda code: stages.get(code.co_name, -1), 1, 7)
print(outer(), _stagehook.current())
"""


class ProbeTests(SynchronousTestCase):
    """
    C{bench/stagehook.c} follows the running frame's stage (its client
    requests to callgrind are no-ops outside valgrind).
    """

    def test_stages(self) -> None:
        """
        A frame runs in its own stage, an unclassified frame (the callbacks,
        C{-1}) in its caller's, a collection in the collector's stage, and
        the caller's stage is back when a frame returns.
        """
        skipWithoutProbe()
        directory = self.mktemp()
        Path(directory).mkdir()
        stages.buildHook(directory)
        done = subprocess.run(
            [sys.executable, "-c", PROBE_CHECK, directory],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        self.assertEqual(done.returncode, 0, done.stderr)
        # inside: 5; outer: 3; during the collection: 7; after it: 3;
        # at the top, the start stage: 1.
        self.assertEqual(done.stdout.split(), ["[5,", "3,", "7,", "3]", "1"])

class StagesRunTests(SynchronousTestCase):
    """
    A short real run of C{bench/stages.py}.
    """

    def test_run(self) -> None:
        """
        C{.venv/bin/python bench/stages.py} measures this checkout, forward
        and reverse: each stage's round adds up to the probed round, the
        proxy's own stages are not empty, and the docs name the command.
        """
        skipWithoutProbe("valgrind")
        import proxykit

        if proxykit.COMPILED:
            raise SkipTest(
                "the stages are Python frames, which compiled modules do not run:"
                " bench/stages.py measures pure Python (the pure-Python pass runs this)"
            )
        self.assertTrue(documented(".venv/bin/python bench/stages.py"), "not in performance.md")
        done = subprocess.run(
            [sys.executable, str(BENCH / "stages.py"), "--requests", "5", "--mode", "reverse",
             "--json", "/dev/stdout"],
            capture_output=True, text=True, timeout=600, cwd=ROOT,
        )  # fmt: skip
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("### reverse mode (in-memory harness, 5 requests per round)", done.stdout)
        self.assertIn("| HTTP/1.1 parsing and framing", done.stdout)
        figures = json.loads(done.stdout[done.stdout.index("\n[") :])
        (m,) = figures
        counted = m["instructions"]
        self.assertEqual(m["mode"], "reverse")
        for key in ("parse", "route", "headers", "relay", "harness"):
            self.assertGreater(counted[key], 1000, key)
        together = sum(counted[key] for key in stages.STAGE_KEYS)
        self.assertLess(abs(together / counted["probed"] - 1.0), 0.02, counted)
        self.assertLess(counted["total"], counted["probed"])
        self.assertGreater(m["us"], 0)


    def test_live(self) -> None:
        """
        C{bench/stages.py --live} measures C{twistd proxykit} on real
        sockets: Twisted's reactor and transports are counted, the harness
        is not there.
        """
        skipWithoutProbe("valgrind", "nginx")
        self.assertTrue(documented(".venv/bin/python bench/stages.py --live"), "not documented")
        done = subprocess.run(
            [sys.executable, str(BENCH / "stages.py"), "--live", "--requests", "5",
             "--mode", "forward", "--json", "/dev/stdout"],
            capture_output=True, text=True, timeout=900, cwd=ROOT,
        )  # fmt: skip
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("### forward mode (twistd on real sockets, 1 connections", done.stdout)
        (m,) = json.loads(done.stdout[done.stdout.index("\n[") :])
        counted = m["instructions"]
        # The compiled build compiles all of h1 that a request runs, so no
        # Python frame counts for parsing there.
        import proxykit

        for key in ("relay", "twisted") if proxykit.COMPILED else ("parse", "relay", "twisted"):
            self.assertGreater(counted[key], 1000, key)
        self.assertEqual(counted["harness"], 0)
        if not proxykit.COMPILED:
            # twistd proxykit runs on proxykit.reactor.ProxyReactor, whose
            # poll (proxykit._directio.Poller, compiled in the compiled
            # build) runs on every turn.
            self.assertGreater(counted["reactor"], 0)

class ParseSummaryTests(SynchronousTestCase):
    """
    L{syscalls.parseSummary} reads C{strace -c}'s table.
    """

    def test_summary(self) -> None:
        """
        Calls and errors by name; the total row is left out.
        """
        counts = syscalls.parseSummary(STRACE)
        self.assertEqual(
            counts.calls,
            {"sendto": 4000, "recvfrom": 4000, "epoll_wait": 4200, "getsockopt": 3},
        )
        self.assertEqual(counts.errors, {"recvfrom": 12})
        self.assertEqual(counts.total, 12203)

    def test_columns(self) -> None:
        """
        The table's columns are found by its dashed line, so C{-U
        calls,errors,name} tables read the same.
        """
        text = (
            "    calls    errors syscall\n"
            "--------- --------- ----------------\n"
            "       10           read\n"
            "        4         4 connect\n"
            "--------- --------- ----------------\n"
            "       14         4 total\n"
        )
        counts = syscalls.parseSummary(text)
        self.assertEqual((counts.calls, counts.errors), ({"read": 10, "connect": 4}, {"connect": 4}))

    def test_noTable(self) -> None:
        """
        Text without a table is an error, not zero calls.
        """
        self.assertRaises(ValueError, syscalls.parseSummary, "strace: attach: ptrace(PTRACE_SEIZE, 1): EPERM\n")

    def test_table(self) -> None:
        """
        Per request: all calls, the main ones and the rest.
        """
        result = syscalls.Result("nginx", 50, 2000, syscalls.parseSummary(STRACE))
        (line,) = syscalls.table([result]).splitlines()[2:]
        self.assertEqual(
            [cell.strip() for cell in line.split("|")[1:-1]],
            ["nginx", "50", "6.10", "2.10", "2.00", "2.00", "0.00", "0.00"],
        )
        self.assertIn("recvfrom 2.00 (0.01 failed)", syscalls.detail([result]))


class SyscallsRunTests(SynchronousTestCase):
    """
    A short real run of C{bench/syscalls.py}.
    """

    def test_run(self) -> None:
        """
        C{.venv/bin/python bench/syscalls.py} counts the system calls of
        proxykit and nginx over a few requests through each.
        """
        for tool in ("strace", "nginx"):
            if shutil.which(tool) is None:
                raise SkipTest(f"{tool} is not installed")
        probe = subprocess.Popen(["sleep", "1"])
        try:
            attach = subprocess.run(
                ["strace", "-c", "-o", "/dev/null", "-p", str(probe.pid)],
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
        finally:
            probe.kill()
            probe.wait()
        if "Operation not permitted" in attach.stderr:
            raise SkipTest("strace may not attach to other processes here")
        self.assertTrue(documented(".venv/bin/python bench/syscalls.py"), "not in performance.md")
        done = subprocess.run(
            [sys.executable, str(BENCH / "syscalls.py"), "--requests", "20",
             "--connections", "1", "--connections", "4", "--timeout", "60"],
            capture_output=True, text=True, timeout=300, cwd=ROOT,
        )  # fmt: skip
        self.assertEqual(done.returncode, 0, done.stderr)
        rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and "---" not in line]
        names = [(row.split("|")[1].strip(), row.split("|")[2].strip()) for row in rows[1:]]
        self.assertEqual(
            names,
            [(p, c) for p in ("proxykit-forward", "proxykit-reverse", "nginx") for c in ("1", "4")],
        )
        for row in rows[1:]:
            # Each request is read and written at least once on each side
            # (give or take a call at strace's attach and detach).
            cells = [cell.strip() for cell in row.split("|")[1:-1]]
            read, write = float(cells[4]), float(cells[5])
            self.assertGreaterEqual(read, 1.9, row)
            self.assertGreaterEqual(write, 1.9, row)
