"""Exports (JSONL, CSV) and the JSON API of annotated episodes. Reviewers only.

All three take the queue filters as query parameters (env, task,
player_kind, model, agent, run, outcome) plus ``queue`` and ``labelled``;
``steps=annotated`` keeps only the steps somebody labelled or annotated.
The API pages with ``limit`` (at most 100) and ``offset`` and answers
``{"count", "next_offset", "results"}``; it authenticates by session.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from annotations.access import check_reviewer
from annotations.exports import (
    csv_error,
    csv_lines,
    episode_records,
    export_episodes,
    guarded,
    jsonl_error,
    jsonl_lines,
    records_of,
)
from annotations.filters import EpisodeFilter
from annotations.forms import ExportForm
from annotations.services import AnnotationError
from annotations.views import json_errors, page
from ops.methods import json_methods

API_MAX_LIMIT = 100


def _filter(request: HttpRequest) -> EpisodeFilter:
    try:
        return EpisodeFilter.from_mapping(request.GET)
    except ValueError as exc:
        raise AnnotationError(f"bad filter: {exc}") from None


STEPS = ("all", "annotated")


def _all_steps(request: HttpRequest) -> bool:
    steps = request.GET.get("steps", "all")
    if steps not in STEPS:
        raise AnnotationError(f"steps must be one of {', '.join(STEPS)}")
    return steps == "all"


@require_safe
@page(check_reviewer)
def export_page(request: HttpRequest) -> HttpResponse:
    form = ExportForm(request.GET or None)
    count = None
    if form.is_bound and form.is_valid():
        count = export_episodes(form.episode_filter()).count()
    return render(request, "annotations/export.html", {"form": form, "count": count, "query": request.GET.urlencode()})


@json_methods("GET")
def export_jsonl(request: HttpRequest) -> HttpResponseBase:
    return json_errors(lambda: _stream(request, "jsonl"), request.user)


@json_methods("GET")
def export_csv(request: HttpRequest) -> HttpResponseBase:
    return json_errors(lambda: _stream(request, "csv"), request.user)


def _stream(request: HttpRequest, kind: str) -> HttpResponseBase:
    """Everything that can be checked is checked before the first byte (a 400 or the usual
    error page); a failure after that ends the file with an error line (docs/annotations.md)."""
    check_reviewer(request.user)
    spec, all_steps = _filter(request), _all_steps(request)
    ids = list(export_episodes(spec).values_list("pk", flat=True))
    records = records_of(ids, all_steps)
    if kind == "csv":
        lines = guarded(csv_lines(records), csv_error)
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    else:
        lines = guarded(jsonl_lines(records), jsonl_error)
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="annotations.{kind}"'
    return response


@json_methods("GET")
def api_episodes(request: HttpRequest) -> HttpResponseBase:
    def call() -> HttpResponseBase:
        check_reviewer(request.user)
        limit, offset = _paging(request)
        episodes = export_episodes(_filter(request))
        count = episodes.count()
        page_ids = episodes[offset : offset + limit]
        results: list[dict[str, Any]] = list(episode_records(page_ids, _all_steps(request)))
        following = offset + limit if offset + limit < count else None
        return JsonResponse({"count": count, "next_offset": following, "results": results})

    return json_errors(call, request.user)


def _paging(request: HttpRequest) -> tuple[int, int]:
    try:
        limit = int(request.GET.get("limit", "20"))
        offset = int(request.GET.get("offset", "0"))
    except ValueError:
        raise AnnotationError("limit and offset must be integers") from None
    if not 1 <= limit <= API_MAX_LIMIT or offset < 0:
        raise AnnotationError(f"limit is 1 to {API_MAX_LIMIT}, offset at least 0")
    return limit, offset
