from __future__ import annotations

from django.urls import URLPattern, path

from annotations import api, views

app_name = "annotations"

urlpatterns: list[URLPattern] = [
    path("", views.home, name="home"),
    path("queues/new/", views.queue_new, name="queue_new"),
    path("queues/<id:pk>/", views.queue_detail, name="queue"),
    path("queues/<id:pk>/assign/", views.queue_assign, name="queue_assign"),
    path("queues/<id:pk>/agreement/", views.queue_agreement_page, name="agreement"),
    path("queues/<id:pk>/disagreements/", views.queue_disagreements, name="disagreements"),
    path("assignments/<id:pk>/", views.console, name="console"),
    path("assignments/<id:pk>/steps.json", views.assignment_steps, name="assignment_steps"),
    path("assignments/<id:pk>/save/", views.assignment_save, name="assignment_save"),
    path("assignments/<id:pk>/submit/", views.assignment_submit, name="assignment_submit"),
    path("assignments/<id:pk>/reopen/", views.assignment_reopen, name="assignment_reopen"),
    path("episodes/<id:pk>/review/", views.review, name="review"),
    path("episodes/<id:pk>/review/steps.json", views.review_steps, name="review_steps"),
    path("episodes/<id:pk>/review/save/", views.review_save, name="review_save"),
    path("export/", api.export_page, name="export"),
    path("export/annotations.jsonl", api.export_jsonl, name="export_jsonl"),
    path("export/annotations.csv", api.export_csv, name="export_csv"),
    path("api/episodes/", api.api_episodes, name="api_episodes"),
]
