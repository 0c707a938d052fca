# -*- test-case-name: tests.test_workers -*-
"""
Worker processes (C{workers = N}, C{--workers N}): a supervisor binds
every listening socket itself (L{bindShared}), so that a port in use is
reported once, before any worker starts, then runs N worker processes
(C{python -m proxykit.worker}, see L{proxykit.worker}) that inherit the
sockets and accept on them, each a whole proxy of its own.

Each listener gets one socket per worker, all bound to its address with
C{SO_REUSEPORT} (as nginx's C{reuseport}): the kernel spreads new
connections over them by a hash of each connection's addresses and
ports, and worker N always accepts on socket N (a replacement worker
adopts the dead one's, which the supervisor keeps open meanwhile, so
that the connections queued on it wait for the replacement).  Where
C{SO_REUSEPORT} is missing, one socket is shared by every worker.

The supervisor (L{Supervisor}):
  - restarts a worker that dies, at once the first time, then after a
    delay that doubles while workers keep dying young (L{restartDelay}),
    logged with its pid and status and counted;
  - on C{SIGHUP}, reads the configuration again and checks it as
    C{proxykit check} does; an invalid one is refused and no worker is
    signalled; a valid one: C{SIGHUP} to every worker (each reloads);
  - on C{SIGUSR1}, C{SIGUSR1} to every worker (each reopens its log);
  - on C{SIGTERM} or C{SIGINT}, C{SIGTERM} to every worker (each drains);
    it exits (status 0) once all have exited; a second signal is sent on,
    and the workers cut what is left;
  - serves the admin listener: C{/healthz}, C{/readyz} (every worker runs
    and is ready) and C{/metrics} (every worker's, added up, and a few
    families per worker), scraping each worker's own admin listener on a
    private UNIX socket.

Only C{tcp:} and C{tcp6:} listeners (plain, TLS, redirecting), and the
same behind a PROXY protocol header (C{haproxy:tcp:...}), can be shared;
another endpoint kind is refused with L{ListenError}.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
from twisted.application import service
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.interfaces import IProcessTransport
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from ._twistedcompat import forgetExitSignal
from .config.values import ProxyConfig
from .listeners import Listener, ListenError
from .ops.reload import ConfigLoader, ListenerSpec, listenersOf

__all__ = [
    "ENVIRONMENT",
    "SharedSocket",
    "Supervisor",
    "WorkerSpec",
    "bindShared",
    "checkConfig",
    "restartDelay",
    "shareProblem",
]

ENVIRONMENT = "PROXYKIT_WORKER"
"""The environment variable that tells C{python -m proxykit.worker} which
worker it is (L{WorkerSpec}, as JSON)."""

FIRST_DELAY = 0.5
"""Seconds before a worker is restarted the second time in a row that
workers die young (the first restart is at once)."""

MAX_DELAY = 30.0
"""The longest wait before a restart."""

STABLE = 10.0
"""A worker that ran this many seconds before it died is restarted at
once again."""

SCRAPE_TIMEOUT = 5.0
"""Seconds a worker's admin listener may take to answer the supervisor."""


SOCKET_PATH_MAX = 107
"""The longest path a UNIX socket can have on Linux (C{sun_path} holds
108 bytes with the terminating NUL)."""


def socketDirectory(longest: str = "worker-99999.sock") -> str:
    """
    A new private directory (mode 0700) for the workers' admin sockets: in
    C{TMPDIR}, or in C{/tmp} when a socket named C{longest} in C{TMPDIR}'s
    would be too long a path for a UNIX socket.
    """
    directory = tempfile.mkdtemp(prefix="proxykit-workers-")
    if len(os.fsencode(os.path.join(directory, longest))) <= SOCKET_PATH_MAX:
        return directory
    os.rmdir(directory)
    return tempfile.mkdtemp(prefix="proxykit-workers-", dir="/tmp")


def restartDelay(failures: int) -> float:
    """
    Seconds before restarting a worker after C{failures} deaths in a row
    of workers that had run less than L{STABLE} seconds (0: the first).

    The first restart is at once: the connections the kernel queued on
    the dead worker's socket wait for its replacement.  Then the delay
    starts at L{FIRST_DELAY} and doubles, up to L{MAX_DELAY}, so that a
    worker that cannot start does not spin.
    """
    if failures <= 0:
        return 0.0
    return float(min(MAX_DELAY, FIRST_DELAY * 2 ** min(failures - 1, 16)))


