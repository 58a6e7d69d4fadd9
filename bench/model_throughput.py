"""Model-episode throughput: one Celery worker against the reference pattern.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/balrogweb_agents_bench \\
    REDIS_URL=redis://127.0.0.1:6379/0 \\
    .venv/bin/python bench/model_throughput.py [--concurrency 200] [--latency 1.0] [--seconds 60] [--env babyai]

Both sides play the same games with the same agent (naive, 16 turns of
history) against the development model server (``dev_model_server``, its
``random`` policy) answering every call after ``--latency`` seconds, on this
machine:

1. balrogweb: ``do_start_run`` plans ``--episodes`` episodes, dispatched to a
   Celery worker started with ``--pool threads -c CONCURRENCY``; every step
   is committed to PostgreSQL through the game core (the log, the prompt
   record, the lease heartbeat). Measured: committed steps per second over
   ``--seconds`` after ``--warmup``, the worker's RSS (one process), CPU of
   the worker, the model server and PostgreSQL.
2. the reference evaluator's pattern: processes forked from a parent that
   imported everything (as BALROG's EvaluatorManager forks its workers), each
   playing episodes one after the other: prompt, blocking model call, env
   step, a CSV row per step and a JSON log per episode, no database. First
   two processes measure the memory of one; then as many processes as fit
   in the worker's memory (by PSS: forked processes share pages) run for
   ``--seconds``.

Figures are printed (and written as JSON with ``--json``), never asserted.
The database must be a scratch one: it is migrated, and the bench's rows stay.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "balrogweb.settings")


# ----- /proc readings ----------------------------------------------------------------------
def _proc_field(pid: int, file: str, name: str) -> int:
    """A kB figure from /proc/<pid>/<file>; 0 once the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/{file}").read_text().splitlines()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith(name)), 0)


def rss_kb(pid: int) -> int:
    return _proc_field(pid, "status", "VmRSS:")


def pss_kb(pid: int) -> int:
    return _proc_field(pid, "smaps_rollup", "Pss:")


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process (its threads included)."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two readings: processes started meanwhile count whole;
    those that exited meanwhile are lost (database backends come and go, e.g.
    when CONN_MAX_AGE recycles a connection), so this is a lower bound."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def cpu_seconds(pids: list[int]) -> float:
    return sum(cpu_by_pid(pids).values())


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


