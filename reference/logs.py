"""Replay BALROG's own result logs and compare every logged observation.

A result folder (or a ``.tar.xz`` of one) holds ``<env>/<task>/<task>_run_NN.json``
(seed, progression, num_steps, done, ...) and ``.csv`` (a row per step:
``Action`` is the model's parsed output, ``Observation`` the long-term text
after the step). For every episode we reset the reference-protocol adapter
with the logged seed, execute the logged actions as the reference did (an
invalid output runs the default action), and compare each logged
observation with ours, then the final progression, step count and done flag.

What the log does not say is chosen by each env's ``log_options`` (in the
module of its reference adapter): TextWorld's game and Boxoban's level from
the first observations, NetHack's clock from the submission's date, the
game package's text version live at that date. Crafter's worlds were not
seeded by the reference, so its episodes are checked for format only.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from importlib import import_module
from pathlib import Path
from typing import Any, cast

from games.registry import GAMES, PROTOCOL_BALROG, check_protocol, make_adapter
from reference.golden import mask
from reference.prompts import feedback_prefix, legacy_feedback_prefix

_RUN_FILE = re.compile(r"_run_(?P<index>\d+)\.json$")
_DATED = re.compile(r"(?:^|/)(?P<date>\d{8})_[^/]*$")
#: the reference's current invalid-answer line since commit c347aa8; before it, another
#: line (with the answer quoted) that no setting turned off
FEEDBACK_SINCE = date(2025, 1, 28)
FEEDBACK_MODES = ("current", "legacy", "none")
# A NetHack observation with its map is longer than csv's default field limit.
csv.field_size_limit(sys.maxsize)


class LogError(ValueError):
    """The path is not a BALROG result folder the check can read."""


@dataclass
class LoggedEpisode:
    env: str
    task: str
    name: str  # the episode file's path inside the submission
    summary: dict[str, Any]
    rows: list[dict[str, str]]

    @property
    def seed(self) -> int:
        return int(self.summary.get("seed") or 0)

    @property
    def observations(self) -> list[str]:
        return [row.get("Observation", "") for row in self.rows]


@dataclass
class EpisodeCheck:
    env: str
    task: str
    name: str
    steps: int = 0  # logged observations compared
    identical_steps: int = 0
    first_identical: bool = False
    progression_equal: bool = False
    steps_equal: bool = False
    done_equal: bool = False
    format_only: bool = False
    first_difference: dict[str, Any] | None = None
    error: str = ""


@dataclass
class LogReport:
    submission: str
    submitted: date
    feedback: str  # FEEDBACK_MODES
    protocol: str = PROTOCOL_BALROG
    episodes: list[EpisodeCheck] = field(default_factory=list)
    seconds: float = 0.0


# ----- reading a submission -----------------------------------------------------------
def submission_date(path: Path, given: date | None = None) -> date:
    """The day the submission was run: ``--date``, else its folder's ``YYYYMMDD_`` prefix."""
    if given is not None:
        return given
    name = path.name.removesuffix(".tar.xz")
    match = _DATED.search(name)
    if match is None:
        raise LogError(f"{path}: no date in its name (YYYYMMDD_...): pass --date")
    text = match["date"]
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def read_submission(path: Path) -> Iterator[LoggedEpisode]:
    files = _tar_files(path) if path.name.endswith(".tar.xz") else _folder_files(path)
    episodes = 0
    for name in sorted(files):
        if _RUN_FILE.search(name) is None:
            continue
        episode = _episode(name, files)
        if episode is not None:
            episodes += 1
            yield episode
    if not episodes:
        raise LogError(f"{path}: no <env>/<task>/<task>_run_NN.json episode files")


def _folder_files(root: Path) -> dict[str, Callable[[], bytes]]:
    if not root.is_dir():
        raise LogError(f"{root}: neither a result folder nor a .tar.xz of one")
    return {str(p.relative_to(root)): p.read_bytes for p in root.rglob("*") if p.suffix in (".json", ".csv")}


def _tar_files(path: Path) -> dict[str, Callable[[], bytes]]:
    try:
        with tarfile.open(path, "r:xz") as archive:
            data = {
                member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
                for member in archive.getmembers()
                if member.isfile() and member.name.endswith((".json", ".csv"))
            }
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise LogError(f"{path}: not a readable .tar.xz ({exc})") from exc
    top = {name.split("/", 1)[0] for name in data}
    strip = len(top) == 1 and all("/" in name for name in data)
    return {(name.split("/", 1)[1] if strip else name): _reader(blob) for name, blob in data.items()}


def _reader(blob: bytes) -> Callable[[], bytes]:
    return lambda: blob


