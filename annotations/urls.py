from __future__ import annotations

from django.urls import URLPattern, path

from annotations import api, views

app_name = "annotations"

urlpatterns: list[URLPattern] = [
    path("", views.home, name="home"),
    path("queues/new/", views.queue_new, name="queue_new"),
    path("queues/<int:pk>/", views.queue_detail, name="queue"),
    path("queues/<int:pk>/assign/", views.queue_assign, name="queue_assign"),
    path("queues/<int:pk>/agreement/", views.queue_agreement_page, name="agreement"),
    path("queues/<int:pk>/disagreements/", views.queue_disagreements, name="disagreements"),
    path("assignments/<int:pk>/", views.console, name="console"),
    path("assignments/<int:pk>/steps.json", views.assignment_steps, name="assignment_steps"),
    path("assignments/<int:pk>/save/", views.assignment_save, name="assignment_save"),
    path("assignments/<int:pk>/submit/", views.assignment_submit, name="assignment_submit"),
    path("assignments/<int:pk>/reopen/", views.assignment_reopen, name="assignment_reopen"),
    path("episodes/<int:pk>/review/", views.review, name="review"),
    path("episodes/<int:pk>/review/steps.json", views.review_steps, name="review_steps"),
    path("episodes/<int:pk>/review/save/", views.review_save, name="review_save"),
    path("export/", api.export_page, name="export"),
    path("export/annotations.jsonl", api.export_jsonl, name="export_jsonl"),
    path("export/annotations.csv", api.export_csv, name="export_csv"),
    path("api/episodes/", api.api_episodes, name="api_episodes"),
]
