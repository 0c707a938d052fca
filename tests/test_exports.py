"""
Tests for the public surface: what C{import proxykit} exports, and that
every module has its test module.
"""

from __future__ import annotations

import inspect
import os
import re

from twisted.python.reflect import namedAny
from twisted.trial.unittest import SynchronousTestCase

import proxykit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


PUBLIC = {
    "AdminConfig": "proxykit.config.values.AdminConfig",
    "AdminResource": "proxykit.ops.admin.AdminResource",
    "EmbeddedProxy": "proxykit.ops.state.EmbeddedProxy",
    "Metrics": "proxykit.ops.metrics.Metrics",
    "MetricsResource": "proxykit.ops.admin.MetricsResource",
    "CertificateConfig": "proxykit.config.tlsconfig.CertificateConfig",
    "ClientInfo": "proxykit.decisions.ClientInfo",
    "CombinedRouter": "proxykit.policy.vhosts.CombinedRouter",
    "ConfigError": "proxykit.config.checks.ConfigError",
    "ConnectionPool": "proxykit.relay.pool.ConnectionPool",
    "Decision": "proxykit.decisions.Decision",
    "DestinationPolicy": "proxykit.policy.destinations.DestinationPolicy",
    "Forward": "proxykit.decisions.Forward",
    "ForwardConfig": "proxykit.config.values.ForwardConfig",
    "ForwardRouter": "proxykit.policy.routing.ForwardRouter",
    "HealthCheckConfig": "proxykit.config.values.HealthCheckConfig",
    "ErrorEvent": "proxykit.relay.hooks.ErrorEvent",
    "Finished": "proxykit.relay.hooks.Finished",
    "HookFailed": "proxykit.relay.hooks.HookFailed",
    "Hooks": "proxykit.relay.hooks.Hooks",
    "Outcome": "proxykit.relay.hooks.Outcome",
    "RequestEvent": "proxykit.relay.hooks.RequestEvent",
    "RequestRecord": "proxykit.relay.hooks.RequestRecord",
    "ResponseEvent": "proxykit.relay.hooks.ResponseEvent",
    "RoutedEvent": "proxykit.relay.hooks.RoutedEvent",
    "TunnelEvent": "proxykit.relay.hooks.TunnelEvent",
    "TunnelRecord": "proxykit.relay.hooks.TunnelRecord",
    "IRouter": "proxykit.decisions.IRouter",
    "LimitsConfig": "proxykit.config.values.LimitsConfig",
    "ListenerGate": "proxykit.relay.gate.ListenerGate",
    "ListenerLog": "proxykit.config.values.ListenerLog",
    "LogConfig": "proxykit.config.values.LogConfig",
    "Origin": "proxykit.decisions.Origin",
    "OriginConfig": "proxykit.config.values.OriginConfig",
    "OriginGroup": "proxykit.policy.balance.OriginGroup",
    "OriginTLS": "proxykit.config.values.OriginTLS",
    "PoolConfig": "proxykit.config.values.PoolConfig",
    "ProxyConfig": "proxykit.config.values.ProxyConfig",
    "ProxyFactory": "proxykit.relay.factory.ProxyFactory",
    "Refuse": "proxykit.decisions.Refuse",
    "Request": "proxykit.h1._events.Request",
    "Respond": "proxykit.decisions.Respond",
    "ReverseConfig": "proxykit.config.values.ReverseConfig",
    "ReverseRouter": "proxykit.policy.vhosts.ReverseRouter",
    "RouteConfig": "proxykit.config.values.RouteConfig",
    "TLSConfig": "proxykit.config.tlsconfig.TLSConfig",
    "TLSListener": "proxykit.config.tlsconfig.TLSListener",
    "TargetForm": "proxykit.h1._target.TargetForm",
    "Timeouts": "proxykit.config.values.Timeouts",
    "Tunnel": "proxykit.decisions.Tunnel",
    "Upstream": "proxykit.decisions.Upstream",
    "VhostConfig": "proxykit.config.values.VhostConfig",
    "VhostTable": "proxykit.policy.vhosts.VhostTable",
    "forwardProxy": "proxykit.build.forwardProxy",
    "forwardService": "proxykit.service.forwardService",
    "reverseProxy": "proxykit.build.reverseProxy",
    "reverseService": "proxykit.service.reverseService",
    "routedProxy": "proxykit.build.routedProxy",
}
"""Each public name and the object it is (where it is defined)."""


def signatureText(function: object) -> str:
    """
    C{function}'s parameters as the docs write them: names, C{=default}
    (its repr), and C{*} before the keyword-only ones.
    """
    parts = []
    for parameter in inspect.signature(function).parameters.values():  # type: ignore[arg-type]
        if parameter.kind is parameter.KEYWORD_ONLY and "*" not in parts:
            parts.append("*")
        if parameter.default is parameter.empty:
            parts.append(parameter.name)
        else:
            parts.append(f"{parameter.name}={parameter.default!r}")
    return ", ".join(parts)


