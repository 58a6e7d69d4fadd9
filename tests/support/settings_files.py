"""Shared facts: the repository, its settings' variables, the example
environment, the websocket protocol's document."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = ROOT / "docker" / ".env.example"
PROTOCOL_DOC = ROOT / "docs" / "websocket-protocol.md"

_READ = re.compile(r"env_(?:str|bool|int|float|list|secret)\(\s*\"([A-Z][A-Z0-9_]*)\"")
_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")


def settings_variables() -> set[str]:
    """Every environment variable balrogweb/settings.py reads (through balrogweb.env)."""
    return set(_READ.findall((ROOT / "balrogweb" / "settings.py").read_text()))


def example_entries() -> dict[str, str | None]:
    """NAME -> value for set lines, NAME -> None for documented-but-commented ones."""
    entries: dict[str, str | None] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = _LINE.match(line.strip())
        if match is None:
            continue
        name, value = match.groups()
        if line.lstrip().startswith("#"):
            entries.setdefault(name, None)
        else:
            entries[name] = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    return entries


def example_environment(**overrides: str) -> dict[str, str]:
    """This process's environment minus balrogweb's variables, plus the example's."""
    env = {k: v for k, v in os.environ.items() if k not in settings_variables() and not k.startswith("DJANGO_")}
    env.update({k: v for k, v in example_entries().items() if v is not None})
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
