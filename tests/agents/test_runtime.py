"""The periodic recovery sweep's thread: it sweeps at once, then on its
interval, until stopped. Every wait here is on an event the sweep sets; the
timeouts only keep a broken sweeper from hanging the suite."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from agents import runtime

REAL_ENSURE_SWEEPER = runtime.ensure_sweeper  # tests/conftest.py replaces it in every test


class Sweeps:
    """A sweep that counts its calls and signals when it reached ``wanted``."""

    def __init__(self, wanted: int) -> None:
        self.count = 0
        self.wanted = wanted
        self.reached = threading.Event()

    def __call__(self) -> None:
        self.count += 1
        if self.count >= self.wanted:
            self.reached.set()


def sweep_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "agents-sweep"]


def test_it_sweeps_at_once_then_on_its_interval_until_stopped() -> None:
    sweeps = Sweeps(wanted=3)
    sweeper = runtime.Sweeper(sweeps, interval=0.01)
    assert sweeps.reached.wait(timeout=60)
    assert sweeper.stop(timeout=60)
    after_stop = sweeps.count
    assert not sweeper.alive() and after_stop >= 3
    assert sweeps.count == after_stop  # the thread has exited: no sweep can follow


def test_it_keeps_one_sweeper_per_process_with_the_interval_read_at_start(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "ensure_sweeper", REAL_ENSURE_SWEEPER)
    settings.BALROG_AGENT_SWEEP_SECONDS = 3600.0
    first = Sweeps(wanted=1)
    runtime.ensure_sweeper(first)
    assert first.reached.wait(timeout=60)  # the first sweep runs at once
    settings.BALROG_AGENT_SWEEP_SECONDS = 0.01  # too late: the running sweeper keeps its interval
    second = Sweeps(wanted=1)
    runtime.ensure_sweeper(second)
    assert len(sweep_threads()) == 1
    assert runtime.stop_sweeper(timeout=60)
    assert (first.count, second.count) == (1, 0) and sweep_threads() == []
    assert runtime.stop_sweeper(timeout=60)  # none left: stopping again is a no-op


def test_the_pages_start_no_sweep_during_tests(client: Any, db: None) -> None:
    """The guard of tests/conftest.py: a page that starts the sweep on the embedded default starts none here."""
    assert client.get("/agents/").status_code == 200
    assert sweep_threads() == []