@attrs.frozen
class SharedSocket:
    """
    A listening socket the supervisor bound for its workers.

    @ivar spec: The listener it serves.
    @ivar sock: The socket.
    @ivar slot: The worker that accepts on it (1 to N), or C{None}: every
        worker does (one socket shared, without C{SO_REUSEPORT}).
    """

    spec: ListenerSpec
    sock: socket.socket
    slot: int | None = None

    @property
    def port(self) -> int:
        """
        The port it is bound to.
        """
        return int(self.sock.getsockname()[1])

    def serves(self, number: int) -> bool:
        """
        Whether worker C{number} accepts on it.
        """
        return self.slot is None or self.slot == number


def _fields(description: str) -> list[str]:
    """
    The colon-separated fields of an endpoint string (a backslash escapes
    the next character, as in Twisted's endpoint strings).
    """
    fields, current, escaped = [], [], False
    for char in description:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    return fields


SHARED_KINDS = {"tcp": socket.AF_INET, "tcp6": socket.AF_INET6}

PROXY_HEADER = "haproxy"
"""The endpoint prefix of a listener whose connections start with a PROXY
protocol header (Twisted's C{haproxy:} endpoint)."""


def _address(description: str) -> tuple[int, str, int, int]:
    """
    The family, interface, port and backlog of a C{tcp:} or C{tcp6:}
    endpoint string, or of one behind C{haproxy:}.

    @raise ListenError: Another kind of endpoint, or a malformed one.
    """
    kind, *rest = _fields(description)
    if kind == PROXY_HEADER and rest:
        kind, *rest = rest
    family = SHARED_KINDS.get(kind)
    if family is None:
        # haproxy:tcp: is a tcp: listener too (its connections start with
        # a PROXY header).
        raise ListenError(
            description, "only tcp: and tcp6: listeners can be shared by worker processes"
        )
    options = {"interface": "" if family == socket.AF_INET else "::", "backlog": "50"}
    positional = []
    for field in rest:
        name, sep, value = field.partition("=")
        if sep:
            options[name] = value
        else:
            positional.append(field)
    port = options.get("port", positional[0] if positional else "")
    if not (port.isascii() and port.isdigit() and options["backlog"].isdigit()):
        raise ListenError(description, "expected a port number")
    return family, options["interface"], int(port), int(options["backlog"])


def readsProxyHeader(description: str) -> bool:
    """
    Whether the listener C{description} (one L{shareProblem} accepts)
    reads a PROXY protocol header first (C{haproxy:tcp:...}): a worker
    wraps its factory as Twisted's C{haproxy:} endpoint does.
    """
    return _fields(description)[0] == PROXY_HEADER


def shareProblem(description: str) -> str | None:
    """
    Why the listener C{description} cannot be shared by worker processes
    (C{proxykit check} says it), or C{None} when it can.
    """
    try:
        _address(description)
    except ListenError as e:
        return str(e)
    return None


def reusePortAvailable() -> bool:
    """
    Whether this system has C{SO_REUSEPORT} for TCP sockets (Linux 3.9
    and later, the BSDs, macOS; the load-spreading described in the module
    docstring is Linux's and DragonFly's).
    """
    option = getattr(socket, "SO_REUSEPORT", None)
    if option is None:
        return False
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, option, 1)
    except OSError:
        return False
    finally:
        probe.close()
    return True


def _listenError(description: str, e: OSError) -> ListenError:
    reason = e.strerror or str(e)
    return ListenError(description, reason[:1].lower() + reason[1:])


def _bind(
    description: str, family: int, interface: str, port: int, backlog: int | None, reusePort: bool
) -> socket.socket:
    """
    A socket bound to C{interface} and C{port}, with C{SO_REUSEPORT} if
    C{reusePort}, listening with C{backlog} unless it is C{None}.

    @raise ListenError: It cannot listen.
    """
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reusePort:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((interface, port))
        if backlog is not None:
            sock.listen(backlog)
        sock.setblocking(False)
    except OSError as e:
        sock.close()
        raise _listenError(description, e) from None
    return sock


