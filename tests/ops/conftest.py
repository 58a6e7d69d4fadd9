"""The play personas (logged-in players, an anonymous visitor) and their cleanup,
shared with tests/play (tests/support/fixtures_play.py); a private Redis for
the fault tests."""

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fixtures_play import fresh_play_state, olga, pat, visitor  # noqa: F401
from tests.support.wsclient import free_port


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A free port and a directory for a redis-server of the test's own
    (tests.support.servers.start_redis starts it), shut down afterwards."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    yield port, tmp_path
    subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True, timeout=10)
