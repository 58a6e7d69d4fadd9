"""Websocket routes. The browser-play protocol adds its consumers here."""

from __future__ import annotations

from django.urls import URLPattern

from play.routing import websocket_urlpatterns as play_websockets

websocket_urlpatterns: list[URLPattern] = [*play_websockets]
