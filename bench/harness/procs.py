"""Child-process bookkeeping: start, wait for a port, measure memory, stop."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"


class StartError(RuntimeError):
    """A child process did not come up (exited, or never listened)."""


@dataclass
class Proc:
    """A child process started in its own session (and process group)."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 6) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class ProcessManager:
    """Starts children and guarantees they are all stopped on ``stop_all``."""

    log_dir: Path
    procs: list[Proc] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> Proc:
        log_path = self.log_dir / f"{safe_name(name)}-{len(self.procs)}.log"
        with open(log_path, "wb") as log:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc, timeout: float = 5.0) -> None:
        """SIGTERM the process group, then SIGKILL it if it lingers."""
        if proc.alive():
            kill_group(proc.pid, signal.SIGTERM)
            try:
                proc.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # Kill leftovers of the group too (e.g. forked workers).
        kill_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout)
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs)):
            self.stop(proc)


def kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(proc: Proc | None, port: int, timeout: float = 15.0) -> float:
    """Poll until ``port`` accepts a connection; return seconds waited.

    Raises StartError if ``proc`` exits first or the timeout passes.
    """
    start = time.monotonic()
    deadline = start + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise StartError(f"exited with status {proc.popen.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return time.monotonic() - start
        except OSError:
            time.sleep(0.05)
    raise StartError(f"did not accept connections on port {port} in {timeout:g}s")


def child_pids(root: int) -> list[int]:
    """``root`` and all its descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        ppid = read_ppid(int(entry.name))
        if ppid is not None:
            parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def read_ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1])


def status_kib(pid: int, key: str) -> int:
    """A ``kB`` field (VmRSS, VmHWM, ...) of /proc/PID/status, 0 if gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def tree_kib(root: int, key: str) -> int:
    """Sum of ``key`` over ``root`` and its descendants."""
    return sum(status_kib(pid, key) for pid in child_pids(root))


def reset_peak_rss(root: int) -> bool:
    """Reset VmHWM to the current RSS for the whole tree (clear_refs 5)."""
    ok = True
    for pid in child_pids(root):
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            ok = False
    return ok


@contextlib.contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so ``finally`` blocks run."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def busy_jiffies() -> int:
    """user + nice + system jiffies of all CPUs, from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return int(fields[1]) + int(fields[2]) + int(fields[3])


def stat_fields(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def process_jiffies(pid: int) -> int:
    """utime + stime + cutime + cstime of one process (all its threads)."""
    fields = stat_fields(pid)
    return sum(int(v) for v in fields[11:15]) if fields else 0


def tree_jiffies(root: int) -> int:
    """CPU time used so far by ``root`` and its descendants, in jiffies."""
    return sum(process_jiffies(pid) for pid in child_pids(root))


def kernel_thread_jiffies() -> int:
    total = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = stat_fields(int(entry.name))
            if fields and (fields[1] == "2" or entry.name == "2"):
                total += process_jiffies(int(entry.name))
    return total


@dataclass
class ForeignCpu:
    """CPU used by processes that are not ours (nor kernel threads) meanwhile.

    Ours are the harness (with its reaped children, e.g. wrk), the roots
    given and their descendants.  A large value means another workload was
    running and the measurement is suspect.
    """

    roots: list[int]
    start_busy: int = 0
    start_ours: int = 0

    def ours(self) -> int:
        pids = {os.getpid(), *(p for r in self.roots for p in child_pids(r))}
        return sum(process_jiffies(p) for p in pids) + kernel_thread_jiffies()

    def __enter__(self) -> ForeignCpu:
        self.start_busy, self.start_ours = busy_jiffies(), self.ours()
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def seconds(self) -> float:
        busy = busy_jiffies() - self.start_busy
        ours = self.ours() - self.start_ours
        return max(0, busy - ours) / os.sysconf("SC_CLK_TCK")


LOAD_BOUND_PROXY = 0.95
"""A proxy below this share of its core, while ..."""
LOAD_BOUND_LOAD = 0.95
"""... the load core is busy at least this share of the time, was held back
by the load generator (wrk, the origin), not by itself."""


def load_bound(proxy_share: float | None, load_share: float | None, load_cpus: str | None) -> bool:
    """Whether a peer was load-bound during a run: its CPU below 95% of a
    core while the one core of the load generator and origin was busy 95%
    or more.  Only a load pinned to one CPU can be judged."""
    if proxy_share is None or load_share is None or not load_cpus:
        return False
    if "," in load_cpus or "-" in load_cpus:
        return False
    return proxy_share < LOAD_BOUND_PROXY and load_share >= LOAD_BOUND_LOAD


def load_seconds(others: Sequence[int]) -> float:
    """CPU seconds used so far by this process, its reaped children (wrk)
    and the process trees of ``others`` (the origin servers): what runs on
    the load core."""
    import resource

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    ticks = sum(tree_jiffies(pid) for pid in others)
    return total + ticks / os.sysconf("SC_CLK_TCK")
