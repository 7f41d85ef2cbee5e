"""The webhook guard: a notification may only reach public addresses, unless an admin
allowlists a network (``QUARKBOT_ALERTS_WEBHOOK_ALLOWLIST``).

URLs are http or https only. The host name is resolved first and every address it resolves
to is classified (:func:`refusal`): loopback, private, link-local, cloud metadata, shared
(carrier-grade NAT), multicast, reserved and unspecified addresses are refused, including their
IPv4-mapped IPv6 forms. The request then goes to the address that was checked (no second
resolution for a rebinding DNS server to change) and never follows redirects.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from quarkbot.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: instance metadata services (AWS, GCP and Azure; Alibaba; Oracle; AWS over IPv6)
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "100.100.100.200", "192.0.0.192", "fd00:ec2::254")
)
SHARED = ipaddress.ip_network("100.64.0.0/10")


def refusal(address: IPAddress) -> str | None:
    """Why a notification must not go to ``address``, or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal(address.ipv4_mapped)
    if address in METADATA:
        return "a cloud metadata address"
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (isinstance(address, ipaddress.IPv4Address) and address in SHARED, "a shared address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "not a public address"),
    )
    return next((reason for hit, reason in checks if hit), None)


def allowed(address: IPAddress, allowlist: Iterable[str]) -> bool:
    return any(address in ipaddress.ip_network(net, strict=False) for net in allowlist)


@dataclass(frozen=True)
class Destination:
    """A checked URL: where to connect (``address``) and what to send as Host and SNI."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress

    @property
    def pinned_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return parts._replace(netloc=f"{literal}:{self.port}").geturl()


def _bad(msg: str) -> Invalid:
    return Invalid.at(["body", "config", "url"], msg)


async def resolve(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


async def check_url(url: str, allowlist: Iterable[str]) -> Destination:
    """The destination of ``url`` once every address it resolves to is acceptable.

    Raises ``Invalid`` (422, at ``body.config.url``) with the reason otherwise.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise _bad("the URL must be http or https")
    if not parts.hostname:
        raise _bad("the URL has no host")
    if parts.username or parts.password:
        raise _bad("credentials in the URL are refused; use the signing secret")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise _bad("the URL has an invalid port") from exc
    try:
        addresses = await resolve(parts.hostname, port)
    except (OSError, UnicodeError) as exc:
        raise _bad(f"the host {parts.hostname!r} does not resolve") from exc
    allow = list(allowlist)
    for address in addresses:
        reason = refusal(address)
        if reason is not None and not allowed(address, allow):
            raise _bad(
                f"the host {parts.hostname!r} resolves to {address}, {reason}; "
                "an admin may allow it with QUARKBOT_ALERTS_WEBHOOK_ALLOWLIST"
            )
    if not addresses:
        raise _bad(f"the host {parts.hostname!r} does not resolve")
    return Destination(url, parts.scheme, parts.hostname, port, addresses[0])
