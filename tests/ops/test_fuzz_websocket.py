"""10,000+ hostile websocket messages through the full ASGI application (Origin,
sessions, the guard, the consumer), from a seeded generator: invalid JSON,
wrong types, unknown types and fields, oversized frames, binary frames,
actions on another player's episode, replayed and out-of-order sequence
numbers, lone surrogates in any string or key, NaN/Infinity and numbers past
a float or past Python's integer-string limit, deep nesting.

Asserted for every message: exactly one reply, of the expected kind, a
documented error code (never ``server_error``, never a traceback), strict
JSON (no NaN/Infinity) that is UTF-8 encodable. At the end: both consumers
still alive, neither episode changed, both still verify by replay, and not one
error was logged. The counts are printed (issue 17)."""

from __future__ import annotations

import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from games.models import Episode, Step
from games.services import do_verify_episode
from play.limits import reset_action_limiter
from tests.support.personas import Persona
from tests.support.websocket import communicator

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.slow]

TIMEOUT = 20
MESSAGES = 10_000
DOCUMENTED_CODES = {
    "bad_json", "bad_message", "unknown_type", "protocol_version", "already_greeted", "hello_first",
    "forbidden", "invalid_action", "out_of_order", "step_conflict",
}  # fmt: skip
PLAYED = ["wait", "wait"]  # the player's real steps before the fuzzing: version 2

Case = tuple[str, str | bytes, str]  # (category, frame, expected: an error code, "pong" or "duplicate")


