"""Viewer-flood benchmark: one player's latency with and without hostile viewers.

    .venv/bin/python bench/ws_viewers.py [--embedded] [--viewers 50] [--seconds 20] [--env nle]

Starts one server process (``manage.py serve``; SQLite + in-memory layer with
``--embedded``, else PostgreSQL + Redis on the bench's own database), starts a
long game for one anonymous player (NetHack by default: BabyAI episodes end
long before 500 steps), plays ``--warmup`` steps fast, then measures the
player (5-10 actions per second, one in flight, as the browser does) in
``--rounds`` alternating windows of ``--seconds`` each (alternating, so that
the other load of a shared machine falls on both alike):

- quiet: nobody else connected;
- flood: ``--viewers`` hostile anonymous viewers of the same episode, from
  the same address as the player, in a separate process, each in a loop:
  connect, hello with the version 500 steps back (a 500-step snapshot), one
  sync for the same 500 steps, disconnect; all together at ``--flood-rate``
  loops per second (the issue's attack ran ~60 a second). Refusals
  (``too_many_viewers`` + close 4429, ``rate_limited``) do not slow them down.

Prints the player's keypress-to-frame and keypress-to-ack p50/p99 both ways
and their ratios (target: flood within 1.5x of quiet), the server's CPU in
each, and what the viewers got. ``--no-viewer-limits`` raises the per-address limits out of reach, to
show what the snapshot cache alone does. Printed, never asserted; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ws_load import (  # the bench folder is not a package
    ACTIONS,
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    TASKS,
    Closed,
    Stats,
    WebSocket,
    acknowledged,
    cpu_seconds,
    ensure_database,
    free_port,
    pct,
    server_env,
    start_episode,
    wait_up,
)

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
MISSED = 500  # the protocol's MAX_MISSED_STEPS: the biggest snapshot a viewer can ask for
MAX_VIEWERS, MAX_SECONDS = 200, 300
UNLIMITED = "1000000"


# ----- the player ----------------------------------------------------------------------------
class Player:
    def __init__(self, base: str, port: int, env: str, task: str) -> None:
        self.base, self.port, self.env, self.task = base, port, env, task
        self.rng = random.Random(7)
        self.ws: WebSocket | None = None
        self.episode_id = 0
        self.version = 0
        self.episodes = 0

    async def start(self, warmup: int) -> None:
        """A new episode, played ``warmup`` steps as fast as acks come (a retry if it ends first)."""
        for _ in range(5):
            self.episode_id, cookie = await asyncio.to_thread(start_episode, self.base, self.env, self.task)
            self.episodes += 1
            self.ws = await WebSocket.connect(HOST, self.port, f"/ws/episodes/{self.episode_id}/", cookie)
            self.ws.send(json.dumps({"type": "hello", "protocol": 2, "version": None}))
            while (message := json.loads(await self.ws.receive()))["type"] != "snapshot":
                pass
            self.version = message["version"]
            scratch = Stats()
            while self.version < warmup:
                if not await self.step(scratch):
                    break
            else:
                return
            self.ws.close()
        raise SystemExit(f"no {self.env} episode lasted {warmup} steps in 5 tries")

    async def step(self, stats: Stats) -> bool:
        """One action and its ack; False when the episode ended."""
        assert self.ws is not None
        action = self.rng.choice(ACTIONS[self.env])
        self.ws.send(json.dumps({"type": "action", "seq": self.version, "action": action, "input": "k"}))
        reply = await acknowledged(self.ws, time.perf_counter(), stats)
        if reply is None:
            self.version = stats.last_error_version if stats.last_error_version is not None else self.version
            return True
        self.version = reply["version"]
        return not reply.get("end")

    async def measure(self, seconds: float, warmup: int) -> Stats:
        stats = Stats()
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            await asyncio.sleep(self.rng.uniform(0.1, 0.2))  # 5-10 actions per second
            if not await self.step(stats):
                stats.episodes += 1
                await self.start(warmup)  # the flood stays on the old episode: still as costly to serve
        return stats


# ----- the hostile viewers (another process, so their parsing never delays the player's reads) ------
def flood(port: int, episode_id: int, since: int, viewers: int, rate: float, seconds: float, out: Any) -> None:
    out.put(uvloop.run(_flood(port, episode_id, since, viewers, rate, seconds)))


async def _flood(port: int, episode_id: int, version: int, viewers: int, rate: float, seconds: float) -> dict[str, int]:
    counts: Counter[str] = Counter()
    latest = [version]  # the newest version any viewer saw: each asks for the 500 steps before it
    until = time.monotonic() + seconds
    interval = viewers / rate  # each viewer's loop period
    await asyncio.gather(*(_viewer(port, episode_id, latest, interval, until, counts) for _ in range(viewers)))
    return dict(counts)


async def _viewer(
    port: int, episode_id: int, latest: list[int], interval: float, until: float, counts: Counter[str]
) -> None:
    await asyncio.sleep(random.uniform(0, interval))
    while time.monotonic() < until:
        started = time.monotonic()
        counts["loops"] += 1
        try:
            ws = await WebSocket.connect(HOST, port, f"/ws/episodes/{episode_id}/", "")
        except (Closed, OSError) as exc:
            counts[f"connect failed: {type(exc).__name__}"] += 1
        else:
            try:
                ws.send(json.dumps({"type": "hello", "protocol": 2, "version": max(0, latest[0] - MISSED)}))
                await _replies(ws, 2, counts, latest)  # welcome + snapshot, or an error and the close
                ws.send(json.dumps({"type": "sync", "version": max(0, latest[0] - MISSED)}))
                await _replies(ws, 1, counts, latest)
            except (Closed, OSError, asyncio.IncompleteReadError):
                counts["closed by the server"] += 1
            finally:
                ws.close()
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))


async def _replies(ws: WebSocket, count: int, counts: Counter[str], latest: list[int]) -> None:
    for _ in range(count):
        text = await asyncio.wait_for(ws.receive(), 30)
        head = text[:200]  # the kind without parsing a 500-step snapshot
        if head.startswith('{"type":"error"'):
            counts["error " + json.loads(text)["code"]] += 1
            if '"too_many_viewers"' in head:
                raise Closed("refused")
        else:
            kind = head.split('"', 4)[3]
            counts[kind] += 1
            if kind == "snapshot":
                counts["snapshot chars"] += len(text)
                version = re.match(r'{"type":"snapshot","version":(\d+)', head)
                if version is not None:
                    latest[0] = max(latest[0], int(version.group(1)))


# ----- the server and the report -------------------------------------------------------------------
def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], int]:
    shape = argparse.Namespace(players=1, memory_sessions=0, embedded=args.embedded)
    shape.database_url, shape.redis_url = args.database_url, args.redis_url
    env = server_env(shape)
    # A fast warm-up: the player's action limit and its connection's message limit out of reach.
    env["BALROG_PLAY_ACTIONS_PER_SECOND"] = env["BALROG_PLAY_ACTION_BURST"] = UNLIMITED
    env["BALROG_WS_MESSAGES_PER_SECOND"] = env["BALROG_WS_MESSAGE_BURST"] = UNLIMITED
    if args.embedded:
        env["BALROG_VAR_DIR"] = "/tmp/balrog-ws-viewers-bench"
    if args.no_viewer_limits:
        for name in ("VIEWERS_PER_ADDRESS", "VIEWER_CONNECTS_PER_SECOND", "VIEWER_CONNECT_BURST"):
            env[f"BALROG_PLAY_{name}"] = UNLIMITED
        env["BALROG_PLAY_SYNCS_PER_SECOND"] = env["BALROG_PLAY_SYNC_BURST"] = UNLIMITED
    if not args.embedded:
        ensure_database(args.database_url, "on", fresh=args.database_url == DEFAULT_DATABASE_URL)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    log = open("/tmp/balrog-ws-viewers-bench.log", "wb")  # noqa: SIM115 - lives as long as the server
    command = [sys.executable, "manage.py", "serve", "--host", HOST, "--port", str(port)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT), port


def row(name: str, quiet: list[float], flooded: list[float]) -> str:
    cells = []
    for q in (0.5, 0.99):
        a, b = pct(quiet, q), pct(flooded, q)
        cells.append(f"p{int(q * 100)} {a:6.2f} -> {b:6.2f} ms ({b / a:4.2f}x)")
    return f"  {name:<28} " + "   ".join(cells)


async def flood_window(args: argparse.Namespace, port: int, player: Player, counts: Counter[str]) -> Stats:
    results: Any = multiprocessing.Queue()
    window = (port, player.episode_id, player.version, args.viewers, args.flood_rate, args.seconds + 1, results)
    hostile = multiprocessing.Process(target=flood, args=window)
    hostile.start()
    await asyncio.sleep(1)  # the flood at full strength before measuring
    stats = await player.measure(args.seconds, args.warmup)
    counts.update(await asyncio.to_thread(results.get, True, 60))
    hostile.join(10)
    return stats


def merge(into: Stats, more: Stats) -> None:
    for name in ("latency_ms", "ack_ms", "server_ms"):
        getattr(into, name).extend(getattr(more, name))
    into.errors.update(more.errors)
    into.episodes += more.episodes


async def main_async(args: argparse.Namespace, port: int, pid: int) -> None:
    task = args.task or TASKS[args.env]
    player = Player(f"http://{HOST}:{port}", port, args.env, task)
    await player.start(args.warmup)
    quiet, flooded, counts = Stats(), Stats(), Counter[str]()
    cpu = {"quiet": 0.0, "flood": 0.0}
    for _ in range(args.rounds):
        for phase in ("quiet", "flood"):
            before = sum(cpu_seconds(pid))
            if phase == "quiet":
                merge(quiet, await player.measure(args.seconds, args.warmup))
            else:
                merge(flooded, await flood_window(args, port, player, counts))
            cpu[phase] += sum(cpu_seconds(pid)) - before

    limits = "off (--no-viewer-limits)" if args.no_viewer_limits else "the defaults"
    span = args.rounds * args.seconds
    print(
        f"{args.env} {task}, one player at 5-10 actions/s, {args.rounds} x {args.seconds:.0f} s each way, "
        f"alternating; backend: {args.backend}; viewer limits: {limits}"
    )
    print(
        f"flood: {args.viewers} anonymous viewers, {args.flood_rate:.0f} loops/s (reconnect, hello + sync "
        f"for the last {MISSED} steps), same address as the player"
    )
    print(
        f"acks: quiet {len(quiet.ack_ms)}, flood {len(flooded.ack_ms)}; player errors: quiet "
        f"{dict(quiet.errors) or 'none'}, flood {dict(flooded.errors) or 'none'}; "
        f"episodes restarted: {quiet.episodes + flooded.episodes}"
    )
    print("player, quiet -> flood (ratio):")
    print(row("keypress -> frame", quiet.latency_ms, flooded.latency_ms))
    print(row("keypress -> durable ack", quiet.ack_ms, flooded.ack_ms))
    print(row("server_ms (receipt -> frame)", quiet.server_ms, flooded.server_ms))
    print(
        f"server CPU: quiet {100 * cpu['quiet'] / span:.0f}% of a core, flood {100 * cpu['flood'] / span:.0f}%; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    chars = counts.pop("snapshot chars", 0)
    snapshots = counts.get("snapshot", 0)
    print(
        f"viewers got: {dict(sorted(counts.items()))}; "
        f"{counts['loops'] / span:.0f} loops/s, {snapshots / span:.1f} snapshots/s, "
        f"{chars / max(1, snapshots) / 1000:.0f} kB each"
    )
    if player.ws is not None:
        player.ws.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--flood-rate", type=float, default=60.0, help="viewer loops per second, all together")
    parser.add_argument("--seconds", type=float, default=10.0, help="each window")
    parser.add_argument("--rounds", type=int, default=3, help="quiet + flood windows")
    parser.add_argument("--warmup", type=int, default=520, help="steps played before measuring (>= 500 for full syncs)")
    parser.add_argument("--env", choices=("nle", "minihack"), default="nle")
    parser.add_argument("--task", default="")
    parser.add_argument("--embedded", action="store_true", help="SQLite + in-memory layer (else PostgreSQL + Redis)")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--no-viewer-limits", action="store_true", help="the snapshot cache alone")
    args = parser.parse_args()
    if not (0 < args.viewers <= MAX_VIEWERS and 0 < args.seconds * args.rounds <= MAX_SECONDS):
        parser.error(f"at most {MAX_VIEWERS} viewers and {MAX_SECONDS} s in all windows")
    if not 0 < args.flood_rate <= 1000:
        parser.error("at most 1000 loops/s")
    args.backend = "SQLite + in-memory layer" if args.embedded else "PostgreSQL + Redis"
    return args


def main() -> None:
    args = parse_args()
    server, port = start_server(args)
    try:
        print(f"server: pid {server.pid} port {port}", flush=True)
        wait_up(f"http://{HOST}:{port}")
        uvloop.run(main_async(args, port, server.pid))
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