def _episode(name: str, files: dict[str, Callable[[], bytes]]) -> LoggedEpisode | None:
    summary = json.loads(files[name]())
    if not isinstance(summary, dict) or "task" not in summary:
        return None
    env = name.split("/", 1)[0]
    csv_name = name.removesuffix(".json") + ".csv"
    rows = _rows(files[csv_name]()) if csv_name in files else []
    return LoggedEpisode(env, str(summary["task"]), name, summary, rows)


def _rows(blob: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(blob.decode("utf-8"), newline="")))


# ----- replaying -----------------------------------------------------------------------
def env_module(env: str) -> Any:
    return import_module(GAMES[env].path(PROTOCOL_BALROG).rsplit(".", 1)[0])


def check_episode(
    logged: LoggedEpisode, submitted: date, feedback: str, protocol: str = PROTOCOL_BALROG
) -> EpisodeCheck:
    check = EpisodeCheck(logged.env, logged.task, logged.name)
    module = env_module(logged.env)
    if getattr(module, "LOGS_FORMAT_ONLY", False):
        return _check_format(check, logged, module)
    if protocol == PROTOCOL_BALROG:
        options = {"protocol": protocol, **module.log_options(logged.task, logged.seed, logged.observations, submitted)}
    else:  # another protocol has no knobs to pick: what its adapter plays for the seed
        options = {"protocol": protocol}
    try:
        _replay(check, logged, options, feedback)
    except Exception as exc:  # one broken episode is a finding, not the end of the check
        check.error = f"{type(exc).__name__}: {exc}"
    return check


def _check_format(check: EpisodeCheck, logged: LoggedEpisode, module: Any) -> EpisodeCheck:
    conforms = cast(Callable[[str], bool], module.log_format_ok)
    check.format_only = True
    check.steps = len(logged.rows)
    check.identical_steps = sum(conforms(text) for text in logged.observations)
    check.first_identical = bool(logged.rows) and conforms(logged.observations[0])
    return check


def _replay(check: EpisodeCheck, logged: LoggedEpisode, options: dict[str, Any], feedback: str) -> None:
    adapter = make_adapter(logged.env, logged.task, options)
    try:
        adapter.reset(logged.seed)
        for index, row in enumerate(logged.rows):
            if adapter.done:
                _differ(check, index, "<the episode had ended>", row.get("Observation", ""))
                check.steps += 1
                continue
            answer = row.get("Action", "")
            result = adapter.step(answer)
            prefix = "" if result.valid else _feedback(feedback, answer, result.action)
            _compare(check, index, prefix + adapter.observation().long_term, row.get("Observation", ""))
        _compare_totals(check, logged, adapter.progression, adapter.steps, adapter.done)
    finally:
        adapter.close()


def _feedback(mode: str, answer: str, default: str) -> str:
    if mode == "current":
        return feedback_prefix(default)
    if mode == "legacy":
        return legacy_feedback_prefix(answer, default)
    return ""


def _compare(check: EpisodeCheck, index: int, ours: str, logged: str) -> None:
    check.steps += 1
    if mask(ours) == mask(logged):
        check.identical_steps += 1
        check.first_identical = check.first_identical or index == 0
    else:
        _differ(check, index, ours, logged)


def _differ(check: EpisodeCheck, index: int, ours: str, logged: str) -> None:
    if check.first_difference is None:
        check.first_difference = {"step": index, "ours": ours, "reference": logged}


def _compare_totals(check: EpisodeCheck, logged: LoggedEpisode, progression: float, steps: int, done: bool) -> None:
    summary = logged.summary
    check.progression_equal = abs(progression - float(summary.get("progression") or 0.0)) < 1e-9
    check.steps_equal = steps == int(summary.get("num_steps") or len(logged.rows))
    check.done_equal = done == bool(summary.get("done", True))
    if check.first_difference is None and not (check.progression_equal and check.steps_equal and check.done_equal):
        check.first_difference = {
            "step": "totals",
            "ours": {"progression": progression, "steps": steps, "done": done},
            "reference": {
                "progression": summary.get("progression"),
                "steps": summary.get("num_steps"),
                "done": summary.get("done"),
            },
        }


def check_submission(
    path: Path,
    *,
    given_date: date | None = None,
    envs: set[str] | None = None,
    tasks: set[str] | None = None,
    feedback: str | None = None,
    protocol: str = PROTOCOL_BALROG,
) -> LogReport:
    started = time.monotonic()
    submitted = submission_date(path, given_date)
    mode = feedback or ("current" if submitted >= FEEDBACK_SINCE else "legacy")
    report = LogReport(path.name, submitted, mode, check_protocol(protocol))
    for logged in read_submission(path):
        if (envs and logged.env not in envs) or (tasks and logged.task not in tasks):
            continue
        report.episodes.append(check_episode(logged, submitted, mode, protocol))
    report.seconds = time.monotonic() - started
    return report
