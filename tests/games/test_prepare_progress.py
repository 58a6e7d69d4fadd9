"""prepare_games says what it builds before it starts, how many steps there are, the time
each took and the time left (a first run spends minutes here)."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from games.management.commands.prepare_games import progress_lines, time_left


def test_it_estimates_the_time_left_at_the_pace_so_far() -> None:
    assert time_left(0, 6, 0.0) == "time left: estimating"
    assert time_left(1, 6, 60.0) == "about 5 min left"
    assert time_left(3, 6, 30.0) == "about 30 s left"
    assert time_left(6, 6, 300.0) == "about 0 s left"


def test_it_announces_every_step_with_its_count_and_duration() -> None:
    out = StringIO()
    call_command("prepare_games", "--env", "textworld", stdout=out)  # the assets scripts/test prepared: cached
    lines = out.getvalue().splitlines()
    assert re.fullmatch(r"prepare_games: (\d+) game asset sets to check or build .*", lines[0])
    total = int(lines[0].split()[1])
    announced = [line for line in lines if re.match(r"\[\d+/\d+\] textworld \S+ \(\w+\): preparing… ", line)]
    assert len(announced) == total > 0
    assert announced[-1].startswith(f"[{total}/{total}]") and announced[-1].endswith(" left")
    assert all(re.search(r"\(\d+\.\d s\)$", line) for line in lines[2 : 2 * total + 1 : 2])
    assert lines[-1].startswith("prepare_games: done in ")


@pytest.mark.slow
def test_it_shows_each_game_built_under_its_step(tmp_path: Path, settings: Any) -> None:
    """A pool game generated (a fresh folder: the two smallest coin_collector games) is shown."""
    from games.textworld import pool

    settings.BALROG_GAME_DATA_DIR = tmp_path
    settings.BALROG_TEXTWORLD_POOL_SIZE = 2
    out = StringIO()
    with progress_lines(out):
        pool.prepare_pool("coin_collector", 2)
    assert out.getvalue().splitlines() == ["    generating pool game 1/2", "    generating pool game 2/2"]
