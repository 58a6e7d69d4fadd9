"""Client of the reference NetHack engine process (``sidecar_server.py``).

One process per adapter, started on first use with the Python of
``.venv-nle09`` (``BALROG_NLE09_PYTHON`` overrides it), NetHack's clock pinned
with libfaketime (frozen at the adapter's ``clock_utc``, time zone UTC). The
process ends when the adapter closes, when its stdin closes, or when this
process dies (it asks the kernel for that). Every answer is awaited at most
``TIMEOUT_SECONDS``; a dead or silent engine raises ``SidecarError``.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import threading
from pathlib import Path
from typing import Any

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


class Sidecar:
    def __init__(self, clock_utc: str) -> None:
        self.clock_utc = clock_utc
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

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

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                if op != "make":
                    # A new engine holds no game: never step one silently; the caller
                    # rebuilds the episode from its log (games.services) instead.
                    self._process = None
                    raise SidecarError("the reference NetHack engine is not running: the episode must be rebuilt")
                self._process = self._start()
            process = self._process
            assert process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write(json.dumps({"op": op, **fields}).encode() + b"\n")
                process.stdin.flush()
            except BrokenPipeError as error:
                self._kill()
                raise SidecarError("the reference NetHack engine exited") from error
            line = self._read_line(process)
        answer: dict[str, Any] = json.loads(line)
        if not answer.get("ok"):
            raise SidecarError(str(answer.get("error")))
        return answer

    def _read_line(self, process: subprocess.Popen[bytes]) -> bytes:
        assert process.stdout is not None
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
