# -*- test-case-name: tests.test_accesslog -*-
"""
The access log: one C{twisted.logger} event per request, in the namespace
C{proxykit.access}, and one line per event in a file or on standard output.

An L{AccessLog} observes a proxy's L{Hooks}: each request's record, as
L{Hooks.onFinished} gives it (every
request, however it ended; a CONNECT tunnel or a protocol switch when it
closes) becomes an event with the fields of
L{proxykit.config.logformat.EVENT_FIELDS}, published to
C{globalLogPublisher}, where an embedding application's observer can
filter the namespace and route it as it likes.  The events carry no
C{log_format}: text log observers (C{twistd}'s log file, its standard
output) skip events without one, so the access lines do not appear twice.
The access log's own line, in the chosen format, is written straight to
its file by the L{AccessLog} itself: the lines of the requests that end
within L{FLUSH_INTERVAL} are joined and written with one C{write} (at once
when L{BUFFER} lines wait), to a file opened for appending, so lines of
concurrent writers never mix and a line is in the file, for C{tail -f} and
log shippers, at most L{FLUSH_INTERVAL} after its request ended (nginx's
C{access_log ... buffer= flush=}, with a short flush).  Under C{twistd}, where nothing observes the events, none are
published (L{AccessLog.publish}): a combined line is then made straight
from the record.

L{reopenAccessLogs} reopens every access log file of the process (what
C{SIGUSR1} and C{SIGHUP} do under C{twistd}), so that C{logrotate} can
rename the file and signal, without C{copytruncate}.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Final

from mypy_extensions import mypyc_attr
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import ILogObserver, Logger, LogLevel, globalLogPublisher

from ..config.checks import AddressSet
from ..config.logformat import COMBINED, EVENT_FIELDS, JSON, parseFormat
from ..config.values import ProxyConfig
from ..decisions import ClientInfo, Origin
from ..h1 import PROXY_FORMS, Request
from ..reactor import orGlobal
from ..relay.hooks import Finished, Hooks, Outcome, Trace, TunnelRecord

__all__ = ["NAMESPACE", "AccessLog", "reopenAccessLogs"]

NAMESPACE = "proxykit.access"
"""The namespace of the access events."""

_log = Logger()
_accessLogger = Logger(namespace=NAMESPACE)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_UNSAFE: Final = re.compile(r'[\x00-\x1f"\\\x7f-\xff]')


def _escapeChar(found: re.Match[str]) -> str:
    return f"\\x{ord(found.group(0)):02X}"


def escape(text: str) -> str:
    """
    C{text} safe inside a quoted field of a log line: C{"}, C{\\}, control
    characters and bytes beyond ASCII as C{\\xHH}, as nginx writes them.
    """
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        # Cheaper than a search, and the same test: printable ASCII but
        # for C{"} and C{\\}.
        return text
    return _UNSAFE.sub(_escapeChar, text)


_PLAIN: Final = bytes(
    byte if 0x20 <= byte <= 0x7E and byte not in b'"\\' else byte ^ 1 for byte in range(256)
)
"""A translation table that changes exactly the bytes L{escape} escapes."""


def _quoted(value: bytes) -> str:
    """
    C{value} (a request's bytes) as L{escape} has it, told by one C pass
    (no method lookups) in the common case that nothing needs escaping.
    """
    if value.translate(_PLAIN) == value:
        return value.decode("latin-1")
    return escape(value.decode("latin-1"))


def _text(value: bytes) -> str:
    return value.decode("latin-1")


def _hostPort(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def originAddress(origin: Origin) -> str:
    """
    How the access log names an origin: C{host:port} (C{[::1]:80}), or
    C{unix:PATH}.
    """
    if origin.scheme == "unix":
        return f"unix:{origin.host}"
    return _hostPort(origin.host, origin.port)


def _hostName(host: bytes) -> str:
    """
    A C{Host} value without its port, lower case: the virtual host asked for.
    """
    name = _text(host).lower()
    if name.startswith("["):
        return name[: name.find("]") + 1] or name
    return name.partition(":")[0]


_INFO = LogLevel.info

_METHODS: Final = {
    m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "PATCH")
}
_PROTOCOLS: Final = {b"1.1": "HTTP/1.1", b"1.0": "HTTP/1.0"}


def _clientFields(client: ClientInfo) -> tuple[str | None, int | None, str | None, str]:
    """
    What the access log says of a client connection: its peer address and
    port, the listener's address, the scheme.
    """
    return (
        client.peerHost or None,
        client.peerPort or None,
        _hostPort(client.localHost, client.localPort) if client.localHost else None,
        "https" if client.secure else "http",
    )


def _lastForwardedFor(values: list[bytes]) -> str | None:
    """
    The address the nearest trusted proxy put last in C{X-Forwarded-For},
    or C{None} when that is not an IP address.
    """
    last = values[-1].rpartition(b",")[2].strip()
    address = _text(last)
    if address.startswith("[") and "]" in address:
        address = address[1 : address.index("]")]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


class _TimeText:
    """
    The time as the Combined Log Format writes it (C{04/Dec/2026:08:12:17
    +0000}, local time), made once a second.
    """

    __slots__ = ("_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def __call__(self, when: float) -> str:
        second = int(when)
        if second == self._second:
            return self._text
        return self.text(second)

    def text(self, second: int) -> str:
        """
        The time C{second} (whole seconds since the epoch) as the format
        writes it, kept for the calls that follow within that second.
        """
        t = time.localtime(second)
        offset = t.tm_gmtoff // 60
        sign = "-" if offset < 0 else "+"
        offset = abs(offset)
        self._text = text = (
            f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year:04d}:"
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} "
            f"{sign}{offset // 60:02d}{offset % 60:02d}"
        )
        self._second = second
        return text


def isoTime(when: float) -> str:
    """
    C{when} in ISO 8601, local time with its offset, to the millisecond.
    """
    t = time.localtime(when)
    offset = t.tm_gmtoff // 60
    sign = "-" if offset < 0 else "+"
    offset = abs(offset)
    milliseconds = int((when % 1) * 1000)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", t)
        + f".{milliseconds:03d}{sign}{offset // 60:02d}:{offset % 60:02d}"
    )


def requestLine(event: dict[str, Any]) -> str | None:
    """
    The request line of an access event (C{GET /a HTTP/1.1}), or C{None}
    for a request that could not be parsed.
    """
    method = event["method"]
    if method is None:
        return None
    return f"{method} {event['target']} {event['protocol']}"


def _value(value: object) -> str:
    """
    A field's value in a format string: C{-} for none, seconds to the
    millisecond, C{true}/C{false}, text escaped.
    """
    if value is None:
        return "-"
    if isinstance(value, str):
        return escape(value) or "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


Formatter = Callable[[dict[str, Any]], str]


def combinedLine(timeText: Callable[[float], str] | None = None) -> Formatter:
    """
    The Combined Log Format:
    C{client - - [time] "request line" status bytes "referer" "user agent"}.
    """
    local = timeText or _TimeText()

    def combined(event: dict[str, Any]) -> str:
        line = requestLine(event)
        sent = event["bytes_sent"]
        referer = event["http_referer"]
        agent = event["http_user_agent"]
        return (
            f"{event['client_addr'] or '-'} - - [{local(event['time'])}] "
            f'"{"-" if line is None else escape(line)}" {event["status"]} {sent or "-"} '
            f'"{"-" if referer is None else escape(referer)}" '
            f'"{"-" if agent is None else escape(agent)}"\n'
        )

    return combined


def jsonLine(event: dict[str, Any]) -> str:
    """
    One JSON object of every field of L{EVENT_FIELDS}, in that order.
    """
    return json.dumps({name: event[name] for name in EVENT_FIELDS}, separators=(",", ":")) + "\n"


def _literal(text: str) -> Callable[[dict[str, Any]], str]:
    return lambda event: text


def _field(name: str) -> Callable[[dict[str, Any]], str]:
    return lambda event: _value(event[name])


def formatLine(text: str) -> Formatter:
    """
    A format string with named fields (see
    L{proxykit.config.logformat.parseFormat}): each field's value as
    L{_value} writes it.

    @raise proxykit.config.checks.Problem: The format names an unknown field.
    """
    parts = parseFormat(text)
    local = _TimeText()
    getters: list[Callable[[dict[str, Any]], str]] = []
    for part in parts:
        if isinstance(part, str):
            getters.append(_literal(part))
        elif part[0] == "time_local":
            getters.append(lambda event: local(event["time"]))
        elif part[0] == "time_iso8601":
            getters.append(lambda event: isoTime(event["time"]))
        elif part[0] == "request":
            getters.append(lambda event: _value(requestLine(event)))
        else:
            getters.append(_field(part[0]))

    def formatted(event: dict[str, Any]) -> str:
        return "".join([get(event) for get in getters]) + "\n"

    return formatted


def formatterFor(format: str) -> Formatter:
    """
    The line writer of C{format}: C{"combined"}, C{"json"} or a format string.
    """
    if format == COMBINED:
        return combinedLine()
    if format == JSON:
        return jsonLine
    return formatLine(format)


BUFFER = 512
"""Lines held before they are written at once."""

FLUSH_INTERVAL = 0.1
"""Seconds a line may wait to be written with the others.  Writing once a
turn of the reactor instead cost a timer per turn: about 5% of requests/s
on the benchmark's small-response load."""


@mypyc_attr(native_class=False)
class _Output:
    """
    The file descriptor lines are written to; while it is a file's, in
    L{_files} (for L{reopenAccessLogs}).

    A Python class in the compiled build too: L{_files} refers to it
    weakly, which a compiled class does not allow.

    @ivar path: The file, or C{"-"} for standard output.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.pending: list[str] = []
        """Lines waiting to be written (by L{flush})."""
        self._failing = False
        self._fd = -1
        self._fd = 1 if path == "-" else self._open()
        if path != "-":
            _files.add(self)

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def flush(self) -> None:
        """
        Write the lines waiting.
        """
        pending = self.pending
        if pending:
            data = "".join(pending).encode("utf-8", "backslashreplace")
            pending.clear()
            self.write(data)

    def write(self, data: bytes) -> None:
        """
        Write all of C{data}; log (once until a write succeeds) when it
        cannot be written.
        """
        if self._fd < 0:
            return
        try:
            written = os.write(self._fd, data)
            while written < len(data):
                data = data[written:]
                written = os.write(self._fd, data)
        except OSError as e:
            if not self._failing:
                self._failing = True
                _log.error(
                    "cannot write the access log {path}: {problem}",
                    path=self.path,
                    problem=e.strerror,
                )
        else:
            self._failing = False

    def reopen(self) -> bool:
        """
        Open the file again by its name (a new file, after C{logrotate}
        renamed it), and close the old one; on failure keep the old one.

        @return: Whether it was reopened.
        """
        if self.path == "-" or self._fd < 0:
            return False
        try:
            fd = self._open()
        except OSError as e:
            _log.error(
                "cannot reopen the access log {path}: {problem}; still writing to the old file",
                path=self.path,
                problem=e.strerror,
            )
            return False
        old, self._fd = self._fd, fd
        os.close(old)
        return True

    def close(self) -> None:
        """
        Close the file.
        """
        self._closeFile()
        _files.discard(self)

    def _closeFile(self) -> None:
        if self.path != "-" and self._fd >= 0:
            os.close(self._fd)
        self._fd = -1

    def __del__(self) -> None:
        # A collected output has left the weak set already.
        self._closeFile()


_files: weakref.WeakSet[_Output] = weakref.WeakSet()
"""The file of every access log of the process with a file open."""


def reopenAccessLogs() -> int:
    """
    Reopen every open access log file of this process (after writing the
    lines waiting for it).

    @return: How many were reopened.
    """
    reopened = 0
    for output in list(_files):
        # Its waiting lines go to the file they were meant for.
        output.flush()
        reopened += output.reopen()
    return reopened


@mypyc_attr(allow_interpreted_subclasses=True)
class AccessLog:
    """
    Turns each request's record (L{Finished}) of the hooks it observes into a
    C{proxykit.access} event, and writes it as a line.

    @ivar path: Where lines go: a file name, C{"-"} (standard output) or
        C{None} (events only).
    @ivar format: C{"combined"}, C{"json"} or a format string.
    @ivar publish: See L{publish}.
    """

    _silent = False

    def __init__(
        self,
        path: str | None,
        format: str = COMBINED,
        trustedProxies: Iterable[str] = (),
        publisher: ILogObserver = globalLogPublisher,
        clock: Callable[[], float] = time.time,
        reactor: IReactorTime | None = None,
    ) -> None:
        """
        @param path: C{None}: publish the events only.
        @param trustedProxies: Networks (CIDR) whose C{X-Forwarded-For} names
            the real client (C{client_addr}).
        @param publisher: Where the events go.
        @param clock: The wall clock (the C{time} field).
        @param reactor: Writes the lines once a turn; C{None}: the global
            reactor.

        @raise OSError: The file cannot be opened for appending.
        @raise proxykit.config.checks.Problem: C{format} names an unknown
            field.
        """
        self.path = path
        self.format = format
        self._line = formatterFor(format)
        self._output = None if path is None else _Output(path)
        self._reactor = orGlobal(reactor)
        # The output's own list: what it writes when it is flushed, by
        # this log or by reopenAccessLogs.
        self._pending: list[str] = [] if self._output is None else self._output.pending
        self._flushing: IDelayedCall | None = None
        trusted = tuple(trustedProxies)
        self._trusted = AddressSet(trusted) if trusted else None
        self._publisher = publisher
        self._clock = clock
        self._local = _TimeText()
        self._publish = True
        self._plain = False
        self._byListener: dict[str, AccessLog | None] = {}
        self._tunnel: TunnelRecord | None = None
        self._client: ClientInfo | None = None
        self._clientFields: tuple[str | None, int | None, str | None, str] = (None, None, None, "")
        self._origin: Origin | None = None
        self._originText: str | None = None

    @classmethod
    def fromConfig(
        cls, config: ProxyConfig, reactor: IReactorTime | None = None
    ) -> AccessLog | None:
        """
        The access log C{config.log} asks for, or C{None} when it is off.

        @param reactor: C{None}: the global reactor.
        @raise OSError: The file cannot be opened for appending.
        """
        log = config.log
        if log.access is None and not log.listeners:
            return None
        trusted = config.reverse.trustedProxies
        root = cls(log.access, log.format, trusted, reactor=reactor)
        if log.access is None:
            # Only some listeners log: nothing is written or published for
            # the others.
            root._silent = True
        try:
            for entry in log.listeners:
                root._byListener[entry.listen] = (
                    None
                    if entry.access is None
                    else cls(entry.access, entry.format, trusted, reactor=reactor)
                )
        except BaseException:
            root.close()
            raise
        root._choosePath()
        return root

    @property
    def publish(self) -> bool:
        """
        Whether the events go to the publisher (the global one by default).
        C{twistd proxykit} clears it: no application there observes them,
        and without events a combined line is made straight from the
        record, at a fraction of the cost (see L{combined}).  Setting it
        sets the listeners' own logs' too.
        """
        return self._publish

    @publish.setter
    def publish(self, publish: bool) -> None:
        self._publish = publish
        for log in self._byListener.values():
            if log is not None:
                log.publish = publish
        self._choosePath()

    def _choosePath(self) -> None:
        """
        Note whether each record is only a combined line for this log's own
        file (what L{requestDone} then does without further questions).
        """
        self._plain = (
            not self._byListener
            and not self._silent
            and not self._publish
            and self._output is not None
            and self.format == COMBINED
        )

    def listenerLog(self, listener: str) -> AccessLog | None:
        """
        Where requests that came through C{listener} (its endpoint string)
        are logged: its own log, C{None} when its log is off, else this one.
        """
        return self._byListener.get(listener, self)

    def observe(self, hooks: Hooks) -> None:
        """
        Log every request C{hooks} sees end (once, however often called for
        the same hooks).
        """
        for hook in hooks.hooks("finished"):
            if getattr(hook, "__self__", None) is self:
                return
        hooks.onTunnelClose(self.tunnelClosed)
        hooks.onFinished(self.requestDone)

    def tunnelClosed(self, record: TunnelRecord) -> None:
        """
        Note a tunnel's record: its request's record follows at once.
        """
        if self._plain:
            # The combined line has nothing of it.
            return
        if self._byListener and (log := self.listenerLog(record.client.listener)) is not self:
            if log is not None:
                log.tunnelClosed(record)
            return
        self._tunnel = record

    def requestDone(self, record: Finished) -> None:
        """
        Publish C{record}'s event (if L{publish}) and write its line (in the
        log of the listener it came through, if that has its own).
        """
        if self._plain:
            # The hot path under twistd: the line, queued (L{_queue},
            # inlined).
            waiting = self._pending
            waiting.append(self.combined(record))
            if len(waiting) >= BUFFER:
                self.flush()
            elif self._flushing is None:
                self._flushing = self._reactor.callLater(FLUSH_INTERVAL, self._turned)
            return
        if self._byListener and (log := self.listenerLog(record.client.listener)) is not self:
            if log is not None:
                log.requestDone(record)
            return
        if self._silent:
            return
        tunnel, self._tunnel = self._tunnel, None
        if self._publish:
            event = self.event(record, tunnelRecord=tunnel)
            self._publisher(event)
            if self._output is not None:
                self._queue(self._line(event))
        elif self._output is not None:
            # Made now rather than when written: a record kept until then
            # (with its request) costs the garbage collector more than the
            # line costs to make.
            if self.format == COMBINED:
                self._queue(self.combined(record))
            else:
                self._queue(self._line(self.event(record, tunnelRecord=tunnel)))

    def _queue(self, line: str) -> None:
        """
        Write C{line} within L{FLUSH_INTERVAL} (at once when L{BUFFER} lines
        are waiting).
        """
        waiting = self._pending
        waiting.append(line)
        if len(waiting) >= BUFFER:
            self.flush()
        elif self._flushing is None:
            self._flushing = self._reactor.callLater(FLUSH_INTERVAL, self._turned)

    def _turned(self) -> None:
        self._flushing = None
        self.flush()

    def combined(self, record: Finished) -> str:
        """
        C{record}'s line in the Combined Log Format, made straight from the
        record: only the fields the format has (what L{requestDone} writes
        when no event is published).
        """
        if isinstance(record, Trace):
            # The proxy's own record: its fields are read without a lookup.
            return self._combined(record.request, record.client, record.status, record.bytesOut)
        return self._combined(record.request, record.client, record.status, record.bytesOut)

    def _combined(
        self, request: Request | None, clientInfo: ClientInfo, status: int, bytesOut: int
    ) -> str:
        # The hot path under twistd: few calls, nothing computed twice.
        client = clientInfo.peerHost or None
        sent = str(bytesOut) if bytesOut else "-"
        local = self._local
        second = int(self._clock())
        stamp = local._text if second == local._second else local.text(second)
        if request is None:
            return f'{client or "-"} - - [{stamp}] "-" {status} {sent} "-" "-"\n'
        agent = referer = "-"
        real = None
        trusted = self._trusted is not None and client is not None and client in self._trusted
        for name, value in request.headers:
            # Only names of the right length are compared.
            size = len(name)
            if size == 10:
                if name.lower() == b"user-agent":
                    agent = _quoted(value)
            elif size == 7:
                if name.lower() == b"referer":
                    referer = _quoted(value)
            elif size == 15 and trusted and name.lower() == b"x-forwarded-for":
                real = _lastForwardedFor([value]) or real
        # Methods and versions are tokens the parser knows: the target is
        # the field that may need escaping (and rarely does).
        text = _quoted(request.target)
        method = request.method
        if method == b"GET":
            methodText = "GET"
        else:
            methodText = _METHODS.get(method) or _quoted(method)
        version = request.version
        if version == b"1.1":
            protocol = "HTTP/1.1"
        else:
            protocol = _PROTOCOLS.get(version) or "HTTP/" + _quoted(version)
        return (
            f'{real or client or "-"} - - [{stamp}] "{methodText} {text} {protocol}" '
            f'{status} {sent} "{referer}" "{agent}"\n'
        )

    def _headerFields(
        self, request: Request, peerHost: str | None
    ) -> tuple[str | None, str | None, str | None]:
        """
        C{request}'s C{User-Agent} and C{Referer}, and the real client's
        address when C{peerHost} is a trusted proxy that sent
        C{X-Forwarded-For} (else C{None}).
        """
        agent = referer = None
        trusted = self._trusted is not None and peerHost is not None and peerHost in self._trusted
        forwarded: list[bytes] = []
        for name, value in request.headers:
            # Only names of the right length are compared.
            size = len(name)
            if size == 10:
                if name.lower() == b"user-agent":
                    agent = _text(value)
            elif size == 7:
                if name.lower() == b"referer":
                    referer = _text(value)
            elif size == 15 and trusted and name.lower() == b"x-forwarded-for":
                forwarded.append(value)
        return agent, referer, _lastForwardedFor(forwarded) if forwarded else None

    def flush(self) -> None:
        """
        Write the lines waiting for the end of L{FLUSH_INTERVAL} now.
        """
        if self._output is not None:
            self._output.flush()
        for log in self._byListener.values():
            if log is not None:
                log.flush()

    def reopen(self) -> bool:
        """
        Reopen the file (see L{reopenAccessLogs}).

        @return: Whether a file was reopened.
        """
        if self._output is None:
            return False
        self.flush()
        return self._output.reopen()

    def close(self) -> None:
        """
        Close the file; later requests are still published as events.
        """
        if self._output is not None:
            self.flush()
            if self._flushing is not None:
                if self._flushing.active():
                    self._flushing.cancel()
                self._flushing = None
            self._output.close()
            self._output = None
            self._plain = False
        for log in self._byListener.values():
            if log is not None:
                log.close()

    def event(
        self,
        record: Finished,
        tunnelRecord: TunnelRecord | None = None,
    ) -> dict[str, Any]:
        """
        The C{proxykit.access} event of C{record} (fields: see
        L{proxykit.config.logformat.EVENT_FIELDS} and the operations guide).

        @param tunnelRecord: The record of the tunnel C{record}'s request became,
            if it became one.
        """
        request = record.request
        client = record.client
        if client is not self._client:
            self._client = client
            self._clientFields = _clientFields(client)
        peerHost, peerPort, listener, scheme = self._clientFields
        clientHost = peerHost
        clientPort = peerPort
        referer = agent = method = target = protocol = mode = vhost = None
        if request is not None:
            method = _METHODS.get(request.method) or _text(request.method)
            target = _text(request.target)
            protocol = _PROTOCOLS.get(request.version) or "HTTP/" + _text(request.version)
            if request.form in PROXY_FORMS:
                mode = "forward"
            else:
                mode = "reverse"
                host = request.host
                if host is not None:
                    vhost = _hostName(host)
                else:
                    vhost = client.serverName
            agent, referer, real = self._headerFields(request, peerHost)
            if real is not None:
                clientHost, clientPort = real, None
        origin = record.origin
        if origin is None:
            originText = None
        elif origin is self._origin:
            originText = self._originText
        else:
            originText = self._originText = originAddress(origin)
            self._origin = origin
        outcome = record.outcome
        tunnel = tunnelTime = None
        if outcome is Outcome.TUNNELED or outcome is Outcome.SWITCHED:
            tunnel = "connect" if outcome is Outcome.TUNNELED else "upgrade"
            closed = tunnelRecord
            if closed is not None and closed.request is request:
                tunnelTime = closed.duration
        now = self._clock()
        return {
            "log_logger": _accessLogger,
            "log_level": _INFO,
            "log_namespace": NAMESPACE,
            "log_source": None,
            "log_format": None,
            "log_time": now,
            "time": now,
            "request_id": record.requestId,
            "client_addr": clientHost,
            "client_port": clientPort,
            "peer_addr": peerHost,
            "peer_port": peerPort,
            "listener": listener,
            "scheme": scheme,
            "server_name": client.serverName,
            "mode": mode,
            "vhost": vhost,
            "route": record.route,
            "method": method,
            "target": target,
            "protocol": protocol,
            "status": record.status,
            "outcome": outcome.value,
            "reason": record.reason,
            "bytes_received": record.bytesIn,
            "bytes_sent": record.bytesOut,
            "origin_addr": originText,
            "origin_connect_time": record.connectTime,
            "origin_reused": record.reused,
            "attempts": record.attempts,
            "first_byte_time": record.firstByte,
            "request_time": record.duration,
            "tunnel": tunnel,
            "tunnel_time": tunnelTime,
            "http_referer": referer,
            "http_user_agent": agent,
        }