def fuzz_cases(rng: random.Random) -> Callable[[], Case]:
    junk_values: list[Any] = [None, True, -1, 1.5, "x", "", [], {}, [1], {"a": 1}, 2**70, "\u0000", "\ud800"]

    def invalid_json() -> Case:
        text = rng.choice(['{"type":"action"', "{'type':'ping'}", "nul", "[", '{"a":}', "\x00\x01", "{" * 50])
        return "invalid_json", text + "".join(rng.choices("{}[],:\"'ab1", k=rng.randint(0, 8))), "bad_json|bad_message"

    def not_an_object() -> Case:
        return "not_an_object", json.dumps(rng.choice([[], [1, 2], 3, "hello", None, 1.5, True])), "bad_message"

    def unknown_type() -> Case:
        kind = rng.choice(["fly", "ACTION", "", "hello ", "__class__", 7, None, ["action"], {"x": 1}])
        return "unknown_type", json.dumps({"type": kind, "seq": 2, "action": "right"}), "unknown_type"

    def wrong_types() -> Case:
        kind = rng.choice(["action", "sync", "options", "hello"])
        field = {"action": rng.choice(["seq", "action", "input", "source"]), "sync": "version",
                 "options": "observation", "hello": rng.choice(["version", "observation"])}[kind]  # fmt: skip
        message: dict[str, Any] = {"type": kind, "seq": 2, "action": "right", "version": 0, "observation": False}
        bad = rng.choice([v for v in junk_values if not _fits(kind, field, v)])
        message[field] = bad
        if kind == "hello" and field == "version" and bad is None:
            message["protocol"] = 99
        return "wrong_types", json.dumps(message), "bad_message|protocol_version"

    def unknown_fields() -> Case:
        # Unknown fields are ignored: on a replayed seq they must not turn a conflict into a step.
        extra = {rng.choice(["episode", "player", "user_id", "__proto__", "steps"]): rng.choice(junk_values[:10])}
        return "unknown_fields", json.dumps({"type": "action", "seq": 0, "action": "left", **extra}), "step_conflict"

    def huge_text() -> Case:
        filler = "x" * rng.randint(4097, 15000)
        return "huge_text", json.dumps({"type": "action", "seq": 2, "action": filler})[:15000], "bad_message|bad_json"

    def binary() -> Case:
        data = rng.choice([b"", b"\x00", json.dumps({"type": "ping"}).encode(), rng.randbytes(rng.randint(1, 3000))])
        return "binary", data or b"\x00", "bad_message"

    def replayed_seq() -> Case:
        seq = rng.randrange(len(PLAYED))
        if rng.random() < 0.5:
            return "replayed_same", json.dumps({"type": "action", "seq": seq, "action": PLAYED[seq]}), "duplicate"
        return "replayed_other", json.dumps({"type": "action", "seq": seq, "action": "right"}), "step_conflict"

    def out_of_order() -> Case:
        seq = rng.choice([3, 4, 100, 2**31, 2**63])
        return "out_of_order", json.dumps({"type": "action", "seq": seq, "action": "right"}), "out_of_order"

    def invalid_action() -> Case:
        action = rng.choice(["jump", "RIGHT", " right", "<script>alert(1)</script>", "é" * 255, "\tjump", "🐉" * 255])
        return "invalid_action", json.dumps({"type": "action", "seq": 2, "action": action}), "invalid_action"

    def second_hello() -> Case:
        return "second_hello", json.dumps({"type": "hello", "protocol": 1, "version": 0}), "already_greeted"

    def ping() -> Case:
        token = rng.choice([None, 0, -5, 1e300, -1e300, 2**70, "t", "é" * 64, "🐉" * 64])
        return "ping", json.dumps({"type": "ping", "t": token, "junk": [1] * 10}), "pong"

    def surrogates() -> Case:
        # A lone surrogate, escaped as JSON allows, in any string: a value or a key, of any message type.
        lone = rng.choice(["\\ud800", "\\udfff", "a\\udc00b", "\\ud83d"])
        kind = rng.choice(["action", "hello", "ping", "sync", "options", "abandon"])
        where = rng.choice(["action", "input", "source", "t", "key", "type"])
        fields = {"type": f'"{kind}"', "seq": "2", "action": '"right"', "version": "0", "protocol": "2"}
        if where == "key":
            fields[lone] = "1"
        else:
            fields[where] = f'"{lone}"'
        text = "{" + ",".join(f'"{name}":{value}' for name, value in fields.items()) + "}"
        return "surrogates", text, "bad_message"

    def non_finite() -> Case:
        number = rng.choice(
            ["NaN", "Infinity", "-Infinity", "1e999", "-1e400", "1" + "0" * 4000 + ".5", "-" + "9" * 4000 + "e10"]
        )
        kind, field = rng.choice([("ping", "t"), ("action", "seq"), ("sync", "version"), ("hello", "version")])
        text = f'{{"type":"{kind}","{field}":{number},"action":"right"}}'
        return "non_finite", text, "bad_json"

    def huge_numbers() -> Case:
        number = rng.choice([10**40, 2**64, 10**4000, -(2**63), 1e308, -0.0, 0.5])
        field = rng.choice(["seq", "version"])
        kind = "action" if field == "seq" else "sync"
        text = json.dumps({"type": kind, field: number, "action": "right"})
        if isinstance(number, float) or number < 0:
            return "huge_numbers", text, "bad_message"
        return "huge_numbers", text, "out_of_order" if kind == "action" else "snapshot"

    def deep_nesting() -> Case:
        depth = rng.choice([50, 900, 1500, 2000])
        nested = "[" * depth + "]" * depth
        text = rng.choice([nested, f'{{"type":"ping","t":{nested}}}', f'{{"type":"action","seq":{nested}}}'])
        return "deep_nesting", text, "bad_json|bad_message"

    makers = [invalid_json, not_an_object, unknown_type, wrong_types, unknown_fields, huge_text, binary,
              replayed_seq, out_of_order, invalid_action, second_hello, ping, surrogates, non_finite,
              huge_numbers, deep_nesting]  # fmt: skip
    return lambda: rng.choice(makers)()


def _fits(kind: str, field: str, value: Any) -> bool:
    """Would ``value`` be accepted for this field (then it is not a wrong type)?"""
    if field in ("seq", "version"):
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if field == "observation":
        return isinstance(value, bool)
    if field == "source":
        return value in ("key", "button", "text", "script")
    if field == "input":
        return isinstance(value, str)
    return isinstance(value, str) and bool(value.strip())


def intruder_case(rng: random.Random) -> Case:
    """pat on olga's episode: a viewer; every action or abandon is forbidden."""
    if rng.random() < 0.2:
        return "intruder_abandon", json.dumps({"type": "abandon"}), "forbidden"
    message = {"type": "action", "seq": rng.choice([0, 1, 5]), "action": rng.choice(["left", "right", "wait"])}
    return "intruder_action", json.dumps(message), "forbidden"


async def exchange(comm: WebsocketCommunicator, frame: str | bytes) -> dict[str, Any]:
    if isinstance(frame, bytes):
        await comm.send_to(bytes_data=frame)
    else:
        await comm.send_to(text_data=frame)
    output = await comm.receive_output(timeout=TIMEOUT)
    assert output["type"] == "websocket.send", output
    text = output["text"]
    text.encode("utf-8")  # what the server does with every text frame: must not raise
    reply: dict[str, Any] = json.loads(text, parse_constant=_not_json)  # strict: no NaN or Infinity out
    return reply


