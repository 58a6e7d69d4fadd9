"""Personas and per-test state for the play tests: ``pat``, ``olga``,
``visitor`` and the autouse ``fresh_play_state``, shared with tests/ops
(tests/support/fixtures_play.py)."""

from tests.support.fixtures_play import fresh_play_state, olga, pat, visitor  # noqa: F401
