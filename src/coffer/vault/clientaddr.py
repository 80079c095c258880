"""Which address a request came from, when reverse proxies may stand in between.

Rules: ``X-Forwarded-For`` is believed only as far as the hops that wrote it are trusted. The
connection's peer is the last hop; if it is not a configured trusted proxy the header is ignored
and the peer is the client. Otherwise the header is read from the right (each proxy *appends*
the address it saw), skipping trusted proxies: the first address that is not a trusted proxy is
the client. The left part of the header is whatever the client sent, so it is never used. An
entry that is not an IP address ends the walk at the hop that passed it on. No proxy is trusted
by default (``--trusted-proxy CIDR`` adds them), and the web server's own proxy-header handling
is switched off so it cannot rewrite the peer first.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """``["10.0.0.0/8", "127.0.0.1"]`` → networks; ValueError names a bad entry."""
    out = []
    for text in cidrs:
        try:
            out.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an address or CIDR range: {text!r}") from None
    return tuple(out)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, nets: Sequence[Network]) -> bool:
    return any(addr in net for net in nets)


def client_address(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client's address: the rightmost hop that is not a trusted proxy."""
    peer_ip = _ip(peer)
    if not trusted or peer_ip is None or not _trusted(peer_ip, trusted) or not forwarded_for:
        return peer
    current = peer
    for entry in reversed(forwarded_for.split(",")):
        addr = _ip(entry)
        if addr is None:
            return current  # garbage can only come from an untrusted hop: stop at its receiver
        current = str(addr)
        if not _trusted(addr, trusted):
            return current
    return current
