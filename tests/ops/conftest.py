"""The play personas (logged-in players, an anonymous visitor) and their cleanup."""

from tests.play.conftest import fresh_play_state, olga, pat, visitor  # noqa: F401
