"""The token bucket shared by the websocket guard and play's per-key limits."""

from __future__ import annotations

from ops.ratelimit import TokenBucket


def test_it_allows_the_burst_then_the_rate() -> None:
    bucket = TokenBucket.full(rate=2.0, capacity=3.0, now=100.0)
    assert [bucket.take(100.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(100.5)  # half a second at 2/s: one token back
    assert not bucket.take(100.5)
    assert [bucket.take(110.0) for _ in range(4)] == [True, True, True, False]  # refills to capacity, no more
