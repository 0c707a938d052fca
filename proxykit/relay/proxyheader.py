# -*- test-case-name: tests.test_proxyheader -*-
"""
The PROXY protocol header proxykit writes first on a new origin connection,
so that the origin learns the client's address as HAProxy's C{send-proxy}
(version 1, text) and C{send-proxy-v2} (version 2, binary) give it.

From the specification (U{https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt}):

    - version 1: C{"PROXY" SP ("TCP4" | "TCP6") SP srcaddr SP dstaddr SP
      srcport SP dstport CRLF}, or C{"PROXY UNKNOWN" CRLF} when the
      connection is not TCP over IPv4 or IPv6 ("the receiver must ignore
      anything presented before the CRLF").
    - version 2: the 12-byte signature C{\\x0D\\x0A\\x0D\\x0A\\x00\\x0D\\x0A
      \\x51\\x55\\x49\\x54\\x0A}, then C{0x21} (version 2, PROXY) or C{0x20}
      (version 2, LOCAL: "the connection was established on purpose by the
      proxy without being relayed", as health checks are, and "the receiver
      must accept this connection as valid and must use the real connection
      endpoints"), the family byte (C{0x11} TCP over IPv4, C{0x21} TCP over
      IPv6, C{0x00} unspecified), a 2-byte big-endian length, and the
      addresses: source, destination, source port, destination port.

Pure: values in, bytes out.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Final

from ..decisions import ClientInfo

__all__ = [
    "LOCAL_V1",
    "LOCAL_V2",
    "SIGNATURE_V2",
    "localHeader",
    "proxyHeader",
]

SIGNATURE_V2: Final = b"\r\n\r\n\x00\r\nQUIT\n"
"""The 12 bytes every version 2 header starts with."""

LOCAL_V1: Final = b"PROXY UNKNOWN\r\n"
"""Version 1 for a connection with no client address to give."""

LOCAL_V2: Final = SIGNATURE_V2 + b"\x20\x00\x00\x00"
"""Version 2, LOCAL command, no addresses."""


def localHeader(version: int) -> bytes:
    """
    The header of a connection proxykit opens on its own behalf (a health
    check): version 1 C{PROXY UNKNOWN}, version 2 LOCAL.

    @param version: C{1} or C{2}.
    """
    return LOCAL_V1 if version == 1 else LOCAL_V2


def proxyHeader(version: int, client: ClientInfo) -> bytes:
    """
    The header that carries C{client}'s address (the real one: from the
    listener's own PROXY header when it had one, else the TCP peer) and the
    address it connected to.

    A client that is not TCP over IPv4 or IPv6 (a UNIX socket), or whose two
    addresses are not of one family, gets C{PROXY UNKNOWN} (version 1) or a
    LOCAL header (version 2): the origin then uses the connection's own
    addresses, as the specification says.

    @param version: C{1} or C{2}.
    @param client: The client connection the request came on.
    """
    return _header(version, client.peerHost, client.peerPort, client.localHost, client.localPort)


def _header(version: int, source: str, sourcePort: int, dest: str, destPort: int) -> bytes:
    try:
        src = ipaddress.ip_address(source)
        dst = ipaddress.ip_address(dest)
    except ValueError:
        return localHeader(version)
    if src.version != dst.version:
        if src.version == 4 and isinstance(dst, ipaddress.IPv6Address) and dst.ipv4_mapped:
            dst = dst.ipv4_mapped
        elif isinstance(src, ipaddress.IPv6Address) and src.ipv4_mapped and dst.version == 4:
            src = src.ipv4_mapped
        else:
            return localHeader(version)
    if version == 1:
        family = "TCP4" if src.version == 4 else "TCP6"
        return (
            f"PROXY {family} {src.compressed} {dst.compressed} {sourcePort} {destPort}\r\n"
        ).encode("ascii")
    addresses = src.packed + dst.packed + struct.pack("!HH", sourcePort, destPort)
    command = b"\x21\x11" if src.version == 4 else b"\x21\x21"
    return SIGNATURE_V2 + command + struct.pack("!H", len(addresses)) + addresses
