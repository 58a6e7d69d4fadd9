from __future__ import annotations

from django.urls import URLPattern, path

from leaderboard import views

app_name = "leaderboard"

urlpatterns: list[URLPattern] = [
    path("leaderboard/", views.index, name="index"),
    path("leaderboard/leaderboard.csv", views.csv_download, name="csv"),
    path("leaderboard/entries/<slug:key>/", views.entry_page, name="entry"),
    path("leaderboard/entries/<slug:key>/summary.json", views.submission, name="submission"),
    path("leaderboard/compare/<id:left>/<id:right>/", views.compare, name="compare"),
    path("api/leaderboard", views.api, name="api"),
    path("api/leaderboard/openapi.json", views.openapi, name="openapi"),
]
