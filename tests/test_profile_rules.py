"""Embedded or PostgreSQL + Redis is answered in one place, balrogweb/profile.py.

Product code asks the profile (``settings.PROFILE``, ``is_postgresql``,
``channels_in_process``) and never reads the facts behind it: the connection's
vendor, Celery's CELERY_TASK_ALWAYS_EAGER, the in-memory channel layer's class,
the DATABASE_URL and REDIS_URL settings the profile is built from.
Tests change the profile only through tests/support/profile.py's
``use_profile``, which keeps the settings derived from it in step (a test
overriding REDIS_URL alone would now change nothing, silently).
Read from the source (AST): a mention in a docstring or a type annotation
is no reading.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import TypeGuard

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
# Product code: the project's own apps, and balrogweb (the project's wiring).
PRODUCT = ("balrogweb", *(app for app in settings.INSTALLED_APPS if (ROOT / app / "apps.py").is_file()))
# The profile answers; settings build it and derive the rest from it.
ANSWERING = ("balrogweb/profile.py", "balrogweb/settings.py")
VENDOR = "vendor"
EAGER = "CELERY_TASK_ALWAYS_EAGER"
IN_MEMORY_LAYER = "InMemoryChannelLayer"
# The profile's inputs, as settings: code asks settings.PROFILE.redis_url. (The same
# names as strings are environment variables, e.g. ones a command keeps from a child.)
PROFILE_INPUTS = ("DATABASE_URL", "REDIS_URL")
# The profile, its inputs and what settings derive from it for Celery.
PROFILE_SETTINGS = frozenset({"PROFILE", *PROFILE_INPUTS, EAGER, "CELERY_BROKER_URL"})
SETS_THE_PROFILE = "tests/support/profile.py"


def _annotation_nodes(tree: ast.AST) -> set[int]:
    """ids of every node inside a type annotation."""
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            roots.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            roots.append(node.returns)
    return {id(inner) for root in roots for inner in ast.walk(root)}


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of every node under ``if TYPE_CHECKING:`` (imports for types, never run)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            found.update(id(inner) for statement in node.body for inner in ast.walk(statement))
    return found


def _named(node: ast.AST) -> str | None:
    """The name a node reads or imports, if any."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.alias):
        return node.name.rpartition(".")[2]
    if isinstance(node, ast.keyword):
        return node.arg
    return None


def _dotted_name(text: str) -> bool:
    """A name or a dotted path (a setting, an import string), not prose."""
    return all(part.isidentifier() for part in text.split("."))


def runtime_fact_reads(source: str) -> list[tuple[int, str]]:
    """(line, fact) for each place ``source`` reads a runtime fact the profile answers."""
    tree = ast.parse(source)
    skipped = _annotation_nodes(tree) | _type_checking_only(tree)
    getattr_names = {id(node.args[1]) for node in ast.walk(tree) if _is_getattr(node)}
    reads = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        name = _named(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _dotted_name(node.value):
            name = node.value.rpartition(".")[2]  # getattr(settings, "..."), "channels.layers.InMemoryChannelLayer"
        if isinstance(node, ast.Attribute) and name == VENDOR:
            reads.append((getattr(node, "lineno", 0), "connection.vendor"))
            continue
        read_as_setting = isinstance(node, ast.Attribute) or id(node) in getattr_names
        if name in (EAGER, IN_MEMORY_LAYER) or (name in PROFILE_INPUTS and read_as_setting):
            reads.append((getattr(node, "lineno", 0), name))
    return sorted(set(reads))


def _is_getattr(node: ast.AST) -> TypeGuard[ast.Call]:
    return isinstance(node, ast.Call) and _named(node.func) == "getattr" and len(node.args) >= 2


def _names_set(node: ast.AST) -> list[str]:
    """The attributes or settings a statement or call sets, by name."""
    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [target.attr for target in targets if isinstance(target, ast.Attribute)]
    if not isinstance(node, ast.Call):
        return []
    # Other calls' keywords are no settings (base_env(REDIS_URL=...) is a child's environment).
    overrides = _named(node.func) == "override_settings"
    names = [keyword.arg for keyword in node.keywords if keyword.arg and overrides]
    if _named(node.func) == "setattr" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
        names.append(str(node.args[1].value))
    return names


def profile_settings_set(source: str) -> list[tuple[int, str]]:
    """(line, setting) for each place ``source`` sets the profile or a setting
    derived from it: ``settings.X = ...``, ``override_settings(X=...)``,
    ``setattr(settings, "X", ...)`` (monkeypatch's too)."""
    found = [
        (getattr(node, "lineno", 0), name)
        for node in ast.walk(ast.parse(source))
        for name in _names_set(node)
        if name in PROFILE_SETTINGS
    ]
    return sorted(found)


def _sources(folders: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")


PLANTED = '''
from typing import TYPE_CHECKING
from channels.layers import InMemoryChannelLayer
from django.conf import settings
from django.db import connections
if TYPE_CHECKING:
    from channels.layers import InMemoryChannelLayer as Layer

def send(layer: "InMemoryChannelLayer") -> bool:
    """Mentions CELERY_TASK_ALWAYS_EAGER and connection.vendor: a docstring."""
    if connections["default"].vendor == "postgresql":
        return settings.CELERY_TASK_ALWAYS_EAGER
    return getattr(settings, "CELERY_TASK_ALWAYS_EAGER") or isinstance(layer, InMemoryChannelLayer)

def flush() -> str:
    kept = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return settings.REDIS_URL or getattr(settings, "DATABASE_URL", "") or str(kept)
'''


def test_it_finds_each_runtime_fact_read_and_nothing_else() -> None:
    assert runtime_fact_reads(PLANTED) == [
        (3, IN_MEMORY_LAYER),
        (11, "connection.vendor"),
        (12, EAGER),
        (13, EAGER),
        (13, IN_MEMORY_LAYER),
        (17, "DATABASE_URL"),
        (17, "REDIS_URL"),
    ]
    assert runtime_fact_reads("def f(layer: InMemoryChannelLayer) -> None:\n    return None\n") == []


def test_it_leaves_the_runtime_facts_to_the_profile() -> None:
    assert {"games", "ops", "play", "agents"} <= set(PRODUCT)
    offenders = [
        f"{path}:{line}: {fact}"
        for path, text in _sources(PRODUCT)
        if path not in ANSWERING
        for line, fact in runtime_fact_reads(text)
    ]
    assert offenders == []


def test_it_finds_each_way_a_test_sets_the_profile() -> None:
    planted = (
        "settings.CELERY_TASK_ALWAYS_EAGER = True\n"
        "@override_settings(CELERY_BROKER_URL='memory://', DEBUG=True)\n"
        "def f(): pass\n"
        "monkeypatch.setattr(settings, 'PROFILE', None)\n"
        "assert settings.CELERY_TASK_ALWAYS_EAGER is False\n"  # reading is fine
        "settings.DEBUG = True\n"
        "with override_settings(REDIS_URL=url): pass\n"
        "env = base_env(tmp_path, REDIS_URL=url)\n"
    )
    assert profile_settings_set(planted) == [(1, EAGER), (2, "CELERY_BROKER_URL"), (4, "PROFILE"), (7, "REDIS_URL")]


def test_it_changes_the_profile_in_tests_only_through_use_profile() -> None:
    offenders = [
        f"{path}:{line}: {name}"
        for path, text in _sources(("tests",))
        if path != SETS_THE_PROFILE
        for line, name in profile_settings_set(text)
    ]
    assert offenders == []
