"""Viewers see episodes other processes run, on the embedded default (the
in-memory channel layer, which carries no event between processes): the
consumer falls back to play.feed, which reads versions from the database."""

from __future__ import annotations

import asyncio
from pathlib import Path
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from django.db import transaction
from django.test import override_settings

from games.services import do_apply_action, do_end_episode
from tests.support.livefeed import (
    committed_steps,
    prepare,
    process_env,
    start_evaluation,
    start_server,
    wait_for_episode,
    watch,
)
from tests.support.personas import Persona
from tests.support.settings_files import ROOT
from tests.support.websocket import TIMEOUT, communicator, say_hello, start

IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
MOVES = ["right", "left"]  # from cell 0..2: never the pit, never the goal


@database_sync_to_async
def step_elsewhere(episode_id: int, *indexes: int) -> None:
    """Steps written as another process writes them (their events never reach
    this one), committed together."""
    with mock.patch("games.events.send_event"), transaction.atomic():
        for index in indexes:
            do_apply_action(episode_id, index=index, action=MOVES[index % 2])


@database_sync_to_async
def abandon_elsewhere(episode_id: int) -> None:
    with mock.patch("games.events.send_event"):
        do_end_episode(episode_id, detail="abandoned in another process")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@override_settings(CHANNEL_LAYERS=IN_MEMORY)
async def test_it_feeds_a_viewer_the_steps_another_process_writes(toy_game: str, pat: Persona, olga: Persona) -> None:
    episode = await start(pat, "toy", "corridor")
    viewer = communicator(episode.pk, olga)
    welcome, snapshot = await say_hello(viewer)
    assert (welcome["role"], welcome["feed"], snapshot["version"]) == ("viewer", "poll", 0)
    seen = []
    for index in range(3):  # paced as a model plays: one step per poll or more
        await step_elsewhere(episode.pk, index)
        message = await viewer.receive_json_from(timeout=TIMEOUT)
        assert message["type"] == "step"
        seen.append((message["version"], message["step"]["index"], message["step"]["action"]))
    assert seen == [(i + 1, i, MOVES[i % 2]) for i in range(3)]

    await step_elsewhere(episode.pk, 3, 4)  # two between polls: the gap comes as a snapshot listing both
    burst = await viewer.receive_json_from(timeout=TIMEOUT)
    assert (burst["type"], burst["version"], burst["since"]) == ("snapshot", 5, 3)
    assert [(s["index"], s["action"]) for s in burst["missed"]] == [(3, MOVES[1]), (4, MOVES[0])]

    await abandon_elsewhere(episode.pk)
    ended = await viewer.receive_json_from(timeout=TIMEOUT)
    assert (ended["type"], ended["status"], ended["end"]["reason"]) == ("ended", "abandoned", "abandoned")
    await asyncio.sleep(0.6)  # two poll intervals: an ended episode is no longer polled or re-announced
    assert await viewer.receive_nothing(timeout=0.1)
    await viewer.disconnect()


@pytest.mark.slow
def test_it_shows_a_viewer_every_step_of_a_cli_evaluation_live(tmp_path: Path) -> None:
    """``manage.py evaluate`` in its own process, ``manage.py serve`` in another,
    both on one SQLite database and no Redis: a websocket viewer on the server
    gets every step after its snapshot, in order, then the end."""
    from agents.devserver import start_dev_server

    model = start_dev_server()
    try:
        env = process_env(ROOT, tmp_path)
        prepare(ROOT, env, model.url, "random@0.4")  # ~19 steps over ~8 s
        server, port = start_server(ROOT, env, tmp_path / "server.log")
        try:
            evaluation = start_evaluation(ROOT, env, tmp_path / "evaluate.log")
            episode_id = wait_for_episode(tmp_path, evaluation)
            seen = asyncio.run(watch(port, episode_id, seconds=90))
            assert evaluation.wait(timeout=60) == 0
        finally:
            server.terminate()
            server.wait(timeout=20)
    finally:
        model.shutdown()
        model.server_close()
    steps = committed_steps(tmp_path, episode_id)
    first = int(seen.snapshot["version"])
    assert seen.welcome["feed"] == "poll" and seen.end is not None and seen.end["steps"] == len(steps)
    assert len(seen.steps) >= 3, "the episode ended before the viewer could see it live"
    received = [(m["version"], m["step"]["index"], m["step"]["action"]) for m in seen.steps]
    assert received == [(index + 1, index, action) for index, action, _ in steps[first:]]
