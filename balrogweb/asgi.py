"""ASGI entry point: HTTP through Django, websockets through Channels."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "balrogweb.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddleware  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import CookieMiddleware  # noqa: E402
from django.urls import re_path  # noqa: E402

from balrogweb.routing import websocket_urlpatterns  # noqa: E402
from ops.runtime import tune_garbage_collector  # noqa: E402
from ops.websocket import OriginCheck, WebsocketGuard, WebsocketSession, unrouted  # noqa: E402
from play.consumers import ViewerGate  # noqa: E402

# Channels routes ASGI apps where Django's stubs expect views.
UNROUTED = re_path(r"", unrouted)  # type: ignore[arg-type]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Origin first (a foreign page is refused at the handshake: scheme,
        # host and port), then the session and user (channels'
        # AuthMiddlewareStack, with a session middleware that does not wrap
        # every send), then the guard's size, rate, queue and session re-check
        # limits (ops.websocket, which needs the user), then the routes; a path
        # no route serves is refused at the handshake. A cookie-less viewer from
        # an address over its viewer limits is refused before the session and
        # user are read (play.consumers.ViewerGate).
        "websocket": OriginCheck(
            CookieMiddleware(
                ViewerGate(
                    WebsocketSession(AuthMiddleware(WebsocketGuard(URLRouter([*websocket_urlpatterns, UNROUTED]))))
                )
            )
        ),
    }
)

# Last, with the application loaded: what is alive now lives as long as the process.
tune_garbage_collector()
