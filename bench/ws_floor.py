"""The floor under bench/ws_load.py: its load client against the same server
stack with nothing of balrogweb behind the socket.

    .venv/bin/python bench/ws_floor.py [--players 100] [--seconds 60] [--stack channels] [--frame-ms 0] [--write-ms 0]

``--workers`` uvicorn processes, with ``manage.py serve``'s options (uvloop,
httptools, websockets' sans-I/O protocol, the GC tuning of balrogweb.asgi),
each run a websocket app that answers every action with a NetHack-sized frame
and then an ack, as protocol 2 does. No game, database, Redis or step pool:

- ``--stack channels``: a Channels ``AsyncWebsocketConsumer`` behind Channels'
  router (the chosen stack; the in-memory channel layer, as a player's socket
  never uses the layer in play);
- ``--stack asgi``: a bare ASGI loop (the least Python can do here).

``--frame-ms F --write-ms W`` add Python work per action (holding the GIL,
as env steps, frames and step writes do) in one hop to a thread pool, as the
play consumer's step pool does: F ms before the frame is handed back to the
loop, W ms after it, before the ack. So the latency that a CPU budget per
action allows at this load can be read off. The client is ws_load's (the same websocket client, players at
5-10 actions/s with one in flight); what it reports is the client's
keypress-to-frame latency, all of it server-added here. Printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ws_load import Closed, Stats, WebSocket, cpu_seconds, free_port, line, pct, stop_servers  # noqa: E402

MAX_PLAYERS, MAX_SECONDS = 500, 600
# A NetHack frame message as the play consumer sends it (24 rows of 80 cells, a
# colour digit per cell, the cursor, the HUD): ~4.3 kB of JSON.
FRAME = {
    "frame": {
        "rows": [("  |....@...+..#####....|   " * 3)[:80] for _ in range(24)],
        "colors": ["7" * 40 + "3" * 20 + "7" * 20 for _ in range(24)],
        "cursor": [10, 12],
    },
    "hud": {"steps": 0, "progression": 0.0, "return": 0.0, "depth": 1, "experience_level": 1, "hp": 14,
            "hp_max": 14, "energy": 5, "gold": 0, "turn": 1, "hunger": "", "message": "Hello Agent, welcome."},
}  # fmt: skip


# ----- the server ---------------------------------------------------------------------------
def calibrate(ms: float) -> int:
    """Loop iterations that take ``ms`` of CPU on this machine now (the median of 5)."""
    if ms <= 0:
        return 0
    runs = []
    for _ in range(5):
        started = time.thread_time()
        burn(200_000)
        runs.append((time.thread_time() - started) / 200_000)
    return int(ms / 1000 / sorted(runs)[2])


def burn(iterations: int) -> int:
    total = 0
    for i in range(iterations):
        total += i
    return total


class Responder:
    """Answers one message as the play consumer does: one hop to the step pool
    (games.threads.WorkerPool, as games.executor uses) whose thread does
    ``frame_iterations`` of work (standing in for the env step), encodes the
    frame and hands it to the loop through the consumer's own FrameHandoff,
    then does ``write_iterations`` (the step's write) before the ack."""

    def __init__(self, frame_iterations: int, write_iterations: int) -> None:
        from games.threads import WorkerPool

        self.frame_iterations, self.write_iterations = frame_iterations, write_iterations
        self.pool = WorkerPool(8, "floor-step") if frame_iterations or write_iterations else None

    def step(self, seq: int, received: float, handoff: Any) -> float:
        started = time.perf_counter()
        burn(self.frame_iterations)
        env_ms = (time.perf_counter() - started) * 1000
        handoff.put(frame_message(seq, env_ms, received))  # waits (briefly) until the frame is sent
        burn(self.write_iterations)
        return env_ms

    async def answer(self, text: str, send: Any) -> None:
        from play.consumers import FrameHandoff

        received = time.perf_counter()
        message = json.loads(text)
        if message["type"] == "hello":
            await send(json.dumps({"type": "snapshot", "version": 0, **FRAME}))
            return
        seq = message["seq"]
        if self.pool is None:
            await send(frame_message(seq, 0.0, received))
            env_ms = 0.0
        else:
            handoff = FrameHandoff(asyncio.get_running_loop())
            stepped = self.pool.run_soon(handoff.loop, functools.partial(self.step, seq, received, handoff))
            await send(await handoff.future)
            handoff.mark_sent()
            env_ms = await stepped
        await send(json.dumps({"type": "ack", "seq": seq, "version": seq + 1, "env_ms": env_ms, "core_ms": 0.0}))


def frame_message(seq: int, env_ms: float, received: float) -> str:
    server_ms = (time.perf_counter() - received) * 1000
    return json.dumps({"type": "frame", "seq": seq, **FRAME, "env_ms": env_ms, "server_ms": server_ms})


def channels_app(responder: Responder) -> Any:
    from channels.consumer import get_handler_name
    from channels.generic.websocket import AsyncWebsocketConsumer
    from channels.routing import URLRouter
    from django.urls import path

    class FloorConsumer(AsyncWebsocketConsumer):
        async def dispatch(self, message: dict[str, Any]) -> None:
            # As play.consumers.EpisodeConsumer: without channels' per-message
            # aclose_old_connections() (a hop to the thread-sensitive thread).
            await getattr(self, get_handler_name(message))(message)

        async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
            await responder.answer(text_data or "", self._send_text)

        async def _send_text(self, text: str) -> None:
            await self.send(text_data=text)

    return URLRouter([path("ws/floor/", FloorConsumer.as_asgi())])


def asgi_app(responder: Responder) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket"

        async def send_text(text: str) -> None:
            await send({"type": "websocket.send", "text": text})

        while True:
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.accept"})
            elif message["type"] == "websocket.receive":
                await responder.answer(message["text"], send_text)
            else:
                return

    return app


def serve(args: argparse.Namespace) -> None:
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "balrogweb.settings")
    import django

    django.setup()
    import uvicorn

    from ops.management.commands.serve import server_options
    from ops.runtime import tune_garbage_collector

    responder = Responder(calibrate(args.frame_ms), calibrate(args.write_ms))
    app = channels_app(responder) if args.stack == "channels" else asgi_app(responder)
    tune_garbage_collector()
    options = server_options(host="127.0.0.1", port=args.port, workers=1, proxy_headers=False)
    uvicorn.run(app, **options, log_level="warning")


