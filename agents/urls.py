from __future__ import annotations

from django.urls import URLPattern, path

from agents import views

app_name = "agents"

urlpatterns: list[URLPattern] = [
    path("", views.index, name="index"),
    path("runs/new/", views.new_run, name="new_run"),
    path("runs/<id:pk>/", views.run_page, name="run"),
    path("runs/<id:pk>/progress.json", views.run_progress, name="run_progress"),
    path("runs/<id:pk>/cancel/", views.cancel, name="cancel"),
    path("runs/<id:pk>/resume/", views.resume, name="resume"),
    path("runs/<id:pk>/publish/", views.publish, name="publish"),
    path("episodes/<id:episode_id>/", views.episode_page, name="episode"),
    path("episodes/<id:episode_id>/turns.json", views.turns, name="turns"),
    path("episodes/<id:episode_id>/steps/<id:index>/prompt/", views.prompt_page, name="prompt"),
    path("episodes/<id:episode_id>/steps/<id:index>/prompt.json", views.prompt_json, name="prompt_json"),
]
