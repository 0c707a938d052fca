"""
Tests for L{proxykit.ops.accesslog} and the access log's names
(L{proxykit.config.logformat}): requests made through a proxy on Twisted's
in-memory fakes become C{proxykit.access} events and lines.
"""

from __future__ import annotations

import io
import json
import os
import signal
import time
from typing import Any

import attrs
from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import (
    LogEvent,
    LogLevel,
    globalLogPublisher,
    textFileLogObserver,
)
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from proxykit import ForwardConfig, ProxyConfig, forwardProxy
from proxykit.config import ConfigError
from proxykit.config.checks import Problem
from proxykit.config.logformat import EVENT_FIELDS, parseFormat
from proxykit.config.values import ListenerLog, LogConfig
from proxykit.decisions import Origin
from proxykit.ops.accesslog import (
    BUFFER,
    FLUSH_INTERVAL,
    NAMESPACE,
    AccessLog,
    _quoted,
    escape,
    isoTime,
    originAddress,
    reopenAccessLogs,
)
from proxykit.relay.hooks import Hooks
from proxykit.service import ProxyService, forwardService
from proxykit.tap import Options, makeService

from ._harness import FIRST_ID, GET, OK, Harness, lose
from .test_reverse import reverse
from .test_service import loopback

WHEN = 1_700_000_000.25
"""The wall-clock time of every logged request: 2023-11-14T22:13:20.250Z."""


def utc(case: SynchronousTestCase) -> None:
    """
    Run C{case} in UTC, so that local times are known.
    """
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()

    def restore() -> None:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()

    case.addCleanup(restore)


class Logged:
    """
    An access log on a harness's proxy: its events and the lines of its file.
    """

    def __init__(
        self, case: SynchronousTestCase, h: Harness, format: str = "combined", **kwargs: Any
    ) -> None:
        self.path = case.mktemp()
        self.events: list[LogEvent] = []
        self.reactor = h.reactor
        self.log = AccessLog(
            self.path,
            format,
            publisher=self.events.append,
            clock=lambda: WHEN,
            reactor=h.reactor,
            **kwargs,
        )
        case.addCleanup(self.log.close)
        self.log.observe(h.factory.hooks)

    def lines(self) -> list[str]:
        """
        The lines written once the reactor has turned.
        """
        self.reactor.advance(FLUSH_INTERVAL)
        with open(self.path) as f:
            return f.read().splitlines()


def get(h: Harness, request: bytes = GET, response: bytes = OK) -> None:
    """
    C{request} through the harness's proxy, answered with C{response}.
    """
    h.send(request)
    origin, _ = h.acceptOrigin() if not h.origins else h.origins[-1]
    h.reactor.advance(0.25)
    origin.dataReceived(response)


