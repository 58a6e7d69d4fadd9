"""A small world that shows every page: for screenshots and the page-layout tests.

Runs only on a database made for it (``manage.py screenshots`` makes one in a
temporary folder). Played episodes are real games played with each game's
first actions; leaderboard figures are made-up rows named ``showcase-…``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from django.contrib.auth.models import Permission, User
from django.db import transaction
from django.utils import timezone

from agents.config import AgentConfig
from agents.models import EvaluationRun, ModelEndpoint, RunEpisode
from annotations.models import Assignment, Queue, QueueItem
from games.base import EndReason
from games.jsontypes import JSONObject
from games.models import Episode
from games.registry import ENVS, adapter_class
from games.services import do_apply_action, do_end_episode, do_start_episode, live_adapter
from leaderboard.coverage import reference_counts
from play import services
from play.models import PlayRecord
from play.protocol import Action

PASSWORD = "showcase-pw-123"
STEPS_PLAYED = 4


@dataclass
class Showcase:
    """The ids pages are made of, and who may see what (persona -> page paths)."""

    pages: dict[str, list[str]] = field(default_factory=dict)

    def add(self, persona: str, *paths: str) -> None:
        self.pages.setdefault(persona, []).extend(paths)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def build() -> Showcase:
    users = _users()
    shown = Showcase()
    shown.add("anonymous", "/", "/accounts/login/", "/accounts/signup/", "/leaderboard/")
    played = {env: _played_episodes(users["ada"], env) for env in ENVS}
    for env, (live, ended) in played.items():
        shown.add("ada", f"/play/{env}/", f"/episodes/{live.pk}/", f"/episodes/{ended.pk}/replay/")
    shown.add("ada", "/accounts/profile/")
    run, model_episode = _model_run(users["root"])
    partial = _board_rows(users)
    shown.add(
        "anonymous",
        "/agents/",
        f"/agents/runs/{run.pk}/",
        f"/agents/episodes/{model_episode.pk}/",
        f"/agents/episodes/{model_episode.pk}/steps/0/prompt/",
        f"/leaderboard/entries/{_entry_key(run)}/",
        f"/leaderboard/entries/{_entry_key(partial)}/",
    )
    nethack = _model_nethack_episode(run)
    queue, assignment = _annotation_queue(users, model_episode, nethack)
    shown.add(
        "root",
        "/agents/runs/new/",
        "/annotations/",
        "/annotations/queues/new/",
        f"/annotations/queues/{queue.pk}/",
        f"/annotations/queues/{queue.pk}/agreement/",
        f"/annotations/queues/{queue.pk}/disagreements/",
        f"/annotations/episodes/{nethack.pk}/review/",
        "/annotations/export/",
        "/admin/",
        "/admin/games/episode/",
    )
    shown.add("annie", "/annotations/", f"/annotations/assignments/{assignment.pk}/")
    human = played["textworld"][1]
    shown.add("anonymous", f"/leaderboard/compare/{model_episode.pk}/{human.pk}/")
    return shown


def _users() -> dict[str, User]:
    ada = User.objects.create_user("ada", password=PASSWORD)
    annie = User.objects.create_user("annie", password=PASSWORD, is_staff=True)
    annie.user_permissions.add(Permission.objects.get(codename="annotate", content_type__app_label="annotations"))
    root = User.objects.create_superuser("root", password=PASSWORD)
    grace = User.objects.create_user("grace", password=PASSWORD)
    return {"ada": ada, "annie": annie, "root": root, "grace": grace}


def _first_task(env: str) -> str:
    return adapter_class(env).tasks()[0].task


def _played_episodes(user: User, env: str) -> tuple[Episode, Episode]:
    """A live episode a few steps in, and an ended one to replay."""
    player = services.Player(user, "")
    tasks = [info.task for info in adapter_class(env).tasks()]
    ended, _ = services.do_start_or_resume(player, services.StartRequest(env, tasks[-1], nickname="ada"), None)
    _play_some(ended)
    if ended.is_running:
        services.do_end_for_player(player, ended.pk)
    live, _ = services.do_start_or_resume(player, services.StartRequest(env, tasks[0], nickname="ada"), None)
    _play_some(live)
    return live, ended


def _play_some(episode: Episode) -> None:
    actions = list(live_adapter(episode).action_space()) or ["look"]
    for seq in range(STEPS_PLAYED):
        action = actions[(seq * 3) % len(actions)]
        message = Action(seq=seq, action=action, raw_input=action, source="key")
        services.do_apply_player_action(episode.pk, message, with_observation=True, known_actions=(), received=0.0)
        episode.refresh_from_db()
        if not episode.is_running:
            return


def _model_run(root: User) -> tuple[EvaluationRun, Episode]:
    endpoint = ModelEndpoint.objects.create(
        name="showcase-endpoint", provider="dev", base_url="http://127.0.0.1:9/v1", model_id="showcase-model"
    )
    run = EvaluationRun.objects.create(
        name="showcase run", endpoint=endpoint, model_name="showcase-model-a",
        agent=AgentConfig(strategy="cot").to_json(), envs=list(ENVS), created_by=root,
        status=EvaluationRun.Status.FINISHED, finished_at=timezone.now(), published=True,
        published_at=timezone.now(),
    )  # fmt: skip
    episode = do_start_episode(
        env="textworld", task="coin_collector", seed=3, player_kind=Episode.PlayerKind.MODEL, agent="showcase"
    )
    for index, action in enumerate(("look", "go east", "take coin")):
        meta: JSONObject = {"model": {"reasoning": f"I should {action}.", "candidate": action, "in": 900, "out": 40}}
        do_apply_action(episode.pk, index=index, action=action, raw_input=f"<action>{action}</action>", meta=meta)
    do_end_episode(episode.pk, reason=EndReason.ABANDONED, detail="showcase: stopped")
    RunEpisode.objects.create(run=run, env="textworld", task="coin_collector", index=0, seed=3, episode=episode)
    _coverage_rows(run, level=0.4)  # with the played episode at index 0: complete, so ranked
    episode.refresh_from_db()
    return run, episode


def _model_nethack_episode(run: EvaluationRun) -> Episode:
    episode = do_start_episode(
        env="nle", task="NetHackChallenge-v0", seed=5, player_kind=Episode.PlayerKind.MODEL, agent="showcase"
    )
    actions = list(live_adapter(episode).action_space())
    for index in range(3):
        action = actions[index % len(actions)]
        meta: JSONObject = {"model": {"reasoning": "Explore the room.", "candidate": action, "in": 1200, "out": 30}}
        do_apply_action(episode.pk, index=index, action=action, raw_input=action, meta=meta)
    do_end_episode(episode.pk, reason=EndReason.ABANDONED, detail="showcase: stopped")
    episode.refresh_from_db()
    return episode


@transaction.atomic
def _coverage_rows(run: EvaluationRun, level: float = 0.3, only: int = 0) -> None:
    """Finished episodes for the reference's tasks (``only``: the first N tasks), made up, not played."""
    planned = [(env, task, n) for (env, task), n in reference_counts().items()]
    if only:
        planned = planned[:only]
    for env, task, count in planned:
        for i in range(count):
            episode = Episode.objects.create(
                env=env, task=task, seed=i, engine_version="showcase", steps=3, ended_at=timezone.now(),
                status=Episode.Status.FINISHED, player_kind=Episode.PlayerKind.MODEL,
                progression=min(1.0, level * ((i % 3) + 1) / 2),
            )  # fmt: skip
            RunEpisode.objects.create(
                run=run, env=env, task=task, index=1 + i, seed=i, episode=episode, input_tokens=1000, output_tokens=90
            )


