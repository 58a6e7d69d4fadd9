"""Run the ASGI server (uvicorn) with the project's websocket limits.

The one place the server's flags live: ``scripts/run``, the Docker ``web``
role, the browser and fault tests and the benchmarks all start the app with
``manage.py serve``. Why uvicorn (with uvloop, httptools and the websockets
library's sans-I/O protocol) rather than daphne: it can close a socket with the standard codes
1008/1009/1012 (daphne's autobahn refuses them for an application), its send
side applies backpressure (a viewer that stops reading blocks its own
consumer instead of growing the process's buffers), and it costs less CPU per
websocket message. Its limits are explicit here, from the settings
``ops.websocket`` also enforces, so an oversized frame is refused before
Python parses it.
"""

from __future__ import annotations

from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


def server_options(*, host: str, port: int, workers: int, proxy_headers: bool) -> dict[str, Any]:
    """uvicorn's keyword arguments for this deployment."""
    return {
        "host": host,
        "port": port,
        "workers": workers if workers > 1 else None,
        "loop": "uvloop",
        "http": "httptools",
        # The sans-I/O implementation parses frames straight from data_received:
        # the legacy one runs a reader task and a stream per connection, which
        # cost ~8% more server CPU per action at 100 players (bench/ws_load.py).
        "ws": "websockets-sansio",
        "lifespan": "off",
        "access_log": False,  # requests are logged by ops.logs with their ids
        "proxy_headers": proxy_headers,
        "forwarded_allow_ips": settings.BALROG_FORWARDED_ALLOW_IPS if proxy_headers else None,
        "ws_max_size": settings.BALROG_WS_MAX_MESSAGE_BYTES,
        # Not read by websockets-sansio, which stops reading the socket after each
        # message until the app takes it (a tighter bound); kept for "ws": "websockets".
        "ws_max_queue": 16,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 30.0,
        "ws_per_message_deflate": False,  # frames are small; deflate costs CPU per message
        "timeout_keep_alive": 20,
        "timeout_graceful_shutdown": 10,
        "limit_concurrency": settings.BALROG_SERVER_MAX_CONNECTIONS,
        "h11_max_incomplete_event_size": 64 * 1024,
    }


class Command(BaseCommand):
    help = "Serve balrogweb over HTTP and websockets (uvicorn) with the project's limits."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="server processes on this port")
        parser.add_argument(
            "--proxy-headers", action="store_true", help="trust X-Forwarded-* from BALROG_FORWARDED_ALLOW_IPS"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["workers"] > 1 and not settings.PROFILE.multi_process:
            # Each process would have its own in-memory channel layer and live
            # games: viewers in one would never hear of steps in another.
            raise CommandError("--workers > 1 needs REDIS_URL (the in-memory channel layer is per process)")
        config = server_options(
            host=options["host"],
            port=options["port"],
            workers=options["workers"],
            proxy_headers=options["proxy_headers"],
        )
        uvicorn.run("balrogweb.asgi:application", **config)
