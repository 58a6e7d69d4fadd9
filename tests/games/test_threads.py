"""The step pool's WorkerPool: outcomes reach the caller's loop or future,
and shutdown stops every thread after it closed its connections."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any
from unittest import mock

import pytest

from games.threads import WorkerPool


def boom() -> None:
    raise ValueError("boom")


def test_it_runs_a_call_for_a_loop_on_a_pool_thread() -> None:
    pool = WorkerPool(2, "test-pool")

    async def main() -> tuple[str, str]:
        name = await pool.run_soon(asyncio.get_running_loop(), lambda: threading.current_thread().name)
        return name, threading.current_thread().name

    try:
        worker, caller = asyncio.run(main())
    finally:
        pool.shutdown()
    assert worker.startswith("test-pool_") and worker != caller


def test_it_raises_the_calls_exception_in_the_loop() -> None:
    pool = WorkerPool(1, "test-pool")

    async def main() -> None:
        await pool.run_soon(asyncio.get_running_loop(), boom)

    try:
        with pytest.raises(ValueError, match="boom"):
            asyncio.run(main())
    finally:
        pool.shutdown()


def test_it_runs_calls_side_by_side_up_to_its_size() -> None:
    pool = WorkerPool(3, "test-pool")
    barrier = threading.Barrier(3, timeout=5)  # passes only if three calls run at once

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        return list(await asyncio.gather(*(pool.run_soon(loop, barrier.wait) for _ in range(3))))

    try:
        assert sorted(asyncio.run(main())) == [0, 1, 2]
    finally:
        pool.shutdown()


def test_it_keeps_the_executor_interface() -> None:
    pool = WorkerPool(1, "test-pool")
    try:
        assert pool.submit(pow, 2, 10).result(timeout=5) == 1024
        with pytest.raises(ValueError, match="boom"):
            pool.submit(boom).result(timeout=5)
    finally:
        pool.shutdown()


def test_it_runs_the_initializer_on_each_thread_first() -> None:
    local = threading.local()

    def mark() -> None:
        local.marked = True

    pool = WorkerPool(2, "test-pool", initializer=mark)
    try:
        assert pool.submit(lambda: getattr(local, "marked", False)).result(timeout=5) is True
    finally:
        pool.shutdown()
    assert getattr(local, "marked", False) is False  # not on the caller's thread


def test_it_skips_a_cancelled_future() -> None:
    pool = WorkerPool(1, "test-pool")
    gate = threading.Event()
    calls: list[str] = []
    try:
        blocker = pool.submit(gate.wait, 5)
        cancelled = pool.submit(calls.append, "ran")
        assert cancelled.cancel()
        gate.set()
        blocker.result(timeout=5)
        pool.submit(calls.append, "after").result(timeout=5)
    finally:
        pool.shutdown()
    assert calls == ["after"]


def test_it_closes_each_threads_connections_when_shut_down() -> None:
    pool = WorkerPool(3, "test-pool")
    closed_by: list[str] = []

    def record_close(*_: Any) -> None:
        closed_by.append(threading.current_thread().name)

    with mock.patch("games.threads.connections.close_all", side_effect=record_close):
        pool.shutdown(wait=True)
    assert sorted(closed_by) == ["test-pool_0", "test-pool_1", "test-pool_2"]
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(pow, 2, 2)


def test_it_keeps_the_connection_after_a_refusal_and_drops_it_after_a_database_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db import OperationalError

    from games import threads

    closed: list[str] = []
    monkeypatch.setattr(threads, "close_old_connections", lambda: closed.append("closed"))
    threads._local.checked_at = time.monotonic()  # the periodic check is not due

    def refuse() -> None:
        raise ValueError("not an action of this game")

    def lose_connection() -> None:
        try:
            raise OperationalError("server closed the connection unexpectedly")
        except OperationalError as exc:
            raise RuntimeError("step failed") from exc

    with pytest.raises(ValueError):
        threads.with_db_hygiene(refuse)()
    assert closed == []
    with pytest.raises(RuntimeError):
        threads.with_db_hygiene(lose_connection)()
    assert closed == ["closed"]
