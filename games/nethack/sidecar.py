"""Client of the reference NetHack engine processes (``sidecar_server.py``).

An engine is one process running the Python of ``.venv-nle09``
(``BALROG_NLE09_PYTHON`` overrides it) with NetHack's clock pinned by
libfaketime (frozen at a ``clock_utc``, time zone UTC). It holds many games:
each live reference episode is one game in an engine of its clock, named by
the episode's ``EngineGame``. A process keeps up to ``BALROG_NLE09_ENGINES``
engines per clock (default 2: steps of different games run in parallel) and
spreads games over them. An engine ends when this process closes its stdin
or dies (the kernel closes the pipe). Every answer is awaited at most
``TIMEOUT_SECONDS``; a dead or silent engine raises ``SidecarError``, and the
games it held are gone: their episodes are rebuilt from their logs.

Why not one process per episode: ~59 MB of resident memory each, and half a
second to start; a game inside a shared engine costs ~3 MB.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import selectors
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import cast

from games.nethack.sidecar_server import Made, State

ROOT = Path(__file__).resolve().parents[2]
SERVER = Path(__file__).resolve().parent / "sidecar_server.py"
TIMEOUT_SECONDS = 120.0
FAKETIME_LIBRARIES = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
)


class SidecarError(RuntimeError):
    pass


def python_path() -> Path:
    return Path(os.environ.get("BALROG_NLE09_PYTHON", str(ROOT / ".venv-nle09" / "bin" / "python")))


def engines_per_clock() -> int:
    text = os.environ.get("BALROG_NLE09_ENGINES", "2")
    if not text.isdigit() or int(text) < 1:
        raise SidecarError(f"BALROG_NLE09_ENGINES must be a positive integer, not {text!r}")
    return int(text)


def faketime_library() -> str:
    for path in FAKETIME_LIBRARIES:
        if os.path.exists(path):
            return path
    raise SidecarError(
        "libfaketime is not installed (Debian: apt-get install libfaketime; scripts/bootstrap.sh does it)"
    )


def available() -> bool:
    """Whether the reference engine can start here (its venv and libfaketime)."""
    try:
        faketime_library()
    except SidecarError:
        return False
    return python_path().exists()


def engine_environment(clock_utc: str) -> dict[str, str]:
    """The process environment: NetHack reads the wall clock (moon phase,
    night), so it is frozen at ``clock_utc`` ("YYYY-MM-DD HH:MM:SS", UTC)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("FAKETIME", "LD_PRELOAD"))}
    env.update(
        TZ="UTC",
        LD_PRELOAD=faketime_library(),
        FAKETIME=clock_utc,
        FAKETIME_DONT_FAKE_MONOTONIC="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


class Engine:
    """One engine process; requests to it are serialized by its lock."""

    def __init__(self, clock_utc: str) -> None:
        self.clock_utc = clock_utc
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def call(self, op: str, **fields: str | int | None) -> dict[str, object]:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                if op != "make":
                    # A new engine holds no game: never step one silently; the caller
                    # rebuilds the episode from its log (games.services) instead.
                    self._process = None
                    raise SidecarError("the reference NetHack engine is not running: the episode must be rebuilt")
                self._process = self._start()
            line = self._exchange(self._process, {"op": op, **fields})
        answer: dict[str, object] = json.loads(line)
        if not answer.get("ok"):
            raise SidecarError(str(answer.get("error")))
        return answer

    def _start(self) -> subprocess.Popen[bytes]:
        python = python_path()
        if not python.exists():
            raise SidecarError(f"the reference NetHack venv is missing: {python} (run scripts/bootstrap.sh)")
        return subprocess.Popen(
            [str(python), "-P", str(SERVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=engine_environment(self.clock_utc),
            cwd=str(ROOT),
        )

    def _exchange(self, process: subprocess.Popen[bytes], request: Mapping[str, object]) -> bytes:
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps(request).encode() + b"\n")
            process.stdin.flush()
        except BrokenPipeError as error:
            self._kill()
            raise SidecarError("the reference NetHack engine exited") from error
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            if not selector.select(TIMEOUT_SECONDS):
                self._kill()
                raise SidecarError(f"the reference NetHack engine did not answer in {TIMEOUT_SECONDS:.0f} s")
        line = process.stdout.readline()
        if not line:
            self._kill()
            raise SidecarError("the reference NetHack engine exited")
        return line

    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def close(self) -> None:
        with self._lock:
            self._kill()


class _Engines:
    """This process's engines, by clock. A forked child (a Celery prefork
    worker) never reuses its parent's pipes: it starts engines of its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._by_clock: dict[str, list[Engine]] = {}
        self._names = itertools.count()

    def assign(self, clock_utc: str) -> tuple[Engine, str]:
        with self._lock:
            if os.getpid() != self._pid:
                self._pid, self._by_clock = os.getpid(), {}
            engines = self._by_clock.setdefault(clock_utc, [Engine(clock_utc) for _ in range(engines_per_clock())])
            number = next(self._names)
            return engines[number % len(engines)], f"{self._pid}-{number}"

    def close_all(self) -> None:
        with self._lock:
            engines = [engine for group in self._by_clock.values() for engine in group]
            self._by_clock = {}
        for engine in engines:
            engine.close()


ENGINES = _Engines()


class EngineGame:
    """One episode's game inside a shared engine of its clock."""

    def __init__(self, clock_utc: str) -> None:
        self.clock_utc = clock_utc
        self.engine, self.name = ENGINES.assign(clock_utc)

    # The engine's answers have the shapes its protocol gives them (games.nethack.sidecar_server).
    def make(self, env: str, task: str, style: str) -> Made:
        return cast(Made, self.engine.call("make", game=self.name, env=env, task=task, style=style))

    def reset(self, seed: int, level: str | None) -> State:
        return cast(State, self.engine.call("reset", game=self.name, seed=seed, level=level))

    def step(self, action: str) -> State:
        return cast(State, self.engine.call("step", game=self.name, action=action))

    def close(self) -> None:
        with contextlib.suppress(SidecarError):  # an engine that is gone holds no game to free
            self.engine.call("close", game=self.name)
