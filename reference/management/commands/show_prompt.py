from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.sent import NoPrompt, as_json, readable, sent_prompt


class Command(BaseCommand):
    help = (
        "Print the exact messages a model was sent at one step of a model episode (rebuilt from the "
        "episode's log and checked against the digest recorded when they were sent)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("episode", type=int, help="episode id")
        parser.add_argument("step", type=int, help="step index (0: the first answer)")
        parser.add_argument("--json", action="store_true", help="the messages as JSON (images as data URLs)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            prompt = sent_prompt(options["episode"], options["step"])
        except NoPrompt as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(as_json(prompt))
        else:
            self.stdout.write(readable(prompt), ending="")
