"""The leaderboard: one row per model + agent configuration and one for the
human baselines, every figure by BALROG's aggregation (agents.aggregation).

What counts:
- episodes that ended (finished or abandoned; abandoned ones score as they
  stand, like the human baseline rule);
- model episodes of *public* runs only: finished and published runs
  (agents.publishing); a model episode outside any run never counts;
- the main ranking holds only entries of BALROG's own protocol with its full
  coverage (every env and task, the reference's episode counts); the others
  are listed apart with their protocol and coverage (leaderboard.coverage);
- human episodes that count as baselines (play.models.human_baseline_episodes:
  logged-in players, PlayRecord.baseline_override honoured): one "Humans"
  row, and optionally the top players (logged-in users with enough counted
  episodes) each in a row of their own, labelled by username.

The board is computed once per data version and cached (see ``data_version``).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Avg, Count, Max, Q, QuerySet, Sum

from agents.aggregation import EnvSummary, Stat, Summary, mean_se, overall_of
from agents.config import AgentConfig, AgentConfigError, uses_own_demonstrations
from agents.models import EvaluationRun, RunEpisode
from games.models import Episode
from games.registry import ENVS, PROTOCOL_BALROG
from leaderboard.coverage import Coverage, coverage_of, ranking_refusal
from leaderboard.stats import TOO_FEW, Estimate, Interval, confident_ranks, overall_estimate
from play.models import PlayRecord, human_baseline_episodes

ENDED = (Episode.Status.FINISHED, Episode.Status.ABANDONED)
HUMANS_KEY = "humans"
HUMANS_NAME = "Humans (all)"  # beside one row per top player: never two rows named alike
PLAYER_PREFIX = "p-"  # keys of top-player rows
RANDOM_AGENT = "random"
# Benchmark rows (see the synthesize_leaderboard command) carry this prefix.
SYNTHETIC_PREFIX = "synthetic:"
CACHE_SECONDS = 300
VERSION_KEY = "leaderboard:data-version"
BUILDING_KEY = "leaderboard:building"  # held by the request rebuilding the board
LAST_BOARD_KEY = "leaderboard:last-board"
BUILD_LOCK_SECONDS = 60
T = TypeVar("T")
TABS = ("llm", "vlm")
SORT_KEYS = ("rank", "overall", "name", "episodes", *ENVS)


@dataclass(frozen=True)
class Group:
    """Ended episodes of one entry with the same env, task and progression,
    counted in SQL (GROUP BY): the board reads thousands of these, not one
    row per episode."""

    env: str
    task: str
    progression: float
    count: int
    steps: int  # summed
    input_tokens: int
    output_tokens: int
    verified: int  # how many re-simulated to the same digests
    unreplayable: int  # how many are imported reference results


@dataclass
class Entry:
    key: str  # URL-safe id of the row
    kind: str  # "model", "human" (the Humans row) or "player" (a top player)
    name: str
    agent: str  # the agent configuration's label ("" for humans)
    modality: str  # "LLM", "VLM" or "human"
    summary: Summary
    interval: Interval | None
    verified: bool
    imported: bool
    synthetic: bool = False
    run_ids: tuple[int, ...] = ()
    rank: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    protocol: str = PROTOCOL_BALROG
    coverage: Coverage | None = None
    #: why the entry is listed apart from the main ranking ("" when it is ranked)
    apart: str = ""
    #: the overall with its standard error and degrees of freedom (None: too few episodes)
    estimate: Estimate | None = None

    @property
    def ranked(self) -> bool:
        return not self.apart

    @property
    def cells(self) -> list[Stat | None]:
        return [self.summary.envs[env].stat if env in self.summary.envs else None for env in ENVS]

    def sort_value(self, key: str) -> float | str | None:
        """The value a column sorts on (None: no data, always sorted last)."""
        if key in ("rank", "overall"):
            return self.summary.overall.mean if self.summary.overall.n else None
        if key == "name":
            return f"{self.name} {self.agent}".lower()
        if key == "episodes":
            return float(self.summary.episodes)
        env = self.summary.envs.get(key)
        return env.stat.mean if env is not None else None


@dataclass(frozen=True)
class Board:
    entries: tuple[Entry, ...]
    random_floor: dict[str, float]
    version: str


# ----- what is public -----------------------------------------------------------------------
def public_runs() -> QuerySet[EvaluationRun]:
    """Finished runs someone published (a run resumed after publishing is
    running again and leaves the board until it finishes)."""
    return EvaluationRun.objects.filter(status=EvaluationRun.Status.FINISHED, published=True)


def model_slots() -> QuerySet[RunEpisode]:
    return RunEpisode.objects.filter(run__in=public_runs(), episode__status__in=ENDED)


def human_episodes() -> QuerySet[Episode]:
    return human_baseline_episodes()


# ----- the data version (cache key) ---------------------------------------------------------
def data_version() -> str:
    """Changes whenever an episode ends, is verified, a run finishes, is
    published or unpublished, or a baseline override flips; cheap (a few
    indexed aggregates)."""
    episodes = Episode.objects.filter(status__in=ENDED).aggregate(
        n=Count("pk"), last=Max("pk"), ended=Max("ended_at"), verified=Max("verified_at")
    )
    public = Q(status=EvaluationRun.Status.FINISHED, published=True)
    runs = EvaluationRun.objects.aggregate(
        n=Count("pk", filter=public), ids=Sum("pk", filter=public), last=Max("finished_at"),
        published=Max("published_at"),
    )  # fmt: skip
    overrides = PlayRecord.objects.aggregate(
        yes=Count("pk", filter=Q(baseline_override=True)), no=Count("pk", filter=Q(baseline_override=False))
    )
    # The top-player settings shape the board too (tests change them at run time).
    players = [settings.BALROG_LEADERBOARD_TOP_PLAYERS, settings.BALROG_LEADERBOARD_TOP_PLAYER_MIN_EPISODES]
    text = json.dumps([episodes, runs, overrides, players], default=str, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def current_version() -> str:
    """The data version, itself cached for BALROG_LEADERBOARD_VERSION_SECONDS
    (0: checked on every request): the check scans the ended episodes, which
    costs tens of milliseconds at 100,000 episodes. The board may lag the
    data by at most that long."""
    ttl = float(getattr(settings, "BALROG_LEADERBOARD_VERSION_SECONDS", 0))
    if ttl <= 0:
        return data_version()
    version = cache.get(VERSION_KEY)
    if not isinstance(version, str):
        version = data_version()
        cache.set(VERSION_KEY, version, ttl)
    return version


def cached(name: str, build: Callable[[], T]) -> T:
    """A value computed once per data version (and name)."""
    key = f"leaderboard:{name}:{current_version()}"
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, CACHE_SECONDS)
    return cast(T, value)


def board() -> Board:
    """The board of the current data version. While one request rebuilds it
    after a change, the others are served the previous board rather than
    all rebuilding at once (a rebuild takes a second or two at 100,000
    episodes)."""
    version = current_version()
    key = f"leaderboard:board:v2:{version}"  # v2: entries carry their estimate
    cached = cache.get(key)
    if isinstance(cached, Board):
        return cached
    if not cache.add(BUILDING_KEY, version, BUILD_LOCK_SECONDS):
        previous = cache.get(LAST_BOARD_KEY)
        if isinstance(previous, Board):
            return previous
    try:
        built = build_board(version)
        cache.set(key, built, CACHE_SECONDS)
        cache.set(LAST_BOARD_KEY, built, None)
    finally:
        cache.delete(BUILDING_KEY)
    return built


# ----- building it --------------------------------------------------------------------------
def build_board(version: str = "") -> Board:
    entries = [*model_entries(), *human_entries()]
    assign_ranks(entries)
    return Board(entries=tuple(entries), random_floor=random_floor(), version=version)


def entry_key(model_name: str, agent: dict[str, Any], protocol: str = PROTOCOL_BALROG) -> str:
    # The reference protocol keeps the keys entries had before protocols existed.
    parts: list[Any] = [model_name, agent] if protocol == PROTOCOL_BALROG else [model_name, agent, protocol]
    text = json.dumps(parts, sort_keys=True)
    return "m-" + hashlib.sha1(text.encode()).hexdigest()[:12]


def _group_counts(prefix: str) -> dict[str, Any]:
    """Per group: episodes, summed steps, verified and unreplayable counts."""
    return {
        "n": Count("pk"),
        "steps_sum": Sum(f"{prefix}steps"),
        "ok": Count("pk", filter=Q(**{f"{prefix}verified_ok": True})),
        "imported": Count("pk", filter=Q(**{f"{prefix}replayable": False})),
    }


def _group(row: dict[str, Any], progression: str) -> Group:
    return Group(
        env=row["env"],
        task=row["task"],
        progression=row[progression],
        count=row["n"],
        steps=row["steps_sum"] or 0,
        input_tokens=row.get("tin") or 0,
        output_tokens=row.get("tout") or 0,
        verified=row["ok"],
        unreplayable=row["imported"],
    )


def model_entries() -> list[Entry]:
    grouped = (
        model_slots()
        .values("run_id", "env", "task", "episode__progression")
        .annotate(**_group_counts("episode__"), tin=Sum("input_tokens"), tout=Sum("output_tokens"))
        .order_by()
    )
    by_run: dict[int, list[Group]] = defaultdict(list)
    for row in cast(Iterable[dict[str, Any]], grouped):
        by_run[row["run_id"]].append(_group(row, "episode__progression"))
    groups: dict[str, list[Group]] = defaultdict(list)
    meta: dict[str, _RunsOfEntry] = {}
    runs = EvaluationRun.objects.filter(pk__in=by_run).values_list("pk", "model_name", "agent", "protocol", "source")
    for run_id, model, agent, protocol, source in runs:
        agent = agent if isinstance(agent, dict) else {}
        key = entry_key(model, agent, protocol)
        groups[key].extend(by_run[run_id])
        runs_of = meta.setdefault(key, _RunsOfEntry(model, agent, protocol))
        runs_of.run_ids.append(run_id)
        runs_of.own_demonstrations |= own_demonstrations(agent, protocol, source)
    return [_model_entry(key, meta[key], groups[key]) for key in sorted(groups)]


@dataclass
class _RunsOfEntry:
    model: str
    agent: dict[str, Any]
    protocol: str
    run_ids: list[int] = field(default_factory=list)
    own_demonstrations: bool = False


def own_demonstrations(agent: dict[str, Any], protocol: str, source: str) -> bool:
    """A few-shot run played here on the reference protocol (agents.config's rule;
    an imported run used the reference's own demonstrations)."""
    return source == EvaluationRun.Source.LIVE and uses_own_demonstrations(str(agent.get("strategy", "")), protocol)


def _model_entry(key: str, runs: _RunsOfEntry, groups: list[Group]) -> Entry:
    label, vlm = _agent_label(runs.agent)
    return _entry(
        key, groups, kind="model", name=runs.model, agent=label, modality="VLM" if vlm else "LLM",
        synthetic=runs.model.startswith(SYNTHETIC_PREFIX), run_ids=tuple(sorted(runs.run_ids)),
        protocol=runs.protocol, own_demonstrations=runs.own_demonstrations,
    )  # fmt: skip


def _agent_label(agent: dict[str, Any]) -> tuple[str, bool]:
    try:
        config = AgentConfig.from_json(agent)
    except (AgentConfigError, TypeError):
        return "unknown agent", False
    return config.label(), config.uses_images


def human_entries() -> list[Entry]:
    """One "Humans" row per protocol played, then the top players (reference protocol)."""
    episodes = human_episodes()
    grouped = episodes.values("protocol", "env", "task", "progression").annotate(**_group_counts("")).order_by()
    by_protocol: dict[str, list[Group]] = defaultdict(list)
    for row in cast(Iterable[dict[str, Any]], grouped):
        by_protocol[row["protocol"]].append(_group(row, "progression"))
    rows = [_humans_entry(protocol, groups, episodes) for protocol, groups in sorted(by_protocol.items())]
    return [*rows, *top_player_entries()] if rows else []


def humans_key(protocol: str) -> str:
    return HUMANS_KEY if protocol == PROTOCOL_BALROG else f"{HUMANS_KEY}-{protocol}"


def _humans_entry(protocol: str, groups: list[Group], episodes: QuerySet[Episode]) -> Entry:
    synthetic = episodes.filter(protocol=protocol, nickname__startswith=SYNTHETIC_PREFIX).exists()
    players = PlayRecord.objects.filter(episode__in=episodes.filter(protocol=protocol)).values("owner").distinct()
    return _entry(
        humans_key(protocol), groups, kind="human", name=HUMANS_NAME, agent="", modality="human", synthetic=synthetic,
        protocol=protocol, extra={"players": players.count()},
    )  # fmt: skip


# ----- top players --------------------------------------------------------------------------
def player_key(user_id: int) -> str:
    return PLAYER_PREFIX + hashlib.sha1(f"player:{user_id}".encode()).hexdigest()[:12]


def player_label(username: str) -> str:
    """The username, never an email address: a username that looks like one
    shows only its part before the "@"."""
    local, at, _domain = username.partition("@")
    return f"{local}@…" if at else username


def player_episodes(user_id: int) -> QuerySet[Episode]:
    return human_episodes().filter(user_id=user_id, protocol=PROTOCOL_BALROG)


def top_player_entries() -> list[Entry]:
    """The best BALROG_LEADERBOARD_TOP_PLAYERS logged-in players (by overall
    score, ties by username) among those with at least
    BALROG_LEADERBOARD_TOP_PLAYER_MIN_EPISODES counted baseline episodes, each
    a row of its own. Only accounts get one: an anonymous player's nickname
    (even one whose episodes an override counts) never does."""
    limit = int(settings.BALROG_LEADERBOARD_TOP_PLAYERS)
    minimum = max(1, int(settings.BALROG_LEADERBOARD_TOP_PLAYER_MIN_EPISODES))
    if limit <= 0:
        return []
    counted = human_episodes().filter(user__isnull=False, protocol=PROTOCOL_BALROG)
    eligible = counted.values("user_id").annotate(n=Count("pk")).filter(n__gte=minimum).values("user_id")
    grouped = (
        counted.filter(user_id__in=eligible)
        .values("user_id", "env", "task", "progression")
        .annotate(**_group_counts(""))
        .order_by()
    )
    by_user: dict[int, list[Group]] = defaultdict(list)
    for row in cast(Iterable[dict[str, Any]], grouped):
        by_user[row["user_id"]].append(_group(row, "progression"))
    names = dict(get_user_model().objects.filter(pk__in=by_user).values_list("pk", "username"))
    # Summaries first (cheap); the bootstrap interval only for the rows shown.
    scored = sorted(
        ((summary_of_groups(groups), player_label(names[user_id]), user_id) for user_id, groups in by_user.items()),
        key=lambda item: (-item[0].overall.mean, item[1].lower()),
    )
    return [_player_entry(user_id, name, by_user[user_id]) for _summary, name, user_id in scored[:limit]]


def _player_entry(user_id: int, name: str, groups: list[Group]) -> Entry:
    synthetic = player_episodes(user_id).filter(nickname__startswith=SYNTHETIC_PREFIX).exists()
    return _entry(
        player_key(user_id), groups, kind="player", name=name, agent="", modality="human", synthetic=synthetic,
        extra={"user_id": user_id},
    )  # fmt: skip


def _entry(
    key: str, groups: Sequence[Group], protocol: str = PROTOCOL_BALROG, own_demonstrations: bool = False, **kwargs: Any
) -> Entry:
    coverage = coverage_of(groups)
    estimate = overall_estimate(_values_by_env(groups))
    # An entry without an interval cannot be compared with confidence: it is listed apart.
    apart = ranking_refusal(protocol, coverage, own_demonstrations) or ("" if estimate else TOO_FEW)
    return Entry(
        key=key,
        summary=summary_of_groups(groups),
        interval=estimate.interval() if estimate else None,
        verified=all(group.verified == group.count for group in groups),
        imported=any(group.unreplayable for group in groups),
        protocol=protocol,
        coverage=coverage,
        apart=apart,
        estimate=estimate,
        **kwargs,
    )


def summary_of_groups(groups: Iterable[Group]) -> Summary:
    """BALROG's aggregation (agents.aggregation's mean_se and overall_of, the
    very functions ``summarize`` uses) over counted groups: each group stands
    for ``count`` episodes with the same progression."""
    by_env: dict[str, list[Group]] = defaultdict(list)
    for group in groups:
        by_env[group.env].append(group)
    envs = {env: _env_summary(env, rows) for env, rows in sorted(by_env.items())}
    return Summary(
        overall=overall_of([summary.stat for summary in envs.values()]),
        envs=envs,
        episodes=sum(summary.stat.n for summary in envs.values()),
        input_tokens=sum(summary.input_tokens for summary in envs.values()),
        output_tokens=sum(summary.output_tokens for summary in envs.values()),
    )


def _env_summary(env: str, groups: list[Group]) -> EnvSummary:
    by_task: dict[str, list[float]] = defaultdict(list)
    for group in groups:
        by_task[group.task].extend([group.progression] * group.count)
    stat = mean_se([value for values in by_task.values() for value in values])
    return EnvSummary(
        env=env,
        stat=stat,
        tasks={task: mean_se(values) for task, values in sorted(by_task.items())},
        average_steps=sum(group.steps for group in groups) / stat.n,
        input_tokens=sum(group.input_tokens for group in groups),
        output_tokens=sum(group.output_tokens for group in groups),
    )


def _values_by_env(groups: Iterable[Group]) -> dict[str, list[float]]:
    values: dict[str, list[float]] = defaultdict(list)
    for group in groups:
        values[group.env].extend([group.progression] * group.count)
    return values


def assign_ranks(entries: list[Entry]) -> None:
    """Ranks within the main ranking (leaderboard.stats.confident_ranks: 1 +
    the entries better with 95 % confidence, monotone in the overall score);
    entries listed apart get none."""
    estimates = [entry.estimate if entry.ranked else None for entry in entries]
    for entry, rank in zip(entries, confident_ranks(estimates), strict=True):
        entry.rank = rank


def random_floor() -> dict[str, float]:
    """Per env, the mean progression of the random scripted agent's ended episodes."""
    scripted = Episode.objects.filter(player_kind=Episode.PlayerKind.SCRIPTED, agent=RANDOM_AGENT, status__in=ENDED)
    return {row["env"]: float(row["mean"]) for row in scripted.values("env").annotate(mean=Avg("progression"))}


# ----- what a page shows --------------------------------------------------------------------
def tab_entries(entries: Iterable[Entry], tab: str) -> list[Entry]:
    """A tab's rows: its models and, as the reference, the human baselines.
    Ranks are recomputed within the tab (the humans are ranked with them)."""
    modality = "VLM" if tab == "vlm" else "LLM"
    chosen = [_copy(entry) for entry in entries if entry.modality in (modality, "human")]
    assign_ranks(chosen)
    return chosen


def _copy(entry: Entry) -> Entry:
    return Entry(**{name: getattr(entry, name) for name in entry.__dataclass_fields__})


def sorted_entries(entries: Sequence[Entry], key: str, descending: bool) -> list[Entry]:
    """Sort by a column; missing values always last, ties broken by name."""
    key = key if key in SORT_KEYS else "rank"
    present = [entry for entry in entries if entry.sort_value(key) is not None]
    missing = [entry for entry in entries if entry.sort_value(key) is None]
    present.sort(key=lambda entry: entry.sort_value("name") or "")
    present.sort(key=lambda entry: entry.sort_value(key) or 0, reverse=descending)
    return present + sorted(missing, key=lambda entry: entry.sort_value("name") or "")


def default_descending(key: str) -> bool:
    return key != "name"


def find_entry(key: str) -> Entry | None:
    """The entry, ranked within its tab (the humans: within the LLM tab)."""
    entries = board().entries
    found = next((entry for entry in entries if entry.key == key), None)
    if found is None:
        return None
    tab = "vlm" if found.modality == "VLM" else "llm"
    return next(entry for entry in tab_entries(entries, tab) if entry.key == key)


def is_public_episode(episode_id: int) -> bool:
    """An episode the leaderboard counts (a public run's, or a human baseline)."""
    return model_slots().filter(episode_id=episode_id).exists() or human_episodes().filter(pk=episode_id).exists()