def bindShared(
    specs: Iterable[ListenerSpec], workers: int = 1, reusePort: bool | None = None
) -> list[SharedSocket]:
    """
    Bind and listen on sockets for every listener of C{specs}, in order:
    with C{SO_REUSEPORT} (C{reusePort}; default: when the system has it)
    and more than one worker, one socket per worker, all on the same
    address (the first on the port configured, which may be 0, the others
    on the port it got); otherwise one socket every worker shares.

    The address is first bound once without C{SO_REUSEPORT} (and released
    at once), so that a port another process listens on is reported busy
    even when that process set C{SO_REUSEPORT} too (an instance of
    proxykit still running, say), rather than shared with it.

    @param workers: How many workers will accept.
    @raise ListenError: One cannot listen (in one line, as without
        workers); those bound before it are closed again.
    """
    if reusePort is None:
        reusePort = reusePortAvailable()
    slots = workers if reusePort and workers > 1 else 1
    bound: list[SharedSocket] = []
    try:
        for spec in specs:
            family, interface, port, backlog = _address(spec.description)
            if slots == 1:
                sock = _bind(spec.description, family, interface, port, backlog, False)
                bound.append(SharedSocket(spec, sock))
                continue
            probe = _bind(spec.description, family, interface, port, None, False)
            port = probe.getsockname()[1]
            probe.close()
            for slot in range(1, slots + 1):
                sock = _bind(spec.description, family, interface, port, backlog, True)
                bound.append(SharedSocket(spec, sock, slot))
    except BaseException:
        for shared in bound:
            shared.sock.close()
        raise
    return bound


def checkConfig(mode: str, config: ProxyConfig) -> None:
    """
    Check C{config} as C{proxykit check} does: build what a worker would
    build, on a reactor that never runs (nothing listens, nothing is
    contacted).

    @raise Exception: It cannot be served.
    """
    from twisted.internet.testing import MemoryReactorClock

    from .service import forwardService, reverseService

    build = reverseService if mode == "reverse" else forwardService
    proxy = build(config, MemoryReactorClock())  # type: ignore[no-untyped-call]
    if proxy.accessLog is not None:
        proxy.accessLog.close()


@attrs.frozen
class WorkerSpec:
    """
    What a worker is told through L{ENVIRONMENT}.

    @ivar number: Which worker (1 to N).
    @ivar sockets: Each listener's spec, its inherited descriptor and
        address family.
    @ivar admin: The endpoint string of its private admin listener, or
        C{None}.
    @ivar shared: Whether every worker accepts on the same sockets (no
        C{SO_REUSEPORT}), rather than each on its own.
    """

    number: int
    sockets: tuple[tuple[ListenerSpec, int, int], ...]
    admin: str | None
    shared: bool = False

    def toJSON(self) -> str:
        return json.dumps(
            {
                "number": self.number,
                "sockets": [
                    [spec.description, spec.kind, spec.occurrence, fd, family]
                    for spec, fd, family in self.sockets
                ],
                "admin": self.admin,
                "shared": self.shared,
            }
        )

    @classmethod
    def fromJSON(cls, text: str) -> WorkerSpec:
        data = json.loads(text)
        return cls(
            number=int(data["number"]),
            sockets=tuple(
                (ListenerSpec(d, k, int(o)), int(fd), int(family))
                for d, k, o, fd, family in data["sockets"]
            ),
            admin=data["admin"],
            shared=bool(data["shared"]),
        )


Spawner = Callable[[ProcessProtocol, Sequence[str], Mapping[str, str], Mapping[int, Any]], IProcessTransport]
"""Starts a process: protocol, argv, environment, child descriptors."""


_TWISTED_SIGNAL_NAMES = frozenset({"HUP", "STOP", "INT", "KILL", "TERM"})
"""The signal names C{IProcessTransport.signalProcess} accepts as names."""


