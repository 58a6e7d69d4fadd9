"""Bounded load test: N websocket players for a fixed time while model episodes run.

    .venv/bin/python bench/load.py [--players 10] [--seconds 20] [--model-episodes 4]
                                   [--database-url URL --redis-url URL] [--web-processes 2]

The issue's full run (PostgreSQL + Redis, two web processes, a model answer a second):

    .venv/bin/python bench/load.py --players 500 --seconds 120 --model-episodes 50 --model-latency 1 \
        --database-url postgres://postgres@127.0.0.1:5432/balrogweb_load --redis-url redis://127.0.0.1:6379/2 \
        --web-processes 2

Everything runs on loopback and is started (and stopped) here: the web server (manage.py serve), the
development model server (agents.devserver, policy ``random`` with latency)
and ``manage.py evaluate`` playing model episodes against it, beside the
players. The embedded default (a fresh SQLite under a temporary directory,
the in-memory channel layer, model episodes run in the evaluate process) is
the default; --database-url/--redis-url switch the web process to PostgreSQL
and Redis, and then a Celery worker (threads pool, the models queue) started
here plays the model episodes.

Reported: players' action latency p50/p95/p99 (send -> ack), errors by code,
episodes played, model episodes finished in the window, the web process's
RSS before and after, and the ops counters from /metrics. Printed, never
asserted. Bounded: at most 500 players, 300 s, 50 model episodes, 4 web processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# Run as a script: bench/ (this file's directory) is on sys.path, so bench/ws_load.py
# imports as ``ws_load`` (bench/ is not a package: its scripts are type-checked as
# top-level modules). The repository root is added for Django's apps.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ws_load import Stats, Target, ensure_database, free_port, line, play, rss_mb, wait_up

ROOT = Path(__file__).resolve().parent.parent
MAX_PLAYERS, MAX_SECONDS, MAX_MODEL_EPISODES, MAX_WEB_PROCESSES = 500, 300, 50, 4
ENV, TASK = "babyai", "BabyAI-MixedTrainLocal-v0/goto"
ENDPOINT = "bench-load-dev"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--players", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--model-episodes", type=int, default=4)
    parser.add_argument("--model-latency", type=float, default=0.05, help="seconds per model answer")
    parser.add_argument("--database-url", default="", help="e.g. postgres://postgres@127.0.0.1:5432/balrogweb_load")
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--web-processes", type=int, default=1, help="web servers the players are spread over")
    args = parser.parse_args()
    if not 1 <= args.web_processes <= MAX_WEB_PROCESSES or (args.web_processes > 1 and not args.redis_url):
        parser.error(f"--web-processes must be 1..{MAX_WEB_PROCESSES}, and more than 1 needs --redis-url")
    if not 1 <= args.players <= MAX_PLAYERS:
        parser.error(f"--players must be 1..{MAX_PLAYERS}")
    if not 1 <= args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be 1..{MAX_SECONDS}")
    if not 0 <= args.model_episodes <= MAX_MODEL_EPISODES:
        parser.error(f"--model-episodes must be 0..{MAX_MODEL_EPISODES}")
    for url in (args.database_url, args.redis_url):
        if url and "127.0.0.1" not in url and "localhost" not in url:
            parser.error("loopback only: database and Redis URLs must point at 127.0.0.1")
    return args


def server_env(args: argparse.Namespace, var_dir: Path, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="balrogweb.settings",
        BALROG_VAR_DIR=str(var_dir),
        BALROG_GAME_DATA_DIR=str(ROOT / "var" / "games"),
        BALROG_METRICS_TOKEN=token,
        BALROG_PLAY_EPISODES_PER_HOUR="1000000",  # one address plays every bench player
        BALROG_PLAY_EPISODES_PER_HOUR_PER_IP="1000000",
        BALROG_LIVE_GAMES_MAX=str(max(512, 2 * args.players)),
    )
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )


def register_endpoint(env: dict[str, str], port: int, latency: float) -> None:
    code = (
        "from agents.models import ModelEndpoint; "
        f"ModelEndpoint.objects.update_or_create(name={ENDPOINT!r}, defaults=dict(provider='dev', "
        f"base_url='http://127.0.0.1:{port}/v1', model_id='random@{latency}', retries=1, timeout_seconds=30))"
    )
    manage(env, "shell", "-c", code)


def model_episodes_finished(env: dict[str, str], after_id: int) -> int:
    """Model episodes of this run (ids above ``after_id``) that ended."""
    code = (
        "from games.models import Episode; "
        f"print(Episode.objects.filter(player_kind='model', pk__gt={after_id}).exclude(status='running').count())"
    )
    return int(manage(env, "shell", "-c", code).stdout.strip().splitlines()[-1])


def web_rss(targets: list[Target]) -> float:
    return sum(rss_mb(target.pid) for target in targets if target.pid is not None)


def log_problems(log: Path) -> None:
    """What the servers, the worker and evaluate logged at ERROR or with a
    traceback (the log lives in a temporary directory: a copy is kept)."""
    if not log.exists():
        return
    kept = Path(tempfile.gettempdir()) / "balrog-load-last.log"
    kept.write_bytes(log.read_bytes())
    lines = log.read_text(errors="replace").splitlines()
    problems = [row for row in lines if "Traceback" in row or " ERROR " in row or '"level": "ERROR"' in row]
    print(f"process log: {len(lines)} lines, {len(problems)} errors/tracebacks (copy: {kept})")
    for row in problems[:5]:
        print("  " + row[:300])


def last_episode_id(env: dict[str, str]) -> int:
    code = (
        "from django.db.models import Max; from games.models import Episode; "
        "print(Episode.objects.aggregate(m=Max('pk'))['m'] or 0)"
    )
    return int(manage(env, "shell", "-c", code).stdout.strip().splitlines()[-1])


def scrape(base: str, token: str) -> dict[str, float]:
    """The ops counters, or an empty dict and a line saying why."""
    try:
        return _scrape(base, token)
    except OSError as exc:
        print(f"/metrics could not be read: {exc}")
        return {}


def _scrape(base: str, token: str) -> dict[str, float]:
    request = urllib.request.Request(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    values = {}
    for row in text.splitlines():
        if row and not row.startswith("#"):
            name, value = row.rsplit(" ", 1)
            values[name] = float(value)
    return values


def main() -> None:
    args = parse_args()
    token = secrets.token_urlsafe(24)
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="balrog-load-") as tmp:
        var_dir = Path(tmp)
        env = server_env(args, var_dir, token)
        if args.database_url:
            ensure_database(args.database_url, "on")  # created if missing; durable commits
        manage(env, "migrate", "--noinput", "-v0")
        before = last_episode_id(env)  # a reused database keeps earlier runs' episodes
        try:
            model_port = free_port()
            log = (var_dir / "processes.log").open("wb")
            processes.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "dev_model_server", "--port", str(model_port)],
                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                )
            )  # fmt: skip
            register_endpoint(env, model_port, args.model_latency)
            targets = []
            for _ in range(args.web_processes):
                web_port = free_port()
                web = subprocess.Popen(
                    [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(web_port)],
                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                )  # fmt: skip
                processes.append(web)
                targets.append(Target(f"http://127.0.0.1:{web_port}", "127.0.0.1", web_port, web.pid))
            for target in targets:
                wait_up(target.base)
            rss_before = web_rss(targets)
            if args.model_episodes and args.redis_url:
                worker = [sys.executable, "-m", "celery", "-A", "balrogweb", "worker", "-Q", "models",
                          "--pool", "threads", "-c", str(max(16, args.model_episodes)), "--without-gossip",
                          "--without-mingle"]  # fmt: skip
                processes.append(subprocess.Popen(worker, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
            if args.model_episodes:
                evaluate = [
                    sys.executable, "manage.py", "evaluate", "--endpoint", ENDPOINT, "--env", ENV,
                    "--task", TASK, "--episodes", str(args.model_episodes), "--poll", "1",
                ]  # fmt: skip
                processes.append(subprocess.Popen(evaluate, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
            stats = Stats()
            started = time.monotonic()

            async def players() -> None:
                until = time.monotonic() + args.seconds
                await asyncio.gather(
                    *(play(targets[n % len(targets)], ENV, TASK, until, stats) for n in range(args.players))
                )

            asyncio.run(players())
            elapsed = time.monotonic() - started
            rss_after = web_rss(targets)
            counters = scrape(targets[0].base, token)
            finished = model_episodes_finished(env, before)
            report(args, stats, elapsed, rss_before, rss_after, counters, finished)
        finally:
            log_problems(var_dir / "processes.log")
            for process in reversed(processes):  # only what this script started
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()


def report(
    args: argparse.Namespace,
    stats: Stats,
    elapsed: float,
    rss_before: float,
    rss_after: float,
    counters: dict[str, float],
    model_finished: int,
) -> None:
    backend = "PostgreSQL" if args.database_url else "SQLite"
    backend += " + Redis" if args.redis_url else " + in-memory layer"
    print(f"{args.players} players, {elapsed:.1f} s, {backend}, {args.web_processes} web process(es), {ENV} {TASK}")
    print(f"acks                               {len(stats.latency_ms)} ({len(stats.latency_ms) / elapsed:.0f}/s)")
    print(line("action latency (send -> ack)", stats.latency_ms))
    print(line("env step (env_ms)", stats.env_ms))
    print(f"player episodes started            {stats.episodes}")
    print(f"errors                             {dict(stats.errors) or 'none'}")
    print(f"model episodes finished            {model_finished} of {args.model_episodes}")
    print(f"web RSS (all processes)            {rss_before:.0f} MB before, {rss_after:.0f} MB after")
    shown = [name for name in sorted(counters) if name.startswith("balrog_")]
    print("ops counters: " + json.dumps({name: counters[name] for name in shown}))


if __name__ == "__main__":
    main()
