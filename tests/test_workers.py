"""
Tests for L{proxykit.workers}: the supervisor's sockets, restarts and
signals, on fakes (a L{MemoryReactorClock} and fake process transports).
"""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from proxykit.config.values import ProxyConfig
from proxykit.listeners import ListenError
from proxykit.ops.reload import PLAIN, ListenerSpec, ReloadError, listenersOf
from proxykit.workers import (
    ENVIRONMENT,
    FIRST_DELAY,
    MAX_DELAY,
    SOCKET_PATH_MAX,
    STABLE,
    Supervisor,
    WorkerSpec,
    bindShared,
    readsProxyHeader,
    restartDelay,
    reusePortAvailable,
    shareProblem,
    socketDirectory,
)

LOOPBACK = "tcp:0:interface=127.0.0.1"


class FakeProcess:
    """
    A process transport that records the signals sent to it.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.signals: list[str] = []

    def signalProcess(self, signalID: str | int) -> None:
        # As Twisted's: a few names, else a number (it passes any other
        # string on to os.kill, which raises TypeError).
        if isinstance(signalID, int):
            signalID = signal.Signals(signalID).name[len("SIG"):]
        elif signalID not in ("HUP", "STOP", "INT", "KILL", "TERM"):
            raise TypeError(f"{signalID!r} cannot be interpreted as an integer")
        self.signals.append(signalID)


class FakeSpawner:
    """
    Starts L{FakeProcess}es, numbered from 100.
    """

    def __init__(self) -> None:
        self.spawned: list[tuple[ProcessProtocol, list[str], dict[str, str], dict[int, Any], FakeProcess]] = []

    def __call__(
        self,
        protocol: ProcessProtocol,
        argv: Sequence[str],
        env: Mapping[str, str],
        childFDs: Mapping[int, Any],
    ) -> FakeProcess:
        process = FakeProcess(100 + len(self.spawned))
        self.spawned.append((protocol, list(argv), dict(env), dict(childFDs), process))
        return process


def died(status: int | None = None, signal_: int | None = None) -> Failure:
    if status == 0:
        return Failure(ProcessDone(0))
    return Failure(ProcessTerminated(exitCode=status, signal=signal_))


class LoggedMixin(SynchronousTestCase):
    def setUp(self) -> None:
        self.events: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def said(self, fragment: str) -> list[str]:
        from twisted.logger import formatEvent

        return [formatEvent(e) for e in self.events if fragment in formatEvent(e)]


class RestartDelayTests(SynchronousTestCase):
    """
    L{restartDelay}: at once the first time, then doubling with each death
    in a row, up to L{MAX_DELAY}.
    """

    def test_doubles(self) -> None:
        """
        0 s, then 0.5 s, 1 s, 2 s, ... at most 30 s.
        """
        self.assertEqual([restartDelay(n) for n in range(5)], [0.0, 0.5, 1.0, 2.0, 4.0])
        self.assertEqual(restartDelay(1), FIRST_DELAY)
        self.assertEqual(restartDelay(50), MAX_DELAY)


class BindTests(SynchronousTestCase):
    """
    L{bindShared} binds every listener before any worker starts.
    """

    def test_binds(self) -> None:
        """
        Each tcp: and tcp6: listener gets a listening socket of its
        family, on the interface and port given.
        """
        specs = [ListenerSpec(LOOPBACK, PLAIN), ListenerSpec("tcp6:0:interface=\\:\\:1", PLAIN)]
        try:
            shared = bindShared(specs)
        except ListenError as e:
            if "tcp6" in e.description:
                raise self.skipTest("no IPv6 loopback")
            raise
        self.addCleanup(lambda: [s.sock.close() for s in shared])
        self.assertEqual([s.spec for s in shared], specs)
        self.assertEqual(shared[0].sock.family, socket.AF_INET)
        self.assertEqual(shared[0].sock.getsockname()[0], "127.0.0.1")
        self.assertEqual(shared[1].sock.family, socket.AF_INET6)
        self.assertEqual(shared[1].sock.getsockname()[0], "::1")
        client = socket.create_connection(("127.0.0.1", shared[0].port), timeout=5)
        client.close()

    def test_socketPerWorker(self) -> None:
        """
        With C{SO_REUSEPORT}, each listener gets one socket per worker,
        slots 1 to N, the first on the port configured (0: any), the
        others on the port it got; every one accepts connections.
        """
        if not reusePortAvailable():
            raise self.skipTest("no SO_REUSEPORT here")
        specs = [ListenerSpec(LOOPBACK, PLAIN), ListenerSpec("tcp:0:interface=127.0.0.1", PLAIN, 1)]
        shared = bindShared(specs, 3)
        self.addCleanup(lambda: [s.sock.close() for s in shared])
        self.assertEqual([(s.spec, s.slot) for s in shared], [(spec, n) for spec in specs for n in (1, 2, 3)])
        first, second = shared[:3], shared[3:]
        self.assertEqual(len({s.port for s in first}), 1)
        self.assertEqual(len({s.port for s in second}), 1)
        self.assertNotEqual(first[0].port, second[0].port)
        self.assertEqual(len({s.sock.fileno() for s in shared}), 6)
        for s in shared:
            self.assertEqual(s.sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT), 1)
            self.assertTrue(s.serves(s.slot or 0))
            self.assertFalse(s.serves((s.slot or 0) + 1))
        # The kernel spreads connections over the three: each accepts some
        # of them (a hash of each connection's addresses: 60 connections
        # all to one or two sockets, probability 3 * (2/3)**60 < 1e-10).
        clients = [socket.create_connection(("127.0.0.1", first[0].port), timeout=5) for _ in range(60)]
        self.addCleanup(lambda: [c.close() for c in clients])
        for s in first:
            s.sock.setblocking(True)
            s.sock.settimeout(5)
            accepted, _ = s.sock.accept()
            accepted.close()

    def test_oneSocketWithoutReusePort(self) -> None:
        """
        Without C{SO_REUSEPORT} (or with one worker), each listener gets
        one socket, which every worker accepts on.
        """
        for workers, reusePort in ((2, False), (1, True)):
            [shared] = bindShared([ListenerSpec(LOOPBACK, PLAIN)], workers, reusePort)
            shared.sock.close()
            self.assertIsNone(shared.slot)
            self.assertTrue(shared.serves(1) and shared.serves(2))

    def test_busyReusePort(self) -> None:
        """
        A port another process listens on with C{SO_REUSEPORT} set is
        busy, not shared with it.
        """
        if not reusePortAvailable():
            raise self.skipTest("no SO_REUSEPORT here")
        busy = socket.socket()
        self.addCleanup(busy.close)
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        description = f"tcp:{busy.getsockname()[1]}:interface=127.0.0.1"
        with self.assertRaises(ListenError) as caught:
            bindShared([ListenerSpec(description, PLAIN)], 2)
        self.assertEqual(str(caught.exception), f"cannot listen on {description}: address already in use")

    def test_proxyHeader(self) -> None:
        """
        A C{haproxy:tcp:} or C{haproxy:tcp6:} listener is bound as the TCP
        listener it wraps; L{readsProxyHeader} says which listeners read a
        PROXY header.
        """
        description = "haproxy:tcp:0:interface=127.0.0.1"
        [shared] = bindShared([ListenerSpec(description, PLAIN)])
        shared.sock.close()
        self.assertEqual(shared.sock.family, socket.AF_INET)
        self.assertIsNone(shareProblem(description))
        self.assertIsNone(shareProblem("haproxy:tcp6:port=8080"))
        self.assertTrue(readsProxyHeader(description))
        self.assertFalse(readsProxyHeader(LOOPBACK))

    def test_busyPort(self) -> None:
        """
        A port in use is a L{ListenError} in one line, and the sockets
        bound before it are closed again.
        """
        busy = socket.socket()
        self.addCleanup(busy.close)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        first = socket.socket()
        first.bind(("127.0.0.1", 0))
        free = first.getsockname()[1]
        first.close()
        description = f"tcp:{port}:interface=127.0.0.1"
        with self.assertRaises(ListenError) as caught:
            bindShared([ListenerSpec(f"tcp:{free}:interface=127.0.0.1", PLAIN), ListenerSpec(description, PLAIN)])
        self.assertEqual(str(caught.exception), f"cannot listen on {description}: address already in use")
        again = bindShared([ListenerSpec(f"tcp:{free}:interface=127.0.0.1", PLAIN)])
        again[0].sock.close()
        if reusePortAvailable():
            with self.assertRaises(ListenError):
                bindShared(
                    [ListenerSpec(f"tcp:{free}:interface=127.0.0.1", PLAIN), ListenerSpec(description, PLAIN)], 2
                )
            again = bindShared([ListenerSpec(f"tcp:{free}:interface=127.0.0.1", PLAIN)], 2)
            self.assertEqual([s.slot for s in again], [1, 2])
            for s in again:
                s.sock.close()

    def test_otherKinds(self) -> None:
        """
        Only tcp: and tcp6: listeners (behind haproxy: or not) can be
        shared: another kind is refused, naming it.
        """
        for description in (
            "unix:/tmp/proxykit.sock",
            "haproxy:unix:/tmp/proxykit.sock",
            "haproxy:haproxy:tcp:0",
            "haproxy",
            "ssl:0",
            "systemd:domain=INET:index=0",
        ):
            with self.assertRaises(ListenError) as caught:
                bindShared([ListenerSpec(description, PLAIN)])
            self.assertIn("only tcp: and tcp6: listeners can be shared", str(caught.exception))
            self.assertIn(description, str(caught.exception))


class WorkerSpecTests(SynchronousTestCase):
    """
    L{WorkerSpec} goes to the worker as JSON and comes back equal.
    """

    def test_roundTrip(self) -> None:
        for shared in (False, True):
            spec = WorkerSpec(
                2, ((ListenerSpec(LOOPBACK, PLAIN, 1), 7, int(socket.AF_INET)),), "unix:/x", shared
            )
            self.assertEqual(WorkerSpec.fromJSON(spec.toJSON()), spec)


class SupervisorTests(LoggedMixin):
    """
    L{Supervisor} runs, restarts and signals its workers.
    """

    def setUp(self) -> None:
        super().setUp()
        self.reactor = MemoryReactorClock()
        self.spawner = FakeSpawner()
        self.config = ProxyConfig(listen=(LOOPBACK,), workers=2)
        self.sockets = bindShared(listenersOf(self.config), 2, reusePort=True)
        self.addCleanup(lambda: [s.sock.close() for s in self.sockets])
        self.loaded: list[ProxyConfig | Exception] = []
        self.checked: list[ProxyConfig] = []
        self.supervisor = Supervisor(
            self.config,
            "forward",
            ["forward", "--workers", "2"],
            self.sockets,
            self.reactor,
            load=self.load,
            spawn=self.spawner,
            check=lambda mode, config: self.checked.append(config),
            cwd="/",
        )
        self.previous = {n: signal.getsignal(n) for n in (signal.SIGHUP, signal.SIGUSR1, signal.SIGTERM, signal.SIGINT)}
        self.addCleanup(self.restoreSignals)

    def restoreSignals(self) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)

    def load(self) -> ProxyConfig:
        result = self.loaded.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    def processes(self) -> list[FakeProcess]:
        return [entry[4] for entry in self.spawned()]

    def spawned(self) -> list[Any]:
        return self.spawner.spawned

    def test_starts(self) -> None:
        """
        Starting runs one C{python -m proxykit.worker} process per worker
        with the command line, each told its number and its own inherited
        descriptors (socket N for worker N), which it gets besides its
        standard streams.
        """
        self.supervisor.startService()
        self.assertEqual(len(self.spawned()), 2)
        self.assertEqual([s.slot for s in self.sockets], [1, 2])
        port = self.sockets[0].port
        self.assertTrue(self.said(f"starting 2 workers on {LOOPBACK} (port {port}); a socket per worker"))
        for number, (_, argv, env, childFDs, process) in enumerate(self.spawned(), 1):
            fd = self.sockets[number - 1].sock.fileno()
            self.assertTrue(os.get_inheritable(fd))
            self.assertEqual(argv[1:], ["-m", "proxykit.worker", "forward", "--workers", "2"])
            spec = WorkerSpec.fromJSON(env[ENVIRONMENT])
            self.assertEqual(spec.number, number)
            self.assertEqual(spec.sockets, ((ListenerSpec(LOOPBACK, PLAIN), fd, int(socket.AF_INET)),))
            self.assertFalse(spec.shared)
            self.assertIsNone(spec.admin)
            self.assertEqual(childFDs, {0: "w", 1: 1, 2: "r", fd: fd})
            self.assertTrue(self.said(f"worker {number} started (pid {process.pid})"))

    def test_startsShared(self) -> None:
        """
        Without C{SO_REUSEPORT}, every worker gets the one socket, and is
        told it is shared.
        """
        sockets = bindShared(listenersOf(self.config), 2, reusePort=False)
        self.addCleanup(lambda: [s.sock.close() for s in sockets])
        self.supervisor = Supervisor(
            self.config, "forward", ["forward"], sockets, self.reactor, spawn=self.spawner, cwd="/"
        )
        self.supervisor.startService()
        self.addCleanup(self.supervisor.stopService)
        fd = sockets[0].sock.fileno()
        self.assertTrue(self.said("; one socket shared"))
        for _, _, env, childFDs, _ in self.spawned():
            spec = WorkerSpec.fromJSON(env[ENVIRONMENT])
            self.assertEqual(spec.sockets, ((ListenerSpec(LOOPBACK, PLAIN), fd, int(socket.AF_INET)),))
            self.assertTrue(spec.shared)
            self.assertEqual(childFDs, {0: "w", 1: 1, 2: "r", fd: fd})

    def test_replacementAdoptsSocket(self) -> None:
        """
        A worker's replacement is given the same socket, which the
        supervisor kept open meanwhile (the connections queued on it wait
        for the replacement).
        """
        self.supervisor.startService()
        fd = self.sockets[1].sock.fileno()
        self.supervisor.workers[1].processEnded(died(signal_=9))
        self.assertEqual(self.sockets[1].sock.fileno(), fd)
        self.reactor.advance(0)
        spec = WorkerSpec.fromJSON(self.spawned()[2][2][ENVIRONMENT])
        self.assertEqual((spec.number, spec.sockets[0][1]), (2, fd))

    def test_crashLoopReleasesSockets(self) -> None:
        """
        While a restart waits (workers keep dying young), the worker's own
        sockets are closed, so that new connections go to the other
        workers; its replacement gets a new socket on the same port, with
        C{SO_REUSEPORT}.
        """
        self.supervisor.startService()
        port = self.sockets[0].port
        worker = self.supervisor.workers[0]
        worker.processEnded(died(signal_=9))
        self.reactor.advance(0)
        worker.processEnded(died(status=1))
        self.assertEqual(self.supervisor.sockets[0].sock.fileno(), -1)
        self.assertTrue(self.said("worker 1's sockets are closed until it restarts"))
        # Every new connection now goes to worker 2's socket.
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(8)]
        self.addCleanup(lambda: [c.close() for c in clients])
        other = self.supervisor.sockets[1].sock
        other.settimeout(5)
        for _ in clients:
            other.accept()[0].close()
        self.reactor.advance(FIRST_DELAY)
        rebound = self.supervisor.sockets[0]
        self.addCleanup(rebound.sock.close)
        self.assertEqual((rebound.slot, rebound.port), (1, port))
        self.assertEqual(rebound.sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT), 1)
        self.assertTrue(os.get_inheritable(rebound.sock.fileno()))
        spec = WorkerSpec.fromJSON(self.spawned()[-1][2][ENVIRONMENT])
        self.assertEqual((spec.number, spec.sockets[0][1]), (1, rebound.sock.fileno()))
        # The other worker's socket was left alone.
        self.assertIs(self.supervisor.sockets[1].sock, other)

    def test_crashLoopKeepsLastSocket(self) -> None:
        """
        When every worker's restart waits, the last socket open on the
        address is kept, so that no other process can take the port.
        """
        self.supervisor.startService()
        for worker in self.supervisor.workers:
            worker.processEnded(died(signal_=9))
        self.reactor.advance(0)
        for worker in self.supervisor.workers:
            worker.processEnded(died(status=1))
        self.assertEqual(sorted(s.sock.fileno() == -1 for s in self.supervisor.sockets), [False, True])
        self.assertFalse(any(w.running for w in self.supervisor.workers))
        self.assertEqual(len(self.said("sockets are closed until it restarts")), 1)

    def test_restartWithBackoff(self) -> None:
        """
        A worker that dies is restarted at once, then after L{FIRST_DELAY},
        then after twice as long while workers keep dying young; its death
        is logged with its pid and status, and counted.  One that lived
        L{STABLE} seconds is restarted at once again.
        """
        self.supervisor.startService()
        worker = self.supervisor.workers[0]
        worker.processEnded(died(signal_=9))
        self.assertIn(
            "worker 1 (pid 100) died (killed by signal 9) after 0.0 s; restarting it now (restart 1)",
            self.said("died")[0],
        )
        self.assertEqual(worker.restarts, 1)
        self.reactor.advance(0)
        self.assertEqual(len(self.spawned()), 3)
        self.assertEqual(worker.process, self.processes()[2])
        worker.processEnded(died(status=1))
        self.assertIn("(exit status 1) after 0.0 s; restarting it in 0.5 s", self.said("died")[1])
        self.reactor.advance(FIRST_DELAY - 0.01)
        self.assertEqual(len(self.spawned()), 3)
        self.reactor.advance(0.01)
        self.assertEqual(len(self.spawned()), 4)
        worker.processEnded(died(status=1))
        self.reactor.advance(2 * FIRST_DELAY - 0.01)
        self.assertEqual(len(self.spawned()), 4)
        self.reactor.advance(0.01)
        self.assertEqual(len(self.spawned()), 5)
        self.assertEqual(worker.restarts, 3)
        self.reactor.advance(STABLE)
        worker.processEnded(died(status=1))
        self.reactor.advance(0)
        self.assertEqual(len(self.spawned()), 6)
        # The other worker was left alone.
        self.assertEqual(self.supervisor.workers[1].restarts, 0)

    def test_logLines(self) -> None:
        """
        A worker's log lines (its standard error) are said again, each
        naming the worker, a partial line once it is complete.
        """
        self.supervisor.startService()
        worker = self.supervisor.workers[1]
        worker.childDataReceived(2, b"[x#info] one\n[x#error] tw")
        worker.childDataReceived(2, b"o\n")
        self.assertEqual(self.said("worker 2: "), ["worker 2: [x#info] one", "worker 2: [x#error] two"])

    def test_reload(self) -> None:
        """
        C{SIGHUP}: the configuration is read again and checked, then
        C{SIGHUP} goes to every worker.
        """
        self.supervisor.startService()
        new = attrs.evolve(self.config, timeouts=attrs.evolve(self.config.timeouts, connect=3.0))
        self.loaded.append(new)
        self.assertTrue(self.supervisor.reload())
        self.assertEqual(self.checked, [new])
        self.assertEqual([p.signals for p in self.processes()], [["HUP"], ["HUP"]])
        self.assertTrue(self.said("SIGHUP: configuration checked, sent to 2 workers"))

    def test_reloadRefused(self) -> None:
        """
        A configuration that cannot be read, fails the check, or changes
        the listeners is refused, logged, and no worker is signalled.
        """
        self.supervisor.startService()
        self.loaded.append(ReloadError("bad.toml:3: timeouts.connect: expected a positive number"))
        self.assertFalse(self.supervisor.reload())
        self.loaded.append(attrs.evolve(self.config, listen=("tcp:0:interface=127.0.0.2",)))
        self.assertFalse(self.supervisor.reload())

        def failing(mode: str, config: ProxyConfig) -> None:
            raise ValueError("no such certificate")

        self.supervisor._check = failing
        self.loaded.append(self.config)
        self.assertFalse(self.supervisor.reload())
        refusals = self.said("reload refused, no worker signalled")
        self.assertEqual(len(refusals), 3)
        self.assertIn("timeouts.connect", refusals[0])
        self.assertIn("listeners change only on a restart", refusals[1])
        self.assertIn("no such certificate", refusals[2])
        self.assertEqual([p.signals for p in self.processes()], [[], []])

    def test_signalExitedAlready(self) -> None:
        """
        A worker whose process has exited but is not reaped yet is not
        counted as signalled.
        """
        self.supervisor.startService()
        gone = self.processes()[0]

        def exited(name: str) -> None:
            raise ProcessExitedAlready()

        gone.signalProcess = exited  # type: ignore[method-assign]
        self.supervisor.reopenLogs()
        self.assertEqual(self.supervisor._signalAll("HUP"), 1)

    def test_reopenLogs(self) -> None:
        """
        C{SIGUSR1} goes to every worker.
        """
        self.supervisor.startService()
        self.supervisor.reopenLogs()
        self.assertEqual([p.signals for p in self.processes()], [["USR1"], ["USR1"]])

    def test_userSignalChained(self) -> None:
        """
        C{twistd --logfile} rotates its own log on C{SIGUSR1} with a handler
        installed before the supervisor starts: C{SIGUSR1} still calls it,
        as well as signalling the workers.
        """
        rotated: list[int] = []
        twistdRotate = lambda signum, frame: rotated.append(signum)  # noqa: E731
        signal.signal(signal.SIGUSR1, twistdRotate)
        calls: list[Any] = []
        self.reactor.callFromThread = lambda f, *a: calls.append(f)  # type: ignore[method-assign]
        self.supervisor.startService()
        handler = signal.getsignal(signal.SIGUSR1)
        handler(signal.SIGUSR1, None)  # type: ignore[operator, misc]
        self.assertEqual((calls, rotated), ([self.supervisor.reopenLogs], [signal.SIGUSR1]))

    def test_stop(self) -> None:
        """
        Stopping sends C{SIGTERM} to every worker and fires only once all
        have exited; a worker that exits then is not restarted; a second
        signal sends C{SIGTERM} again.
        """
        self.supervisor.startService()
        stopped = self.supervisor.stopService()
        self.assertEqual([p.signals for p in self.processes()], [["TERM"], ["TERM"]])
        self.assertNoResult(stopped)
        self.supervisor._cut()
        self.assertEqual([p.signals for p in self.processes()], [["TERM", "TERM"], ["TERM", "TERM"]])
        self.supervisor.workers[0].processEnded(died(status=0))
        self.reactor.advance(MAX_DELAY)
        self.assertEqual(len(self.spawned()), 2)
        self.assertNoResult(stopped)
        self.supervisor.workers[1].processEnded(died(status=0))
        self.successResultOf(stopped)
        self.assertTrue(self.said("every worker has exited"))
        # Its own copies of the sockets are closed, so that once the
        # workers stop accepting, no connection waits in a backlog nobody
        # accepts from.
        self.assertEqual([s.sock.fileno() for s in self.sockets], [-1, -1])

    def test_stopWhileRestarting(self) -> None:
        """
        A restart still waiting when the supervisor stops never happens.
        """
        self.supervisor.startService()
        self.supervisor.workers[0].processEnded(died(signal_=9))
        stopped = self.supervisor.stopService()
        self.assertEqual([p.signals for p in self.processes()], [[], ["TERM"]])
        self.supervisor.workers[1].processEnded(died(status=0))
        self.successResultOf(stopped)
        self.reactor.advance(MAX_DELAY)
        self.assertEqual(len(self.spawned()), 2)

    def test_signalHandlers(self) -> None:
        """
        While it runs, C{SIGHUP} and C{SIGUSR1} are the supervisor's; it
        gives them back when it stops.
        """
        self.supervisor.startService()
        self.assertEqual(signal.getsignal(signal.SIGHUP), self.supervisor._hangup)
        self.assertEqual(signal.getsignal(signal.SIGUSR1), self.supervisor._user1)
        stopped = self.supervisor.stopService()
        self.assertEqual(signal.getsignal(signal.SIGHUP), self.previous[signal.SIGHUP])
        for worker in self.supervisor.workers:
            worker.processEnded(died(status=0))
        self.successResultOf(stopped)
        self.assertEqual(signal.getsignal(signal.SIGTERM), self.previous[signal.SIGTERM])


class AdminPathTests(SynchronousTestCase):
    """
    With an admin listener, each worker gets a private admin socket.
    """

    def test_private(self) -> None:
        config = ProxyConfig(listen=(LOOPBACK,), workers=2, admin=attrs.evolve(ProxyConfig().admin, listen="tcp:0"))
        spawner = FakeSpawner()
        supervisor = Supervisor(config, "forward", ["forward"], [], MemoryReactorClock(), spawn=spawner)
        first, second = (supervisor.adminPath(w) for w in supervisor.workers)
        assert first is not None and second is not None
        self.assertNotEqual(first, second)
        self.assertEqual(os.path.dirname(first), os.path.dirname(second))
        self.assertEqual(os.stat(os.path.dirname(first)).st_mode & 0o777, 0o700)
        previous = signal.getsignal(signal.SIGHUP), signal.getsignal(signal.SIGUSR1)
        self.addCleanup(signal.signal, signal.SIGHUP, previous[0])
        self.addCleanup(signal.signal, signal.SIGUSR1, previous[1])
        supervisor.startService()
        spec = WorkerSpec.fromJSON(spawner.spawned[0][2][ENVIRONMENT])
        self.assertEqual(spec.admin, "unix:" + first)
        stopped = supervisor.stopService()
        for worker in supervisor.workers:
            worker.processEnded(died(status=0))
        self.successResultOf(stopped)
        self.assertFalse(os.path.exists(os.path.dirname(first)))
        json.dumps(spec.toJSON())


    def test_longTemporaryDirectory(self) -> None:
        """
        When C{TMPDIR} is so deep that a socket there would be too long a
        path for a UNIX socket, the sockets go in a private directory in
        C{/tmp} instead (every worker would otherwise fail to listen and be
        restarted forever).
        """
        import tempfile

        deep = os.path.abspath(self.mktemp())
        deep = os.path.join(deep, "d" * (SOCKET_PATH_MAX - len(deep)))
        os.makedirs(deep)
        self.patch(tempfile, "tempdir", deep)
        directory = socketDirectory()
        self.addCleanup(os.rmdir, directory)
        self.assertEqual(os.path.dirname(directory), "/tmp")
        self.assertEqual(os.listdir(deep), [])
        self.assertEqual(os.stat(directory).st_mode & 0o777, 0o700)
        self.assertLessEqual(len(os.path.join(directory, "worker-99999.sock")), SOCKET_PATH_MAX)

    def test_shortTemporaryDirectory(self) -> None:
        """
        Otherwise they go in C{TMPDIR}.
        """
        import tempfile

        here = tempfile.mkdtemp(dir="/tmp")
        self.addCleanup(os.rmdir, here)
        self.patch(tempfile, "tempdir", here)
        directory = socketDirectory()
        self.addCleanup(os.rmdir, directory)
        self.assertEqual(os.path.dirname(directory), here)


class AdoptTests(SynchronousTestCase):
    """
    A worker's proxy adopts its inherited sockets (L{ProxyService.adopt}):
    a C{haproxy:} listener's connections are read through Twisted's PROXY
    protocol wrapper, as the C{haproxy:} endpoint reads them; a port
    accepts one connection at a time only on a socket shared with other
    workers.
    """

    def adopt(self, shared: bool) -> tuple[MemoryReactorClock, list[object]]:
        from proxykit import listeners
        from proxykit.listeners import InheritedSocket
        from proxykit.service import forwardService

        oneAtATime: list[object] = []
        self.patch(listeners, "acceptOneAtATime", oneAtATime.append)
        reactor = MemoryReactorClock()
        haproxy = "haproxy:tcp:0:interface=127.0.0.1"
        config = ProxyConfig(listen=(haproxy, LOOPBACK))
        proxy = forwardService(config, reactor)
        inherited = {}
        for spec in listenersOf(config):
            sock = socket.socket()
            self.addCleanup(sock.close)
            inherited[spec] = InheritedSocket(
                os.dup(sock.fileno()), int(socket.AF_INET), shared, readsProxyHeader(spec.description)
            )
        proxy.adopt(inherited)
        proxy.listen()
        self.addCleanup(proxy.stopService)
        return reactor, oneAtATime

    def test_proxyHeader(self) -> None:
        """
        The C{haproxy:} listener's factory is wrapped in Twisted's PROXY
        protocol factory, the plain one is not.
        """
        from proxykit.relay.gate import ListenerGate

        reactor, _ = self.adopt(shared=False)
        [(_, _, wrapped), (_, _, plain)] = reactor.adoptedPorts
        self.assertEqual(type(wrapped).__name__, "HAProxyWrappingFactory")
        self.assertIsInstance(wrapped.wrappedFactory, ListenerGate)
        self.assertIsInstance(plain, ListenerGate)

    def test_oneAtATime(self) -> None:
        """
        Ports on sockets of their own accept in batches (as Twisted does);
        on a shared socket, one connection at a time.
        """
        _, oneAtATime = self.adopt(shared=False)
        self.assertEqual(oneAtATime, [])
        _, oneAtATime = self.adopt(shared=True)
        self.assertEqual(len(oneAtATime), 2)
