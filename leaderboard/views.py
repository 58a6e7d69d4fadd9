"""Public leaderboard pages and API (no login). Thin: logic in services."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from games.catalogue import game_title
from games.models import Episode
from games.registry import ENVS
from leaderboard import api as api_data
from leaderboard import detail, pairing, services
from leaderboard.plots import Whisker, interval_chart
from leaderboard.query import BadQuery, check_board_query
from leaderboard.services import Entry
from ops.methods import json_methods


def _listing(request: HttpRequest, strict: bool = False) -> tuple[str, str, bool, list[Entry], services.Board]:
    query = check_board_query(request.GET, strict)
    board = services.board()
    entries = services.sorted_entries(services.tab_entries(board.entries, query.tab), query.sort, query.descending)
    return query.tab, query.sort, query.descending, entries, board


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    tab, sort, descending, entries, board = _listing(request)
    context: dict[str, Any] = {
        "tab": tab, "sort": sort, "descending": descending, "entries": entries, "envs": ENVS,
        "columns": [
            ("name", "Entry"), ("overall", "Overall"), *[(env, game_title(env)) for env in ENVS],
            ("episodes", "Episodes"),
        ],
        "chart": overall_chart(entries),
        "version": board.version,
        "ranked": [entry for entry in entries if entry.ranked],
        "apart": [entry for entry in entries if not entry.ranked],
    }  # fmt: skip
    return render(request, "leaderboard/index.html", context)


def overall_chart(entries: list[Entry]) -> Any:
    """The ranked entries' overall with its 95% interval, the table's figures drawn."""
    rows = [
        Whisker(
            entry.name if not entry.agent else f"{entry.name} · {entry.agent}",
            entry.summary.overall.mean,
            entry.interval.low if entry.interval else None,
            entry.interval.high if entry.interval else None,
            series=0 if entry.kind == "model" else 1,
        )
        for entry in entries
        if entry.summary.overall.n
    ]
    return interval_chart("Overall progression with 95% intervals", rows[:40])


@json_methods("GET")
def api(request: HttpRequest) -> JsonResponse:
    try:
        tab, sort, _descending, entries, board = _listing(request, strict=True)
    except BadQuery as exc:
        return JsonResponse(exc.to_json(), status=400)
    response = JsonResponse(api_data.board_json(entries, tab, sort, board.version))
    response["Cache-Control"] = "public, max-age=30"
    return response


@json_methods("GET")
def openapi(request: HttpRequest) -> JsonResponse:
    return JsonResponse(api_data.openapi_document(reverse("leaderboard:api")))


@require_safe
def csv_download(request: HttpRequest) -> HttpResponse:
    try:
        tab, _sort, _descending, entries, _board = _listing(request, strict=True)
    except BadQuery as exc:
        return JsonResponse(exc.to_json(), status=400)
    response = HttpResponse(api_data.board_csv(entries), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="balrogweb-leaderboard-{tab}.csv"'
    return response


def _entry_or_404(key: str) -> Entry:
    entry = services.find_entry(key)
    if entry is None:
        raise Http404("no such leaderboard entry")
    return entry


@require_safe
def entry_page(request: HttpRequest, key: str) -> HttpResponse:
    entry = _entry_or_404(key)
    context = services.cached(f"entry:{entry.key}", lambda: _entry_context(entry))
    return render(request, "leaderboard/entry.html", context)


def _entry_context(entry: Entry) -> dict[str, Any]:
    board = services.board()
    return {
        "entry": entry,
        "envs": [(env, entry.summary.envs.get(env)) for env in ENVS],
        "usage": detail.usage(entry),
        "normalized": detail.normalized_scores(entry, board),
        "intervals": detail.game_intervals(entry),
        "episodes": detail.episode_list(entry),
        "episode_limit": detail.EPISODE_LIST_LIMIT,
        "bars": detail.game_bars(entry, board),
        "curves": detail.curves(entry, board),
        "paired": pairing.paired_summary(entry, detail.scored_episodes(entry)) if entry.kind == "model" else None,
    }


@require_safe
def submission(request: HttpRequest, key: str) -> JsonResponse:
    entry = _entry_or_404(key)
    if entry.kind != "model":
        raise Http404("only model entries have a submission layout")
    response = JsonResponse(api_data.submission_json(entry), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="summary-{entry.key}.json"'
    return response


def _public_episode_or_404(pk: int) -> Episode:
    if not services.is_public_episode(pk):
        raise Http404("no such public episode")
    return Episode.objects.get(pk=pk)


@require_safe
def compare(request: HttpRequest, left: int, right: int) -> HttpResponse:
    first, second = _public_episode_or_404(left), _public_episode_or_404(right)
    refusal = pairing.check_comparable(first, second)
    if refusal:
        return render(request, "leaderboard/compare_refused.html", {"reason": refusal}, status=400)
    alignment = pairing.align(first, second)
    context = {
        "left": first, "right": second, "alignment": alignment,
        "client": pairing.side_by_side_config(first, second, alignment),
    }  # fmt: skip
    return render(request, "leaderboard/compare.html", context)
