from __future__ import annotations

from django.urls import URLPattern, path

from play.consumers import EpisodeConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/episodes/<int:episode_id>/", EpisodeConsumer.as_asgi(), name="ws-episode"),
]
