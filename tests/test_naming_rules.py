"""Names say what a function does (zulip's convention, issue 20): a public
module-level function that writes rows is named ``do_*``; a check is
``check_*``. Read from the source: a write is a queryset write reached
through a model's manager (``Model.objects...update(...)``, ``.create(...)``).

Pages and management commands are edges, not services: they call the
``do_*`` functions and are not scanned. Private helpers (``_name``) are
called by the ``do_*`` function that owns the write.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
APPS = ("agents", "annotations", "games", "leaderboard", "ops", "play", "reference")
WRITES = {"create", "update", "delete", "bulk_create", "bulk_update", "get_or_create", "update_or_create"}
EDGES = ("views.py", "admin.py")


def writes_rows(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in WRITES
        and ".objects" in ast.unparse(node.func.value)
        for node in ast.walk(function)
    )


def unnamed_writers(source: str) -> Iterator[str]:
    """Public module-level functions of ``source`` that write rows without the do_ prefix."""
    functions = (node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef))
    yield from (f.name for f in functions if not f.name.startswith(("do_", "_")) and writes_rows(f))


def _service_modules() -> Iterator[Path]:
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts or "management" in path.parts or path.name in EDGES:
                continue
            yield path


def test_it_finds_a_writer_without_the_prefix() -> None:
    source = (
        "def start(pk):\n    Episode.objects.filter(pk=pk).update(status='running')\n"
        "def do_start(pk):\n    Episode.objects.create(pk=pk)\n"
        "def count(pk):\n    return Episode.objects.filter(pk=pk).count()\n"
        "def merge(a, b):\n    a.update(b)\n"
    )
    assert list(unnamed_writers(source)) == ["start"]


def test_it_names_every_writer_do() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _service_modules()
        for name in unnamed_writers(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