# ----- the client ---------------------------------------------------------------------------
async def play(port: int, until: float, stats: Stats) -> None:
    rng = random.Random()
    ws = await WebSocket.connect("127.0.0.1", port, "/ws/floor/", "")
    try:
        ws.send(json.dumps({"type": "hello", "protocol": 2, "version": None}))
        version = json.loads(await ws.receive())["version"]
        while time.monotonic() < until:
            await asyncio.sleep(rng.uniform(0.1, 0.2))  # 5-10 actions per second
            sent = time.perf_counter()
            ws.send(json.dumps({"type": "action", "seq": version, "action": "north", "input": "k"}))
            frame = json.loads(await ws.receive())
            shown = time.perf_counter()
            ack = json.loads(await ws.receive())
            stats.latency_ms.append((shown - sent) * 1000)
            stats.server_ms.append(frame["server_ms"])
            stats.env_ms.append(frame["env_ms"])
            version = ack["version"]
    except (Closed, OSError, asyncio.IncompleteReadError) as exc:
        stats.errors[type(exc).__name__] += 1
    finally:
        ws.close()


async def load(args: argparse.Namespace, servers: list[tuple[subprocess.Popen[bytes], int]]) -> None:
    stats = Stats()
    before = [cpu_seconds(server.pid) for server, _ in servers]
    client_before, started = time.process_time(), time.monotonic()
    until = started + args.seconds
    await asyncio.gather(*(play(servers[i % len(servers)][1], until, stats) for i in range(args.players)))
    elapsed = time.monotonic() - started
    after = [cpu_seconds(server.pid) for server, _ in servers]
    server_cpu = sum(u + s for u, s in after) - sum(u + s for u, s in before)
    acks = max(1, len(stats.latency_ms))
    transport = [lat - srv for lat, srv in zip(stats.latency_ms, stats.server_ms, strict=True)]
    print(f"floor: stack {args.stack}, {args.players} players, {args.workers} server process(es), {elapsed:.0f} s")
    print(
        f"work per action: {args.frame_ms} ms before the frame + {args.write_ms} ms after, in a thread; "
        f"frame {len(json.dumps(FRAME))} bytes of JSON"
    )
    errors = dict(stats.errors) or "none"
    print(f"acks {len(stats.latency_ms)} ({len(stats.latency_ms) / elapsed:.0f}/s), errors {errors}")
    added = [lat - env for lat, env in zip(stats.latency_ms, stats.env_ms, strict=True)]
    print(line("keypress -> frame (client)", stats.latency_ms))
    print(line("work before the frame (env_ms)", stats.env_ms))
    print(line("server-added = client - env_ms", added))
    print(line("server internal (receipt -> frame)", stats.server_ms))
    print(line("loop + websocket = client - server", transport))
    print(
        f"server-added p50 <= 1 ms: {'yes' if pct(added, 0.5) <= 1 else 'no'}; "
        f"p99 <= 5 ms: {'yes' if pct(added, 0.99) <= 5 else 'no'} (the targets of bench/ws_load.py)"
    )
    print(
        f"CPU: servers {server_cpu:.1f} s ({1000 * server_cpu / acks:.2f} ms per ack), "
        f"this client {time.process_time() - client_before:.1f} s; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores"
    )


def start_servers(args: argparse.Namespace) -> list[tuple[subprocess.Popen[bytes], int]]:
    servers = []
    for _ in range(args.workers):
        port = free_port()
        command = [sys.executable, __file__, "--serve", "--port", str(port), "--stack", args.stack,
                   "--frame-ms", str(args.frame_ms), "--write-ms", str(args.write_ms)]  # fmt: skip
        servers.append((subprocess.Popen(command, cwd=ROOT), port))
    return servers


async def wait_up(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            (await WebSocket.connect("127.0.0.1", port, "/ws/floor/", "")).close()
            return
        except (OSError, Closed):
            if time.monotonic() > deadline:
                raise SystemExit(f"the floor server on port {port} did not answer") from None
            await asyncio.sleep(0.3)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--players", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--stack", choices=("channels", "asgi"), default="channels")
    parser.add_argument("--frame-ms", type=float, default=0.0, help="work in a thread before the frame (env step)")
    parser.add_argument("--write-ms", type=float, default=0.0, help="work in that thread after the frame (the write)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not (0 < args.players <= MAX_PLAYERS and 0 < args.seconds <= MAX_SECONDS and 1 <= args.workers <= 8):
        parser.error(f"at most {MAX_PLAYERS} players, {MAX_SECONDS} s and 8 workers")
    if not (0 <= args.frame_ms <= 50 and 0 <= args.write_ms <= 50):
        parser.error("--frame-ms and --write-ms are 0..50")
    return args


def main() -> None:
    args = parse_args()
    if args.serve:
        serve(args)
        return
    import uvloop

    servers = start_servers(args)
    try:

        async def run() -> None:
            for _, port in servers:
                await wait_up(port)
            await load(args, servers)

        uvloop.run(run())  # the client must not be the slow part of what it measures
    finally:
        stop_servers(servers)


if __name__ == "__main__":
    main()
