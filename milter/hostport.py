"""``HOST:PORT`` as the config and the command line write an endpoint.

One parser for every endpoint: ``listen``, ``next_hop``, ``--next-hop`` and the DNS
servers (``auth.dns_servers``, ``--dns-server``). The forms, as in a URL's authority
(RFC 3986 section 3.2.2), which brackets an IPv6 address so its colons are not taken
for the port's:

- ``host:port``, ``192.0.2.1:port``, ``[2001:db8::1]:port``;
- ``host``, ``192.0.2.1``, ``2001:db8::1`` and ``[2001:db8::1]`` where the caller has a
  default port (DNS: 53). Text with two colons or more and no brackets is an IPv6
  address without a port, never an address and a port.
"""

from __future__ import annotations

__all__ = ["host_port_text", "parse_host_port"]

_MAX_PORT = 65535


def parse_host_port(
    text: str, *, default_port: int | None = None, port_zero: bool = False
) -> tuple[str, int]:
    """``text`` as a (host, port) pair; the host without brackets.

    ``default_port`` is the port of a text without one; without it the port is
    required. Port 0 ("any free port", for a listening socket) is refused unless
    ``port_zero``. Raises ``ValueError`` with a sentence saying what is wrong.
    """
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError("an IPv6 address is written [ADDRESS]:PORT")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, None
    if not host:
        raise ValueError("the host is missing")
    if port_text is None:
        if default_port is None:
            raise ValueError("the port is missing")
        return host, default_port
    if not port_text.isascii() or not port_text.isdigit():
        raise ValueError(f"the port {port_text!r} is not a number")
    port = int(port_text)
    if port > _MAX_PORT or (port == 0 and not port_zero):
        raise ValueError(f"the port {port} is out of range")
    return host, port


def host_port_text(host: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets: what ``parse_host_port`` reads."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