class EventTests(SynchronousTestCase):
    """
    Each request, however it ended, is one C{proxykit.access} event with the
    documented fields.
    """

    def test_forward(self) -> None:
        """
        A forward-proxy request's event: client, listener, mode, request,
        status, bytes, origin and times.
        """
        h = Harness()
        logged = Logged(self, h)
        h.send(
            b"POST http://127.0.0.1:9000/a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"
            b"User-Agent: curl/8\r\nContent-Length: 3\r\n\r\nabc"
        )
        h.reactor.advance(0.5)
        origin, _ = h.acceptOrigin()
        h.reactor.advance(0.25)
        origin.dataReceived(OK)
        [event] = logged.events
        self.assertEqual(event["log_namespace"], NAMESPACE)
        self.assertEqual(event["log_level"], LogLevel.info)
        self.assertEqual(
            {name: event[name] for name in EVENT_FIELDS},
            {
                "time": WHEN,
                "request_id": FIRST_ID.decode(),
                "client_addr": "127.0.0.1",
                "client_port": 50000,
                "peer_addr": "127.0.0.1",
                "peer_port": 50000,
                "listener": "127.0.0.1:8080",
                "scheme": "http",
                "server_name": None,
                "mode": "forward",
                "vhost": None,
                "route": None,
                "method": "POST",
                "target": "http://127.0.0.1:9000/a?b=1",
                "protocol": "HTTP/1.1",
                "status": 200,
                "outcome": "responded",
                "reason": None,
                "bytes_received": 3,
                "bytes_sent": 5,
                "origin_addr": "127.0.0.1:9000",
                "origin_connect_time": 0.5,
                "origin_reused": False,
                "attempts": 1,
                "first_byte_time": 0.75,
                "request_time": 0.75,
                "tunnel": None,
                "tunnel_time": None,
                "http_referer": None,
                "http_user_agent": "curl/8",
            },
        )

    def test_reverse(self) -> None:
        """
        A reverse-proxy request names its virtual host (without the port)
        and its route.
        """
        h = reverse(9001)
        logged = Logged(self, h)
        get(h, b"GET /page HTTP/1.1\r\nHost: App.example.test:8000\r\n\r\n")
        [event] = logged.events
        self.assertEqual(
            (event["mode"], event["vhost"], event["route"], event["target"], event["origin_addr"]),
            ("reverse", "app.example.test", "/", "/page", "127.0.0.1:9001"),
        )

    def test_unknownHost(self) -> None:
        """
        A request the proxy answers itself (421 for an unknown host) has the
        reason and no origin.
        """
        h = reverse(9001)
        logged = Logged(self, h)
        h.send(b"GET / HTTP/1.1\r\nHost: other.example.test\r\n\r\n")
        [event] = logged.events
        self.assertEqual(
            (event["status"], event["outcome"], event["origin_addr"]),
            (421, "refused", None),
        )
        self.assertTrue(event["reason"])

    def test_originFailed(self) -> None:
        """
        A 502 has the reason the origin failed.
        """
        h = Harness()
        logged = Logged(self, h)
        h.send(GET)
        h.refuseOrigin()
        [event] = logged.events
        self.assertEqual((event["status"], event["outcome"]), (502, "failed"))
        self.assertIn("refused", event["reason"])
        self.assertEqual(event["origin_connect_time"], None)

    def test_badRequest(self) -> None:
        """
        A request that cannot be parsed has no method, target or mode; its
        line shows C{"-"} for the request.
        """
        utc(self)
        h = Harness()
        logged = Logged(self, h)
        h.send(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")
        [event] = logged.events
        self.assertEqual((event["method"], event["mode"], event["status"]), (None, None, 400))
        self.assertEqual(
            logged.lines(), ['127.0.0.1 - - [14/Nov/2023:22:13:20 +0000] "-" 400 - "-" "-"']
        )

    def test_connect(self) -> None:
        """
        A CONNECT tunnel is one event when it closes: its duration and the
        bytes each way.
        """
        h = Harness(ProxyConfig(forward=ForwardConfig(connectPorts=frozenset({9000}))))
        logged = Logged(self, h)
        h.send(b"CONNECT 127.0.0.1:9000 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n\r\n")
        origin, _ = h.acceptOrigin()
        h.send(b"12345")
        origin.dataReceived(b"abc")
        h.reactor.advance(3)
        self.assertEqual(logged.events, [])
        origin.readConnectionLost()
        h.client.readConnectionLost()
        [event] = logged.events
        self.assertEqual(
            (
                event["mode"],
                event["tunnel"],
                event["tunnel_time"],
                event["bytes_received"],
                event["bytes_sent"],
                event["status"],
                event["outcome"],
            ),
            ("forward", "connect", 3.0, 5, 3, 200, "tunneled"),
        )

    def test_upgrade(self) -> None:
        """
        A protocol switch is one event when its tunnel closes, with why it
        closed.
        """
        h = Harness()
        logged = Logged(self, h)
        h.send(
            b"GET http://127.0.0.1:9000/ws HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"
            b"Connection: upgrade\r\nUpgrade: websocket\r\n\r\n"
        )
        origin, _ = h.acceptOrigin()
        origin.dataReceived(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\nhi"
        )
        h.reactor.advance(2)
        lose(h.client)
        [event] = logged.events
        self.assertEqual(
            (event["tunnel"], event["tunnel_time"], event["status"], event["reason"]),
            ("upgrade", 2.0, 101, "connection lost"),
        )

    def test_trustedForwardedFor(self) -> None:
        """
        From a trusted proxy, the real client is the last address of
        C{X-Forwarded-For} (its port unknown); the peer stays the proxy.
        """
        h = Harness()
        logged = Logged(self, h, trustedProxies=("127.0.0.0/8",))
        get(
            h,
            b"GET http://127.0.0.1:9000/ HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"
            b"X-Forwarded-For: 6.6.6.6, 192.0.2.7\r\n\r\n",
        )
        [event] = logged.events
        self.assertEqual(
            (event["client_addr"], event["client_port"], event["peer_addr"]),
            ("192.0.2.7", None, "127.0.0.1"),
        )

    def test_forwardedForNotAnAddress(self) -> None:
        """
        A trusted proxy's C{X-Forwarded-For} that does not end with an IP
        address is not taken for the client.
        """
        for publish in (True, False):
            h = Harness()
            logged = Logged(self, h, trustedProxies=("127.0.0.0/8",))
            logged.log.publish = publish
            get(
                h,
                b"GET http://127.0.0.1:9000/ HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"
                b'X-Forwarded-For: 192.0.2.7, "x y"\r\n\r\n',
            )
            [line] = logged.lines()
            self.assertTrue(line.startswith("127.0.0.1 - - "), line)

    def test_untrustedForwardedFor(self) -> None:
        """
        From anyone else, C{X-Forwarded-For} is ignored.
        """
        h = Harness()
        logged = Logged(self, h, trustedProxies=("10.0.0.0/8",))
        get(
            h,
            b"GET http://127.0.0.1:9000/ HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"
            b"X-Forwarded-For: 192.0.2.7\r\n\r\n",
        )
        [event] = logged.events
        self.assertEqual((event["client_addr"], event["client_port"]), ("127.0.0.1", 50000))

    def test_originAddress(self) -> None:
        """
        Origins are named C{host:port}, IPv6 in brackets, or C{unix:PATH}.
        """
        self.assertEqual(originAddress(Origin("http", "::1", 80)), "[::1]:80")
        self.assertEqual(originAddress(Origin("https", "a.test", 443)), "a.test:443")
        self.assertEqual(originAddress(Origin("unix", "/run/app.sock", 0)), "unix:/run/app.sock")

    def test_observeOnce(self) -> None:
        """
        Observing the same hooks twice still writes one line a request.
        """
        h = Harness()
        logged = Logged(self, h)
        logged.log.observe(h.factory.hooks)
        get(h)
        self.assertEqual(len(logged.events), 1)
        self.assertEqual(len(logged.lines()), 1)

    def test_offCostsNothing(self) -> None:
        """
        Without an access log the relay keeps no record at all.
        """
        h = Harness()
        h.send(GET)
        self.assertIsNone(h.client._trace)


class FormatTests(SynchronousTestCase):
    """
    The lines: Combined Log Format, JSON lines, and format strings with
    named fields.
    """

    def setUp(self) -> None:
        utc(self)

    def request(self, format: str) -> list[str]:
        h = Harness()
        logged = Logged(self, h, format)
        get(
            h,
            b'GET http://127.0.0.1:9000/a HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n'
            b'Referer: http://x.test/\r\nUser-Agent: say "hi"\\\r\n\r\n',
        )
        return logged.lines()

    def test_combined(self) -> None:
        """
        The default is the Combined Log Format; quotes, backslashes and
        bytes beyond ASCII in quoted fields are escaped as C{\\xHH}.
        """
        self.assertEqual(
            self.request("combined"),
            [
                '127.0.0.1 - - [14/Nov/2023:22:13:20 +0000] "GET http://127.0.0.1:9000/a HTTP/1.1"'
                ' 200 5 "http://x.test/" "say \\x22hi\\x22\\x5C"'
            ],
        )

    def test_combinedFromRecord(self) -> None:
        """
        Without events (under C{twistd}), the combined line is made straight
        from the record, and is the same line.
        """
        cases = [
            (GET, OK),
            (b'GET http://127.0.0.1:9000/"q" HTTP/1.0\r\nHost: 127.0.0.1:9000\r\n'
             b"Referer: r\xe9f\r\nX-Forwarded-For: 192.0.2.9\r\nuser-agent: ua\r\n\r\n",
             b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ]  # fmt: skip
        for publish in (True, False):
            h = Harness()
            logged = Logged(self, h, trustedProxies=("127.0.0.0/8",))
            logged.log.publish = publish
            for request, response in cases:
                get(h, request, response)
            client, _ = h.connectClient()
            client.dataReceived(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")
            lines = logged.lines()
            self.assertEqual(len(logged.events), 3 if publish else 0, lines)
            if publish:
                published = lines
            else:
                self.assertEqual(lines, published)
        self.assertEqual(
            published[1],
            '192.0.2.9 - - [14/Nov/2023:22:13:20 +0000] "GET http://127.0.0.1:9000/\\x22q\\x22'
            ' HTTP/1.0" 200 - "r\\xE9f" "ua"',
        )

    def test_combinedTargetEscaped(self) -> None:
        """
        Made straight from the record, a target with anything the quoted
        field cannot hold as it is (C{"}, C{\\}, a space, control
        characters, bytes beyond ASCII: a hook's or an application's
        request may have them) is escaped as the published line escapes it.
        """
        utc(self)
        path = self.mktemp()
        log = AccessLog(path, clock=lambda: WHEN)
        self.addCleanup(log.close)
        log.publish = False
        for target in ("/plain?a=b&c=%20", '/q"\\', "/a b", "/\x01\n", "/\xe9"):
            log.requestDone(record(target))
        log.flush()
        with open(path, encoding="utf-8") as f:
            targets = [line.split(" ")[6:-5] for line in f.read().splitlines()]
        self.assertEqual(
            targets,
            [
                ["/plain?a=b&c=%20"],
                ["/q\\x22\\x5C"],
                ["/a", "b"],
                ["/\\x01\\x0A"],
                ["/\\xC3\\xA9"],
            ],
        )

    def test_json(self) -> None:
        """
        A JSON line has every field, in the documented order.
        """
        [line] = self.request("json")
        fields = json.loads(line)
        self.assertEqual(list(fields), list(EVENT_FIELDS))
        self.assertEqual(
            (fields["status"], fields["bytes_sent"], fields["http_user_agent"], fields["time"]),
            (200, 5, 'say "hi"\\', WHEN),
        )

    def test_formatString(self) -> None:
        """
        A format string names fields as C{$name} or C{${name}}; C{$$} is a
        dollar sign; a missing value is C{-}; seconds to the millisecond.
        """
        self.assertEqual(
            self.request(
                "$client_addr:$client_port [$time_iso8601] $request ${status}/$outcome"
                " $$$bytes_sent $request_time $route $origin_reused $time_local"
            ),
            [
                "127.0.0.1:50000 [2023-11-14T22:13:20.250+00:00] GET http://127.0.0.1:9000/a HTTP/1.1"
                " 200/responded $5 0.250 - false 14/Nov/2023:22:13:20 +0000"
            ],
        )

    def test_parse(self) -> None:
        """
        L{parseFormat} splits literal text from field names.
        """
        self.assertEqual(
            parseFormat("$status ${bytes_sent}B $$x"), [("status",), " ", ("bytes_sent",), "B $x"]
        )

    def test_parseRefuses(self) -> None:
        """
        An unknown field, a C{$} naming nothing, or text without any field
        is refused, in words.
        """
        for text, words in [
            ("$client_addr $nope", "unknown field $nope"),
            ("a $", "names no field"),
            ("${status", "names no field"),
            ("no fields $$", "format string with $fields"),
        ]:
            with self.assertRaises(Problem) as caught:
                parseFormat(text)
            self.assertIn(words, str(caught.exception))

    def test_escape(self) -> None:
        """
        Text without anything to escape is returned as is.
        """
        text = "GET /a HTTP/1.1"
        self.assertIs(escape(text), text)
        self.assertEqual(escape("a\x1bb\xe9"), "a\\x1Bb\\xE9")

    def test_quotedEveryByte(self) -> None:
        """
        The combined line's quoting of a request's bytes (its target, its
        C{User-Agent} and C{Referer}) is L{escape}'s, byte for byte: every
        byte value, alone and among plain text.
        """
        for byte in range(256):
            for value in (bytes([byte]), b"/a" + bytes([byte]) + b"b"):
                self.assertEqual(_quoted(value), escape(value.decode("latin-1")), value)

    def test_isoTime(self) -> None:
        self.assertEqual(isoTime(WHEN), "2023-11-14T22:13:20.250+00:00")


class ConfigTests(SynchronousTestCase):
    """
    The C{[log]} table and the command line options.
    """

    def test_file(self) -> None:
        """
        C{[log]} has C{access} and C{format}; C{"off"} is no access log.
        """
        config = ProxyConfig.fromMapping({"log": {"access": "/tmp/x.log", "format": "json"}})
        self.assertEqual(config.log, LogConfig("/tmp/x.log", "json"))
        self.assertEqual(ProxyConfig().log, LogConfig(None, "combined"))
        self.assertIsNone(ProxyConfig.fromMapping({"log": {"access": "off"}}).log.access)

    def test_fileErrors(self) -> None:
        """
        A bad format or destination, or an unknown key, is named with file,
        line and key.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write('[log]\naccess = ""\nformat = "$client_addr $nope"\nrotate = true\n')
        with self.assertRaises(ConfigError) as caught:
            ProxyConfig.fromFile(path)
        lines = str(caught.exception).splitlines()
        self.assertEqual(len(lines), 3)
        self.assertTrue(lines[0].startswith(f"{path}:4: log.rotate: unknown key"), lines)
        self.assertTrue(lines[1].startswith(f"{path}:2: log.access: expected a file name"), lines)
        self.assertTrue(lines[2].startswith(f"{path}:3: log.format: unknown field $nope"), lines)

    def test_values(self) -> None:
        """
        L{LogConfig} built in Python checks its values as the file does.
        """
        with self.assertRaises(ConfigError) as caught:
            LogConfig(format="$nope")
        self.assertIn("LogConfig: format: unknown field $nope", str(caught.exception))

    def options(self, *argv: str) -> ProxyConfig:
        options = Options()
        options.parseOptions(list(argv))
        config: ProxyConfig = options.subOptions["proxyConfig"]
        return config

    def test_commandLine(self) -> None:
        """
        C{--access-log} and C{--access-log-format}, in both modes, override
        the file.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write('[log]\naccess = "/tmp/file.log"\nformat = "json"\n')
        self.assertEqual(
            self.options("forward", "--config", path, "--access-log", "-").log,
            LogConfig("-", "json"),
        )
        self.assertEqual(
            self.options(
                "reverse", "--route", "a.test=http://127.0.0.1:1",
                "--access-log", "x.log", "--access-log-format", "$status",
            ).log,
            LogConfig("x.log", "$status"),
        )
        self.assertEqual(self.options("forward", "--config", path).log, LogConfig("/tmp/file.log", "json"))
        self.assertIsNone(self.options("forward", "--config", path, "--access-log", "off").log.access)

    def test_commandLineError(self) -> None:
        """
        A bad format on the command line is a usage error naming the flag.
        """
        with self.assertRaises(usage.UsageError) as caught:
            self.options("forward", "--access-log-format", "$nope")
        self.assertTrue(str(caught.exception).startswith("--access-log-format: unknown field $nope"))

    def test_twistdWritesLinesOnly(self) -> None:
        """
        Under C{twistd}, the access log writes its lines without publishing
        events (no application observes them there).
        """
        options = Options()
        options.parseOptions(
            ["forward", "--listen", loopback(0), "--access-log", self.mktemp()]
        )
        from twisted.internet.testing import MemoryReactorClock

        service = makeService(options, MemoryReactorClock())
        assert isinstance(service, ProxyService)
        log = service.accessLog
        assert log is not None
        self.addCleanup(log.close)
        self.assertFalse(log.publish)
        self.assertTrue(AccessLog(None).publish)

    def test_cannotOpen(self) -> None:
        """
        Under C{twistd}, an access log that cannot be opened stops the start
        with one line naming it: the option that gave it, or the file, line
        and key that did.
        """
        from twisted.internet.testing import MemoryReactorClock

        path = os.path.join(os.path.abspath(self.mktemp()), "missing", "access.log")
        directory = os.path.dirname(path)
        config = self.mktemp()
        with open(config, "w") as f:
            f.write(f'listen = ["{loopback(0)}"]\n\n[log]\nformat = "json"\naccess = "{path}"\n')
        for argv, expected in (
            (["--access-log", path], f"--access-log: {path}: no directory {directory}"),
            (["--config", config], f"{config}:5: log.access: {path}: no directory {directory}"),
        ):
            options = Options()
            options.parent = object()
            options.parseOptions(["forward", "--listen", loopback(0), *argv])
            with self.assertRaises(SystemExit) as caught:
                makeService(options, MemoryReactorClock())
            self.assertEqual(
                str(caught.exception), f"proxykit: cannot open the access log: {expected}"
            )

    def test_library(self) -> None:
        """
        L{forwardProxy} with C{log.access} set writes the same access log
        as C{twistd} (the one builder).
        """
        path = self.mktemp()
        config = ProxyConfig(log=LogConfig(path, "$method $status"))
        hooks = Hooks()
        gate = forwardProxy(config, hooks=hooks)
        self.addCleanup(reopenAccessLogs)
        self.assertIs(gate.factory.hooks, hooks)
        logs = [hook.__self__ for hook in hooks.hooks("finished")]  # type: ignore[attr-defined]
        self.assertEqual([(log.path, log.format) for log in logs], [(path, "$method $status")])
        for log in logs:
            self.addCleanup(log.close)


class OutputTests(SynchronousTestCase):
    """
    Where the lines go, and where they do not.
    """

    def test_notInMainLog(self) -> None:
        """
        The events reach every observer of the global publisher (an
        embedding application filters the namespace), but a text log such
        as C{twistd}'s skips them: each line is in the access log only.
        """
        h = Harness()
        path = self.mktemp()
        log = AccessLog(path, reactor=h.reactor)
        self.addCleanup(log.close)
        log.observe(h.factory.hooks)
        main = io.StringIO()
        observer = textFileLogObserver(main)
        events: list[LogEvent] = []

        def application(event: LogEvent) -> None:
            if event.get("log_namespace") == NAMESPACE:
                events.append(event)

        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        globalLogPublisher.addObserver(application)
        self.addCleanup(globalLogPublisher.removeObserver, application)
        get(h)
        h.reactor.advance(FLUSH_INTERVAL)
        self.assertEqual([e["target"] for e in events], ["http://127.0.0.1:9000/a"])
        self.assertNotIn("9000/a", main.getvalue())
        with open(path) as f:
            self.assertIn('"GET http://127.0.0.1:9000/a HTTP/1.1" 200 5', f.read())

    def test_oneWriteAnInterval(self) -> None:
        """
        The lines of the requests that end within L{FLUSH_INTERVAL} are
        written together at its end; at L{BUFFER} lines at once.
        """
        from twisted.internet.testing import MemoryReactorClock

        reactor = MemoryReactorClock()
        path = self.mktemp()
        log = AccessLog(path, "$target", reactor=reactor)
        self.addCleanup(log.close)
        log.requestDone(record("http://a.test/1"))
        log.requestDone(record("http://a.test/2"))
        self.assertEqual(os.path.getsize(path), 0)
        self.assertEqual(len(reactor.getDelayedCalls()), 1)
        reactor.advance(FLUSH_INTERVAL / 2)
        log.requestDone(record("http://a.test/3"))
        self.assertEqual(os.path.getsize(path), 0)
        reactor.advance(FLUSH_INTERVAL / 2)
        with open(path) as f:
            self.assertEqual(f.read(), "http://a.test/1\nhttp://a.test/2\nhttp://a.test/3\n")
        for index in range(BUFFER - 1):
            log.requestDone(record(f"http://a.test/{index}"))
        self.assertEqual(os.path.getsize(path), 48)
        log.requestDone(record("http://a.test/last"))
        with open(path) as f:
            self.assertEqual(len(f.read().splitlines()), 3 + BUFFER)

    def test_stdout(self) -> None:
        """
        C{"-"} writes to file descriptor 1 (not through C{sys.stdout}, which
        C{twistd} turns into log events).
        """
        read, write = os.pipe()
        saved = os.dup(1)
        self.addCleanup(os.close, saved)
        self.addCleanup(os.close, read)
        os.dup2(write, 1)
        os.close(write)
        try:
            h = Harness()
            log = AccessLog("-", "$status $bytes_sent", reactor=h.reactor)
            log.observe(h.factory.hooks)
            get(h)
            log.close()
        finally:
            os.dup2(saved, 1)
        self.assertEqual(os.read(read, 1000), b"200 5\n")

    def test_reopenOnUserSignal(self) -> None:
        """
        Under C{twistd}, after C{logrotate} renamed the file, C{SIGUSR1}
        (handled in the reactor's loop) opens a new file by the name; the
        old one got the lines before.  Stopping closes the file and puts
        the previous handler back.
        """
        from twisted.internet.testing import MemoryReactorClock

        before = signal.getsignal(signal.SIGUSR1)
        self.addCleanup(signal.signal, signal.SIGUSR1, before)
        path = os.path.abspath(self.mktemp())
        reactor = MemoryReactorClock()
        calls: list[Any] = []
        reactor.callFromThread = lambda f, *a: calls.append(f)  # type: ignore[method-assign]
        config = ProxyConfig(listen=(loopback(1),), log=LogConfig(path, "$target"))
        service = forwardService(config, reactor)
        service.reloadOnHangup = True
        service.startService()
        log = service.accessLog
        assert log is not None
        log.requestDone(record("http://a.test/1"))
        os.rename(path, path + ".1")
        log.requestDone(record("http://a.test/2"))
        handler = signal.getsignal(signal.SIGUSR1)
        handler(signal.SIGUSR1, None)  # type: ignore[operator, misc]
        self.assertEqual(calls, [service.reopenLogs])
        calls[0]()
        log.requestDone(record("http://a.test/3"))
        reactor.advance(FLUSH_INTERVAL)
        with open(path + ".1") as f:
            self.assertEqual(f.read(), "http://a.test/1\nhttp://a.test/2\n")
        with open(path) as f:
            self.assertEqual(f.read(), "http://a.test/3\n")
        self.successResultOf(service.stopService())
        self.assertEqual(signal.getsignal(signal.SIGUSR1), before)
        self.assertFalse(log.reopen())

    def test_userSignalChained(self) -> None:
        """
        C{twistd --logfile} rotates its own log on C{SIGUSR1} with a
        handler installed before the service starts: C{SIGUSR1} still
        calls it, as well as reopening the access log.
        """
        from twisted.internet.testing import MemoryReactorClock

        before = signal.getsignal(signal.SIGUSR1)
        self.addCleanup(signal.signal, signal.SIGUSR1, before)
        rotated: list[int] = []
        twistdRotate = lambda signum, frame: rotated.append(signum)  # noqa: E731
        signal.signal(signal.SIGUSR1, twistdRotate)
        reactor = MemoryReactorClock()
        calls: list[Any] = []
        reactor.callFromThread = lambda f, *a: calls.append(f)  # type: ignore[method-assign]
        path = os.path.abspath(self.mktemp())
        config = ProxyConfig(listen=(loopback(1),), log=LogConfig(path, "$target"))
        service = forwardService(config, reactor)
        service.reloadOnHangup = True
        service.startService()
        handler = signal.getsignal(signal.SIGUSR1)
        self.assertIsNot(handler, twistdRotate)
        handler(signal.SIGUSR1, None)  # type: ignore[operator, misc]
        self.assertEqual((calls, rotated), ([service.reopenLogs], [signal.SIGUSR1]))
        self.successResultOf(service.stopService())
        self.assertIs(signal.getsignal(signal.SIGUSR1), twistdRotate)

    def test_reopenOnReload(self) -> None:
        """
        The service's reload (C{SIGHUP}) reopens the file too.
        """
        path = os.path.abspath(self.mktemp())
        from twisted.internet.testing import MemoryReactorClock

        config = ProxyConfig(listen=(loopback(1),), log=LogConfig(path, "$target"))
        reactor = MemoryReactorClock()
        service = forwardService(config, reactor)
        log = service.accessLog
        assert log is not None
        self.addCleanup(log.close)
        os.rename(path, path + ".1")
        service.reload()
        log.requestDone(record("http://a.test/1"))
        reactor.advance(FLUSH_INTERVAL)
        with open(path) as f:
            self.assertEqual(f.read(), "http://a.test/1\n")

    def test_reopenFails(self) -> None:
        """
        When the name cannot be opened again, the old file is kept and the
        problem logged.
        """
        directory = os.path.abspath(self.mktemp())
        os.mkdir(directory)
        path = os.path.join(directory, "access.log")
        from twisted.internet.testing import MemoryReactorClock

        reactor = MemoryReactorClock()
        log = AccessLog(path, "$target", reactor=reactor)
        self.addCleanup(log.close)
        events: list[LogEvent] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        os.rename(directory, directory + ".gone")
        self.assertFalse(log.reopen())
        log.requestDone(record("http://a.test/1"))
        reactor.advance(FLUSH_INTERVAL)
        with open(os.path.join(directory + ".gone", "access.log")) as f:
            self.assertEqual(f.read(), "http://a.test/1\n")
        [error] = [e for e in events if "cannot reopen" in (e.get("log_format") or "")]
        self.assertEqual(error["path"], path)


def record(target: str) -> Any:
    """
    A finished forward-proxy request for C{target}.
    """
    from proxykit.decisions import ClientInfo
    from proxykit.h1 import Request
    from proxykit.relay.hooks import Outcome, RequestRecord

    request = Request(b"GET", target.encode(), b"1.1", [], 0, 0, True, frozenset(), None, False, False)
    return RequestRecord(
        request,
        ClientInfo("127.0.0.1", "127.0.0.1", 8080, peerPort=1234),
        Outcome.RESPONDED,
        200,
        None,
        None,
        None,
        0.0,
        0.001,
        0.001,
        0,
        0,
        1,
    )



class ListenerLogTests(SynchronousTestCase):
    """
    A listener may have its own access log (C{[[log.listener]]}): requests
    that came through it (L{ClientInfo.listener}) are written there instead
    of in the global log.
    """

    A = "tcp:18080:interface=127.0.0.1"
    B = "tcp:18081:interface=127.0.0.1"

    def write(self, text: str) -> str:
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_file(self) -> None:
        """
        Each C{[[log.listener]]} table names a listener of the file, with
        its own destination and format.
        """
        path = self.write(
            f'listen = ["{self.A}", "{self.B}"]\n'
            '[log]\naccess = "/tmp/all.log"\n'
            f'[[log.listener]]\nlisten = "{self.B}"\naccess = "/tmp/b.log"\nformat = "json"\n'
            f'[[log.listener]]\nlisten = "{self.A}"\naccess = "off"\n'
        )
        log = ProxyConfig.fromFile(path).log
        self.assertEqual(
            log.listeners,
            (ListenerLog(self.B, "/tmp/b.log", "json"), ListenerLog(self.A, None)),
        )
        self.assertEqual(log.forListener(self.B), ListenerLog(self.B, "/tmp/b.log", "json"))
        self.assertIsNone(log.forListener("tcp:1"))

    def test_fileErrors(self) -> None:
        """
        A table naming no listener of the file, naming one twice, or
        without C{listen}, is an error naming file, line and key.
        """
        path = self.write(
            f'listen = ["{self.A}"]\n'
            f'[[log.listener]]\nlisten = "{self.B}"\n'
            f'[[log.listener]]\nlisten = "{self.A}"\n'
            f'[[log.listener]]\nlisten = "{self.A}"\n'
            '[[log.listener]]\naccess = "-"\n'
        )
        with self.assertRaises(ConfigError) as caught:
            ProxyConfig.fromFile(path)
        lines = str(caught.exception).splitlines()
        self.assertEqual(len(lines), 3, lines)
        self.assertTrue(lines[0].startswith(f"{path}:3: log.listener[0].listen: "), lines)
        self.assertIn("is not one of the listeners", lines[0])
        self.assertTrue(lines[1].startswith(f"{path}:7: log.listener[2].listen: "), lines)
        self.assertIn("has a log already", lines[1])
        self.assertIn("log.listener[3]: missing 'listen'", lines[2])

    def test_values(self) -> None:
        """
        L{LogConfig} built in Python refuses two logs for one listener.
        """
        with self.assertRaises(ConfigError) as caught:
            LogConfig(listeners=(ListenerLog(self.A), ListenerLog(self.A)))
        self.assertIn("has two logs", str(caught.exception))

    def test_routed(self) -> None:
        """
        Records go to their listener's own log, to none when its log is
        off, and to the global log otherwise.
        """
        utc(self)
        everyone, own = self.mktemp(), self.mktemp()
        config = ProxyConfig(
            listen=(self.A, self.B, "tcp:18082"),
            log=LogConfig(
                everyone,
                listeners=(ListenerLog(self.B, own, "$target"), ListenerLog("tcp:18082")),
            ),
        )
        log = AccessLog.fromConfig(config)
        assert log is not None
        self.addCleanup(log.close)
        log.publish = False
        for listener, target in ((self.A, "/a"), (self.B, "/b"), ("tcp:18082", "/c"), ("", "/d")):
            base = record(f"http://x.test{target}")
            log.requestDone(base._replace(client=attrs.evolve(base.client, listener=listener)))
        log.flush()
        with open(everyone) as f:
            lines = f.read().splitlines()
        self.assertEqual([line.split('"')[1] for line in lines], [
            "GET http://x.test/a HTTP/1.1", "GET http://x.test/d HTTP/1.1",
        ])
        with open(own) as f:
            self.assertEqual(f.read(), "http://x.test/b\n")

    def test_onlyListeners(self) -> None:
        """
        With no global log, only the listeners with their own are logged:
        nothing is written or published for the others.
        """
        own = self.mktemp()
        config = ProxyConfig(
            listen=(self.A, self.B), log=LogConfig(None, listeners=(ListenerLog(self.B, own),))
        )
        log = AccessLog.fromConfig(config)
        assert log is not None
        self.addCleanup(log.close)
        events: list[LogEvent] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        base = record("http://x.test/")
        log.requestDone(base._replace(client=attrs.evolve(base.client, listener=self.A)))
        self.assertEqual([e for e in events if e.get("log_namespace") == NAMESPACE], [])
        log.requestDone(base._replace(client=attrs.evolve(base.client, listener=self.B)))
        self.assertEqual(len([e for e in events if e.get("log_namespace") == NAMESPACE]), 1)
        log.flush()
        with open(own) as f:
            self.assertEqual(len(f.read().splitlines()), 1)

    def test_gateNamesListener(self) -> None:
        """
        A connection through a named L{ListenerGate} reports that name as
        its L{ClientInfo.listener}.
        """
        gate = forwardProxy(ProxyConfig())
        gate.name = self.B
        protocol = gate.buildProtocol(IPv4Address("TCP", "127.0.0.1", 5555))
        transport = StringTransport(
            hostAddress=IPv4Address("TCP", "127.0.0.1", 18081),
            peerAddress=IPv4Address("TCP", "127.0.0.1", 5555),
        )
        protocol.makeConnection(transport)
        self.addCleanup(protocol.connectionLost, None)
        self.assertEqual(protocol.client.listener, self.B)  # type: ignore[union-attr]

    def test_service(self) -> None:
        """
        The service names each gate by its listener's endpoint string.
        """
        service = forwardService(ProxyConfig(listen=(self.A, self.B)), MemoryReactorClock())
        self.assertEqual([gate.name for gate in service.gates], [self.A, self.B])
