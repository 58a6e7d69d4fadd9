"""Capacity: how many NetHack players one server process holds while every
keypress still shows within one frame (16 ms of server-added latency at p99).

    .venv/bin/python bench/ws_capacity.py --tree baseline=/work/wt-baseline --tree current=. \\
        [--rounds 2] [--backend embedded --backend postgres] [--floor]
    .venv/bin/python bench/ws_capacity.py --tree current=. --hold 60 --players 40   # for py-spy

For each round, for each backend, for each ``--tree`` in turn (so the trees
interleave: baseline, current, baseline, current, and machine load from other
work falls on both alike), it starts that tree's own server process
(``manage.py serve``, uvicorn, as scripts/run does) on a fresh database (the
embedded default: a new SQLite file and the in-memory layer; or PostgreSQL
``--database-url`` dropped and recreated, and Redis ``--redis-url``'s db
flushed) and ramps players:

- each player starts a NetHack episode through the pages (as ws_load does)
  and presses a key every 250 ms (4 keys/s), with one in flight: a key whose
  frame is late delays the next;
- one viewer for every two players watches a player's episode (an anonymous
  connection: role viewer), reading every step message;
- every ``--window`` seconds ``--step`` more players (and their viewers) join;
  the first ``--settle`` seconds of a window (the joins) are not measured.

A window passes while the server-added keypress-to-frame latency (client
latency minus the env step's own time) stays at or under 16 ms at p99. The
capacity is the players of the last passing window, with its acks/s and the
server process's CPU time per ack (user + system / acks, the env step included).

``--floor`` also runs bench/ws_floor.py (Channels with a thread hop and
``--floor-env-ms`` of CPU per step for the env step, nothing of balrogweb) once
per round, in the same series, at about the acks/s of the most players held,
and prints each tree's CPU per ack over that floor. CPU is the server
process's; "with children" adds its child processes (the NetHack sidecar
engines of the reference protocol, which the baseline did not have: it stepped
NetHack in the server process).

Printed, never asserted. Loopback only; at most 400 players.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from ws_load import Closed, WebSocket, cpu_seconds, ensure_database, free_port, pct, start_episode, wait_up  # noqa: E402

ENV, TASK = "nle", "NetHackChallenge-v0"
ACTIONS = ["north", "south", "east", "west", "northeast", "southwest", "search", "wait"]
KEY_INTERVAL_S = 0.25  # 4 keys per second
FRAME_BUDGET_MS = 16.0
MAX_PLAYERS = 400
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/balrogweb_capacity"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/5"


# ----- the load ---------------------------------------------------------------------------
@dataclass
class Sample:
    at: float  # monotonic time of the frame
    added_ms: float  # client keypress -> frame minus env_ms
    env_ms: float


@dataclass
class Load:
    samples: list[Sample] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    viewer_messages: int = 0
    episodes: int = 0
    stop: bool = False

    def error(self, name: str) -> None:
        self.errors[name] = self.errors.get(name, 0) + 1


@dataclass
class Seat:
    """A player's current episode, which its viewer follows."""

    episode_id: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)


async def player(base: str, port: int, load: Load, seat: Seat) -> None:
    rng = random.Random()
    while not load.stop:
        try:
            episode_id, cookie = await asyncio.to_thread(start_episode, base, ENV, TASK)
            load.episodes += 1
            seat.episode_id = episode_id
            seat.changed.set()
            await play_episode(port, episode_id, cookie, load, rng)
        except (Closed, OSError, asyncio.IncompleteReadError, RuntimeError) as exc:
            load.error(f"player connection: {type(exc).__name__}")
            await asyncio.sleep(1)


