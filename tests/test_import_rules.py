"""The import map of the apps, read from the source (every import counts:
module level, inside functions and under TYPE_CHECKING alike).

The rules keep each concern in one obvious place: no module cycles; the game
core never reaches up into the apps built on it; other apps use play's data
(play.models) but nothing else of it (its pages, services, replays, protocol); ops sees games only through
the registry and the game core, never a game package's internals.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import suppress
from functools import cache
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
APPS = ("agents", "annotations", "balrogweb", "games", "leaderboard", "ops", "play", "reference")
# ops is infrastructure (health, metrics, outage handling) any layer may use
ABOVE_GAMES = ("agents", "annotations", "leaderboard", "play")
PLAY_DATA = ("play.models",)
GAME_PACKAGES = ("games.babaisai", "games.babyai", "games.crafter", "games.nethack", "games.textworld")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(path): path for app in APPS for path in sorted((ROOT / app).rglob("*.py"))}


def _imported_names(module: str, path: Path) -> Iterator[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    yield from _names_imported_by(ast.parse(path.read_text(encoding="utf-8")), package)


def _names_imported_by(tree: ast.AST, package: str) -> Iterator[str]:
    """Every module (and ``module.name``) the code in ``tree`` imports; relative
    imports are resolved against ``package``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _project_module(name: str) -> str | None:
    """The project module ``name`` is, or lies in (an imported class or
    function names its module); None outside the project."""
    modules = _modules()
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


@cache
def import_graph() -> dict[str, frozenset[str]]:
    graph: dict[str, frozenset[str]] = {}
    for module, path in _modules().items():
        targets = {_project_module(name) for name in _imported_names(module, path)}
        graph[module] = frozenset(target for target in targets if target is not None and target != module)
    return graph


