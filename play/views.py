"""Pages of browser play. Thin: read the request, call play.services, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from balrogweb.errors import refusal_response
from games import catalogue
from games.base import KeyBinding, TaskInfo
from games.executor import run_blocking
from games.models import Episode
from games.registry import ENVS, protocol_of
from games.services import GameError, check_task
from ops.methods import json_methods
from play import services
from play.forms import SignupForm, StartForm, suggest_nickname
from play.replay import MAX_WINDOW_FRAMES, frames_window_json

DEFAULT_WINDOW = 100
NICKNAME_KEY = "play_nickname"  # session: the nickname an anonymous player chose last


def _player(request: HttpRequest, create_token: bool = False) -> services.Player:
    return services.player_from(request.user, request.session, create_token=create_token)


def _client_ip(request: HttpRequest) -> str | None:
    address = request.META.get("REMOTE_ADDR")
    return address or None


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "play/home.html", {"games": catalogue.all_games()})


@require_http_methods(["GET", "HEAD", "POST"])
def new_episode(request: HttpRequest, env: str) -> HttpResponse:
    game = _game_or_404(env)
    form = StartForm(
        request.POST or None,
        initial={"task": request.GET.get("task"), "nickname": suggest_nickname(request.session.get(NICKNAME_KEY, ""))},
        tasks=list(game.tasks),
        anonymous=not request.user.is_authenticated,
    )
    if request.method == "POST" and form.is_valid():
        started = _start(request, env, form)
        if started is not None:
            return started
    return render(request, "play/new_episode.html", _start_context(request, game, form))


def _start(request: HttpRequest, env: str, form: StartForm) -> HttpResponse | None:
    """Start or resume the episode the form asks for; None (and a form error) if refused."""
    start = services.StartRequest(
        env=env,
        task=form.cleaned_data["task"],
        nickname=form.cleaned_data.get("nickname", ""),
        seed_from=form.seed_from,
    )
    try:
        episode, resumed = services.do_start_or_resume(_player(request, create_token=True), start, _client_ip(request))
    except GameError as exc:
        # A seed problem belongs next to the model episode field; a rate limit to the whole form.
        form.add_error("model_episode" if isinstance(exc, services.SeedRefused) else None, exc.message)
        return None
    if start.nickname:
        request.session[NICKNAME_KEY] = start.nickname  # suggested next time, and by "Play again"
    if resumed:
        messages.info(request, "You already have this task in progress: here it is. Abandon it to start over.")
    return redirect("play:episode", episode.pk)


def _start_context(request: HttpRequest, game: catalogue.GameEntry, form: StartForm) -> dict[str, Any]:
    chosen = form["task"].value()
    info = next((task for task in game.tasks if task.task == chosen), game.tasks[0])
    return {
        "game": game,
        "info": info,
        "form": form,
        "bindings": catalogue.key_bindings(game.env, info.task),
        "in_progress": services.live_episode_of(_player(request), game.env, info.task),
    }


@require_safe
def episode_page(request: HttpRequest, pk: int) -> HttpResponse:
    episode = _episode_or_404(pk)
    bindings = catalogue.key_bindings(episode.env, episode.task, protocol_of(episode.options))
    context = {
        "episode": episode,
        "title": catalogue.game_title(episode.env),
        "info": _task_info(episode.env, episode.task),
        "bindings": bindings,
        "mine": services.owns(_player(request), pk),
        "again": services.play_again_choices(episode),
        "end": None if episode.is_running else services.end_facts(episode),
        "client": _client_config(request, episode, bindings),
    }
    return render(request, "play/episode.html", context)


@require_POST
def abandon(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.do_end_for_player(_player(request), pk)
    except GameError as exc:
        messages.error(request, exc.message)
    return redirect("play:episode", pk)


@require_safe
def replay_page(request: HttpRequest, pk: int) -> HttpResponse:
    episode = _episode_or_404(pk)
    if episode.is_running:
        messages.info(request, "This episode is still being played; its replay opens when it ends.")
        return redirect("play:episode", pk)
    if not episode.replayable:
        raise Http404("this episode was imported and has no replayable log")
    context = {
        "episode": episode,
        "title": catalogue.game_title(episode.env),
        "info": _task_info(episode.env, episode.task),
        "end": services.end_facts(episode),
        "client": _client_config(request, episode, []),
    }
    return render(request, "play/replay.html", context)


@json_methods("GET")
async def frames(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Frames of versions start..start+count-1 of an episode, computed in one
    replay pass off the event loop. Running episodes too (up to their current
    version): a spectator sees those frames anyway, and a reloaded TextWorld
    page rebuilds its transcript from them."""
    try:
        start = max(0, int(request.GET.get("start", "0")))
        count = max(1, min(MAX_WINDOW_FRAMES, int(request.GET.get("count", DEFAULT_WINDOW))))
    except ValueError:
        return JsonResponse({"error": "start and count must be integers"}, status=400)
    with_observation = request.GET.get("observation") == "1"
    try:
        body = await run_blocking(_frames_body, pk, start, count, with_observation)
    except GameError as exc:
        return refusal_response(exc)
    return HttpResponse(body, content_type="application/json")


def _frames_body(pk: int, start: int, count: int, with_observation: bool) -> str:
    return frames_window_json(services.get_episode(pk), start, count, with_observation)


@login_required
@require_safe
def profile(request: HttpRequest) -> HttpResponse:
    episodes = services.episodes_of(_player(request))[:200]
    return render(request, "play/profile.html", {"episodes": episodes})


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        messages.success(request, f"Welcome, {user.get_username()}: your games now count as human baselines.")
        return redirect("play:home")
    return render(request, "registration/signup.html", {"form": form})


# ----- helpers ----------------------------------------------------------------------------
def _game_or_404(env: str) -> catalogue.GameEntry:
    if env not in ENVS:
        raise Http404("no such game")
    game = catalogue.game_entry(env)
    if game.error or not game.tasks:
        raise Http404(game.error or "this game has no tasks")
    return game


def _episode_or_404(pk: int) -> Episode:
    try:
        return services.get_episode(pk)
    except GameError:
        raise Http404("no such episode") from None


def _task_info(env: str, task: str) -> TaskInfo | None:
    try:
        return check_task(env, task)
    except GameError:
        return None


def _client_config(request: HttpRequest, episode: Episode, bindings: list[KeyBinding]) -> dict[str, Any]:
    """What the page's script needs (rendered with json_script: escaped)."""
    return {
        "episode": episode.pk,
        "env": episode.env,
        "renderer": catalogue.renderer(episode.env),
        "socket": f"/ws/episodes/{episode.pk}/",  # play.routing
        "frames": reverse("play:frames", args=[episode.pk]),
        "replay": reverse("play:replay", args=[episode.pk]),
        "episode_url_template": reverse("play:episode", args=[0]).replace("/0/", "/{id}/"),
        "replay_url_template": reverse("play:replay", args=[0]).replace("/0/", "/{id}/"),
        "bindings": [{"key": b.key, "action": b.action, "label": b.label or b.key} for b in bindings],
        "free_text": catalogue.accepts_free_text(episode.env),
        "assets": static("crafter/"),
    }
