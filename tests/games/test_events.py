"""Step events reach the episode's group after commit, on either channel layer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections, transaction

from games.events import _broadcaster, _groups_with_members, emit_after_commit, episode_group
from games.models import Episode
from games.services import do_apply_action, do_start_episode

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def close_thread_connections():
    yield
    # sync_to_async ran the services in a worker thread with its own connection.
    await sync_to_async(connections.close_all)()


def start_toy() -> Episode:
    return do_start_episode(env="toy", task="corridor", seed=0, player_kind=Episode.PlayerKind.HUMAN)


async def events_until(channel: str, kind: str) -> list[dict]:
    """Events received up to and including the first of ``kind`` (a "started"
    event may still be in flight when the test starts listening)."""
    events: list[dict] = []
    while not events or events[-1]["kind"] != kind:
        events.append(await asyncio.wait_for(get_channel_layer().receive(channel), timeout=5))
    return events


async def listen(episode_id: int) -> str:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(episode_group(episode_id), channel)
    return channel


async def test_it_tells_viewers_of_each_committed_step(toy_game: str) -> None:
    episode = await sync_to_async(start_toy)()
    channel = await listen(episode.pk)
    await sync_to_async(do_apply_action)(episode.pk, index=0, action="right")
    event = (await events_until(channel, "step"))[-1]
    assert (event["type"], event["kind"], event["version"], event["index"]) == ("episode.event", "step", 1, 0)


async def test_it_sends_nothing_for_a_rolled_back_transaction(toy_game: str) -> None:
    episode = await sync_to_async(start_toy)()
    channel = await listen(episode.pk)

    def emit_then_roll_back() -> None:
        with transaction.atomic():
            emit_after_commit(episode.pk, "step", 99, {})
            transaction.set_rollback(True)
        emit_after_commit(episode.pk, "marker", 1, {})

    await sync_to_async(emit_then_roll_back)()
    received = await events_until(channel, "marker")
    assert [e["kind"] for e in received if e["kind"] != "started"] == ["marker"]


@pytest.mark.services
@pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis channel layer only (REDIS_URL)")
async def test_it_skips_empty_groups_yet_brings_a_late_viewer_up_to_date(toy_game: str) -> None:
    """Sends to a group nobody watches are skipped (the player's own socket is
    not in the group); a viewer that joins from another process right after a
    membership check still gets the newest step once the check expires."""
    episode = await sync_to_async(start_toy)()
    await sync_to_async(do_apply_action)(episode.pk, index=0, action="right")
    group = episode_group(episode.pk)
    broadcaster = _broadcaster()
    await _until(lambda: group in broadcaster.skipped)  # nobody watched step 1: not sent
    layer: Any = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)  # as another process would: no note_watched here
    await sync_to_async(do_apply_action)(episode.pk, index=1, action="right")
    event = (await events_until(channel, "step"))[-1]
    assert (event["kind"], event["version"]) == ("step", 2)


@pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis channel layer only (REDIS_URL)")
async def test_it_asks_redis_about_many_groups_at_once() -> None:
    layer: Any = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("presence-watched", channel)
    try:
        answers = await _groups_with_members(layer, ["presence-watched", "presence-empty", "presence-other"])
    finally:
        await layer.group_discard("presence-watched", channel)
    assert answers == {"presence-watched": True, "presence-empty": False, "presence-other": False}


async def _until(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_it_says_a_lost_broker_once_per_outage(caplog: pytest.LogCaptureFixture) -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    from games.events import _FailureReport

    report = _FailureReport()
    with caplog.at_level("WARNING", logger="games.events"):
        for index in range(50):  # every step's broadcast while Redis is away
            report.failed_to(f"episode-{index}", RedisConnectionError("Connection refused"))
        report.sent()
        report.sent()
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith("broadcasts failing (ConnectionError: Connection refused)")
    assert "50 failed meanwhile" in lines[1]
    assert all(record.exc_info is None for record in caplog.records)


def test_it_keeps_the_traceback_of_a_failure_that_is_not_a_lost_connection(caplog: pytest.LogCaptureFixture) -> None:
    from games.events import _FailureReport

    report = _FailureReport()
    with caplog.at_level("WARNING", logger="games.events"):
        report.failed_to("episode-1", TypeError("not serializable"))
    [record] = caplog.records
    assert record.levelname == "ERROR" and record.exc_info is not None
    assert report.failing_since is None
