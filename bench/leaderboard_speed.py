"""Leaderboard speed: page and API latency on a (synthetic) PostgreSQL database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/balrogweb_lb_bench \\
    .venv/bin/python manage.py synthesize_leaderboard --episodes 100000 --steps 100 --i-know-this-is-synthetic
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/balrogweb_lb_bench .venv/bin/python bench/leaderboard_speed.py

Requests go through Django's full stack in-process (test client: URL
routing, middleware, view, template, JSON). It reports the cold build (the
first request after the data changed: the aggregation and bootstrap), then
p50/p95 of warm requests (cached per data version, the data-version check
still runs every request) for the page, the API and an entry page.
Targets: page p95 <= 100 ms, API p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "balrogweb.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402

from games.models import Episode, Step  # noqa: E402

TARGETS_MS = {"page": 100.0, "api": 50.0}


def timed(client: Client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code}")
    return elapsed


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    if settings.PROFILE.sqlite:
        print("note: measuring on the embedded SQLite default; the targets are for PostgreSQL")
    counts = Episode.objects.aggregate(n=Count("pk"))
    print(f"data: {counts['n']} episodes, ~{Step.objects.count()} steps")
    client = Client()
    cache.clear()
    cold = timed(client, "/api/leaderboard")
    print(f"cold build (first request after a data change): {cold:.0f} ms")
    entry = client.get("/api/leaderboard").json()["entries"][0]["key"]
    urls = {"page": "/leaderboard/", "api": "/api/leaderboard", "entry": f"/leaderboard/entries/{entry}/"}
    failed = False
    for name, url in urls.items():
        count = args.requests if name != "entry" else max(5, args.requests // 20)
        samples = [timed(client, url) for _ in range(count)]
        p50, p95 = percentiles(samples)
        target = TARGETS_MS.get(name)
        verdict = "" if target is None else (" OK" if p95 <= target else f" OVER target {target:.0f} ms")
        failed = failed or (target is not None and p95 > target)
        print(f"{name:6s} {url:45s} n={count:4d} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms{verdict}")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