@contextmanager
def process(args: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Figures:
    steps_per_second: float
    steps: int
    seconds: float
    processes: int
    rss_mb: float  # summed over the processes
    pss_mb: float
    cpu_percent: float  # of one core, the measured processes
    model_server_cpu_percent: float
    postgres_cpu_percent: float = 0.0


# ----- balrogweb: a Celery worker ------------------------------------------------------------
def bench_worker(args: argparse.Namespace, server_url: str, server_pid: int) -> Figures:
    import django

    django.setup()
    from agents.config import AgentConfig
    from agents.evaluation import RunRequest, do_cancel_run, do_start_run
    from agents.models import ModelEndpoint
    from games.models import Step
    from games.registry import adapter_class

    queue = f"bench-{os.getpid()}"
    endpoint, _ = ModelEndpoint.objects.update_or_create(
        name=queue, defaults={"provider": "dev", "base_url": server_url, "model_id": "random", "queue": queue}
    )
    tasks = tuple(info.task for info in adapter_class(args.env).tasks())[: args.tasks]
    per_task = max(1, args.episodes // len(tasks))
    request = RunRequest(endpoint, AgentConfig("naive"), envs=(args.env,), tasks=tasks, episodes_per_task=per_task)
    run = do_start_run(request)
    steps = Step.objects.filter(episode__run_episode__run=run)
    worker_args = [sys.executable, "-m", "celery", "-A", "balrogweb", "worker", "-Q", queue, "--pool", "threads",
                   "-c", str(args.concurrency), "--without-heartbeat", "--without-gossip", "--without-mingle",
                   "-l", "WARNING"]
    with process(worker_args, {"BALROG_AGENT_DB_THREADS": str(args.db_threads)}) as worker:
        time.sleep(args.warmup)
        rss_samples: list[int] = []
        started, count0 = time.monotonic(), steps.count()
        cpu0 = cpu_seconds([worker.pid]), cpu_seconds([server_pid]), cpu_by_pid(postgres_pids())
        while time.monotonic() - started < args.seconds:
            time.sleep(1.0)
            rss_samples.append(rss_kb(worker.pid))
        elapsed, count1 = time.monotonic() - started, steps.count()
        cpu1 = cpu_seconds([worker.pid]), cpu_seconds([server_pid]), cpu_by_pid(postgres_pids())
        pss = pss_kb(worker.pid)
    do_cancel_run(run.pk)
    purge(queue)
    return Figures(
        steps_per_second=(count1 - count0) / elapsed,
        steps=count1 - count0,
        seconds=elapsed,
        processes=1,
        rss_mb=max(rss_samples) / 1024,
        pss_mb=pss / 1024,
        cpu_percent=100 * (cpu1[0] - cpu0[0]) / elapsed,
        model_server_cpu_percent=100 * (cpu1[1] - cpu0[1]) / elapsed,
        postgres_cpu_percent=100 * cpu_delta(cpu0[2], cpu1[2]) / elapsed,
    )


def purge(queue: str) -> None:
    """Drop the episodes still queued for the bench's worker."""
    from balrogweb.celery import app

    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(queue)  # type: ignore[attr-defined]  # every kombu channel has it; the StdChannel stub lacks it


# ----- the reference pattern: one sequential loop per process ----------------------------------
def reference_worker(number: int, env: str, tasks: list[str], server_url: str, folder: str, counter: Any,
                     stop: Any) -> None:
    """Episodes one after the other, as balrog/evaluator.py plays them."""
    import openai

    from agents.config import AgentConfig
    from agents.parsing import parse_answer, resolve
    from agents.prompts import CurrentTurn, PastTurn, PromptInputs, build_messages
    from games.registry import make_adapter

    client = openai.OpenAI(api_key="none", base_url=server_url, max_retries=5)
    config = AgentConfig("naive")
    episode = 0
    while not stop.is_set():
        task = tasks[episode % len(tasks)]
        adapter = make_adapter(env, task)
        adapter.reset(number * 100_000 + episode)
        history: list[PastTurn] = []
        instructions = adapter.instructions()
        log_path = Path(folder) / f"{number}_{episode}"
        with log_path.with_suffix(".csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["Step", "Action", "Reasoning", "Observation", "Reward", "Done"])
            while not adapter.done and not stop.is_set():
                observation = adapter.observation()
                current = CurrentTurn(adapter.steps, observation.long_term, observation.short_term)
                messages = build_messages(PromptInputs(config, instructions, adapter.default_action, history, current))
                actions = adapter.action_space()
                response = client.chat.completions.create(
                    model="random", messages=messages, temperature=1.0, max_tokens=8192,  # type: ignore[arg-type]
                    extra_headers={"X-Balrog-Actions": json.dumps(actions)},
                )
                answer = response.choices[0].message.content or ""
                result = adapter.step(resolve(parse_answer("naive", answer).candidate, actions))
                history = [*history, PastTurn(current.index, current.observation, result.action, answer,
                                              result.valid)][-config.max_text_history:]
                writer.writerow([current.index, result.action, "", adapter.observation().long_term,
                                 result.reward, result.done])
                with counter.get_lock():
                    counter.value += 1
        log_path.with_suffix(".json").write_text(json.dumps({"task": task, "num_steps": adapter.steps,
                                                             "progression": adapter.progression}))
        adapter.close()
        episode += 1


def bench_reference(args: argparse.Namespace, server_url: str, server_pid: int, processes: int,
                    seconds: float) -> Figures:
    import django

    django.setup()
    from games.registry import adapter_class

    tasks = [info.task for info in adapter_class(args.env).tasks()][: args.tasks]
    context = multiprocessing.get_context("fork")
    counter, stop = context.Value("q", 0), context.Event()
    with tempfile.TemporaryDirectory() as folder:
        workers = [context.Process(target=reference_worker, args=(n, args.env, tasks, server_url, folder, counter,
                                                                    stop)) for n in range(processes)]
        for worker in workers:
            worker.start()
        time.sleep(args.warmup)
        pids = [worker.pid for worker in workers if worker.pid is not None]
        started, count0 = time.monotonic(), counter.value
        cpu0, server0 = cpu_seconds(pids), cpu_seconds([server_pid])
        rss_samples, pss_samples = [], []
        while time.monotonic() - started < seconds:
            time.sleep(1.0)
            rss_samples.append(sum(rss_kb(pid) for pid in pids))
            pss_samples.append(sum(pss_kb(pid) for pid in pids))
        elapsed, count1 = time.monotonic() - started, counter.value
        cpu1, server1 = cpu_seconds(pids), cpu_seconds([server_pid])
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    return Figures(
        steps_per_second=(count1 - count0) / elapsed,
        steps=count1 - count0,
        seconds=elapsed,
        processes=processes,
        rss_mb=max(rss_samples) / 1024,
        pss_mb=max(pss_samples) / 1024,
        cpu_percent=100 * (cpu1 - cpu0) / elapsed,
        model_server_cpu_percent=100 * (server1 - server0) / elapsed,
    )


# ----- the HTTP side alone: threads + the sync client against asyncio + the async client --------------
CLIENT_MESSAGES = [{"role": "system", "content": "rules " * 400}] + [
    {"role": "user" if i % 2 == 0 else "assistant", "content": f"observation {i} " * 40} for i in range(31)
]
CLIENT_HEADERS = {"X-Balrog-Actions": json.dumps(["go forward", "turn left", "turn right"])}


def compare_clients(server_url: str, concurrency: int, seconds: float) -> dict[str, dict[str, float]]:
    """Model calls only (no game, no database), ``concurrency`` in flight for
    ``seconds``: calls per second and CPU milliseconds per call of each way."""
    return {"threads + OpenAI": _threads_calls(server_url, concurrency, seconds),
            "asyncio + AsyncOpenAI": _asyncio_calls(server_url, concurrency, seconds)}


def _threads_calls(server_url: str, concurrency: int, seconds: float) -> dict[str, float]:
    import threading

    import httpx2
    import openai
    from openai.types.chat import ChatCompletion

    limits = httpx2.Limits(max_connections=None, max_keepalive_connections=concurrency)
    client = openai.OpenAI(api_key="none", base_url=server_url, max_retries=0,
                           http_client=openai.DefaultHttpxClient(limits=limits))
    body = {"model": "random", "messages": CLIENT_MESSAGES, "max_tokens": 16}
    options: Any = {"headers": CLIENT_HEADERS}
    done = [0]
    deadline = time.monotonic() + seconds

    def loop() -> None:
        while time.monotonic() < deadline:
            client.post("/chat/completions", cast_to=ChatCompletion, body=body, options=options)
            done[0] += 1

    cpu, started = time.process_time(), time.monotonic()
    threads = [threading.Thread(target=loop) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return _call_figures(done[0], time.monotonic() - started, time.process_time() - cpu)


def _asyncio_calls(server_url: str, concurrency: int, seconds: float) -> dict[str, float]:
    import asyncio

    import httpx2
    import openai
    from openai.types.chat import ChatCompletion

    async def run() -> int:
        limits = httpx2.Limits(max_connections=None, max_keepalive_connections=concurrency)
        client = openai.AsyncOpenAI(api_key="none", base_url=server_url, max_retries=0,
                                    http_client=openai.DefaultAsyncHttpxClient(limits=limits))
        body = {"model": "random", "messages": CLIENT_MESSAGES, "max_tokens": 16}
        options: Any = {"headers": CLIENT_HEADERS}
        deadline = time.monotonic() + seconds
        done = 0

        async def loop() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                await client.post("/chat/completions", cast_to=ChatCompletion, body=body, options=options)
                done += 1

        await asyncio.gather(*(loop() for _ in range(concurrency)))
        await client.close()
        return done

    cpu, started = time.process_time(), time.monotonic()
    done = asyncio.run(run())
    return _call_figures(done, time.monotonic() - started, time.process_time() - cpu)


def _call_figures(calls: int, elapsed: float, cpu: float) -> dict[str, float]:
    return {"calls_per_second": calls / elapsed, "cpu_ms_per_call": 1000 * cpu / max(1, calls), "calls": calls}


# ----- main ---------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=200, help="worker threads (episodes in flight)")
    parser.add_argument("--db-threads", type=int, default=4, help="BALROG_AGENT_DB_THREADS of the worker")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per model call")
    parser.add_argument("--seconds", type=float, default=60.0, help="measurement window")
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--env", default="babyai")
    parser.add_argument("--tasks", type=int, default=5, help="the env's first N tasks")
    parser.add_argument("--episodes", type=int, default=1000, help="episodes planned for the worker")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--compare-clients", action="store_true",
                        help="only the HTTP side: threads + OpenAI against asyncio + AsyncOpenAI")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if not args.compare_clients and (not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL")):
        sys.exit("set DATABASE_URL (a scratch PostgreSQL database) and REDIS_URL")
    if not args.compare_clients:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, check=True)
    port = free_port()
    server_args = [sys.executable, "manage.py", "dev_model_server", "--port", str(port), "--latency", str(args.latency)]
    with process(server_args) as server:
        wait_for_port(port)
        url = f"http://127.0.0.1:{port}/v1"
        if args.compare_clients:
            for name, figures in compare_clients(url, args.concurrency, args.seconds).items():
                rate, cpu = figures["calls_per_second"], figures["cpu_ms_per_call"]
                print(f"{name}: {rate:.1f} calls/s, {cpu:.2f} ms CPU per call")
            return
        worker = bench_worker(args, url, server.pid)
        report: dict[str, Any] = {"worker": asdict(worker), "args": {k: str(v) for k, v in vars(args).items()}}
        print_figures("balrogweb worker (threads pool)", worker)
        if not args.skip_reference:
            calibration = bench_reference(args, url, server.pid, 2, min(20.0, args.seconds))
            per_process = calibration.pss_mb / 2
            fit = max(1, int(worker.rss_mb // per_process))
            print_figures("reference pattern, 2 processes (calibration)", calibration)
            reference = bench_reference(args, url, server.pid, fit, args.seconds)
            print_figures(f"reference pattern at equal memory ({fit} processes)", reference)
            ratio = worker.steps_per_second / reference.steps_per_second if reference.steps_per_second else 0.0
            print(f"\nworker / reference at equal memory: {ratio:.1f}x "
                  f"({worker.rss_mb:.0f} MB worker RSS vs {reference.pss_mb:.0f} MB reference PSS)")
            report |= {"calibration": asdict(calibration), "reference": asdict(reference), "ratio": ratio}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def print_figures(title: str, figures: Figures) -> None:
    print(f"\n== {title}")
    print(f"steps/s {figures.steps_per_second:.1f} ({figures.steps} steps in {figures.seconds:.0f} s, "
          f"{figures.processes} process{'es' if figures.processes > 1 else ''})")
    print(f"memory: RSS {figures.rss_mb:.0f} MB, PSS {figures.pss_mb:.0f} MB")
    print(f"CPU (% of one core): measured {figures.cpu_percent:.0f}, model server "
          f"{figures.model_server_cpu_percent:.0f}, PostgreSQL {figures.postgres_cpu_percent:.0f}")


if __name__ == "__main__":
    main()
