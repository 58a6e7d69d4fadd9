"""Inputs a hostile client found answered wrongly (issue 17), through the full
ASGI application: unencodable strings, non-finite numbers, the command length
rule, and what the player's own action after the end gets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from games.models import Episode, Step
from games.registry import PROTOCOL_BALROG, PROTOCOL_BALROGWEB
from games.textworld.adapter import MAX_COMMAND_BYTES
from play.protocol import MAX_ACTION_CHARS, encode
from play.services import command_limits
from tests.support.personas import Persona
from tests.support.websocket import communicator

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

TIMEOUT = 20
BABYAI_TASK = "BabyAI-MixedTrainLocal-v0/goto"


async def greet(comm: WebsocketCommunicator) -> tuple[dict[str, Any], dict[str, Any]]:
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "hello", "protocol": 2, "version": None})
    welcome = await receive(comm)
    return welcome, await receive(comm)


async def receive(comm: WebsocketCommunicator) -> dict[str, Any]:
    text = (await comm.receive_output(timeout=TIMEOUT))["text"]
    text.encode("utf-8")
    reply: dict[str, Any] = json.loads(text, parse_constant=_refuse)  # strict JSON only
    return reply


def _refuse(name: str) -> Any:
    raise AssertionError(f"{name} is not JSON")


@database_sync_to_async
def start(persona: Persona, env: str, task: str) -> Episode:
    return persona.start(env, task)


@database_sync_to_async
def state_of(episode: Episode) -> tuple[int, str, int]:
    episode.refresh_from_db()
    return episode.steps, episode.status, Step.objects.filter(episode=episode).count()


LONE_SURROGATES = [
    '{"type":"action","seq":1,"action":"\\ud800"}',
    '{"type":"action","seq":1,"action":"pick up","input":"\\udfff"}',
    '{"type":"action","seq":1,"action":"pick up","source":"\\ud83d"}',
    '{"type":"action","seq":1,"action":"pick up","\\ud800":1}',
    '{"type":"ping","t":"\\ud800"}',
    '{"type":"hello\\ud800"}',
]


async def test_it_refuses_lone_surrogates_in_any_field_after_a_frame_in_babyai(pat: Persona) -> None:
    episode = await start(pat, "babyai", BABYAI_TASK)
    comm = communicator(episode.pk, pat)
    _, snapshot = await greet(comm)
    await comm.send_json_to({"type": "action", "seq": 0, "action": snapshot["actions"][0]})
    assert (await receive(comm))["type"] == "frame"
    assert (await receive(comm))["type"] == "ack"
    before = await state_of(episode)
    for text in LONE_SURROGATES:
        await comm.send_to(text_data=text)
        reply = await receive(comm)
        assert (reply["type"], reply["code"]) == ("error", "bad_message"), text
    assert await state_of(episode) == before == (1, "running", 1)
    await comm.disconnect()


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_it_refuses_non_finite_numbers_and_never_sends_them(toy_game: str, pat: Persona, number: str) -> None:
    episode = await start(pat, "toy", "corridor")
    comm = communicator(episode.pk, pat)
    await greet(comm)
    for text in (f'{{"type":"ping","t":{number}}}', f'{{"type":"action","seq":{number},"action":"left"}}'):
        await comm.send_to(text_data=text)
        reply = await receive(comm)
        assert (reply["type"], reply["code"]) == ("error", "bad_json"), text
    await comm.send_to(text_data='{"type":"ping","t":1e308}')
    assert (await receive(comm)) == {"type": "pong", "t": 1e308, "version": 0}
    assert await state_of(episode) == (0, "running", 0)
    await comm.disconnect()


async def test_it_encodes_strictly_even_when_a_game_gives_a_non_finite_number() -> None:
    text = encode({"hud": {"return": float("nan"), "ratio": [float("inf"), 1.5]}, "text": "é"})
    assert text == '{"hud":{"return":null,"ratio":[null,1.5]},"text":"é"}'


async def test_it_tells_the_browser_the_command_limits_the_parser_and_the_game_apply(pat: Persona) -> None:
    episode = await start(pat, "babyai", BABYAI_TASK)
    comm = communicator(episode.pk, pat)
    welcome, _ = await greet(comm)
    assert welcome["episode"]["command_limits"] == {"chars": MAX_ACTION_CHARS, "utf8_bytes": None}
    await comm.disconnect()
    textworld = Episode(env="textworld", task="treasure_hunter", options={"protocol": PROTOCOL_BALROGWEB})
    assert command_limits(textworld) == {"chars": 255, "utf8_bytes": MAX_COMMAND_BYTES}
    textworld.options = {"protocol": PROTOCOL_BALROG}  # the reference's action space is every string
    assert command_limits(textworld) == {"chars": 255, "utf8_bytes": None}


async def test_it_counts_an_actions_length_in_characters(toy_game: str, pat: Persona) -> None:
    episode = await start(pat, "toy", "corridor")
    comm = communicator(episode.pk, pat)
    await greet(comm)
    # 255 non-ASCII characters (510 UTF-8 bytes) pass the parser; the toy game refuses the action itself.
    await comm.send_json_to({"type": "action", "seq": 0, "action": "é" * MAX_ACTION_CHARS})
    assert (await receive(comm))["code"] == "invalid_action"
    await comm.send_json_to({"type": "action", "seq": 0, "action": "é" * (MAX_ACTION_CHARS + 1)})
    refused = await receive(comm)
    assert refused["code"] == "bad_message" and "255 characters" in refused["message"]
    await comm.disconnect()


async def test_it_answers_the_players_action_after_the_end_with_not_running_then_ended(
    toy_game: str, pat: Persona
) -> None:
    episode = await start(pat, "toy", "corridor")
    comm = communicator(episode.pk, pat)
    await greet(comm)
    await comm.send_json_to({"type": "abandon"})
    assert (await receive(comm))["type"] == "ended"
    for message in ({"type": "action", "seq": 0, "action": "left"}, {"type": "abandon"}):
        await comm.send_json_to(message)
        refused = await receive(comm)
        assert (refused["type"], refused["code"]) == ("error", "not_running")
        assert refused.get("seq") == message.get("seq")
        assert (await receive(comm))["type"] == "ended"
    await comm.disconnect()
    # The same after a reload: the page of one's own ended episode.
    again = communicator(episode.pk, pat)
    welcome, _ = await greet(again)
    assert welcome["role"] == "viewer"
    await again.send_json_to({"type": "action", "seq": 0, "action": "left"})
    assert (await receive(again))["code"] == "not_running"
    assert (await receive(again))["type"] == "ended"
    await again.disconnect()
