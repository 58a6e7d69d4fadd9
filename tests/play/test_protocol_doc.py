"""docs/websocket-protocol.md against the server: its examples are played
through the full ASGI application, and the numbers it states are the code's."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.conf import settings

from play import protocol
from tests.support.personas import Persona
from tests.support.settings_files import PROTOCOL_DOC
from tests.support.websocket import TIMEOUT, communicator, start_toy_at


def examples() -> list[tuple[str, str]]:
    """The block after the ``protocol-examples`` marker: (direction, JSON text) pairs."""
    text = PROTOCOL_DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- protocol-examples -->\n```\n(.*?)```", text, re.S)
    assert block is not None, "the doc lost its examples block"
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    return [(line[0], line[1:].strip()) for line in lines]


def check_subset(documented: Any, actual: Any, where: str) -> None:
    """Every field the doc shows has the documented value (the others are free)."""
    if isinstance(documented, dict):
        assert isinstance(actual, dict), where
        for key, value in documented.items():
            assert key in actual, f"{where}.{key} missing from {actual}"
            check_subset(value, actual[key], f"{where}.{key}")
    elif isinstance(documented, list):
        assert isinstance(actual, list) and len(actual) == len(documented), f"{where}: {actual}"
        for index, (doc_item, item) in enumerate(zip(documented, actual, strict=True)):
            check_subset(doc_item, item, f"{where}[{index}]")
    else:
        assert actual == documented, f"{where}: the server says {actual!r}, the doc {documented!r}"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_it_answers_the_docs_examples_as_the_doc_says(toy_game: str, pat: Persona) -> None:
    episode = await start_toy_at(pat, 1)
    comm = communicator(episode.pk, pat)
    connected, _ = await comm.connect()
    assert connected
    pairs = examples()
    assert len(pairs) >= 20 and {direction for direction, _ in pairs} == {"→", "←"}
    for number, (direction, text) in enumerate(pairs, 1):
        if direction == "→":
            await comm.send_to(text_data=text)
            sent = text
            continue
        reply = json.loads((await comm.receive_output(timeout=TIMEOUT))["text"])
        check_subset(json.loads(text), reply, f"example line {number} (after {sent})")
        if reply["type"] == "frame":  # the doc's rule: unchanged actions are left out
            assert "actions" not in reply
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()


def test_it_states_the_codes_limits() -> None:
    text = PROTOCOL_DOC.read_text(encoding="utf-8")
    assert f"≤ {protocol.MAX_ACTION_CHARS} characters" in text
    assert f"limited to {protocol.MAX_MESSAGE_CHARS:,} characters" in text
    # The frame limit (ops.websocket) never cuts a message the protocol accepts: 4 UTF-8 bytes a character.
    assert settings.BALROG_WS_MAX_MESSAGE_BYTES >= 4 * protocol.MAX_MESSAGE_CHARS
    assert f"`BALROG_WS_MAX_MESSAGE_BYTES` ({settings.BALROG_WS_MAX_MESSAGE_BYTES:,} bytes by default" in text
    from games.textworld.adapter import MAX_COMMAND_BYTES

    assert f"input buffer of {MAX_COMMAND_BYTES} UTF-8 bytes" in text
    for code in ("bad_json", "bad_message", "unknown_type", "protocol_version", "not_running", "forbidden"):
        assert f"`{code}`" in text
    assert f"`protocol` ({protocol.PROTOCOL_VERSION} or 1" in text
