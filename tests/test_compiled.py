# -*- test-case-name: tests.test_compiled -*-
"""
Tests for L{proxykit._compiled}: which build runs, and the compiled
build's classes as their source has them.  In the compiled build (the
suite's pass on C{.venv}, see C{tests/runner.py}) these check the compiled
modules; in pure Python, that the checks hold of the source itself.
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import os
import sys
from pathlib import Path
from types import ModuleType

from twisted.trial.unittest import SynchronousTestCase

import proxykit
from proxykit import _compiled
from proxykit.h1 import H1Connection, Limits, TargetForm
from proxykit.ops.accesslog import AccessLog
from proxykit.relay.hooks import Hooks

ROOT = Path(__file__).resolve().parent.parent


class ModulesTests(SynchronousTestCase):
    """
    L{_compiled.MODULES} and L{_compiled.compiledModules}.
    """

    def test_modulesExist(self) -> None:
        """
        Each module named is a module of proxykit, and none of those that
        must stay interpreted is named.
        """
        for name in _compiled.MODULES:
            self.assertTrue((ROOT / (name.replace(".", "/") + ".py")).is_file(), name)
        interpreted = {
            "proxykit.decisions",
            "proxykit._twistedcompat",
        }
        self.assertEqual(set(_compiled.MODULES) & interpreted, set())

    def test_compiledFlag(self) -> None:
        """
        C{proxykit.COMPILED} says whether the modules named were imported
        as extension modules: all of them, or none.
        """
        found = _compiled.compiledModules()
        self.assertEqual(found, _compiled.MODULES if proxykit.COMPILED else ())
        for name in _compiled.MODULES:
            where = importlib.import_module(name).__file__ or ""
            self.assertEqual(where.endswith(".py"), not proxykit.COMPILED, where)


class ClassesTests(SynchronousTestCase):
    """
    The classes of the compiled modules keep what their source gives them.
    """

    def test_asInSource(self) -> None:
        """
        Each class of each module named has its source's docstring and
        C{__slots__}.
        """
        for name in _compiled.MODULES:
            module = importlib.import_module(name)
            source = ROOT / (name.replace(".", "/") + ".py")
            for node in ast.parse(source.read_text()).body:
                if not isinstance(node, ast.ClassDef):
                    continue
                cls = getattr(module, node.name)
                self.assertEqual(cls.__doc__, ast.get_docstring(node, clean=False), cls)
                for statement in node.body:
                    if isinstance(statement, ast.Assign) and [
                        ast.unparse(t) for t in statement.targets
                    ] == ["__slots__"]:
                        self.assertEqual(cls.__slots__, ast.literal_eval(statement.value), cls)

    def test_interpretedSubclasses(self) -> None:
        """
        The public classes of the compiled modules can be subclassed in
        Python, as their pure-Python form can.
        """

        class Connection(H1Connection):
            pass

        class SmallLimits(Limits):
            pass

        class Forms(TargetForm):
            pass

        class MyHooks(Hooks):
            pass

        class MyLog(AccessLog):
            pass

        self.assertTrue(Connection(isServer=True).isServer)
        self.assertEqual(SmallLimits(maxRequestLine=10).maxRequestLine, 10)
        self.assertEqual(Forms.ORIGIN, TargetForm.ORIGIN)
        hooks = MyHooks()
        hooks.onComplete(print)
        self.assertTrue(hooks.recording)
        self.assertIsNone(MyLog(None).path)

    def test_eventsNative(self) -> None:
        """
        In the compiled build, the message layer's events are native
        classes (their methods are compiled, not Python functions), with
        their source's docstrings and C{__slots__}, and Python can still
        subclass them; in pure Python, they are the source's classes.
        """
        import inspect

        from proxykit.h1 import Data, EndOfMessage, Framing, Request, Response

        for cls in (Request, Response, Data, EndOfMessage):
            self.assertEqual(inspect.isfunction(cls.__repr__), not proxykit.COMPILED, cls)
            self.assertIn("@ivar", cls.__doc__ or "", cls)
            self.assertIn(cls.__slots__[0], cls.__doc__ or "", cls)
            self.assertTrue(issubclass(type("Sub", (cls,), {}), cls))
        self.assertEqual(inspect.isfunction(Request.replace), not proxykit.COMPILED)
        self.assertFalse(hasattr(Data(b""), "__dict__"))
        self.assertIn("How the body of one message", Framing.__doc__ or "")

    def test_loggerFromClass(self) -> None:
        """
        The class-level logger of a compiled class stays Twisted's
        descriptor, as in Python: read from the class, it is a logger with
        the class's namespace (a native class would hold the bare logger).
        """
        from proxykit.relay.admission import Admission

        self.assertEqual(Admission._log.namespace, "proxykit.relay.admission.Admission")

    def test_relayLoggers(self) -> None:
        """
        The relay's native classes keep their loggers on the class
        (C{ClassVar}), so each instance reads Twisted's descriptor: a
        logger with the class's namespace and the instance as its source,
        as in Python (a native class's plain attribute would build a
        logger for every instance, and lose the source).
        """
        from proxykit.relay.client import ProxyProtocol
        from proxykit.relay.exchange import Exchange

        self.assertEqual(ProxyProtocol._log.namespace, "proxykit.protocol.ProxyProtocol")
        self.assertEqual(Exchange._log.namespace, "proxykit._exchange.Exchange")
        self.assertNotIn("_log", getattr(Exchange, "__slots__", ()))

    def test_relaySubclasses(self) -> None:
        """
        The relay's protocols and exchange can be subclassed in Python, as
        in their pure-Python form, and the proxy factory builds the class
        its C{protocol} names (Twisted's convention), a subclass too.
        """
        from twisted.internet.address import IPv4Address
        from twisted.internet.task import Clock

        from proxykit import ForwardRouter, ProxyFactory
        from proxykit.relay.client import ProxyProtocol
        from proxykit.relay.exchange import Exchange
        from proxykit.relay.origin import OriginProtocol

        class Client(ProxyProtocol):
            pass

        class Origin(OriginProtocol):
            pass

        class MyExchange(Exchange):
            pass

        factory = ProxyFactory(ForwardRouter(), reactor=Clock())
        factory.protocol = Client
        built = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
        self.assertIsInstance(built, Client)
        built.note = "a Python subclass's instance has a __dict__"  # type: ignore[attr-defined]
        self.assertEqual(Origin("key", Clock(), Limits()).poolKey, "key")
        self.assertTrue(issubclass(MyExchange, Exchange))

    def test_policySubclasses(self) -> None:
        """
        The routers, the origin group, the destination policy and the pool
        (native classes in the compiled build) can be subclassed in Python,
        and a subclass's method is the one the proxy calls.
        """
        from twisted.internet.task import Clock

        from proxykit import DestinationPolicy, ForwardRouter, OriginGroup
        from proxykit.decisions import Origin

        names = "CombinedRouter ConnectionPool DestinationPolicy ForwardRouter OriginGroup"
        for cls in [getattr(proxykit, name) for name in (names + " ReverseRouter VhostTable").split()]:
            self.assertTrue(issubclass(type("Sub", (cls,), {}), cls), cls)
            self.assertTrue((cls.__doc__ or "").strip(), cls)

        class Closed(DestinationPolicy):
            def checkName(self, host: str) -> str | None:
                return "closed here"

        class Picky(ForwardRouter):
            def clientAllowed(self, peerHost: str) -> bool:
                return peerHost == "192.0.2.1"

        router = Picky(destinations=Closed())
        self.assertFalse(router.clientAllowed("127.0.0.1"))
        self.assertTrue(router.clientAllowed("192.0.2.1"))
        self.assertEqual(router.destinations.checkName("example.com"), "closed here")
        group = type("Group", (OriginGroup,), {})([(Origin("http", "a.test", 80), 1)], clock=Clock())
        self.assertEqual(group.origins, (Origin("http", "a.test", 80),))

    def test_headerPolicies(self) -> None:
        """
        Both header policies a L{proxykit.decisions.Forward} may carry (a
        reverse route's and a parent proxy's) are what the relay takes them
        for, L{proxykit.decisions.HeaderPolicy}: the relay reads them through
        that interface, whichever class they are.
        """
        from proxykit.config import OriginConfig, RouteConfig
        from proxykit.decisions import ClientInfo, Forward, Origin
        from proxykit.h1 import Request
        from proxykit.policy.routing import ParentPolicy
        from proxykit.policy.vhosts import RoutePolicy
        from proxykit.relay.exchange import upstreamHeaders

        origin = Origin("http", "a.test", 80)
        request = Request(
            b"GET", b"/x", b"1.1", [(b"Host", b"a.test")], 0, 0, True, frozenset(), b"a.test",
            False, False,
        )  # fmt: skip
        client = ClientInfo("127.0.0.1", "127.0.0.1", 8080)
        route = RoutePolicy(RouteConfig(origins=(OriginConfig("http://a.test"),)), b"/", ())
        for policy in (ParentPolicy(b"Basic dTpw"), route):
            headers = upstreamHeaders(
                request, Forward(origin, b"/x", None, policy), origin, client, b"1.1 proxykit", None
            )
            self.assertIn((b"Via", b"1.1 proxykit"), headers, policy)
            self.assertEqual(policy.responseHeaders([], request, origin), [], policy)
            self.assertEqual(policy.retries, 1 if policy is route else 0)

    def test_relayProtocols(self) -> None:
        """
        The relay's connection sides are Twisted protocols by the
        interfaces they declare, without deriving from Twisted's
        C{Protocol}: the client and origin sides provide C{IProtocol},
        C{ILoggingContext} and C{IPushProducer} as well as their own
        interfaces, and the exchange provides L{IExchange}.
        """
        from twisted.internet.interfaces import (
            IHalfCloseableProtocol,
            ILoggingContext,
            IProtocol,
            IPushProducer,
        )
        from zope.interface.verify import verifyClass

        from proxykit.relay.client import ProxyProtocol
        from proxykit.relay.exchange import Exchange
        from proxykit.relay.flow import Side
        from proxykit.relay.interfaces import (
            IClientSide,
            IExchange,
            IFlowSide,
            IOriginSide,
        )
        from proxykit.relay.origin import OriginProtocol

        for cls in (Side, ProxyProtocol, OriginProtocol):
            for interface in (IProtocol, ILoggingContext, IPushProducer, IFlowSide):
                self.assertTrue(interface.implementedBy(cls), (cls, interface))
                self.assertTrue(verifyClass(interface, cls))
        self.assertTrue(IClientSide.implementedBy(ProxyProtocol))
        self.assertTrue(IHalfCloseableProtocol.implementedBy(ProxyProtocol))
        self.assertTrue(IOriginSide.implementedBy(OriginProtocol))
        self.assertTrue(IExchange.implementedBy(Exchange))


class RestoreClassesTests(SynchronousTestCase):
    """
    L{_compiled.restoreClasses} on a module that stands for a compiled one.
    """

    def module(self, source: str, suffix: str) -> ModuleType:
        """
        A module whose C{__file__} ends with C{suffix}, beside C{source}
        written as its C{.py} file, holding a class C{C} without a
        docstring or C{__slots__}.
        """
        directory = self.mktemp()
        os.makedirs(directory)
        with open(os.path.join(directory, "m.py"), "w") as f:
            f.write(source)
        module = ModuleType("m")
        module.__file__ = os.path.join(directory, "m" + suffix)
        module.C = type("C", (), {"__doc__": None})  # type: ignore[attr-defined]
        return module

    def test_restores(self) -> None:
        """
        For an extension module, the class gets its source's docstring and
        C{__slots__}.
        """
        module = self.module(
            'class C:\n    """\n    The doc.\n    """\n    __slots__ = ("a", "b")\n',
            importlib.machinery.EXTENSION_SUFFIXES[0],
        )
        _compiled.restoreClasses(module)
        self.assertEqual(module.C.__doc__, "\n    The doc.\n    ")  # type: ignore[attr-defined]
        self.assertEqual(module.C.__slots__, ("a", "b"))  # type: ignore[attr-defined]

    def test_pureUntouched(self) -> None:
        """
        A module imported from its source, or an extension module without
        its source beside it, is left as it is.
        """
        for suffix in (".py", ".pyc"):
            module = self.module('class C:\n    """The doc."""\n', suffix)
            _compiled.restoreClasses(module)
            self.assertIsNone(module.C.__doc__)  # type: ignore[attr-defined]
        module = self.module('class C:\n    """The doc."""\n', importlib.machinery.EXTENSION_SUFFIXES[0])
        os.remove(os.path.join(os.path.dirname(module.__file__ or ""), "m.py"))
        _compiled.restoreClasses(module)
        self.assertIsNone(module.C.__doc__)  # type: ignore[attr-defined]
        self.assertNotIn("m", sys.modules)
