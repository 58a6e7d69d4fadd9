from __future__ import annotations

import json
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.aggregation import SummaryFile, balrog_summary_json
from agents.config import STRATEGIES, AgentConfig, AgentConfigError
from agents.evaluation import RunError, RunProgress, RunRequest, do_resume_run, do_start_run, run_progress, run_summary
from agents.models import EvaluationRun, ModelEndpoint
from agents.runtime import local_runner
from games.registry import DEFAULT_PROTOCOL, ENVS, PROTOCOLS
from ops.outage import reconnecting


class Command(BaseCommand):
    help = (
        "Run BALROG's evaluation protocol for one model endpoint and agent config: N episodes per task "
        "(BALROG's count per env unless --episodes). Prints progress, then summary.json's content."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--endpoint", help="ModelEndpoint name")
        parser.add_argument("--agent", default="naive", choices=STRATEGIES, help="prompting strategy")
        parser.add_argument(
            "--protocol",
            choices=PROTOCOLS,
            default=DEFAULT_PROTOCOL,
            help="balrog: the reference evaluator's prompts, texts and parsing; balrogweb: this project's own",
        )
        parser.add_argument("--env", action="append", choices=ENVS, help="repeat for several (default: all six)")
        parser.add_argument("--task", action="append", default=[], help="only these tasks (repeatable)")
        parser.add_argument("--episodes", type=int, default=None, help="episodes per task")
        parser.add_argument("--seed-base", type=int, default=0, help="episode i plays seed SEED_BASE + i")
        parser.add_argument("--max-text-history", type=int, default=16)
        parser.add_argument("--max-image-history", type=int, default=0)
        parser.add_argument("--max-cot-history", type=int, default=1)
        parser.add_argument("--no-feedback", action="store_true", help="no note after an invalid answer")
        parser.add_argument("--demo-episodes", type=int, default=1, help="few_shot demonstrations")
        parser.add_argument("--name", default="")
        parser.add_argument("--resume", type=int, metavar="RUN", help="resume this run instead of starting one")
        parser.add_argument("--no-wait", action="store_true", help="return once dispatched (Celery workers play)")
        parser.add_argument("--poll", type=float, default=2.0, help="seconds between progress lines")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run = self._resume(options["resume"]) if options["resume"] else self._start(options)
        except (RunError, AgentConfigError, ModelEndpoint.DoesNotExist, EvaluationRun.DoesNotExist) as exc:
            raise CommandError(str(exc)) from exc
        label = f"{run.model_name} {run.agent_config.label()} on {', '.join(run.envs)}"
        self.stdout.write(f"run {run.pk}: {label} ({run.protocol} protocol)")
        if options["no_wait"] and not settings.PROFILE.tasks_in_process:
            return
        self._wait(run, options["poll"])
        summary = reconnecting(lambda: self._summary(run), self.stderr.write)
        self.stdout.write(json.dumps(summary, indent=2))

    def _summary(self, run: EvaluationRun) -> SummaryFile:
        return balrog_summary_json(run_summary(run), run.endpoint.client_json() if run.endpoint else {}, run.agent)

    def _start(self, options: dict[str, Any]) -> EvaluationRun:
        if not options["endpoint"]:
            raise CommandError("--endpoint NAME is required (or --resume RUN)")
        config = AgentConfig(
            strategy=options["agent"],
            max_text_history=options["max_text_history"],
            max_image_history=options["max_image_history"],
            max_cot_history=options["max_cot_history"],
            feedback_on_invalid=not options["no_feedback"],
            demo_episodes=options["demo_episodes"],
        )
        request = RunRequest(
            endpoint=ModelEndpoint.objects.get(name=options["endpoint"]),
            config=config,
            envs=tuple(options["env"] or ENVS),
            tasks=tuple(options["task"]),
            episodes_per_task=options["episodes"],
            seed_base=options["seed_base"],
            name=options["name"],
            protocol=options["protocol"],
        )
        return do_start_run(request)

    def _resume(self, run_id: int) -> EvaluationRun:
        dispatched = do_resume_run(run_id)
        self.stdout.write(f"resuming run {run_id}: {dispatched} episodes to play")
        return EvaluationRun.objects.get(pk=run_id)

    def _wait(self, run: EvaluationRun, poll: float) -> None:
        while True:
            # The run goes on in the workers whatever happens to this connection.
            progress = reconnecting(lambda: self._poll(run), self.stderr.write)
            bars = "  ".join(f"{env.env} {env.done}/{env.planned}" for env in progress.envs)
            self.stdout.write(f"[{run.status}] {progress.done}/{progress.planned}  {bars}")
            if run.status != EvaluationRun.Status.RUNNING:
                break
            if settings.PROFILE.tasks_in_process:
                local_runner().wait_idle(timeout=poll)
            else:
                time.sleep(poll)

    def _poll(self, run: EvaluationRun) -> RunProgress:
        run.refresh_from_db()
        return run_progress(run)
