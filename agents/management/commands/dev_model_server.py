from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from agents.devserver import DevModelServer
from agents.models import ModelEndpoint


class Command(BaseCommand):
    help = (
        "Serve an OpenAI-compatible API with scripted policies (development and tests). "
        "The model id picks the policy: random, solver, drift, garbage, hang, error-429, error-500, "
        "flaky-429-N, flaky-500-N, flaky-hang-N; append @SECONDS for latency."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
        parser.add_argument(
            "--register", action="store_true", help="create or update endpoints dev-<policy> pointing here"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        server = DevModelServer((options["host"], options["port"]), default_latency=options["latency"])
        if options["register"]:
            for model in server.advertised:
                ModelEndpoint.objects.update_or_create(
                    name=f"dev-{model}",
                    defaults={"provider": ModelEndpoint.Provider.DEV, "base_url": server.url, "model_id": model},
                )
            self.stdout.write(f"registered endpoints: {', '.join('dev-' + m for m in server.advertised)}")
        self.stdout.write(f"dev model server on {server.url} (latency {options['latency']} s); Ctrl-C stops it")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