def cycles(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _edges(source_prefixes: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    for module, targets in import_graph().items():
        if module.split(".")[0] in source_prefixes:
            yield from ((module, target) for target in sorted(targets))


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def test_it_reads_the_whole_project() -> None:
    graph = import_graph()
    assert "games.base" in graph and "play.views" in graph
    assert "games.outcome" in graph["games.progression"]  # a TYPE_CHECKING-free import, read as such
    assert "agents.evaluation" in graph["agents.tasks"]


def test_it_finds_a_cycle_when_there_is_one() -> None:
    graph = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}
    assert cycles(graph) == [["a", "b", "c"]]


def test_it_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_it_keeps_the_game_core_below_the_apps() -> None:
    upward = [(source, target) for source, target in _edges(("games",)) if _under(target, ABOVE_GAMES)]
    assert upward == []


def test_it_keeps_play_to_itself_but_its_data() -> None:
    # balrogweb is the project's wiring (URLs, ASGI routing): it may mount play's views and consumers.
    apps = tuple(app for app in APPS if app not in ("play", "balrogweb"))
    outside = [
        (source, target)
        for source, target in _edges(apps)
        if _under(target, ("play",)) and not _under(target, PLAY_DATA)
    ]
    assert outside == []


def test_it_keeps_ops_out_of_the_game_packages() -> None:
    assert [(source, target) for source, target in _edges(("ops",)) if _under(target, GAME_PACKAGES)] == []


def test_it_keeps_the_tests_off_the_benchmarks() -> None:
    """Tests share helpers through tests/support, never through bench/ (whose
    scripts import as top-level modules once bench/ is on sys.path)."""
    scripts = {path.stem for path in (ROOT / "bench").glob("*.py")}
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if path.name == "test_import_rules.py":
            continue
        text = path.read_text(encoding="utf-8")
        names = set(_imported_names(_module_name(path), path))
        if names & scripts or any(name.startswith("bench") for name in names) or '/ "bench"' in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def forbidden_imports(source: str, module: str) -> list[str]:
    """The modules that the module ``module`` imports from, in its code or in
    the Python it hands another process as a string (a ``manage.py shell -c``
    script), against the rule for everything under tests/ and bench/:

    - no import from a test module (``tests.…test_*``): its names are its own;
    - no import from a conftest module (``tests[.…].conftest``): a conftest
      holds its directory's fixtures, which pytest hands out by name, and no
      helper;
    - a fixtures module of tests/support (``tests.support.fixtures_*``) is
      imported by a conftest.py only: that is how a directory's conftest
      shares fixtures with another's (tests/conftest.py registers the ones for
      every test through ``pytest_plugins`` instead, which imports nothing).

    Every other shared helper is imported from tests/support's other modules."""
    package = module.rpartition(".")[0]
    trees = [ast.parse(source)]
    for node in ast.walk(trees[0]):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "import" in node.value:
            with suppress(SyntaxError, ValueError):  # a string that is not Python
                trees.append(ast.parse(node.value))
    names = {name for tree in trees for name in _names_imported_by(tree, package)}
    found = {_test_module_in(name) for name in names} | {_conftest_in(name) for name in names}
    if module.rpartition(".")[2] != "conftest":
        found |= {_fixtures_module_in(name) for name in names}
    return sorted(forbidden for forbidden in found if forbidden is not None)


def _test_module_in(name: str) -> str | None:
    """The test module an imported name lies in (or is), None when none."""
    parts = name.split(".")
    if parts[0] != "tests":
        return None
    for index, part in enumerate(parts):
        if part.startswith("test_"):
            return ".".join(parts[: index + 1])
    return None


def _conftest_in(name: str) -> str | None:
    """The conftest module an imported name lies in (or is), None when none."""
    parts = name.split(".")
    return ".".join(parts[: parts.index("conftest") + 1]) if "conftest" in parts else None


def _fixtures_module_in(name: str) -> str | None:
    """The tests/support fixtures module an imported name lies in (or is), None when none."""
    parts = name.split(".")
    if parts[:2] == ["tests", "support"] and len(parts) > 2 and parts[2].startswith("fixtures_"):
        return ".".join(parts[:3])
    return None


def test_it_finds_imports_from_test_modules_and_conftests_in_code_and_in_scripts() -> None:
    planted = '''
import pytest
import tests.play.test_browser as browser
from django.test import Client
from tests.conftest import FakeDatabase
from tests.ops import test_faults
from tests.support.servers import Server
from tests.support.fixtures_play import pat
from .test_pages import logged_in
from . import conftest
SCRIPT = """
from tests.ops.test_xss import hostile_world
from tests.annotations.conftest import XSS
print(hostile_world())
"""
NOT_PYTHON = "import what you need"
'''
    found = forbidden_imports(planted, "tests.play.test_frictions")
    assert found == [
        "tests.annotations.conftest",
        "tests.conftest",
        "tests.ops.test_faults",
        "tests.ops.test_xss",
        "tests.play.conftest",
        "tests.play.test_browser",
        "tests.play.test_pages",
        "tests.support.fixtures_play",
    ]
    assert forbidden_imports("from tests.support.servers import Server\n", "bench.replay") == []
    shared = "from tests.support.fixtures_play import pat  # noqa: F401\nfrom tests.support.pages import HTML\n"
    assert forbidden_imports(shared, "tests.ops.conftest") == []
    assert forbidden_imports(shared, "tests.support.hostile") == ["tests.support.fixtures_play"]
    assert forbidden_imports("from ..play.conftest import pat\n", "tests.ops.conftest") == ["tests.play.conftest"]


def test_it_keeps_test_modules_and_conftests_names_their_own() -> None:
    """Nothing under tests/ or bench/ imports from a test module or a conftest,
    and only a conftest.py imports fixtures from tests/support (this module only
    holds planted violations, in strings): forbidden_imports states the rule."""
    offenders = {}
    for path in sorted([*(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]):
        if path.name == "test_import_rules.py":
            continue
        found = forbidden_imports(path.read_text(encoding="utf-8"), _module_name(path))
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}


def test_it_has_one_persona() -> None:
    definitions = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if "\nclass Persona" in path.read_text(encoding="utf-8")
    ]
    assert definitions == ["tests/support/personas.py"]