class ExportsTests(SynchronousTestCase):
    """
    C{import proxykit} exports what an application needs, each name the
    object it claims to be, each documented; nothing internal.
    """

    def test_exports(self) -> None:
        """
        C{__all__} is exactly the public names, sorted.
        """
        self.assertEqual(proxykit.__all__, sorted(PUBLIC))

    def test_identity(self) -> None:
        """
        Each exported name is the object defined where L{PUBLIC} says.
        """
        for name, path in PUBLIC.items():
            self.assertIs(getattr(proxykit, name), namedAny(path), name)

    def test_documented(self) -> None:
        """
        Each exported name has a docstring (but the C{Decision} type alias)
        and is named in C{docs/library.rst}.
        """
        with open(os.path.join(ROOT, "docs", "library.rst")) as f:
            guide = f.read()
        for name in PUBLIC:
            self.assertIn(f"``{name}", guide, name)
            if name != "Decision":
                self.assertTrue((getattr(proxykit, name).__doc__ or "").strip(), name)

    def test_signaturesAsDocumented(self) -> None:
        """
        Each public callable that a term of C{docs/library.rst} shows with
        its arguments (C{``forwardProxy(config=None, ...)``} at the start of
        a line) takes exactly those, with those defaults.
        """
        with open(os.path.join(ROOT, "docs", "library.rst")) as f:
            terms = [line for line in f.read().splitlines() if line.startswith("``")]
        shown = [
            (name, arguments)
            for line in terms
            for name, arguments in re.findall(r"``(\w+)\(([^`]*)\)``", line)
            if name in PUBLIC
        ]
        self.assertIn("forwardProxy", [name for name, _ in shown])
        for name, arguments in shown:
            self.assertEqual(arguments, signatureText(getattr(proxykit, name)), name)

    def test_nothingInternal(self) -> None:
        """
        The client-side protocol class is not exported.
        """
        self.assertNotIn("ProxyProtocol", proxykit.__all__)
        self.assertFalse(hasattr(proxykit, "ProxyProtocol"))


TESTING = {
    "Answer": "proxykit.testing._fakes.Answer",
    "ClientResponse": "proxykit.testing._fakes.ClientResponse",
    "FIRST_REQUEST_ID": "proxykit.testing._harness.FIRST_REQUEST_ID",
    "FakeClient": "proxykit.testing._client.FakeClient",
    "FakeOrigin": "proxykit.testing._fakes.FakeOrigin",
    "Handler": "proxykit.testing._fakes.Handler",
    "InMemoryReactor": "proxykit.testing._memory.InMemoryReactor",
    "OriginRequest": "proxykit.testing._fakes.OriginRequest",
    "PROXY_ADDRESS": "proxykit.testing._harness.PROXY_ADDRESS",
    "Pipe": "proxykit.testing._memory.Pipe",
    "ProxyHarness": "proxykit.testing._harness.ProxyHarness",
    "RawOrigin": "proxykit.testing._fakes.RawOrigin",
    "RecordingTransport": "proxykit.testing._memory.RecordingTransport",
    "Reply": "proxykit.testing._fakes.Reply",
    "Reset": "proxykit.testing._fakes.Reset",
}
"""The public names of C{proxykit.testing} and where they are defined."""


class TestingExportsTests(SynchronousTestCase):
    """
    C{proxykit.testing} exports its harness, each name documented in
    C{docs/testing.rst}.
    """

    def test_exports(self) -> None:
        """
        C{__all__} is exactly L{TESTING}'s names, sorted, each the object
        defined where L{TESTING} says.
        """
        import proxykit.testing

        self.assertEqual(proxykit.testing.__all__, sorted(TESTING))
        for name, path in TESTING.items():
            self.assertIs(getattr(proxykit.testing, name), namedAny(path), name)

    def test_documented(self) -> None:
        """
        Each name is in the tutorial.
        """
        with open(os.path.join(ROOT, "docs", "testing.rst")) as f:
            guide = f.read()
        for name in TESTING:
            self.assertIn(name, guide, name)


class TestLayoutTests(SynchronousTestCase):
    """
    Each module under proxykit/ has a tests/test_<module>.py, or is named in
    the module's C{test-case-name} line.
    """

    def test_everyModuleTested(self) -> None:
        """
        A module without tests is a layout error.
        """
        testNames = set(os.listdir(os.path.join(ROOT, "tests")))
        missing = []
        for directory, _, files in os.walk(os.path.join(ROOT, "proxykit")):
            for name in files:
                if not name.endswith(".py") or name == "__init__.py":
                    continue
                path = os.path.join(directory, name)
                with open(path) as f:
                    first = f.readline()
                marker = "test-case-name:"
                if marker in first:
                    target = first.split(marker)[1].split("-*-")[0].strip()
                    module = target.split(".")[-1] + ".py"
                    if module in testNames:
                        continue
                missing.append(os.path.relpath(path, ROOT))
        self.assertEqual(missing, [])
