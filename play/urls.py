from __future__ import annotations

from django.urls import URLPattern, path

from play import views

app_name = "play"

urlpatterns: list[URLPattern] = [
    path("", views.home, name="home"),
    path("play/<slug:env>/", views.new_episode, name="new"),
    path("episodes/<id:pk>/", views.episode_page, name="episode"),
    path("episodes/<id:pk>/abandon/", views.abandon, name="abandon"),
    path("episodes/<id:pk>/replay/", views.replay_page, name="replay"),
    path("episodes/<id:pk>/frames.json", views.frames, name="frames"),
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/signup/", views.signup, name="signup"),
]
