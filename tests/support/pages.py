"""The pages through Django's test client, as a person's browser asks for them."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from django.test import Client

from games.models import Episode
from tests.support.games import BABYAI_TASK
from tests.support.personas import Persona

HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"  # what a browser sends (Accept)


def logged_in(persona: Persona) -> Client:
    client = Client()
    client.force_login(persona.user)
    return client


def start_anonymously(client: Client, task: str = BABYAI_TASK, **data: str) -> Episode:
    response = client.post(f"/play/babyai/?task={task}", {"task": task, "nickname": "Zed", "seed": "random", **data})
    assert response.status_code == 302, response.content.decode()[:2000]
    return Episode.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))


def streamed(response: Any) -> str:
    """The body of a streamed response (a CSV or JSONL export)."""
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode()  # type: ignore[arg-type]
