"""Websocket load benchmark: N concurrent browser players against the web server.

    .venv/bin/python bench/ws_load.py [--players 100] [--seconds 60] [--env nle]

It starts ``--workers`` server processes (``manage.py serve``: uvicorn, as
production runs; ``--server daphne`` compares with daphne after ``pip install
daphne``), on PostgreSQL + Redis by default (the production shape; loopback
only), unless ``--url`` names a server already running on this machine, makes
one anonymous player per connection through the real pages (GET the start
form, POST it with the CSRF token), then each player sends actions over its
websocket at 5-10 per second, one in flight at a time, as the browser does.
An episode that ends is replaced by a new one.

Reported (``--protocol 2``, the browser's, by default: each action's frame
comes as soon as the game has stepped, its ack once the step is committed):
- keypress-to-frame latency (send -> the new frame) p50/p95/p99, as the
  client sees it, and keypress-to-durable-ack;
- the raw env step time (``env_ms``) and the server-added latency: client
  latency minus env_ms (network, event loop, threads, frame and JSON; with
  protocol 1, whose ack carries the frame, also the database write);
- the server's own share (``server_ms - env_ms``: from message receipt to the
  encoded frame), which excludes this client's own scheduling delays; the
  websocket/event-loop transport (client latency - ``server_ms``); and the game
  core's write path (``core_ms - env_ms``: ``do_apply_action`` without the env
  step: lock, digest, the database statement, the broadcast);
- errors by code and failed connections;
- RSS of the server per live session, from the server's VmRSS before the
  players and with them all live; then, with ``--memory-sessions M``, the same
  for M live sessions (one step each), and the sessions per GB that implies.

Figures also include the server CPU per ack. Bounded: at most 500 players, 600 s, 2,000 memory sessions; loopback only.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import http.cookiejar
import json
import os
import random
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the client below is the tests' own (tests/support/wsclient.py)

from tests.support.wsclient import Closed, WebSocket, free_port, start_episode, wait_up  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/balrogweb_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/1"
# The ASGI server processes on loopback: production's (manage.py serve: uvicorn), or daphne to compare.
SERVER_COMMANDS = {
    "uvicorn": ["manage.py", "serve", "--host", "127.0.0.1"],
    "daphne": ["-m", "daphne", "--bind", "127.0.0.1", "balrogweb.asgi:application"],
}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_PLAYERS, MAX_SECONDS, MAX_MEMORY_SESSIONS = 500, 600, 2000
TASKS = {
    "nle": "NetHackChallenge-v0",
    "minihack": "MiniHack-Corridor-R3-v0",
    "babyai": "BabyAI-MixedTrainLocal-v0/goto",
}
# Actions a player cycles through: moving and searching never open a menu.
ACTIONS = {
    "nle": ["north", "south", "east", "west", "northeast", "southwest", "search", "wait"],
    "minihack": ["north", "south", "east", "west"],
    "babyai": ["turn left", "turn right", "go forward"],
}


# ----- a minimal websocket client (RFC 6455, text frames) ------------------------
# ----- players -----------------------------------------------------------------------------
@dataclass
class Stats:
    latency_ms: list[float] = field(default_factory=list)  # keypress -> frame (protocol 2: the early frame)
    ack_ms: list[float] = field(default_factory=list)  # keypress -> ack (the step is committed)
    env_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    core_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    last_error_version: int | None = None
    episodes: int = 0


async def play(target: Target, env: str, task: str, until: float, stats: Stats) -> None:
    jar = http.cookiejar.CookieJar()
    rng = random.Random()
    while time.monotonic() < until:
        try:
            episode_id, cookie = await asyncio.to_thread(start_episode, target.base, env, task, jar)
            stats.episodes += 1
            await play_episode(episode_id, cookie, env, until, stats, target, rng)
        except (Closed, OSError, asyncio.IncompleteReadError, RuntimeError) as exc:
            stats.errors[f"connection: {type(exc).__name__}"] += 1
            await asyncio.sleep(1)


async def play_episode(
    episode_id: int, cookie: str, env: str, until: float, stats: Stats, target: Target, rng: random.Random
) -> None:
    ws = await WebSocket.connect(target.host, target.port, f"/ws/episodes/{episode_id}/", cookie)
    try:
        ws.send(json.dumps({"type": "hello", "protocol": target.protocol, "version": None}))
        version = None
        while version is None:
            message = json.loads(await ws.receive())
            if message["type"] == "snapshot":
                version = message["version"]
        while time.monotonic() < until:
            await asyncio.sleep(rng.uniform(0.1, 0.2))  # 5-10 actions per second
            ws.send(json.dumps({"type": "action", "seq": version, "action": rng.choice(ACTIONS[env]), "input": "k"}))
            reply = await acknowledged(ws, time.perf_counter(), stats)
            if reply is None:
                version = stats.last_error_version if stats.last_error_version is not None else version
                continue
            version = reply["version"]
            if reply.get("end"):
                return  # a new episode
    finally:
        ws.close()


async def acknowledged(ws: WebSocket, sent: float, stats: Stats) -> dict[str, Any] | None:
    """Read the early frame (protocol 2) and the ack of one action; record their times."""
    first = reply = json.loads(await ws.receive())
    shown = time.perf_counter()
    if reply["type"] == "frame":
        reply = json.loads(await ws.receive())
    if reply["type"] == "error":
        stats.errors[reply["code"]] += 1
        stats.last_error_version = reply.get("version")
        return None
    stats.latency_ms.append((shown - sent) * 1000)
    stats.ack_ms.append((time.perf_counter() - sent) * 1000)
    stats.env_ms.append(first["env_ms"])
    stats.server_ms.append(first["server_ms"])
    stats.core_ms.append(reply["core_ms"])
    return reply


# ----- the server ---------------------------------------------------------------------------
def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU time of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def ensure_database(url: str, synchronous_commit: str, *, fresh: bool = False) -> None:
    """Create the bench database if needed (``fresh``: drop it first) and set
    its commit mode (``off``: a commit returns before its WAL reaches the disk;
    a PostgreSQL or OS crash can lose the last ~0.6 s of commits, an
    application crash loses nothing).

    Fresh by default for the bench's own database, so that runs start equal:
    each run writes ~35,000 steps and as many episode updates, and on a
    PostgreSQL without autovacuum (this machine's cluster runs with
    ``autovacuum = off``) the dead rows and missing statistics would otherwise
    carry from one run to the next."""
    import psycopg

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise SystemExit(f"unexpected database name {name!r}")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        if fresh:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')
        connection.execute(f'ALTER DATABASE "{name}" SET synchronous_commit TO {synchronous_commit}')


@dataclass(frozen=True)
class Target:
    """One server process the players are spread over."""

    base: str
    host: str
    port: int
    pid: int | None
    protocol: int = 2


def server_env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "balrogweb.settings",
            "BALROG_PLAY_EPISODES_PER_HOUR": "1000000",  # one address plays every bench player
            "BALROG_PLAY_EPISODES_PER_HOUR_PER_IP": "1000000",
            "BALROG_LIVE_GAMES_MAX": str(max(512, args.players * 2, args.memory_sessions + args.players + 10)),
        }
    )
    if args.embedded:
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        env.setdefault("BALROG_VAR_DIR", "/tmp/balrog-ws-bench")
    else:
        env["DATABASE_URL"], env["REDIS_URL"] = args.database_url, args.redis_url
    return env


def start_servers(args: argparse.Namespace) -> list[tuple[subprocess.Popen[bytes], int]]:
    """Migrate, then ``--workers`` server processes on free loopback ports."""
    env = server_env(args)
    if not args.embedded:
        # Only the bench's own database is ever dropped, never one named by --database-url.
        fresh = args.database_url == DEFAULT_DATABASE_URL and not args.keep_database
        ensure_database(args.database_url, args.synchronous_commit, fresh=fresh)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    servers = []
    for worker in range(args.workers):
        port = free_port()
        log = open(f"/tmp/balrog-ws-bench-{args.server}-{worker}.log", "wb")  # noqa: SIM115 - lives as long as the server
        command = [sys.executable, *SERVER_COMMANDS[args.server], "--port", str(port)]
        servers.append((subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT), port))
    return servers


def stop_servers(servers: list[tuple[subprocess.Popen[bytes], int]]) -> None:
    for server, _ in servers:
        server.terminate()
    for server, _ in servers:
        server.wait(timeout=20)


# ----- reporting ------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def line(name: str, values: list[float]) -> str:
    return f"{name:<34} p50 {pct(values, 0.5):7.2f}  p95 {pct(values, 0.95):7.2f}  p99 {pct(values, 0.99):7.2f} ms"


async def memory_phase(targets: list[Target], env: str, task: str, count: int) -> list[WebSocket]:
    """``count`` players over the servers, each with a live episode that made
    one step, connections kept open."""
    sockets: list[WebSocket] = []
    semaphore = asyncio.Semaphore(8)

    async def one(target: Target) -> None:
        async with semaphore:
            episode_id, cookie = await asyncio.to_thread(start_episode, target.base, env, task)
            ws = await WebSocket.connect(target.host, target.port, f"/ws/episodes/{episode_id}/", cookie)
            ws.send(json.dumps({"type": "hello", "protocol": 1, "version": None}))
            while json.loads(await ws.receive())["type"] != "snapshot":
                pass
            ws.send(json.dumps({"type": "action", "seq": 0, "action": ACTIONS[env][0]}))
            await ws.receive()
            sockets.append(ws)

    await asyncio.gather(*(one(targets[i % len(targets)]) for i in range(count)))
    return sockets


def total_rss(targets: list[Target]) -> float:
    return sum(rss_mb(t.pid) for t in targets if t.pid) if all(t.pid for t in targets) else float("nan")


def total_cpu(targets: list[Target]) -> tuple[float, float]:
    if not all(t.pid for t in targets):
        return float("nan"), float("nan")
    times = [cpu_seconds(t.pid) for t in targets if t.pid]
    return sum(u for u, _ in times), sum(s for _, s in times)


def report(args: argparse.Namespace, task: str, stats: Stats, elapsed: float, cpu: tuple[float, float, float]) -> None:
    user, system, client_cpu = cpu
    added = [lat - env for lat, env in zip(stats.latency_ms, stats.env_ms, strict=True)]
    internal = [srv - env for srv, env in zip(stats.server_ms, stats.env_ms, strict=True)]
    core = [core - env for core, env in zip(stats.core_ms, stats.env_ms, strict=True)]
    transport = [lat - srv for lat, srv in zip(stats.latency_ms, stats.server_ms, strict=True)]
    acks = max(1, len(stats.latency_ms))
    print(
        f"players {args.players}, {args.env} {task}, {elapsed:.0f} s, {args.workers} server process(es), "
        f"backend: {args.backend}, protocol {args.protocol}"
    )
    print(f"acks {len(stats.latency_ms)} ({len(stats.latency_ms) / elapsed:.0f}/s), episodes started {stats.episodes}")
    print(line("keypress -> frame (client)", stats.latency_ms))
    print(line("raw env step (env_ms)", stats.env_ms))
    print(line("server-added = client - env_ms", added))
    print(line("server internal = server_ms - env", internal))
    if args.protocol == 1:  # with 2, the frame's server_ms has no write in it to split off
        play_layer = [srv - core for srv, core in zip(stats.server_ms, stats.core_ms, strict=True)]
        print("  of which:")
        print(line("  game core write = core_ms - env", core))
        print(line("  thread wait + view + JSON", play_layer))
    print(line("loop + websocket = client - server", transport))
    if args.protocol == 2:
        print(line("keypress -> durable ack (client)", stats.ack_ms))
        print(line("  game core write = core_ms - env", core))
    print(f"errors: {dict(stats.errors) or 'none'}")
    print(
        f"CPU: servers {user + system:.1f} s (user {user:.1f}, system {system:.1f}; "
        f"{1000 * (user + system) / acks:.2f} ms per ack, {100 * (user + system) / elapsed:.0f}% of one core), "
        f"this client {client_cpu:.1f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )


async def main_async(args: argparse.Namespace, targets: list[Target]) -> None:
    task = args.task or TASKS[args.env]
    # Warm up: the game package is imported and a live game exists in every server before the baseline.
    warm = await memory_phase(targets, args.env, task, len(targets))
    await asyncio.sleep(1)
    base_rss = total_rss(targets)
    cpu_before = (*total_cpu(targets), time.process_time())
    stats = Stats()
    until = time.monotonic() + args.seconds
    started = time.monotonic()
    players = [
        asyncio.create_task(play(targets[i % len(targets)], args.env, task, until, stats)) for i in range(args.players)
    ]
    await asyncio.sleep(min(args.seconds * 0.8, max(5.0, args.seconds - 5)))
    loaded_rss = total_rss(targets)
    await asyncio.gather(*players)
    elapsed = time.monotonic() - started
    user, system = total_cpu(targets)
    cpu = (user - cpu_before[0], system - cpu_before[1], time.process_time() - cpu_before[2])
    report(args, task, stats, elapsed, cpu)
    print(
        f"server RSS: {base_rss:.0f} MB before, {loaded_rss:.0f} MB with {args.players + len(targets)} live "
        f"sessions: {(loaded_rss - base_rss) / args.players:.2f} MB per session"
    )
    for ws in warm:
        ws.close()
    if args.memory_sessions:
        before = total_rss(targets)
        sockets = await memory_phase(targets, args.env, task, args.memory_sessions)
        await asyncio.sleep(2)
        after = total_rss(targets)
        per = (after - before) / args.memory_sessions
        print(
            f"memory: {args.memory_sessions} more live sessions: RSS {before:.0f} -> {after:.0f} MB, "
            f"{per:.2f} MB per session = {1024 / per:.0f} sessions per GB"
        )
        for ws in sockets:
            ws.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--players", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--env", choices=sorted(TASKS), default="nle")
    parser.add_argument("--task", default="")
    parser.add_argument("--memory-sessions", type=int, default=0, help="then open this many more live sessions")
    parser.add_argument("--url", default="", help="a running server (no RSS figures unless --server-pid)")
    parser.add_argument("--server-pid", type=int, default=0)
    parser.add_argument("--server", choices=sorted(SERVER_COMMANDS), default="uvicorn")
    parser.add_argument("--workers", type=int, default=1, help="server processes to spread the players over (max 8)")
    parser.add_argument(
        "--protocol",
        type=int,
        choices=(1, 2),
        default=2,
        help="2: the frame comes before the ack (the browser's); 1: one ack with the frame",
    )
    parser.add_argument("--embedded", action="store_true", help="SQLite + in-memory layer instead")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument(
        "--keep-database",
        action="store_true",
        help="reuse the bench's database as earlier runs left it (default: a new one; --database-url's is kept)",
    )
    parser.add_argument(
        "--synchronous-commit", choices=("on", "off"), default="on", help="PostgreSQL commit mode of the bench database"
    )
    args = parser.parse_args()
    if not (0 < args.players <= MAX_PLAYERS and 0 < args.seconds <= MAX_SECONDS):
        parser.error(f"at most {MAX_PLAYERS} players and {MAX_SECONDS} s")
    if not 1 <= args.workers <= 8 or (args.url and args.workers != 1):
        parser.error("--workers is 1..8, and 1 with --url")
    if not 0 <= args.memory_sessions <= MAX_MEMORY_SESSIONS:
        parser.error(f"at most {MAX_MEMORY_SESSIONS} memory sessions")
    if args.url:
        args.backend = "the server at --url"
    elif args.embedded:
        args.backend = "SQLite + in-memory layer"
    else:
        args.backend = f"PostgreSQL (synchronous_commit={args.synchronous_commit}) + Redis"
    return args


def main() -> None:
    args = parse_args()
    servers: list[tuple[subprocess.Popen[bytes], int]] = []
    if args.url:
        parts = urllib.parse.urlsplit(args.url)
        if parts.hostname not in LOOPBACK:
            raise SystemExit("loopback only: the bench never targets another machine")
        pid = args.server_pid or None
        targets = [Target(args.url.rstrip("/"), parts.hostname, parts.port or 80, pid, args.protocol)]
    else:
        servers = start_servers(args)
        targets = [
            Target(f"http://127.0.0.1:{port}", "127.0.0.1", port, server.pid, args.protocol) for server, port in servers
        ]
        print("servers: " + ", ".join(f"pid {t.pid} port {t.port}" for t in targets), flush=True)
    try:
        for target in targets:
            wait_up(target.base)
        uvloop.run(main_async(args, targets))  # the client must not be the slow part of what it measures
    finally:
        stop_servers(servers)


if __name__ == "__main__":
    main()