async def play_episode(port: int, episode_id: int, cookie: str, load: Load, rng: random.Random) -> None:
    ws = await WebSocket.connect("127.0.0.1", port, f"/ws/episodes/{episode_id}/", cookie)
    try:
        ws.send(json.dumps({"type": "hello", "protocol": 2, "version": None}))
        version = await snapshot_version(ws)
        next_key = time.monotonic() + rng.uniform(0, KEY_INTERVAL_S)
        while not load.stop:
            await asyncio.sleep(max(0.0, next_key - time.monotonic()))
            next_key = max(next_key + KEY_INTERVAL_S, time.monotonic())
            sent = time.perf_counter()
            ws.send(json.dumps({"type": "action", "seq": version, "action": rng.choice(ACTIONS), "input": "k"}))
            first = json.loads(await ws.receive())
            shown = time.perf_counter()
            reply = json.loads(await ws.receive()) if first["type"] == "frame" else first
            if reply["type"] == "error":
                load.error(reply["code"])
                version = reply.get("version", version)
                continue
            load.samples.append(Sample(time.monotonic(), (shown - sent) * 1000 - first["env_ms"], first["env_ms"]))
            version = reply["version"]
            if reply.get("end"):
                return
    finally:
        ws.close()


async def viewer(port: int, load: Load, seat: Seat) -> None:
    """Watches its player's episode, and the next one when it ends."""
    while not load.stop:
        await seat.changed.wait()
        seat.changed.clear()
        try:
            ws = await WebSocket.connect("127.0.0.1", port, f"/ws/episodes/{seat.episode_id}/", "")
        except (Closed, OSError, asyncio.IncompleteReadError) as exc:
            load.error(f"viewer connection: {type(exc).__name__}")
            continue
        try:
            ws.send(json.dumps({"type": "hello", "protocol": 2, "version": None}))
            await snapshot_version(ws)
            while not load.stop and not seat.changed.is_set():
                message = json.loads(await ws.receive())
                load.viewer_messages += 1
                if message["type"] in ("ended", "error") or message.get("end"):
                    break
        except (Closed, OSError, asyncio.IncompleteReadError) as exc:
            load.error(f"viewer connection: {type(exc).__name__}")
        finally:
            ws.close()


async def snapshot_version(ws: WebSocket) -> int:
    while True:
        message = json.loads(await ws.receive())
        if message["type"] == "snapshot":
            return int(message["version"])
        if message["type"] == "error":
            raise Closed(message["code"])


# ----- one run: a server and a ramp --------------------------------------------------------
@dataclass
class Window:
    players: int
    acks: int
    acks_per_s: float
    p50: float
    p99: float
    env_p50: float
    cpu_ms_per_ack: float
    tree_cpu_ms_per_ack: float  # with the server's children (the NetHack sidecars)
    errors: int

    @property
    def passes(self) -> bool:
        return self.acks > 0 and self.p99 <= FRAME_BUDGET_MS

    def __str__(self) -> str:
        return (
            f"  {self.players:4d} players: {self.acks_per_s:6.0f} acks/s, server-added p50 {self.p50:6.2f} "
            f"p99 {self.p99:7.2f} ms, env p50 {self.env_p50:5.2f} ms, CPU {self.cpu_ms_per_ack:5.2f} ms/ack "
            f"({self.tree_cpu_ms_per_ack:5.2f} with children), "
            f"errors {self.errors}"
        )


