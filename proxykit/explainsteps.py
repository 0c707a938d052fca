# -*- test-case-name: tests.test_explain -*-
"""
The steps of C{proxykit explain} (L{proxykit.explain}): what each part of
the proxy decides about one request, as L{Section}s of facts.

Each step reads the proxy's own objects and decisions (the admission, the
routers, the virtual host table's L{lookup<VhostTable.lookup>}, the origin
group, L{upstreamHeaders}); none decides anything itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

import attrs
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from .config.values import ProxyConfig
from .decisions import ClientInfo, Decision, Forward, IRouter, Origin, Respond, Tunnel
from .h1 import PROXY_FORMS, Request, TargetForm, parseAuthority, splitAbsolute
from .ops.reload import PLAIN, REDIRECT, SECURE, ListenerSpec
from .policy.balance import OriginGroup, originURL
from .policy.destinations import DestinationPolicy
from .policy.routing import ForwardRouter, ParentPolicy
from .policy.vhosts import CombinedRouter, ReverseRouter, RoutePolicy, VhostTable
from .relay.admission import Admission, proxyAuthorization
from .relay.exchange import upstreamHeaders
from .relay.factory import ProxyFactory
from .relay.hooks import Routed

_FORMS = {
    TargetForm.ORIGIN: "origin-form",
    TargetForm.ABSOLUTE: "absolute-form",
    TargetForm.AUTHORITY: "authority-form (CONNECT)",
    TargetForm.ASTERISK: "asterisk-form",
}
KINDS = {PLAIN: "plain HTTP", SECURE: "TLS", REDIRECT: "plain HTTP, redirecting to https"}
Value = str | int | float | bool | None | list[str]


@attrs.frozen
class Section:
    """
    One part of an explanation: named facts, in order.

    @ivar name: The section's name (a JSON key).
    @ivar facts: C{(key, value)} pairs; keys are JSON keys, values strings,
        numbers, booleans, C{None} or lists of strings.
    """

    name: str
    facts: tuple[tuple[str, Value], ...]


def word(value: Value) -> str:
    """
    A fact's value in text: C{none}, C{yes}, C{no} or the value.
    """
    if value is None:
        return "none"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def settled(outcome: object) -> Decision:
    """
    The decision L{Admission.admit} gave, at once or through a L{Deferred}
    that has fired (the password check runs at once here).
    """
    if isinstance(outcome, Deferred):
        results: list[object] = []
        outcome.addBoth(results.append)
        if not results:
            raise RuntimeError("the decision did not come at once")
        outcome = results[0]
        if isinstance(outcome, Failure):
            outcome.raiseException()
    if isinstance(outcome, Routed):  # pragma: no cover (no hooks in a config)
        return outcome.decision
    return outcome  # type: ignore[return-value]


def requestSection(request: Request, requestId: bytes | None) -> Section:
    """
    The request as the proxy parsed it, and the id it gets.
    """
    if requestId is None:
        source = "none ([log] request_id = \"off\")"
    elif requestId == request.requestId:
        source = "the client's, kept"
    else:
        source = "generated (each request gets a new one)"
    return Section(
        "request",
        (
            ("method", request.method.decode("ascii")),
            ("target", _text(request.target)),
            ("form", _FORMS[request.form]),
            ("host", None if request.host is None else _text(request.host)),
            ("headers", [_field(field) for field in request.headers]),
            ("request_id", None if requestId is None else requestId.decode("ascii")),
            ("request_id_from", source),
        ),
    )


def listenerSection(
    spec: ListenerSpec, mode: str, client: ClientInfo, specs: Sequence[ListenerSpec]
) -> Section:
    """
    The listener the request arrives on, and the others.
    """
    facts: list[tuple[str, Value]] = [
        ("endpoint", spec.description),
        ("kind", KINDS[spec.kind]),
        ("mode", mode),
    ]
    if client.localPort:
        facts.append(("address", f"{client.localHost}:{client.localPort}"))
    if spec.kind == SECURE:
        facts.append(("server_name", client.serverName))
    facts.append(("others", [f"{s.description} ({KINDS[s.kind]})" for s in specs if s != spec]))
    return Section("listener", tuple(facts))


def clientSection(client: ClientInfo, router: IRouter, request: Request) -> Section:
    """
    Whether the client may use the proxy, and by which rule.
    """
    forward = _forwardRouterOf(router)
    if isinstance(router, CombinedRouter):
        if request.form in PROXY_FORMS:
            rule = "forward.allow_clients, for forward-proxy requests on this listener: " + _list(
                forward.config.allowClients
            )
            allowed = forward.clientAllowed(client.peerHost)
        else:
            rule, allowed = "anyone may ask a site", True
    elif forward is not None:
        rule = "forward.allow_clients: " + _list(forward.config.allowClients)
        allowed = client.allowed
    else:
        rule, allowed = "anyone may ask a site (reverse mode)", client.allowed
    return Section(
        "client",
        (
            ("address", client.peerHost),
            ("allowed", allowed),
            ("rule", rule),
        ),
    )


def _forwardRouterOf(router: IRouter) -> Any:

    if isinstance(router, ForwardRouter):
        return router
    if isinstance(router, CombinedRouter):
        return router.forward
    return None


def authentication(
    admission: Admission, request: Request, client: ClientInfo, config: ProxyConfig
) -> tuple[bool, Section]:
    """
    Whether the request passes proxy authentication (the check
    L{Admission.admit} makes, made here first to say how it went).
    """
    authenticator = admission.authenticator
    if authenticator is None:
        return True, Section("authentication", (("required", False), ("outcome", "none configured (forward.auth_file)")))
    if request.form not in PROXY_FORMS:
        return True, Section(
            "authentication",
            (("required", False), ("outcome", "only forward-proxy requests are asked for credentials")),
        )
    facts: list[tuple[str, Value]] = [("required", True), ("password_file", config.forward.authFile)]
    if not client.allowed:
        facts.append(("outcome", "not reached: the client is refused first"))
        return True, Section("authentication", tuple(facts))
    value = proxyAuthorization(request.headers)
    verdict = authenticator.checkCached(value)
    if verdict is None:
        assert value is not None
        verdict = bool(settled(authenticator.check(value)))
    user = None if value is None else authenticator.username(value)
    if value is None:
        outcome = "no Proxy-Authorization: 407 with a challenge"
    elif verdict:
        outcome = f"user {user} accepted"
    elif user is None:
        outcome = "Proxy-Authorization is not Basic credentials: 407"
    else:
        outcome = f"user {user} refused (unknown user or wrong password): 407"
    facts.append(("outcome", outcome))
    return verdict, Section("authentication", tuple(facts))


def precheckSection(config: ProxyConfig, reached: bool, decision: Decision | None) -> Section:
    """
    The message policy and the body-size precheck: their settings, and
    what they decided (C{decision}, from L{Admission.precheck}), if
    C{reached}.
    """
    facts: list[tuple[str, Value]] = [
        ("via_loop_check", f"a Via naming {config.forward.via!r} is refused 508"),
        ("trace", "forwarded" if config.forward.allowTrace else "refused 405"),
        ("max_body_bytes", config.limits.maxBodyBytes or "no limit"),
    ]
    if not reached:
        facts.append(("outcome", "not reached: refused before"))
    elif decision is None:
        facts.append(("outcome", "passed"))
    else:
        facts.append(("outcome", " ".join(str(part) for part in verdict(decision)[1:])))
    return Section("message_policy", tuple(facts))


def routingSection(
    router: IRouter,
    request: Request,
    client: ClientInfo,
    decision: Decision,
    destinations: DestinationPolicy,
) -> Section:
    """
    How the router got to C{decision}: the virtual host and the routes
    considered (reverse), or the destination and its policy (forward).
    """
    if isinstance(router, CombinedRouter):
        if request.form in PROXY_FORMS:
            return _forwardRouting(router.forward, request, decision, destinations, "forward (combined listener)")
        return _reverseRouting(router.reverse, request, decision, "reverse (combined listener)")
    if isinstance(router, ReverseRouter):
        return _reverseRouting(router, request, decision, "reverse")
    forward = _forwardRouterOf(router)
    if forward is not None:
        return _forwardRouting(forward, request, decision, destinations, "forward")
    return Section("routing", (("router", "redirect to https (tls.redirect_listen)"),))


def _reverseRouting(router: ReverseRouter, request: Request, decision: Decision, name: str) -> Section:
    table: VhostTable = router.table
    host = request.host
    path = request.target
    if request.form == TargetForm.ABSOLUTE:
        parts = splitAbsolute(request.target)
        if parts is not None:
            host, path = parts[1], parts[2]
    facts: list[tuple[str, Value]] = [("router", name), ("host", None if host is None else _text(host))]
    if request.form in (TargetForm.ORIGIN, TargetForm.ABSOLUTE):
        found = table.lookup(host)
        if found.routes is None:
            facts.append(("vhost", "none (no name matches and no reverse.default)"))
        elif found.matched is None:
            facts.append(("vhost", f"{found.name} (reverse.default)"))
        else:
            facts.append(("vhost", f"{found.name} ({found.how} match on {found.matched})"))
        facts.append(
            ("other_vhosts", [", ".join(names) for names, routes in table.vhosts if routes is not found.routes])
        )
        chosen = decision.upstream if isinstance(decision, Forward) else None
        considered = []
        for route in found.routes or ():
            mark = "no match"
            if route.upstream is chosen:
                mark = "chosen"
            elif route.matches(path):
                mark = "matches"
            considered.append(f"{route.prefix.decode('ascii')} ({mark})")
        facts.append(("path", _text(path)))
        facts.append(("routes_considered", considered))
    if isinstance(decision, Forward):
        policy = decision.policy
        assert isinstance(policy, RoutePolicy)
        facts.append(("route", policy.prefix.decode("ascii")))
        facts.append(("target_sent", _text(decision.target)))
    return Section("routing", tuple(facts))


def _forwardRouting(
    router: Any, request: Request, decision: Decision, destinations: DestinationPolicy, name: str
) -> Section:
    facts: list[tuple[str, Value]] = [("router", name)]
    destination: tuple[str, int] | None = None
    if request.form == TargetForm.AUTHORITY:
        facts.append(("connect_ports", ", ".join(str(p) for p in sorted(router.config.connectPorts))))
        try:
            destination = parseAuthority(request.target, None)
        except ValueError:
            pass
    elif request.form == TargetForm.ABSOLUTE:
        parts = splitAbsolute(request.target)
        if parts is not None and parts[0] in (b"http", b"https"):
            try:
                destination = parseAuthority(parts[1], 443 if parts[0] == b"https" else 80)
            except ValueError:
                pass
    if destination is not None:
        host, port = destination
        facts.append(("destination", f"{host} port {port}"))
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
            facts.append(("resolution", "an IP literal: no DNS lookup"))
        except ValueError:
            facts.append(
                (
                    "resolution",
                    f"{host} would be resolved when connecting (not now); every address it"
                    " resolves to is checked against the destination policy",
                )
            )
    policy = [
        "special-purpose addresses (loopback, private, link-local) refused: "
        + word(destinations.strict),
        "allow_destinations: " + _list(router.config.allowDestinations),
        "deny_destinations: " + _list(router.config.denyDestinations),
    ]
    if request.form != TargetForm.AUTHORITY:
        # CONNECT has its own ports (connect_ports).
        policy.append("allow_ports: " + _list(sorted(str(p) for p in router.config.allowPorts)))
    facts.append(("destination_policy", policy))
    if router.config.parent is not None:
        via = (isinstance(decision, Forward) and isinstance(decision.policy, ParentPolicy)) or (
            isinstance(decision, Tunnel) and decision.parent is not None
        )
        facts.append(("parent_proxy", f"{'used' if via else 'not used'} (forward.parent, parent_for, no_parent)"))
    return Section("routing", tuple(facts))


def outcome(
    factory: ProxyFactory,
    request: Request,
    client: ClientInfo,
    decision: Decision,
    requestId: bytes | None,
) -> list[Section]:
    """
    What follows C{decision}: the upstream and the fields sent to it, the
    tunnel, or the response the proxy writes itself.
    """
    if isinstance(decision, Forward):
        return _forwarded(factory, request, client, decision, requestId)
    if isinstance(decision, Tunnel):
        facts: list[tuple[str, Value]] = [("to", f"{decision.host}:{decision.port}")]
        if decision.parent is not None:
            facts.append(("through", f"parent proxy {decision.parent} (its own CONNECT)"))
        else:
            facts.append(("through", "a direct connection"))
        facts.append(("answer", "200 once connected, then bytes both ways; 502 if the connection fails"))
        return [Section("tunnel", tuple(facts))]
    if isinstance(decision, Respond):
        return [
            Section(
                "response",
                (
                    ("status", decision.status),
                    ("headers", [_field(field) for field in decision.headers]),
                    ("body_bytes", len(decision.body)),
                ),
            )
        ]
    headers = [_field(field) for field in decision.headers]
    if requestId is not None:
        headers.append("X-Request-Id: " + requestId.decode("ascii"))
    return [
        Section(
            "response",
            (
                ("status", decision.status),
                ("headers", headers),
                ("body", "a short fixed text/plain body that never echoes the request"),
            ),
        )
    ]


def _forwarded(
    factory: ProxyFactory,
    request: Request,
    client: ClientInfo,
    decision: Forward,
    requestId: bytes | None,
) -> list[Section]:
    upstream = decision.upstream
    facts: list[tuple[str, Value]] = []
    if isinstance(upstream, OriginGroup):
        # A fresh group: its first pick is the real balancing code's.
        origin = upstream.pick()
        facts.append(("balance", upstream.policy))
        facts.append(("origins", [f"{originURL(o)} weight {upstream.weight(o)}" for o in upstream.origins]))
        first = "random (two drawn by weight)" if upstream.policy == "random_two" else "first"
        facts.append(("picked", f"{originURL(origin)} ({first} pick of a fresh start)" if origin else None))
        policy = decision.policy
        if isinstance(policy, RoutePolicy):
            facts.append(("retries", f"{policy.retries} other origin(s), idempotent requests without a body"))
            config = policy.config
            facts.append(
                (
                    "passive_health",
                    f"an origin that fails is left out for {config.ejectFor:g}s (eject_for),"
                    " twice as long on each further failure, up to 8 times as long",
                )
            )
            check = config.healthCheck
            facts.append(
                (
                    "health_check",
                    None
                    if check is None
                    else f"GET {check.path} every {check.interval:g}s, timeout {check.timeout:g}s,"
                    f" rise {check.rise}, fall {check.fall} (not run here: every origin counts as up)",
                )
            )
    else:
        origin = upstream if isinstance(upstream, Origin) else None
        role = "parent_proxy" if isinstance(decision.policy, ParentPolicy) else "origin"
        facts.append((role, None if origin is None else str(origin)))
    if origin is not None and origin.scheme == "https":
        facts.append(("tls", "the certificate is verified for " + origin.host))
    facts.append(("connection", "a pooled keep-alive connection, or a new one"))
    sections = [Section("upstream", tuple(facts))]
    if origin is None:
        return sections
    sent = upstreamHeaders(request, decision, origin, client, factory.via[request.version], requestId)
    received = {field[0].lower() for field in request.headers}
    kept = {field[0].lower() for field in sent}
    before = set(request.headers)
    sections.append(
        Section(
            "headers",
            (
                ("request_line", f"{request.method.decode('ascii')} {_text(decision.target)} HTTP/1.1"),
                ("sent", [_field(field) for field in sent]),
                ("removed", sorted(_text(name) for name in received - kept)),
                ("added_or_changed", [_field(field) for field in sent if field not in before]),
                ("why", _requestRules(decision, client, requestId)),
                ("response", _responseRules(decision)),
            ),
        )
    )
    return sections


def _requestRules(decision: Forward, client: ClientInfo, requestId: bytes | None) -> list[str]:
    """
    The rules behind the fields sent upstream.
    """
    rules = [
        "hop-by-hop fields (Connection and those it names, Keep-Alive, TE,"
        " Upgrade, Proxy-*) removed; Via appended",
        "X-Request-Id: "
        + ("passed as received ([log] request_id = \"off\")" if requestId is None
           else "one, the request's id, in place of any received ([log] request_id)"),
    ]
    policy = decision.policy
    if isinstance(policy, RoutePolicy):
        config = policy.config
        if config.hostHeader == "origin":
            rules.append("Host: the origin's address (host_header = \"origin\")")
        else:
            rules.append("Host: the client's (host_header = \"pass\")")
        enabled = [
            name
            for name, on in (
                ("X-Forwarded-For", config.xForwardedFor),
                ("X-Forwarded-Proto", config.xForwardedProto),
                ("X-Forwarded-Host", config.xForwardedHost),
                ("Forwarded", config.forwarded),
            )
            if on
        ]
        rules.append("forwarding fields added: " + _list(enabled))
        if policy.isTrusted(client.peerHost):
            rules.append(
                f"{client.peerHost} is a trusted proxy (reverse.trusted_proxies):"
                " the forwarding fields it sent are kept and appended to"
            )
        else:
            rules.append(
                f"{client.peerHost or 'the client'} is not a trusted proxy"
                " (reverse.trusted_proxies): forwarding fields it sent are removed"
            )
    elif isinstance(policy, ParentPolicy):
        rules.append("Proxy-Authorization: the parent proxy's credentials (forward.parent)")
        rules.append("the target is sent in absolute form, to the parent proxy")
    else:
        rules.append("Host: the target's authority; the target sent in origin-form")
    return rules


def _responseRules(decision: Forward) -> list[str]:
    rules = ["hop-by-hop fields removed, Via added"]
    policy = decision.policy
    if isinstance(policy, RoutePolicy) and policy.config.rewriteRedirects:
        rules.append("Location and Content-Location naming the origin rewritten to the public address")
    return rules


def timeouts(config: ProxyConfig, decision: Decision) -> Section:
    """
    The timeouts (seconds) that apply to a request so decided.
    """
    t = config.timeouts
    facts: list[tuple[str, Value]] = [("header", t.header)]
    if isinstance(decision, Forward):
        facts += [("connect", t.connect), ("response", t.response)]
    elif isinstance(decision, Tunnel):
        facts += [("connect", t.connect), ("tunnel_idle", t.tunnelIdle)]
    facts += [("idle", t.idle), ("drain", t.drain)]
    return Section("timeouts", tuple(facts))


def limits(config: ProxyConfig, decision: Decision) -> Section:
    """
    The limits that apply to a request so decided.
    """
    limits = config.limits
    cap = limits.maxClientConnections
    facts: list[tuple[str, Value]] = [
        ("max_request_line", limits.maxRequestLine),
        ("max_header_bytes", limits.maxHeaderBytes),
        ("max_header_count", limits.maxHeaderCount),
        ("max_body_bytes", limits.maxBodyBytes or "no limit"),
        ("max_client_connections", cap if cap is not None else "derived from the open-file limit"),
    ]
    if isinstance(decision, (Forward, Tunnel)):
        facts += [
            ("max_origin_connections", limits.maxOriginConnections),
            ("max_origin_queue", limits.maxOriginQueue),
        ]
    if isinstance(decision, Forward):
        facts += [
            ("max_idle_per_origin", config.pool.maxIdlePerOrigin),
            ("idle_expiry", config.pool.idleExpiry),
        ]
    return Section("limits", tuple(facts))


def verdict(decision: Decision) -> tuple[str, int | None, str]:
    """
    The action, the status the proxy answers itself (or C{None}) and why.
    """
    if isinstance(decision, Forward):
        upstream = decision.upstream
        policy = decision.policy
        if isinstance(policy, RoutePolicy):
            return "forward", None, f"to the origins of route {policy.prefix.decode('ascii')}"
        return "forward", None, f"to {upstream}"
    if isinstance(decision, Tunnel):
        return "tunnel", None, f"to {decision.host}:{decision.port}"
    if isinstance(decision, Respond):
        return "respond", decision.status, "answered by the proxy itself"
    return "refuse", decision.status, decision.reason


def _text(value: bytes) -> str:
    return value.decode("latin-1")


def _field(field: tuple[bytes, bytes]) -> str:
    return f"{_text(field[0])}: {_text(field[1])}"


def _list(items: Sequence[str] | frozenset[str]) -> str:
    return ", ".join(items) if items else "none"
