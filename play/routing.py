from __future__ import annotations

from django.urls import URLPattern, path, register_converter

from balrogweb.ids import IdConverter
from play.consumers import EpisodeConsumer

# Out-of-range ids match no route (balrogweb/ids.py); registered here too because the
# websocket router may be imported before the HTTP URLconf.
register_converter(IdConverter, "id")

websocket_urlpatterns: list[URLPattern] = [
    path("ws/episodes/<id:episode_id>/", EpisodeConsumer.as_asgi(), name="ws-episode"),
]