def _board_rows(users: dict[str, User]) -> EvaluationRun:
    """A run covering part of the tasks, and finished human episodes of two players."""
    partial = EvaluationRun.objects.create(
        name="showcase partial", model_name="showcase-model-b", agent=AgentConfig(strategy="naive").to_json(),
        status=EvaluationRun.Status.FINISHED, finished_at=timezone.now(), published=True, published_at=timezone.now(),
    )  # fmt: skip
    _coverage_rows(partial, level=0.5, only=12)
    for user, level in ((users["ada"], 0.6), (users["grace"], 0.8)):
        for env in ENVS:
            for seed in range(6):
                episode = Episode.objects.create(
                    env=env, task=_first_task(env), seed=100 + seed, engine_version="showcase", steps=20,
                    ended_at=timezone.now(), status=Episode.Status.FINISHED, player_kind=Episode.PlayerKind.HUMAN,
                    user=user, progression=min(1.0, level * (seed % 3) / 2),
                )  # fmt: skip
                PlayRecord.objects.create(episode=episode, owner=f"u:{user.pk}", env=env, task=episode.task, live=False)
    return partial


def _entry_key(run: EvaluationRun) -> str:
    from leaderboard import services as board

    for entry in board.board().entries:
        if run.pk in entry.run_ids:
            return entry.key
    return "-"


def _annotation_queue(users: dict[str, User], *episodes: Episode) -> tuple[Queue, Assignment]:
    queue = Queue.objects.create(name="showcase queue", description="Failures of the showcase runs", overlap=1,
                                 created_by=users["root"])  # fmt: skip
    items = [QueueItem.objects.create(queue=queue, episode=episode, position=i) for i, episode in enumerate(episodes)]
    assignment = Assignment.objects.create(item=items[-1], annotator=users["annie"])
    return queue, assignment
