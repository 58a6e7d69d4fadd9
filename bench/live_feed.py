"""Live view of a model episode another process plays, on the embedded default.

    .venv/bin/python bench/live_feed.py [--latency 0.1] [--root /path/to/checkout]

A fresh SQLite database in a temporary directory; ``manage.py serve`` (the web
process) and ``manage.py evaluate`` (its own process, as a person runs it from
a shell) against a scripted model (agents/devserver.py, in this process) with
``--latency`` seconds per answer; one websocket viewer of the episode on the
web process. Printed: steps played, steps the viewer received as ``step``
messages, whether they came in order, and the delay from each step's commit
(Step.created_at) to its arrival at the viewer, p50/p95/max; and the web
process's CPU seconds while it fed the viewer. ``--root`` runs another
checkout's code (e.g. one without the feed, for the before figure).
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the harness is the tests' own (tests/support/livefeed.py)
sys.path.insert(0, str(ROOT / "bench"))
from ws_load import cpu_seconds  # noqa: E402

from tests.support.livefeed import (  # noqa: E402
    Watched,
    committed_steps,
    prepare,
    process_env,
    start_evaluation,
    start_server,
    wait_for_episode,
    watch,
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per model answer")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose code runs")
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from agents.devserver import start_dev_server

    model = start_dev_server()
    with tempfile.TemporaryDirectory(prefix="live-feed-") as tmp:
        var_dir = Path(tmp)
        env = process_env(args.root, var_dir)
        prepare(args.root, env, model.url, f"random@{args.latency}")
        server, port = start_server(args.root, env, var_dir / "server.log")
        try:
            evaluation = start_evaluation(args.root, env, var_dir / "evaluate.log")
            episode_id = wait_for_episode(var_dir, evaluation)
            cpu_before = sum(cpu_seconds(server.pid))
            seen = asyncio.run(watch(port, episode_id, args.seconds))
            cpu = sum(cpu_seconds(server.pid)) - cpu_before
            evaluation.wait(timeout=args.seconds)
            report(var_dir, episode_id, seen, cpu)
        finally:
            server.terminate()
            server.wait(timeout=20)
            model.shutdown()  # its solvers were never opened: no database to close
            model.server_close()


def report(var_dir: Path, episode_id: int, seen: Watched, cpu: float) -> None:
    steps = committed_steps(var_dir, episode_id)
    first = int(seen.snapshot.get("version") or 0)
    indexes = [m["step"]["index"] for m in seen.steps]
    in_order = indexes == list(range(first, first + len(indexes)))
    committed_at = {index: created.timestamp() for index, _, created in steps}
    delays = [1000 * (at - committed_at[i]) for i, at in zip(indexes, seen.arrived, strict=True) if i in committed_at]
    print(f"feed: {seen.welcome.get('feed', '(none: no feed field)')}")
    print(f"steps played: {len(steps)}; in the viewer's snapshot: {first}; received live: {len(seen.steps)}")
    print(f"in order and complete: {in_order and first + len(indexes) == len(steps)}; end seen: {seen.end is not None}")
    if delays:
        print(f"commit -> viewer ms: p50 {pct(delays, 0.5):.0f}  p95 {pct(delays, 0.95):.0f}  max {max(delays):.0f}")
    print(f"web process CPU while watching: {cpu:.2f} s")


if __name__ == "__main__":
    main()
