from __future__ import annotations

from django.urls import URLPattern, path

from agents import views

app_name = "agents"

urlpatterns: list[URLPattern] = [
    path("", views.index, name="index"),
    path("runs/new/", views.new_run, name="new_run"),
    path("runs/<int:pk>/", views.run_page, name="run"),
    path("runs/<int:pk>/progress.json", views.run_progress, name="run_progress"),
    path("runs/<int:pk>/cancel/", views.cancel, name="cancel"),
    path("runs/<int:pk>/resume/", views.resume, name="resume"),
    path("runs/<int:pk>/publish/", views.publish, name="publish"),
    path("episodes/<int:episode_id>/", views.episode_page, name="episode"),
    path("episodes/<int:episode_id>/turns.json", views.turns, name="turns"),
    path("episodes/<int:episode_id>/steps/<int:index>/prompt/", views.prompt_page, name="prompt"),
    path("episodes/<int:episode_id>/steps/<int:index>/prompt.json", views.prompt_json, name="prompt_json"),
]