class WorkerProcess(ProcessProtocol):
    """
    One worker process: its log lines (its standard error) said again by
    the supervisor, its end reported to it.

    @ivar number: Which worker (1 to N).
    @ivar restarts: How many times it was restarted.
    @ivar started: When the current process was started.
    """

    _log = Logger()

    def __init__(self, supervisor: Supervisor, number: int) -> None:
        self.supervisor = supervisor
        self.number = number
        self.restarts = 0
        self.started = 0.0
        self.pid: int | None = None
        self.process: IProcessTransport | None = None
        self._partial = b""

    @property
    def running(self) -> bool:
        return self.process is not None

    def signal(self, name: str) -> bool:
        """
        Send the signal C{name} (C{"HUP"}, C{"TERM"}, ...) if it runs.

        @return: Whether it was sent.
        """
        if self.process is None:
            return False
        # Twisted's signalProcess translates only these names (another,
        # such as "USR1", would reach os.kill as a string): send the others
        # by number.
        signalID: str | int = name if name in _TWISTED_SIGNAL_NAMES else getattr(signal, "SIG" + name)
        try:
            self.process.signalProcess(signalID)
        except (OSError, ProcessExitedAlready):
            return False
        return True

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > 65536:
            lines.append(self._partial)
            self._partial = b""
        for line in lines:
            self._say(line)

    def _say(self, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip("\r")
        if not line:
            return
        log = self._log.info
        if "#error]" in line or "#critical]" in line:
            log = self._log.error
        elif "#warn]" in line:
            log = self._log.warn
        log("worker {worker}: {line}", worker=self.number, line=line, pid=self.pid)

    def processEnded(self, reason: Failure) -> None:
        if self._partial:
            self._say(self._partial)
            self._partial = b""
        self.process = None
        self.supervisor.workerEnded(self, reason)


class Supervisor(service.Service):
    """
    Runs the worker processes that serve C{sockets} (see the module
    docstring).

    @ivar workers: The workers, in order.
    @ivar stopping: Whether the supervisor is stopping (no restarts).
    """

    _log = Logger()

    def __init__(
        self,
        config: ProxyConfig,
        mode: str,
        argv: Sequence[str],
        sockets: Sequence[SharedSocket],
        reactor: Any,
        load: ConfigLoader | None = None,
        spawn: Spawner | None = None,
        check: Callable[[str, ProxyConfig], None] = checkConfig,
        cwd: str | None = None,
    ) -> None:
        """
        @param argv: The command line after C{proxykit} (C{forward ...}):
            every worker parses it again, as C{twistd proxykit} did.
        @param sockets: The listening sockets, bound (L{bindShared}):
            worker N gets those of slot N, and those shared by all.
        @param load: Reads the configuration again on C{SIGHUP}.
        @param spawn: Starts a process (default: C{reactor.spawnProcess}).
        @param check: Checks a configuration read on C{SIGHUP}.
        @param cwd: The workers' working directory (default: this one, now:
            C{twistd} changes it when it daemonizes).
        """
        self.config = config
        self.mode = mode
        self.argv = list(argv)
        self.sockets = list(sockets)
        self.listeners = tuple(dict.fromkeys(s.spec for s in self.sockets))
        self._ports = {s.spec: s.port for s in self.sockets}
        self._reactor = reactor
        self._load = load
        self._spawn = spawn
        self._check = check
        self._cwd = os.getcwd() if cwd is None else cwd
        self.workers = [WorkerProcess(self, n) for n in range(1, config.workers + 1)]
        self.stopping = False
        self._failures = 0
        self._timers: dict[int, Any] = {}
        self._allEnded: Deferred[None] | None = None
        self._handlers: dict[int, Any] = {}
        self._privateDir: str | None = None
        self.admin: Listener | None = None
        for shared in self.sockets:
            os.set_inheritable(shared.sock.fileno(), True)

    def adminPath(self, worker: WorkerProcess) -> str | None:
        """
        The path of C{worker}'s private admin socket, or C{None} without
        an admin listener.
        """
        if self.config.admin.listen is None:
            return None
        if self._privateDir is None:
            self._privateDir = socketDirectory()
        return os.path.join(self._privateDir, f"worker-{worker.number}.sock")

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self._handlers[signal.SIGHUP] = signal.signal(signal.SIGHUP, self._hangup)
        self._handlers[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, self._user1)
        ports = self._ports
        reusePort = any(s.slot is not None for s in self.sockets)
        self._log.info(
            "proxykit supervisor: starting {count} workers on {endpoints}; {how}",
            count=len(self.workers),
            endpoints=", ".join(f"{spec.description} (port {ports[spec]})" for spec in self.listeners),
            how="a socket per worker (SO_REUSEPORT)" if reusePort else "one socket shared",
        )
        for worker in self.workers:
            self._start(worker)

    def _hangup(self, signum: int, frame: object) -> None:
        # A signal handler may interrupt the reactor anywhere.
        self._reactor.callFromThread(self.reload)

    def _user1(self, signum: int, frame: object) -> None:
        self._reactor.callFromThread(self.reopenLogs)
        # twistd --logfile rotates its own log on SIGUSR1 with a handler of
        # its own, installed before ours: it goes on doing so.
        previous = self._handlers.get(signal.SIGUSR1)
        if callable(previous):
            previous(signum, frame)

    def _start(self, worker: WorkerProcess) -> None:
        self._timers.pop(worker.number, None)
        if self.stopping:
            return
        path = self.adminPath(worker)
        admin = None
        if path is not None:
            if os.path.exists(path):
                os.unlink(path)
            admin = "unix:" + path.replace(":", "\\:")
        self._rebind(worker.number)
        mine = [s for s in self.sockets if s.serves(worker.number) and s.sock.fileno() != -1]
        spec = WorkerSpec(
            worker.number,
            tuple((s.spec, s.sock.fileno(), int(s.sock.family)) for s in mine),
            admin,
            shared=any(s.slot is None for s in mine),
        )
        env = dict(os.environ)
        env[ENVIRONMENT] = spec.toJSON()
        childFDs: dict[int, Any] = {0: "w", 1: 1, 2: "r"}
        for shared in mine:
            childFDs[shared.sock.fileno()] = shared.sock.fileno()
        argv = [sys.executable, "-m", "proxykit.worker", *self.argv]
        worker.started = self._reactor.seconds()
        if self._spawn is None:
            process = self._reactor.spawnProcess(
                worker, sys.executable, argv, env=env, path=self._cwd, childFDs=childFDs
            )
        else:
            process = self._spawn(worker, argv, env, childFDs)
        worker.process = process
        worker.pid = process.pid
        self._log.info(
            "worker {worker} started (pid {pid})", worker=worker.number, pid=worker.pid
        )

    def workerEnded(self, worker: WorkerProcess, reason: Failure) -> None:
        """
        C{worker}'s process ended: log how; restart it unless stopping.
        """
        value = reason.value
        status = getattr(value, "exitCode", None)
        killed = getattr(value, "signal", None)
        how = f"killed by signal {killed}" if killed is not None else f"exit status {status}"
        if self.stopping:
            self._log.info(
                "worker {worker} (pid {pid}) exited ({how})",
                worker=worker.number,
                pid=worker.pid,
                how=how,
            )
            if self._allEnded is not None and not any(w.running for w in self.workers):
                done, self._allEnded = self._allEnded, None
                done.callback(None)
            return
        lived = self._reactor.seconds() - worker.started
        if lived >= STABLE:
            self._failures = 0
        delay = restartDelay(self._failures)
        self._failures += 1
        worker.restarts += 1
        self._log.error(
            "worker {worker} (pid {pid}) died ({how}) after {lived:.1f} s;"
            " restarting it {when} (restart {restarts})",
            worker=worker.number,
            pid=worker.pid,
            how=how,
            lived=lived,
            delay=delay,
            when=f"in {delay:g} s" if delay else "now",
            restarts=worker.restarts,
        )
        if delay and self._release(worker.number):
            self._log.warn(
                "worker {worker}'s sockets are closed until it restarts:"
                " new connections go to the other workers",
                worker=worker.number,
            )
        self._timers[worker.number] = self._reactor.callLater(delay, self._start, worker)

    def _release(self, number: int) -> int:
        """
        Close the sockets only worker C{number} accepts on, while its
        restart waits (workers keep dying young): the kernel then gives
        new connections to the other workers' sockets, instead of queueing
        them for a worker that may not come back soon.  (The first
        restart is at once, and keeps them: what is queued waits.)

        The last socket open on an address is kept, so that no other
        process can take the port meanwhile.

        @return: How many were closed.
        """
        closed = 0
        for shared in self.sockets:
            if shared.slot != number or shared.sock.fileno() == -1:
                continue
            others = [
                s
                for s in self.sockets
                if s.spec == shared.spec and s is not shared and s.sock.fileno() != -1
            ]
            if others:
                shared.sock.close()
                closed += 1
        return closed

    def _rebind(self, number: int) -> None:
        """
        Bind again (C{SO_REUSEPORT}, the same address and port) the
        sockets of worker C{number} that L{_release} closed.  One that
        cannot be bound is logged and left out: the worker, missing it,
        exits, and is restarted later.
        """
        for index, shared in enumerate(self.sockets):
            if shared.slot != number or shared.sock.fileno() != -1:
                continue
            family, interface, _, backlog = _address(shared.spec.description)
            port = self._ports[shared.spec]
            try:
                sock = _bind(shared.spec.description, family, interface, port, backlog, True)
            except ListenError as e:
                self._log.error("worker {worker}: {error}", worker=number, error=str(e))
                continue
            os.set_inheritable(sock.fileno(), True)
            self.sockets[index] = SharedSocket(shared.spec, sock, number)

    def _signalAll(self, name: str) -> int:
        return sum(worker.signal(name) for worker in self.workers)

    def reload(self) -> bool:
        """
        What C{SIGHUP} does: read the configuration again and check it;
        if it is good, C{SIGHUP} to every worker, which reloads it;
        otherwise log why and signal none.

        @return: Whether the workers were signalled.
        """
        if self.stopping or self._load is None:
            return False
        try:
            config = self._load()
            self._check(self.mode, config)
        except Exception as e:
            self._log.error(
                "reload refused, no worker signalled: {problem}", problem=str(e) or repr(e)
            )
            return False
        if listenersOf(config) != self.listeners:
            self._log.error(
                "reload refused, no worker signalled: the listeners changed;"
                " with workers, listeners change only on a restart"
            )
            return False
        for table in ("workers", "admin"):
            if getattr(config, table) != getattr(self.config, table):
                self._log.warn(
                    "reload: {table} changed; it is read only at start: restart to apply it",
                    table=table,
                )
        count = self._signalAll("HUP")
        self._log.info("SIGHUP: configuration checked, sent to {count} workers", count=count)
        return True

    def reopenLogs(self) -> None:
        """
        What C{SIGUSR1} does: C{SIGUSR1} to every worker.
        """
        self._signalAll("USR1")

    def stopService(self) -> Deferred[None]:
        """
        C{SIGTERM} to every worker (each drains); fires once all have
        exited.  Meanwhile a second C{SIGTERM} or C{SIGINT} is sent on.
        """
        super().stopService()  # type: ignore[no-untyped-call]
        self.stopping = True
        for timer in self._timers.values():
            if timer.active():
                timer.cancel()
        self._timers.clear()
        for number, handler in self._handlers.items():
            signal.signal(number, handler)
        self._handlers.clear()
        # New connections are no longer the supervisor's to keep waiting.
        for shared in self.sockets:
            shared.sock.close()
        running = [w for w in self.workers if w.running]
        waiting: Deferred[None]
        if running:
            waiting = self._allEnded = Deferred()
            for number in (signal.SIGTERM, signal.SIGINT):
                self._handlers[number] = signal.signal(number, self._secondSignal)
        else:
            waiting = succeed(None)
        count = self._signalAll("TERM")
        self._log.info(
            "proxykit supervisor: stopping, SIGTERM sent to {count} workers (SIGTERM again to cut)",
            count=count,
        )
        waiting.addCallback(self._ended)
        return waiting

    def _secondSignal(self, signum: int, frame: object) -> None:
        self._reactor.callFromThread(self._cut)

    def _cut(self) -> None:
        count = self._signalAll("TERM")
        self._log.warn("second signal: SIGTERM sent again to {count} workers", count=count)

    def _ended(self, ignored: object) -> Deferred[Any] | None:
        for number, handler in self._handlers.items():
            signal.signal(number, handler)
        self._handlers.clear()
        self._log.info("proxykit supervisor: every worker has exited")
        if self._privateDir is not None:
            shutil.rmtree(self._privateDir, ignore_errors=True)
        forgetExitSignal(self._reactor)
        if self.admin is not None:
            return DeferredList([self.admin.stopService()])
        return None
