# -*- test-case-name: tests.test_workers -*-
"""
One worker process of a supervisor (L{proxykit.workers}):

    python -m proxykit.worker forward|reverse [OPTIONS]

run by the supervisor with the command line C{twistd proxykit} was given,
and L{proxykit.workers.ENVIRONMENT} saying which worker it is, which
inherited descriptors are which listeners, and where its private admin
listener is.  It builds the proxy C{twistd proxykit} would build, adopts
the sockets instead of binding them, and runs until C{SIGTERM} (a drain,
as without workers) or until the supervisor is gone (its standard input
closes).  Its log goes to standard error, one event a line without a
time stamp: the supervisor says each line again in its own log.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import attrs
from twisted.internet import abstract, fdesc
from twisted.logger import FileLogObserver, eventAsText, globalLogBeginner
from twisted.python import usage

from .listeners import InheritedSocket, ListenError
from .ops.version import ConfigVersion
from .workers import ENVIRONMENT, WorkerSpec, readsProxyHeader


def _line(event: Any) -> str | None:
    text = eventAsText(event, includeTimestamp=False)
    return text.replace("\n", "\n\t") + "\n"


class ParentWatch(abstract.FileDescriptor):
    """
    Stops the reactor when standard input closes: the supervisor, which
    holds its other end, is gone.
    """

    def __init__(self, reactor: Any) -> None:
        super().__init__(reactor)
        fdesc.setNonBlocking(0)  # type: ignore[no-untyped-call]

    def fileno(self) -> int:
        return 0

    def doRead(self) -> Any:
        return fdesc.readFromFD(0, lambda data: None)  # type: ignore[no-untyped-call]

    def connectionLost(self, reason: Any) -> None:
        abstract.FileDescriptor.connectionLost(self, reason)  # type: ignore[no-untyped-call]
        if self.reactor.running:  # type: ignore[attr-defined]
            self.reactor.stop()  # type: ignore[attr-defined]


def main(argv: Sequence[str] | None = None, err: TextIO | None = None) -> int:
    """
    Run worker C{argv} (the command line after C{proxykit}).

    @return: The exit status: 0 after a drain, 1 if it could not start.
    """
    from .reactor import installIfNone

    installIfNone()
    from twisted.internet import reactor

    from .tap import Options, buildProxy

    err = sys.stderr if err is None else err
    spec = WorkerSpec.fromJSON(os.environ[ENVIRONMENT])
    globalLogBeginner.beginLoggingTo([FileLogObserver(err, _line)], redirectStandardIO=False)
    options = Options()  # type: ignore[no-untyped-call]
    try:
        options.parseOptions(list(sys.argv[1:] if argv is None else argv))
    except usage.UsageError as e:
        err.write(f"proxykit worker {spec.number}: {e}\n")
        return 1
    sub = options.subOptions
    public = sub["proxyConfig"]
    private = attrs.evolve(public.admin, listen=spec.admin)

    def forWorker(config: Any) -> Any:
        return attrs.evolve(config, workers=1, admin=private)

    def asSupervisor(config: Any) -> Any:
        # The configuration as the supervisor read it, without this
        # worker's private admin listener: its digest (in the metrics and
        # the reload's log line) is then the same in every worker.
        # ([admin] and workers are read only at start.)
        return attrs.evolve(config, workers=public.workers, admin=public.admin)

    config = forWorker(sub["proxyConfig"])
    try:
        proxy = buildProxy(options.subCommand, sub, config, reactor)
    except OSError as e:
        err.write(f"proxykit worker {spec.number}: {e}\n")
        return 1
    proxy.versionedConfig = asSupervisor
    proxy.configVersion = attrs.evolve(
        proxy.configVersion, digest=ConfigVersion.of(public, 0).digest
    )
    load = proxy.loadConfig
    assert load is not None
    proxy.loadConfig = lambda: forWorker(load())
    try:
        proxy.adopt(
            {
                listener: InheritedSocket(
                    fd, family, spec.shared, readsProxyHeader(listener.description)
                )
                for listener, fd, family in spec.sockets
            }
        )
        proxy.listen()
    except ListenError as e:
        err.write(f"proxykit worker {spec.number}: {e}\n")
        return 1
    reactor.addReader(ParentWatch(reactor))
    reactor.callWhenRunning(proxy.startService)
    reactor.addSystemEventTrigger("before", "shutdown", proxy.stopService)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
