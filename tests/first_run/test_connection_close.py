"""A response sent before the request body was read closes the connection (the real server).

A keep-alive client would otherwise write its next request into a connection whose unread
body the server is still holding, or has dropped.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from .helpers import clean_env, serving

pytestmark = pytest.mark.e2e


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def _closed_by_peer(sock: socket.socket) -> bool:
    sock.settimeout(10)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_413_before_the_body_closes_the_connection(tmp_path):
    with serving(clean_env(tmp_path / "var"), tmp_path, args=("--no-worker",)) as served:
        address = urlsplit(served.base_url)
        with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
            sock.sendall(
                b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 5000000\r\n\r\n{"
            )
            status, headers, _ = _read_response(sock)
            assert status == 413
            assert headers.get("connection") == "close", headers
            assert _closed_by_peer(sock)

        # an ordinary keep-alive exchange stays open: two requests on one connection
        with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
            for _ in range(2):
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                status, headers, _ = _read_response(sock)
                assert status == 200
                assert headers.get("connection") != "close", headers
            body = b'{"username": "nobody", "password": "wrong"}'
            sock.sendall(
                b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            status, headers, _ = _read_response(sock)
            assert status == 401  # the body was read: the connection stays usable
            assert headers.get("connection") != "close", headers
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _read_response(sock)[0] == 200