def _not_json(name: str) -> Any:
    raise AssertionError(f"the server sent {name}, which is not JSON")


def check_reply(case: Case, reply: dict[str, Any]) -> None:
    category, _, expected = case
    if expected in ("pong", "snapshot"):  # a sync ahead of the episode gets the current state
        assert reply["type"] == expected, (category, reply)
    elif expected == "duplicate":
        assert (reply["type"], reply["duplicate"], reply["version"]) == ("ack", True, len(PLAYED)), (category, reply)
    else:
        assert reply["type"] == "error", (category, reply)
        assert reply["code"] in expected.split("|") and reply["code"] in DOCUMENTED_CODES, (category, reply)
        assert reply["message"] and "Traceback" not in reply["message"], (category, reply)


@database_sync_to_async
def episode_state(episode: Episode) -> tuple[int, str, int]:
    episode.refresh_from_db()
    return episode.steps, episode.status, Step.objects.filter(episode=episode).count()


async def greet(comm: WebsocketCommunicator) -> None:
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "hello", "protocol": 2, "version": None})  # the browser's
    for _ in range(2):
        await comm.receive_json_from(timeout=TIMEOUT)


@override_settings(
    BALROG_WS_MESSAGES_PER_SECOND=1e9,  # the guard's limits are tested on their own;
    BALROG_WS_MESSAGE_BURST=10**9,  # here every message must reach the consumer
    BALROG_PLAY_ACTIONS_PER_SECOND=1e9,
    BALROG_PLAY_ACTION_BURST=10**9,
)
async def test_it_survives_ten_thousand_hostile_messages_without_a_state_change(
    toy_game: str, pat: Persona, olga: Persona, caplog: pytest.LogCaptureFixture
) -> None:
    reset_action_limiter()
    mine = await database_sync_to_async(pat.start)("toy", "corridor")
    theirs = await database_sync_to_async(olga.start)("toy", "corridor")
    player, intruder = communicator(mine.pk, pat), communicator(theirs.pk, pat)
    await greet(player)
    await greet(intruder)
    for seq, action in enumerate(PLAYED):
        await player.send_json_to({"type": "action", "seq": seq, "action": action})
        assert (await player.receive_json_from(timeout=TIMEOUT))["type"] == "frame"
        assert (await player.receive_json_from(timeout=TIMEOUT))["type"] == "ack"
    before = (await episode_state(mine), await episode_state(theirs))

    rng = random.Random(20261121)
    next_case = fuzz_cases(rng)
    seen: Counter[str] = Counter()
    replies: Counter[str] = Counter()
    started = time.perf_counter()
    for _ in range(MESSAGES):
        on_intruder = rng.random() < 0.1
        case = intruder_case(rng) if on_intruder else next_case()
        reply = await exchange(intruder if on_intruder else player, case[1])
        replies[reply.get("code", reply["type"])] += 1
        check_reply(case, reply)
        seen[case[0]] += 1
    elapsed = time.perf_counter() - started

    for comm in (player, intruder):  # both consumers alive and answering
        assert not comm.future.done()
        assert (await exchange(comm, json.dumps({"type": "ping", "t": "end"})))["t"] == "end"
    assert (await episode_state(mine), await episode_state(theirs)) == before
    assert before == ((len(PLAYED), "running", len(PLAYED)), (0, "running", 0))
    assert sum(seen.values()) == MESSAGES and len(seen) >= 18, seen
    verified = [await database_sync_to_async(do_verify_episode)(episode) for episode in (mine, theirs)]
    assert all(report.ok for report in verified), verified
    errors_logged = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert replies["server_error"] == 0 and not errors_logged, (replies, errors_logged[:3])
    print(f"\n{MESSAGES} fuzzed messages in {elapsed:.1f} s ({MESSAGES / elapsed:.0f}/s)")
    print(f"by case: {dict(sorted(seen.items()))}")
    print(f"by reply: {dict(sorted(replies.items()))}")
    print(
        f"server_error: {replies['server_error']}, error logs: {len(errors_logged)}, episodes verified: {len(verified)}"
    )
    await player.disconnect()
    await intruder.disconnect()
