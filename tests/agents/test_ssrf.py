"""The SSRF guard's address classifier on every range (no request is sent anywhere)."""

from __future__ import annotations

import ipaddress

import pytest

from quarkbot_plugins.agents.ssrf import Refused, allowed, check_url, classify

CASES = [
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("172.31.255.255", "private"),
    ("192.168.0.1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.1.1", "link_local"),
    ("fe80::1", "link_local"),
    ("169.254.169.254", "metadata"),
    ("169.254.170.2", "metadata"),
    ("100.100.100.200", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("100.64.0.1", "shared"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("192.0.2.7", "private"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:169.254.169.254", "metadata"),
    ("8.8.8.8", "public"),
    ("1.1.1.1", "public"),
    ("2606:4700:4700::1111", "public"),
    ("172.32.0.1", "public"),
]


@pytest.mark.parametrize(("address", "kind"), CASES)
def test_classify(address: str, kind: str) -> None:
    assert classify(ipaddress.ip_address(address)) == kind


def test_allowlist() -> None:
    loop = ipaddress.ip_address("127.0.0.1")
    assert allowed(loop, "127.0.0.1", ["127.0.0.0/8"])
    assert not allowed(ipaddress.ip_address("10.0.0.1"), "10.0.0.1", ["127.0.0.0/8"])
    meta = ipaddress.ip_address("169.254.169.254")
    assert not allowed(meta, "169.254.169.254", ["169.254.0.0/16"])  # needs an exact entry
    assert allowed(meta, "169.254.169.254", ["169.254.169.254/32"])
    assert allowed(ipaddress.ip_address("192.168.1.2"), "ollama.lan", ["ollama.lan"])


def test_check_url_uses_literals_without_sending() -> None:
    assert check_url("http://8.8.8.8/v1", []) == "http://8.8.8.8/v1"
    with pytest.raises(Refused, match="loopback"):
        check_url("http://127.0.0.1:1/v1", [])
    with pytest.raises(Refused, match="metadata"):
        check_url("http://169.254.169.254/", ["169.254.0.0/16"])
    with pytest.raises(Refused, match="http"):
        check_url("gopher://8.8.8.8/", [])
