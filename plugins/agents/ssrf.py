"""The SSRF guard of provider URLs: what kind of address a host is, and whether it may be used.

``classify(address)`` names the range of one IP address; ``check_url(url, allowlist)`` resolves
the host and refuses loopback, private, link-local, metadata and other non-public addresses
unless an admin put them on the allowlist (hosts or CIDRs; metadata addresses need an exact
entry). It is checked when a provider is saved and again before every call (DNS may change).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

IP = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
SHARED = ipaddress.ip_network("100.64.0.0/10")


class Refused(ValueError):
    """The URL may not be used; the message says why."""


def classify(address: IP) -> str:
    """``public``, or the range that makes it unsafe: metadata, loopback, link_local, private,
    shared (carrier-grade NAT), unspecified, multicast, reserved."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return classify(address.ipv4_mapped)
    checks = (
        ("metadata", address in METADATA),
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link_local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("shared", isinstance(address, ipaddress.IPv4Address) and address in SHARED),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("reserved", not address.is_global),
    )
    return next((name for name, hit in checks if hit), "public")


def allowed(address: IP, host: str, allowlist: Sequence[str]) -> bool:
    for entry in allowlist:
        if entry.lower() == host.lower():
            return True
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if address in network and (address not in METADATA or network.num_addresses == 1):
            return True
    return False


def resolve(host: str) -> list[IP]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"cannot resolve {host!r}: {exc}") from exc
    return sorted({ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}, key=str)


def check_url(url: str, allowlist: Sequence[str]) -> str:
    """The URL when every address of its host may be used; :class:`Refused` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("base_url must be an http(s) URL with a host")
    if parts.username or parts.password:
        raise Refused("base_url must not carry credentials")
    for address in resolve(parts.hostname):
        kind = classify(address)
        if kind != "public" and not allowed(address, parts.hostname, allowlist):
            raise Refused(
                f"{parts.hostname} is a {kind} address ({address}); an admin must allowlist it "
                "(QUARKBOT_AGENTS_ALLOWLIST)"
            )
    return url
