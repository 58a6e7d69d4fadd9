from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.scripted import SCRIPTED_AGENTS
from agents.services import do_play_scripted_episode, do_start_scripted_episode
from games.registry import ENVS
from games.services import GameError


class Command(BaseCommand):
    help = "Play one episode to its end with a scripted agent; print one JSON object."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--env", required=True, choices=ENVS)
        parser.add_argument("--task", required=True)
        parser.add_argument("--seed", required=True, type=int)
        parser.add_argument("--agent", default="random", choices=sorted(SCRIPTED_AGENTS))
        parser.add_argument("--max-steps", type=int, default=None, help="stop early (episode stays running)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            episode = do_start_scripted_episode(options["env"], options["task"], options["seed"], options["agent"])
            episode = do_play_scripted_episode(episode.pk, max_steps=options["max_steps"])
        except (GameError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        summary = {
            "episode": episode.pk,
            "env": episode.env,
            "task": episode.task,
            "seed": episode.seed,
            "agent": episode.agent,
            "status": episode.status,
            "progression": episode.progression,
            "steps": episode.steps,
            "return": episode.episode_return,
            "end_reason": episode.end_reason,
            "end_detail": episode.end_detail,
            "level_source": episode.level_source,
        }
        self.stdout.write(json.dumps(summary))
