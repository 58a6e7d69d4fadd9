"""NetHack and MiniHack on the reference protocol (games/nethack/reference.py)."""

from __future__ import annotations

import datetime
import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.conf import settings
from PIL import Image

from games.base import state_digest
from games.nethack import sidecar
from games.nethack.reference import (
    AUTO_MORE_2024,
    AUTO_MORE_2025,
    DEFAULT_CLOCK,
    ReferenceMiniHackAdapter,
    ReferenceNetHackAdapter,
    draw_level,
    find_level,
    level_file,
    log_options,
)

SHARED = Path(settings.BASE_DIR).parent / "shared" / "data"
needs_engine = pytest.mark.skipif(not sidecar.available(), reason="needs .venv-nle09 and libfaketime (bootstrap)")


@pytest.fixture
def nethack() -> Iterator[ReferenceNetHackAdapter]:
    adapter = ReferenceNetHackAdapter("NetHackChallenge-v0", {"protocol": "balrog"})
    yield adapter
    adapter.close()


def test_it_draws_boxoban_levels_as_the_reference() -> None:
    # The golden cases' knobs: random.choice after random.seed(seed), files sorted.
    assert draw_level("hard", 0) == "001.txt:577"
    assert draw_level("hard", 1) == "000.txt:550"
    assert draw_level("medium", 0) == "442.txt:720"


def test_it_reads_levels_as_the_reference() -> None:
    levels = level_file("hard", "000.txt")
    assert len(levels) == 1000
    assert all(len(level.splitlines()) == 10 and level.endswith("#\n") for level in levels)


def test_it_pins_its_options_at_construction() -> None:
    adapter = ReferenceMiniHackAdapter("MiniHack-Boxoban-Hard-v0", {"protocol": "balrog"})
    assert adapter.options["clock_utc"] == DEFAULT_CLOCK
    assert adapter.options["auto_more"] == AUTO_MORE_2025
    assert adapter.options["boxoban_level"] == "draw"
    with pytest.raises(ValueError):
        ReferenceNetHackAdapter("NetHackChallenge-v0", {"clock_utc": "tomorrow"})


def test_it_replays_2024_logs_with_the_handling_and_clock_of_then() -> None:
    options = log_options("NetHackChallenge-v0", 3, [], datetime.date(2024, 10, 30))
    assert options == {"clock_utc": "2024-11-01 12:00:00", "auto_more": AUTO_MORE_2024}
    assert log_options("NetHackChallenge-v0", 3, [], datetime.date(2025, 6, 2))["auto_more"] == AUTO_MORE_2025


@needs_engine
def test_it_treats_digits_its_wrapper_cannot_run_as_invalid(nethack: ReferenceNetHackAdapter) -> None:
    nethack.reset(0)
    assert "73" in nethack.action_space()
    assert not nethack.is_valid("73")
    assert nethack.is_valid("esc") and nethack.is_valid("j")
    result = nethack.step("73")
    assert (result.valid, result.action, result.executed) == (False, "esc", ["esc"])


@needs_engine
def test_it_replays_recorded_steps_to_the_same_state(nethack: ReferenceNetHackAdapter) -> None:
    nethack.reset(5)
    executed = [nethack.step(action).executed for action in ("search", "north", "i", "esc")]
    digest, frame = nethack.digest(), nethack.frame()
    assert len(frame["rows"]) == 24 and nethack.render_png().startswith(b"\x89PNG")
    again = ReferenceNetHackAdapter("NetHackChallenge-v0", nethack.options)
    try:
        again.reset(5)
        for raw in executed:
            again.replay(raw)
        assert again.digest() == digest
    finally:
        again.close()


@needs_engine
def test_it_finds_a_boxoban_level_from_its_first_map() -> None:
    adapter = ReferenceMiniHackAdapter("MiniHack-Boxoban-Hard-v0", {"boxoban_level": "002.txt:17"})
    try:
        adapter.reset(0)
        assert find_level("hard", adapter.observation().long_term) == "002.txt:17"
    finally:
        adapter.close()


@needs_engine
def test_it_keeps_its_engine_when_the_thread_that_started_it_ends() -> None:
    # Web and worker processes reset games on pool threads that come and go.
    adapter = ReferenceNetHackAdapter("NetHackChallenge-v0", {"protocol": "balrog"})
    try:
        starter = threading.Thread(target=adapter.reset, args=(3,))
        starter.start()
        starter.join()
        time.sleep(0.2)
        assert adapter.step("south").valid and adapter.steps == 1
    finally:
        adapter.close()


