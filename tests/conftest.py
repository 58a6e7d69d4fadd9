from __future__ import annotations

from collections.abc import Iterator

import pytest

from games import registry
from games.live import live_games


@pytest.fixture
def toy_game() -> Iterator[str]:
    """Register the toy game under the env key ``toy`` for one test."""
    registry.ADAPTER_PATHS["toy"] = "tests.games.toy.ToyAdapter"
    registry.adapter_class.cache_clear()
    yield "toy"
    registry.ADAPTER_PATHS.pop("toy", None)
    registry.adapter_class.cache_clear()


@pytest.fixture(autouse=True)
def fresh_live_games() -> Iterator[None]:
    """Each test starts with no adapters cached in this process."""
    live_games().clear()
    yield
    live_games().clear()
