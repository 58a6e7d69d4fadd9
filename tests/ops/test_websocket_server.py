"""Websocket handshakes the guard refuses, against the production server
(``manage.py serve``, uvicorn): a 4xx answer and not one error in the log,
where an unrouted path used to be an HTTP 500 with a traceback (issue 17)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.support.servers import Server, base_env

pytestmark = pytest.mark.slow


def handshake(port: int, path: str, origin: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
            ).encode()
        )
        return conn.recv(200).split(b"\r\n")[0]


def test_it_refuses_unrouted_paths_and_foreign_origins_with_a_403_and_no_error_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = Server(base_env(tmp_path), log)
    try:
        own = f"http://127.0.0.1:{server.port}"
        cases = [
            ("/ws/nothing/", own),
            ("/ws/episodes/x/", own),
            ("/ws/", own),
            ("/ws/episodes/1/", "http://127.0.0.1:1"),  # another port
            ("/ws/episodes/1/", f"https://127.0.0.1:{server.port}"),  # another scheme
            ("/ws/episodes/1/", "http://evil.example"),
        ]
        for path, origin in cases:
            assert handshake(server.port, path, origin) == b"HTTP/1.1 403 Forbidden", (path, origin)
    finally:
        server.stop()
    text = log.read_text(errors="replace")
    assert "ERROR" not in text and "Traceback" not in text, text[-2000:]