@needs_engine
def test_it_refuses_to_step_an_engine_that_died(nethack: ReferenceNetHackAdapter) -> None:
    nethack.reset(3)
    nethack._sidecar.engine.close()  # as if the engine process had been killed
    with pytest.raises(sidecar.SidecarError, match="must be rebuilt"):
        nethack.step("south")


@needs_engine
def test_it_plays_many_games_in_one_engine_without_mixing_them() -> None:
    alone = ReferenceNetHackAdapter("NetHackChallenge-v0", {"protocol": "balrog"})
    alone.reset(7)
    alone.step("south")
    expected = alone.observation()
    alone.close()
    games = [ReferenceNetHackAdapter("NetHackChallenge-v0", {"protocol": "balrog"}) for _ in range(3)]
    try:
        for seed, game in zip((7, 8, 7), games, strict=True):
            game.reset(seed)
        for game in games:  # interleaved: each step goes to its own game
            game.step("south")
        assert games[0].observation() == expected == games[2].observation() != games[1].observation()
        engines = {game._sidecar.engine.pid() for game in games}
        assert len(engines) <= sidecar.engines_per_clock()  # games share processes
        games[0].close()
        assert games[2].step("north").valid  # closing one game leaves the others playing
    finally:
        for game in games:
            game.close()


@needs_engine
def test_it_draws_the_references_tile_image_for_vision_models(nethack: ReferenceNetHackAdapter) -> None:
    from minihack.tiles import glyph2tile

    from games.nethack.tiles import _atlas, tile_image

    nethack.reset(3)
    glyphs = nethack._glyphs()
    image = Image.open(io.BytesIO(nethack.render_png()))
    assert image.size == (1264, 336)  # 79 x 21 tiles of 16 px, as the reference's render_rgb
    pixels = tile_image(glyphs)
    row, column = divmod(max(range(len(glyphs)), key=lambda i: glyphs[i] != glyphs[0]), 79)
    tile = _atlas()[glyph2tile[glyphs[row * 79 + column]]]
    assert (pixels[row * 16 : row * 16 + 16, column * 16 : column * 16 + 16] == tile).all()
    assert (np.asarray(image.convert("RGB")) == pixels).all()


# Recorded with the JSON-list exchange (main at f1069f8), whose server computed the
# digest itself: json.dumps of the state it had decoded. The engine computes it now.
DIGESTS = Path(__file__).resolve().parent / "data" / "reference_nle_digests.json"


def _digest_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(DIGESTS.read_text())
    return cases


@needs_engine
@pytest.mark.parametrize("case", _digest_cases(), ids=lambda case: f"{case['task']}-{case['seed']}")
def test_it_keeps_the_digests_recorded_before_the_compact_exchange(case: dict[str, Any]) -> None:
    adapter_type = ReferenceNetHackAdapter if case["env"] == "nle" else ReferenceMiniHackAdapter
    adapter = adapter_type(case["task"], dict(case["options"]))
    try:
        seed = case["seed"]
        adapter.reset(seed)
        digests = [adapter.digest()]
        for action in case["actions"]:
            if action is None:  # the episode had ended: the recorder reset with the next seed
                seed += 1
                adapter.reset(seed)
            else:
                adapter.step(action)
            digests.append(adapter.digest())
            # The client's own bytes still hash to what the engine sends.
            assert digests[-1] == state_digest(adapter.state_bytes())
        assert digests == case["digests"]
    finally:
        adapter.close()


def test_it_encodes_colours_and_glyphs_as_the_json_exchange_did() -> None:
    from games.nethack.sidecar_server import color_rows, glyph_json

    rng = np.random.default_rng(0)
    colors = rng.integers(-128, 128, size=(24, 80), dtype=np.int8)
    assert color_rows(colors) == ["".join("0123456789abcdef"[int(c) & 15] for c in row) for row in colors]
    for _ in range(3):  # the later rounds read rows from the row cache
        glyphs = rng.integers(0, 6000, size=(21, 79), dtype=np.int16)
        glyphs[5:15] = 2359  # stone: the rows most maps repeat
        assert glyph_json(glyphs) == json.dumps(glyphs.reshape(-1).tolist(), separators=(",", ":"))
