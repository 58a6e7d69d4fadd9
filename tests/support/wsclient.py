"""A minimal websocket client for balrogweb's episode socket and the pages
that start an episode: what the benchmarks (bench/) and the fault tests drive
a real server process with. Plain asyncio streams, no dependency: the client's
own cost stays small and known next to the server's."""

from __future__ import annotations

import asyncio
import base64
import http.cookiejar
import json
import os
import re
import socket
import struct
import time
import urllib.parse
import urllib.request


class Closed(Exception):
    pass


class ServerDown(RuntimeError):
    pass


class WebSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, host: str, port: int, path: str, cookie: str) -> WebSocket:
        reader, writer = await asyncio.open_connection(host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{host}:{port}\r\n"
            f"Cookie: {cookie}\r\n\r\n"
        )
        writer.write(request.encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise Closed(head.split(b"\r\n", 1)[0].decode(errors="replace"))
        return cls(reader, writer)

    def send(self, text: str) -> None:
        payload = text.encode()
        size = len(payload)
        if size < 126:
            header = struct.pack("!BB", 0x81, 0x80 | size)
        elif size < 65536:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, size)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, size)
        # A zero masking key: the payload goes as is (the protocol only requires a key).
        self.writer.write(header + b"\0\0\0\0" + payload)

    async def receive(self) -> str:
        parts: list[bytes] = []
        while True:
            first, second = await self.reader.readexactly(2)
            size = second & 0x7F
            if size == 126:
                (size,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif size == 127:
                (size,) = struct.unpack("!Q", await self.reader.readexactly(8))
            mask = await self.reader.readexactly(4) if second & 0x80 else b""
            payload = await self.reader.readexactly(size)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = first & 0x0F
            if opcode == 0x8:
                raise Closed("closed by the server")
            if opcode == 0x9:
                self.writer.write(struct.pack("!BB", 0x8A, 0x80 | len(payload)) + b"\0\0\0\0" + payload)
                continue
            if opcode in (0x1, 0x0):
                parts.append(payload)
                if first & 0x80:
                    return b"".join(parts).decode()

    def close(self) -> None:
        self.writer.close()


def start_episode(base: str, env: str, task: str, jar: http.cookiejar.CookieJar | None = None) -> tuple[int, str]:
    """One anonymous player starts an episode through the pages; (episode id, cookie header)."""
    jar = jar if jar is not None else http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    url = f"{base}/play/{env}/?task={urllib.parse.quote(task)}"
    opener.open(url, timeout=30).read()
    cookies = {cookie.name: cookie.value for cookie in jar}
    form = {"csrfmiddlewaretoken": cookies["csrftoken"], "task": task, "nickname": "bench", "seed": "random"}
    with opener.open(url, data=urllib.parse.urlencode(form).encode(), timeout=60) as response:
        match = re.search(r"/episodes/(\d+)/$", response.url)
        if not match:
            raise RuntimeError(f"no episode after POST: {response.url}")
    cookies = {cookie.name: cookie.value for cookie in jar}
    return int(match.group(1)), f"sessionid={cookies['sessionid']}; csrftoken={cookies['csrftoken']}"


def wait_up(base: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/static/play/css/play.css", timeout=2).read()
            return
        except OSError:
            time.sleep(0.3)
    raise ServerDown(f"the server at {base} did not answer")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# What a socket that broke under a fault raises: the server closed it, the
# stream ended mid-frame, the connection was refused or reset, or no answer came.
DISCONNECTED = (Closed, asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError, OSError)


async def hello(ws: WebSocket, version: int | None) -> dict[str, object]:
    """The snapshot the server answers a hello (protocol 1) with."""
    ws.send(json.dumps({"type": "hello", "protocol": 1, "version": version}))
    while True:
        message = json.loads(await asyncio.wait_for(ws.receive(), 20))
        if message["type"] == "snapshot":
            return dict(message)
        if message["type"] == "error":  # e.g. "unavailable" while the database is down: no snapshot follows
            raise Closed(f"hello refused: {message.get('code')}")


async def send_action(ws: WebSocket, seq: int, action: str, timeout: float = 20) -> dict[str, object] | None:
    """The reply (ack or error) to one action sent as the browser sends it;
    None if the socket broke first."""
    ws.send(json.dumps({"type": "action", "seq": seq, "action": action, "input": action}))
    try:
        while True:
            reply: dict[str, object] = json.loads(await asyncio.wait_for(ws.receive(), timeout))
            if reply["type"] in ("ack", "error"):
                return reply
    except DISCONNECTED:
        return None