class Server:
    def __init__(self, tree: Path, backend: str, args: argparse.Namespace) -> None:
        self.tree, self.backend = tree, backend
        self.var_dir = Path(tempfile.mkdtemp(prefix="balrog-capacity-"))
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "balrogweb.settings",
                "BALROG_PLAY_EPISODES_PER_HOUR": "1000000",
                "BALROG_PLAY_EPISODES_PER_HOUR_PER_IP": "1000000",
                "BALROG_LIVE_GAMES_MAX": "2000",
                # Every bench viewer comes from one address: the per-address viewer limits would refuse them.
                "BALROG_PLAY_VIEWERS_PER_ADDRESS": "1000",
                "BALROG_PLAY_VIEWER_CONNECTS_PER_SECOND": "1000",
                "BALROG_PLAY_VIEWER_CONNECT_BURST": "1000",
                "BALROG_VAR_DIR": str(self.var_dir),
            }
        )
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        if backend == "postgres":
            env["DATABASE_URL"], env["REDIS_URL"] = args.database_url, args.redis_url
            ensure_database(args.database_url, "on", fresh=True)
            flush_redis(args.redis_url)
        python = str(tree / ".venv" / "bin" / "python")
        subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], cwd=tree, env=env, check=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(self.var_dir / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
        command = [python, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(command, cwd=tree, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_up(self.base)

    def cpu(self) -> tuple[float, float]:
        """CPU seconds of the server process, and of it with its children
        (the NetHack sidecar engines of the reference protocol)."""
        own = sum(cpu_seconds(self.process.pid))
        children = 0.0
        for pid in descendants(self.process.pid):
            try:
                children += sum(cpu_seconds(pid))
            except OSError:  # ended meanwhile
                continue
        return own, own + children

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()
        shutil.rmtree(self.var_dir, ignore_errors=True)


def descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def window_of(load: Load, players: int, since: float, until: float, cpu: tuple[float, float]) -> Window:
    samples = [s for s in load.samples if since <= s.at < until]
    added = [s.added_ms for s in samples]
    seconds = until - since
    return Window(
        players=players,
        acks=len(samples),
        acks_per_s=len(samples) / seconds,
        p50=pct(added, 0.5),
        p99=pct(added, 0.99),
        env_p50=pct([s.env_ms for s in samples], 0.5),
        cpu_ms_per_ack=1000 * cpu[0] / max(1, len(samples)),
        tree_cpu_ms_per_ack=1000 * cpu[1] / max(1, len(samples)),
        errors=sum(load.errors.values()),
    )


async def ramp(server: Server, args: argparse.Namespace) -> list[Window]:
    """Players join ``args.step`` at a time until a window fails (or the
    fixed ``--players`` are held for ``--hold`` seconds)."""
    load = Load()
    tasks: list[asyncio.Task[None]] = []
    windows: list[Window] = []
    players = 0
    try:
        while players < MAX_PLAYERS:
            joining = args.players if args.hold else min(args.step if players else args.start, MAX_PLAYERS - players)
            for _ in range(joining):
                seat = Seat()
                tasks.append(asyncio.create_task(player(server.base, server.port, load, seat)))
                if players % 2 == 0:
                    tasks.append(asyncio.create_task(viewer(server.port, load, seat)))
                players += 1
            await asyncio.sleep(args.settle)
            since, cpu_before = time.monotonic(), server.cpu()
            await asyncio.sleep(args.hold or (args.window - args.settle))
            cpu_after = server.cpu()
            cpu = (cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1])
            window = window_of(load, players, since, time.monotonic(), cpu)
            windows.append(window)
            print(window, flush=True)
            if args.hold or not window.passes:
                break
    finally:
        load.stop = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if load.errors:
        print(f"  errors: {load.errors}")
    return windows


# ----- the floor ------------------------------------------------------------------------------
def floor_cpu_per_ack(players: int, env_ms: float, seconds: float) -> float:
    """bench/ws_floor.py's CPU per ack: Channels and the step pool's hop with
    ``env_ms`` of CPU per step standing in for the env step, nothing of
    balrogweb. Its players press 5-10 keys/s, so players * 4 / 7.5 of them
    make about the acks/s of ``players`` here."""
    floor_players = max(1, round(players * 4 / 7.5))
    command = [sys.executable, str(ROOT / "bench" / "ws_floor.py"), "--workers", "1", "--players", str(floor_players),
               "--seconds", str(seconds), "--frame-ms", f"{env_ms:.3f}"]  # fmt: skip
    output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    match = re.search(r"\(([\d.]+) ms per ack\)", output)
    if not match:
        raise RuntimeError(f"no CPU per ack in ws_floor's output:\n{output}")
    return float(match.group(1))


# ----- the series -------------------------------------------------------------------------------
@dataclass
class Result:
    tree: str
    backend: str
    round: int
    capacity: Window | None
    floor_ms: float = float("nan")


def run_one(name: str, tree: Path, backend: str, round_: int, args: argparse.Namespace) -> Result:
    print(f"round {round_}, {backend}, {name} ({tree}, {git_head(tree)}): "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)  # fmt: skip
    server = Server(tree, backend, args)
    print(f"  server pid {server.process.pid} port {server.port}", flush=True)
    try:
        windows = uvloop.run(ramp(server, args))
    finally:
        server.stop()
    passing = [w for w in windows if w.passes]
    return Result(name, backend, round_, passing[-1] if passing else None)


def with_floor(results: list[Result], args: argparse.Namespace) -> None:
    """One floor run per round, after its trees, at the most players any of them held."""
    held = [r.capacity.players for r in results if r.capacity is not None]
    floor_ms = floor_cpu_per_ack(max(held, default=args.start), args.floor_env_ms, args.floor_seconds)
    print(f"round {results[0].round}: floor {floor_ms:.2f} ms CPU per ack (ws_floor.py, {max(held, default=args.start)}"
          f" players' acks/s, {args.floor_env_ms} ms of env CPU per step)", flush=True)  # fmt: skip
    for result in results:
        result.floor_ms = floor_ms


def git_head(tree: Path) -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True)
    return done.stdout.strip() or "?"


def summary(results: list[Result]) -> None:
    print("\ntree       backend   round  players  acks/s  p99 ms  CPU ms/ack  +children  floor ms/ack  CPU/floor")
    for r in results:
        c = r.capacity
        if c is None:
            print(f"{r.tree:10} {r.backend:9} {r.round:5}  none passed")
            continue
        print(f"{r.tree:10} {r.backend:9} {r.round:5}  {c.players:7d}  {c.acks_per_s:6.0f}  {c.p99:6.2f}  "
              f"{c.cpu_ms_per_ack:10.2f}  {c.tree_cpu_ms_per_ack:9.2f}  {r.floor_ms:12.2f}  "
              f"{c.cpu_ms_per_ack / r.floor_ms:9.2f}")  # fmt: skip


def parse_tree(text: str) -> tuple[str, Path]:
    name, _, path = text.partition("=")
    tree = Path(path or name).resolve()
    if not (tree / "manage.py").exists():
        raise argparse.ArgumentTypeError(f"{tree} is not a balrogweb tree")
    return (name if path else tree.name), tree


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=parse_tree, action="append", help="NAME=PATH of a checkout (repeatable)")
    parser.add_argument("--backend", action="append", choices=("embedded", "postgres"))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--start", type=int, default=4, help="players in the first window")
    parser.add_argument("--step", type=int, default=4, help="players joining per window")
    parser.add_argument("--window", type=float, default=16.0, help="seconds per window")
    parser.add_argument("--settle", type=float, default=4.0, help="unmeasured seconds at a window's start")
    parser.add_argument("--hold", type=float, default=0.0, help="hold --players for this many seconds, no ramp")
    parser.add_argument("--players", type=int, default=40, help="with --hold")
    parser.add_argument("--floor", action="store_true", help="also run ws_floor.py once per round")
    parser.add_argument("--floor-env-ms", type=float, default=0.3, help="CPU per env step in the floor (NetHack's)")
    parser.add_argument("--floor-seconds", type=float, default=20.0)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    args = parser.parse_args()
    args.tree = args.tree or [("current", ROOT)]
    args.backend = args.backend or ["embedded"]
    for url in (args.database_url, args.redis_url):
        if urllib.parse.urlsplit(url).hostname not in {"127.0.0.1", "localhost", "::1"}:
            parser.error("loopback only")
    if not (0 < args.players <= MAX_PLAYERS and 0 < args.settle < args.window and 1 <= args.rounds <= 5):
        parser.error(f"--players 1..{MAX_PLAYERS}, --settle below --window, --rounds 1..5")
    return args


def main() -> None:
    args = parse_args()
    results: list[Result] = []
    for round_ in range(1, args.rounds + 1):
        this_round = [
            run_one(name, tree, backend, round_, args) for backend in args.backend for name, tree in args.tree
        ]
        if args.floor:
            with_floor(this_round, args)
        results += this_round
    summary(results)


if __name__ == "__main__":
    main()
