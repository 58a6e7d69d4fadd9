"""/static/ through the real ASGI application: answered whole, with the
file's headers, and without Django's per-request warning about draining a
synchronous iterator under ASGI."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import pytest
from django.http import HttpRequest

from balrogweb.asgi import application
from ops.static import serve_static
from tests.support.settings_files import ROOT

SCRIPT = "play/js/socket.js"


async def asgi_get(path: str, *headers: tuple[bytes, bytes]) -> tuple[int, dict[bytes, bytes], bytes]:
    scope = {
        "type": "http", "method": "GET", "path": path, "query_string": b"", "http_version": "1.1",
        "asgi": {"version": "3.0"}, "headers": [(b"host", b"127.0.0.1"), *headers],
    }  # fmt: skip
    requested = asyncio.Event()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if not requested.is_set():
            requested.set()
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await application(scope, receive, send)
    start, bodies = sent[0], sent[1:]
    return start["status"], dict(start["headers"]), b"".join(part.get("body", b"") for part in bodies)


def test_it_serves_a_script_whole_without_warnings() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status, headers, body = asyncio.run(asgi_get(f"/static/{SCRIPT}"))
    assert status == 200
    assert body == (ROOT / "static" / SCRIPT).read_bytes()
    assert headers[b"Content-Type"].startswith(b"text/javascript")
    assert headers[b"Content-Length"] == str(len(body)).encode() and b"Last-Modified" in headers
    assert [str(warning.message) for warning in caught] == []


def test_it_answers_not_modified_to_a_fresh_copy() -> None:
    _, headers, _ = asyncio.run(asgi_get(f"/static/{SCRIPT}"))
    status, _, body = asyncio.run(asgi_get(f"/static/{SCRIPT}", (b"if-modified-since", headers[b"Last-Modified"])))
    assert (status, body) == (304, b"")


def test_it_streams_a_file_too_big_to_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ops.static.MAX_WHOLE_BYTES", 100)
    request = HttpRequest()
    request.method = "GET"
    response: Any = serve_static(request, SCRIPT)
    assert response.streaming and b"".join(response.streaming_content) == (ROOT / "static" / SCRIPT).read_bytes()
    response.file_to_stream.close()


@pytest.mark.parametrize(("path", "expected"), [("/static/no/such/file.js", 404), ("/static/../manage.py", 400)])
def test_it_serves_nothing_outside_its_files(path: str, expected: int) -> None:
    status, _, body = asyncio.run(asgi_get(path))
    assert status == expected and b"import" not in body
