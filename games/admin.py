"""Episodes in the admin: a list to find one, read-only (a changed row would no longer
match its step log, which is what verifies it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from games.models import Episode

# django-stubs types ModelAdmin by its model; Django's own class is not subscriptable at run time.
if TYPE_CHECKING:
    _EpisodeModelAdmin = admin.ModelAdmin[Episode]
else:
    _EpisodeModelAdmin = admin.ModelAdmin


@admin.register(Episode)
class EpisodeAdmin(_EpisodeModelAdmin):
    list_display = (
        "id", "env", "task", "player_kind", "player", "status", "end_reason", "progression", "steps", "started_at",
        "replay",
    )  # fmt: skip
    list_filter = ("env", "player_kind", "status", "protocol", "replayable")
    search_fields = ("=id", "task", "nickname", "agent", "user__username")
    date_hierarchy = "started_at"
    list_select_related = ("user",)
    ordering = ("-id",)
    show_full_result_count = False  # no COUNT(*) over every episode on each page

    @admin.display(description="player")
    def player(self, episode: Episode) -> str:
        if episode.user is not None:
            return str(episode.user.get_username())
        return episode.nickname or episode.agent or "–"

    @admin.display(description="replay")
    def replay(self, episode: Episode) -> SafeString | str:
        if not episode.replayable or episode.status == Episode.Status.RUNNING:
            return "–"
        return format_html('<a href="{}">replay</a>', reverse("play:replay", args=[episode.pk]))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Episode | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Episode | None = None) -> bool:
        return False
