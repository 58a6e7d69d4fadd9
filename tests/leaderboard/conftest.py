"""The leaderboard tests' per-test state: no cached board carried between
tests, no grace period on the version check. Their data is built with
tests/support/leaderboard_data.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def version_checked_every_request(settings: Any) -> None:
    """Tests change data between requests: no grace period on the version check."""
    settings.BALROG_LEADERBOARD_VERSION_SECONDS = 0
